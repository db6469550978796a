//! Calls to the Auditlog server.

use auditlog_shared::wire::{Health, Problem};
use gloo_net::http::{Request, Response};

/// `GET /healthz`.
pub async fn health() -> Result<Health, String> {
    let response = Request::get("/healthz")
        .send()
        .await
        .map_err(|e| format!("the server cannot be reached: {e}"))?;
    read_json(response).await
}

/// Reads a JSON body, or the problem document of an error response.
async fn read_json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, String> {
    if response.ok() {
        return response
            .json::<T>()
            .await
            .map_err(|e| format!("unexpected answer from the server: {e}"));
    }
    let status = response.status();
    match response.json::<Problem>().await {
        Ok(problem) => Err(problem.detail.unwrap_or(problem.title)),
        Err(_) => Err(format!("the server answered {status}")),
    }
}
