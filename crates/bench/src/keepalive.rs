//! `auditlog-bench keepalive`: the same audit-log requests through one kept-alive connection
//! (as a browser sends them: `Accept-Encoding: gzip, deflate, br`) and through a fresh
//! connection each time. A server that writes a response in several pieces with Nagle's
//! algorithm on pays the client's delayed ACK (~40 ms) on every kept-alive request; this
//! benchmark shows whether it does.
//!
//! The real server runs in-process on a fresh SQLite database with a few hundred entries.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use auditlog_api::configuration::Settings;
use auditlog_api::db;
use auditlog_api::startup::Application;
use clap::Args;
use serde_json::json;

use crate::report;

/// Options of `auditlog-bench keepalive`.
#[derive(Debug, Args)]
pub struct KeepAliveArgs {
    /// Requests per view and connection kind.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Replace the "Kept-alive connections" section of this Markdown file with the results.
    #[arg(long)]
    pub write: Option<std::path::PathBuf>,
}

const EMAIL: &str = "keepalive@example.com";
const PASSWORD: &str = "benchmark password";
const BROWSER_ENCODINGS: &str = "gzip, deflate, br";

/// Runs the benchmark and prints (or writes) its table.
pub async fn run(args: KeepAliveArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    settings.data_dir = dir.path().join("data");
    settings.static_dir = dir.path().join("dist");
    let target = settings.database_target()?;
    let project_id = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
        let pool = db::connect_and_migrate(&target, 1)?;
        let mut conn = pool.get()?;
        let now = chrono::Utc::now().timestamp_micros();
        auditlog_api::admin::create_admin(&mut conn, EMAIL, "Bench", PASSWORD, "Bench", now)
            .map(|setup| setup.project_id)
            .map_err(|error| anyhow::anyhow!("cannot create the admin: {error}"))
    })
    .await??;
    let application = Application::build(&settings).context("the server builds")?;
    let url = application.url();
    let server = tokio::spawn(application.run_until_stopped());

    let kept_alive = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let fresh = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()?;
    let token = crate::capture::admin_token(&kept_alive, &url, EMAIL, PASSWORD, project_id).await?;
    let project = format!("{url}/api/v1/projects/{project_id}");
    // Some history: writes and reads, so that pages and facets have content.
    for n in 0..300 {
        let response = kept_alive
            .post(format!("{project}/clusters"))
            .bearer_auth(&token)
            .json(&json!({ "name": format!("c-{n}"), "region": "eu-west-1" }))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "creating a cluster failed");
    }

    let views = [
        ("list, method ≠ GET", "/audit-logs?method.not=GET"),
        (
            "histogram, method ≠ GET",
            "/audit-logs/histogram?method.not=GET",
        ),
        ("facets, method ≠ GET", "/audit-logs/facets?method.not=GET"),
    ];
    let mut table = String::from(
        "| View | Connection | p50 (ms) | p95 (ms) | p99 (ms) | Samples |\n|---|---|---:|---:|---:|---:|\n",
    );
    for (label, path) in views {
        for (kind, client) in [("kept alive", &kept_alive), ("fresh", &fresh)] {
            let url = format!("{project}{path}");
            let mut latencies = Vec::with_capacity(args.samples);
            for _ in 0..args.samples {
                let sent = Instant::now();
                let response = client
                    .get(&url)
                    .bearer_auth(&token)
                    .header(reqwest::header::ACCEPT_ENCODING, BROWSER_ENCODINGS)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "{url} answered {}",
                    response.status()
                );
                response.bytes().await?;
                latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            latencies.sort_unstable();
            let ms = |p: f64| report::percentile(&latencies, p) as f64 / 1_000.0;
            table.push_str(&format!(
                "| {label} | {kind} | {:.2} | {:.2} | {:.2} | {} |\n",
                ms(50.0),
                ms(95.0),
                ms(99.0),
                latencies.len()
            ));
        }
    }
    server.abort();
    let _ = server.await;

    let section = format!(
        "## Kept-alive connections\n\n\
         Measured with `cargo run --release -p auditlog-bench -- keepalive --samples {} --write BENCHMARKS.md` \
         (SQLite, a few hundred entries, the release server in-process; requests sent as a \
         browser sends them, with `Accept-Encoding: {BROWSER_ENCODINGS}`). Kept-alive requests \
         must cost what fresh ones cost: before the server set `TCP_NODELAY` on its \
         connections, every compressed answer on a kept-alive connection waited ~40 ms for the \
         client's delayed ACK.\n\n{table}",
        args.samples
    );
    match &args.write {
        Some(path) => report::write_section(path, "Kept-alive connections", &section)?,
        None => println!("{section}"),
    }
    Ok(())
}
