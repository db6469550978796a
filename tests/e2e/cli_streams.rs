//! `auditlog streams` against a real server and a real webhook receiver: the CLI creates a
//! destination (its signing secret printed once), the receiver gets the entries its filter
//! matches, and the CLI lists, tests, pauses, resumes, renames and deletes it. A filter with a
//! window is refused before any request.

use std::time::{Duration, Instant};

use auditlog_shared::wire::{Role, StreamDestination, StreamStatus};
use auditlog_tests::receiver::{Mode, Receiver};
use auditlog_tests::{
    create_admin, sign_in, AdminAccount, Backend, CliProcess, ServerProcess, TestDatabase,
    STREAMING_FLAGS,
};
use serde_json::Value;

use crate::runtime;

/// How long deliveries may take to arrive (they usually take milliseconds).
const PATIENCE: Duration = Duration::from_secs(10);

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

    /// Runs a command that must exit with code 1 and returns its standard output and error.
    fn fails(&self, args: &[&str]) -> (String, String) {
        self.exits_with(1, args)
    }

    /// The destinations `auditlog --json streams list` prints.
    fn destinations(&self) -> Vec<StreamDestination> {
        let listed = self.ok(&["--json", "streams", "list"]);
        serde_json::from_str(&listed).unwrap_or_else(|error| {
            panic!("`streams list --json` printed no destination list ({error}): {listed}")
        })
    }

    /// Lists the destinations until the one with `id` satisfies `done`.
    fn wait_for_destination(
        &self,
        id: i64,
        what: &str,
        done: impl Fn(&StreamDestination) -> bool,
    ) -> StreamDestination {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let destination = self
                .destinations()
                .into_iter()
                .find(|destination| destination.id == id)
                .unwrap_or_else(|| panic!("destination #{id} is not listed"));
            if done(&destination) {
                return destination;
            }
            assert!(
                Instant::now() < deadline,
                "destination #{id} was not {what} within {PATIENCE:?}: {destination:?}"
            );
            // The server moves a destination's counters just after the receiver answered.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The `(action, resource name)` of received entries, in the order received.
fn received(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|line| {
            let entry = &line["entry"];
            (
                entry["action"].as_str().unwrap_or_default().to_string(),
                entry["resource"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(action, name)| (action.to_string(), name.to_string()))
        .collect()
}

/// HMAC-SHA256, hex: how a receiver checks `Auditlog-Signature` (RFC 2104, spelled out here so
/// the test checks the documented recipe rather than the server's own code).
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize(),
    )
}

#[test]
fn the_cli_manages_a_webhook_stream_that_receives_the_entries_its_filter_matches() {
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
    let endpoint = format!("{}/hook", receiver.url);
    let secret = runtime.block_on(async {
        let client = reqwest::Client::new();
        let session = sign_in(&client, server.url(), &admin.email, &admin.password).await;
        session
            .create_token(&client, project_id, "cli-admin", Role::Admin)
            .await
            .secret
    });
    let cli = Cli::new();
    cli.ok(&["login", "--url", server.url(), "--token", &secret]);
    let empty = cli.ok(&["streams", "list"]);
    assert_eq!(
        empty,
        format!("No stream destinations in project #{project_id}.\n")
    );

    // A filter with a window is refused before any request: nothing listens at this address,
    // and the receiver is never contacted.
    let (_, stderr) = cli.fails(&[
        "--url",
        "http://127.0.0.1:9",
        "streams",
        "create",
        "SIEM",
        "--kind",
        "webhook",
        "--endpoint",
        &endpoint,
        "--filter",
        "range=24h",
    ]);
    assert!(
        stderr.contains("invalid --filter: `range` sets a window or a page"),
        "{stderr}"
    );
    assert_eq!(receiver.attempts(), 0, "the receiver was contacted");

    // Created: the signing secret is printed once.
    let created = cli.ok(&[
        "streams",
        "create",
        "SIEM",
        "--kind",
        "webhook",
        "--endpoint",
        &endpoint,
        "--filter",
        // Stored and shown in its canonical form.
        "resource_type=application&method.not=get",
        "--header",
        "X-Team: security",
    ]);
    assert!(
        created.contains("Created stream destination SIEM (#")
            && created.contains(&format!("webhook to {endpoint} with headers x-team"))
            && created.contains("entries matching `method.not=GET&resource_type=application`"),
        "{created}"
    );
    assert!(
        created.contains("Signing secret (shown once):"),
        "{created}"
    );
    let signing_secret = created
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("whsec_"))
        .unwrap_or_else(|| panic!("`streams create` printed no signing secret: {created}"))
        .to_string();
    let listed = cli.destinations();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let destination = &listed[0];
    let id = destination.id;
    let id_text = id.to_string();
    assert_eq!(
        (
            destination.name.as_str(),
            destination.filter.as_str(),
            destination.header_names.clone(),
            destination.status,
        ),
        (
            "SIEM",
            "method.not=GET&resource_type=application",
            vec!["x-team".to_string()],
            StreamStatus::Active
        )
    );

    // Requests the filter matches (application writes) and others (a cluster, reads); the last
    // application write comes after the others, so once it arrived they were all examined.
    cli.ok(&["apps", "create", "web", "--image", "registry/web:1"]);
    cli.ok(&["clusters", "create", "c1", "--region", "eu"]);
    cli.ok(&["apps", "list"]);
    let worker = cli.ok(&[
        "--json",
        "apps",
        "create",
        "worker",
        "--image",
        "registry/w:1",
    ]);
    let worker: Value = serde_json::from_str(&worker).unwrap();
    let worker_id = worker["id"]
        .as_i64()
        .expect("the application's id")
        .to_string();
    cli.ok(&["apps", "delete", &worker_id]);
    let entries = runtime.block_on(receiver.wait_for_entries(
        PATIENCE,
        "the three application writes",
        |entries| entries.len() >= 3,
    ));
    assert_eq!(
        received(&entries),
        pairs(&[
            ("application.create", "web"),
            ("application.create", "worker"),
            ("application.delete", "worker"),
        ]),
        "the receiver got other entries than the filter matches"
    );
    // Every delivery (the handshake included) is to the endpoint, with the custom header, signed
    // with the secret the CLI printed.
    for delivery in receiver.deliveries() {
        assert_eq!(delivery.path, "/hook");
        assert_eq!(delivery.header("x-team"), Some("security"));
        let signature = delivery.header("auditlog-signature").expect("signed");
        let (t, v1) = signature
            .split_once(",v1=")
            .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
            .unwrap_or_else(|| panic!("not t=…,v1=…: {signature}"));
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&delivery.body);
        assert_eq!(
            v1,
            hmac_sha256_hex(signing_secret.as_bytes(), &signed),
            "the printed secret verifies the signature"
        );
    }

    // The list shows it delivered; the secret is never shown again.
    cli.wait_for_destination(id, "caught up with the three entries", |destination| {
        destination.delivered_entries == 3
    });
    let table = cli.ok(&["streams", "list"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("ID")
            && [
                "NAME",
                "KIND",
                "STATUS",
                "LAG",
                "DELIVERED",
                "LAST DELIVERY",
                "LAST ERROR"
            ]
            .iter()
            .all(|column| header.contains(column)),
        "{table}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    assert_eq!(
        row[..4],
        [id_text.as_str(), "SIEM", "webhook", "active"],
        "{table}"
    );
    // The lag counts every entry after the cursor, this very listing's own included until the
    // server has examined it: `0`, or a count and an age.
    assert!(
        row[4] == "0" || row[4].ends_with("s)"),
        "the lag column: {table}"
    );
    assert_eq!(row[5], "3", "{table}");
    assert!(row[6].ends_with(" UTC") && row[7] == "-", "{table}");
    let json = cli.ok(&["--json", "streams", "list"]);
    assert!(
        !table.contains(&signing_secret) && !json.contains(&signing_secret),
        "the signing secret was shown again"
    );

    // A test message is delivered; one the receiver refuses is reported with a failing exit code.
    let tested = cli.ok(&["streams", "test", &id_text]);
    assert!(
        tested.starts_with(&format!(
            "Delivered a test message to stream destination #{id}: HTTP 200 in "
        )),
        "{tested}"
    );
    assert!(
        receiver
            .deliveries()
            .iter()
            .flat_map(|delivery| delivery.lines())
            .any(|line| line["type"] == "auditlog.test"),
        "the receiver got no test message"
    );
    receiver.set_mode(Mode::Fail(503));
    let (stdout, _) = cli.fails(&["streams", "test", &id_text]);
    assert!(
        stdout.starts_with(&format!(
            "Test message NOT delivered to stream destination #{id} (HTTP 503, "
        )),
        "{stdout}"
    );
    receiver.set_mode(Mode::Accept);

    // Paused, it sends nothing and falls behind; resumed, it catches up.
    let paused = cli.ok(&["streams", "pause", &id_text]);
    assert!(
        paused.starts_with(&format!("Paused stream destination SIEM (#{id})")),
        "{paused}"
    );
    cli.ok(&["apps", "create", "while-paused", "--image", "registry/p:1"]);
    let listed = cli.destinations();
    assert_eq!(listed[0].status, StreamStatus::Paused, "{listed:?}");
    assert!(listed[0].lag_entries > 0, "{listed:?}");
    assert_eq!(
        receiver.entries().len(),
        3,
        "a paused destination delivered"
    );
    let resumed = cli.ok(&["streams", "resume", &id_text]);
    assert!(
        resumed.starts_with(&format!(
            "Resumed stream destination SIEM (#{id}): status active"
        )),
        "{resumed}"
    );
    let entries = runtime.block_on(receiver.wait_for_entries(
        PATIENCE,
        "the entry written while paused",
        |entries| entries.len() >= 4,
    ));
    assert_eq!(
        received(&entries[3..]),
        pairs(&[("application.create", "while-paused")])
    );
    assert_eq!(cli.destinations()[0].status, StreamStatus::Active);

    // Renamed; a bad filter is refused by `update` too, before any request.
    let renamed = cli.ok(&["streams", "update", &id_text, "--name", "security-siem"]);
    assert!(
        renamed.starts_with(&format!("Updated stream destination security-siem (#{id})")),
        "{renamed}"
    );
    let (_, stderr) = cli.fails(&[
        "--url",
        "http://127.0.0.1:9",
        "streams",
        "update",
        &id_text,
        "--filter",
        "limit=5",
    ]);
    assert!(
        stderr.contains("invalid --filter: `limit` sets a window or a page"),
        "{stderr}"
    );

    let deleted = cli.ok(&["streams", "delete", &id_text]);
    assert_eq!(deleted, format!("Deleted stream destination #{id}.\n"));
    assert!(cli.destinations().is_empty(), "still listed after deletion");
    let (_, stderr) = cli.fails(&["streams", "test", &id_text]);
    assert!(stderr.contains("(404)"), "{stderr}");
}
