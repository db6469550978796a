//! `auditlog logs list` and `auditlog logs export` against a real server: dashboard URLs and
//! filter flags become one audit query, pages and exports come back as the server wrote them.

use std::path::Path;
use std::process::{Command, Output};

use auditlog_shared::wire::{AuditEntry, AuditPage, Role};
use auditlog_tests::{binary, sign_in, AdminAccount, Backend};
use reqwest::StatusCode;

use crate::{runtime, RunningServer};

/// The `auditlog` binary with its own configuration directory and no `AUDITLOG_URL` from the
/// environment.
struct Cli {
    config_dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            config_dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Runs `auditlog` in `directory` (the test's own working directory when `None`).
    fn run_in(&self, directory: Option<&Path>, args: &[&str]) -> Output {
        let mut command = Command::new(binary("auditlog"));
        command
            .args(args)
            .env("AUDITLOG_CONFIG_DIR", self.config_dir.path())
            .env_remove("AUDITLOG_URL");
        if let Some(directory) = directory {
            command.current_dir(directory);
        }
        command.output().expect("auditlog runs")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(None, args)
    }

    /// Runs a command that must succeed and returns its standard output.
    fn ok_in(&self, directory: Option<&Path>, args: &[&str]) -> String {
        let output = self.run_in(directory, args);
        assert!(
            output.status.success(),
            "`auditlog {}` failed with {}:\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(None, args)
    }

    /// Runs a command that must fail and returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "`auditlog {}` succeeded but should have failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// `auditlog --json logs list <args>`, read as a page.
    fn page(&self, args: &[&str]) -> AuditPage {
        let mut all_args = vec!["--json", "logs", "list"];
        all_args.extend_from_slice(args);
        let printed = self.ok(&all_args);
        serde_json::from_str(&printed).unwrap_or_else(|error| {
            panic!("`logs list --json` printed no page ({error}): {printed}")
        })
    }
}

/// The entries' `(method, action, status)`, sorted.
fn summary(entries: &[AuditEntry]) -> Vec<(String, String, u16)> {
    let mut summary: Vec<_> = entries
        .iter()
        .map(|entry| (entry.method.clone(), entry.action.clone(), entry.status))
        .collect();
    summary.sort();
    summary
}

/// The names of the files in a directory.
fn file_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .expect("the directory is readable")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn logs_list_and_export_read_dashboard_urls_and_filter_flags() {
    let static_dir = tempfile::tempdir().unwrap();
    let admin = AdminAccount::ada();
    let (running, project_id) =
        RunningServer::with_admin(Backend::Sqlite, static_dir.path().to_path_buf(), &admin);
    let client = reqwest::Client::new();
    let session = runtime()
        .block_on(async { sign_in(&client, running.url(), &admin.email, &admin.password).await });
    let secret = runtime()
        .block_on(session.create_token(&client, project_id, "cli-admin", Role::Admin))
        .secret;
    let cli = Cli::new();
    cli.ok(&["login", "--url", running.url(), "--token", &secret]);
    let downloads = tempfile::tempdir().expect("a temporary directory");

    // Export is off until a project admin turns it on; the refusal leaves no file behind.
    let refused_path = downloads.path().join("refused.csv");
    let stderr = cli.fails(&[
        "logs",
        "export",
        "--format",
        "csv",
        "--output",
        refused_path.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("(403)") && stderr.contains("disabled"),
        "{stderr}"
    );
    assert_eq!(file_names(downloads.path()), Vec::<String>::new());

    let enabled = runtime().block_on(async {
        session
            .authorize(client.patch(session.project_url(project_id, "/settings")))
            .json(&serde_json::json!({ "audit_export_enabled": true }))
            .send()
            .await
            .expect("the settings request is answered")
    });
    assert_eq!(enabled.status(), StatusCode::OK, "enabling export failed");

    // A few requests by the CLI: writes that succeed, one that fails, and reads.
    cli.ok(&["apps", "create", "web", "--image", "registry/web:1"]);
    cli.ok(&["clusters", "create", "c1", "--region", "eu"]);
    let missing = cli.fails(&["apps", "deploy", "999999"]);
    assert!(missing.contains("(404)"), "{missing}");
    cli.ok(&["apps", "list"]);

    // A dashboard URL pasted whole: only its query part counts, and only writes come back.
    let dashboard_url = format!(
        "{}/projects/{project_id}/security/audit-logs?method.not=GET&range=24h",
        running.url()
    );
    let writes = cli.page(&["--query", &dashboard_url]);
    assert!(
        writes.entries.iter().all(|entry| entry.method != "GET"),
        "{:?}",
        summary(&writes.entries)
    );
    assert_eq!(writes.next, None);
    let row =
        |method: &str, action: &str, status: u16| (method.to_string(), action.to_string(), status);
    assert_eq!(
        summary(&writes.entries),
        vec![
            row("PATCH", "project.settings.update", 200),
            row("POST", "api_token.create", 201),
            row("POST", "application.create", 201),
            row("POST", "application.deploy", 404),
            row("POST", "cluster.create", 201),
            row("POST", "session.sign_in", 200),
        ]
    );

    // Filter flags: successful POSTs only.
    let posts = cli.page(&["--method", "POST", "--not-status", "4xx"]);
    assert_eq!(
        summary(&posts.entries),
        vec![
            row("POST", "api_token.create", 201),
            row("POST", "application.create", 201),
            row("POST", "cluster.create", 201),
            row("POST", "session.sign_in", 200),
        ]
    );
    let table = cli.ok(&["logs", "list", "--method", "POST", "--not-status", "4xx"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TIME", "ACTOR", "METHOD", "STATUS", "RESOURCE", "ACTION"],
        "{table}"
    );
    assert!(
        table.contains("cli-admin (token) [cli]")
            && table.contains("application/web")
            && table.contains("Create application")
            && !table.contains("404"),
        "{table}"
    );
    assert_eq!(lines.last(), Some(&"Showing 4 of 4 entries"), "{table}");

    // A page that has a next one ends with the command that prints it.
    let first = cli.ok(&["logs", "list", "--not-method", "GET", "--limit", "2"]);
    assert!(first.contains("Showing 2 of 6 entries"), "{first}");
    let hint = first
        .lines()
        .find_map(|line| line.strip_prefix("next page: auditlog logs list --query '"))
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no next-page hint: {first}"));
    let second = cli.page(&["--query", hint]);
    assert_eq!(second.entries.len(), 2, "{hint}");
    let everything: Vec<AuditEntry> = {
        let printed = cli.ok(&[
            "--json",
            "logs",
            "list",
            "--not-method",
            "GET",
            "--limit",
            "2",
            "--all",
        ]);
        serde_json::from_str(&printed)
            .unwrap_or_else(|error| panic!("`--all --json` printed no array ({error}): {printed}"))
    };
    assert_eq!(summary(&everything), summary(&writes.entries));
    assert!(second
        .entries
        .iter()
        .all(|entry| everything[2..4].iter().any(|other| other.id == entry.id)));

    // An export of the same query holds as many rows as the list counts.
    let out = downloads.path().join("out.csv");
    let wrote = cli.ok(&[
        "logs",
        "export",
        "--format",
        "csv",
        "--output",
        out.to_str().unwrap(),
        "--query",
        "range=24h",
        "--not-method",
        "GET",
    ]);
    let csv = std::fs::read_to_string(&out).expect("the export was written");
    assert!(csv.starts_with("id,timestamp"), "{csv}");
    let rows = csv.lines().count() - 1;
    let listed = cli.page(&["--query", "range=24h", "--not-method", "GET"]);
    assert_eq!(listed.next, None, "one page holds them all");
    assert_eq!(rows, listed.entries.len(), "{csv}");
    assert_eq!(
        wrote.trim(),
        format!("Wrote {rows} rows to {} ({rows} matched)", out.display())
    );
    assert_eq!(file_names(downloads.path()), vec!["out.csv".to_string()]);

    // Without --output, the server's file name in the current directory.
    let wrote = cli.ok_in(
        Some(downloads.path()),
        &[
            "logs",
            "export",
            "--format",
            "ndjson",
            "--action",
            "cluster.create",
        ],
    );
    let names = file_names(downloads.path());
    let ndjson = names
        .iter()
        .find(|name| name.ends_with(".ndjson"))
        .unwrap_or_else(|| panic!("no NDJSON file in {names:?}: {wrote}"));
    assert!(ndjson.starts_with("auditlog-"), "{ndjson}");
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(wrote.trim(), format!("Wrote 1 row to {ndjson} (1 matched)"));
    let exported: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(downloads.path().join(ndjson))
            .unwrap()
            .trim(),
    )
    .expect("one JSON object");
    assert_eq!(exported["action"], "cluster.create");

    // A bad flag value is refused before any request: nothing listens on this address.
    let stderr = cli.fails(&[
        "--url",
        "http://127.0.0.1:9",
        "logs",
        "list",
        "--status",
        "7xx",
    ]);
    assert!(
        stderr.contains("`status`") && stderr.contains("7xx"),
        "{stderr}"
    );
}
