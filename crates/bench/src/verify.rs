//! `verify`: how long `GET …/audit-logs/verify?range=30d` takes on the busiest project of a large
//! generated history — the hash chain walk plus the check against the signed heads and
//! checkpoints — streamed (`Accept: application/x-ndjson`) as the CLI asks for it, through one
//! kept-alive connection.
//!
//! The history is the one `scale` generates (`auditlog-server bench-seed`, reused with
//! `--reuse`); the release server runs as its own process on it. Each sample is one whole
//! verification, to the report line; the server's peak resident memory is read at the end, to
//! show that the walk is streamed rather than loaded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use auditlog_shared::wire::{VerifyLine, VerifyReport};
use clap::Args;

use crate::capture::{self, Backend};
use crate::report::{self, Environment};
use crate::scale::{self, Server, StoreArgs, PASSWORD};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Whole verifications measured per store (after one unmeasured one).
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Write the results into the "Verification" section of this Markdown file (replacing it).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.samples > 0, "--samples must be at least 1");
    let server_binary = std::env::current_exe()?
        .parent()
        .context("the benchmark's directory")?
        .join("auditlog-server");
    anyhow::ensure!(
        server_binary.exists(),
        "{} is missing: build it with `cargo build --release -p auditlog-api`",
        server_binary.display()
    );
    let environment = Environment::detect(
        args.store
            .backends
            .contains(&Backend::Postgres)
            .then_some(args.store.postgres_url.as_str()),
    );
    std::fs::create_dir_all(&args.store.data_dir)?;

    let mut lines = Vec::new();
    for &entries in &args.store.entries {
        for &backend in &args.store.backends {
            let label = backend.label();
            let (url, seeded) =
                scale::prepare_database(&server_binary, backend, entries, &args.store)
                    .await
                    .with_context(|| format!("preparing {label} with {entries} entries"))?;
            if let Some(note) = seeded {
                lines.push(format!("- {note}"));
            }
            let migrated = tokio::process::Command::new(&server_binary)
                .args(["--database-url", &url, "migrate"])
                .stdout(std::process::Stdio::null())
                .status()
                .await?;
            anyhow::ensure!(migrated.success(), "migrating {url} failed");
            let server = Server::start(&server_binary, &url).await?;
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .tcp_nodelay(true)
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
            let verify_url = format!(
                "{}/api/v1/projects/{project_id}/audit-logs/verify?range=30d",
                server.url
            );
            eprintln!("{label} {entries}: warming up");
            verify_once(&client, &verify_url, &token).await?;
            let mut seconds = Vec::new();
            let mut cpu_seconds = Vec::new();
            let mut checked = 0;
            for sample in 0..args.samples {
                let started = Instant::now();
                let cpu_before = server.cpu_seconds();
                let report = verify_once(&client, &verify_url, &token).await?;
                let elapsed = started.elapsed().as_secs_f64();
                if let (Some(before), Some(after)) = (cpu_before, server.cpu_seconds()) {
                    cpu_seconds.push(after - before);
                }
                anyhow::ensure!(report.ok, "the generated chain does not verify: {report:?}");
                checked = report.checked;
                eprintln!(
                    "{label} {entries}: sample {}: {checked} entries in {elapsed:.2} s",
                    sample + 1
                );
                seconds.push(elapsed);
            }
            seconds.sort_by(f64::total_cmp);
            let median = seconds[seconds.len() / 2];
            cpu_seconds.sort_by(f64::total_cmp);
            let cpu = cpu_seconds.get(cpu_seconds.len() / 2).map_or_else(
                || "unknown".into(),
                |cpu| {
                    format!(
                        "{cpu:.2} s ({:.1} µs per entry)",
                        cpu * 1e6 / checked.max(1) as f64
                    )
                },
            );
            let rss = server
                .peak_rss_mb()
                .map_or_else(|| "unknown".into(), |mb| format!("{mb:.0} MB"));
            lines.push(format!(
                "- {label}, {} entries in all: the busiest project's 30 days, {} entries, verified in {} s (median of {}; {}), {} entries/s; the server's processor time per verification {cpu} (median); its peak resident memory {rss}.",
                report::thousands(entries as f64),
                report::thousands(checked as f64),
                format_args!("{median:.2}"),
                seconds.len(),
                seconds
                    .iter()
                    .map(|s| format!("{s:.2} s"))
                    .collect::<Vec<_>>()
                    .join(", "),
                report::thousands(checked as f64 / median),
            ));
        }
    }
    let text = lines.join("\n");
    println!("{text}");
    if let Some(path) = &args.write {
        let section = format!(
            "## Verification\n\n\
             The chain walk plus the signature checks (`GET …/audit-logs/verify?range=30d`, \
             streamed as `auditlog logs verify` asks for it) on the busiest project, release \
             server, through one kept-alive connection.\n\n```sh\n{}\n```\n\n\
             Measured {} on {} CPUs (`nproc`), {}, load average {} at the start; SQLite {}{}.\n\n\
             {text}\n",
            command_line(),
            environment.date,
            environment.cpus,
            environment.cpu_model,
            environment.load,
            environment.sqlite,
            environment
                .postgres
                .as_ref()
                .map_or_else(String::new, |v| format!(", PostgreSQL {v}")),
        );
        report::write_section(path, "Verification", &section)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the Verification section of {}", path.display());
    }
    Ok(())
}

/// One streamed verification, read to its report line.
async fn verify_once(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<VerifyReport> {
    let response = client
        .get(url)
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "application/x-ndjson")
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    anyhow::ensure!(status == 200, "{url} answered {status}: {body}");
    let last = body.lines().last().context("an empty answer")?;
    match serde_json::from_str::<VerifyLine>(last)? {
        VerifyLine::Report(report) => Ok(report),
        VerifyLine::Progress(_) => anyhow::bail!("the verification ended without a report"),
    }
}

fn command_line() -> String {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p auditlog-bench -- {}",
        arguments.join(" ")
    )
}
