//! `auditlog logs list` and `auditlog logs export` against a real server: dashboard URLs and
//! filter flags become one audit query, pages and exports come back as the server wrote them.

use std::path::Path;
use std::process::{Command, Output};

use auditlog_shared::wire::{AuditEntry, AuditPage, Role};
use auditlog_tests::{binary, sign_in, AdminAccount, Backend, StoredDatabase};
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
    let manifest = downloads.path().join("out.csv.manifest.json");
    assert_eq!(
        wrote.trim(),
        format!(
            "Wrote {rows} rows to {} ({rows} matched)\nWrote the signed manifest to {} (check \
             the file with `auditlog export verify`)",
            out.display(),
            manifest.display()
        )
    );
    assert_eq!(
        file_names(downloads.path()),
        vec!["out.csv".to_string(), "out.csv.manifest.json".to_string()]
    );

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
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.contains(&format!("{ndjson}.manifest.json")),
        "{names:?}"
    );
    assert!(
        wrote.starts_with(&format!("Wrote 1 row to {ndjson} (1 matched)\n")),
        "{wrote}"
    );
    let exported: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(downloads.path().join(ndjson))
            .unwrap()
            .trim(),
    )
    .expect("one JSON object");
    assert_eq!(exported["action"], "cluster.create");

    // A saved view of the project, run by name (any case); flags add to it.
    let saved = runtime().block_on(async {
        session
            .authorize(client.post(session.project_url(project_id, "/saved-views")))
            .json(&serde_json::json!({"name": "Writes", "query": "method.not=GET&range=24h"}))
            .send()
            .await
            .expect("the saved view request is answered")
    });
    assert_eq!(saved.status(), StatusCode::CREATED);
    let viewed = cli.page(&["--view", "writes", "--method", "POST"]);
    let direct = cli.page(&["--query", "method.not=GET&range=24h", "--method", "POST"]);
    assert!(!viewed.entries.is_empty());
    assert!(viewed.entries.iter().all(|entry| entry.method == "POST"));
    assert_eq!(summary(&viewed.entries), summary(&direct.entries));
    let unknown = cli.fails(&["logs", "list", "--view", "Reads"]);
    assert!(
        unknown.contains("no saved view is named “Reads”") && unknown.contains("Writes"),
        "{unknown}"
    );
    let both = cli.fails(&["logs", "list", "--view", "Writes", "--query", "range=1h"]);
    assert!(both.contains("cannot be used with"), "{both}");

    // A typed query, as the dashboard's bar reads it: names are read by the server.
    let typed = cli.page(&["--where", "-method:GET range:24h", "--method", "POST"]);
    assert_eq!(summary(&typed.entries), summary(&direct.entries));
    let unknown_key = cli.fails(&[
        "--url",
        "http://127.0.0.1:9",
        "logs",
        "list",
        "--where",
        "method:POST colour:red",
    ]);
    assert!(
        unknown_key.contains("unknown key `colour`")
            && unknown_key.contains("method:POST colour:red\n              ^^^^^^^^^^"),
        "refused and pointed at before any request: {unknown_key}"
    );
    let nobody = cli.fails(&["logs", "list", "--where", "actor:nobody-here"]);
    assert!(
        nobody.contains("no actor of this project is named “nobody-here”")
            && nobody.contains("^^^^^^^^^^^^^^^^^"),
        "{nobody}"
    );

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

/// Runs `auditlog export verify` and returns its exit code and what it printed (both streams).
fn export_verify(cli: &Cli, args: &[&str]) -> (Option<i32>, String) {
    let mut all_args = vec!["export", "verify"];
    all_args.extend_from_slice(args);
    let output = cli.run(&all_args);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), printed)
}

/// An exported file is checked offline against its signed manifest: the untouched file passes;
/// an edited row, a removed row, a forged manifest, an unknown key and a row altered in the
/// database before the export all fail with exit code 3 and say what is wrong.
fn exports_verify_offline_and_tampering_is_found(backend: Backend) {
    let static_dir = tempfile::tempdir().unwrap();
    let admin = AdminAccount::ada();
    let (running, project_id) =
        RunningServer::with_admin(backend, static_dir.path().to_path_buf(), &admin);
    let client = reqwest::Client::new();
    let session = runtime()
        .block_on(async { sign_in(&client, running.url(), &admin.email, &admin.password).await });
    let secret = runtime()
        .block_on(session.create_token(&client, project_id, "cli-admin", Role::Admin))
        .secret;
    let cli = Cli::new();
    cli.ok(&["login", "--url", running.url(), "--token", &secret]);
    cli.ok(&["apps", "create", "web", "--image", "registry/web:1"]);
    cli.ok(&["clusters", "create", "c1", "--region", "eu"]);
    let enabled = runtime().block_on(async {
        session
            .authorize(client.patch(session.project_url(project_id, "/settings")))
            .json(&serde_json::json!({ "audit_export_enabled": true }))
            .send()
            .await
            .expect("the settings request is answered")
    });
    assert_eq!(enabled.status(), StatusCode::OK);
    let downloads = tempfile::tempdir().expect("a temporary directory");
    let path = |name: &str| downloads.path().join(name).to_str().unwrap().to_string();

    // The export and its manifest, checked once on download and again offline.
    let all = path("all.ndjson");
    cli.ok(&[
        "logs", "export", "--format", "ndjson", "--range", "1h", "-o", &all,
    ]);
    let (code, printed) = export_verify(&cli, &[&all]);
    assert_eq!(code, Some(0), "{printed}");
    assert!(
        printed.starts_with("OK: the export the server signed: ")
            && printed.contains(&format!("of project {project_id} for `range=1h`"))
            && printed.contains("every row's hash recomputed"),
        "{printed}"
    );
    let csv = path("posts.csv");
    cli.ok(&[
        "logs", "export", "--format", "csv", "--method", "POST", "-o", &csv,
    ]);
    let (code, printed) = export_verify(&cli, &[&csv]);
    assert_eq!(code, Some(0), "{printed}");

    // Another machine knows no keys until it is given the server's.
    let stranger = Cli::new();
    let (code, printed) = export_verify(&stranger, &[&all]);
    assert_eq!(code, Some(3), "{printed}");
    assert!(
        printed.contains("which the server does not publish"),
        "{printed}"
    );
    let keys_file = path("keys.json");
    let keys = runtime().block_on(async {
        client
            .get(format!("{}/api/v1/audit-log-keys", running.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    std::fs::write(&keys_file, keys).unwrap();
    let (code, printed) = export_verify(&stranger, &[&all, "--keys", &keys_file]);
    assert_eq!(code, Some(0), "{printed}");

    let original = std::fs::read_to_string(&all).unwrap();
    let manifest_text = std::fs::read_to_string(format!("{all}.manifest.json")).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert!(lines.len() >= 4, "{original}");
    let copy_with = |name: &str, text: &str| {
        let file = path(name);
        std::fs::write(&file, text).unwrap();
        std::fs::write(format!("{file}.manifest.json"), &manifest_text).unwrap();
        file
    };

    // One field of one row changed: the digest differs, and the row says where.
    let edited = copy_with(
        "edited.ndjson",
        &original.replacen("\"cluster.create\"", "\"cluster.delete\"", 1),
    );
    let (code, printed) = export_verify(&cli, &[&edited]);
    assert_eq!(code, Some(3), "{printed}");
    assert!(
        printed.contains("SHA-256 is not the export's")
            && printed.contains("do not match its hash"),
        "{printed}"
    );

    // The oldest row removed: the file is short.
    let shortened = copy_with(
        "short.ndjson",
        &format!("{}\n", lines[..lines.len() - 1].join("\n")),
    );
    let (code, printed) = export_verify(&cli, &[&shortened]);
    assert_eq!(code, Some(3), "{printed}");
    assert!(printed.contains("fewer than the export's"), "{printed}");

    // The manifest rewritten to match the short file: its signature no longer verifies.
    let mut forged: serde_json::Value = serde_json::from_str(&manifest_text).unwrap();
    let short_bytes = std::fs::read(&shortened).unwrap();
    forged["bytes"] = short_bytes.len().into();
    forged["rows"] = (lines.len() - 1).into();
    forged["sha256"] = sha256_hex(&short_bytes).into();
    let forged_manifest = path("forged.manifest.json");
    std::fs::write(&forged_manifest, forged.to_string()).unwrap();
    let (code, printed) = export_verify(&cli, &[&shortened, "--manifest", &forged_manifest]);
    assert_eq!(code, Some(3), "{printed}");
    assert!(
        printed.contains("the manifest: its signature does not verify"),
        "{printed}"
    );

    // A CSV row edited.
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let csv_manifest = std::fs::read_to_string(format!("{csv}.manifest.json")).unwrap();
    let edited_csv = path("edited.csv");
    std::fs::write(&edited_csv, csv_text.replacen("POST", "GET", 1)).unwrap();
    std::fs::write(format!("{edited_csv}.manifest.json"), csv_manifest).unwrap();
    let (code, printed) = export_verify(&cli, &[&edited_csv]);
    assert_eq!(code, Some(3), "{printed}");

    // A row altered in the database (its hash left as it was) before an export: the server
    // sends it as stored and signs what it sent, but the row's own hash gives it away, on
    // download and offline.
    let mut database = StoredDatabase::open(running.database_url());
    // Someone with database access lifts the append-only trigger first.
    database.execute(match backend {
        Backend::Sqlite => "DROP TRIGGER audit_entries_append_only",
        Backend::Postgres => "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
    });
    let altered = database.execute(&format!(
        "UPDATE audit_entries SET actor_name = 'Eve' WHERE project_id = {project_id} \
         AND action = 'cluster.create'"
    ));
    assert_eq!(altered, 1);
    let after = path("after.ndjson");
    let stderr = cli.fails(&[
        "logs", "export", "--format", "ndjson", "--range", "1h", "-o", &after,
    ]);
    assert!(
        stderr.contains("does not match the manifest the server signed")
            && stderr.contains("altered after it was recorded"),
        "{stderr}"
    );
    let (code, printed) = export_verify(&cli, &[&after]);
    assert_eq!(code, Some(3), "{printed}");
    assert!(
        printed.contains("the server exported a row that was altered after it was recorded")
            && printed.contains("do not match its hash"),
        "{printed}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn exports_verify_offline_and_tampering_is_found_on_sqlite() {
    exports_verify_offline_and_tampering_is_found(Backend::Sqlite);
}

#[test]
fn exports_verify_offline_and_tampering_is_found_on_postgres() {
    exports_verify_offline_and_tampering_is_found(Backend::Postgres);
}
