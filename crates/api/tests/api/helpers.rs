//! The test harness: `TestApp::spawn(backend)` starts a server on its own fresh database, with a
//! clock the test can move forward, and gives typed callers for the dashboard and API tokens.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use auditlog_api::clock::Clock;
use auditlog_api::configuration::Settings;
use auditlog_api::db::{self, DatabaseTarget, DbPool};
use auditlog_api::startup::Application;
use auditlog_shared::wire::{CreateToken, CreatedInvitation, CreatedToken, Role, SessionInfo};
use reqwest::Method;
use serde_json::{json, Value};

pub use auditlog_tests::{Backend, TestDatabase};

pub const ADMIN_EMAIL: &str = "ada@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A running server and everything it owns; dropping it drops the database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub static_dir: PathBuf,
    /// A pool on the server's database, for fixtures and for changes behind the server's back.
    pub pool: DbPool,
    /// The `--metrics-bind` server's address, when the test asked for one.
    pub metrics_address: Option<String>,
    /// The server's database URL.
    pub database_url: String,
    pub backend: Backend,
    /// A signer with the server's chain signing key (and no anchor of its own), for fixtures
    /// that act as the server would (retention).
    pub chain_signer: Arc<auditlog_api::entry::checkpoint::ChainSigner>,
    clock_offset: Arc<AtomicI64>,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        // Server logs go to the test's captured output, shown when a test fails.
        auditlog_api::telemetry::init(auditlog_api::configuration::LogFormat::Text);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let static_dir = dir.path().join("dist");
        std::fs::create_dir_all(&static_dir).unwrap();
        std::fs::write(
            static_dir.join("index.html"),
            "<!doctype html><title>Auditlog test app</title>",
        )
        .unwrap();
        std::fs::write(static_dir.join("app.js"), "console.log('app')").unwrap();

        let database = TestDatabase::create(backend, dir.path());
        let mut settings = Settings::from_defaults();
        settings.bind = "127.0.0.1:0".into();
        settings.database_url = database.url().to_string();
        settings.data_dir = dir.path().join("data");
        settings.static_dir = static_dir.clone();
        settings.workers = Some(2);
        settings.db_pool_size = 4;
        // Stream destinations are receivers on 127.0.0.1 in tests, retried within a second.
        settings.stream_allow_private_networks = true;
        settings.stream_retry_max_seconds = 1;
        adjust(&mut settings);

        let clock_offset = Arc::new(AtomicI64::new(0));
        let application =
            Application::build_with_clock(&settings, Clock::Shifted(clock_offset.clone()))
                .expect("the server builds");
        let address = application.url();
        let metrics_address = application.metrics_url();
        tokio::spawn(application.run_until_stopped());
        let pool = db::connect_and_migrate(&DatabaseTarget::parse(database.url()).unwrap(), 2)
            .expect("a fixture pool");
        let secret_key = settings
            .resolve_secret_key()
            .expect("the server's secret key");
        let mut signer_settings = settings.clone();
        signer_settings.data_dir = dir.path().join("fixture-signer");
        let chain_signer = Arc::new(
            auditlog_api::entry::checkpoint::ChainSigner::from_settings(
                &signer_settings,
                &secret_key,
            )
            .expect("the server's chain signer"),
        );

        TestApp {
            address,
            client: reqwest::Client::new(),
            static_dir,
            pool,
            database_url: database.url().to_string(),
            metrics_address,
            backend,
            chain_signer,
            clock_offset,
            _database: database,
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
    }

    /// Starts a second server on the same database (its own data directory, so its own name in
    /// leases; the same secret key), delivering to private networks; returns its address and
    /// the directory to keep while it runs.
    pub fn spawn_second_server(&self) -> (String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = self.another_server_settings(&dir);
        settings.stream_allow_private_networks = true;
        settings.stream_retry_max_seconds = 1;
        let second = Application::build(&settings).expect("a second server");
        let address = second.url();
        tokio::spawn(second.run_until_stopped());
        (address, dir)
    }

    /// Starts another server on the same database, on this server's clock (so that both pin
    /// the same windows), with its settings adjusted; returns its address and the directory to
    /// keep while it runs.
    pub fn spawn_server_with(
        &self,
        adjust: impl FnOnce(&mut Settings),
    ) -> (String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = self.another_server_settings(&dir);
        adjust(&mut settings);
        let server =
            Application::build_with_clock(&settings, Clock::Shifted(self.clock_offset.clone()))
                .expect("another server");
        let address = server.url();
        tokio::spawn(server.run_until_stopped());
        (address, dir)
    }

    /// The settings of another server on this database: its own data directory in `dir` (so
    /// its own name in leases), the same secret key.
    fn another_server_settings(&self, dir: &tempfile::TempDir) -> Settings {
        let mut settings = Settings::from_defaults();
        settings.bind = "127.0.0.1:0".into();
        settings.database_url = self.database_url.clone();
        settings.data_dir = dir.path().join("data");
        settings.static_dir = self.static_dir.clone();
        settings.workers = Some(1);
        settings.db_pool_size = 4;
        settings.secret_key = Some(
            std::fs::read_to_string(self.static_dir.parent().unwrap().join("data/secret.key"))
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
        );
        settings
    }

    /// Moves the server's clock forward.
    pub fn advance_clock(&self, by: chrono::Duration) {
        let micros = by.num_microseconds().expect("a representable duration");
        self.clock_offset.fetch_add(micros, Ordering::SeqCst);
    }

    /// Creates a project with an admin account (the operator's `create-admin`) and signs in.
    pub async fn project_with_admin(&self, project: &str) -> (i64, Caller) {
        let mut conn = self.pool.get().unwrap();
        let now = chrono::Utc::now().timestamp_micros();
        let setup = auditlog_api::admin::create_admin(
            &mut conn,
            ADMIN_EMAIL,
            "Ada Admin",
            ADMIN_PASSWORD,
            project,
            now,
        )
        .expect("the admin is created");
        (
            setup.project_id,
            self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        )
    }

    /// Revokes an API token as `admin`; panics unless the server says it is revoked.
    pub async fn revoke_token(&self, admin: &Caller, project_id: i64, token_id: i64) {
        let response = admin
            .send(
                Method::DELETE,
                &format!("/api/v1/projects/{project_id}/tokens/{token_id}"),
                None,
            )
            .await;
        assert!(
            response.status().is_success(),
            "revoking token {token_id}: {}",
            response.status()
        );
    }

    /// Olga: the admin of a project of her own (`project`), and of nothing else, signed in.
    /// Whatever she reaches of another project is a leak.
    pub async fn outsider_admin(&self, project: &str) -> Caller {
        self.outsider_project_with_admin(project).await.1
    }

    /// [`Self::outsider_admin`], with the id of her project.
    pub async fn outsider_project_with_admin(&self, project: &str) -> (i64, Caller) {
        let mut conn = self.pool.get().unwrap();
        let setup = auditlog_api::admin::create_admin(
            &mut conn,
            "olga@example.com",
            "Olga",
            "olga's long password",
            project,
            0,
        )
        .expect("the outsider is created");
        drop(conn);
        let olga = self
            .sign_in("olga@example.com", "olga's long password")
            .await;
        (setup.project_id, olga)
    }

    /// Signs in through the API and returns a dashboard caller (cookie and CSRF token).
    pub async fn sign_in(&self, email: &str, password: &str) -> Caller {
        let response = self
            .client
            .post(format!("{}/api/v1/session", self.address))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "sign-in of {email}");
        self.session_caller(response).await.0
    }

    /// The dashboard caller of a response that started a session (sign-in, accepted
    /// invitation, password change), with the session's info.
    pub async fn session_caller(&self, response: reqwest::Response) -> (Caller, SessionInfo) {
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string();
        let info: SessionInfo = response.json().await.unwrap();
        let caller = Caller {
            client: self.client.clone(),
            address: self.address.clone(),
            cookie: Some(cookie),
            csrf: Some(info.csrf_token.clone()),
            bearer: None,
            user_agent: "Mozilla/5.0 (test browser)".into(),
        };
        (caller, info)
    }

    /// Invites `email` to the project as `admin`.
    pub async fn invite(
        &self,
        admin: &Caller,
        project_id: i64,
        email: &str,
        role: Role,
    ) -> CreatedInvitation {
        let response = admin
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project_id}/members"),
                Some(json!({ "email": email, "role": role })),
            )
            .await;
        assert_eq!(response.status(), 201, "inviting {email}");
        response.json().await.unwrap()
    }

    /// Accepts an invitation; `display_name` is for a new account.
    pub async fn accept(
        &self,
        secret: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> reqwest::Response {
        let mut body = json!({ "password": password });
        if let Some(name) = display_name {
            body["display_name"] = json!(name);
        }
        self.anonymous()
            .with_user_agent("Mozilla/5.0 (test browser)")
            .send(
                Method::POST,
                &format!("/api/v1/invitations/{secret}/accept"),
                Some(body),
            )
            .await
    }

    /// Adds a member the way people join: invited by `admin`, accepted with a new account.
    /// Returns the new user's id and their signed-in caller.
    pub async fn add_member(
        &self,
        admin: &Caller,
        project_id: i64,
        email: &str,
        display_name: &str,
        password: &str,
        role: Role,
    ) -> (i64, Caller) {
        let invitation = self.invite(admin, project_id, email, role).await;
        let response = self
            .accept(&invitation.secret, password, Some(display_name))
            .await;
        assert_eq!(
            response.status(),
            200,
            "accepting the invitation of {email}"
        );
        let (caller, info) = self.session_caller(response).await;
        (info.user.id, caller)
    }

    /// A caller presenting an API token.
    pub fn token_caller(&self, secret: &str) -> Caller {
        Caller {
            client: self.client.clone(),
            address: self.address.clone(),
            cookie: None,
            csrf: None,
            bearer: Some(secret.to_string()),
            user_agent: "ci-script/1.0".into(),
        }
    }

    /// A caller with no credentials.
    pub fn anonymous(&self) -> Caller {
        Caller {
            client: self.client.clone(),
            address: self.address.clone(),
            cookie: None,
            csrf: None,
            bearer: None,
            user_agent: "curl/8".into(),
        }
    }

    /// Creates an API token as `admin` and returns it with its secret.
    pub async fn create_token(
        &self,
        admin: &Caller,
        project_id: i64,
        name: &str,
        role: Role,
        can_ingest: bool,
    ) -> CreatedToken {
        let response = admin
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project_id}/tokens"),
                Some(json!(CreateToken {
                    name: name.into(),
                    role,
                    can_ingest,
                    expires_in_days: None
                })),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// The project's newest audit entry, read straight from the database.
    pub fn last_entry(&self, project_id: i64) -> Option<StoredEntry> {
        self.entries(project_id).pop()
    }

    /// Every audit entry of the project, oldest first, read straight from the database.
    pub fn entries(&self, project: i64) -> Vec<StoredEntry> {
        use auditlog_api::db::schema::audit_entries::dsl::*;
        use diesel::prelude::*;
        let mut conn = self.pool.get().unwrap();
        audit_entries
            .filter(project_id.eq(project))
            .order(chain_seq.asc())
            .select((
                id,
                actor_kind,
                actor_id,
                actor_name,
                actor_email,
                source,
                method,
                path,
                route,
                action,
                status_code,
                resource_type,
                resource_id,
                resource_name,
                request_id,
                chain_seq,
            ))
            .load::<StoredEntry>(&mut conn)
            .unwrap()
    }
}

/// An audit entry as the tests inspect it.
#[derive(Debug, Clone, diesel::Queryable)]
pub struct StoredEntry {
    pub id: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub actor_email: Option<String>,
    pub source: String,
    pub method: String,
    pub path: String,
    pub route: String,
    pub action: String,
    pub status_code: i32,
    pub resource_type: String,
    pub resource_id: Option<i64>,
    pub resource_name: String,
    pub request_id: String,
    pub chain_seq: i64,
}

/// Someone calling the API: a dashboard session, an API token, or nobody.
#[derive(Clone)]
pub struct Caller {
    pub client: reqwest::Client,
    pub address: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
    pub user_agent: String,
}

impl Caller {
    /// The verification of the project's chain over the last 30 days, as this caller gets it.
    pub async fn verify(&self, project: i64) -> auditlog_shared::wire::VerifyReport {
        let response = self
            .get(&format!(
                "/api/v1/projects/{project}/audit-logs/verify?range=30d"
            ))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub fn with_user_agent(mut self, user_agent: &str) -> Caller {
        self.user_agent = user_agent.into();
        self
    }

    pub fn without_csrf(mut self) -> Caller {
        self.csrf = None;
        self
    }

    /// Creates an application in `project`; panics unless it is created. Returns its id.
    pub async fn create_application(&self, project: i64, name: &str, image: &str) -> i64 {
        let response = self
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project}/applications"),
                Some(json!({"name": name, "image": image})),
            )
            .await;
        assert_eq!(response.status(), 201, "creating the application {name}");
        let created: Value = response.json().await.unwrap();
        created["id"].as_i64().expect("an application id")
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        self.send_with(method, path, body, &[]).await
    }

    /// [`Caller::send`] with extra headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .header("user-agent", &self.user_agent);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(bearer) = &self.bearer {
            request = request.bearer_auth(bearer);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the request is answered")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(Method::GET, path, None).await
    }
}

/// Reads a problem document, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem document");
    assert_eq!(body["status"], status);
    body
}

/// Declares each listed `async fn(Backend)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )+
        }
    };
}
