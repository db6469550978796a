//! Talking to a running server over HTTP the way the dashboard and API-token scripts do: signing
//! in (cookie session with its CSRF token), creating API tokens, verifying the audit chain.

use auditlog_shared::wire::{CreateToken, CreatedToken, Role, SessionInfo, SignIn, VerifyReport};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, RequestBuilder, StatusCode};

/// The name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "auditlog_session";

/// A signed-in dashboard session: the session cookie and the CSRF token writes must echo.
#[derive(Clone, Debug)]
pub struct DashboardSession {
    pub base_url: String,
    /// `auditlog_session=<value>`, as sent back in the `Cookie` header.
    cookie: String,
    pub info: SessionInfo,
}

/// Signs in with email and password (`POST /api/v1/session`); panics unless it succeeds.
pub async fn sign_in(
    client: &Client,
    base_url: &str,
    email: &str,
    password: &str,
) -> DashboardSession {
    let response = client
        .post(format!("{base_url}/api/v1/session"))
        .json(&SignIn {
            email: email.to_string(),
            password: password.to_string(),
        })
        .send()
        .await
        .expect("the sign-in request is answered");
    let status = response.status();
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with(&format!("{SESSION_COOKIE}=")))
        .map(str::to_string);
    let body = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::OK,
        "signing in as {email} failed: {body}"
    );
    let cookie =
        cookie.unwrap_or_else(|| panic!("signing in set no `{SESSION_COOKIE}` cookie: {body}"));
    let info: SessionInfo = serde_json::from_str(&body).unwrap_or_else(|error| {
        panic!("the sign-in answer is not a SessionInfo ({error}): {body}")
    });
    DashboardSession {
        base_url: base_url.to_string(),
        cookie,
        info,
    }
}

impl DashboardSession {
    /// Adds the session cookie and the CSRF header to a request.
    pub fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request
            .header(COOKIE, &self.cookie)
            .header("X-CSRF-Token", &self.info.csrf_token)
    }

    /// The same session against another server (servers sharing a database and a secret key
    /// accept each other's sessions).
    pub fn on(&self, base_url: &str) -> DashboardSession {
        DashboardSession {
            base_url: base_url.to_string(),
            ..self.clone()
        }
    }

    /// The URL of a path inside a project, such as `/applications`.
    pub fn project_url(&self, project_id: i64, suffix: &str) -> String {
        format!("{}/api/v1/projects/{project_id}{suffix}", self.base_url)
    }

    /// Creates an API token (`POST …/tokens`); panics unless the answer is 201.
    pub async fn create_token(
        &self,
        client: &Client,
        project_id: i64,
        name: &str,
        role: Role,
    ) -> CreatedToken {
        let response = self
            .authorize(client.post(self.project_url(project_id, "/tokens")))
            .json(&CreateToken {
                name: name.to_string(),
                role,
                can_ingest: false,
                expires_in_days: None,
            })
            .send()
            .await
            .expect("the token request is answered");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "creating token {name} failed: {body}"
        );
        serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("not a CreatedToken ({error}): {body}"))
    }

    /// The server's verdict on the project's hash chain over the last 24 hours.
    pub async fn verify(&self, client: &Client, project_id: i64) -> VerifyReport {
        verify(
            self.authorize(
                client.get(self.project_url(project_id, "/audit-logs/verify?range=24h")),
            ),
        )
        .await
    }
}

/// Sends a prepared `GET …/audit-logs/verify` request and reads the report; panics unless 200.
pub async fn verify(request: RequestBuilder) -> VerifyReport {
    let response = request
        .send()
        .await
        .expect("the verify request is answered");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "verify failed: {body}");
    serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("not a VerifyReport ({error}): {body}"))
}
