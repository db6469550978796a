//! Calls to the Auditlog server. Errors carry the problem document's message, ready to show.

use std::cell::RefCell;

use auditlog_shared::wire::{Health, Problem};
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

thread_local! {
    /// The session's CSRF token, echoed on every write (set when the session loads).
    static CSRF_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub fn set_csrf_token(token: Option<String>) {
    CSRF_TOKEN.with(|cell| *cell.borrow_mut() = token);
}

/// A failed call: the HTTP status (0 when the server could not be reached) and what to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// For a typed query the server could not read: the offending token's characters.
    pub span: Option<(usize, usize)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `GET /healthz`.
pub async fn health() -> Result<Health, ApiError> {
    get("/healthz").await
}

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    read_json(send_request(Request::get(url), None::<&()>).await?).await
}

pub async fn post<T: DeserializeOwned, B: Serialize>(url: &str, body: &B) -> Result<T, ApiError> {
    read_json(send_request(with_csrf(Request::post(url)), Some(body)).await?).await
}

pub async fn patch<T: DeserializeOwned, B: Serialize>(url: &str, body: &B) -> Result<T, ApiError> {
    read_json(send_request(with_csrf(Request::patch(url)), Some(body)).await?).await
}

/// A DELETE whose answer body, if any, is not needed.
pub async fn delete(url: &str) -> Result<(), ApiError> {
    let response = send_request(with_csrf(Request::delete(url)), None::<&()>).await?;
    if response.ok() {
        Ok(())
    } else {
        Err(problem_of(response).await)
    }
}

/// A GET that returns the raw response (exports read headers and bytes).
pub async fn get_raw(url: &str) -> Result<Response, ApiError> {
    let response = send_request(Request::get(url), None::<&()>).await?;
    if response.ok() {
        Ok(response)
    } else {
        Err(problem_of(response).await)
    }
}

fn with_csrf(builder: RequestBuilder) -> RequestBuilder {
    match CSRF_TOKEN.with(|cell| cell.borrow().clone()) {
        Some(token) => builder.header("X-CSRF-Token", &token),
        None => builder,
    }
}

async fn send_request<B: Serialize>(
    builder: RequestBuilder,
    body: Option<&B>,
) -> Result<Response, ApiError> {
    let unreachable = |e: gloo_net::Error| ApiError {
        status: 0,
        message: format!("the server cannot be reached: {e}"),
        span: None,
    };
    match body {
        Some(body) => builder.json(body).map_err(unreachable)?.send().await,
        None => builder.send().await,
    }
    .map_err(unreachable)
}

async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    if !response.ok() {
        return Err(problem_of(response).await);
    }
    response.json::<T>().await.map_err(|e| ApiError {
        status: response.status(),
        message: format!("unexpected answer from the server: {e}"),
        span: None,
    })
}

async fn problem_of(response: Response) -> ApiError {
    let status = response.status();
    let (message, span) = match response.json::<Problem>().await {
        Ok(problem) => {
            let span = problem
                .invalid_params
                .first()
                .and_then(|param| param.span)
                .map(|span| (span.start, span.end));
            (problem.detail.unwrap_or(problem.title), span)
        }
        Err(_) => (format!("the server answered {status}"), None),
    };
    ApiError {
        status,
        message,
        span,
    }
}
