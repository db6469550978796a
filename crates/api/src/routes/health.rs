//! `GET /healthz` (liveness) and `GET /readyz` (readiness: the database answers).

use actix_web::{web, HttpResponse};
use auditlog_shared::wire::{Health, Readiness};

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// The process is up and serving. Never touches the database.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: state.database_engine.into(),
    })
}

/// The server can take traffic: a connection is borrowed and the database answers a query.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    web::block(move || -> anyhow::Result<()> {
        let mut conn = pool.get()?;
        db::ping(&mut conn)?;
        Ok(())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready".into(),
        database: state.database_engine.into(),
    }))
}
