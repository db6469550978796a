//! `stream`: delivery to stream destinations, on both backends.
//!
//! For each backend a fresh database gets `--entries` generated entries in one project (the
//! synthetic history of `bench-seed`), then the real server is built in-process on it with
//! private networks allowed, and a webhook receiver listens on 127.0.0.1 (the tests' receiver:
//! it reads each request whole, keeps it, and answers 200). Then, one after the other:
//!
//! * **Warm-up**: `--clients` clients create clusters as fast as answers come, for `--seconds`
//!   seconds (closed loop), so that what follows does not measure a cold server.
//! * **Backlog delivery**: a destination created with `backfill` must deliver every entry of the
//!   project; entries per second from its creation to the last entry's arrival.
//! * **Latency when caught up**: one write every 50 ms for `--seconds` seconds; for each, the
//!   time from its answer (its entry is committed by then) to its arrival at the receiver.
//! * **Capture with and without two destinations**: a second destination joins; then, three times,
//!   the closed-loop capture run with both destinations paused and with both delivering (every
//!   entry passes both filters). The table shows each side's mean.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use auditlog_api::configuration::Settings;
use auditlog_api::db;
use auditlog_api::startup::Application;
use auditlog_tests::receiver::Receiver;
use clap::Args;
use serde_json::{json, Value};

use crate::capture::{admin_token, Backend, BenchDatabase};
use crate::report::{self, Environment};

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Entries of the backlog the backfilled destination delivers.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Concurrent clients of the capture runs.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds of each capture run and of the latency run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Backends to measure (comma-separated).
    #[arg(
        long = "backend",
        value_enum,
        value_delimiter = ',',
        default_values_t = [Backend::Sqlite, Backend::Postgres]
    )]
    pub backends: Vec<Backend>,
    /// The PostgreSQL server to create the benchmark's database on (it is dropped afterwards).
    #[arg(
        long,
        env = "AUDITLOG_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Write the results into the "Streaming" section of this Markdown file (replacing it).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

/// One backend's numbers.
struct Row {
    backend: &'static str,
    capture_alone: f64,
    backlog_rate: f64,
    backlog: u64,
    latency: [f64; 3],
    capture_with_two: f64,
}

pub async fn run(args: StreamArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clients > 0 && args.seconds > 0,
        "--clients and --seconds must be positive"
    );
    anyhow::ensure!(args.entries > 0, "--entries must be positive");
    let environment = Environment::detect(
        args.backends
            .contains(&Backend::Postgres)
            .then_some(args.postgres_url.as_str()),
    );
    let mut rows = Vec::new();
    for &backend in &args.backends {
        rows.push(
            measure(backend, &args)
                .await
                .with_context(|| format!("measuring {}", backend.label()))?,
        );
    }
    let mut table = String::from(
        "| Backend | Capture, destinations paused (writes/s) | Backlog delivered (entries/s) | New entry to receiver p50 / p95 / max (ms) | Capture, two destinations (writes/s) | Capture change |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for row in &rows {
        table.push_str(&format!(
            "| {} | {} | {} ({} entries) | {:.0} / {:.0} / {:.0} | {} | {:+.1} % |\n",
            row.backend,
            report::thousands(row.capture_alone),
            report::thousands(row.backlog_rate),
            report::thousands(row.backlog as f64),
            row.latency[0],
            row.latency[1],
            row.latency[2],
            report::thousands(row.capture_with_two),
            (row.capture_with_two / row.capture_alone - 1.0) * 100.0,
        ));
    }
    println!("{table}");
    if let Some(path) = &args.write {
        let command = format!(
            "cargo run --release -p auditlog-bench -- {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        );
        let section = format!(
            "## Streaming\n\n\
             Delivery to stream destinations: how fast a backlog drains, how soon a new entry \
             reaches a caught-up destination, and what two active destinations cost capture.\n\n\
             ```sh\n{command}\n```\n\n\
             Measured {date} on {cpus} CPUs (`nproc`), {model}, {memory} RAM, {kernel}, load \
             average {load} at the start; SQLite {sqlite}{postgres}. The server (release build) \
             runs in the benchmark's process; the webhook receiver (which reads, keeps and \
             answers every request) and the load generator share the same CPUs. {clients} \
             clients create clusters in the capture runs ({seconds} s each, three with both \
             destinations paused and three with both delivering, alternating; the mean of each); the latency run \
             writes one entry every 50 ms for {seconds} s and times each from its answer to its \
             arrival.\n\n{table}\n{NOTE}\n",
            date = environment.date,
            cpus = environment.cpus,
            model = environment.cpu_model,
            memory = environment.memory,
            kernel = environment.kernel,
            load = environment.load,
            sqlite = environment.sqlite,
            postgres = environment
                .postgres
                .as_deref()
                .map(|v| format!(", PostgreSQL {v}"))
                .unwrap_or_default(),
            clients = args.clients,
            seconds = args.seconds,
        );
        report::write_section(path, "Streaming", &section)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the Streaming section of {}", path.display());
    }
    Ok(())
}

async fn measure(backend: Backend, args: &StreamArgs) -> anyhow::Result<Row> {
    let label = backend.label();
    let dir = tempfile::tempdir()?;
    let database = BenchDatabase::create(backend, dir.path(), &args.postgres_url)?;
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = database.url.clone();
    settings.data_dir = dir.path().join("data");
    settings.static_dir = dir.path().join("dist");
    settings.stream_allow_private_networks = true;
    settings.stream_retry_max_seconds = 1;

    eprintln!("{label}: generating {} entries", args.entries);
    let summary = {
        let target = settings.database_target()?;
        let pool = db::connect_and_migrate(&target, 2)?;
        let mut conn = pool.get()?;
        let key = settings.resolve_secret_key()?;
        let signer = auditlog_api::entry::checkpoint::ChainSigner::from_settings(&settings, &key)?;
        auditlog_api::seed::synthetic::seed(
            &mut conn,
            &auditlog_api::seed::synthetic::SeedOptions {
                entries: args.entries,
                projects: 1,
                days: 1,
                end: chrono::Utc::now().timestamp_micros() - 60_000_000,
                seed: 1,
                password: "bench-password".into(),
            },
            &signer,
        )?
    };
    let project = summary.largest_project_id;
    let application = Application::build(&settings)?;
    let url = application.url();
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let token = admin_token(
        &client,
        &url,
        auditlog_api::seed::synthetic::ADMIN_EMAIL,
        "bench-password",
        project,
    )
    .await?;
    let api = format!("{url}/api/v1/projects/{project}");

    eprintln!("{label}: warming up");
    capture(&client, &api, &token, args, "warm-up").await;

    // The backlog: everything kept so far, delivered from the oldest.
    let receiver = Receiver::start().await;
    let started = Instant::now();
    let created = post(
        &client,
        &format!("{api}/streams"),
        &token,
        json!({"name": "backlog", "kind": "webhook", "url": receiver.url, "backfill": true}),
    )
    .await?;
    let backlog = created["destination"]["lag_entries"]
        .as_u64()
        .context("a lag")?;
    eprintln!("{label}: delivering a backlog of {backlog} entries");
    let deadline = Instant::now() + Duration::from_secs(600);
    let finished = loop {
        let (lines, last) = receiver.accepted_lines();
        // The verification is one line; the backlog, and the destination's own creation.
        if lines as u64 > backlog {
            break last.context("deliveries")?;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the backlog did not drain in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let backlog_rate = backlog as f64 / (finished - started).as_secs_f64();

    eprintln!("{label}: latency of a caught-up destination");
    let mut answered = Vec::new();
    let run_until = Instant::now() + Duration::from_secs(args.seconds);
    let mut n = 0;
    while Instant::now() < run_until {
        let name = format!("latency-{n}");
        n += 1;
        let sent = Instant::now();
        post(
            &client,
            &format!("{api}/clusters"),
            &token,
            json!({"name": name, "region": "eu-west-1"}),
        )
        .await?;
        answered.push((name, sent, Instant::now()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deliveries = receiver.deliveries();
    let mut latencies: Vec<f64> = answered
        .iter()
        .filter_map(|(name, sent, answered)| {
            // The entry is committed before its answer leaves, so a delivery may even arrive
            // before the answer does: that counts as no wait.
            let needle = format!("\"name\":\"{name}\"");
            deliveries
                .iter()
                .find(|d| {
                    d.received_at >= *sent
                        && String::from_utf8_lossy(&d.body).contains(needle.as_str())
                })
                .map(|d| {
                    d.received_at
                        .saturating_duration_since(*answered)
                        .as_secs_f64()
                        * 1000.0
                })
        })
        .collect();
    anyhow::ensure!(
        latencies.len() == answered.len(),
        "{} of {} entries arrived",
        latencies.len(),
        answered.len()
    );
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let latency = [at(0.5), at(0.95), *latencies.last().unwrap_or(&0.0)];

    let second = Receiver::start().await;
    let second_id = post(
        &client,
        &format!("{api}/streams"),
        &token,
        json!({"name": "second", "kind": "webhook", "url": second.url}),
    )
    .await?["destination"]["id"]
        .as_i64()
        .context("an id")?;
    let first_id = created["destination"]["id"].as_i64().context("an id")?;
    // Alternating runs (both destinations paused, then both delivering), so that the machine's
    // drift (a database checkpoint, another process) falls on both sides alike.
    let (mut alone, mut with_two) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for paused in [true, false] {
            for id in [first_id, second_id] {
                patch(
                    &client,
                    &format!("{api}/streams/{id}"),
                    &token,
                    json!({"paused": paused}),
                )
                .await?;
            }
            if !paused {
                // Resumed, they first deliver what the paused run wrote: measure from caught up.
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let listed: Value = client
                        .get(format!("{api}/streams"))
                        .bearer_auth(&token)
                        .send()
                        .await?
                        .json()
                        .await?;
                    let behind: i64 = listed
                        .as_array()
                        .context("a list")?
                        .iter()
                        .map(|d| d["lag_entries"].as_i64().unwrap_or(i64::MAX))
                        .max()
                        .unwrap_or(0);
                    // The polls are recorded too: a few entries are always on their way.
                    if behind <= 10 {
                        break;
                    }
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "the destinations did not catch up"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            let run = format!("{}-{round}", if paused { "alone" } else { "two" });
            eprintln!("{label}: capture, {run}");
            let rate = capture(&client, &api, &token, args, &run).await;
            if paused {
                alone.push(rate)
            } else {
                with_two.push(rate)
            }
        }
    }
    let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len() as f64;
    let (capture_alone, capture_with_two) = (mean(&alone), mean(&with_two));
    Ok(Row {
        backend: label,
        capture_alone,
        backlog_rate,
        backlog,
        latency,
        capture_with_two,
    })
}

/// Audited writes per second by `args.clients` closed-loop clients.
async fn capture(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    args: &StreamArgs,
    run: &str,
) -> f64 {
    let answers = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..args.clients {
        let (client, api, token, answers, run) = (
            client.clone(),
            api.to_string(),
            token.to_string(),
            answers.clone(),
            run.to_string(),
        );
        tasks.spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                let sent = client
                    .post(format!("{api}/clusters"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("{run}-{worker}-{n}"), "region": "us-east-1"}))
                    .send()
                    .await;
                if sent.is_ok_and(|response| response.status().is_success()) {
                    answers.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    answers.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// What the table means, under it.
const NOTE: &str = "How to read it: a caught-up destination's latency is set by the deliverer's linger (`streaming::delivery::LINGER`, 500 ms: after sending everything there was, a task waits that long so that new entries gather into one delivery and one cursor write), well inside the 2 s goal. The backlog rate is what one destination drains at from its oldest entry (500 entries per request). The capture change is what two destinations delivering every entry cost writes on these 2 CPUs, which the server, the receivers and the load generator share; capture varies by up to ±20 % from run to run here (PostgreSQL most), which is why the two sides alternate.";

/// Capture runs per side (paused destinations, delivering destinations).
const ROUNDS: usize = 3;

async fn patch(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<()> {
    let response = client
        .patch(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {text}");
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}
