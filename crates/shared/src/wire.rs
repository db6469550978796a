//! JSON bodies exchanged between the server and its clients (web app and CLI).
//!
//! Database rows never go over the wire: the server maps its rows into these types.

use serde::{Deserialize, Serialize};

/// `GET /healthz`: the process is up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the server answers.
    pub status: String,
    /// The server's version.
    pub version: String,
    /// The storage engine in use: `"sqlite"` or `"postgres"`.
    pub database: String,
}

/// `GET /readyz`: the server can reach its database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub status: String,
    pub database: String,
}

/// An RFC 9457 problem document (`application/problem+json`), the body of every error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI reference naming the kind of problem, such as `/problems/invalid-query`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path the problem arose on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For invalid input: which parameters were wrong and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// One offending parameter of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParam {
    pub name: String,
    pub reason: String,
}

/// `GET /api/v1/query/resolve?<audit query>`: how the server reads an audit query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedQuery {
    /// The canonical query string of the view.
    pub canonical: String,
    /// The window the query covers after retention was applied, RFC 3339 UTC, half-open.
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// Whether the start of the window was moved to the retention horizon.
    pub clamped_to_retention: bool,
}
