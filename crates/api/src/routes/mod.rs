//! HTTP handlers, one file per area, each with its own parameter and response types.

pub mod alerts;
pub mod audit;
pub mod docs;
pub mod health;
pub mod invitations;
pub mod members;
pub mod metrics;
pub mod openapi;
pub mod platform;
pub mod projects;
pub mod query;
pub mod saved_views;
pub mod session;
pub mod spa;
pub mod streams;
pub mod tokens;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{guard, middleware, web, HttpRequest, HttpResponse};
use auditlog_shared::wire::Problem;

use crate::catalog::{self, RouteSpec, PROJECT_SCOPE};
use crate::db::DbConnection;
use crate::error::{problem_response, ApiError};
use crate::state::AppState;

/// Registers the REST API: the session, the project list, and the project scope, whose every
/// handler is registered through [`ProjectRoutes`].
pub fn configure_api(config: &mut web::ServiceConfig) {
    config
        .service(resource("/api/v1/openapi.json").route(web::get().to(openapi::openapi)))
        .configure(docs::configure)
        .service(
            resource("/api/v1/session")
                .route(web::post().to(session::sign_in))
                .route(web::get().to(session::current))
                .route(web::delete().to(session::sign_out)),
        )
        .service(
            resource("/api/v1/session/password").route(web::post().to(session::change_password)),
        )
        .service(resource("/api/v1/sessions").route(web::delete().to(session::sign_out_everywhere)))
        .service(
            resource("/api/v1/invitations/{secret}").route(web::get().to(invitations::details)),
        )
        .service(
            resource("/api/v1/invitations/{secret}/accept")
                .route(web::post().to(invitations::accept)),
        )
        .service(resource("/api/v1/projects").route(web::get().to(projects::list_mine)))
        .service(resource("/api/v1/audit-log-keys").route(web::get().to(audit::chain_keys)))
        .service(
            web::scope(PROJECT_SCOPE)
                .configure(|config| project_routes().register(config))
                .default_service(captured(
                    web::route().to(|request: HttpRequest| async move {
                        crate::error::not_found(&request)
                    }),
                    &catalog::UNMATCHED,
                )),
        );
}

/// Every project handler, each registered by its action key.
pub fn project_routes() -> ProjectRoutes {
    let mut routes = ProjectRoutes::default();
    projects::configure(&mut routes);
    platform::configure(&mut routes);
    tokens::configure(&mut routes);
    members::configure(&mut routes);
    invitations::configure(&mut routes);
    audit::configure(&mut routes);
    saved_views::configure(&mut routes);
    streams::configure(&mut routes);
    alerts::configure(&mut routes);
    routes
}

/// The route table of the project scope. A handler can only be added together with its action
/// key; the key's catalog entry supplies the method and template, and the handler is wrapped in
/// the capture middleware bound to that entry. So the permission checked is, by construction,
/// the permission of the handler that runs — never one found again from the request's path —
/// and a handler without a catalog entry stops the server from starting.
///
/// Each route also carries what the API document says of it ([`RouteDocs`]), stated where its
/// handler is added: `routes.add("stream.create", create).takes::<CreateStreamDestination>()
/// .answers::<CreatedStreamDestination>()`. The document iterates this table, so a route is
/// described once, beside its handler.
#[derive(Default)]
pub struct ProjectRoutes {
    /// Per template, in registration order: the catalog entries and their wrapped routes.
    resources: Vec<(&'static str, Vec<ProjectRoute>)>,
    /// The route added last, which `takes`, `answers` and `parameters` describe.
    last: Option<(usize, usize)>,
}

struct ProjectRoute {
    spec: &'static RouteSpec,
    route: actix_web::Route,
    docs: RouteDocs,
}

/// A JSON Schema (or, for a route answering several media types, `{"media": {type: {schema}}}`),
/// made in the document's generator so that named types become shared components.
pub type SchemaOf = fn(&mut schemars::SchemaGenerator) -> serde_json::Value;

/// What the API document says of a project route beyond its catalog entry (method, template,
/// label, least role) and its path's ids.
#[derive(Clone, Copy, Default)]
pub struct RouteDocs {
    /// The JSON body it takes.
    pub body: Option<SchemaOf>,
    /// What a success answers.
    pub answer: Option<SchemaOf>,
    /// Its query parameters (OpenAPI parameter objects).
    pub parameters: Option<fn() -> Vec<serde_json::Value>>,
}

/// The schema of `T`, as a [`SchemaOf`].
pub fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> serde_json::Value {
    generator.subschema_for::<T>().to_value()
}

impl ProjectRoutes {
    /// Adds the handler of the catalogued action `action`.
    ///
    /// # Panics
    /// When `action` is not in the catalog, or is added twice: a programming error that the first
    /// start of the server (and every test) reveals.
    pub fn add<F, Args>(&mut self, action: &str, handler: F) -> &mut ProjectRoutes
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        let spec = catalog::by_action(action)
            .unwrap_or_else(|| panic!("`{action}` has a handler but no catalog entry"));
        assert!(
            !self.actions().any(|known| known == action),
            "`{action}` is registered twice"
        );
        // HEAD is answered wherever GET is, by the same handler under the same permission.
        let route = match spec.method {
            "GET" => web::route().guard(guard::Any(guard::Get()).or(guard::Head())),
            method => web::route().method(
                actix_web::http::Method::from_bytes(method.as_bytes())
                    .expect("catalog methods are valid"),
            ),
        };
        let route = ProjectRoute {
            spec,
            route: captured(route.to(handler), spec),
            docs: RouteDocs::default(),
        };
        let resource = match self
            .resources
            .iter()
            .position(|(template, _)| *template == spec.template)
        {
            Some(resource) => resource,
            None => {
                self.resources.push((spec.template, Vec::new()));
                self.resources.len() - 1
            }
        };
        let routes = &mut self.resources[resource].1;
        routes.push(route);
        self.last = Some((resource, routes.len() - 1));
        self
    }

    /// The route added last takes a JSON body of type `T`.
    pub fn takes<T: schemars::JsonSchema>(&mut self) -> &mut ProjectRoutes {
        self.last_docs().body = Some(schema_of::<T>);
        self
    }

    /// The route added last answers a `T` as JSON.
    pub fn answers<T: schemars::JsonSchema>(&mut self) -> &mut ProjectRoutes {
        self.answers_with(schema_of::<T>)
    }

    /// The route added last answers what `schema` describes (several media types, a file).
    pub fn answers_with(&mut self, schema: SchemaOf) -> &mut ProjectRoutes {
        self.last_docs().answer = Some(schema);
        self
    }

    /// The route added last reads these query parameters.
    pub fn parameters(&mut self, parameters: fn() -> Vec<serde_json::Value>) -> &mut ProjectRoutes {
        self.last_docs().parameters = Some(parameters);
        self
    }

    fn last_docs(&mut self) -> &mut RouteDocs {
        let (resource, route) = self.last.expect("a route was added before it is described");
        &mut self.resources[resource].1[route].docs
    }

    /// The action keys registered so far.
    pub fn actions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.documented().map(|(spec, _)| spec.action)
    }

    /// Every route with its catalog entry and what the API document says of it.
    pub fn documented(&self) -> impl Iterator<Item = (&'static RouteSpec, RouteDocs)> + '_ {
        self.resources
            .iter()
            .flat_map(|(_, routes)| routes.iter().map(|route| (route.spec, route.docs)))
    }

    /// Registers one resource per template. A method the template does not support is answered
    /// 405 with `Allow` (and recorded as an unknown request).
    fn register(self, config: &mut web::ServiceConfig) {
        for (template, routes) in self.resources {
            let allow = allowed_methods(routes.iter().map(|route| route.spec.method));
            let mut resource = web::resource(template);
            for route in routes {
                resource = resource.route(route.route);
            }
            config.service(resource.default_service(captured(
                web::route().to(move |request: HttpRequest| {
                    let allow = allow.clone();
                    async move { method_not_allowed_with(request, Some(allow)) }
                }),
                &catalog::UNMATCHED,
            )));
        }
    }
}

/// Wraps a route (its handler already set) in the capture middleware bound to one catalog entry.
fn captured(route: actix_web::Route, spec: &'static RouteSpec) -> actix_web::Route {
    route.wrap(middleware::from_fn(
        move |request: ServiceRequest, next: middleware::Next<BoxBody>| {
            crate::gate::capture(spec, request, next)
        },
    ))
}

/// The `Allow` value of a resource whose routes have these methods (GET brings HEAD).
fn allowed_methods<'a>(methods: impl Iterator<Item = &'a str>) -> String {
    let mut allowed: Vec<&str> = Vec::new();
    for method in methods {
        allowed.push(method);
        if method == "GET" {
            allowed.push("HEAD");
        }
    }
    allowed.join(", ")
}

/// A resource outside the project scope, whose unsupported methods get a 405 problem document
/// with `Allow`: the methods its entries in [`openapi::SERVER_ROUTES`] name.
///
/// # Panics
/// When `path` is not in `SERVER_ROUTES` (a route the API document would not show), which the
/// first start of the server reveals.
pub fn resource(path: &'static str) -> actix_web::Resource {
    let methods: Vec<&str> = openapi::SERVER_ROUTES
        .iter()
        .filter(|(_, documented, _)| *documented == path)
        .map(|(method, _, _)| *method)
        .collect();
    assert!(!methods.is_empty(), "`{path}` is not in SERVER_ROUTES");
    let allow = allowed_methods(methods.into_iter());
    web::resource(path).default_service(web::to(move |request: HttpRequest| {
        let allow = allow.clone();
        async move { method_not_allowed_with(request, Some(allow)) }
    }))
}

fn method_not_allowed_with(request: HttpRequest, allow: Option<String>) -> HttpResponse {
    let mut response = problem_response(Problem {
        kind: "/problems/method-not-allowed".into(),
        title: "Method not allowed".into(),
        status: 405,
        detail: Some(format!(
            "{} is not supported on {}",
            request.method(),
            request.path()
        )),
        instance: Some(request.path().to_string()),
        invalid_params: Vec::new(),
    });
    if let Some(allow) = allow.and_then(|allow| HeaderValue::from_str(&allow).ok()) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// A JSON request body that must be an object, read into `T`. (serde's derived structs also
/// read a JSON array as their fields in order, so `[null, null]` would pass for a change of
/// nothing; an API document says "object" and so does the server.)
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(request, payload);
        Box::pin(async move { Ok(JsonObject(json_object(json.await?.into_inner())?)) })
    }
}

/// Reads a parsed JSON body into `T` if it is an object: the one rule of [`JsonObject`], for
/// handlers that read their body themselves.
pub fn json_object<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::BadRequest {
            detail: "invalid JSON body: expected a JSON object".into(),
        });
    }
    serde_json::from_value(value).map_err(|error| ApiError::BadRequest {
        detail: format!("invalid JSON body: {error}"),
    })
}

/// Runs blocking database work on a pooled connection, off the async workers.
pub async fn with_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// Runs an audit-log read (a GET: no request transaction) on a read replica's connection, or
/// the primary's when there is none (see [`crate::db::ReadPools`]).
pub async fn with_read_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let reads = state.reads.clone();
    // The blocking thread does not inherit the request's span: the read is its child.
    let span = tracing::info_span!("read");
    web::block(move || {
        let _span = span.entered();
        let mut conn = reads.get()?;
        work(&mut conn)
    })
    .await?
}

/// Runs a project handler's database work: inside the request's transaction when the request
/// changes state (so the change commits together with its audit entry), else on a pooled
/// connection.
pub async fn with_project_conn<T, F>(
    state: &web::Data<AppState>,
    access: &crate::capture::access::ProjectAccess,
    work: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    match &access.transaction {
        Some(transaction) => transaction.run(work).await,
        None => with_conn(state, work).await,
    }
}

/// Refuses with a clear 409, before the unique index or the limit would: a `$name` another row
/// of `$table` in the project has (other than `$except`), or, when creating (`$except` is
/// `None`), a project that has `$max` rows already. `$noun` names one row ("a saved view"),
/// `$plural` several ("saved views"). Evaluates to `Result<(), ApiError>`.
macro_rules! check_room {
    ($conn:expr, $table:ident, $project_id:expr, $name:expr, $except:expr, $max:expr, $noun:expr, $plural:expr) => {{
        use crate::db::schema::$table;
        let (project_id, name, except): (i64, &str, Option<i64>) = ($project_id, $name, $except);
        let full = match except {
            Some(_) => false,
            None => {
                let count: i64 = $table::table
                    .filter($table::project_id.eq(project_id))
                    .count()
                    .get_result($conn)?;
                count >= $max
            }
        };
        let taken: Option<i64> = if full {
            None
        } else {
            $table::table
                .filter($table::project_id.eq(project_id))
                .filter($table::name.eq(name))
                .select($table::id)
                .first($conn)
                .optional()?
        };
        if full {
            Err(crate::error::ApiError::Conflict(format!(
                "a project has at most {} {}: delete one first",
                $max, $plural
            )))
        } else {
            match taken {
                Some(id) if Some(id) != except => Err(crate::error::ApiError::Conflict(format!(
                    "{} named “{name}” already exists in this project",
                    $noun
                ))),
                _ => Ok(()),
            }
        }
    }};
}
pub(crate) use check_room;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_route_has_exactly_one_handler() {
        let registered: Vec<&str> = project_routes().actions().collect();
        let mut catalogued: Vec<&str> = catalog::all_routes().map(|route| route.action).collect();
        let mut sorted = registered.clone();
        sorted.sort_unstable();
        catalogued.sort_unstable();
        assert_eq!(sorted, catalogued);
    }

    /// The API document learns a route's answer where its handler is added: only a deletion
    /// answers nothing, and only a write takes a body.
    #[test]
    fn every_route_says_what_it_answers_and_only_writes_take_bodies() {
        for (spec, docs) in project_routes().documented() {
            assert!(
                docs.answer.is_some() || spec.method == "DELETE",
                "`{}`: only deletions answer nothing",
                spec.action
            );
            if docs.body.is_some() {
                assert!(
                    matches!(spec.method, "POST" | "PATCH" | "PUT"),
                    "`{}` takes a body on {}",
                    spec.action,
                    spec.method
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "no catalog entry")]
    fn a_handler_without_a_catalog_entry_stops_the_server() {
        ProjectRoutes::default().add("application.explode", || async {
            HttpResponse::Ok().finish()
        });
    }
}
