//! The `auditlog` binary against a real server.

use std::process::{Command, Output};

use auditlog_shared::wire::{ApiToken, Application, ProjectSummary, Role, VerifyReport};
use auditlog_tests::{
    binary, chain_defect, sign_in, AdminAccount, Backend, ServerProcess, StoredDatabase,
};

use crate::{runtime, RunningServer};

fn auditlog(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary("auditlog"))
        .arg("--url")
        .arg(url)
        .args(args)
        .output()
        .expect("auditlog runs")
}

#[test]
fn status_and_query_check_talk_to_the_server() {
    let static_dir = tempfile::tempdir().unwrap();
    let running = RunningServer::start(Backend::Sqlite, static_dir.path().to_path_buf());

    let status = auditlog(running.url(), &["status"]);
    assert!(status.status.success(), "{status:?}");
    assert!(String::from_utf8_lossy(&status.stdout).contains("database sqlite, ready"));

    let check = auditlog(
        running.url(),
        &[
            "--json",
            "query",
            "check",
            "?q=deploy&method.not=get&range=24h",
        ],
    );
    assert!(check.status.success(), "{check:?}");
    let resolved: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(resolved["canonical"], "range=24h&method.not=GET&q=deploy");

    // The server's verdict on a query only it can judge (past retention) reaches the user.
    let old = auditlog(
        running.url(),
        &["query", "check", "to=2001-01-01T00:00:00Z"],
    );
    assert!(!old.status.success());
    assert!(String::from_utf8_lossy(&old.stderr).contains("retention"));
}

#[test]
fn malformed_queries_are_refused_before_any_request() {
    // Nothing listens on this address: the error must come from local parsing.
    let output = auditlog("http://127.0.0.1:9", &["query", "check", "status=7xx"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value `7xx` for `status`"),
        "{stderr}"
    );
}

/// The `auditlog` binary with its own configuration directory, so that `auditlog login` stores
/// its sign-in there and nowhere else, and with no `AUDITLOG_URL` from the environment.
struct Cli {
    config_dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            config_dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(binary("auditlog"))
            .args(args)
            .env("AUDITLOG_CONFIG_DIR", self.config_dir.path())
            .env_remove("AUDITLOG_URL")
            .output()
            .expect("auditlog runs")
    }

    /// Runs a command that must succeed and returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
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

    /// Runs a command that must fail with exit code 1 (an error, as opposed to a command-line
    /// mistake) and returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "`auditlog {}` should have failed with exit code 1:\nstdout: {}\nstderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    fn config_file(&self) -> std::path::PathBuf {
        self.config_dir.path().join("auditlog").join("config.json")
    }
}

/// The applications `auditlog --json apps list` prints.
fn listed_applications(cli: &Cli) -> Vec<Application> {
    let listed = cli.ok(&["--json", "apps", "list"]);
    serde_json::from_str(&listed).unwrap_or_else(|error| {
        panic!("`apps list --json` printed no application list ({error}): {listed}")
    })
}

/// Signs in as the admin and creates an admin-role API token named `cli-admin` for the CLI.
fn token_for_cli(running: &RunningServer, admin: &AdminAccount, project_id: i64) -> String {
    let client = reqwest::Client::new();
    runtime().block_on(async {
        let session = sign_in(&client, running.url(), &admin.email, &admin.password).await;
        session
            .create_token(&client, project_id, "cli-admin", Role::Admin)
            .await
            .secret
    })
}

#[test]
fn a_signed_in_cli_manages_the_project_and_every_command_is_recorded_as_cli() {
    let static_dir = tempfile::tempdir().unwrap();
    let admin = AdminAccount::ada();
    let (running, project_id) =
        RunningServer::with_admin(Backend::Sqlite, static_dir.path().to_path_buf(), &admin);
    let secret = token_for_cli(&running, &admin, project_id);
    let cli = Cli::new();

    let login = cli.ok(&["login", "--url", running.url(), "--token", &secret]);
    assert!(
        login.contains(&format!("Signed in to {}", running.url()))
            && login.contains(&format!("Acme (#{project_id}, role admin)")),
        "{login}"
    );
    assert!(cli.config_file().is_file(), "login stored no configuration");

    let created = cli.ok(&["apps", "create", "web", "--image", "registry/web:1"]);
    assert!(created.contains("Created application web (#"), "{created}");
    let listed = listed_applications(&cli);
    let web = listed
        .iter()
        .find(|app| app.name == "web")
        .unwrap_or_else(|| panic!("`apps list` does not show web: {listed:?}"));
    assert_eq!(web.image, "registry/web:1");
    assert_eq!(web.deploy_count, 0);
    let web_id = web.id.to_string();

    let deployed = cli.ok(&["apps", "deploy", &web_id]);
    assert!(
        deployed.contains(&format!("Deployed application web (#{web_id})"))
            && deployed.contains("(deploy 1)"),
        "{deployed}"
    );

    let cluster = cli.ok(&["clusters", "create", "c1", "--region", "eu"]);
    assert!(cluster.contains("Created cluster c1 (#"), "{cluster}");
    assert!(cluster.contains("in region eu"), "{cluster}");

    // Inviting prints the link, once; the invitee joins with a password of their own.
    let invited = cli.ok(&[
        "members",
        "invite",
        "mia@example.com",
        "--role",
        "developer",
    ]);
    assert!(
        invited.contains("Invited mia@example.com as developer"),
        "{invited}"
    );
    let link = invited
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("http") && line.contains("/invitations/"))
        .unwrap_or_else(|| panic!("`members invite` printed no link: {invited}"))
        .to_string();
    let pending = cli.ok(&["members", "invitations"]);
    assert!(pending.contains("mia@example.com"), "{pending}");
    let secret = link.rsplit('/').next().unwrap().to_string();
    let accepted = runtime().block_on(async {
        reqwest::Client::new()
            .post(format!(
                "{}/api/v1/invitations/{secret}/accept",
                running.url()
            ))
            .json(&serde_json::json!({"display_name": "Mia", "password": "mia's own passphrase"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(accepted, 200);
    let members = cli.ok(&["members", "list"]);
    assert!(
        members
            .lines()
            .any(|line| line.contains("mia@example.com") && line.contains("developer")),
        "{members}"
    );

    // The new token's secret is printed once, and it works.
    let token = cli.ok(&["tokens", "create", "ci", "--role", "viewer"]);
    assert!(token.contains("Created token ci (#"), "{token}");
    assert!(token.contains("role viewer"), "{token}");
    let printed_secret = token
        .lines()
        .map(str::trim)
        .find(|line| line.split('.').count() == 3 && !line.contains(' '))
        .unwrap_or_else(|| panic!("`tokens create` printed no secret: {token}"))
        .to_string();
    let projects: Vec<ProjectSummary> = runtime().block_on(async {
        reqwest::Client::new()
            .get(format!("{}/api/v1/projects", running.url()))
            .bearer_auth(&printed_secret)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .expect("the printed secret is accepted")
            .json()
            .await
            .unwrap()
    });
    assert_eq!(projects.len(), 1);
    assert_eq!(
        (projects[0].id, projects[0].role),
        (project_id, Role::Viewer)
    );

    let verified = cli.run(&["logs", "verify", "--progress"]);
    let verified_text = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success()
            && verified_text.starts_with("OK:")
            && verified_text.contains("signed head #"),
        "`logs verify`: {verified:?}"
    );
    // The server streams the walk's progress; the CLI shows it on standard error.
    let progress = String::from_utf8_lossy(&verified.stderr);
    assert!(
        progress.contains("verified ") && progress.contains("entries (through chain #"),
        "{progress}"
    );

    let deleted = cli.ok(&["apps", "delete", &web_id]);
    assert!(
        deleted.contains(&format!("Deleted application #{web_id}")),
        "{deleted}"
    );
    assert!(
        listed_applications(&cli)
            .iter()
            .all(|app| app.name != "web"),
        "web is still listed after its deletion"
    );

    // Each command is one entry in the audit log, by the CLI's token, with the `cli` source.
    let entries = StoredDatabase::open(running.database_url()).audit_entries(project_id);
    let recorded: Vec<(&str, &str, i32, &str)> = entries
        .iter()
        .map(|e| {
            (
                e.source.as_str(),
                e.action.as_str(),
                e.status_code,
                e.resource_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        vec![
            ("dashboard", "session.sign_in", 200, "Ada"),
            ("dashboard", "api_token.create", 201, "cli-admin"),
            ("cli", "application.create", 201, "web"),
            ("cli", "application.list", 200, "applications"),
            ("cli", "application.deploy", 200, "web"),
            ("cli", "cluster.create", 201, "c1"),
            ("cli", "user.add", 201, "mia@example.com"),
            ("cli", "user.invitation.list", 200, "invitations"),
            ("dashboard", "user.invitation.accept", 200, "Mia"),
            ("cli", "user.list", 200, "members"),
            ("cli", "api_token.create", 201, "ci"),
            ("cli", "audit_log.verify", 200, "Acme"),
            ("cli", "application.delete", 204, "web"),
            ("cli", "application.list", 200, "applications"),
        ],
        "the audit log of the session"
    );
    for entry in entries.iter().filter(|e| e.source == "cli") {
        assert_eq!(
            (entry.actor_kind.as_str(), entry.actor_name.as_str()),
            ("token", "cli-admin"),
            "{entry:?}"
        );
        assert!(
            entry
                .user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("auditlog-cli/")),
            "{entry:?}"
        );
    }
    assert_eq!(chain_defect(&entries), None);

    // A second verification covers everything above, the first verification included.
    let again = cli.ok(&["--json", "logs", "verify", "--range", "1h"]);
    let report: VerifyReport = serde_json::from_str(&again).unwrap();
    assert!(report.ok, "{report:?}");
    // Everything above — and, when its entry commits before the walk reads the head (the
    // answer is streamed, so the request is recorded as the answer starts), this verification
    // itself.
    let checked = report.checked as usize;
    assert!(
        checked == entries.len() || checked == entries.len() + 1,
        "{report:?} against {} entries",
        entries.len()
    );
}

#[test]
fn login_with_a_bad_or_revoked_token_fails_clearly_and_stores_nothing() {
    let static_dir = tempfile::tempdir().unwrap();
    let admin = AdminAccount::ada();
    let (running, project_id) =
        RunningServer::with_admin(Backend::Sqlite, static_dir.path().to_path_buf(), &admin);
    let cli = Cli::new();

    let stderr = cli.fails(&[
        "login",
        "--url",
        running.url(),
        "--token",
        "not-a-real-token",
    ]);
    assert!(
        stderr.contains("(401)") && stderr.contains("the bearer token is not valid"),
        "{stderr}"
    );
    assert!(
        !cli.config_file().exists(),
        "a refused login stored a configuration"
    );
    let stderr = cli.fails(&["apps", "list"]);
    assert!(stderr.contains("not signed in"), "{stderr}");

    // A real token that was revoked is refused with the reason.
    let secret = token_for_cli(&running, &admin, project_id);
    cli.ok(&["login", "--url", running.url(), "--token", &secret]);
    let listed = cli.ok(&["--json", "tokens", "list"]);
    let tokens: Vec<ApiToken> = serde_json::from_str(&listed).unwrap();
    let own_id = tokens
        .iter()
        .find(|token| token.name == "cli-admin")
        .unwrap_or_else(|| panic!("the CLI's own token is not listed: {listed}"))
        .id
        .to_string();
    let revoked = cli.ok(&["tokens", "revoke", &own_id]);
    assert!(revoked.contains("Revoked token cli-admin"), "{revoked}");

    let fresh = Cli::new();
    let stderr = fresh.fails(&["login", "--url", running.url(), "--token", &secret]);
    assert!(
        stderr.contains("(401)") && stderr.contains("revoked"),
        "{stderr}"
    );
    assert!(
        !fresh.config_file().exists(),
        "a refused login stored a configuration"
    );
    // The CLI that stored the token before its revocation is now refused too.
    let stderr = cli.fails(&["apps", "list"]);
    assert!(stderr.contains("revoked"), "{stderr}");
}

/// A rollback to an old, validly signed state of the database: the server that signed the newer
/// head still remembers it and says so; a fresh server that lost its anchor cannot know, but the
/// CLI remembers the newer head it verified and reports the rollback — on both backends.
fn a_rolled_back_chain_is_reported_by_the_cli_even_when_the_server_says_ok(backend: Backend) {
    let static_dir = tempfile::tempdir().unwrap();
    let admin = AdminAccount::ada();
    let (mut running, project_id) =
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

    // Someone with database access keeps the head as it is now, signature and all.
    let mut database = StoredDatabase::open(running.database_url());
    database.execute(&format!(
        "CREATE TABLE saved_head AS SELECT * FROM audit_chain_heads WHERE project_id = {project_id}"
    ));
    for index in 0..8 {
        cli.ok(&[
            "apps",
            "create",
            &format!("later-{index}"),
            "--image",
            "registry/x:1",
        ]);
    }
    let verified = cli.run(&["logs", "verify"]);
    assert!(verified.status.success(), "{verified:?}");

    // The newest entries go, and the saved head is put back.
    database.execute(match backend {
        Backend::Sqlite => "DROP TRIGGER audit_entries_append_only",
        Backend::Postgres => "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
    });
    database.execute(&format!(
        "DELETE FROM audit_entries WHERE project_id = {project_id} \
         AND chain_seq > (SELECT chain_seq FROM saved_head)"
    ));
    database.execute(&format!(
        "UPDATE audit_chain_heads SET \
         chain_seq = (SELECT chain_seq FROM saved_head), \
         entry_hash = (SELECT entry_hash FROM saved_head), \
         signed_at = (SELECT signed_at FROM saved_head), \
         key_id = (SELECT key_id FROM saved_head), \
         signature = (SELECT signature FROM saved_head) \
         WHERE project_id = {project_id}"
    ));

    // The server that signed the newer head finds the rollback itself.
    let found = cli.run(&["logs", "verify"]);
    let printed = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(3), "{found:?}");
    assert!(
        printed.contains("BROKEN") && printed.contains("rolled back"),
        "{printed}"
    );

    // A server on the same database and key but without its anchor: it sees a validly signed
    // chain and says OK; the CLI does not believe it.
    running.server.kill();
    let fresh_data = tempfile::tempdir().unwrap();
    std::fs::copy(
        running.data_dir().join("secret.key"),
        fresh_data.path().join("secret.key"),
    )
    .expect("the secret key is copied");
    // Where the old one listened: the CLI remembers heads per server address.
    let address = running.url().trim_start_matches("http://").to_string();
    let fresh = ServerProcess::start_with_args(
        running.database_url(),
        fresh_data.path(),
        static_dir.path(),
        &["--bind", &address],
    );
    let answer: VerifyReport = runtime().block_on(async {
        client
            .get(format!(
                "{}/api/v1/projects/{project_id}/audit-logs/verify",
                fresh.url()
            ))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(answer.ok, "the fresh server cannot know: {answer:?}");
    let found = cli.run(&["logs", "verify"]);
    let printed = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(3), "{found:?}");
    assert!(
        printed.starts_with("BROKEN: the chain was rolled back: it ends at #"),
        "{printed}"
    );

    // The chain grows past the position the CLI verified: a different entry is there now.
    for index in 0..12 {
        cli.ok(&[
            "apps",
            "create",
            &format!("after-{index}"),
            "--image",
            "registry/x:1",
        ]);
    }
    let found = cli.run(&["logs", "verify"]);
    let printed = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(3), "{found:?}");
    assert!(
        printed.starts_with("BROKEN: the chain was rewritten: entry #")
            && printed.contains("has another hash than when it was verified here"),
        "{printed}"
    );
}

#[test]
fn a_rolled_back_chain_is_reported_by_the_cli_on_sqlite() {
    a_rolled_back_chain_is_reported_by_the_cli_even_when_the_server_says_ok(Backend::Sqlite);
}

#[test]
fn a_rolled_back_chain_is_reported_by_the_cli_on_postgres() {
    a_rolled_back_chain_is_reported_by_the_cli_even_when_the_server_says_ok(Backend::Postgres);
}
