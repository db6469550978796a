//! Streaming under failure: a server killed with SIGKILL in the middle of delivering, and a
//! receiver that is down for a while, still end with every committed entry delivered at least
//! once, in chain order.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use auditlog_shared::wire::CreatedStreamDestination;
use auditlog_tests::receiver::{Mode, Receiver};
use auditlog_tests::{
    create_admin, sign_in, AdminAccount, Backend, ServerProcess, StoredDatabase, TestDatabase,
    STREAMING_FLAGS,
};
use serde_json::json;

use crate::runtime;

/// How long the receiver is down after the restart.
const RECEIVER_DOWN: Duration = Duration::from_secs(60);

/// The chain positions of received entries, and the first occurrence of each in order.
fn first_occurrences(receiver: &Receiver) -> (usize, Vec<i64>) {
    let entries = receiver.entries();
    let mut seen = BTreeSet::new();
    let firsts = entries
        .iter()
        .map(|e| e["entry"]["chain_seq"].as_i64().expect("a chain position"))
        .filter(|seq| seen.insert(*seq))
        .collect();
    (entries.len(), firsts)
}

fn deliveries_survive_a_kill_and_a_receiver_that_was_down(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let static_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path());
    let data_dir = dir.path().join("data");
    let admin = AdminAccount::ada();
    let project = create_admin(database.url(), &data_dir, &admin);
    let mut server = ServerProcess::start_with_args(
        database.url(),
        &data_dir,
        static_dir.path(),
        &STREAMING_FLAGS,
    );
    let runtime = runtime();
    let client = reqwest::Client::new();
    let receiver = runtime.block_on(Receiver::start());
    let session = runtime.block_on(sign_in(
        &client,
        server.url(),
        &admin.email,
        &admin.password,
    ));

    let created: CreatedStreamDestination = runtime.block_on(async {
        let response = session
            .authorize(client.post(session.project_url(project, "/streams")))
            .json(&json!({"name": "SIEM", "kind": "webhook", "url": receiver.url}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    });
    let start = created.destination.delivered_through_seq;

    // Delivery is under way (the destination's own creation arrived) …
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.entries().is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing was delivered within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // … then a slow receiver (it records a delivery only once it answers, 2 s after it arrived)
    // and a burst of requests: deliveries trail capture, and the server dies right after the
    // burst, with a delivery in flight and more waiting.
    receiver.set_mode(Mode::AcceptAfter(2_000));
    runtime.block_on(async {
        let writers: Vec<_> = (0..4)
            .map(|worker| {
                let (client, session) = (client.clone(), session.clone());
                tokio::spawn(async move {
                    for n in 0..40 {
                        let response = session
                            .authorize(client.post(session.project_url(project, "/applications")))
                            .json(&json!({"name": format!("app-{worker}-{n}"), "image": "img:1"}))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(response.status(), 201);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });

    server.kill();
    let mut stored = StoredDatabase::open(database.url());
    let expected: Vec<i64> = stored
        .audit_entries(project)
        .into_iter()
        .map(|e| e.chain_seq)
        .filter(|seq| *seq > start)
        .collect();
    let (_, before_restart) = first_occurrences(&receiver);
    assert!(
        before_restart.len() < expected.len(),
        "the kill came after everything was delivered ({} of {})",
        before_restart.len(),
        expected.len()
    );

    // The receiver is down when the server comes back: the server retries until it is up.
    receiver.set_mode(Mode::Refuse);
    let attempts_before = receiver.attempts();
    let server = ServerProcess::start_with_args(
        database.url(),
        &data_dir,
        static_dir.path(),
        &STREAMING_FLAGS,
    );
    // A minute down: the server keeps retrying (at most a second apart here), loses nothing.
    std::thread::sleep(RECEIVER_DOWN);
    assert!(
        receiver.attempts() > attempts_before + 10,
        "the restarted server retried the receiver ({} attempts)",
        receiver.attempts() - attempts_before
    );
    receiver.set_mode(Mode::Accept);

    // Every entry committed after the destination was created arrives, in chain order; the kill
    // may repeat a batch (at least once), never skip one.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (received, firsts) = first_occurrences(&receiver);
        if firsts.len() >= expected.len() {
            assert_eq!(
                firsts[..expected.len()],
                expected[..],
                "in chain order, without gaps"
            );
            eprintln!(
                "streaming kill test on {}: {} entries, {} deliveries of them ({} repeated after the kill)",
                backend.engine(),
                expected.len(),
                received,
                received - firsts.len()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} entries arrived within 30 s of the restart",
            firsts.len(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
}

mod sqlite {
    #[test]
    fn deliveries_survive_a_kill_and_a_receiver_that_was_down() {
        super::deliveries_survive_a_kill_and_a_receiver_that_was_down(super::Backend::Sqlite)
    }
}

mod postgres {
    #[test]
    fn deliveries_survive_a_kill_and_a_receiver_that_was_down() {
        super::deliveries_survive_a_kill_and_a_receiver_that_was_down(super::Backend::Postgres)
    }
}
