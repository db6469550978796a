//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of the REST API.
//!
//! It is generated from the same tables the server runs on — the project scope's route table
//! (`routes::ProjectRoutes`: each handler with its catalog entry and the body it takes, the
//! answer it gives and the query it reads), [`SERVER_ROUTES`] for the rest — and from the JSON
//! Schemas of the wire types in `auditlog_shared::wire`, so it cannot drift from what is served.

use actix_web::HttpResponse;
use auditlog_shared::wire::*;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::schema_of;
use crate::catalog::{self, Permission, RouteSpec};

/// The routes outside the project scope: (method, path, summary).
///
/// Which of them need no credentials: see [`is_public`].
pub const SERVER_ROUTES: [(&str, &str, &str); 14] = [
    ("GET", "/healthz", "Liveness: the process serves"),
    (
        "GET",
        "/metrics",
        "Prometheus metrics, text exposition format (with `--metrics-token` as the bearer token; 404 without one)",
    ),
    ("GET", "/readyz", "Readiness: the database answers"),
    ("GET", "/api/v1/openapi.json", "This document"),
    (
        "GET",
        "/api/v1/query/resolve",
        "Read an audit query: canonical form and window",
    ),
    (
        "POST",
        "/api/v1/session",
        "Sign in (sets the session cookie)",
    ),
    (
        "GET",
        "/api/v1/session",
        "The signed-in user, projects and CSRF token",
    ),
    ("DELETE", "/api/v1/session", "Sign out"),
    (
        "POST",
        "/api/v1/session/password",
        "Change your password (ends every session; starts a fresh one)",
    ),
    (
        "DELETE",
        "/api/v1/sessions",
        "Sign out everywhere (ends every session of the account)",
    ),
    (
        "GET",
        "/api/v1/invitations/{secret}",
        "What an invitation link invites to",
    ),
    (
        "POST",
        "/api/v1/invitations/{secret}/accept",
        "Accept an invitation: join the project and sign in",
    ),
    ("GET", "/api/v1/projects", "The caller's projects"),
    (
        "GET",
        "/api/v1/audit-log-keys",
        "The public keys chain heads are signed with (current and retired)",
    ),
];

pub async fn openapi() -> HttpResponse {
    // The document depends only on the binary: built once, on the first request for it.
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    HttpResponse::Ok().json(DOCUMENT.get_or_init(document))
}

/// The whole document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<Problem>();
    let mut paths: Map<String, Value> = Map::new();
    let mut add = |path: String, method: &str, operation: Value| {
        paths
            .entry(path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(method.to_lowercase(), operation);
    };

    for (method, path, summary) in SERVER_ROUTES {
        let (request, response) = server_route_types(&mut generator, method, path);
        let parameters = if path == "/api/v1/query/resolve" {
            audit_query_parameters()
        } else if path.contains("{secret}") {
            vec![path_parameter(
                "secret",
                "The invitation's secret, from its link",
                json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
            )]
        } else {
            Vec::new()
        };
        add(
            path.to_string(),
            method,
            operation(
                summary,
                &operation_id(method, path),
                "server",
                parameters,
                request,
                response,
                None,
                &server_answers(method, path),
            ),
        );
    }
    for (route, docs) in super::project_routes().documented() {
        let path = format!("{}{}", catalog::PROJECT_SCOPE, route.template);
        // Ids are positive decimals without sign or leading zeros: any other spelling is a 400.
        let id_schema = json!({"type": "integer", "format": "int64", "minimum": 1});
        let mut parameters = vec![path_parameter(
            "project_id",
            "The project's id",
            id_schema.clone(),
        )];
        if route.template.contains("{id}") {
            parameters.push(path_parameter("id", "The resource's id", id_schema));
        }
        if route.template.contains("{export_id}") {
            parameters.push(path_parameter(
                "export_id",
                "The export's id (its x-audit-export-id header)",
                json!({"type": "string", "format": "uuid"}),
            ));
        }
        if route.template.contains("{format}") {
            parameters.push(path_parameter(
                "format",
                "The file format",
                json!({"type": "string", "enum": ["csv", "ndjson"]}),
            ));
        }
        parameters.extend(
            docs.parameters
                .map(|parameters| parameters())
                .unwrap_or_default(),
        );
        let request = docs.body.map(|schema| schema(&mut generator));
        let response = docs.answer.map(|schema| schema(&mut generator));
        let role = match route.permission {
            Permission::AtLeast(role) => format!("Needs the {} role.", role.as_str()),
            Permission::Ingest => "Needs an API token with the ingest permission.".into(),
        };
        let tag = route.action.split('.').next().unwrap_or("project");
        add(
            path,
            route.method,
            operation(
                route.label,
                route.action,
                tag,
                parameters,
                request,
                response,
                Some(&role),
                &catalog_answers(route),
            ),
        );
    }

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Auditlog API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every request to a project's API is recorded as an audit entry. Errors are RFC 9457 problem documents (application/problem+json)."
        },
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An API token's secret"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE, "description": "A dashboard session; writes also need the X-CSRF-Token header"}
            }
        },
        "security": [{"bearer": []}, {"session": []}]
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<&str> = path
        .split(['/', '.'])
        .filter(|w| !w.is_empty() && *w != "api" && *w != "v1")
        .collect();
    format!("{}_{}", method.to_lowercase(), words.join("_"))
}

#[allow(clippy::too_many_arguments)]
fn operation(
    summary: &str,
    id: &str,
    tag: &str,
    parameters: Vec<Value>,
    request: Option<Value>,
    response: Option<Value>,
    permission: Option<&str>,
    answers: &Answers,
) -> Value {
    let mut responses = Map::new();
    match response {
        Some(Value::String(media)) => {
            responses.insert(
                "200".into(),
                json!({"description": "The file, streamed", "content": {media: {"schema": {"type": "string"}}}}),
            );
        }
        // An answer in several media types, chosen by the path or by `Accept`.
        Some(Value::Object(content)) if content.contains_key("media") => {
            responses.insert(
                "200".into(),
                json!({"description": "Success", "content": content["media"].clone()}),
            );
        }
        Some(schema) => {
            responses.insert(
                answers.success.into(),
                json!({"description": "Success", "content": {"application/json": {"schema": schema}}}),
            );
        }
        None => {
            responses.insert("204".into(), json!({"description": "Done; no content"}));
        }
    }
    let problem = json!({"description": "A problem document", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    for status in ["400", "401", "403", "404", "503"]
        .into_iter()
        .chain(answers.errors.iter().copied())
    {
        responses.insert(status.into(), problem.clone());
    }
    let mut operation = json!({
        "summary": summary,
        "operationId": id,
        "tags": [tag],
        "parameters": parameters,
        "responses": responses,
    });
    if answers.public {
        operation["security"] = json!([]);
    }
    if let Some(permission) = permission {
        operation["description"] = json!(permission);
    }
    if let Some(schema) = request {
        // A deploy without a body redeploys the current image.
        let required = id != "application.deploy";
        operation["requestBody"] =
            json!({"required": required, "content": {"application/json": {"schema": schema}}});
    }
    operation
}

/// What an operation answers besides its body: its success status, the error statuses it
/// may give beyond those of every operation (400, 401, 403, 404, 503), and whether it needs
/// no credentials.
struct Answers {
    success: &'static str,
    errors: Vec<&'static str>,
    public: bool,
}

/// The routes outside the project scope that answer without credentials (sign-in, invitation
/// links, health, the API document, query resolution and the public keys). `/metrics` takes
/// its own bearer token, not an API token.
fn is_public(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("GET", "/healthz")
            | ("GET", "/readyz")
            | ("GET", "/metrics")
            | ("GET", "/api/v1/openapi.json")
            | ("GET", "/api/v1/query/resolve")
            | ("POST", "/api/v1/session")
            | ("GET", "/api/v1/invitations/{secret}")
            | ("POST", "/api/v1/invitations/{secret}/accept")
            | ("GET", "/api/v1/audit-log-keys")
    )
}

fn server_answers(method: &str, path: &str) -> Answers {
    let errors = match (method, path) {
        // Sign-in and accepting an invitation are throttled; a taken email conflicts.
        ("POST", "/api/v1/session") => vec!["429"],
        // An invitation link that was valid once (revoked, accepted or expired) is gone.
        ("GET", "/api/v1/invitations/{secret}") => vec!["410"],
        ("POST", "/api/v1/invitations/{secret}/accept") => vec!["409", "410", "429"],
        ("POST", "/api/v1/session/password") => vec!["429"],
        _ => Vec::new(),
    };
    Answers {
        success: "200",
        errors,
        public: is_public(method, path),
    }
}

fn catalog_answers(route: &RouteSpec) -> Answers {
    let verb = route.action.rsplit('.').next().unwrap_or_default();
    let success = match (route.method, verb) {
        ("POST", "create" | "add") => "201",
        _ => "200",
    };
    let mut errors = Vec::new();
    if route.method != "GET" {
        // A name already taken, a limit reached, the last admin removed; a body too large.
        errors.extend(["409", "413"]);
    }
    if route.action == "audit_log.ingest" {
        errors.push("429");
    }
    Answers {
        success,
        errors,
        public: false,
    }
}

fn path_parameter(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

/// The keys of the audit query language (`auditlog_shared::AuditQuery`) as query parameters.
/// The typed query bar's one parameter.
pub fn bar_parameters() -> Vec<Value> {
    vec![query_parameter(
        "bar",
        "A typed query such as `actor:dana -method:GET status:5xx \"payments\" after:2026-11-20`",
        json!({"type": "string", "maxLength": auditlog_shared::bar::MAX_BAR_CHARS}),
    )]
}

/// The window's parameters alone: verification covers a whole window and takes no filters.
pub fn window_parameters() -> Vec<Value> {
    audit_query_parameters()
        .into_iter()
        .filter(|p| matches!(p["name"].as_str(), Some("range" | "from" | "to")))
        .collect()
}

/// Verification's answer: JSON by default; with `Accept: application/x-ndjson`, progress lines
/// and then the report, streamed.
pub fn verify_answer(generator: &mut SchemaGenerator) -> Value {
    json!({"media": {
        "application/json": {"schema": schema_of::<VerifyReport>(generator)},
        "application/x-ndjson": {
            "schema": schema_of::<VerifyLine>(generator),
            "description": "One VerifyLine per line: progress, then the report",
        },
    }})
}

/// An export's answer: `export.csv` or `export.ndjson`, by the path's `{format}`.
pub fn export_answer(_: &mut SchemaGenerator) -> Value {
    json!({"media": {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }})
}

/// The audit query's parameters (filters, window, search, paging).
pub fn audit_query_parameters() -> Vec<Value> {
    let mut parameters = vec![
        query_parameter(
            "range",
            "A preset window ending now (default 7d)",
            json!({"type": "string", "enum": ["1h", "24h", "7d", "30d"]}),
        ),
        query_parameter(
            "from",
            "Start of a custom window (inclusive), RFC 3339",
            json!({"type": "string", "format": "date-time"}),
        ),
        query_parameter(
            "to",
            "End of a custom window (exclusive), RFC 3339",
            json!({"type": "string", "format": "date-time"}),
        ),
    ];
    for dimension in auditlog_shared::Dimension::ALL {
        let key = dimension.key();
        let description = match dimension {
            auditlog_shared::Dimension::Actor => "`user:<id>` or `token:<id>`",
            auditlog_shared::Dimension::Method => "HTTP method",
            auditlog_shared::Dimension::Source => "dashboard, cli, api or ingest",
            auditlog_shared::Dimension::Action => "Action key, such as application.deploy",
            auditlog_shared::Dimension::Status => "Status code (404) or class (5xx)",
            auditlog_shared::Dimension::ResourceType => "Resource type",
            auditlog_shared::Dimension::Application => "Application id",
            auditlog_shared::Dimension::Cluster => "Cluster id",
        };
        // The values the query language reads (comma-separated lists split the same way).
        let item = match dimension {
            auditlog_shared::Dimension::Actor => {
                json!({"type": "string", "pattern": "^(user|token):[1-9][0-9]{0,17}$"})
            }
            auditlog_shared::Dimension::Method => {
                json!({"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]})
            }
            auditlog_shared::Dimension::Source => {
                json!({"type": "string", "enum": ["dashboard", "cli", "api", "ingest"]})
            }
            auditlog_shared::Dimension::Action => {
                json!({"type": "string", "maxLength": 64, "pattern": "^[a-z0-9_]+(\\.[a-z0-9_]+)*(\\.\\*)?$"})
            }
            auditlog_shared::Dimension::Status => {
                json!({"type": "string", "pattern": "^([1-5][0-9][0-9]|[1-5]xx)$"})
            }
            auditlog_shared::Dimension::ResourceType => {
                json!({"type": "string", "enum": auditlog_shared::ResourceType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()})
            }
            auditlog_shared::Dimension::Application | auditlog_shared::Dimension::Cluster => {
                json!({"type": "string", "pattern": "^[1-9][0-9]{0,17}$"})
            }
        };
        let list = json!({"type": "array", "items": item});
        parameters.push(query_parameter(
            key,
            &format!("Include: {description}. Repeat or separate by commas."),
            list.clone(),
        ));
        parameters.push(query_parameter(
            &format!("{key}.not"),
            &format!("Exclude: {description}."),
            list,
        ));
    }
    parameters.push(query_parameter(
        "request_id",
        "Only the entries of this request (its X-Request-Id, or an ingested event's id)",
        json!({"type": "string", "minLength": 1, "maxLength": auditlog_shared::MAX_REQUEST_ID_CHARS}),
    ));
    parameters.push(query_parameter("q", "Search text: case-insensitive literal substring of path, user email, token, application and cluster names", json!({"type": "string", "maxLength": 200})));
    parameters.push(query_parameter(
        "limit",
        "Page size",
        json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
    ));
    parameters.push(query_parameter(
        "cursor",
        "An opaque cursor from a page's next or previous link",
        json!({"type": "string"}),
    ));
    parameters
}

/// The facets request's own keys (`auditlog_shared::FacetRequest`).
/// The audit query's parameters and the facet request's.
pub fn facet_query_parameters() -> Vec<Value> {
    let mut parameters = audit_query_parameters();
    parameters.extend(facet_parameters());
    parameters
}

fn facet_parameters() -> Vec<Value> {
    let dimensions: Vec<&str> = auditlog_shared::Dimension::ALL
        .iter()
        .map(|d| d.key())
        .collect();
    vec![
        query_parameter(
            "facet",
            "List only this dimension",
            json!({"type": "string", "enum": dimensions}),
        ),
        query_parameter(
            "facet.contains",
            "List only values whose value or name contains this text, ignoring case (needs facet)",
            json!({"type": "string", "maxLength": auditlog_shared::MAX_FACET_CONTAINS_CHARS}),
        ),
        query_parameter(
            "facet.limit",
            "Values listed per dimension",
            json!({"type": "integer", "minimum": 1, "maximum": auditlog_shared::MAX_FACET_LIMIT, "default": auditlog_shared::DEFAULT_FACET_LIMIT}),
        ),
    ]
}

fn query_parameter(name: &str, description: &str, schema: Value) -> Value {
    let explode = schema["type"] == "array";
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema, "explode": explode})
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Option<Value> {
    Some(generator.subschema_for::<T>().to_value())
}

fn server_route_types(
    generator: &mut SchemaGenerator,
    method: &str,
    path: &str,
) -> (Option<Value>, Option<Value>) {
    match (method, path) {
        ("GET", "/healthz") => (None, schema::<Health>(generator)),
        ("GET", "/metrics") => (None, Some(json!("text/plain; version=0.0.4"))),
        ("GET", "/readyz") => (None, schema::<Readiness>(generator)),
        ("GET", "/api/v1/openapi.json") => (None, Some(json!({"type": "object"}))),
        ("GET", "/api/v1/query/resolve") => (None, schema::<ResolvedQuery>(generator)),
        ("POST", "/api/v1/session") => (
            schema::<SignIn>(generator),
            schema::<SessionInfo>(generator),
        ),
        ("GET", "/api/v1/session") => (None, schema::<SessionInfo>(generator)),
        ("POST", "/api/v1/session/password") => (
            schema::<ChangePassword>(generator),
            schema::<SessionInfo>(generator),
        ),
        ("GET", "/api/v1/invitations/{secret}") => (None, schema::<InvitationDetails>(generator)),
        ("POST", "/api/v1/invitations/{secret}/accept") => (
            schema::<AcceptInvitation>(generator),
            schema::<SessionInfo>(generator),
        ),
        ("GET", "/api/v1/projects") => (None, schema::<Vec<ProjectSummary>>(generator)),
        ("GET", "/api/v1/audit-log-keys") => (None, schema::<Vec<ChainKey>>(generator)),
        _ => (None, None),
    }
}
