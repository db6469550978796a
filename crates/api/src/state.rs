//! The application state every handler and the gate reach: the pools, the writer, the clock,
//! the keys and the shared services. It is built once by `startup.rs`.

use crate::capture::writer::AuditWriter;
use crate::clock::Clock;
use crate::configuration::SecretKey;
use crate::db::DbPool;

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    /// Where audit-log reads go: the read replicas in turn, or the primary.
    pub reads: crate::db::ReadPools,
    /// `"sqlite"` or `"postgres"`.
    pub database_engine: &'static str,
    pub secret_key: SecretKey,
    pub writer: AuditWriter,
    pub clock: Clock,
    /// Password hashes computed at once (each costs tens of milliseconds of a core and some
    /// memory): sign-in floods queue here instead of starving every other request.
    pub password_hashing: std::sync::Arc<tokio::sync::Semaphore>,
    pub sign_in_throttle: std::sync::Arc<crate::auth::throttle::SignInThrottle>,
    /// Whether the session cookie is `Secure`: decided by `--public-url`, never by a header.
    pub secure_cookies: bool,
    /// `--public-url`, without a trailing slash.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: std::sync::Arc<Vec<ipnet::IpNet>>,
    /// The bearer token of `GET /metrics` on the main address (`--metrics-token`).
    pub metrics_token: Option<String>,
    /// Signs chain heads and remembers the newest this server signed.
    pub chain_signer: std::sync::Arc<crate::entry::checkpoint::ChainSigner>,
    /// Each project's entries in memory by column, for counting.
    pub columns: std::sync::Arc<crate::audit_log::columns::ColumnStore>,
    /// Stream destinations' network policy and delivery client.
    pub streaming: crate::streaming::Streaming,
}
