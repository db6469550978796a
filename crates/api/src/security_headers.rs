//! Headers every response carries, whatever answered it (a handler, the static files, the app's
//! fallback, a 404 for an unknown project or route):
//!
//! - `X-Request-Id`: the id the request's log lines and audit entry carry. Every answer has one,
//!   so its presence reveals nothing (a project that does not exist answers like one the caller
//!   may not see).
//! - `Content-Security-Policy`: only this origin's scripts, styles, images and connections; the
//!   WebAssembly module may be compiled (`'wasm-unsafe-eval'`); the one inline script Trunk writes
//!   into `index.html` to start the app is allowed by its SHA-256 hash, computed from the file the
//!   server serves; no frames, plugins or `<base>`. A handler may set its page's own policy
//!   instead: the API reference (`routes::docs`) also allows inline style attributes.
//! - `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//! - `Cache-Control: no-store` on every `/api/` answer that does not set its own: sessions, audit
//!   logs and exports are never kept by a browser or proxy cache.

use std::path::Path;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy and its inputs, built once at start-up.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    content_security_policy: HeaderValue,
}

impl SecurityHeaders {
    /// The headers for an app whose `index.html` is at `index` (absent when the server runs
    /// without the web app).
    pub fn for_index(index: &Path) -> SecurityHeaders {
        let html = std::fs::read_to_string(index).unwrap_or_default();
        let policy = content_security_policy(&inline_script_hashes(&html));
        SecurityHeaders {
            content_security_policy: HeaderValue::from_str(&policy)
                .expect("the policy is a valid header value"),
        }
    }
}

/// The middleware: `middleware::from_fn(security_headers::add)`, inside the tracing logger so
/// the request id exists.
pub async fn add(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = request
        .app_data::<actix_web::web::Data<SecurityHeaders>>()
        .map(|headers| headers.content_security_policy.clone());
    let request_id = request
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let is_api = request.path() == "/api" || request.path().starts_with("/api/");
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    if let Some(request_id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        let name = HeaderName::from_static("x-request-id");
        if !headers.contains_key(&name) {
            headers.insert(name, request_id);
        }
    }
    // A handler may set a page's own policy (the API reference does); every other answer gets
    // the app's.
    if let Some(policy) = policy.filter(|_| !headers.contains_key(header::CONTENT_SECURITY_POLICY))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

fn content_security_policy(script_hashes: &[String]) -> String {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
    for hash in script_hashes {
        script_src.push_str(&format!(" 'sha256-{hash}'"));
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; \
         form-action 'self'"
    )
}

/// The base64 SHA-256 of every inline `<script>` (one without `src`) in an HTML page, as a
/// Content-Security-Policy hash source names it.
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body_and_after = &rest[tag_end + 1..];
        let Some(close) = body_and_after.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            let digest = Sha256::digest(&body_and_after.as_bytes()[..close]);
            hashes.push(base64::engine::general_purpose::STANDARD.encode(digest));
        }
        rest = &body_and_after[close..];
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inline_scripts_are_hashed_exactly_as_written() {
        let html = "<head><script src=\"/a.js\"></script>\
                    <script type=\"module\">\nimport init from '/app.js';\n</script></head>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest("\nimport init from '/app.js';\n".as_bytes()));
        assert_eq!(hashes[0], expected);
        let policy = content_security_policy(&hashes);
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn a_page_without_inline_scripts_allows_none() {
        assert!(inline_script_hashes("<p>no scripts</p>").is_empty());
        assert!(!content_security_policy(&[]).contains("sha256"));
    }
}
