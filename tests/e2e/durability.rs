//! Capture under stress: a server killed with SIGKILL in the middle of
//! traffic keeps every entry it acknowledged, and two servers on one PostgreSQL database extend
//! one unbroken hash chain.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditlog_shared::wire::Role;
use auditlog_tests::{
    chain_defect, create_admin, random_secret_key, sign_in, AdminAccount, Backend, ServerProcess,
    StoredDatabase, StoredEntry, TestDatabase,
};
use reqwest::Client;

use crate::runtime;

/// What became of one request that asked to create a resource.
#[derive(Clone, Debug)]
enum Outcome {
    /// A 2xx answer: the server said it was done (and recorded).
    Acknowledged { status: u16, request_id: String },
    /// Any other answer.
    Refused { status: u16, body: String },
    /// No answer: the connection failed. `after_kill` says whether the server had already been
    /// told to die when the failure was seen.
    NoAnswer { after_kill: bool, error: String },
}

#[derive(Clone, Debug)]
struct Attempt {
    /// `applications` or `clusters`.
    collection: &'static str,
    name: String,
    outcome: Outcome,
}

impl Attempt {
    /// One line for a failure message.
    fn describe(&self) -> String {
        let what = format!("creating {} {}", self.collection, self.name);
        match &self.outcome {
            Outcome::Acknowledged { status, request_id } => {
                format!("{what}: {status}, request {request_id}")
            }
            Outcome::Refused { status, body } => format!("{what}: {status} {body}"),
            Outcome::NoAnswer { after_kill, error } => {
                let when = if *after_kill { "after" } else { "before" };
                format!("{what}: no answer ({when} the kill): {error}")
            }
        }
    }
}

/// The lines describing some attempts.
fn describe_all(attempts: &[&Attempt]) -> String {
    attempts
        .iter()
        .map(|attempt| attempt.describe())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The signals a load loop reads.
#[derive(Clone, Default)]
struct LoadControl {
    /// Stop sending new requests.
    stop: Arc<AtomicBool>,
    /// The server is being killed: connection failures from now on are expected.
    killed: Arc<AtomicBool>,
    /// Requests acknowledged so far, across all loops.
    acknowledged: Arc<AtomicUsize>,
}

/// One client's loop: creates resources named `<prefix>-<n>` in `collection` one after another
/// with the bearer `secret`, until `limit` requests were sent, `control.stop` is set, or the
/// server stops answering.
async fn create_resources(
    client: Client,
    url: String,
    collection: &'static str,
    secret: String,
    prefix: String,
    limit: usize,
    control: LoadControl,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for n in 0..limit {
        if control.stop.load(Ordering::SeqCst) {
            break;
        }
        let name = format!("{prefix}-{n}");
        let body = match collection {
            "applications" => serde_json::json!({"name": name, "image": "registry/load:1"}),
            _ => serde_json::json!({"name": name, "region": "eu-west-1"}),
        };
        let sent = client
            .post(&url)
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await;
        let outcome = match sent {
            Ok(response) if response.status().is_success() => {
                let status = response.status().as_u16();
                let request_id = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                control.acknowledged.fetch_add(1, Ordering::SeqCst);
                // The answer's head is the acknowledgement; the body may be cut off by the kill.
                let _ = response.bytes().await;
                Outcome::Acknowledged { status, request_id }
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                Outcome::Refused { status, body }
            }
            Err(error) => Outcome::NoAnswer {
                after_kill: control.killed.load(Ordering::SeqCst),
                error: format!("{error:#}"),
            },
        };
        let stop = matches!(outcome, Outcome::NoAnswer { .. });
        attempts.push(Attempt {
            collection,
            name,
            outcome,
        });
        if stop {
            break;
        }
    }
    attempts
}

fn http_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client")
}

/// Attempts the server answered with a 2xx status.
fn acknowledged(attempts: &[Attempt]) -> Vec<(&Attempt, &str)> {
    attempts
        .iter()
        .filter_map(|attempt| match &attempt.outcome {
            Outcome::Acknowledged { request_id, .. } => Some((attempt, request_id.as_str())),
            _ => None,
        })
        .collect()
}

/// Checks every acknowledged creation against the stored entries: an entry with the request id
/// the client was given, the create action, the answered status and the resource's name. Returns
/// one line per problem.
fn unrecorded_acknowledgements(attempts: &[Attempt], entries: &[StoredEntry]) -> Vec<String> {
    let by_request: HashMap<&str, &StoredEntry> = entries
        .iter()
        .map(|entry| (entry.request_id.as_str(), entry))
        .collect();
    let mut problems = Vec::new();
    for attempt in attempts {
        let Outcome::Acknowledged { status, request_id } = &attempt.outcome else {
            continue;
        };
        let action = match attempt.collection {
            "applications" => "application.create",
            _ => "cluster.create",
        };
        if request_id.is_empty() {
            problems.push(format!(
                "creating {} was acknowledged ({status}) without an x-request-id header",
                attempt.name
            ));
            continue;
        }
        match by_request.get(request_id.as_str()) {
            None => problems.push(format!(
                "creating {} was acknowledged ({status}, request {request_id}) but no audit entry \
                 has that request id",
                attempt.name
            )),
            Some(entry)
                if entry.action != action
                    || entry.status_code != i32::from(*status)
                    || entry.resource_name != attempt.name =>
            {
                problems.push(format!(
                    "creating {} (request {request_id}, {status}) is recorded as {} {} on {:?}",
                    attempt.name, entry.action, entry.status_code, entry.resource_name
                ))
            }
            Some(_) => {}
        }
    }
    problems
}

/// Kills the server with SIGKILL while clients are creating applications, restarts it on the
/// same database and data directory, and checks that nothing acknowledged was lost, that no
/// application exists without its entry, and that the chain still verifies.
fn acknowledged_requests_survive_a_kill(backend: Backend) {
    const CLIENTS: usize = 8;
    const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1_500);
    const KILL_WINDOW: Duration = Duration::from_secs(3);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let static_dir = tempfile::tempdir().expect("a temporary directory");
    let database = TestDatabase::create(backend, dir.path());
    let data_dir = dir.path().join("data");
    let admin = AdminAccount::ada();
    let project_id = create_admin(database.url(), &data_dir, &admin);
    let mut server = ServerProcess::start(database.url(), &data_dir, static_dir.path());
    let runtime = runtime();
    let client = http_client();

    let session = runtime.block_on(sign_in(
        &client,
        server.url(),
        &admin.email,
        &admin.password,
    ));
    let token =
        runtime.block_on(session.create_token(&client, project_id, "load", Role::Developer));

    let control = LoadControl::default();
    let url = session.project_url(project_id, "/applications");
    let mut watcher = StoredDatabase::open(database.url());
    let mut killed_mid_capture = false;
    let attempts: Vec<Attempt> = runtime.block_on(async {
        let loops: Vec<_> = (0..CLIENTS)
            .map(|worker| {
                tokio::spawn(create_resources(
                    client.clone(),
                    url.clone(),
                    "applications",
                    token.secret.clone(),
                    format!("app-{worker}"),
                    usize::MAX,
                    control.clone(),
                ))
            })
            .collect();

        // Let the load run, then kill the server while requests are in flight. Past
        // LOAD_BEFORE_KILL the kill waits (up to KILL_WINDOW) for the moment the database holds
        // an application whose creation is not recorded yet: a request between its handler and
        // its audit entry, the moment a crash must not turn into an unrecorded action.
        let started = Instant::now();
        let deadline = started + Duration::from_secs(20);
        loop {
            assert!(
                Instant::now() < deadline,
                "no application was created within 20 s of load"
            );
            let elapsed = started.elapsed();
            if elapsed >= LOAD_BEFORE_KILL && control.acknowledged.load(Ordering::SeqCst) > 0 {
                if elapsed >= LOAD_BEFORE_KILL + KILL_WINDOW {
                    break;
                }
                let pending = tokio::task::block_in_place(|| {
                    watcher.unrecorded_applications(project_id).len()
                });
                if pending > 0 {
                    killed_mid_capture = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        control.killed.store(true, Ordering::SeqCst);
        server.kill();
        control.stop.store(true, Ordering::SeqCst);

        let mut attempts = Vec::new();
        for handle in loops {
            let finished = tokio::time::timeout(Duration::from_secs(20), handle)
                .await
                .expect("every client loop ends within 20 s of the kill")
                .expect("a client loop panicked");
            attempts.extend(finished);
        }
        attempts
    });
    drop(server);
    drop(watcher);

    let acknowledged_count = acknowledged(&attempts).len();
    let cut_off = attempts
        .iter()
        .filter(|a| {
            matches!(
                a.outcome,
                Outcome::NoAnswer {
                    after_kill: true,
                    ..
                }
            )
        })
        .count();
    let summary = format!(
        "{} requests sent, {acknowledged_count} acknowledged, {cut_off} cut off by the kill{}",
        attempts.len(),
        if killed_mid_capture {
            ", killed while an application's creation was not yet recorded"
        } else {
            ""
        }
    );
    eprintln!("kill test on {}: {summary}", backend.engine());
    assert!(
        acknowledged_count > 0,
        "nothing was acknowledged: {summary}"
    );

    // Before the kill every request must have been answered, and answered with success or, under
    // overload, 503 (which promises the request was not carried out).
    let early_failures: Vec<&Attempt> = attempts
        .iter()
        .filter(|attempt| match &attempt.outcome {
            Outcome::Acknowledged { .. } => false,
            Outcome::Refused { status, .. } => *status != 503,
            Outcome::NoAnswer { after_kill, .. } => !after_kill,
        })
        .collect();
    assert!(
        early_failures.is_empty(),
        "requests failed before the kill ({summary}):\n{}",
        describe_all(&early_failures)
    );
    let shed: HashSet<&str> = attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Refused { status: 503, .. }))
        .map(|a| a.name.as_str())
        .collect();

    // The server comes back on the same database and data directory (so with the same key).
    let server = ServerProcess::start(database.url(), &data_dir, static_dir.path());
    // Signing in is itself recorded, so the stored entries are read after it.
    let session = runtime.block_on(sign_in(
        &client,
        server.url(),
        &admin.email,
        &admin.password,
    ));
    let mut stored = StoredDatabase::open(database.url());
    let entries = stored.audit_entries(project_id);
    let applications = stored.applications(project_id);

    let lost = unrecorded_acknowledgements(&attempts, &entries);
    assert!(
        lost.is_empty(),
        "{} of {acknowledged_count} acknowledged requests have no matching audit entry after the \
         kill ({summary}):\n{}",
        lost.len(),
        lost.join("\n")
    );

    // The chain is whole: the kill left no half-written link behind.
    assert_eq!(chain_defect(&entries), None, "{summary}");
    let report = runtime.block_on(session.verify(&client, project_id));
    assert!(
        report.ok,
        "verify after the restart: {report:?} ({summary})"
    );
    assert_eq!(
        report.checked as usize,
        entries.len(),
        "verify checked a different number of entries than are stored ({summary})"
    );

    // Nothing was carried out without being recorded: not a request shed with 503, and not one
    // whose answer the kill cut off (nothing is ever silently lost).
    let carried_out_anyway: Vec<&str> = applications
        .iter()
        .filter(|app| shed.contains(app.name.as_str()))
        .map(|app| app.name.as_str())
        .collect();
    assert!(
        carried_out_anyway.is_empty(),
        "requests answered 503 were carried out anyway: {carried_out_anyway:?}"
    );
    let created_entries: HashSet<i64> = entries
        .iter()
        .filter(|e| e.action == "application.create" && (200..300).contains(&e.status_code))
        .filter_map(|e| e.resource_id)
        .collect();
    let unrecorded: Vec<String> = applications
        .iter()
        .filter(|app| !created_entries.contains(&app.id))
        .map(|app| {
            let named = entries.iter().any(|e| e.resource_name == app.name);
            let answered = attempts
                .iter()
                .find(|a| a.name == app.name)
                .map_or_else(|| "never requested".to_string(), Attempt::describe);
            format!(
                "#{} {} ({}; {answered})",
                app.id,
                app.name,
                if named {
                    "an entry names it, but not as its creation"
                } else {
                    "no entry names it"
                }
            )
        })
        .collect();
    assert!(
        unrecorded.is_empty(),
        "{} of {} applications in the database have no application.create entry: they were \
         created but their creation was never recorded ({summary}):\n{}",
        unrecorded.len(),
        applications.len(),
        unrecorded.join("\n")
    );
}

/// Two servers with one secret key on one PostgreSQL database, started at the same moment (their
/// migrations must not collide), take concurrent writes to one project: every acknowledged request
/// has its entry and the entries form one chain `1..=N`, which both servers verify.
#[test]
fn two_servers_on_one_postgres_database_extend_one_chain() {
    const LOOPS_PER_SERVER: usize = 4;
    const REQUESTS_PER_LOOP: usize = 150;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let static_dir = tempfile::tempdir().expect("a temporary directory");
    let database = TestDatabase::create(Backend::Postgres, dir.path());
    let secret = random_secret_key();
    let servers: Vec<ServerProcess> = std::thread::scope(|scope| {
        let starting: Vec<_> = ["data-a", "data-b"]
            .into_iter()
            .map(|data| {
                let (url, data_dir) = (database.url(), dir.path().join(data));
                let (static_dir, secret) = (static_dir.path(), secret.as_str());
                scope.spawn(move || {
                    ServerProcess::start_with_args(
                        url,
                        &data_dir,
                        static_dir,
                        &["--secret-key", secret],
                    )
                })
            })
            .collect();
        starting
            .into_iter()
            .map(|handle| handle.join().expect("a server starts"))
            .collect()
    });
    let admin = AdminAccount::ada();
    let project_id = create_admin(database.url(), &dir.path().join("data-a"), &admin);
    let runtime = runtime();
    let client = http_client();

    // Set up through the first server: two recorded requests (the sign-in and the token's
    // creation).
    let session = runtime.block_on(sign_in(
        &client,
        servers[0].url(),
        &admin.email,
        &admin.password,
    ));
    let token = runtime.block_on(session.create_token(&client, project_id, "load", Role::Admin));
    const SETUP_ENTRIES: usize = 2;

    let started = Instant::now();
    let control = LoadControl::default();
    let attempts: Vec<Attempt> = runtime.block_on(async {
        let mut loops = Vec::new();
        for (server_index, server) in servers.iter().enumerate() {
            let on_server = session.on(server.url());
            for worker in 0..LOOPS_PER_SERVER {
                let collection = if worker % 2 == 0 {
                    "applications"
                } else {
                    "clusters"
                };
                loops.push(tokio::spawn(create_resources(
                    client.clone(),
                    on_server.project_url(project_id, &format!("/{collection}")),
                    collection,
                    token.secret.clone(),
                    format!("s{server_index}-w{worker}"),
                    REQUESTS_PER_LOOP,
                    control.clone(),
                )));
            }
        }
        let mut attempts = Vec::new();
        for handle in loops {
            let finished = tokio::time::timeout(Duration::from_secs(25), handle)
                .await
                .expect("every client loop ends within 25 s")
                .expect("a client loop panicked");
            attempts.extend(finished);
        }
        attempts
    });
    eprintln!(
        "two servers: {} requests in {:.1} s",
        attempts.len(),
        started.elapsed().as_secs_f64()
    );

    let failures: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| !matches!(a.outcome, Outcome::Acknowledged { .. }))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests were not acknowledged:\n{}",
        failures.len(),
        attempts.len(),
        describe_all(&failures)
    );
    assert_eq!(
        attempts.len(),
        2 * LOOPS_PER_SERVER * REQUESTS_PER_LOOP,
        "every loop sent all its requests"
    );

    let mut stored = StoredDatabase::open(database.url());
    let entries = stored.audit_entries(project_id);
    assert_eq!(
        entries.len(),
        attempts.len() + SETUP_ENTRIES,
        "entries stored vs. {} acknowledged requests + {SETUP_ENTRIES} setup requests",
        attempts.len()
    );
    let lost = unrecorded_acknowledgements(&attempts, &entries);
    assert!(lost.is_empty(), "{}", lost.join("\n"));
    let distinct_requests: HashSet<&str> = entries.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(
        distinct_requests.len(),
        entries.len(),
        "some request was recorded twice"
    );
    assert_eq!(chain_defect(&entries), None);

    // The servers really wrote concurrently: along the chain, entries of the two servers'
    // requests alternate many times rather than forming one block per server.
    let server_of: HashMap<&str, &str> = acknowledged(&attempts)
        .into_iter()
        .map(|(attempt, request_id)| (request_id, &attempt.name[..2]))
        .collect();
    let along_chain: Vec<&str> = entries
        .iter()
        .filter_map(|entry| server_of.get(entry.request_id.as_str()).copied())
        .collect();
    let switches = along_chain.windows(2).filter(|w| w[0] != w[1]).count();
    eprintln!("two servers: their entries alternate {switches} times along the chain");
    assert!(
        switches >= 10,
        "the two servers' entries alternate only {switches} times along the chain"
    );
    for (collection, count) in [
        ("applications", stored.applications(project_id).len()),
        ("clusters", stored.clusters(project_id).len()),
    ] {
        let sent = attempts
            .iter()
            .filter(|a| a.collection == collection)
            .count();
        assert_eq!(count, sent, "{collection} stored vs. acknowledged");
    }

    // Both servers verify the whole chain; each verification is itself recorded after it ran.
    let (first, second) = runtime.block_on(async {
        let first = session.verify(&client, project_id).await;
        let second = auditlog_tests::api::verify(
            client
                .get(
                    session
                        .on(servers[1].url())
                        .project_url(project_id, "/audit-logs/verify?range=24h"),
                )
                .bearer_auth(&token.secret),
        )
        .await;
        (first, second)
    });
    assert!(first.ok, "verify through the first server: {first:?}");
    assert!(second.ok, "verify through the second server: {second:?}");
    assert_eq!(first.checked as usize, entries.len(), "{first:?}");
    assert_eq!(second.checked as usize, entries.len() + 1, "{second:?}");
    assert_eq!(second.last_seq, Some(entries.len() as i64 + 1));
}

mod sqlite {
    use super::*;

    #[test]
    fn acknowledged_requests_survive_a_kill() {
        super::acknowledged_requests_survive_a_kill(Backend::Sqlite)
    }
}

mod postgres {
    use super::*;

    #[test]
    fn acknowledged_requests_survive_a_kill() {
        super::acknowledged_requests_survive_a_kill(Backend::Postgres)
    }
}
