//! `auditlog alerts` against a real server and a real webhook receiver: the CLI creates a
//! webhook destination and an alert from a preset, a token created with the CLI fires it once,
//! and the CLI lists the alert and its firing, renames, routes, pauses and deletes it. Mistakes
//! in the flags are refused by the command line before any request; the server's refusals are
//! printed once.

use std::time::{Duration, Instant};

use auditlog_shared::wire::{AlertRule, Role, StreamStatus};
use auditlog_tests::receiver::Receiver;
use auditlog_tests::{
    create_admin, sign_in, AdminAccount, Backend, CliProcess, ServerProcess, TestDatabase,
    STREAMING_FLAGS,
};
use serde_json::Value;

use crate::runtime;

/// How long notifications may take to arrive (they usually take a second or two: the server
/// looks for new entries every second).
const PATIENCE: Duration = Duration::from_secs(15);
/// How long to watch for a notification that should not come.
const QUIET: Duration = Duration::from_secs(3);

/// The CLI, with what these tests ask of it besides running commands.
struct Cli(CliProcess);

impl std::ops::Deref for Cli {
    type Target = CliProcess;

    fn deref(&self) -> &CliProcess {
        &self.0
    }
}

impl Cli {
    fn new() -> Cli {
        Cli(CliProcess::new())
    }

    /// Runs a command that must exit with `code` and print nothing to standard output; returns
    /// its standard error.
    fn fails_with(&self, code: i32, args: &[&str]) -> String {
        let (stdout, stderr) = self.exits_with(code, args);
        assert!(
            stdout.is_empty(),
            "`auditlog {}` printed to standard output: {stdout}",
            args.join(" ")
        );
        stderr
    }

    /// The alerts `auditlog --json alerts list` prints.
    fn alerts(&self) -> Vec<AlertRule> {
        let listed = self.ok(&["--json", "alerts", "list"]);
        serde_json::from_str(&listed).unwrap_or_else(|error| {
            panic!("`alerts list --json` printed no alert list ({error}): {listed}")
        })
    }

    /// Lists the alerts until the one with `id` satisfies `done`.
    fn wait_for_alert(&self, id: i64, what: &str, done: impl Fn(&AlertRule) -> bool) -> AlertRule {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let alert = self
                .alerts()
                .into_iter()
                .find(|alert| alert.id == id)
                .unwrap_or_else(|| panic!("alert #{id} is not listed"));
            if done(&alert) {
                return alert;
            }
            assert!(
                Instant::now() < deadline,
                "alert #{id} was not {what} within {PATIENCE:?}: {alert:?}"
            );
            // The server marks a firing notified just after the receiver answered.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The cells of a table row (cells are separated by at least two spaces; none holds two).
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

/// Waits until the receiver holds at least `count` alert notifications, then watches a while for
/// more, and returns them all.
fn wait_for_alerts(receiver: &Receiver, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    while receiver.alerts().len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} alert notifications arrived within {PATIENCE:?}: {:#?}",
            receiver.alerts().len(),
            receiver.alerts()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(QUIET);
    receiver.alerts()
}

#[test]
fn the_cli_manages_an_alert_from_a_preset_that_fires_once_when_a_token_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let static_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(Backend::Sqlite, dir.path());
    let data_dir = dir.path().join("data");
    let admin = AdminAccount::ada();
    let project_id = create_admin(database.url(), &data_dir, &admin);
    let server = ServerProcess::start_with_args(
        database.url(),
        &data_dir,
        static_dir.path(),
        &STREAMING_FLAGS,
    );
    // The receiver runs on this runtime's worker threads for the whole test.
    let runtime = runtime();
    let receiver = runtime.block_on(Receiver::start());
    let endpoint = format!("{}/alerts", receiver.url);
    let secret = runtime.block_on(async {
        let client = reqwest::Client::new();
        let session = sign_in(&client, server.url(), &admin.email, &admin.password).await;
        session
            .create_token(&client, project_id, "cli-admin", Role::Admin)
            .await
            .secret
    });

    // The presets are listed without a sign-in: they need no request.
    let presets = Cli::new().ok(&["alerts", "presets"]);
    let header = presets.lines().next().unwrap_or_default();
    assert_eq!(
        cells(header),
        ["KEY", "NAME", "FILTER", "CONDITION"],
        "{presets}"
    );
    let token_created = presets
        .lines()
        .map(cells)
        .find(|row| row.first() == Some(&"token-created"))
        .unwrap_or_else(|| panic!("no token-created preset: {presets}"));
    assert_eq!(
        token_created,
        [
            "token-created",
            "API token created",
            "action=api_token.create&status=2xx",
            "any match"
        ]
    );
    assert!(
        presets.contains("5 matches within 10 minutes for one actor"),
        "{presets}"
    );

    let cli = Cli::new();
    cli.ok(&["login", "--url", server.url(), "--token", &secret]);
    assert_eq!(
        cli.ok(&["alerts", "list"]),
        format!("No alerts in project #{project_id}.\n")
    );

    // The destination the alert notifies: a webhook to the receiver.
    let created = cli.ok(&[
        "--json",
        "streams",
        "create",
        "Pager",
        "--kind",
        "webhook",
        "--endpoint",
        &endpoint,
    ]);
    let created: Value = serde_json::from_str(&created).expect("the created destination");
    let destination_id = created["destination"]["id"]
        .as_i64()
        .expect("the destination's id");
    let destination_text = destination_id.to_string();

    // The server's refusal (a destination the project does not have) is printed once.
    let stderr = cli.fails_with(
        1,
        &[
            "alerts",
            "create",
            "Nowhere",
            "--destination",
            "999",
            "--any",
        ],
    );
    assert_eq!(
        stderr.matches("no stream destination 999").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");

    // Created from the preset, with the preset's name.
    let created = cli.ok(&[
        "alerts",
        "create",
        "--preset",
        "token-created",
        "--destination",
        &destination_text,
    ]);
    assert!(
        created.starts_with("Created alert API token created (#")
            && created.contains(&format!(
                "): any match of action=api_token.create&status=2xx, sent to stream destination \
                 Pager (#{destination_id})."
            )),
        "{created}"
    );
    let listed = cli.alerts();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let alert = &listed[0];
    let id = alert.id;
    let id_text = id.to_string();
    assert_eq!(
        (
            alert.name.as_str(),
            alert.filter.as_str(),
            alert.destination_id,
            alert.fired_count,
            alert.status,
        ),
        (
            "API token created",
            "action=api_token.create&status=2xx",
            destination_id,
            0,
            StreamStatus::Active
        )
    );

    // A token created with the CLI fires it once.
    let token = cli.ok(&["tokens", "create", "ci", "--role", "viewer"]);
    assert!(token.contains("Created token ci (#"), "{token}");
    let notifications = wait_for_alerts(&receiver, 1);
    assert_eq!(notifications.len(), 1, "one firing: {notifications:#?}");
    let notification = &notifications[0];
    assert_eq!(notification["alert_name"], "API token created");
    assert_eq!(notification["alert_id"], id);
    assert_eq!(notification["firing"]["match_count"], 1);
    assert_eq!(notification["entries"][0]["action"], "api_token.create");

    // The list shows it fired, once the receiver's answer is recorded.
    cli.wait_for_alert(id, "notified", |alert| {
        alert.fired_count == 1 && alert.pending_notifications == 0
    });
    let table = cli.ok(&["alerts", "list"]);
    let mut lines = table.lines();
    assert_eq!(
        cells(lines.next().unwrap_or_default()),
        [
            "ID",
            "NAME",
            "CONDITION",
            "FILTER",
            "DESTINATION",
            "STATUS",
            "FIRED",
            "LAST FIRED",
            "PENDING"
        ],
        "{table}"
    );
    let row = cells(lines.next().unwrap_or_default());
    let destination_cell = format!("Pager (#{destination_id})");
    assert_eq!(
        row[..7],
        [
            id_text.as_str(),
            "API token created",
            "any match",
            "action=api_token.create&status=2xx",
            destination_cell.as_str(),
            "active",
            "1"
        ],
        "{table}"
    );
    assert!(row[7].ends_with(" UTC") && row[8] == "0", "{table}");
    assert_eq!(lines.next(), None, "{table}");

    // Its one firing, notified, with a link to the dashboard's view of the entry on the server.
    let firings = cli.ok(&["alerts", "firings", &id_text]);
    let mut lines = firings.lines();
    assert_eq!(
        cells(lines.next().unwrap_or_default()),
        ["ID", "FIRED AT", "GROUP", "MATCHES", "FIRST", "LAST", "NOTIFIED", "VIEW"],
        "{firings}"
    );
    let row = cells(lines.next().unwrap_or_default());
    assert_eq!(row.len(), 8, "{firings}");
    assert_eq!(
        row[0],
        notification["firing"]["id"].to_string(),
        "{firings}"
    );
    assert_eq!((row[2], row[3]), ("-", "1"), "{firings}");
    assert!(
        [row[1], row[4], row[5], row[6]]
            .iter()
            .all(|instant| instant.ends_with(" UTC")),
        "{firings}"
    );
    assert!(
        row[7].starts_with(&format!(
            "{}/projects/{project_id}/security/audit-logs?from=",
            server.url()
        )) && row[7].ends_with("&action=api_token.create&status=2xx"),
        "{firings}"
    );
    assert_eq!(lines.next(), None, "{firings}");

    // Renamed and routed (to the same destination, which keeps its notifications coming).
    assert_eq!(
        cli.ok(&["alerts", "rename", &id_text, "New API tokens"]),
        format!("Renamed alert #{id} to New API tokens.\n")
    );
    assert_eq!(
        cli.ok(&[
            "alerts",
            "route",
            &id_text,
            "--destination",
            &destination_text
        ]),
        format!("Alert New API tokens (#{id}) now notifies stream destination Pager (#{destination_id}).\n")
    );

    // Paused, it counts nothing: another token fires no alert.
    let paused = cli.ok(&["alerts", "pause", &id_text]);
    assert!(
        paused.starts_with(&format!(
            "Paused alert New API tokens (#{id}): it counts nothing"
        )),
        "{paused}"
    );
    cli.ok(&["tokens", "create", "while-paused", "--role", "viewer"]);
    let entries = runtime.block_on(receiver.wait_for_entries(
        PATIENCE,
        "the entry of the token created while paused",
        |entries| {
            entries.iter().any(|line| {
                line["entry"]["action"] == "api_token.create"
                    && line["entry"]["resource"]["name"] == "while-paused"
            })
        },
    ));
    assert!(!entries.is_empty());
    std::thread::sleep(QUIET);
    assert_eq!(receiver.alerts().len(), 1, "a paused alert fired");
    let listed = cli.alerts();
    assert_eq!(
        (listed[0].paused, listed[0].status, listed[0].fired_count),
        (true, StreamStatus::Paused, 1),
        "{listed:?}"
    );

    // Deleted, with its firings.
    assert_eq!(
        cli.ok(&["alerts", "delete", &id_text]),
        format!("Deleted alert #{id} and its firings.\n")
    );
    assert_eq!(
        cli.ok(&["alerts", "list"]),
        format!("No alerts in project #{project_id}.\n")
    );
    let stderr = cli.fails_with(1, &["alerts", "firings", &id_text]);
    assert!(stderr.contains("(404)"), "{stderr}");

    // A window the command line cannot read is refused by it (exit code 2) before any request:
    // nothing listens at this address.
    let stderr = cli.fails_with(
        2,
        &[
            "--url",
            "http://127.0.0.1:9",
            "alerts",
            "create",
            "Bursts",
            "--destination",
            &destination_text,
            "--count",
            "5",
            "--window",
            "10x",
        ],
    );
    assert!(
        stderr.contains(
            "invalid value '10x' for '--window <DURATION>': `10x` has no unit: expected a whole \
             number and a unit (s, m, h or d), e.g. 90s, 10m, 2h or 1d"
        ),
        "{stderr}"
    );
    // A filter the shared parser refuses is refused before any request too.
    let stderr = cli.fails_with(
        1,
        &[
            "--url",
            "http://127.0.0.1:9",
            "alerts",
            "create",
            "Bursts",
            "--destination",
            &destination_text,
            "--count",
            "5",
            "--window",
            "10m",
            "--filter",
            "range=24h",
        ],
    );
    assert!(
        stderr.contains("invalid --filter: `range` sets a window or a page"),
        "{stderr}"
    );
}
