//! `replica`: the dashboard's audit-log reads while another server captures a steady load, served
//! by the server on the primary alone, and by a second server whose audit-log reads go to a
//! PostgreSQL streaming standby (`--read-database-url`).
//!
//! Both PostgreSQL servers are made here (initdb, then `pg_basebackup -R` for the standby) on
//! ports of their own, and removed at the end. The history is generated into the primary before
//! the standby is copied from it; capture then streams to the standby as it would in production.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use diesel::prelude::*;

use auditlog_api::configuration::Settings;
use auditlog_api::db::{self, DatabaseTarget};
use auditlog_api::seed::synthetic::{self, SeedOptions};
use auditlog_api::startup::Application;
use auditlog_tests::postgres_cluster::Cluster;

use crate::report::percentile;

const PASSWORD: &str = "bench-password";
/// Shared by both servers: a session cookie or token one issues is good at the other.
const SECRET_KEY: &str = "replica-benchmark-secret-key-0123456789abcdef0123456789";

#[derive(Debug, Args)]
pub struct ReplicaArgs {
    /// Entries in the generated 30 days of history.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Audited requests per second sent to the capturing server during the loaded runs.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Measured requests per view and configuration (after 5 warm-up requests).
    #[arg(long, default_value_t = 60)]
    pub samples: usize,
}

pub async fn run(args: ReplicaArgs) -> anyhow::Result<()> {
    let primary = tokio::task::spawn_blocking(Cluster::primary).await?;
    {
        let mut admin = primary.connect("postgres");
        diesel::sql_query("CREATE DATABASE auditlog").execute(&mut admin)?;
    }
    let primary_url = primary.url("auditlog");
    let (project_id, project_entries) = {
        let url = primary_url.clone();
        let entries = args.entries;
        tokio::task::spawn_blocking(move || -> anyhow::Result<(i64, u64)> {
            let target = DatabaseTarget::parse(&url)?;
            let pool = db::connect_and_migrate(&target, 2)?;
            let mut conn = pool.get()?;
            let settings = settings_for(&url, None, &tempfile::tempdir()?.keep());
            let signer = auditlog_api::entry::checkpoint::ChainSigner::from_settings(
                &settings,
                &settings.resolve_secret_key()?,
            )?;
            eprintln!("generating {entries} entries on the primary");
            let summary = synthetic::seed(
                &mut conn,
                &SeedOptions {
                    entries,
                    projects: 200,
                    days: 30,
                    end: chrono::Utc::now().timestamp_micros(),
                    seed: 1,
                    password: PASSWORD.into(),
                },
                &signer,
            )?;
            diesel::sql_query("ANALYZE").execute(&mut conn)?;
            Ok((summary.largest_project_id, summary.largest_project_entries))
        })
        .await??
    };
    eprintln!("copying the standby");
    let standby = {
        let primary = &primary;
        std::thread::scope(|scope| scope.spawn(|| Cluster::standby_of(primary)).join())
            .map_err(|_| anyhow::anyhow!("pg_basebackup failed"))?
    };

    let dir = tempfile::tempdir()?;
    let writer_settings = settings_for(&primary_url, None, &dir.path().join("writer"));
    let reader_settings = settings_for(
        &primary_url,
        Some(standby.url("auditlog")),
        &dir.path().join("reader"),
    );
    let writer = Application::build(&writer_settings).context("the capturing server")?;
    let reader = Application::build(&reader_settings).context("the replica-reading server")?;
    let (writer_url, reader_url) = (writer.url(), reader.url());
    let writer_task = tokio::spawn(writer.run_until_stopped());
    let reader_task = tokio::spawn(reader.run_until_stopped());

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()?;
    let token = crate::capture::admin_token(
        &client,
        &writer_url,
        synthetic::ADMIN_EMAIL,
        PASSWORD,
        project_id,
    )
    .await?;
    let views = views(project_id);

    println!(
        "Busiest project: {} entries of {}; capture load: {} audited requests/s (`GET …/applications`) on the primary's server.\n",
        crate::report::thousands(project_entries as f64),
        crate::report::thousands(args.entries as f64),
        crate::report::thousands(f64::from(args.rate)),
    );
    println!("| Reads served by | Capture load | View | p50 (ms) | p95 (ms) | p99 (ms) |");
    println!("|---|---|---|---:|---:|---:|");
    let runs: [(&str, &str, bool); 3] = [
        ("the primary's server", &writer_url, false),
        ("the primary's server", &writer_url, true),
        ("a second server reading the standby", &reader_url, true),
    ];
    for (served_by, base, loaded) in runs {
        let load = loaded.then(|| Load::start(&writer_url, &token, project_id, args.rate));
        if loaded {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        for (label, path) in &views {
            let timings = read_timings(&client, base, path, &token, args.samples).await?;
            println!(
                "| {served_by} | {} | {label} | {:.1} | {:.1} | {:.1} |",
                if loaded {
                    format!("{}/s", args.rate)
                } else {
                    "none".into()
                },
                percentile(&timings, 50.0) as f64 / 1000.0,
                percentile(&timings, 95.0) as f64 / 1000.0,
                percentile(&timings, 99.0) as f64 / 1000.0,
            );
        }
        if let Some(load) = load {
            let (sent, failed) = load.stop().await;
            eprintln!("capture load: {sent} requests sent, {failed} not answered 200");
        }
    }
    writer_task.abort();
    reader_task.abort();
    drop(standby);
    drop(primary);
    Ok(())
}

fn settings_for(url: &str, replica: Option<String>, data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = url.into();
    settings.read_database_urls = replica.into_iter().collect();
    settings.data_dir = data_dir.to_path_buf();
    settings.static_dir = data_dir.join("dist");
    settings.secret_key = Some(SECRET_KEY.parse().expect("a valid secret key"));
    settings
}

/// The views the dashboard opens on the busiest project: its navigation default (methods other
/// than GET, the audit log's own reads hidden) over 7 days.
fn views(project_id: i64) -> Vec<(&'static str, String)> {
    let base = format!("/api/v1/projects/{project_id}/audit-logs");
    let filter = "method.not=GET&action.not=audit_log.*&range=7d";
    vec![
        ("list", format!("{base}?{filter}")),
        ("histogram", format!("{base}/histogram?{filter}")),
        ("facets", format!("{base}/facets?{filter}")),
    ]
}

/// Sequential requests through one kept-alive connection, as a browser sends them; microseconds
/// to the last byte, sorted.
async fn read_timings(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    samples: usize,
) -> anyhow::Result<Vec<u64>> {
    let mut timings = Vec::with_capacity(samples);
    for round in 0..samples + 5 {
        let started = Instant::now();
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        anyhow::ensure!(status == 200, "{path} answered {status}");
        if round >= 5 {
            timings.push(started.elapsed().as_micros() as u64);
        }
    }
    timings.sort_unstable();
    Ok(timings)
}

/// An open-loop load of audited requests at a fixed rate, until stopped.
struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Load {
    fn start(base: &str, token: &str, project_id: i64, rate: u32) -> Load {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let url = format!("{base}/api/v1/projects/{project_id}/applications");
        let token = token.to_string();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        let (sent_count, failed_count) = (sent.clone(), failed.clone());
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.changed() => break,
                }
                let (client, url, token) = (client.clone(), url.clone(), token.clone());
                let failed = failed_count.clone();
                sent_count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let ok = client
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .is_ok_and(|response| response.status() == 200);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        Load {
            stop,
            task,
            sent,
            failed,
        }
    }

    async fn stop(self) -> (u64, u64) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
