//! `auditlog-bench web`: the web app's budgets (issue "The web app"): the release `.wasm` size,
//! how soon the audit log page shows its first rows after navigation, and how long a filter
//! change takes to re-render once its response has arrived — in headless Chromium, on the demo
//! history, served by the real server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use auditlog_api::configuration::Settings;
use auditlog_api::seed::demo::{self, DemoOptions};
use auditlog_api::startup::Application;
use auditlog_tests::browser::Browser;
use fantoccini::Locator;

use crate::report::{self, Environment};

#[derive(Debug, clap::Args)]
pub struct WebArgs {
    /// Page loads and filter changes to measure.
    #[arg(long, default_value_t = 15)]
    pub repeat: usize,
    /// The built web app (Trunk's `dist/`).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Replace the "Web app" section of this Markdown file with the results.
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// Resolves with `performance.now()` (milliseconds since navigation started) as soon as the
/// table shows a row.
const FIRST_ROWS: &str = r#"
const done = arguments[arguments.length - 1];
const seen = () => document.querySelector('[data-test=entry]');
if (seen()) { done(performance.now()); return; }
const observer = new MutationObserver(() => {
  if (seen()) { observer.disconnect(); done(performance.now()); }
});
observer.observe(document.body, { childList: true, subtree: true });
"#;

/// Clicks a date-range preset and resolves with [milliseconds until the list response ended,
/// milliseconds from then until the table's last change].
const FILTER_CHANGE: &str = r#"
const [preset, done] = [arguments[0], arguments[arguments.length - 1]];
const table = document.querySelector('.table-card');
let lastChange = 0;
const observer = new MutationObserver(() => { lastChange = performance.now(); });
observer.observe(table, { childList: true, subtree: true, characterData: true });
const start = performance.now();
document.querySelector('[data-test=range-' + preset + ']').click();
const isList = (e) => /\/audit-logs\?/.test(e.name) && e.startTime >= start && e.responseEnd > 0;
const tick = () => {
  const entry = performance.getEntriesByType('resource').find(isList);
  if (entry && lastChange > entry.responseEnd) {
    setTimeout(() => {
      observer.disconnect();
      done([entry.responseEnd - start, lastChange - entry.responseEnd]);
    }, 100);
    return;
  }
  if (performance.now() - start > 15000) { observer.disconnect(); done(null); return; }
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"#;

pub async fn run(args: WebArgs) -> anyhow::Result<()> {
    let dist = std::fs::canonicalize(&args.dist).with_context(|| {
        format!(
            "no built web app at {}: run `trunk build --release`",
            args.dist.display()
        )
    })?;
    let wasm = std::fs::read_dir(&dist)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .context("the built web app has no .wasm file")?;
    let wasm_bytes = std::fs::read(&wasm)?;
    let gzip_bytes = gzip_size(&wasm)?;

    let dir = tempfile::tempdir()?;
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = format!("sqlite://{}", dir.path().join("auditlog.db").display());
    settings.data_dir = dir.path().join("data");
    settings.static_dir = dist.clone();
    eprintln!("seeding the demo history…");
    let summary = demo::seed(&settings, &DemoOptions::default()).await?;
    let application = Application::build(&settings)?;
    let url = application.url();
    tokio::spawn(application.run_until_stopped());

    let browser = Browser::start().await;
    browser.client.goto(&format!("{url}/sign-in")).await?;
    browser
        .client
        .wait()
        .for_element(Locator::Css("input[name=email]"))
        .await?
        .send_keys(&summary.admin_email)
        .await?;
    browser
        .client
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(&summary.admin_password)
        .await?;
    browser
        .client
        .find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-test=project-switcher]"))
        .await?;

    // The view the navigation opens.
    let page = format!(
        "{url}/projects/{}/security/audit-logs?{}",
        summary.project_id,
        auditlog_shared::AuditQuery::navigation_default().to_query_string()
    );
    let mut first_rows = Vec::new();
    let mut network = Vec::new();
    let mut render = Vec::new();
    for round in 0..args.repeat {
        browser.client.goto(&page).await?;
        let at = browser.client.execute_async(FIRST_ROWS, vec![]).await?;
        first_rows.push(at.as_f64().context("no first-row time")?);
        for preset in ["24h", "30d"] {
            let result = browser
                .client
                .execute_async(FILTER_CHANGE, vec![serde_json::json!(preset)])
                .await?;
            let pair = result
                .as_array()
                .with_context(|| format!("round {round}: the {preset} change did not render"))?;
            network.push(pair[0].as_f64().unwrap_or(0.0));
            render.push(pair[1].as_f64().unwrap_or(0.0));
        }
    }
    browser.close().await;

    let environment = Environment::detect(None);
    let section = format!(
        "## Web app\n\n\
         Budgets of the web app (release build: `wasm-opt -Oz`, LTO, `erase_components`) in \
         headless Chromium on this machine, against the release server on SQLite holding the \
         demo history ({} entries).\n\n\
         ```sh\ntrunk build --release\ncargo run --release -p auditlog-bench -- web --write BENCHMARKS.md\n```\n\n\
         Measured {} on {} CPUs, {}, {} RAM, load average {} at the start.\n\n\
         | Measure | Budget | p50 | p95 | max | Samples |\n|---|---|---:|---:|---:|---:|\n\
         | Release `.wasm` size | ≤ 1 MB raw, ≤ 350 KB gzip | {} bytes raw, {} bytes gzip (-9) | | | 1 |\n\
         | First rows after navigation (ms) | ≤ 1,000 | {:.0} | {:.0} | {:.0} | {} |\n\
         | Filter change: list response ends (ms after the click) | — | {:.0} | {:.0} | {:.0} | {} |\n\
         | Filter change: re-render after the response (ms) | ≤ 300 | {:.0} | {:.0} | {:.0} | {} |\n\n\
         *First rows* is `performance.now()` when the table's first row appears after a full \
         page load of the navigation's view, `…/security/audit-logs?method.not=GET&action.not=audit_log.*` \
         (WASM download, start-up, the \
         list request and rendering). *Re-render* is the time from the end of the list \
         response to the table's last DOM change after clicking a date-range preset.\n",
        summary.entries,
        environment.date,
        environment.cpus,
        environment.cpu_model,
        environment.memory,
        environment.load,
        report::thousands(wasm_bytes.len() as f64),
        report::thousands(gzip_bytes as f64),
        quantile(&first_rows, 0.5),
        quantile(&first_rows, 0.95),
        quantile(&first_rows, 1.0),
        first_rows.len(),
        quantile(&network, 0.5),
        quantile(&network, 0.95),
        quantile(&network, 1.0),
        network.len(),
        quantile(&render, 0.5),
        quantile(&render, 0.95),
        quantile(&render, 1.0),
        render.len(),
    );
    println!("{section}");
    if let Some(path) = args.write {
        report::write_section(&path, "Web app", &section)?;
        eprintln!("wrote the Web app section of {}", path.display());
    }
    Ok(())
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The size of the file compressed with `gzip -9`.
fn gzip_size(path: &std::path::Path) -> anyhow::Result<usize> {
    let output = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .context("gzip runs")?;
    anyhow::ensure!(output.status.success(), "gzip failed");
    Ok(output.stdout.len())
}
