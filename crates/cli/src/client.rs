//! The HTTP client: every request carries the CLI's User-Agent and, when signed in, the bearer
//! token; every error answer is turned into an error that says what the server said.

use std::fmt;
use std::time::Duration;

use anyhow::Context as _;
use auditlog_shared::wire::Problem;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The User-Agent the server recognises as the CLI, and records with the `cli` source.
pub const USER_AGENT: &str = concat!("auditlog-cli/", env!("CARGO_PKG_VERSION"));

/// How long to wait for a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a whole request, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a download may take, answer body included.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A decoded JSON answer, together with the JSON exactly as the server sent it (for `--json`).
#[derive(Debug)]
pub struct JsonAnswer<T> {
    pub value: T,
    pub raw: serde_json::Value,
}

/// An error answer that carried an RFC 9457 problem document.
#[derive(Debug)]
pub struct ProblemError {
    /// The HTTP status of the answer.
    pub status: u16,
    pub problem: Problem,
}

impl fmt::Display for ProblemError {
    /// Writes `<title> (<status>): <detail>`, then one line per invalid parameter (but the one
    /// the detail already says word for word, as a problem about one field does).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.problem.title, self.status)?;
        if let Some(detail) = &self.problem.detail {
            write!(formatter, ": {detail}")?;
        }
        for parameter in &self.problem.invalid_params {
            let line = format!("{}: {}", parameter.name, parameter.reason);
            if self.problem.detail.as_deref() != Some(line.as_str()) {
                write!(formatter, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ProblemError {}

/// A client for one Auditlog server, optionally signed in with an API token.
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
}

impl ApiClient {
    /// Builds a client for the server at `base_url`; requests carry `token` as a bearer token
    /// when one is given.
    pub fn new(base_url: &str, token: Option<&str>) -> anyhow::Result<ApiClient> {
        let base_url = normalize_base_url(base_url)?;
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                anyhow::anyhow!(
                    "the token contains characters that cannot be sent in an HTTP header"
                )
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(ApiClient { http, base_url })
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET`s a JSON document from a path such as `/api/v1/projects`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> anyhow::Result<JsonAnswer<T>> {
        let url = self.url_for(path_and_query);
        let response = self.send(self.http.get(&url), &url).await?;
        read_json(response, &url).await
    }

    /// `GET`s a file to download. The answer's status has been checked (an error answer is an
    /// error); its body is left for the caller to read, chunk by chunk.
    pub async fn get_download(&self, path_and_query: &str) -> anyhow::Result<reqwest::Response> {
        let url = self.url_for(path_and_query);
        self.send(self.http.get(&url).timeout(DOWNLOAD_TIMEOUT), &url)
            .await
    }

    /// `GET`s a stream of JSON lines (`Accept: application/x-ndjson`); the status has been
    /// checked, the body is left for the caller to read as it arrives.
    pub async fn get_lines(&self, path_and_query: &str) -> anyhow::Result<reqwest::Response> {
        let url = self.url_for(path_and_query);
        self.send(
            self.http
                .get(&url)
                .header(reqwest::header::ACCEPT, "application/x-ndjson")
                .timeout(DOWNLOAD_TIMEOUT),
            &url,
        )
        .await
    }

    /// `POST`s a JSON body and reads the JSON answer.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<JsonAnswer<T>> {
        let url = self.url_for(path);
        let response = self.send(self.http.post(&url).json(body), &url).await?;
        read_json(response, &url).await
    }

    /// `PATCH`es a resource with a JSON body and reads the JSON answer.
    pub async fn patch_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<JsonAnswer<T>> {
        let url = self.url_for(path);
        let response = self.send(self.http.patch(&url).json(body), &url).await?;
        read_json(response, &url).await
    }

    /// `DELETE`s a resource and reads the JSON answer.
    pub async fn delete_json<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> anyhow::Result<JsonAnswer<T>> {
        let url = self.url_for(path);
        let response = self.send(self.http.delete(&url), &url).await?;
        read_json(response, &url).await
    }

    /// `DELETE`s a resource whose deletion answers without a body (`204 No Content`).
    pub async fn delete_without_answer(&self, path: &str) -> anyhow::Result<()> {
        let url = self.url_for(path);
        self.send(self.http.delete(&url), &url).await?;
        Ok(())
    }

    fn url_for(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }

    /// Sends a request; a connection failure names the URL, and an error status becomes an
    /// error that carries the server's problem document when there is one.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<Problem>(&body) {
            Ok(problem) => Err(ProblemError {
                status: status.as_u16(),
                problem,
            }
            .into()),
            Err(_) => Err(anyhow::anyhow!("{url} answered {status}")),
        }
    }
}

/// Checks that a base URL is an absolute `http` or `https` URL and drops any trailing slash.
pub fn normalize_base_url(base_url: &str) -> anyhow::Result<String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed).with_context(|| {
        format!(
            "invalid server URL `{base_url}`: expected something like https://audit.example.com"
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!("invalid server URL `{base_url}`: only http and https are supported");
    }
    Ok(trimmed.to_string())
}

/// Reads a JSON answer, keeping the raw document next to the decoded value.
async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    url: &str,
) -> anyhow::Result<JsonAnswer<T>> {
    let body = response
        .bytes()
        .await
        .with_context(|| format!("cannot read the answer from {url}"))?;
    let raw: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("unexpected answer from {url}: not JSON"))?;
    let value = serde_json::from_value(raw.clone())
        .with_context(|| format!("unexpected answer from {url}"))?;
    Ok(JsonAnswer { value, raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use auditlog_shared::wire::InvalidParam;

    fn problem(detail: Option<&str>, invalid_params: Vec<InvalidParam>) -> ProblemError {
        ProblemError {
            status: 422,
            problem: Problem {
                kind: "/problems/invalid-input".to_string(),
                title: "Invalid input".to_string(),
                status: 422,
                detail: detail.map(str::to_string),
                instance: None,
                invalid_params,
            },
        }
    }

    #[test]
    fn problems_read_as_title_status_and_detail() {
        assert_eq!(
            problem(Some("the name is taken"), Vec::new()).to_string(),
            "Invalid input (422): the name is taken"
        );
        assert_eq!(problem(None, Vec::new()).to_string(), "Invalid input (422)");
        let with_parameters = problem(
            Some("2 parameters are invalid"),
            vec![InvalidParam {
                name: "image".to_string(),
                reason: "must not be empty".to_string(),
                span: None,
            }],
        );
        assert_eq!(
            with_parameters.to_string(),
            "Invalid input (422): 2 parameters are invalid\n  image: must not be empty"
        );
        // A problem about one field says it once.
        let one_field = problem(
            Some("url: the destination did not answer"),
            vec![InvalidParam {
                name: "url".to_string(),
                reason: "the destination did not answer".to_string(),
                span: None,
            }],
        );
        assert_eq!(
            one_field.to_string(),
            "Invalid input (422): url: the destination did not answer"
        );
    }

    #[test]
    fn base_urls_lose_their_trailing_slash_and_must_be_http() {
        assert_eq!(
            normalize_base_url("https://audit.example.com/").expect("valid"),
            "https://audit.example.com"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080").expect("valid"),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_base_url("audit.example.com").is_err());
        assert!(normalize_base_url("ftp://audit.example.com").is_err());
    }

    #[test]
    fn tokens_that_cannot_be_headers_are_refused() {
        assert!(ApiClient::new("http://127.0.0.1:8080", Some("line\nbreak")).is_err());
        assert!(ApiClient::new("http://127.0.0.1:8080", Some("alt_abc123")).is_ok());
    }
}
