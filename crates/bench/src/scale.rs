//! `scale`: the query API and the capture on a large, realistic history (issue #6).
//!
//! For each backend and each size, the database is filled by `auditlog-server bench-seed`
//! (200 projects, the first holding 35 % of the entries, 30 days ending at the seeding), or
//! reused when a previous run left it (`--reuse`). Then the release server runs as its own
//! process on it, and every query shape is sent over HTTP to the largest project, warm:
//! `--warmup` unmeasured requests, then `--samples` measured ones, one after the other (fewer when
//! a shape takes longer than `--max-seconds-per-query`).
//! Reported per shape: p50, p95 and p99 of the time to the last byte of the answer, answers per
//! second, and the target it is held to. Then the capture runs on the same server, in the second
//! largest project (audited reads and writes by concurrent clients; the latency an audited read
//! adds at a fixed rate), and the server's peak resident memory (`VmHWM`) is read at the end.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use auditlog_shared::{Cursor, CursorDirection};
use clap::Args;
use diesel::prelude::*;
use diesel::PgConnection;
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;

use crate::capture::{self, Backend};
use crate::report::{self, Environment};

/// The generated histories a benchmark runs on: their sizes, backends and seed, and where they
/// are kept for `--reuse`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// History sizes, in entries (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000_000u64])]
    pub entries: Vec<u64>,
    /// Backends to measure (comma-separated).
    #[arg(
        long = "backend",
        value_enum,
        value_delimiter = ',',
        default_values_t = [Backend::Sqlite, Backend::Postgres]
    )]
    pub backends: Vec<Backend>,
    /// The generator's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Reuse a database a previous run generated with the same size and seed.
    #[arg(long)]
    pub reuse: bool,
    /// Where the SQLite databases are kept.
    #[arg(long, default_value = "target/bench-data")]
    pub data_dir: PathBuf,
    /// The PostgreSQL server the databases are created on (`auditlog_scale_<entries>_<seed>`).
    #[arg(
        long,
        env = "AUDITLOG_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Measured requests per query shape.
    #[arg(long, default_value_t = 40)]
    pub samples: usize,
    /// Stop measuring a shape after this many seconds, with fewer samples (a slow shape would
    /// otherwise hold the run for minutes).
    #[arg(long, default_value_t = 30)]
    pub max_seconds_per_query: u64,
    /// Unmeasured requests per query shape before the measured ones.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Concurrent clients of the capture throughput runs.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Seconds each capture measurement runs (0 skips the capture).
    #[arg(long, default_value_t = 10)]
    pub capture_seconds: u64,
    /// The fixed rate of the capture latency run, in requests per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Write the results into the "Scale" section of this Markdown file (replacing it).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Also answer every histogram and facets shape with DuckDB on the same rows (the SQLite
    /// store copied once into a DuckDB file beside it), timed in-process by DuckDB's Python
    /// package (installed from PyPI into `target/bench-tools` when missing), and print both
    /// side by side.
    #[arg(long)]
    pub compare: bool,
}

pub(crate) const PASSWORD: &str = "bench-password";
/// The servers' secret key (from which they derive their chain signing key).
const SECRET_KEY: &str = "scale-benchmark-secret-key-0123456789abcdef";

/// One query shape and its target p95.
struct Shape {
    label: String,
    path: String,
    target_ms: f64,
    /// DuckDB statements that answer the same question (`--compare`).
    duckdb: Vec<String>,
}

/// One measured shape.
struct Row {
    backend: &'static str,
    entries: u64,
    label: String,
    p50: f64,
    p95: f64,
    p99: f64,
    per_second: f64,
    bytes: usize,
    samples: usize,
    target_ms: f64,
    /// Where the server counted from (`rollups`, `columns`, `entries`; its `Server-Timing`).
    counted_from: String,
}

pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.samples > 0, "--samples must be at least 1");
    anyhow::ensure!(!args.store.entries.is_empty(), "name at least one size");
    let server = std::env::current_exe()?
        .parent()
        .context("the benchmark's directory")?
        .join("auditlog-server");
    anyhow::ensure!(
        server.exists(),
        "{} is missing: build it with `cargo build --release -p auditlog-api`",
        server.display()
    );
    let environment = Environment::detect(
        args.store
            .backends
            .contains(&Backend::Postgres)
            .then_some(args.store.postgres_url.as_str()),
    );
    std::fs::create_dir_all(&args.store.data_dir)?;

    let mut rows = Vec::new();
    let mut capture_rows = Vec::new();
    let mut notes = Vec::new();
    let mut compared = Vec::new();
    for &entries in &args.store.entries {
        let mut duckdb_queries = Vec::new();
        for &backend in &args.store.backends {
            let label = backend.label();
            let (url, seeded) = prepare_database(&server, backend, entries, &args.store)
                .await
                .with_context(|| format!("preparing {label} with {entries} entries"))?;
            if let Some(note) = seeded {
                notes.push(note);
            }
            let (measured, captured, note, queries) =
                measure(&server, backend, entries, &url, &args)
                    .await
                    .with_context(|| format!("measuring {label} with {entries} entries"))?;
            if backend == Backend::Sqlite {
                duckdb_queries = queries;
            }
            rows.extend(measured);
            capture_rows.extend(captured);
            notes.push(note);
        }
        if args.compare {
            anyhow::ensure!(
                !duckdb_queries.is_empty(),
                "--compare copies the SQLite store: measure SQLite too"
            );
            let sqlite = std::path::absolute(
                args.store
                    .data_dir
                    .join(format!("auditlog_scale_{entries}_{}.db", args.store.seed)),
            )?;
            match duckdb(&sqlite, &duckdb_queries, args.samples) {
                Ok(results) => {
                    for (label, p50, p95) in results {
                        compared.push((entries, label, p50, p95));
                    }
                }
                Err(error) => eprintln!("the DuckDB comparison failed: {error:#}"),
            }
        }
    }

    let mut table = table(&rows);
    if args.compare {
        table.push('\n');
        table.push_str(&comparison(&rows, &compared));
    }
    println!("{table}");
    let capture_table = report::table(&capture_rows);
    if !capture_rows.is_empty() {
        println!("{capture_table}");
    }
    for note in &notes {
        println!("- {note}");
    }
    if let Some(path) = &args.write {
        let section = section(&table, &capture_table, &notes, &environment, &args);
        report::write_section(path, "Scale", &section)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the Scale section of {}", path.display());
    }
    Ok(())
}

/// The database's URL, seeding it unless a seeded one is reused; and a note on the seeding.
pub(crate) async fn prepare_database(
    server: &std::path::Path,
    backend: Backend,
    entries: u64,
    args: &StoreArgs,
) -> anyhow::Result<(String, Option<String>)> {
    let name = format!("auditlog_scale_{entries}_{}", args.seed);
    let url = match backend {
        Backend::Sqlite => {
            let file = std::path::absolute(args.data_dir.join(format!("{name}.db")))?;
            if file.exists() && args.reuse {
                return Ok((format!("sqlite://{}", file.display()), None));
            }
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            format!("sqlite://{}", file.display())
        }
        Backend::Postgres => {
            let mut admin = PgConnection::establish(&args.postgres_url)
                .with_context(|| format!("PostgreSQL is unreachable at {}", args.postgres_url))?;
            let (base, _) = args
                .postgres_url
                .rsplit_once('/')
                .context("the PostgreSQL URL names no database")?;
            let url = format!("{base}/{name}");
            let exists: i64 = diesel::sql_query(format!(
                "SELECT COUNT(*) AS count FROM pg_database WHERE datname = '{name}'"
            ))
            .get_result::<Count>(&mut admin)?
            .count;
            if exists > 0 && args.reuse {
                return Ok((url, None));
            }
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)?;
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
            url
        }
    };
    eprintln!("{}: generating {entries} entries", backend.label());
    let started = Instant::now();
    let output = tokio::process::Command::new(server)
        .args(["--database-url", &url, "bench-seed"])
        // The key the servers below sign with: the seeded heads are signed with it.
        .env("AUDITLOG_SECRET_KEY", SECRET_KEY)
        .args(["--entries", &entries.to_string()])
        .args(["--seed", &args.seed.to_string()])
        .args(["--password", PASSWORD])
        .stderr(Stdio::inherit())
        .output()
        .await?;
    anyhow::ensure!(output.status.success(), "bench-seed failed");
    let elapsed = started.elapsed().as_secs_f64();
    let size = database_size(backend, &url, &args.postgres_url);
    Ok((
        url,
        Some(format!(
            "{} with {} entries: generated in {elapsed:.0} s ({} entries/s), {} on disk. {}",
            backend.label(),
            report::thousands(entries as f64),
            report::thousands(entries as f64 / elapsed),
            size,
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .unwrap_or("")
        )),
    ))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = diesel::sql_types::Text)]
    size: String,
}

fn database_size(backend: Backend, url: &str, admin_url: &str) -> String {
    match backend {
        Backend::Sqlite => {
            let file = url.trim_start_matches("sqlite://");
            std::fs::metadata(file)
                .map(|m| format!("{:.2} GB", m.len() as f64 / 1e9))
                .unwrap_or_else(|_| "unknown size".into())
        }
        Backend::Postgres => {
            let name = url.rsplit('/').next().unwrap_or_default();
            PgConnection::establish(admin_url)
                .ok()
                .and_then(|mut conn| {
                    diesel::sql_query(format!(
                        "SELECT pg_size_pretty(pg_database_size('{name}')) AS size"
                    ))
                    .get_result::<Size>(&mut conn)
                    .ok()
                })
                .map_or_else(|| "unknown size".into(), |s| s.size)
        }
    }
}

/// A server process and its address.
pub(crate) struct Server {
    child: tokio::process::Child,
    pub url: String,
    /// When the process was started.
    pub started: Instant,
}

impl Server {
    pub(crate) async fn start(
        binary: &std::path::Path,
        database_url: &str,
    ) -> anyhow::Result<Server> {
        let data_dir = tempfile::tempdir()?.keep();
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .args(["--database-url", database_url, "--bind", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("AUDITLOG_SECRET_KEY", SECRET_KEY)
            .env("RUST_LOG", "warn")
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("the server's output")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(300), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("Auditlog is listening on ") {
                    return anyhow::Ok(url.trim().to_string());
                }
            }
            anyhow::bail!("the server stopped before listening")
        })
        .await
        .context("the server did not start in 5 minutes")??;
        Ok(Server {
            child,
            url,
            started,
        })
    }

    /// The processor time the server has used so far (user and system, all threads), in
    /// seconds: steadier than wall time on a shared machine for comparing two builds.
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.child.id()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0) // USER_HZ is 100 on Linux
    }

    /// The peak resident memory so far, in MB.
    pub(crate) fn peak_rss_mb(&self) -> Option<f64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }
}

async fn measure(
    binary: &std::path::Path,
    backend: Backend,
    entries: u64,
    database_url: &str,
    args: &ScaleArgs,
) -> anyhow::Result<(Vec<Row>, Vec<report::Measurement>, String, Vec<DuckdbQuery>)> {
    let label = backend.label();
    // Migrations first (a new index on a large reused database takes a while), timed apart.
    let started = Instant::now();
    let migrated = tokio::process::Command::new(binary)
        .args(["--database-url", database_url, "migrate"])
        .stdout(Stdio::null())
        .status()
        .await?;
    anyhow::ensure!(migrated.success(), "migrating {database_url} failed");
    let migration_seconds = started.elapsed().as_secs_f64();
    let server = Server::start(binary, database_url).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let project_id = 1;
    let token = capture::admin_token(
        &client,
        &server.url,
        auditlog_api::seed::synthetic::ADMIN_EMAIL,
        PASSWORD,
        project_id,
    )
    .await?;
    let base = format!("{}/api/v1/projects/{project_id}/audit-logs", server.url);
    // The server loads its in-memory columns in the background; until they are in, counts
    // read the entries. Wait for them, and say how long they took.
    let probe = format!("{base}/histogram?range=30d&method.not=GET&source=cli");
    let loading = Instant::now();
    while fetch_timed(&client, &probe, &token).await?.1 != "columns" {
        anyhow::ensure!(
            loading.elapsed() < Duration::from_secs(900),
            "the server never counted from its in-memory columns"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let columns_seconds = server.started.elapsed().as_secs_f64();
    let shapes = shapes(&client, &base, &token).await?;
    let duckdb_queries: Vec<DuckdbQuery> = shapes
        .iter()
        .filter(|shape| !shape.duckdb.is_empty())
        .map(|shape| DuckdbQuery {
            label: shape.label.clone(),
            sql: shape.duckdb.clone(),
        })
        .collect();

    let mut rows = Vec::new();
    for shape in shapes {
        eprintln!("{label} {entries}: {}", shape.label);
        let url = format!("{base}{}", shape.path);
        for _ in 0..args.warmup {
            fetch(&client, &url, &token).await?;
        }
        let mut latencies = Vec::with_capacity(args.samples);
        let mut bytes = 0;
        let mut counted_from = String::new();
        let started = Instant::now();
        let budget = Duration::from_secs(args.max_seconds_per_query);
        for _ in 0..args.samples {
            if started.elapsed() > budget && latencies.len() >= 3 {
                break;
            }
            let sent = Instant::now();
            (bytes, counted_from) = fetch_timed(&client, &url, &token).await?;
            latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let ms = |p: f64| report::percentile(&latencies, p) as f64 / 1_000.0;
        rows.push(Row {
            backend: label,
            entries,
            label: shape.label,
            p50: ms(50.0),
            p95: ms(95.0),
            p99: ms(99.0),
            per_second: latencies.len() as f64 / elapsed,
            samples: latencies.len(),
            bytes,
            target_ms: shape.target_ms,
            counted_from,
        });
    }

    // The capture's burst (tens of thousands of entries in a few seconds) goes to the second
    // project: in the largest one it would crowd the current hour, which queries count from the
    // entries, for the next run on this database.
    let captured = if args.capture_seconds > 0 {
        let capture_project = 2;
        let token = capture::admin_token(
            &client,
            &server.url,
            auditlog_api::seed::synthetic::ADMIN_EMAIL,
            PASSWORD,
            capture_project,
        )
        .await?;
        capture::capture_on(
            backend,
            server.url.clone(),
            token,
            capture_project,
            args.clients,
            args.capture_seconds,
            args.rate,
        )
        .await
    } else {
        Vec::new()
    };
    let rss = server
        .peak_rss_mb()
        .map_or_else(|| "unknown".into(), |mb| format!("{mb:.0} MB"));
    let migrations = if migration_seconds > 2.0 {
        format!(" Pending migrations took {migration_seconds:.0} s before the run.")
    } else {
        String::new()
    };
    let note = format!(
        "{label} with {} entries: the server's peak resident memory over the whole run was {rss} (target ≤ 1 GB with the in-memory columns); it counted from them {columns_seconds:.1} s after it started.{migrations}",
        report::thousands(entries as f64)
    );
    Ok((rows, captured, note, duckdb_queries))
}

/// A shape's DuckDB statements, as `duckdb_compare.py` reads them.
#[derive(serde::Serialize)]
struct DuckdbQuery {
    label: String,
    sql: Vec<String>,
}

/// Runs `duckdb_compare.py` on the SQLite store: `(label, p50, p95)` in ms per query.
fn duckdb(
    sqlite: &std::path::Path,
    queries: &[DuckdbQuery],
    runs: usize,
) -> anyhow::Result<Vec<(String, f64, f64)>> {
    let tools = std::path::absolute("target/bench-tools/duckdb")?;
    if !tools.join("duckdb").exists() {
        eprintln!(
            "installing DuckDB's Python package from PyPI into {}",
            tools.display()
        );
        let installed = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&tools)
            .arg(format!("duckdb=={DUCKDB_VERSION}"))
            .status()?;
        anyhow::ensure!(installed.success(), "pip could not install duckdb");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/duckdb_compare.py");
    let request = serde_json::json!({
        "sqlite": sqlite,
        "duckdb": sqlite.with_extension("duckdb"),
        "runs": runs,
        "queries": queries,
    });
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .env("PYTHONPATH", &tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    std::io::Write::write_all(
        &mut child.stdin.take().context("DuckDB's input")?,
        request.to_string().as_bytes(),
    )?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "the DuckDB comparison failed");
    let results: Vec<Value> = serde_json::from_slice(&output.stdout)?;
    Ok(results
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap_or_default().to_string(),
                r["p50"].as_f64().unwrap_or(f64::NAN),
                r["p95"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect())
}

/// The DuckDB version `--compare` installs.
const DUCKDB_VERSION: &str = "2.0.1";

/// Each compared shape: ours (each backend) and DuckDB's p50 / p95, and how many times faster
/// our p95 is.
fn comparison(rows: &[Row], compared: &[(u64, String, f64, f64)]) -> String {
    let mut out = String::from(
        "| Entries | Query (largest project) | Auditlog SQLite p50 / p95 (ms) | Auditlog PostgreSQL p50 / p95 (ms) | DuckDB p50 / p95 (ms) | DuckDB p95 ÷ Auditlog's slower p95 |\n\
         |---:|---|---:|---:|---:|---:|\n",
    );
    for (entries, label, duck_p50, duck_p95) in compared {
        let ours = |backend: &str| {
            rows.iter()
                .find(|r| r.backend == backend && r.entries == *entries && &r.label == label)
        };
        let cell = |row: Option<&Row>| {
            row.map_or("—".to_string(), |r| {
                format!("{:.1} / {:.1}", r.p50, r.p95)
            })
        };
        let slowest = [ours("SQLite"), ours("PostgreSQL")]
            .into_iter()
            .flatten()
            .map(|r| r.p95)
            .fold(0.0_f64, f64::max);
        out.push_str(&format!(
            "| {} | {label} | {} | {} | {duck_p50:.1} / {duck_p95:.1} | {:.1}× |\n",
            report::thousands(*entries as f64),
            cell(ours("SQLite")),
            cell(ours("PostgreSQL")),
            duck_p95 / slowest.max(0.001),
        ));
    }
    out
}

/// `GET url` with the token; the body's length, read to the last byte. Anything but 200 fails.
async fn fetch(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<usize> {
    Ok(fetch_timed(client, url, token).await?.0)
}

/// [`fetch`], and where the server counted from (the first name of its `Server-Timing`).
async fn fetch_timed(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(usize, String)> {
    let response = client.get(url).bearer_auth(token).send().await?;
    let counted_from = response
        .headers()
        .get("server-timing")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or("")
        .to_string();
    let status = response.status();
    let body = response.bytes().await?;
    anyhow::ensure!(
        status == 200,
        "{url} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok((body.len(), counted_from))
}

/// The query shapes, with values picked from the data: the busiest actors, a cluster, an
/// application, a rare and a common search term.
async fn shapes(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Vec<Shape>> {
    let facets: Value = client
        .get(format!("{base}/facets?range=30d"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let values = |key: &str| -> Vec<String> {
        facets["dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["key"] == key)
            .and_then(|d| d["values"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v["value"].as_str().map(str::to_string))
            .collect()
    };
    let actors = values("actor");
    let users: Vec<&String> = actors.iter().filter(|a| a.starts_with("user:")).collect();
    let applications = values("application");
    let clusters = values("cluster");
    anyhow::ensure!(
        users.len() >= 3 && !applications.is_empty() && !clusters.is_empty(),
        "the largest project lacks users, applications or clusters"
    );
    // A user in the middle of the ranking; the least busy listed user's email is a rare term.
    let user = users[users.len() / 2];
    let rare_user_id = users[users.len() - 1].trim_start_matches("user:");
    let entry: Value = client
        .get(format!(
            "{base}?range=30d&actor=user:{rare_user_id}&limit=1"
        ))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let rare_term = entry["entries"][0]["actor"]["email"]
        .as_str()
        .context("the rare user's email")?
        .to_string();
    let three_actors = format!("actor={}&actor={}&actor={}", actors[0], users[0], users[1]);
    let application = &applications[applications.len() / 2];
    let cluster = &clusters[0];
    let deep = Cursor {
        direction: CursorDirection::Older,
        timestamp_micros: (chrono::Utc::now() - chrono::Duration::days(15)).timestamp_micros(),
        id: i64::MAX,
    };
    let list = 25.0;
    let shape = |label: &str, path: String, target_ms: f64| Shape {
        label: label.to_string(),
        path,
        target_ms,
        duckdb: Vec::new(),
    };
    // The same questions in DuckDB's SQL (`--compare`): conditions named by the facet they
    // belong to ("" for the search, which every facet applies).
    let now = chrono::Utc::now().timestamp_micros();
    let quote = |value: &str| format!("'{}'", value.replace('\'', "''"));
    let three = [&actors[0], users[0], users[1]]
        .map(|actor| quote(actor))
        .join(", ");
    let window = |days: i64| {
        let from = now - days * 86_400_000_000;
        (
            from,
            format!("project_id = 1 AND ts >= {from} AND ts < {now}"),
        )
    };
    let histogram_sql = |days: i64, conditions: &[(&str, String)]| {
        let (from, mut filter) = window(days);
        let width = auditlog_api::audit_log::histogram::bucket_seconds(from, now) * 1_000_000;
        for (_, condition) in conditions {
            filter.push_str(&format!(" AND ({condition})"));
        }
        vec![format!(
            "SELECT ts // {width} * {width} AS bucket, status_code // 100 AS class, count(*) \
             FROM audit_entries WHERE {filter} GROUP BY ALL"
        )]
    };
    let facets_sql = |days: i64, conditions: &[(&str, String)]| {
        [
            ("actor", "actor_key", None),
            ("method", "method", None),
            ("source", "source", None),
            ("action", "action", None),
            ("status", "status_code", None),
            ("resource_type", "resource_type", None),
            ("application", "resource_key", Some("application:%")),
            ("cluster", "resource_key", Some("cluster:%")),
        ]
        .into_iter()
        .map(|(facet, column, prefix)| {
            let (_, mut filter) = window(days);
            for (dimension, condition) in conditions {
                if *dimension != facet {
                    filter.push_str(&format!(" AND ({condition})"));
                }
            }
            if let Some(prefix) = prefix {
                filter.push_str(&format!(" AND resource_key LIKE '{prefix}'"));
            }
            format!(
                "SELECT {column}, count(*) AS n FROM audit_entries WHERE {filter} \
                 GROUP BY 1 ORDER BY n DESC LIMIT 25"
            )
        })
        .collect::<Vec<String>>()
    };
    let not_get = ("method", "method <> 'GET'".to_string());
    let navigation_sql = [
        not_get.clone(),
        ("action", "action NOT LIKE 'audit_log.%'".to_string()),
    ];
    let cli = ("source", "source = 'cli'".to_string());
    let actors_in = ("actor", format!("actor_key IN ({three})"));
    let client_errors = ("status", "status_code BETWEEN 400 AND 499".to_string());
    let deploy = (
        "",
        "search_text LIKE '%deploy%' OR action = 'application.deploy'".to_string(),
    );
    let with = |mut shape: Shape, duckdb: Vec<String>| {
        shape.duckdb = duckdb;
        shape
    };
    // The view the dashboard's navigation opens.
    let navigation = auditlog_shared::AuditQuery::navigation_default().to_query_string();
    Ok(vec![
        shape(
            "list: first page, default view (7 days)",
            String::new(),
            list,
        ),
        shape("list: first page, 30 days", "?range=30d".into(), list),
        shape(
            "list: deep page (cursor 15 days back), 30 days",
            format!("?range=30d&cursor={}", deep.encode()),
            list,
        ),
        shape("list: method ≠ GET, 7 days", "?method.not=GET".into(), list),
        shape(
            "list: navigation default (method ≠ GET, audit log's own hidden), 7 days",
            format!("?{navigation}"),
            list,
        ),
        shape(
            "list: actor (a user), 30 days",
            format!("?range=30d&actor={user}"),
            list,
        ),
        shape(
            "list: source = cli, 30 days",
            "?range=30d&source=cli".into(),
            list,
        ),
        shape(
            "list: action = application.deploy, 30 days",
            "?range=30d&action=application.deploy".into(),
            list,
        ),
        shape(
            "list: status = 5xx, 30 days",
            "?range=30d&status=5xx".into(),
            list,
        ),
        shape(
            "list: resource type = cluster, 30 days",
            "?range=30d&resource_type=cluster".into(),
            list,
        ),
        shape(
            "list: one application, 30 days",
            format!("?range=30d&application={application}"),
            list,
        ),
        shape(
            "list: one cluster, 30 days",
            format!("?range=30d&cluster={cluster}"),
            list,
        ),
        shape(
            "list: rare combination (5xx ∧ cluster ∧ action), 30 days",
            format!("?range=30d&status=5xx&cluster={cluster}&action=cluster.read"),
            list,
        ),
        shape(
            "search: rare term (an email), 30 days",
            format!(
                "?range=30d&q={}",
                auditlog_shared::encode_query_component(&rare_term)
            ),
            100.0,
        ),
        shape(
            "search: common term (`applications`), 30 days",
            "?range=30d&q=applications".into(),
            100.0,
        ),
        with(
            shape("histogram: 30 days", "/histogram?range=30d".into(), 100.0),
            histogram_sql(30, &[]),
        ),
        with(
            shape(
                "histogram: method ≠ GET, 30 days",
                "/histogram?range=30d&method.not=GET".into(),
                100.0,
            ),
            histogram_sql(30, std::slice::from_ref(&not_get)),
        ),
        with(
            shape(
                "histogram: navigation default, 7 days",
                format!("/histogram?{navigation}"),
                100.0,
            ),
            histogram_sql(7, &navigation_sql),
        ),
        with(
            shape(
                "histogram: navigation default, 30 days",
                format!("/histogram?range=30d&{navigation}"),
                100.0,
            ),
            histogram_sql(30, &navigation_sql),
        ),
        shape(
            "facets: the navigation default's chip names (method, action), 7 days",
            format!("/facets?{navigation}&facet=method&facet.limit=1"),
            50.0,
        ),
        with(
            shape(
                "histogram: method ≠ GET ∧ source = cli, 30 days",
                "/histogram?range=30d&method.not=GET&source=cli".into(),
                100.0,
            ),
            histogram_sql(30, &[not_get.clone(), cli.clone()]),
        ),
        with(
            shape(
                "histogram: 3 actors ∧ status 4xx, 30 days",
                format!("/histogram?range=30d&{three_actors}&status=4xx"),
                100.0,
            ),
            histogram_sql(30, &[actors_in.clone(), client_errors.clone()]),
        ),
        with(
            shape(
                "histogram: 3 actors ∧ search, 30 days",
                format!("/histogram?range=30d&{three_actors}&q=deploy"),
                100.0,
            ),
            histogram_sql(30, &[actors_in.clone(), deploy.clone()]),
        ),
        with(
            shape("facets: 30 days", "/facets?range=30d".into(), 100.0),
            facets_sql(30, &[]),
        ),
        with(
            shape(
                "facets: method ≠ GET, 7 days (every dimension)",
                "/facets?method.not=GET".into(),
                50.0,
            ),
            facets_sql(7, std::slice::from_ref(&not_get)),
        ),
        with(
            shape(
                "facets: method ≠ GET, 30 days (every dimension)",
                "/facets?range=30d&method.not=GET".into(),
                50.0,
            ),
            facets_sql(30, std::slice::from_ref(&not_get)),
        ),
        with(
            shape(
                "facets: navigation default, 30 days (every dimension)",
                format!("/facets?range=30d&{navigation}"),
                50.0,
            ),
            facets_sql(30, &navigation_sql),
        ),
        with(
            shape(
                "facets: 3 actors ∧ status 4xx, 30 days",
                format!("/facets?range=30d&{three_actors}&status=4xx"),
                100.0,
            ),
            facets_sql(30, &[actors_in.clone(), client_errors.clone()]),
        ),
        with(
            shape(
                "facets: 3 actors ∧ search, 30 days",
                format!("/facets?range=30d&{three_actors}&q=deploy"),
                100.0,
            ),
            facets_sql(30, &[actors_in.clone(), deploy.clone()]),
        ),
        shape(
            "export: 10,000 rows CSV",
            "/export.csv?range=30d".into(),
            200.0,
        ),
        shape(
            "export: 10,000 rows NDJSON",
            "/export.ndjson?range=30d".into(),
            200.0,
        ),
    ])
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Backend | Entries | Query (largest project) | p50 (ms) | p95 (ms) | p99 (ms) | Answers/s | Samples | Body (bytes) | Counted from | Target p95 (ms) | |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|\n",
    );
    for row in rows {
        let verdict = if row.p95 <= row.target_ms {
            "met".to_string()
        } else {
            format!("missed by {:.0} ms", row.p95 - row.target_ms)
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {:.0} | {} |\n",
            row.backend,
            report::thousands(row.entries as f64),
            row.label,
            row.p50,
            row.p95,
            row.p99,
            row.per_second,
            row.samples,
            report::thousands(row.bytes as f64),
            if row.counted_from.is_empty() {
                "—"
            } else {
                &row.counted_from
            },
            row.target_ms,
            verdict
        ));
    }
    out
}

fn section(
    table: &str,
    capture_table: &str,
    notes: &[String],
    environment: &Environment,
    args: &ScaleArgs,
) -> String {
    let mut out = String::from("## Scale\n\n");
    out.push_str(&format!(
        "Measured on {} with {} CPUs ({}), {} of memory, {}, SQLite {}{}; 1-minute load {} at \
         the start.\n\n",
        environment.date,
        environment.cpus,
        environment.cpu_model,
        environment.memory,
        environment.kernel,
        environment.sqlite,
        environment
            .postgres
            .as_ref()
            .map(|v| format!(", PostgreSQL {v}"))
            .unwrap_or_default(),
        environment.load,
    ));
    out.push_str(&format!(
        "```\ncargo build --release -p auditlog-api -p auditlog-bench\n{}\n```\n\n",
        command_line()
    ));
    out.push_str(&format!(
        "Each query: {} warm-up requests, then {} measured one after the other, over HTTP with an \
         admin API token, timed to the last byte of the answer.\n\n",
        args.warmup, args.samples
    ));
    out.push_str(table);
    if !capture_table.trim().is_empty() && capture_table.lines().count() > 2 {
        out.push_str("\nCapture on the same server and data:\n\n");
        out.push_str(capture_table);
    }
    out.push('\n');
    for note in notes {
        out.push_str(&format!("- {note}\n"));
    }
    out
}

fn command_line() -> String {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    format!("target/release/auditlog-bench {}", arguments.join(" "))
}
