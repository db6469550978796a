//! `GET /api/docs/`: the interactive API reference — Swagger UI reading this server's
//! `/api/v1/openapi.json`. Its files are compiled into the binary from the `utoipa-swagger-ui`
//! crate's vendored copy: nothing is fetched, at build time or at run time, and the page loads
//! nothing from another origin. Public, like the document it shows; "Try it out" sends requests
//! with the browser's own session cookie, or with an API token entered under "Authorize".

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{guard, web, HttpRequest, HttpResponse};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// Where the reference is served; its files are relative to it, so it ends with a slash.
pub const DOCS_PATH: &str = "/api/docs/";

/// The page's own policy: the app's, except that Swagger UI sets inline `style` attributes.
/// Scripts still come only from this origin (Swagger UI has no inline script).
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'";

static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::from("/api/v1/openapi.json")
            // The public validator badge would call validator.swagger.io.
            .validator_url("none")
            .try_it_out_enabled(true)
            .display_request_duration(true),
    )
});

/// Registers `/api/docs` (redirected to `/api/docs/`) and the reference's files.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(read_only("/api/docs").route(get_or_head().to(redirect)))
        .service(read_only("/api/docs/{file:.*}").route(get_or_head().to(file)));
}

/// A resource whose other methods get a 405 problem document with `Allow: GET, HEAD`.
fn read_only(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|request: HttpRequest| async move {
        super::method_not_allowed_with(request, Some("GET, HEAD".into()))
    }))
}

fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, DOCS_PATH))
        .finish()
}

async fn file(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let name = request.match_info().get("file").unwrap_or_default();
    let served = utoipa_swagger_ui::serve(name, CONFIG.clone())
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("Swagger UI: {error}")))?;
    let Some(served) = served else {
        return Ok(crate::error::not_found(&request));
    };
    let mut response = HttpResponse::Ok();
    response
        .content_type(served.content_type)
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        ))
        // The files change only with the server's version.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"));
    if served.gzpipped {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    Ok(response.body(served.bytes.into_owned()))
}
