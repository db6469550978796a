//! Streaming to SIEMs: destinations receive every entry their filter matches, at least once and
//! in chain order, signed; failures back off and show; only a project's admins manage them, and
//! no admin can make the server call into the network it runs in.

use std::collections::BTreeSet;
use std::time::Duration;

use auditlog_shared::wire::{
    CreatedStreamDestination, Role, StreamDestination, StreamStatus, StreamTestResult,
};
use auditlog_tests::receiver::{Mode, Receiver};
use auditlog_tests::syslog::{SyslogCollector, SyslogMessage};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{problem, Backend, Caller, TestApp};

const PATIENCE: Duration = Duration::from_secs(20);

/// A server that may deliver to receivers on 127.0.0.1, retrying failures within a second (the
/// tests' default).
async fn streaming_app(backend: Backend) -> TestApp {
    TestApp::spawn(backend).await
}

async fn create_destination(admin: &Caller, project: i64, body: Value) -> CreatedStreamDestination {
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/streams"),
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn destinations(admin: &Caller, project: i64) -> Vec<StreamDestination> {
    let response = admin
        .get(&format!("/api/v1/projects/{project}/streams"))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the project's destination `id` satisfies `done`.
async fn wait_for_destination(
    admin: &Caller,
    project: i64,
    id: i64,
    what: &str,
    done: impl Fn(&StreamDestination) -> bool,
) -> StreamDestination {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let destination = destinations(admin, project)
            .await
            .into_iter()
            .find(|d| d.id == id)
            .expect("the destination is listed");
        if done(&destination) {
            return destination;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the destination never became {what}: {destination:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The chain positions of received entries, in the order received.
fn received_seqs(entries: &[Value]) -> Vec<i64> {
    entries
        .iter()
        .map(|e| e["entry"]["chain_seq"].as_i64().expect("a chain position"))
        .collect()
}

/// Asserts the received entries are exactly `expected` (chain positions), each once, in order.
fn assert_exactly_in_order(entries: &[Value], expected: &[i64]) {
    let seqs = received_seqs(entries);
    assert_eq!(
        seqs, expected,
        "the receiver got other entries than the filter matches"
    );
    let ids: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), entries.len(), "an event id repeats");
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

async fn a_webhook_receives_every_matching_entry_signed_and_in_chain_order(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    let created = create_destination(
        &admin,
        project,
        json!({"name": "SIEM", "kind": "webhook", "url": format!("{}/hook", receiver.url),
               "filter": "method.not=GET", "headers": {"X-Team": "security"}}),
    )
    .await;
    let secret = created
        .signing_secret
        .clone()
        .expect("a webhook's secret is shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let destination = created.destination;
    assert_eq!(destination.filter, "method.not=GET");
    assert_eq!(destination.header_names, vec!["x-team".to_string()]);
    // The handshake came first, signed like every delivery.
    let handshake = &receiver.deliveries()[0];
    assert_eq!(handshake.lines()[0]["type"], "auditlog.verification");

    let mut applications = Vec::new();
    for name in ["web", "worker", "cron"] {
        applications.push(admin.create_application(project, name, "img:1").await);
    }
    for id in &applications {
        let listed = admin
            .get(&format!("/api/v1/projects/{project}/applications/{id}"))
            .await;
        assert_eq!(listed.status(), 200);
    }
    let deleted = admin
        .send(
            Method::DELETE,
            &format!(
                "/api/v1/projects/{project}/applications/{}",
                applications[2]
            ),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);

    // Every entry after the destination's creation (its own creation included) that is not a
    // GET, exactly once, in chain order.
    let expected: Vec<i64> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.chain_seq > destination.delivered_through_seq && e.method != "GET")
        .map(|e| e.chain_seq)
        .collect();
    assert_eq!(expected.len(), 5, "create destination, 3 creates, 1 delete");
    let entries = receiver
        .wait_for_entries(PATIENCE, "the five entries", |got| {
            got.len() >= expected.len()
        })
        .await;
    assert_exactly_in_order(&entries, &expected);
    assert_eq!(entries[0]["entry"]["action"], "stream.create");
    assert_eq!(entries[4]["entry"]["action"], "application.delete");
    assert_eq!(
        entries[4]["event_id"],
        format!("{project}:{}", entries[4]["entry"]["id"])
    );
    assert_eq!(entries[4]["project_id"], project);

    // Every delivery verifies with the documented recipe, and carries the custom header.
    for (index, delivery) in receiver.deliveries().iter().enumerate() {
        assert_eq!(delivery.path, "/hook");
        assert_eq!(
            delivery.header("content-type"),
            Some("application/x-ndjson")
        );
        assert_eq!(delivery.header("x-team"), Some("security"));
        // The handshake comes before the destination has an id.
        let id = (index > 0).then(|| destination.id.to_string());
        assert_eq!(delivery.header("auditlog-destination"), id.as_deref());
        let signature = delivery.header("auditlog-signature").expect("signed");
        let (t, v1) = signature
            .split_once(",v1=")
            .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
            .expect("t=…,v1=…");
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&delivery.body);
        assert_eq!(v1, hmac_hex(&secret, &signed), "the signature verifies");
        let mut forged = format!("{t}.").into_bytes();
        forged.extend_from_slice(&delivery.body);
        forged.push(b' ');
        assert_ne!(v1, hmac_hex(&secret, &forged));
    }

    // The list shows it caught up; the secret and header values are never shown again.
    let listed = wait_for_destination(&admin, project, destination.id, "caught up", |d| {
        d.delivered_entries == 5
    })
    .await;
    assert_eq!(listed.status, StreamStatus::Active);
    assert!(listed.last_delivery_at.is_some());
    let raw = admin
        .get(&format!("/api/v1/projects/{project}/streams"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!raw.contains(&secret) && !raw.contains("security"), "{raw}");

    // Deliveries are not requests: nothing but the requests above was recorded.
    assert!(
        app.entries(project).iter().all(|e| e.source == "dashboard"),
        "only the admin's requests are in the log"
    );
}

async fn a_failing_destination_backs_off_shows_why_and_catches_up(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    let destination = create_destination(
        &admin,
        project,
        json!({"name": "SIEM", "kind": "webhook", "url": receiver.url}),
    )
    .await
    .destination;
    let start = destination.delivered_through_seq;

    // The receiver fails: capture goes on, the destination retries and says why.
    receiver.set_mode(Mode::Fail(503));
    admin.create_application(project, "web", "img:1").await;
    let failing = wait_for_destination(&admin, project, destination.id, "retrying", |d| {
        d.consecutive_failures >= 2
    })
    .await;
    assert_eq!(failing.status, StreamStatus::Retrying);
    assert!(
        failing.last_error.as_deref().unwrap().contains("503"),
        "{failing:?}"
    );
    assert!(
        failing.lag_entries >= 1 && failing.lag_seconds >= 0.0,
        "{failing:?}"
    );
    assert!(failing.next_attempt_at.is_some());

    // Then it is down (connections closed unanswered), and capture still goes on.
    receiver.set_mode(Mode::Refuse);
    admin.create_application(project, "worker", "img:1").await;
    wait_for_destination(&admin, project, destination.id, "failing again", |d| {
        d.consecutive_failures > failing.consecutive_failures
            && d.last_error.as_deref().is_some_and(|e| !e.contains("503"))
    })
    .await;

    // "Send test event" says how the destination takes a message, without moving the cursor.
    let test: StreamTestResult = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/streams/{}/test", destination.id),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!test.delivered && test.error.is_some(), "{test:?}");

    // Back up: everything missed arrives once, in order, and the destination is healthy.
    receiver.set_mode(Mode::Accept);
    let expected: Vec<i64> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.chain_seq > start)
        .map(|e| e.chain_seq)
        .filter(|seq| *seq <= app.entries(project).last().unwrap().chain_seq)
        .collect();
    let entries = receiver
        .wait_for_entries(PATIENCE, "the missed entries", |got| {
            received_seqs(got).iter().collect::<BTreeSet<_>>().len() >= expected.len()
        })
        .await;
    let seqs = received_seqs(&entries);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in chain order once: {seqs:?}"
    );
    assert_eq!(seqs[..expected.len()], expected[..]);
    let healthy = wait_for_destination(&admin, project, destination.id, "active", |d| {
        d.status == StreamStatus::Active
    })
    .await;
    assert_eq!(healthy.consecutive_failures, 0);

    let test: StreamTestResult = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/streams/{}/test", destination.id),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(test.delivered, "{test:?}");
    assert_eq!(test.status, Some(200));
    assert!(receiver
        .deliveries()
        .iter()
        .flat_map(|d| d.lines())
        .any(|line| line["type"] == "auditlog.test"));

    // Paused, nothing is sent; resumed, what waited arrives.
    let paused = admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/streams/{}", destination.id),
            Some(json!({"paused": true})),
        )
        .await;
    assert_eq!(paused.status(), 200);
    let paused: StreamDestination = paused.json().await.unwrap();
    assert_eq!(paused.status, StreamStatus::Paused);
    let before = receiver.entries().len();
    admin
        .create_application(project, "paused-time", "img:1")
        .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        receiver.entries().len(),
        before,
        "a paused destination gets nothing"
    );
    let resumed = admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/streams/{}", destination.id),
            Some(json!({"paused": false})),
        )
        .await;
    assert_eq!(resumed.status(), 200);
    let entries = receiver
        .wait_for_entries(PATIENCE, "what waited while paused", |got| {
            got.iter()
                .any(|e| e["entry"]["resource"]["name"] == "paused-time")
        })
        .await;
    let seqs = received_seqs(&entries);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // The pause and the resume were recorded, with what changed.
    let update = app
        .entries(project)
        .into_iter()
        .filter(|e| e.action == "stream.update")
        .count();
    assert_eq!(update, 2);
}

async fn splunk_gets_hec_events_with_its_token(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    // Without a token, or with a webhook's token field, the request is refused by field.
    let missing = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/streams"),
            Some(json!({"name": "Splunk", "kind": "splunk_hec", "url": receiver.url})),
        )
        .await;
    assert_eq!(
        problem(missing, 400).await["invalid_params"][0]["name"],
        "token"
    );
    let created = create_destination(
        &admin,
        project,
        json!({"name": "Splunk", "kind": "splunk_hec", "url": receiver.url,
               "token": "11111111-2222-3333-4444-555555555555", "backfill": true}),
    )
    .await;
    assert!(created.signing_secret.is_none());
    assert_eq!(
        created.destination.url,
        format!("{}/services/collector/event", receiver.url)
    );
    admin.create_application(project, "web", "img:1").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let events = loop {
        let events: Vec<Value> = receiver
            .deliveries()
            .iter()
            .skip(1)
            .flat_map(|d| d.lines())
            .collect();
        if events
            .iter()
            .any(|e| e["event"]["entry"]["action"] == "application.create")
        {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for delivery in receiver.deliveries() {
        assert_eq!(delivery.path, "/services/collector/event");
        assert_eq!(
            delivery.header("authorization"),
            Some("Splunk 11111111-2222-3333-4444-555555555555")
        );
    }
    // Backfilled from the first kept entry: the whole chain so far, as HEC events.
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["event"]["entry"]["chain_seq"].as_i64().unwrap())
        .collect();
    let stored: Vec<i64> = app.entries(project).iter().map(|e| e.chain_seq).collect();
    assert_eq!(seqs, stored[..seqs.len()]);
    assert_eq!(seqs[0], 1);
    for event in &events {
        assert_eq!(event["sourcetype"], "auditlog:entry");
        assert_eq!(event["event"]["type"], "auditlog.entry");
        assert!(event["time"].as_f64().unwrap() > 1.7e9);
    }
}

async fn datadog_gets_json_logs_with_its_api_key(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    let missing = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/streams"),
            Some(json!({"name": "Datadog", "kind": "datadog", "url": receiver.url})),
        )
        .await;
    assert_eq!(
        problem(missing, 400).await["invalid_params"][0]["name"],
        "token"
    );
    let created = create_destination(
        &admin,
        project,
        json!({"name": "Datadog", "kind": "datadog", "url": receiver.url,
               "token": "dd0123456789abcdef", "filter": "action=application.create"}),
    )
    .await;
    assert_eq!(
        created.destination.url,
        format!("{}/api/v2/logs", receiver.url)
    );
    admin.create_application(project, "web", "img:1").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let logs = loop {
        let logs: Vec<Value> = receiver
            .deliveries()
            .iter()
            .flat_map(|d| {
                serde_json::from_slice::<Vec<Value>>(&d.body).expect("a JSON array of logs")
            })
            .collect();
        if logs
            .iter()
            .any(|log| log["ddtags"].as_str().unwrap().contains("auditlog.entry"))
        {
            break logs;
        }
        assert!(tokio::time::Instant::now() < deadline, "{logs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for delivery in receiver.deliveries() {
        assert_eq!(delivery.path, "/api/v2/logs");
        assert_eq!(delivery.header("dd-api-key"), Some("dd0123456789abcdef"));
        assert_eq!(delivery.header("content-type"), Some("application/json"));
    }
    let entry = logs
        .iter()
        .find(|log| log["ddtags"] == format!("event_type:auditlog.entry,project_id:{project}"))
        .unwrap();
    assert_eq!(entry["ddsource"], "auditlog");
    let message: Value = serde_json::from_str(entry["message"].as_str().unwrap()).unwrap();
    assert_eq!(message["type"], "auditlog.entry");
    assert_eq!(message["entry"]["action"], "application.create");
    assert_eq!(message["entry"]["resource"]["name"], "web");
}

async fn syslog_gets_rfc_5424_messages_over_tcp(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let collector = SyslogCollector::start().await;
    let base = format!("/api/v1/projects/{project}/streams");
    // A token or headers make no sense for syslog; TLS to a collector that does not speak it
    // fails its handshake, so the destination is not kept.
    for (body, field) in [
        (
            json!({"name": "Syslog", "kind": "syslog", "url": collector.url, "token": "x"}),
            "token",
        ),
        (
            json!({"name": "Syslog", "kind": "syslog", "url": collector.url, "headers": {"X-A": "b"}}),
            "headers",
        ),
        (
            json!({"name": "Syslog", "kind": "syslog", "url": collector.url.replace("syslog://", "syslog+tls://")}),
            "url",
        ),
        (
            json!({"name": "Syslog", "kind": "syslog", "url": collector.url.replace("syslog://", "https://")}),
            "url",
        ),
    ] {
        let response = admin.send(Method::POST, &base, Some(body.clone())).await;
        let problem = problem(response, 400).await;
        assert_eq!(
            problem["invalid_params"][0]["name"], field,
            "{body}: {problem}"
        );
    }
    // Something that answers (a web server on the port) is not a syslog collector.
    let web_server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_port = web_server.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = web_server.accept().await {
            let mut request = [0_u8; 1024];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let response = admin
        .send(
            Method::POST,
            &base,
            Some(json!({"name": "Syslog", "kind": "syslog", "url": format!("syslog://127.0.0.1:{web_port}")})),
        )
        .await;
    let body = problem(response, 400).await;
    assert!(
        body["invalid_params"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("400 Bad Request")
            || body["detail"].as_str().unwrap().contains("400 Bad Request"),
        "{body}"
    );
    let created = create_destination(
        &admin,
        project,
        json!({"name": "Syslog", "kind": "syslog", "url": collector.url, "filter": "method.not=GET"}),
    )
    .await;
    assert!(created.signing_secret.is_none());
    for name in ["web", "worker"] {
        admin.create_application(project, name, "img:1").await;
    }
    let expected: Vec<i64> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.method != "GET" && e.chain_seq > created.destination.delivered_through_seq)
        .map(|e| e.chain_seq)
        .collect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let entries = loop {
        let entries: Vec<SyslogMessage> = collector
            .messages()
            .into_iter()
            .filter(|m| m.msgid == "entry")
            .collect();
        if entries.len() >= expected.len() {
            break entries;
        }
        assert!(tokio::time::Instant::now() < deadline, "{entries:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Nothing else than the refused destination's TLS ClientHello (a handshake record: 0x16,
    // version 3.x) was not a syslog frame.
    let malformed = collector.malformed();
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert!(malformed[0].starts_with("\u{16}\u{3}"), "{malformed:?}");
    // The handshake's test message came first.
    assert_eq!(collector.messages()[0].msgid, "test");
    let seqs: Vec<i64> = entries
        .iter()
        .map(|m| m.json["entry"]["chain_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs[..expected.len()], expected[..]);
    for message in &entries {
        // Facility 13 (log audit), severity 6 (informational).
        assert_eq!(message.priority, 13 * 8 + 6, "{}", message.line);
        assert_eq!(
            message.structured_data,
            format!(
                "[auditlog@32473 event_id=\"{}\" project_id=\"{project}\"]",
                message.json["event_id"].as_str().unwrap()
            )
        );
        assert_eq!(message.json["type"], "auditlog.entry");
    }
    assert!(entries
        .iter()
        .any(|m| m.json["entry"]["resource"]["name"] == "worker"));
}

async fn filters_pick_exactly_the_entries_the_same_query_lists(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    for name in ["billing-api", "web", "billing-worker"] {
        let id = admin.create_application(project, name, "img:1").await;
        admin
            .get(&format!("/api/v1/projects/{project}/applications/{id}"))
            .await;
    }
    admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/tokens"),
            Some(json!({"name": "ci", "role": "developer"})),
        )
        .await;
    let receiver = Receiver::start().await;
    let filter = "action=application.*&q=billing";
    let destination = create_destination(
        &admin,
        project,
        json!({"name": "Billing", "kind": "webhook", "url": receiver.url, "filter": filter, "backfill": true}),
    )
    .await
    .destination;
    // The audit log's own list of the same filter, over the window that holds everything.
    let page: auditlog_shared::wire::AuditPage = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?range=30d&limit=200&{filter}"
        ))
        .await
        .json()
        .await
        .unwrap();
    let mut expected: Vec<i64> = page.entries.iter().map(|e| e.chain_seq).collect();
    expected.sort_unstable();
    assert_eq!(
        expected.len(),
        4,
        "two creates and two reads of billing applications"
    );
    let entries = receiver
        .wait_for_entries(PATIENCE, "the billing entries", |got| {
            got.len() >= expected.len()
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_exactly_in_order(&receiver.entries(), &expected);
    assert!(entries.iter().all(|e| e["entry"]["resource"]["name"]
        .as_str()
        .unwrap()
        .contains("billing")));
    let caught_up = wait_for_destination(&admin, project, destination.id, "caught up", |d| {
        d.lag_entries == 0
    })
    .await;
    assert_eq!(caught_up.delivered_entries, 4);
}

async fn destinations_are_checked_and_only_the_projects_admins_manage_them(backend: Backend) {
    // A server with the default policy: no private networks.
    let app = TestApp::spawn_with(backend, |settings| {
        settings.stream_allow_private_networks = false;
    })
    .await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}/streams");
    let receiver = Receiver::start().await;
    let receiver_port = receiver.url.rsplit(':').next().unwrap().to_string();
    for (url, why) in [
        (receiver.url.clone(), "plain http to a loopback receiver"),
        (
            format!("https://127.0.0.1:{receiver_port}/"),
            "https to a loopback receiver",
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{receiver_port}/"),
            "loopback as IPv6",
        ),
        ("https://127.0.0.1:9/hook".into(), "loopback"),
        (
            "https://169.254.169.254/latest/meta-data".into(),
            "cloud metadata",
        ),
        ("https://[::ffff:10.0.0.1]/".into(), "private IPv4 in IPv6"),
        ("https://localhost/hook".into(), "localhost"),
        ("https://0x7f000001/".into(), "loopback spelled in hex"),
        (
            "https://user:secret@example.com/".into(),
            "credentials in the URL",
        ),
        ("file:///etc/passwd".into(), "not http"),
    ] {
        let response = admin
            .send(
                Method::POST,
                &base,
                Some(json!({"name": "x", "kind": "webhook", "url": url})),
            )
            .await;
        let body = problem(response, 400).await;
        assert_eq!(body["invalid_params"][0]["name"], "url", "{why}: {body}");
        assert!(
            !body["detail"].as_str().unwrap().contains("verification"),
            "{why}: refused before any contact: {body}"
        );
    }
    assert_eq!(
        receiver.attempts(),
        0,
        "the server never called the receiver"
    );

    // A name that resolves to a private address is refused when the delivery connects.
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}/streams");
    for (body, field) in [
        (
            json!({"name": "x", "kind": "webhook", "url": receiver.url, "filter": "range=24h"}),
            "filter",
        ),
        (
            json!({"name": "x", "kind": "webhook", "url": receiver.url, "filter": "colour=red"}),
            "filter",
        ),
        (
            json!({"name": "x", "kind": "webhook", "url": receiver.url, "headers": {"Authorization": "x"}}),
            "headers",
        ),
        (
            json!({"name": "x", "kind": "webhook", "url": receiver.url, "headers": {"X-A": "a\r\nB: b"}}),
            "headers",
        ),
        (
            json!({"name": "x", "kind": "webhook", "url": receiver.url, "token": "t"}),
            "token",
        ),
    ] {
        let response = admin.send(Method::POST, &base, Some(body.clone())).await;
        let problem = problem(response, 400).await;
        assert_eq!(
            problem["invalid_params"][0]["name"], field,
            "{body}: {problem}"
        );
    }
    let unknown_field = admin
        .send(
            Method::POST,
            &base,
            Some(json!({"name": "x", "kind": "webhook", "url": receiver.url, "secret": "mine"})),
        )
        .await;
    problem(unknown_field, 400).await;

    // A destination that does not take the handshake is not created.
    receiver.set_mode(Mode::Fail(500));
    let refused = admin
        .send(
            Method::POST,
            &base,
            Some(json!({"name": "SIEM", "kind": "webhook", "url": receiver.url})),
        )
        .await;
    let body = problem(refused, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("500"), "{body}");
    assert!(destinations(&admin, project).await.is_empty());
    receiver.set_mode(Mode::Accept);
    let destination = create_destination(
        &admin,
        project,
        json!({"name": "SIEM", "kind": "webhook", "url": receiver.url}),
    )
    .await
    .destination;
    let duplicate = admin
        .send(
            Method::POST,
            &base,
            Some(json!({"name": "SIEM", "kind": "webhook", "url": receiver.url})),
        )
        .await;
    problem(duplicate, 409).await;
    let item = format!("{base}/{}", destination.id);

    // A developer of the project, and the admin of another project, get nowhere.
    let (_, developer) = app
        .add_member(
            &admin,
            project,
            "dev@example.com",
            "Dev",
            "dev's long password",
            Role::Developer,
        )
        .await;
    problem(developer.get(&base).await, 403).await;
    problem(
        developer
            .send(Method::PATCH, &item, Some(json!({"paused": true})))
            .await,
        403,
    )
    .await;
    problem(developer.send(Method::DELETE, &item, None).await, 403).await;
    let outsider = app.outsider_admin("Other").await;
    problem(outsider.get(&base).await, 404).await;
    let other_project: i64 = {
        let projects: Value = outsider.get("/api/v1/projects").await.json().await.unwrap();
        projects[0]["id"].as_i64().unwrap()
    };
    // Through the outsider's own project, this project's destination id is not found.
    let foreign = format!(
        "/api/v1/projects/{other_project}/streams/{}",
        destination.id
    );
    problem(outsider.send(Method::DELETE, &foreign, None).await, 404).await;
    problem(
        outsider
            .send(Method::POST, &format!("{foreign}/test"), None)
            .await,
        404,
    )
    .await;
    problem(
        outsider
            .send(Method::PATCH, &foreign, Some(json!({"url": receiver.url})))
            .await,
        404,
    )
    .await;
    // Re-spelled ids are refused, not resolved to the destination.
    problem(
        admin
            .send(Method::DELETE, &format!("{base}/0{}", destination.id), None)
            .await,
        400,
    )
    .await;
    assert_eq!(destinations(&admin, project).await.len(), 1);

    // A revoked admin token and a removed admin's live session are refused.
    let token = app
        .create_token(&admin, project, "stream-admin", Role::Admin, false)
        .await;
    let token_caller = app.token_caller(&token.secret);
    assert_eq!(token_caller.get(&base).await.status(), 200);
    app.revoke_token(&admin, project, token.token.id).await;
    problem(token_caller.get(&base).await, 401).await;
    problem(
        token_caller
            .send(Method::POST, &format!("{item}/test"), None)
            .await,
        401,
    )
    .await;
    let (member_id, member) = app
        .add_member(
            &admin,
            project,
            "mallory@example.com",
            "Mallory",
            "mallory's long password",
            Role::Admin,
        )
        .await;
    assert_eq!(member.get(&base).await.status(), 200);
    let removed = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/members/{member_id}"),
            None,
        )
        .await;
    assert!(removed.status().is_success(), "{}", removed.status());
    problem(member.send(Method::DELETE, &item, None).await, 401).await;
    problem(
        member
            .send(
                Method::PATCH,
                &item,
                Some(json!({"url": "https://attacker.example/hook"})),
            )
            .await,
        401,
    )
    .await;
    assert_eq!(destinations(&admin, project).await.len(), 1);

    // Changes are recorded with what changed; deleting stops it.
    let renamed = admin
        .send(
            Method::PATCH,
            &item,
            Some(json!({"name": "Security SIEM", "filter": "method=DELETE"})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let deleted = admin.send(Method::DELETE, &item, None).await;
    assert_eq!(deleted.status(), 204);
    assert!(destinations(&admin, project).await.is_empty());
    // Every attempt is recorded, refused ones included.
    let recorded: Vec<(String, i32)> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.action.starts_with("stream.") && e.action != "stream.list")
        .map(|e| (e.action, e.status_code))
        .collect();
    let created = recorded
        .iter()
        .filter(|(action, status)| action == "stream.create" && *status == 201)
        .count();
    assert_eq!(created, 1, "{recorded:?}");
    assert!(
        recorded.iter().filter(|(_, status)| *status == 400).count() >= 7,
        "{recorded:?}"
    );
    assert!(
        recorded.ends_with(&[("stream.update".into(), 200), ("stream.delete".into(), 204)]),
        "{recorded:?}"
    );
    let page: auditlog_shared::wire::AuditPage = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?action=stream.update"
        ))
        .await
        .json()
        .await
        .unwrap();
    let changes = &page.entries[0].changes;
    assert!(
        changes
            .iter()
            .any(|c| c.field == "filter" && c.after.as_deref() == Some("method=DELETE")),
        "{changes:?}"
    );
}

async fn servers_sharing_a_database_deliver_each_entry_once(backend: Backend) {
    let app = streaming_app(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    // A second server on the same database, with its own data directory (its own name).
    let (second_address, _second_dir) = app.spawn_second_server();

    let receiver = Receiver::start().await;
    let destination = create_destination(
        &admin,
        project,
        json!({"name": "SIEM", "kind": "webhook", "url": receiver.url}),
    )
    .await
    .destination;
    // Requests through both servers.
    let mut through_second = admin.clone();
    through_second.address = second_address;
    for round in 0..6 {
        let caller = if round % 2 == 0 {
            &admin
        } else {
            &through_second
        };
        caller
            .create_application(project, &format!("app-{round}"), "img:1")
            .await;
    }
    let expected: Vec<i64> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.chain_seq > destination.delivered_through_seq)
        .map(|e| e.chain_seq)
        .collect();
    receiver
        .wait_for_entries(PATIENCE, "every entry", |got| got.len() >= expected.len())
        .await;
    // Both servers poll; one holds the lease, so nothing arrives twice.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_exactly_in_order(&receiver.entries(), &expected);
}

crate::on_both_backends!(
    a_webhook_receives_every_matching_entry_signed_and_in_chain_order,
    a_failing_destination_backs_off_shows_why_and_catches_up,
    splunk_gets_hec_events_with_its_token,
    syslog_gets_rfc_5424_messages_over_tcp,
    datadog_gets_json_logs_with_its_api_key,
    filters_pick_exactly_the_entries_the_same_query_lists,
    destinations_are_checked_and_only_the_projects_admins_manage_them,
    servers_sharing_a_database_deliver_each_entry_once,
);
