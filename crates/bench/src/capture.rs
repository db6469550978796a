//! `capture`: what recording every request costs.
//!
//! For each backend the real server is built in-process (`Application::build` on 127.0.0.1:0)
//! on a fresh database: a SQLite file in a temporary directory, or a PostgreSQL database created
//! for the run and dropped after it. An admin, a project, an admin API token, a cluster and five
//! applications are made first. Then, one after the other:
//!
//! * **Throughput** (closed loop): `--clients` clients each send a request, wait for the answer,
//!   and send the next, for `--seconds` seconds. Reported: answers per second, and the latency
//!   under that saturation.
//! * **Latency at a fixed rate** (open loop): one request every `1/rate` seconds, whatever
//!   the answers, for `--seconds` seconds, at each of the `--rate` rates (1,000 and 250
//!   requests/s by default: the first can be more than a small machine sustains for writes, the
//!   second shows the added latency without queueing). Latency is measured from the moment a request is
//!   issued to the end of its response body. The difference between an audited request and the
//!   unaudited baseline (`GET /healthz`) is what the capture adds: authentication and role
//!   lookup, the resource's name, and the audit entry's group commit before the response goes.
//!
//! At the end the number of stored audit entries is compared with the number of audited answers:
//! every answer must have its entry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use auditlog_api::configuration::Settings;
use auditlog_api::db;
use auditlog_api::db::schema::audit_entries;
use auditlog_api::entry::checkpoint;
use auditlog_api::startup::Application;
use clap::{Args, ValueEnum};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use reqwest::header::{COOKIE, SET_COOKIE, USER_AGENT};
use serde_json::{json, Value};

use crate::report::{self, Environment, Measurement};

/// The storage engines measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Concurrent clients of the throughput runs.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Offered rates of the latency runs, in requests per second (comma-separated).
    #[arg(long = "rate", value_delimiter = ',', default_values_t = [1_000, 250])]
    pub rates: Vec<u32>,
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
    /// The requests to measure (comma-separated): `healthz` (the unaudited baseline), `read`
    /// (an audited read), `write` (an audited write).
    #[arg(
        long = "request",
        value_enum,
        value_delimiter = ',',
        default_values_t = [Target::Health, Target::ListApplications, Target::CreateCluster]
    )]
    pub requests: Vec<Target>,
    /// HTTP worker threads of the server; the server's default (CPU cores) when not given.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Write the results into the "Capture" section of this Markdown file (replacing it).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

pub async fn run(args: CaptureArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(args.seconds > 0, "--seconds must be at least 1");
    anyhow::ensure!(
        !args.rates.is_empty() && args.rates.iter().all(|r| (1..=100_000).contains(r)),
        "--rate takes rates from 1 to 100000 requests per second"
    );
    anyhow::ensure!(!args.backends.is_empty(), "name at least one backend");
    anyhow::ensure!(!args.requests.is_empty(), "name at least one request");
    let environment = Environment::detect(
        args.backends
            .contains(&Backend::Postgres)
            .then_some(args.postgres_url.as_str()),
    );

    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &backend in &args.backends {
        let (measured, note) = measure(backend, &args)
            .await
            .with_context(|| format!("measuring {}", backend.label()))?;
        rows.extend(measured);
        notes.push(note);
    }

    let table = report::table(&rows);
    println!("{table}");
    for note in &notes {
        println!("{note}");
    }
    if let Some(path) = &args.write {
        let section = report::capture_section(
            &table,
            &notes,
            &environment,
            &command_line(),
            &args_summary(&args),
        );
        report::write_section(path, "Capture", &section)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the Capture section of {}", path.display());
    }
    Ok(())
}

/// The command as it was run, for the report.
fn command_line() -> String {
    let arguments: Vec<String> = std::env::args()
        .skip(1)
        .map(|arg| {
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                format!("'{arg}'")
            } else {
                arg
            }
        })
        .collect();
    format!(
        "cargo run --release -p auditlog-bench -- {}",
        arguments.join(" ")
    )
}

fn args_summary(args: &CaptureArgs) -> String {
    format!(
        "{} clients for the throughput runs, {} requests/s for the latency runs, {} s per \
         measurement, server workers: {}",
        args.clients,
        sorted(&args.rates)
            .iter()
            .map(|r| report::thousands(f64::from(*r)))
            .collect::<Vec<_>>()
            .join(" and "),
        args.seconds,
        args.workers
            .map_or_else(|| "CPU cores (the default)".to_string(), |w| w.to_string())
    )
}

fn sorted(rates: &[u32]) -> Vec<u32> {
    let mut rates = rates.to_vec();
    rates.sort_unstable();
    rates
}

/// What a measurement sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    #[value(name = "healthz")]
    Health,
    #[value(name = "read")]
    ListApplications,
    #[value(name = "write")]
    CreateCluster,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Health => "`GET /healthz` (not audited)",
            Target::ListApplications => "`GET …/applications` (audited read)",
            Target::CreateCluster => "`POST …/clusters` (audited write)",
        }
    }

    fn audited(self) -> bool {
        self != Target::Health
    }
}

/// A running server with its fixtures, and what the clients need to call it.
struct Bench {
    client: reqwest::Client,
    url: String,
    project_id: i64,
    token: String,
    next_name: AtomicU64,
    /// Starts the names of the clusters the writes create, unique to the run (a reused database
    /// keeps the clusters of earlier runs, and a taken name would be a 409).
    name_prefix: String,
    /// Answers to audited requests (each must have its entry), fixtures included.
    audited_answers: AtomicU64,
    /// Audited requests the client stopped waiting for (the server may still have recorded
    /// them).
    audited_unanswered: AtomicU64,
}

impl Bench {
    fn request(&self, target: Target) -> reqwest::RequestBuilder {
        let project = format!("{}/api/v1/projects/{}", self.url, self.project_id);
        let request = match target {
            Target::Health => self.client.get(format!("{}/healthz", self.url)),
            Target::ListApplications => self
                .client
                .get(format!("{project}/applications"))
                .bearer_auth(&self.token),
            Target::CreateCluster => {
                let n = self.next_name.fetch_add(1, Ordering::Relaxed);
                self.client
                    .post(format!("{project}/clusters"))
                    .bearer_auth(&self.token)
                    .json(&json!({ "name": format!("{}-{n}", self.name_prefix), "region": "eu-west-1" }))
            }
        };
        request.header(USER_AGENT, "auditlog-bench/0.1")
    }

    /// Sends a request and reads the whole answer: its status, or why there is none.
    async fn send(
        &self,
        target: Target,
        request: reqwest::RequestBuilder,
    ) -> Result<u16, &'static str> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                if target.audited() {
                    self.audited_unanswered.fetch_add(1, Ordering::Relaxed);
                }
                return Err(if error.is_timeout() {
                    "no answer in 60 s"
                } else if error.is_connect() {
                    "connection failed"
                } else {
                    "no answer"
                });
            }
        };
        let status = response.status().as_u16();
        if target.audited() && status != 503 {
            self.audited_answers.fetch_add(1, Ordering::Relaxed);
        }
        match response.bytes().await {
            Ok(_) => Ok(status),
            Err(_) => Err("answer cut off"),
        }
    }

    /// After an overload, waits until an audited read is answered promptly again (at most
    /// three minutes), so that one measurement's backlog does not spill into the next.
    async fn settle(&self) -> Duration {
        let started = Instant::now();
        let mut prompt = 0;
        while prompt < 3 && started.elapsed() < Duration::from_secs(180) {
            let sent = Instant::now();
            let request = self.request(Target::ListApplications);
            match self.send(Target::ListApplications, request).await {
                Ok(200) if sent.elapsed() < Duration::from_millis(100) => prompt += 1,
                _ => {
                    prompt = 0;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        started.elapsed()
    }
}

/// The answers of one measurement.
struct Outcome {
    /// Latencies of successful answers, in microseconds.
    latencies: Vec<u64>,
    /// Failures by kind: a status code, or "no answer".
    failures: BTreeMap<String, u64>,
    elapsed: Duration,
}

impl Outcome {
    fn into_measurement(
        mut self,
        backend: Backend,
        target: Target,
        load: String,
        baseline: Option<&Measurement>,
    ) -> Measurement {
        self.latencies.sort_unstable();
        let percentile = |p: f64| report::percentile(&self.latencies, p) as f64 / 1_000.0;
        let (p50, p95, p99) = (percentile(50.0), percentile(95.0), percentile(99.0));
        Measurement {
            backend: backend.label(),
            request: target.label(),
            load,
            throughput: self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            p50_ms: p50,
            p95_ms: p95,
            p99_ms: p99,
            added_ms: baseline.map(|b| [p50 - b.p50_ms, p95 - b.p95_ms, p99 - b.p99_ms]),
            errors: self.failures.values().sum(),
            failures: self
                .failures
                .iter()
                .map(|(kind, count)| format!("{kind}: {}", report::thousands(*count as f64)))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Closed loop: each client sends its next request when the last one is answered.
async fn closed_loop(
    bench: &Arc<Bench>,
    target: Target,
    clients: usize,
    time: Duration,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + time;
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let bench = bench.clone();
        running.spawn(async move {
            let (mut latencies, mut failures) = (Vec::new(), Vec::new());
            while Instant::now() < deadline {
                let request = bench.request(target);
                let sent = Instant::now();
                match bench.send(target, request).await {
                    Ok(status) if (200..300).contains(&status) => {
                        latencies.push(micros(sent.elapsed()));
                    }
                    Ok(status) => failures.push(status.to_string()),
                    Err(reason) => failures.push(reason.to_string()),
                }
            }
            (latencies, failures)
        });
    }
    collect(running, started).await
}

/// The most requests the open loop keeps waiting at once. Past it the server is hopelessly
/// behind, and more sockets would only exhaust the process's file descriptors (the client and
/// the server share them here).
const MAX_OUTSTANDING: usize = 2_000;

/// Open loop: requests go out at a fixed rate, whether or not the earlier ones were answered.
async fn open_loop(bench: &Arc<Bench>, target: Target, rate: u32, time: Duration) -> Outcome {
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = u64::from(rate) * time.as_secs();
    let started = Instant::now();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let mut not_sent = 0;
    let mut running = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = started + period.mul_f64(n as f64);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        if outstanding.load(Ordering::Relaxed) >= MAX_OUTSTANDING {
            not_sent += 1;
            continue;
        }
        outstanding.fetch_add(1, Ordering::Relaxed);
        let request = bench.request(target);
        let issued = Instant::now();
        let (bench, outstanding) = (bench.clone(), outstanding.clone());
        running.spawn(async move {
            let answer = bench.send(target, request).await;
            outstanding.fetch_sub(1, Ordering::Relaxed);
            match answer {
                Ok(status) if (200..300).contains(&status) => {
                    (vec![micros(issued.elapsed())], Vec::new())
                }
                Ok(status) => (Vec::new(), vec![status.to_string()]),
                Err(reason) => (Vec::new(), vec![reason.to_string()]),
            }
        });
    }
    let mut outcome = collect(running, started).await;
    if not_sent > 0 {
        outcome.failures.insert(
            format!(
                "not sent, {} waiting",
                report::thousands(MAX_OUTSTANDING as f64)
            ),
            not_sent,
        );
    }
    outcome
}

/// What a client task reports: latencies of successes, and its failures (a status or a reason).
type Answers = (Vec<u64>, Vec<String>);

async fn collect(mut running: tokio::task::JoinSet<Answers>, started: Instant) -> Outcome {
    let mut outcome = Outcome {
        latencies: Vec::new(),
        failures: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = running.join_next().await {
        let failures = match joined {
            Ok((latencies, failures)) => {
                outcome.latencies.extend(latencies);
                failures
            }
            Err(_) => vec!["client task failed".to_string()],
        };
        for failure in failures {
            *outcome.failures.entry(failure).or_default() += 1;
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// Lets the server work off what is still queued before the next measurement.
async fn settle(bench: &Bench, label: &str) {
    let waited = bench.settle().await;
    if waited > Duration::from_secs(2) {
        eprintln!(
            "{label}: waited {:.0} s for the server to catch up",
            waited.as_secs_f64()
        );
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Runs every measurement on one backend; returns the rows and a line about the entries.
async fn measure(
    backend: Backend,
    args: &CaptureArgs,
) -> anyhow::Result<(Vec<Measurement>, String)> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let database = BenchDatabase::create(backend, dir.path(), &args.postgres_url)?;
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = database.url.clone();
    settings.data_dir = dir.path().join("data");
    settings.static_dir = dir.path().join("dist");
    settings.workers = args.workers;

    let application = Application::build(&settings).context("the server builds")?;
    let url = application.url();
    let server = tokio::spawn(application.run_until_stopped());
    let outcome = measure_server(backend, args, &settings, url).await;
    server.abort();
    let _ = server.await;
    drop(database);
    outcome
}

async fn measure_server(
    backend: Backend,
    args: &CaptureArgs,
    settings: &Settings,
    url: String,
) -> anyhow::Result<(Vec<Measurement>, String)> {
    let bench = Arc::new(prepare(settings, url).await?);
    let time = Duration::from_secs(args.seconds);
    let label = backend.label();

    // In the table's order, whatever the order given.
    let targets: Vec<Target> = [
        Target::Health,
        Target::ListApplications,
        Target::CreateCluster,
    ]
    .into_iter()
    .filter(|target| args.requests.contains(target))
    .collect();
    eprintln!("{label}: warming up");
    for &target in &targets {
        closed_loop(&bench, target, 8, Duration::from_secs(1)).await;
    }

    let mut rows = Vec::new();
    let mut signing_note = String::new();
    let clients = format!("{} clients", args.clients);
    for &target in &targets {
        eprintln!("{label}: {} with {clients}", target.label());
        let (signed_before, signing_before) = checkpoint::append_signing_cost();
        let started = std::time::Instant::now();
        let outcome = closed_loop(&bench, target, args.clients, time).await;
        let elapsed = started.elapsed();
        if target == Target::CreateCluster {
            let (signed_after, signing_after) = checkpoint::append_signing_cost();
            let signed = signed_after - signed_before;
            let signing = signing_after - signing_before;
            // Appends to one project's chain take turns (SQLite's write lock, PostgreSQL's
            // lock on the chain head): the share of the run they spent on signatures bounds what
            // signing takes from the write throughput.
            signing_note = format!(
                " Signing on the write path in the {clients} write run: {} heads signed, \
                 {:.1} µs each inside the appending transaction, {:.2} % of the run.",
                report::thousands(signed as f64),
                signing.as_secs_f64() * 1e6 / signed.max(1) as f64,
                signing.as_secs_f64() * 100.0 / elapsed.as_secs_f64(),
            );
        }
        rows.push(outcome.into_measurement(backend, target, clients.clone(), None));
        settle(&bench, label).await;
    }

    // The gentlest rate first: an overloaded run leaves a backlog behind it.
    for rate in sorted(&args.rates) {
        let load = format!("{} req/s", report::thousands(f64::from(rate)));
        let mut baseline = None;
        for &target in &targets {
            eprintln!("{label}: {} at {load}", target.label());
            let outcome = open_loop(&bench, target, rate, time).await;
            let row = outcome.into_measurement(backend, target, load.clone(), baseline.as_ref());
            if target == Target::Health {
                baseline = Some(row.clone());
            }
            rows.push(row);
            settle(&bench, label).await;
        }
    }

    let answers = bench.audited_answers.load(Ordering::Relaxed);
    let unanswered = bench.audited_unanswered.load(Ordering::Relaxed);
    let target = settings.database_target()?;
    let project_id = bench.project_id;
    let entries = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
        let pool = db::connect_and_migrate(&target, 1)?;
        let mut conn = pool.get()?;
        Ok(audit_entries::table
            .filter(audit_entries::project_id.eq(project_id))
            .count()
            .get_result(&mut conn)?)
    })
    .await??;
    let entries = u64::try_from(entries).unwrap_or(0);
    let count = |n: u64| report::thousands(n as f64);
    // Every answered request has its entry; one the client gave up on may have one too.
    let note = if (answers..=answers + unanswered).contains(&entries) {
        let gave_up = if unanswered == 0 {
            String::new()
        } else {
            format!(
                "; the client gave up on {} more, of which the server recorded {}",
                count(unanswered),
                count(entries - answers)
            )
        };
        format!(
            "{label}: every answered audited request has its entry ({} entries for {} \
             answers{gave_up}).",
            count(entries),
            count(answers)
        )
    } else {
        format!(
            "{label}: MISMATCH: {} audit entries for {} answered audited requests ({} \
             unanswered).",
            count(entries),
            count(answers),
            count(unanswered)
        )
    };
    Ok((rows, note + &signing_note))
}

/// Makes the admin (the operator bootstrap), then through the API an admin token, a cluster and
/// five applications.
async fn prepare(settings: &Settings, url: String) -> anyhow::Result<Bench> {
    const EMAIL: &str = "bench@example.com";
    const PASSWORD: &str = "benchmark password";
    let target = settings.database_target()?;
    let project_id = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
        let pool = db::connect_and_migrate(&target, 1)?;
        let mut conn = pool.get()?;
        let now = chrono::Utc::now().timestamp_micros();
        let setup = auditlog_api::admin::create_admin(
            &mut conn,
            EMAIL,
            "Bench Admin",
            PASSWORD,
            "Bench",
            now,
        )
        .map_err(|error| anyhow::anyhow!("cannot create the admin: {error}"))?;
        Ok(setup.project_id)
    })
    .await??;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let token = admin_token(&client, &url, EMAIL, PASSWORD, project_id).await?;
    let project = format!("{url}/api/v1/projects/{project_id}");
    let cluster: Value = expect(
        client
            .post(format!("{project}/clusters"))
            .bearer_auth(&token)
            .json(&json!({ "name": "bench-base", "region": "eu-west-1" })),
        201,
    )
    .await?;
    for n in 1..=5 {
        expect(
            client
                .post(format!("{project}/applications"))
                .bearer_auth(&token)
                .json(&json!({
                    "name": format!("app-{n}"),
                    "image": format!("registry.example/app-{n}:1.0.0"),
                    "cluster_id": cluster["id"],
                })),
            201,
        )
        .await?;
    }
    Ok(Bench {
        client,
        url,
        project_id,
        token,
        next_name: AtomicU64::new(0),
        name_prefix: format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        // The sign-in (recorded in the admin's project), the token, the cluster and the five
        // applications.
        audited_answers: AtomicU64::new(8),
        audited_unanswered: AtomicU64::new(0),
    })
}

/// Signs in with a password and creates an admin API token of the project through the API;
/// returns its secret.
pub(crate) async fn admin_token(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
    project_id: i64,
) -> anyhow::Result<String> {
    let signed_in = client
        .post(format!("{url}/api/v1/session"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await?;
    anyhow::ensure!(
        signed_in.status() == 200,
        "signing in answered {}",
        signed_in.status()
    );
    let cookie = signed_in
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with("auditlog_session="))
        .context("no session cookie")?
        .to_string();
    let session: Value = signed_in.json().await?;
    let csrf = session["csrf_token"]
        .as_str()
        .context("no CSRF token")?
        .to_string();
    let created: Value = expect(
        client
            .post(format!("{url}/api/v1/projects/{project_id}/tokens"))
            .header(COOKIE, cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({ "name": format!("bench-{}", uuid::Uuid::new_v4().simple()), "role": "admin" })),
        201,
    )
    .await?;
    Ok(created["secret"]
        .as_str()
        .context("no token secret")?
        .to_string())
}

/// Capture on a running server with data: audited reads and writes by `clients` clients, and
/// the latency an audited read adds over `GET /healthz` at `rate` requests per second.
pub(crate) async fn capture_on(
    backend: Backend,
    url: String,
    token: String,
    project_id: i64,
    clients: usize,
    seconds: u64,
    rate: u32,
) -> Vec<Measurement> {
    let bench = Arc::new(Bench {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client"),
        url,
        project_id,
        token,
        next_name: AtomicU64::new(0),
        name_prefix: format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        audited_answers: AtomicU64::new(0),
        audited_unanswered: AtomicU64::new(0),
    });
    let label = backend.label();
    let time = Duration::from_secs(seconds);
    let mut rows = Vec::new();
    let load = format!("{clients} clients");
    for target in [Target::ListApplications, Target::CreateCluster] {
        closed_loop(&bench, target, clients, Duration::from_secs(1)).await;
        eprintln!("{label}: {} with {load}", target.label());
        let outcome = closed_loop(&bench, target, clients, time).await;
        rows.push(outcome.into_measurement(backend, target, load.clone(), None));
        settle(&bench, label).await;
    }
    let load = format!("{} req/s", report::thousands(f64::from(rate)));
    let mut baseline = None;
    for target in [Target::Health, Target::ListApplications] {
        eprintln!("{label}: {} at {load}", target.label());
        let outcome = open_loop(&bench, target, rate, time).await;
        let row = outcome.into_measurement(backend, target, load.clone(), baseline.as_ref());
        if target == Target::Health {
            baseline = Some(row.clone());
        }
        rows.push(row);
        settle(&bench, label).await;
    }
    rows
}

async fn expect(request: reqwest::RequestBuilder, status: u16) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let got = response.status().as_u16();
    let body = response.text().await?;
    anyhow::ensure!(got == status, "answered {got} instead of {status}: {body}");
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A fresh database for one backend's run; a PostgreSQL one is dropped when this is.
pub(crate) struct BenchDatabase {
    pub(crate) url: String,
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    pub(crate) fn create(
        backend: Backend,
        dir: &std::path::Path,
        admin_url: &str,
    ) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => Ok(BenchDatabase {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                postgres: None,
            }),
            Backend::Postgres => {
                let mut admin = PgConnection::establish(admin_url)
                    .with_context(|| format!("PostgreSQL is unreachable at {admin_url}"))?;
                let name = format!("auditlog_bench_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .context("cannot create the benchmark database")?;
                let (base, _) = admin_url
                    .rsplit_once('/')
                    .context("the PostgreSQL URL names no database")?;
                Ok(BenchDatabase {
                    url: format!("{base}/{name}"),
                    postgres: Some((admin_url.to_string(), name)),
                })
            }
        }
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// The SQLite library's version (the one linked into the server).
pub fn sqlite_version() -> Option<String> {
    let mut conn = SqliteConnection::establish(":memory:").ok()?;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "sqlite_version()",
    ))
    .get_result(&mut conn)
    .ok()
}

/// The PostgreSQL server's version.
pub fn postgres_version(url: &str) -> Option<String> {
    let mut conn = PgConnection::establish(url).ok()?;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('server_version')",
    ))
    .get_result(&mut conn)
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_run() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: CaptureArgs,
        }
        let Wrapper { args } = Wrapper::parse_from(["capture"]);
        assert_eq!(args.clients, 32);
        assert_eq!(args.rates, vec![1_000, 250]);
        assert_eq!(args.seconds, 10);
        assert_eq!(args.backends, vec![Backend::Sqlite, Backend::Postgres]);
        let Wrapper { args } = Wrapper::parse_from(["capture", "--backend", "postgres"]);
        assert_eq!(args.backends, vec![Backend::Postgres]);
    }
}
