//! The platform resources: applications (with deploy), clusters, datastores,
//! environment groups, cloud accounts and integrations. Roles are enforced by the capture
//! middleware from the action catalog; handlers only name what they touched.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{Application, CreateApplication, DeployApplication, UpdateApplication};
use diesel::prelude::*;

use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::{describe_changes, describe_resource};
use crate::clock::from_micros;
use crate::db::schema::{applications, clusters};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::{with_project_conn, ProjectRoutes};
use crate::state::AppState;
use crate::validation::{valid_name, valid_optional_name};

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{
        Application, CreateApplication, DeployApplication, UpdateApplication,
    };

    routes
        .add("application.list", list_applications)
        .answers::<Vec<Application>>()
        .add("application.create", create_application)
        .takes::<CreateApplication>()
        .answers::<Application>()
        .add("application.read", read_application)
        .answers::<Application>()
        .add("application.update", update_application)
        .takes::<UpdateApplication>()
        .answers::<Application>()
        .add("application.delete", delete_application)
        .add("application.deploy", deploy_application)
        .takes::<DeployApplication>()
        .answers::<Application>();
    clusters_api::configure(routes, "cluster");
    datastores_api::configure(routes, "datastore");
    environment_groups_api::configure(routes, "environment_group");
    cloud_accounts_api::configure(routes, "cloud_account");
    integrations_api::configure(routes, "integration");
}

/// The "before" of a creation and the "after" of a deletion: no fields at all.
const NOTHING: serde_json::Value = serde_json::Value::Null;

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = applications)]
struct ApplicationRow {
    id: i64,
    name: String,
    image: String,
    cluster_id: Option<i64>,
    deploy_count: i64,
    last_deployed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<ApplicationRow> for Application {
    fn from(row: ApplicationRow) -> Application {
        Application {
            id: row.id,
            name: row.name,
            image: row.image,
            cluster_id: row.cluster_id,
            deploy_count: row.deploy_count,
            last_deployed_at: row.last_deployed_at.map(from_micros),
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        }
    }
}

fn load_application(
    conn: &mut DbConnection,
    project_id: i64,
    id: i64,
) -> Result<ApplicationRow, ApiError> {
    Ok(applications::table
        .filter(applications::id.eq(id))
        .filter(applications::project_id.eq(project_id))
        .select(ApplicationRow::as_select())
        .first(conn)?)
}

/// An image reference: 1 to 300 printable ASCII characters without spaces
/// (`wire::IMAGE_PATTERN`).
fn valid_image(image: &str) -> Result<String, ApiError> {
    if image.is_empty() || image.len() > 300 || !image.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest {
            detail: "`image` must be a container image reference such as registry/app:1.2.3".into(),
        });
    }
    Ok(image.to_string())
}

async fn list_applications(
    state: web::Data<AppState>,
    access: ProjectAccess,
) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let rows = with_project_conn(&state, &access, move |conn| {
        Ok(applications::table
            .filter(applications::project_id.eq(project_id))
            .order(applications::name.asc())
            .select(ApplicationRow::as_select())
            .load(conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(Application::from).collect::<Vec<_>>()))
}

async fn create_application(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<CreateApplication>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = valid_name("name", &body.name)?;
    let image = valid_image(&body.image)?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let row = with_project_conn(&state, &access, move |conn| {
        if let Some(cluster_id) = body.cluster_id {
            let exists: i64 = clusters::table
                .filter(clusters::id.eq(cluster_id))
                .filter(clusters::project_id.eq(project_id))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(ApiError::BadRequest {
                    detail: format!("cluster {cluster_id} does not exist in this project"),
                });
            }
        }
        let id: i64 = diesel::insert_into(applications::table)
            .values((
                applications::project_id.eq(project_id),
                applications::cluster_id.eq(body.cluster_id),
                applications::name.eq(&name),
                applications::image.eq(&image),
                applications::created_at.eq(now),
                applications::updated_at.eq(now),
            ))
            .returning(applications::id)
            .get_result(conn)?;
        load_application(conn, project_id, id)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    let created = Application::from(row);
    describe_changes(
        &request,
        &NOTHING,
        &created,
        &["name", "image", "cluster_id"],
    );
    Ok(HttpResponse::Created().json(created))
}

async fn read_application(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let row = with_project_conn(&state, &access, move |conn| {
        load_application(conn, project_id, id)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    Ok(HttpResponse::Ok().json(Application::from(row)))
}

async fn update_application(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
    body: crate::routes::JsonObject<UpdateApplication>,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let body = body.into_inner();
    let name = valid_optional_name("name", body.name.as_deref())?;
    let image = body.image.as_deref().map(valid_image).transpose()?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let (before, row) = with_project_conn(&state, &access, move |conn| {
        let current = load_application(conn, project_id, id)?;
        let before = Application::from(current.clone());
        diesel::update(applications::table.find(id))
            .set((
                applications::name.eq(name.unwrap_or(current.name)),
                applications::image.eq(image.unwrap_or(current.image)),
                applications::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok((before, load_application(conn, project_id, id)?))
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    let after = Application::from(row);
    describe_changes(&request, &before, &after, &["name", "image"]);
    Ok(HttpResponse::Ok().json(after))
}

async fn deploy_application(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    // No body redeploys the current image; a body must be a valid deploy request, never
    // silently ignored.
    let deploy: DeployApplication = if body.iter().all(u8::is_ascii_whitespace) {
        DeployApplication::default()
    } else {
        let value = serde_json::from_slice(&body).map_err(|error| ApiError::BadRequest {
            detail: format!("invalid JSON body: {error}"),
        })?;
        crate::routes::json_object(value)?
    };
    let image = deploy.image.as_deref().map(valid_image).transpose()?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let (before, row) = with_project_conn(&state, &access, move |conn| {
        let current = load_application(conn, project_id, id)?;
        let before = Application::from(current.clone());
        diesel::update(applications::table.find(id))
            .set((
                applications::image.eq(image.unwrap_or(current.image)),
                applications::deploy_count.eq(current.deploy_count + 1),
                applications::last_deployed_at.eq(now),
                applications::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok((before, load_application(conn, project_id, id)?))
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    let after = Application::from(row);
    describe_changes(&request, &before, &after, &["image"]);
    Ok(HttpResponse::Ok().json(after))
}

async fn delete_application(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let deleted = with_project_conn(&state, &access, move |conn| {
        let row = load_application(conn, project_id, id)?;
        diesel::delete(applications::table.find(id)).execute(conn)?;
        Ok(Application::from(row))
    })
    .await?;
    describe_resource(&request, Some(id), deleted.name.clone());
    describe_changes(
        &request,
        &deleted,
        &NOTHING,
        &["name", "image", "cluster_id"],
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Declares the list, create, read, update and delete handlers of a resource that is a name plus
/// text attributes.
macro_rules! named_resource_api {
    ($module:ident, $table:ident, $wire:ident, $create:ident, $update:ident { $($field:ident),* }) => {
        mod $module {
            use actix_web::{web, HttpRequest, HttpResponse};
            use auditlog_shared::wire::{$create, $update, $wire};
            use diesel::prelude::*;

            use crate::capture::access::{PathId, ProjectAccess};
            use crate::capture::{describe_changes, describe_resource};
            use crate::clock::from_micros;
            use crate::db::schema::$table;
            use crate::db::DbConnection;
            use crate::error::ApiError;
            use crate::routes::{with_project_conn, ProjectRoutes};
use crate::validation::{valid_name, valid_optional_name};
            use crate::state::AppState;

            /// Registers the handlers of the catalog's `<key>.list`, `.create`, `.read`,
            /// `.update` and `.delete` actions.
            pub fn configure(routes: &mut ProjectRoutes, key: &str) {
                routes
                    .add(&format!("{key}.list"), list)
                    .answers::<Vec<$wire>>()
                    .add(&format!("{key}.create"), create)
                    .takes::<$create>()
                    .answers::<$wire>()
                    .add(&format!("{key}.read"), read)
                    .answers::<$wire>()
                    .add(&format!("{key}.update"), update)
                    .takes::<$update>()
                    .answers::<$wire>()
                    .add(&format!("{key}.delete"), delete);
            }

            #[derive(Clone, Queryable, Selectable)]
            #[diesel(table_name = $table)]
            struct Row {
                id: i64,
                name: String,
                $($field: String,)*
                created_at: i64,
                updated_at: i64,
            }

            impl From<Row> for $wire {
                fn from(row: Row) -> $wire {
                    $wire {
                        id: row.id,
                        name: row.name,
                        $($field: row.$field,)*
                        created_at: from_micros(row.created_at),
                        updated_at: from_micros(row.updated_at),
                    }
                }
            }

            fn load(conn: &mut DbConnection, project_id: i64, id: i64) -> Result<Row, ApiError> {
                Ok($table::table
                    .filter($table::id.eq(id))
                    .filter($table::project_id.eq(project_id))
                    .select(Row::as_select())
                    .first(conn)?)
            }

            async fn list(
                state: web::Data<AppState>,
                access: ProjectAccess,
            ) -> Result<HttpResponse, ApiError> {
                let project_id = access.project_id;
                let rows = with_project_conn(&state, &access, move |conn| {
                    Ok($table::table
                        .filter($table::project_id.eq(project_id))
                        .order($table::name.asc())
                        .select(Row::as_select())
                        .load(conn)?)
                })
                .await?;
                Ok(HttpResponse::Ok().json(rows.into_iter().map($wire::from).collect::<Vec<_>>()))
            }

            async fn create(
                state: web::Data<AppState>,
                access: ProjectAccess,
                request: HttpRequest,
                body: crate::routes::JsonObject<$create>,
            ) -> Result<HttpResponse, ApiError> {
                let body = body.into_inner();
                let name = valid_name("name", &body.name)?;
                $(let $field = valid_name(stringify!($field), &body.$field)?;)*
                let (project_id, now) = (access.project_id, state.clock.now_micros());
                let row = with_project_conn(&state, &access, move |conn| {
                    let id: i64 = diesel::insert_into($table::table)
                        .values((
                            $table::project_id.eq(project_id),
                            $table::name.eq(&name),
                            $($table::$field.eq(&$field),)*
                            $table::created_at.eq(now),
                            $table::updated_at.eq(now),
                        ))
                        .returning($table::id)
                        .get_result(conn)?;
                    load(conn, project_id, id)
                })
                .await?;
                describe_resource(&request, Some(row.id), row.name.clone());
                let row = $wire::from(row);
                describe_changes(&request, &super::NOTHING, &row, &["name", $(stringify!($field)),*]);
                Ok(HttpResponse::Created().json(row))
            }

            async fn read(
                state: web::Data<AppState>,
                access: ProjectAccess,
                request: HttpRequest,
                path_id: PathId,
            ) -> Result<HttpResponse, ApiError> {
                let PathId(id) = path_id;
                let project_id = access.project_id;
                let row = with_project_conn(&state, &access, move |conn| load(conn, project_id, id)).await?;
                describe_resource(&request, Some(row.id), row.name.clone());
                Ok(HttpResponse::Ok().json($wire::from(row)))
            }

            async fn update(
                state: web::Data<AppState>,
                access: ProjectAccess,
                request: HttpRequest,
                path_id: PathId,
                body: crate::routes::JsonObject<$update>,
            ) -> Result<HttpResponse, ApiError> {
                let PathId(id) = path_id;
                let body = body.into_inner();
                let name = valid_optional_name("name", body.name.as_deref())?;
                $(let $field = valid_optional_name(stringify!($field), body.$field.as_deref())?;)*
                let (project_id, now) = (access.project_id, state.clock.now_micros());
                let (before, row) = with_project_conn(&state, &access, move |conn| {
                    let current = load(conn, project_id, id)?;
                    let before = $wire::from(current.clone());
                    diesel::update($table::table.find(id))
                        .set((
                            $table::name.eq(name.unwrap_or(current.name)),
                            $($table::$field.eq($field.unwrap_or(current.$field)),)*
                            $table::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    Ok((before, load(conn, project_id, id)?))
                })
                .await?;
                describe_resource(&request, Some(row.id), row.name.clone());
                let after = $wire::from(row);
                describe_changes(&request, &before, &after, &["name", $(stringify!($field)),*]);
                Ok(HttpResponse::Ok().json(after))
            }

            async fn delete(
                state: web::Data<AppState>,
                access: ProjectAccess,
                request: HttpRequest,
                path_id: PathId,
            ) -> Result<HttpResponse, ApiError> {
                let PathId(id) = path_id;
                let project_id = access.project_id;
                let deleted = with_project_conn(&state, &access, move |conn| {
                    let row = load(conn, project_id, id)?;
                    diesel::delete($table::table.find(id)).execute(conn)?;
                    Ok($wire::from(row))
                })
                .await?;
                describe_resource(&request, Some(id), deleted.name.clone());
                describe_changes(&request, &deleted, &super::NOTHING, &["name", $(stringify!($field)),*]);
                Ok(HttpResponse::NoContent().finish())
            }
        }
    };
}

named_resource_api!(
    clusters_api,
    clusters,
    Cluster,
    CreateCluster,
    UpdateCluster { region }
);
named_resource_api!(
    datastores_api,
    datastores,
    Datastore,
    CreateDatastore,
    UpdateDatastore { engine }
);
named_resource_api!(
    environment_groups_api,
    environment_groups,
    EnvironmentGroup,
    CreateEnvironmentGroup,
    UpdateEnvironmentGroup {}
);
named_resource_api!(
    cloud_accounts_api,
    cloud_accounts,
    CloudAccount,
    CreateCloudAccount,
    UpdateCloudAccount {
        provider,
        external_account_id
    }
);
named_resource_api!(
    integrations_api,
    integrations,
    Integration,
    CreateIntegration,
    UpdateIntegration { kind }
);
