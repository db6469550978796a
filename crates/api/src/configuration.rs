//! Typed configuration, read from command-line flags and the environment (flags win).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::db::DatabaseTarget;

/// `auditlog-server`: the Auditlog API server and web app host.
#[derive(Debug, Parser)]
#[command(name = "auditlog-server", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web app (the default).
    Serve,
    /// Run pending database migrations, then exit.
    Migrate,
    /// Create a project and make a user (created if new) its admin.
    CreateAdmin(CreateAdminArgs),
    /// Fill an empty database with a month of demo history, made through the real API.
    Demo(DemoArgs),
    /// Fill an empty database with a large synthetic history for benchmarks (written directly,
    /// not through the API; deterministic for a given seed).
    BenchSeed(BenchSeedArgs),
}

#[derive(Debug, Args)]
pub struct BenchSeedArgs {
    /// Audit entries to generate, over all projects.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Projects; the first holds 35 % of the entries.
    #[arg(long, default_value_t = 200)]
    pub projects: u32,
    /// Days of history (1 to 30).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The end of the history (RFC 3339); now when not given.
    #[arg(long)]
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    /// The random generator's seed: the same seed gives the same rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The password of bench@auditlog.local, admin of every project.
    #[arg(
        long,
        env = "AUDITLOG_BENCH_PASSWORD",
        hide_env_values = true,
        default_value = "bench-password"
    )]
    pub password: String,
}

#[derive(Debug, Args)]
pub struct CreateAdminArgs {
    #[arg(long)]
    pub email: String,
    /// The name shown in the dashboard and the audit log.
    #[arg(long, default_value = "Admin")]
    pub name: String,
    /// At least 10 characters; read from the environment to keep it out of shell history.
    #[arg(long, env = "AUDITLOG_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
    #[arg(long, default_value = "My project")]
    pub project: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Days of history, ending now (1 to 30).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Scales how busy the demo's people are (1.0 makes a few thousand entries in 30 days).
    #[arg(long, default_value_t = 1.0)]
    pub activity: f64,
    /// The demo admin's password (at least 10 characters); a random one when not given.
    #[arg(long, env = "AUDITLOG_DEMO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

/// Everything the server needs to start.
#[derive(Clone, Debug, Args)]
pub struct Settings {
    /// Address and port to listen on; port 0 picks a free port.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: String,

    /// `sqlite://<file>` (embedded, the default) or `postgres://<user>@<host>/<database>`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/auditlog.db"
    )]
    pub database_url: String,

    /// A PostgreSQL streaming replica for audit-log reads (list, histogram, facets, the query
    /// bar, export, single entries), repeatable or comma-separated; reads take them in turn and fall back
    /// to the primary when one is down. Capture and every write go to `--database-url`.
    #[arg(
        long = "read-database-url",
        global = true,
        env = "AUDITLOG_READ_DATABASE_URLS",
        value_delimiter = ','
    )]
    pub read_database_urls: Vec<String>,

    /// Connections kept in the database pool. The audit writer opens its own besides them: one
    /// on SQLite, half this number on PostgreSQL (its lanes).
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_DB_POOL_SIZE",
        default_value_t = 8
    )]
    pub db_pool_size: u32,

    /// Directory for server state: the generated secret key (and the SQLite file by default).
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// The built web app (Trunk's `dist/`), served with a fallback to `index.html`.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_STATIC_DIR",
        default_value = "./dist"
    )]
    pub static_dir: PathBuf,

    /// Key that signs sessions and API tokens (at least 32 characters). Generated and kept in
    /// `<data dir>/secret.key` when not given.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<SecretKey>,

    /// Serves Prometheus metrics at `GET /metrics` on the main address to requests with
    /// `Authorization: Bearer <token>` (at least 32 characters). Without it (and without
    /// `--metrics-bind`) there is no metrics endpoint.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<SecretKey>,

    /// Also serves `GET /metrics`, without a token, on this address (for a private network or
    /// the loopback interface: anyone who reaches it reads the metrics).
    #[arg(long, global = true, env = "AUDITLOG_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// Audit entries that may wait for their commit at once; past that, requests get 503.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_CAPTURE_QUEUE",
        default_value_t = 10_000
    )]
    pub capture_queue_capacity: usize,

    /// HTTP worker threads; defaults to the number of CPU cores.
    #[arg(long, global = true, env = "AUDITLOG_WORKERS")]
    pub workers: Option<usize>,

    /// The address users reach the dashboard at (`https://audit.example.com`). It decides
    /// whether the session cookie is `Secure` (an `https` URL) and makes invitation links and
    /// the links in alert notifications absolute. Request headers such as `X-Forwarded-Proto` never decide either.
    #[arg(long, global = true, env = "AUDITLOG_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Reverse proxies (CIDR, comma-separated, e.g. `10.0.0.0/8,127.0.0.1/32`) whose
    /// `X-Forwarded-For` names the client. From any other peer the header is ignored and the
    /// peer's own address is recorded.
    #[arg(
        long = "trusted-proxy",
        global = true,
        env = "AUDITLOG_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// A file holding the Ed25519 seed (64 hex digits) the server signs chain heads with;
    /// created when missing. Without it the key is derived from the secret key. Keep it off
    /// the database host: whoever holds it can sign a rewritten chain.
    #[arg(long, global = true, env = "AUDITLOG_CHAIN_SIGNING_KEY_FILE")]
    pub chain_signing_key_file: Option<PathBuf>,

    /// Retired chain signing public keys (hex, comma-separated) whose signatures stay valid
    /// after a key rotation.
    #[arg(
        long = "trusted-chain-key",
        global = true,
        env = "AUDITLOG_TRUSTED_CHAIN_KEYS",
        value_delimiter = ','
    )]
    pub trusted_chain_keys: Vec<String>,

    /// Lets stream destinations point at loopback, private, link-local and other non-public
    /// addresses, and use plain `http://` there (a receiver on this machine or a private
    /// network). Off, the server refuses them, so that no admin can make it probe the network
    /// it runs in.
    #[arg(long, global = true, env = "AUDITLOG_STREAM_ALLOW_PRIVATE_NETWORKS")]
    pub stream_allow_private_networks: bool,

    /// Keeps no copy of the entries in memory. By default each project's entries in retention
    /// are also held in memory by column (about 30 bytes an entry, loaded in the background at
    /// start), which answers the histograms, facets and exports' match counts that rollups
    /// cannot in tens of milliseconds at millions of entries; without it those read the entries
    /// row by row from the database.
    #[arg(long, global = true, env = "AUDITLOG_NO_MEMORY_COLUMNS")]
    pub no_memory_columns: bool,

    /// The longest pause, in seconds, between two delivery attempts to a failing stream
    /// destination (pauses double from one second up to it, with jitter).
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_STREAM_RETRY_MAX_SECONDS",
        default_value_t = 300
    )]
    pub stream_retry_max_seconds: u64,

    /// Log format on standard error.
    #[arg(long, global = true, env = "AUDITLOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not an IP address or CIDR range"))
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let host = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(
            "expected an http:// or https:// URL without a path, e.g. https://audit.example.com"
                .into(),
        ),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The server's signing key. Its `Debug` form never shows the key.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl std::str::FromStr for SecretKey {
    type Err = String;

    fn from_str(text: &str) -> Result<SecretKey, String> {
        if text.len() < 32 {
            return Err("the secret key must be at least 32 characters long".to_string());
        }
        Ok(SecretKey(text.to_string()))
    }
}

impl Settings {
    /// Defaults for everything, as if no flag or variable were set.
    pub fn from_defaults() -> Settings {
        Cli::parse_from(["auditlog-server"]).settings
    }

    /// Whether the session cookie must be `Secure`: the public URL is `https`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }

    pub fn database_target(&self) -> anyhow::Result<DatabaseTarget> {
        DatabaseTarget::parse(&self.database_url)
    }

    /// This server's stable name (kept in `<data dir>/server.id`, created on first use): it
    /// holds the leases of the stream destinations it delivers, and gets them back at once
    /// after a restart.
    pub fn server_id(&self) -> anyhow::Result<String> {
        let path = self.data_dir.join("server.id");
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let id = text.trim();
            anyhow::ensure!(
                !id.is_empty() && id.len() <= 100,
                "{} does not hold a server id",
                path.display()
            );
            return Ok(id.to_string());
        }
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                self.data_dir.display()
            )
        })?;
        let id = uuid::Uuid::new_v4().to_string();
        std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(id)
    }

    pub fn resolve_secret_key(&self) -> anyhow::Result<SecretKey> {
        if let Some(key) = &self.secret_key {
            return Ok(key.clone());
        }
        load_or_create_secret(&self.data_dir.join("secret.key"))
    }
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<SecretKey> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret key at {}", path.display()))?;
        return text
            .trim()
            .parse()
            .map_err(|e: String| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let key = hex::encode(bytes);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    write_private_file(path, &key)
        .with_context(|| format!("cannot write the secret key to {}", path.display()))?;
    Ok(SecretKey(key))
}

#[cfg(unix)]
pub(crate) fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
pub(crate) fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("auditlog-secret-{}", std::process::id()));
        let path = dir.join("secret.key");
        let first = load_or_create_secret(&path).unwrap();
        let second = load_or_create_secret(&path).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert_eq!(first.expose().len(), 64);
        assert_eq!(format!("{first:?}"), "SecretKey(<redacted>)");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn deployment_facts_are_settings() {
        let settings = Cli::parse_from([
            "auditlog-server",
            "--public-url",
            "https://audit.example.com/",
            "--trusted-proxy",
            "10.0.0.0/8,127.0.0.1/32",
        ])
        .settings;
        assert_eq!(
            settings.public_url.as_deref(),
            Some("https://audit.example.com")
        );
        assert!(settings.secure_cookies());
        assert_eq!(settings.trusted_proxies.len(), 2);
        assert!(!Settings::from_defaults().secure_cookies());
        for bad in ["audit.example.com", "https://", "https://a/b", "ftp://a"] {
            assert!(
                Cli::try_parse_from(["auditlog-server", "--public-url", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(
            Cli::try_parse_from(["auditlog-server", "--trusted-proxy", "10.0.0.0/33"]).is_err()
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!("too short".parse::<SecretKey>().is_err());
    }
}
