//! The demo history: fills an empty database with a living month of activity,
//! produced by the real capture path.
//!
//! [`seed`] makes the first admin and the project "Acme Cloud" with the operator bootstrap
//! ([`admin::create_admin`], the one direct write), then builds the real server in-process on a
//! simulated clock and drives it over HTTP. The clock moves from `days` ago to now; at each
//! simulated moment a few requests go out concurrently (so group commit batches them) from the
//! dashboard (session cookie and CSRF token), the CLI (its User-Agent) and API-token scripts.
//! Every audit entry is recorded by the capture middleware, the sign-in handler or the ingest
//! endpoint, exactly as in production.
//!
//! The story: the admin sets the platform up and invites a team; developers deploy during
//! working hours (nights and weekends are quiet) and CI deploys on merges; a monitoring script
//! and a SIEM forwarder run around the clock; there are two incidents (one in a working
//! afternoon, one at night); a backup token expires and is revoked, an admin CLI token is revoked
//! and then tried again, two members leave (their accounts are deleted), a viewer tries to delete
//! things, people open deleted resources, mistype passwords, and someone tries passwords at night.
//!
//! Who does what is chosen by a fixed-seed generator, so the history has the same shape on every
//! run. Every request states the status it expects: if the server's behaviour changes, seeding
//! stops with a clear error rather than quietly producing another history.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use auditlog_shared::wire::Role;
use chrono::{DateTime, Datelike as _, Duration, Timelike as _, Utc, Weekday};
use diesel::prelude::*;
use reqwest::header::{COOKIE, SET_COOKIE, USER_AGENT};
use reqwest::Method;
use serde_json::{json, Value};

use super::SeedRng;
use crate::admin;
use crate::auth::{password::MIN_PASSWORD_CHARS, tokens, CSRF_HEADER, SESSION_COOKIE};
use crate::clock::{from_micros, Clock};
use crate::configuration::Settings;
use crate::db::schema::{audit_entries, projects};
use crate::db::{self, DbConnection};
use crate::startup::Application;

/// The demo admin's email.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.auditlog.dev";
/// The demo admin's display name.
pub const DEMO_ADMIN_NAME: &str = "Dana Whitfield";
/// The demo project.
pub const DEMO_PROJECT: &str = "Acme Cloud";

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Dashboard moments per hour at full activity (a working weekday hour), before `activity`.
const MOMENTS_PER_BUSY_HOUR: f64 = 3.0;

/// How much history to make.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Days of history, ending now: 1 to 30 (the retention).
    pub days: u32,
    /// Scales the people's activity (1.0 makes a few thousand entries over 30 days). The
    /// scripts' schedules do not scale.
    pub activity: f64,
    /// The demo admin's password; a random one when `None`.
    pub admin_password: Option<String>,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            days: 30,
            activity: 1.0,
            admin_password: None,
        }
    }
}

/// What [`seed`] made.
#[derive(Clone, Debug)]
pub struct DemoSummary {
    pub project_id: i64,
    pub admin_email: String,
    pub admin_password: String,
    /// HTTP requests sent to the server.
    pub requests: u64,
    /// Audit entries the server recorded.
    pub entries: i64,
    pub first_entry_at: Option<DateTime<Utc>>,
    pub last_entry_at: Option<DateTime<Utc>>,
}

/// Fills the (empty) database that `settings` name with the demo history. Refuses a database
/// that already has a project, so running it twice never doubles the data.
pub async fn seed(settings: &Settings, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    anyhow::ensure!(
        (1..=30).contains(&options.days),
        "the demo history covers 1 to 30 days (the retention), not {}",
        options.days
    );
    anyhow::ensure!(
        options.activity > 0.0 && options.activity <= 10.0,
        "the demo activity must be above 0 and at most 10, not {}",
        options.activity
    );
    let password = match &options.admin_password {
        Some(password) => password.clone(),
        None => format!("demo-{}", tokens::random_hex(6)?),
    };
    anyhow::ensure!(
        password.chars().count() >= MIN_PASSWORD_CHARS,
        "the demo admin's password needs at least {MIN_PASSWORD_CHARS} characters"
    );

    // The history ends a quarter of an hour before now, so that no entry is ever in the future
    // (seeding takes real time too), and starts late enough to stay inside the retention.
    let end = Utc::now().timestamp_micros() / SECOND * SECOND - 15 * MINUTE;
    let start = end - i64::from(options.days) * DAY + 30 * MINUTE;

    let target = settings.database_target()?;
    let pool = blocking(move || db::connect_and_migrate(&target, 2)).await?;
    let (project_id, admin_user_id) = {
        let pool = pool.clone();
        let password = password.clone();
        blocking(move || {
            let mut conn = pool.get()?;
            bootstrap(&mut conn, &password, start)
        })
        .await?
    };

    let clock = Arc::new(AtomicI64::new(start));
    let mut server_settings = settings.clone();
    server_settings.bind = "127.0.0.1:0".into();
    let application =
        Application::build_with_clock(&server_settings, Clock::Simulated(clock.clone()))
            .context("cannot start the server for the demo")?;
    let url = application.url();
    let server = RunningServer(tokio::spawn(application.run_until_stopped()));
    tracing::info!(%url, days = options.days, "seeding the demo history");

    let mut driver = Driver::new(
        url,
        project_id,
        clock,
        start,
        end,
        options,
        password.clone(),
    )?;
    driver.people[DANA].user_id = Some(admin_user_id);
    driver.run().await.context(
        "seeding stopped part-way, leaving a partial history: seed again into an empty database",
    )?;
    let requests = driver.requests;
    if driver.retried > 0 {
        tracing::info!(
            retried = driver.retried,
            "the server shed some requests under load; they were sent again"
        );
    }
    server.stop().await;

    let (entries, first, last) = blocking(move || {
        let mut conn = pool.get()?;
        let mine = audit_entries::table.filter(audit_entries::project_id.eq(project_id));
        let entries: i64 = mine.count().get_result(&mut conn)?;
        let first: Option<i64> = mine
            .select(diesel::dsl::min(audit_entries::ts))
            .first(&mut conn)?;
        let last: Option<i64> = mine
            .select(diesel::dsl::max(audit_entries::ts))
            .first(&mut conn)?;
        Ok((entries, first, last))
    })
    .await?;
    tracing::info!(entries, requests, "the demo history is recorded");
    Ok(DemoSummary {
        project_id,
        admin_email: DEMO_ADMIN_EMAIL.into(),
        admin_password: password,
        requests,
        entries,
        first_entry_at: first.map(from_micros),
        last_entry_at: last.map(from_micros),
    })
}

/// Refuses a database that has a project; otherwise makes the demo admin and project (their
/// ids).
fn bootstrap(conn: &mut DbConnection, password: &str, now: i64) -> anyhow::Result<(i64, i64)> {
    let existing: i64 = projects::table.count().get_result(conn)?;
    if existing > 0 {
        anyhow::bail!(
            "this database already has {existing} project(s); the demo only fills an empty \
             database, so nothing was changed (point --database-url at a new database to seed \
             the demo again)"
        );
    }
    let setup = admin::create_admin(
        conn,
        DEMO_ADMIN_EMAIL,
        DEMO_ADMIN_NAME,
        password,
        DEMO_PROJECT,
        now,
    )
    .map_err(|error| anyhow::anyhow!("cannot create the demo admin: {error}"))?;
    Ok((setup.project_id, setup.user_id))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("a database task of the demo failed")?
}

/// The in-process server; dropping it stops it.
struct RunningServer(tokio::task::JoinHandle<std::io::Result<()>>);

impl RunningServer {
    async fn stop(mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Dropping the server future stops its workers.
        self.0.abort();
    }
}

// -------------------------------------------------------------------------------------------
// The cast.

/// People of the project, by index into [`Driver::people`].
const DANA: usize = 0;
const PRIYA: usize = 1;
const MARCO: usize = 2;
const SAM: usize = 3;
const LENA: usize = 4;
const JULES: usize = 5;
const NOOR: usize = 6;

struct PersonSpec {
    name: &'static str,
    email: &'static str,
    role: Role,
    user_agent: &'static str,
}

static PEOPLE: [PersonSpec; 7] = [
    PersonSpec {
        name: DEMO_ADMIN_NAME,
        email: DEMO_ADMIN_EMAIL,
        role: Role::Admin,
        user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    },
    PersonSpec {
        name: "Priya Raman",
        email: "priya.raman@acme.example",
        role: Role::Developer,
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    },
    PersonSpec {
        name: "Marco Bianchi",
        email: "marco.bianchi@acme.example",
        role: Role::Developer,
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    },
    PersonSpec {
        name: "Sam Okafor",
        email: "sam.okafor@acme.example",
        role: Role::Developer,
        user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    },
    PersonSpec {
        name: "Lena Hoffmann",
        email: "lena.hoffmann@acme.example",
        role: Role::Viewer,
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    },
    PersonSpec {
        name: "Jules Martin",
        email: "jules.martin@acme.example",
        role: Role::Viewer,
        user_agent: "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    },
    PersonSpec {
        name: "Noor Haddad",
        email: "noor.haddad@acme.example",
        role: Role::Developer,
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    },
];

struct Person {
    spec: &'static PersonSpec,
    password: String,
    role: Role,
    user_id: Option<i64>,
    /// A member of the project right now.
    member: bool,
    session: Option<Session>,
}

struct Session {
    cookie: String,
    csrf: String,
    expires_at: i64,
}

/// API tokens, by index into [`Driver::tokens`] (created in this order).
const CI: usize = 0;
const PRIYA_CLI: usize = 1;
const MARCO_CLI: usize = 2;
const GRAFANA: usize = 3;
const SIEM: usize = 4;
const BACKUP: usize = 5;
const ONBOARDING: usize = 6;

struct TokenSpec {
    name: &'static str,
    role: Role,
    can_ingest: bool,
    /// The User-Agent its holder sends; `None` for the CLI's own.
    user_agent: Option<&'static str>,
}

static TOKENS: [TokenSpec; 7] = [
    TokenSpec {
        name: "ci-deployer",
        role: Role::Developer,
        can_ingest: false,
        user_agent: Some("acme-ci-deployer/2.4 (+github-actions)"),
    },
    TokenSpec {
        name: "priya-laptop",
        role: Role::Developer,
        can_ingest: false,
        user_agent: None,
    },
    TokenSpec {
        name: "marco-admin-cli",
        role: Role::Admin,
        can_ingest: false,
        user_agent: None,
    },
    TokenSpec {
        name: "grafana-sync",
        role: Role::Viewer,
        can_ingest: false,
        user_agent: Some("python-requests/2.32.3"),
    },
    TokenSpec {
        name: "siem-forwarder",
        role: Role::Viewer,
        can_ingest: true,
        user_agent: Some("siem-forwarder/1.4.0"),
    },
    TokenSpec {
        name: "nightly-backup",
        role: Role::Developer,
        can_ingest: false,
        user_agent: Some("curl/7.88.1"),
    },
    TokenSpec {
        name: "onboarding-test",
        role: Role::Viewer,
        can_ingest: false,
        user_agent: Some("curl/8.5.0"),
    },
];

struct Token {
    spec: &'static TokenSpec,
    secret: String,
    id: i64,
    expires_at: Option<i64>,
    revoked: bool,
}

/// What the project holds, as the demo knows it.
#[derive(Default)]
struct World {
    apps: Vec<App>,
    clusters: Vec<Named>,
    datastores: Vec<Named>,
    environment_groups: Vec<Named>,
    cloud_accounts: Vec<Named>,
    integrations: Vec<Named>,
    /// Deleted resources (collection, id), which stale tabs and scripts still ask for.
    gone: Vec<(&'static str, i64)>,
}

struct Named {
    id: i64,
    name: String,
    /// The second attribute (region, engine, provider, kind), when it has one.
    detail: String,
    revision: u32,
    live: bool,
}

struct App {
    id: i64,
    name: String,
    repository: String,
    version: (u32, u32, u32),
    live: bool,
}

impl App {
    fn image(&self) -> String {
        let (major, minor, patch) = self.version;
        format!("{}:{major}.{minor}.{patch}", self.repository)
    }
}

/// Who sends a request.
#[derive(Clone, Copy, Debug)]
enum Who {
    Person(usize),
    Token(usize),
    /// Someone without credentials, by their User-Agent.
    Stranger(&'static str),
}

/// One request and the status it must get.
struct Call {
    who: Who,
    method: Method,
    /// Below the project (`/applications`, `""` for the project itself), or absolute (`/api/…`).
    path: String,
    body: Option<Value>,
    expect: u16,
}

fn get(who: Who, path: impl Into<String>) -> Call {
    Call {
        who,
        method: Method::GET,
        path: path.into(),
        body: None,
        expect: 200,
    }
}

fn send(who: Who, method: Method, path: impl Into<String>, body: Value, expect: u16) -> Call {
    Call {
        who,
        method,
        path: path.into(),
        body: Some(body),
        expect,
    }
}

fn delete(who: Who, path: impl Into<String>, expect: u16) -> Call {
    Call {
        who,
        method: Method::DELETE,
        path: path.into(),
        body: None,
        expect,
    }
}

/// What came back for a call.
#[derive(Default)]
struct Answer {
    /// The JSON body; `null` when there is none.
    body: Value,
    /// The session cookie (`name=value`) a sign-in set.
    session_cookie: Option<String>,
}

/// Requests sent together, then a pause, then the next group.
type Waves = Vec<Vec<Call>>;

/// Runs two activities side by side: their first groups go together, and so on.
fn merge(mut a: Waves, b: Waves) -> Waves {
    for (index, wave) in b.into_iter().enumerate() {
        match a.get_mut(index) {
            Some(existing) => existing.extend(wave),
            None => a.push(wave),
        }
    }
    a
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// People at work in the dashboard.
    Dashboard,
    /// An incident: on-call people read and redeploy in a hurry.
    Incident,
    /// Priya at her terminal (CLI source).
    PriyaCli,
    /// Marco's admin token in the CLI.
    MarcoCli,
    /// CI deploys a merge (API source).
    CiDeploy,
    /// The monitoring sync reads the inventory.
    Monitoring,
    /// The SIEM forwarder ingests SSO events.
    SiemIngest,
    /// The nightly backup script.
    Backup,
    Milestone(Milestone),
}

#[derive(Clone, Copy, Debug)]
enum Milestone {
    RevokeOnboardingToken,
    EnableExport,
    ExpandPlatform,
    ViewerOverreach,
    AddNoor,
    PromoteMarco,
    SandboxCluster,
    DeleteSandbox,
    Observability,
    RevokeBackupToken,
    PasswordGuessing,
    RevokeMarcoCli,
    RevokedTokenTried,
    RemoveSam,
    DeleteDatadog,
    RemoveJules,
    RetireNotifications,
    StaleTab,
    DeletePreview,
}

/// When each milestone happens, as a fraction of the history, and whether at night.
const MILESTONES: [(f64, bool, Milestone); 19] = [
    (0.04, false, Milestone::RevokeOnboardingToken),
    (0.10, false, Milestone::EnableExport),
    (0.20, false, Milestone::ExpandPlatform),
    (0.25, false, Milestone::ViewerOverreach),
    (0.30, false, Milestone::AddNoor),
    (0.33, false, Milestone::PromoteMarco),
    (0.40, false, Milestone::SandboxCluster),
    (0.46, false, Milestone::DeleteSandbox),
    (0.50, false, Milestone::Observability),
    (0.52, false, Milestone::RevokeBackupToken),
    (0.55, true, Milestone::PasswordGuessing),
    (0.60, false, Milestone::RevokeMarcoCli),
    (0.62, false, Milestone::RevokedTokenTried),
    (0.65, false, Milestone::RemoveSam),
    (0.70, false, Milestone::DeleteDatadog),
    (0.80, false, Milestone::RemoveJules),
    (0.85, false, Milestone::RetireNotifications),
    (0.86, false, Milestone::StaleTab),
    (0.90, false, Milestone::DeletePreview),
];

/// The two incidents: when (fraction of the history), at night or not, hours, moments per hour.
const INCIDENTS: [(f64, bool, i64, f64); 2] = [(0.38, false, 2, 10.0), (0.72, true, 2, 8.0)];

/// How busy people are at a given time: working hours on weekdays (UTC), quiet otherwise.
fn activity_level(at: DateTime<Utc>) -> f64 {
    let hour = match at.hour() {
        0..=5 => 0.02,
        6 => 0.08,
        7 => 0.3,
        8 => 0.7,
        9..=11 | 13..=16 => 1.0,
        12 => 0.6,
        17 => 0.7,
        18 => 0.4,
        19..=21 => 0.15,
        _ => 0.05,
    };
    let day = match at.weekday() {
        Weekday::Sat => 0.12,
        Weekday::Sun => 0.08,
        _ => 1.0,
    };
    hour * day
}

fn is_weekday(at: DateTime<Utc>) -> bool {
    !matches!(at.weekday(), Weekday::Sat | Weekday::Sun)
}

// -------------------------------------------------------------------------------------------
// The driver.

struct Driver {
    http: reqwest::Client,
    url: String,
    project_path: String,
    clock: Arc<AtomicI64>,
    now: i64,
    end: i64,
    start: i64,
    activity: f64,
    days: u32,
    rng: SeedRng,
    people: Vec<Person>,
    tokens: Vec<Token>,
    world: World,
    requests: u64,
    /// Requests the server shed (503) and the demo sent again.
    retried: u64,
    cli_user_agent: String,
}

impl Driver {
    fn new(
        url: String,
        project_id: i64,
        clock: Arc<AtomicI64>,
        start: i64,
        end: i64,
        options: &DemoOptions,
        admin_password: String,
    ) -> anyhow::Result<Driver> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot build the demo's HTTP client")?;
        let people = PEOPLE
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                Ok(Person {
                    spec,
                    password: if index == DANA {
                        admin_password.clone()
                    } else {
                        format!("acme-{}", tokens::random_hex(8)?)
                    },
                    role: spec.role,
                    user_id: None,
                    member: index == DANA,
                    session: None,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Driver {
            http,
            project_path: format!("{url}/api/v1/projects/{project_id}"),
            url,
            clock,
            now: start,
            end,
            start,
            activity: options.activity,
            days: options.days,
            rng: SeedRng::seed_from_u64(0x5eed_a0d1_7106_2026),
            people,
            tokens: Vec::new(),
            world: World::default(),
            requests: 0,
            retried: 0,
            cli_user_agent: format!("auditlog-cli/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        self.onboarding().await?;
        let events = self.schedule();
        let mut reported_day = 0;
        for (at, event) in events {
            if at > self.end {
                break;
            }
            self.advance_to(at);
            self.perform(event)
                .await
                .with_context(|| format!("{event:?} at {}", from_micros(self.now)))?;
            let day = (self.now - self.start) / DAY;
            if day >= reported_day + 5 {
                reported_day = day;
                tracing::info!(
                    day,
                    of = self.days,
                    requests = self.requests,
                    "demo history"
                );
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Time.

    fn set_clock(&self) {
        self.clock.store(self.now, Ordering::SeqCst);
    }

    /// Moves the clock to `at`, or a second on when the last activity ran past it.
    fn advance_to(&mut self, at: i64) {
        self.now = at.max(self.now + SECOND);
        self.set_clock();
    }

    /// Lets `low..=high` seconds pass.
    fn pause(&mut self, low: i64, high: i64) {
        let seconds = self.rng.range(low, high);
        self.now += seconds * SECOND + self.rng.range(0, SECOND - 1);
        self.set_clock();
    }

    /// The first weekday working time (10:00 to 16:00 UTC) at or after `at`.
    fn working_time(&mut self, at: i64) -> i64 {
        let mut day = from_micros(at);
        if is_weekday(day) && (10..16).contains(&day.hour()) {
            return at;
        }
        if is_weekday(day) && day.hour() < 10 {
            return self.time_on(day, 10, 6);
        }
        loop {
            day += Duration::days(1);
            if is_weekday(day) {
                return self.time_on(day, 10, 6);
            }
        }
    }

    /// The first night time (02:00 to 04:00 UTC) at or after `at`.
    fn night_time(&mut self, at: i64) -> i64 {
        let day = from_micros(at);
        if day.hour() < 2 {
            return self.time_on(day, 2, 2);
        }
        self.time_on(day + Duration::days(1), 2, 2)
    }

    /// A random time on `day` from `hour` for `hours` hours.
    fn time_on(&mut self, day: DateTime<Utc>, hour: u32, hours: i64) -> i64 {
        let midnight = day.timestamp_micros().div_euclid(DAY) * DAY;
        midnight + i64::from(hour) * HOUR + self.rng.range(0, hours * HOUR - 1)
    }

    // ---------------------------------------------------------------------------------------
    // Requests.

    fn request(&self, call: &Call) -> reqwest::RequestBuilder {
        let url = if call.path.starts_with("/api/") {
            format!("{}{}", self.url, call.path)
        } else {
            format!("{}{}", self.project_path, call.path)
        };
        let mut request = self.http.request(call.method.clone(), url);
        match call.who {
            Who::Person(index) => {
                let person = &self.people[index];
                request = request.header(USER_AGENT, person.spec.user_agent);
                if let Some(session) = &person.session {
                    request = request
                        .header(COOKIE, &session.cookie)
                        .header(CSRF_HEADER, &session.csrf);
                }
            }
            Who::Token(index) => {
                let token = &self.tokens[index];
                let user_agent = token.spec.user_agent.unwrap_or(&self.cli_user_agent);
                request = request
                    .header(USER_AGENT, user_agent)
                    .bearer_auth(&token.secret);
            }
            Who::Stranger(user_agent) => request = request.header(USER_AGENT, user_agent),
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        request
    }

    /// Sends the calls at once and checks that each gets the status it expects; returns the
    /// JSON bodies (`null` when there is none).
    async fn wave(&mut self, calls: Vec<Call>) -> anyhow::Result<Vec<Value>> {
        let answers = self.exchange(&calls).await?;
        Ok(answers.into_iter().map(|answer| answer.body).collect())
    }

    /// Sends the calls at once and checks their statuses. A 503 (the server shed the request
    /// and recorded nothing) is retried after a moment, as a real client would.
    async fn exchange(&mut self, calls: &[Call]) -> anyhow::Result<Vec<Answer>> {
        const ATTEMPTS: u64 = 5;
        let mut answers: Vec<Answer> = calls.iter().map(|_| Answer::default()).collect();
        let mut pending: Vec<usize> = (0..calls.len()).collect();
        for attempt in 1..=ATTEMPTS {
            let mut running = tokio::task::JoinSet::new();
            for &index in &pending {
                let request = self.request(&calls[index]);
                running.spawn(async move {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    let session_cookie = response
                        .headers()
                        .get_all(SET_COOKIE)
                        .iter()
                        .filter_map(|value| value.to_str().ok())
                        .filter_map(|value| value.split(';').next())
                        .find(|pair| pair.starts_with(&format!("{SESSION_COOKIE}=")))
                        .map(str::to_string);
                    let body = response.bytes().await?;
                    Ok::<_, reqwest::Error>((index, status, session_cookie, body))
                });
            }
            let mut shed = Vec::new();
            while let Some(joined) = running.join_next().await {
                let (index, status, session_cookie, body) = joined
                    .context("a demo request was lost")?
                    .context("the demo server did not answer")?;
                self.requests += 1;
                let call = &calls[index];
                if status == 503 && call.expect != 503 && attempt < ATTEMPTS {
                    shed.push(index);
                    continue;
                }
                if status != call.expect {
                    anyhow::bail!(
                        "{} {} by {:?} answered {status} instead of {}: {}",
                        call.method,
                        call.path,
                        call.who,
                        call.expect,
                        String::from_utf8_lossy(&body)
                    );
                }
                answers[index] = Answer {
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    session_cookie,
                };
            }
            if shed.is_empty() {
                break;
            }
            self.retried += shed.len() as u64;
            tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
            pending = shed;
        }
        Ok(answers)
    }

    /// Runs groups of requests with human pauses between them.
    async fn waves(&mut self, waves: Waves) -> anyhow::Result<()> {
        let mut first = true;
        for wave in waves {
            if wave.is_empty() {
                continue;
            }
            if !first {
                self.pause(4, 75);
            }
            first = false;
            self.wave(wave).await?;
        }
        Ok(())
    }

    /// Sends one request and returns its JSON body.
    async fn one(&mut self, call: Call) -> anyhow::Result<Value> {
        Ok(self.wave(vec![call]).await?.pop().unwrap_or(Value::Null))
    }

    /// Signs a person in (or fails to, with a mistyped password).
    async fn sign_in(&mut self, person: usize, correct_password: bool) -> anyhow::Result<()> {
        let spec = self.people[person].spec;
        let password = if correct_password {
            self.people[person].password.clone()
        } else {
            format!("{}!", self.people[person].password)
        };
        let call = send(
            Who::Person(person),
            Method::POST,
            "/api/v1/session",
            json!({ "email": spec.email, "password": password }),
            if correct_password { 200 } else { 401 },
        );
        let answer = self
            .exchange(&[call])
            .await?
            .pop()
            .context("signing in got no answer")?;
        if !correct_password {
            return Ok(());
        }
        self.keep_session(person, &answer)
    }

    /// Keeps the session a sign-in (or an accepted invitation) started.
    fn keep_session(&mut self, person: usize, answer: &Answer) -> anyhow::Result<()> {
        let email = self.people[person].spec.email;
        let cookie = answer
            .session_cookie
            .clone()
            .with_context(|| format!("signing in {email} set no session cookie"))?;
        let csrf = answer.body["csrf_token"]
            .as_str()
            .context("signing in returned no CSRF token")?
            .to_string();
        self.people[person].session = Some(Session {
            cookie,
            csrf,
            expires_at: self.now + 7 * DAY,
        });
        Ok(())
    }

    /// Makes sure a person has a working session, signing in when it ended (now and then after
    /// mistyping the password first).
    async fn ensure_session(&mut self, person: usize) -> anyhow::Result<()> {
        let fresh = self.people[person]
            .session
            .as_ref()
            .is_some_and(|session| session.expires_at > self.now + HOUR);
        if fresh {
            return Ok(());
        }
        if self.rng.chance(0.15) {
            self.sign_in(person, false).await?;
            self.pause(6, 25);
        }
        self.sign_in(person, true).await?;
        self.pause(1, 4);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Picking things.

    fn live_app(&mut self) -> Option<usize> {
        let live: Vec<usize> = (0..self.world.apps.len())
            .filter(|&i| self.world.apps[i].live)
            .collect();
        (!live.is_empty()).then(|| live[self.rng.below(live.len())])
    }

    fn live_id(&mut self, collection: &'static str) -> Option<i64> {
        let list = match collection {
            "applications" => {
                let index = self.live_app()?;
                return Some(self.world.apps[index].id);
            }
            "clusters" => &self.world.clusters,
            "datastores" => &self.world.datastores,
            "environment-groups" => &self.world.environment_groups,
            "cloud-accounts" => &self.world.cloud_accounts,
            _ => &self.world.integrations,
        };
        let live: Vec<i64> = list.iter().filter(|n| n.live).map(|n| n.id).collect();
        (!live.is_empty()).then(|| live[self.rng.below(live.len())])
    }

    fn named_mut(&mut self, collection: &str, id: i64) -> Option<&mut Named> {
        let list = match collection {
            "clusters" => &mut self.world.clusters,
            "datastores" => &mut self.world.datastores,
            "environment-groups" => &mut self.world.environment_groups,
            "cloud-accounts" => &mut self.world.cloud_accounts,
            _ => &mut self.world.integrations,
        };
        list.iter_mut().find(|n| n.id == id)
    }

    /// A member, weighted by how much their role uses the dashboard.
    fn pick_member(&mut self, except: Option<usize>) -> Option<usize> {
        let candidates: Vec<(usize, f64)> = self
            .people
            .iter()
            .enumerate()
            .filter(|(index, person)| person.member && Some(*index) != except)
            .map(|(index, person)| {
                let weight = match person.role {
                    Role::Developer => 3.0,
                    Role::Admin => 2.0,
                    Role::Viewer => 1.0,
                };
                (index, weight)
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let weights: Vec<f64> = candidates.iter().map(|(_, w)| *w).collect();
        Some(candidates[self.rng.weighted(&weights)].0)
    }

    fn user_id(&self, person: usize) -> anyhow::Result<i64> {
        self.people[person]
            .user_id
            .with_context(|| format!("{} is not a member yet", self.people[person].spec.name))
    }

    fn token_usable(&self, token: usize) -> bool {
        self.tokens.get(token).is_some_and(|token| !token.revoked)
    }

    // ---------------------------------------------------------------------------------------
    // The schedule.

    fn schedule(&mut self) -> Vec<(i64, Event)> {
        let mut events = Vec::new();
        let first_hour = (self.now / HOUR + 1) * HOUR;
        let mut hour = first_hour;
        while hour < self.end {
            let at = from_micros(hour);
            let level = activity_level(at);
            let busy = is_weekday(at) && (8..18).contains(&at.hour());
            let add = |events: &mut Vec<(i64, Event)>, rng: &mut SeedRng, rate: f64, event| {
                for _ in 0..rng.poisson(rate) {
                    events.push((hour + rng.range(0, HOUR - 1), event));
                }
            };
            add(
                &mut events,
                &mut self.rng,
                level * MOMENTS_PER_BUSY_HOUR * self.activity,
                Event::Dashboard,
            );
            add(
                &mut events,
                &mut self.rng,
                level * 0.5 * self.activity,
                Event::PriyaCli,
            );
            add(
                &mut events,
                &mut self.rng,
                level * 0.2 * self.activity,
                Event::MarcoCli,
            );
            if busy {
                add(
                    &mut events,
                    &mut self.rng,
                    1.2 * self.activity,
                    Event::CiDeploy,
                );
            }
            if at.hour().is_multiple_of(6) {
                events.push((
                    hour + 5 * MINUTE + self.rng.range(0, 40 * SECOND),
                    Event::Monitoring,
                ));
            }
            if at.hour() % 6 == 3 {
                events.push((
                    hour + 17 * MINUTE + self.rng.range(0, MINUTE),
                    Event::SiemIngest,
                ));
            }
            if at.hour() == 2 {
                events.push((
                    hour + 30 * MINUTE + self.rng.range(0, 20 * SECOND),
                    Event::Backup,
                ));
            }
            hour += HOUR;
        }

        let span = self.end - self.start;
        for (fraction, night, hours, rate) in INCIDENTS {
            let nominal = self.start + (span as f64 * fraction) as i64;
            let begins = if night {
                self.night_time(nominal)
            } else {
                self.working_time(nominal)
            };
            for _ in 0..self
                .rng
                .poisson(rate * hours as f64 * self.activity.max(0.5))
            {
                events.push((
                    begins + self.rng.range(0, hours * HOUR - 1),
                    Event::Incident,
                ));
            }
        }
        let mut previous = first_hour;
        for (fraction, night, milestone) in MILESTONES {
            let nominal = self.start + (span as f64 * fraction) as i64;
            let mut at = if night {
                self.night_time(nominal)
            } else {
                self.working_time(nominal)
            };
            if at > self.end - HOUR {
                // A short history: keep the order, not the office hours.
                at = nominal;
            }
            // Milestones that land on the same day keep their order (a token is revoked before
            // it is tried, an application deleted before a stale tab asks for it).
            at = at.max(previous + self.rng.range(5 * MINUTE, 30 * MINUTE));
            previous = at;
            events.push((at, Event::Milestone(milestone)));
        }
        // Stable: milestones that land on the same instant keep their order.
        events.sort_by_key(|(at, _)| *at);
        events
    }

    async fn perform(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Dashboard => {
                let Some(first) = self.pick_member(None) else {
                    return Ok(());
                };
                self.ensure_session(first).await?;
                let mut waves = self.dashboard_waves(first);
                // Now and then two people are at it at the same moment.
                if self.rng.chance(0.3) {
                    if let Some(second) = self.pick_member(Some(first)) {
                        self.ensure_session(second).await?;
                        let more = self.dashboard_waves(second);
                        waves = merge(waves, more);
                    }
                }
                self.waves(waves).await
            }
            Event::Incident => {
                let on_call: Vec<usize> = [PRIYA, MARCO, NOOR, SAM, DANA]
                    .into_iter()
                    .filter(|&p| self.people[p].member)
                    .collect();
                if on_call.is_empty() {
                    return Ok(());
                }
                let person = on_call[self.rng.below(on_call.len())];
                self.ensure_session(person).await?;
                let who = Who::Person(person);
                let look_first = self.rng.chance(0.5);
                let mut waves = if self.rng.chance(0.4) {
                    self.deploy_waves(who, look_first)
                } else {
                    self.browse_waves(who)
                };
                if self.rng.chance(0.3) && self.token_usable(CI) {
                    let ci = self.deploy_waves(Who::Token(CI), false);
                    waves = merge(waves, ci);
                }
                self.waves(waves).await
            }
            Event::PriyaCli => {
                let who = Who::Token(PRIYA_CLI);
                let waves = if self.rng.chance(0.55) {
                    merge(vec![vec![get(who, "")]], self.deploy_waves(who, false))
                } else {
                    vec![
                        vec![get(who, ""), get(who, "/applications")],
                        vec![get(who, "/clusters")],
                    ]
                };
                self.waves(waves).await
            }
            Event::MarcoCli => {
                if !self.token_usable(MARCO_CLI) {
                    return Ok(());
                }
                let who = Who::Token(MARCO_CLI);
                let mut waves = vec![vec![get(who, "/clusters"), get(who, "/tokens")]];
                if let Some(id) = self.live_id("clusters") {
                    waves.push(vec![get(who, format!("/clusters/{id}"))]);
                    if self.rng.chance(0.25) {
                        let region = self
                            .named_mut("clusters", id)
                            .map(|c| c.detail.clone())
                            .unwrap_or_default();
                        waves.push(vec![send(
                            who,
                            Method::PATCH,
                            format!("/clusters/{id}"),
                            json!({ "region": region }),
                            200,
                        )]);
                    }
                }
                self.waves(waves).await
            }
            Event::CiDeploy => {
                let waves = self.deploy_waves(Who::Token(CI), false);
                self.waves(waves).await
            }
            Event::Monitoring => {
                let who = Who::Token(GRAFANA);
                self.wave(vec![
                    get(who, "/applications"),
                    get(who, "/clusters"),
                    get(who, "/datastores"),
                ])
                .await
                .map(drop)
            }
            Event::SiemIngest => self.siem_ingest().await,
            Event::Backup => self.backup().await,
            Event::Milestone(milestone) => self.milestone(milestone).await,
        }
    }

    // ---------------------------------------------------------------------------------------
    // What people do in the dashboard.

    fn dashboard_waves(&mut self, person: usize) -> Waves {
        let who = Who::Person(person);
        let mut scenarios: Vec<(u8, f64)> = vec![(0, 4.0), (1, 1.5), (2, 0.5), (3, 0.35)];
        match self.people[person].role {
            Role::Viewer => scenarios.push((4, 0.8)),
            Role::Developer => scenarios.extend([(5, 5.0), (6, 2.0), (7, 0.3)]),
            Role::Admin => scenarios.extend([(5, 2.0), (6, 1.0), (8, 1.2), (9, 0.5)]),
        }
        let weights: Vec<f64> = scenarios.iter().map(|(_, w)| *w).collect();
        match scenarios[self.rng.weighted(&weights)].0 {
            0 => self.browse_waves(who),
            1 => self.inspect_waves(who),
            2 => vec![vec![get(who, "/members")]],
            3 => self.missing_waves(who),
            4 => self.viewer_overreach(who),
            5 => self.deploy_waves(who, true),
            6 => self.edit_waves(who),
            7 => self.developer_overreach(who),
            8 => self.admin_review(who),
            _ => self.cluster_review(who),
        }
    }

    /// The home page and a look at an application or two.
    fn browse_waves(&mut self, who: Who) -> Waves {
        let mut first = vec![get(who, ""), get(who, "/applications")];
        if self.rng.chance(0.5) {
            first.push(get(who, "/clusters"));
        }
        if self.rng.chance(0.25) {
            first.push(get(who, "/settings"));
        }
        let mut second = Vec::new();
        if let Some(id) = self.live_id("applications") {
            second.push(get(who, format!("/applications/{id}")));
        }
        if self.rng.chance(0.4) {
            if let Some(id) = self.live_id("clusters") {
                second.push(get(who, format!("/clusters/{id}")));
            }
        }
        let mut waves = vec![first, second];
        if self.rng.chance(0.25) {
            if let Some(id) = self.live_id("applications") {
                waves.push(vec![get(who, format!("/applications/{id}"))]);
            }
        }
        waves
    }

    /// The other inventories: datastores, environment groups, integrations, cloud accounts.
    fn inspect_waves(&mut self, who: Who) -> Waves {
        let collections = [
            "datastores",
            "environment-groups",
            "integrations",
            "cloud-accounts",
        ];
        let a = collections[self.rng.below(4)];
        let b = collections
            [(collections.iter().position(|c| *c == a).unwrap_or(0) + 1 + self.rng.below(3)) % 4];
        let mut waves = vec![vec![get(who, format!("/{a}")), get(who, format!("/{b}"))]];
        if let Some(id) = self.live_id(a) {
            waves.push(vec![get(who, format!("/{a}/{id}"))]);
        }
        waves
    }

    /// A bookmark or a stale tab that names something deleted (or never there): 404.
    fn missing_waves(&mut self, who: Who) -> Waves {
        let (collection, id) = if self.world.gone.is_empty() || self.rng.chance(0.3) {
            let collections = ["applications", "clusters", "datastores"];
            (
                collections[self.rng.below(3)],
                9_000 + self.rng.range(0, 999),
            )
        } else {
            self.world.gone[self.rng.below(self.world.gone.len())]
        };
        vec![vec![Call {
            expect: 404,
            ..get(who, format!("/{collection}/{id}"))
        }]]
    }

    /// A viewer tries a change their role does not allow: 403.
    fn viewer_overreach(&mut self, who: Who) -> Waves {
        let Some(id) = self.live_id("applications") else {
            return self.browse_waves(who);
        };
        let attempt = match self.rng.below(3) {
            0 => delete(who, format!("/applications/{id}"), 403),
            1 => send(
                who,
                Method::POST,
                format!("/applications/{id}/deploy"),
                json!({}),
                403,
            ),
            _ => send(
                who,
                Method::PATCH,
                format!("/applications/{id}"),
                json!({ "image": "registry.acme.dev/hotfix:latest" }),
                403,
            ),
        };
        vec![vec![get(who, format!("/applications/{id}"))], vec![attempt]]
    }

    /// A developer tries an admin's job: 403.
    fn developer_overreach(&mut self, who: Who) -> Waves {
        let attempt = match self.rng.below(3) {
            0 => get(who, "/tokens"),
            1 => send(
                who,
                Method::POST,
                "/clusters",
                json!({ "name": "perf-test", "region": "eu-central-1" }),
                403,
            ),
            _ => send(
                who,
                Method::POST,
                "/integrations",
                json!({ "name": "Opsgenie", "kind": "opsgenie" }),
                403,
            ),
        };
        vec![vec![Call {
            expect: 403,
            ..attempt
        }]]
    }

    /// Looks at an application, deploys a new version (or redeploys the current one), checks.
    fn deploy_waves(&mut self, who: Who, look_first: bool) -> Waves {
        let Some(index) = self.live_app() else {
            return Vec::new();
        };
        let redeploy = self.rng.chance(0.15);
        let app = &mut self.world.apps[index];
        let id = app.id;
        let body = if redeploy {
            json!({})
        } else {
            let (major, minor, patch) = app.version;
            app.version = if self.rng.chance(0.12) {
                (major, minor + 1, 0)
            } else {
                (major, minor, patch + 1)
            };
            json!({ "image": app.image() })
        };
        let mut waves = Vec::new();
        if look_first {
            waves.push(vec![get(who, format!("/applications/{id}"))]);
        }
        waves.push(vec![send(
            who,
            Method::POST,
            format!("/applications/{id}/deploy"),
            body,
            200,
        )]);
        if self.rng.chance(0.6) {
            waves.push(vec![get(who, format!("/applications/{id}"))]);
        }
        waves
    }

    /// A configuration change: an application's image, a datastore's engine version, an
    /// environment group saved.
    fn edit_waves(&mut self, who: Who) -> Waves {
        match self.rng.below(3) {
            0 => {
                let Some(index) = self.live_app() else {
                    return Vec::new();
                };
                let app = &mut self.world.apps[index];
                let (major, minor, patch) = app.version;
                app.version = (major, minor, patch + 1);
                let id = app.id;
                vec![
                    vec![get(who, format!("/applications/{id}"))],
                    vec![send(
                        who,
                        Method::PATCH,
                        format!("/applications/{id}"),
                        json!({ "image": app.image() }),
                        200,
                    )],
                ]
            }
            1 => {
                let Some(id) = self.live_id("datastores") else {
                    return Vec::new();
                };
                let Some(store) = self.named_mut("datastores", id) else {
                    return Vec::new();
                };
                store.revision += 1;
                let engine = format!("{} (patch {})", store.detail, store.revision);
                vec![
                    vec![get(who, format!("/datastores/{id}"))],
                    vec![send(
                        who,
                        Method::PATCH,
                        format!("/datastores/{id}"),
                        json!({ "engine": engine }),
                        200,
                    )],
                ]
            }
            _ => {
                let Some(id) = self.live_id("environment-groups") else {
                    return Vec::new();
                };
                vec![
                    vec![
                        get(who, "/environment-groups"),
                        get(who, format!("/environment-groups/{id}")),
                    ],
                    vec![send(
                        who,
                        Method::PATCH,
                        format!("/environment-groups/{id}"),
                        json!({}),
                        200,
                    )],
                ]
            }
        }
    }

    /// The admin's routine: tokens, members, the audit log's integrity.
    fn admin_review(&mut self, who: Who) -> Waves {
        let mut first = vec![get(who, "/tokens"), get(who, "/members")];
        if self.rng.chance(0.3) {
            first.push(get(who, "/settings"));
        }
        vec![first, vec![get(who, "/audit-logs/verify?range=7d")]]
    }

    fn cluster_review(&mut self, who: Who) -> Waves {
        let mut waves = vec![vec![get(who, "/clusters"), get(who, "/cloud-accounts")]];
        if let Some(id) = self.live_id("clusters") {
            waves.push(vec![get(who, format!("/clusters/{id}"))]);
        }
        waves
    }

    // ---------------------------------------------------------------------------------------
    // Scripts.

    async fn siem_ingest(&mut self) -> anyhow::Result<()> {
        let members: Vec<usize> = (0..self.people.len())
            .filter(|&p| self.people[p].member)
            .collect();
        let mut events = Vec::new();
        for _ in 0..self.rng.range(2, 4) {
            let person = &self.people[members[self.rng.below(members.len())]];
            let failed = self.rng.chance(0.1);
            events.push(json!({
                "actor": {
                    "kind": "user",
                    "name": person.spec.name,
                    "email": person.spec.email,
                },
                "method": "POST",
                "path": "/sso/saml/acs",
                "action": if failed { "ext.sso.sign_in_failed" } else { "ext.sso.sign_in" },
                "status": if failed { 401 } else { 200 },
                "resource": { "type": "user", "id": person.user_id, "name": person.spec.name },
                "client_ip": format!("198.51.100.{}", 10 + self.rng.below(200)),
                "user_agent": "Okta/2024.11 (SAML)",
                "duration_ms": 80.0 + self.rng.range(0, 400) as f64,
            }));
        }
        let count = events.len();
        let receipt = self
            .one(send(
                Who::Token(SIEM),
                Method::POST,
                "/ingest",
                json!({ "events": events }),
                200,
            ))
            .await?;
        anyhow::ensure!(
            receipt["accepted"].as_u64() == Some(count as u64),
            "the ingest endpoint accepted {} of {count} events",
            receipt["accepted"]
        );
        Ok(())
    }

    /// The nightly backup reads the datastores; once its token expired it fails (401) every
    /// night until an admin notices and revokes it.
    async fn backup(&mut self) -> anyhow::Result<()> {
        let Some(token) = self.tokens.get(BACKUP) else {
            return Ok(());
        };
        if token.revoked {
            return Ok(());
        }
        let who = Who::Token(BACKUP);
        if token.expires_at.is_some_and(|at| at <= self.now) {
            return self
                .one(Call {
                    expect: 401,
                    ..get(who, "/datastores")
                })
                .await
                .map(drop);
        }
        let mut waves = vec![vec![get(who, "/datastores")]];
        if let Some(id) = self.live_id("datastores") {
            waves.push(vec![get(who, format!("/datastores/{id}"))]);
        }
        self.waves(waves).await
    }

    // ---------------------------------------------------------------------------------------
    // The story.

    /// Day one: the admin sets the platform up, invites the team and makes the tokens.
    async fn onboarding(&mut self) -> anyhow::Result<()> {
        self.set_clock();
        self.pause(60, 300);
        self.sign_in(DANA, true).await?;
        let dana = Who::Person(DANA);
        self.pause(2, 8);
        self.wave(vec![
            get(dana, ""),
            get(dana, "/settings"),
            get(dana, "/members"),
        ])
        .await?;

        self.pause(30, 120);
        for (name, region) in [
            ("prod-eu-west-1", "eu-west-1"),
            ("prod-us-east-1", "us-east-1"),
            ("staging-eu-west-1", "eu-west-1"),
        ] {
            self.create_named(dana, "clusters", name, "region", region)
                .await?;
            self.pause(10, 40);
        }
        self.pause(30, 90);
        self.create_named(
            dana,
            "cloud-accounts",
            "Acme AWS production",
            "provider",
            "aws",
        )
        .await?;
        self.pause(20, 60);
        let mut setup = Vec::new();
        setup.push(send(
            dana,
            Method::POST,
            "/integrations",
            json!({ "name": "Slack #deploys", "kind": "slack" }),
            201,
        ));
        for name in ["production", "staging"] {
            setup.push(send(
                dana,
                Method::POST,
                "/environment-groups",
                json!({ "name": name }),
                201,
            ));
        }
        for (name, engine) in [
            ("orders-db", "postgres 16"),
            ("analytics-warehouse", "clickhouse 24.3"),
        ] {
            setup.push(send(
                dana,
                Method::POST,
                "/datastores",
                json!({ "name": name, "engine": engine }),
                201,
            ));
        }
        let bodies = self.wave(setup).await?;
        self.remember_named("integrations", &bodies[0], "slack")?;
        self.remember_named("environment-groups", &bodies[1], "")?;
        self.remember_named("environment-groups", &bodies[2], "")?;
        self.remember_named("datastores", &bodies[3], "postgres 16")?;
        self.remember_named("datastores", &bodies[4], "clickhouse 24.3")?;

        self.pause(60, 180);
        let clusters: Vec<i64> = self.world.clusters.iter().map(|c| c.id).collect();
        let apps = [
            ("checkout-api", clusters[0]),
            ("payments-worker", clusters[0]),
            ("web-frontend", clusters[1]),
            ("notifications", clusters[2]),
            ("auth-service", clusters[0]),
        ];
        let calls = apps
            .iter()
            .map(|(name, cluster)| {
                send(
                    dana,
                    Method::POST,
                    "/applications",
                    json!({
                        "name": name,
                        "image": format!("registry.acme.dev/{name}:1.0.0"),
                        "cluster_id": cluster,
                    }),
                    201,
                )
            })
            .collect();
        let bodies = self.wave(calls).await?;
        for body in &bodies {
            self.remember_app(body)?;
        }

        self.pause(120, 400);
        let members = [PRIYA, MARCO, SAM, LENA, JULES];
        let calls = members.iter().map(|&p| self.add_member_call(p)).collect();
        let bodies = self.wave(calls).await?;
        for (&person, body) in members.iter().zip(&bodies) {
            self.remember_member(person, body).await?;
        }

        self.pause(60, 240);
        let backup_days = (self.days / 3).max(1);
        let calls = TOKENS
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let expires = (index == BACKUP).then_some(backup_days);
                send(
                    dana,
                    Method::POST,
                    "/tokens",
                    json!({
                        "name": spec.name,
                        "role": spec.role.as_str(),
                        "can_ingest": spec.can_ingest,
                        "expires_in_days": expires,
                    }),
                    201,
                )
            })
            .collect();
        let bodies = self.wave(calls).await?;
        for (index, (spec, body)) in TOKENS.iter().zip(&bodies).enumerate() {
            let expires_at = (index == BACKUP).then_some(self.now + i64::from(backup_days) * DAY);
            self.tokens.push(Token {
                spec,
                secret: body["secret"]
                    .as_str()
                    .context("a created token has no secret")?
                    .to_string(),
                id: body["token"]["id"]
                    .as_i64()
                    .context("a created token has no id")?,
                expires_at,
                revoked: false,
            });
        }
        self.pause(5, 20);
        self.wave(vec![get(dana, "/tokens"), get(dana, "/applications")])
            .await?;

        // Dana names the audit log views she keeps coming back to, for the other admins.
        self.pause(60, 300);
        self.wave(vec![
            send(
                dana,
                Method::POST,
                "/saved-views",
                json!({
                    "name": "Failed deploys",
                    "query": "range=30d&action=application.deploy&status.not=2xx",
                }),
                201,
            ),
            send(
                dana,
                Method::POST,
                "/saved-views",
                json!({ "name": "Token writes", "query": "method.not=GET&source=api" }),
                201,
            ),
        ])
        .await?;
        self.wave(vec![get(dana, "/saved-views")]).await?;

        // She opens Streaming and starts adding the SIEM with a filter that holds a window,
        // which the server refuses (a stream's filter matches entries whenever they are written).
        self.pause(60, 600);
        self.wave(vec![get(dana, "/streams")]).await?;
        self.pause(20, 90);
        self.wave(vec![send(
            dana,
            Method::POST,
            "/streams",
            json!({
                "name": "SIEM",
                "kind": "webhook",
                "url": "https://siem.acme.example/auditlog",
                "filter": "range=24h&method.not=GET",
            }),
            400,
        )])
        .await?;
        // She looks at the alerts and tries the failed sign-ins preset, which needs a
        // destination first.
        self.pause(20, 90);
        self.wave(vec![get(dana, "/alerts")]).await?;
        self.pause(10, 60);
        self.wave(vec![send(
            dana,
            Method::POST,
            "/alerts",
            json!({
                "name": "5 failed sign-ins for one account in 10 minutes",
                "filter": "action=session.sign_in_failed",
                "condition": {"type": "threshold", "count": 5, "window_seconds": 600, "group_by": "actor"},
                "destination_id": 1,
            }),
            400,
        )])
        .await?;
        Ok(())
    }

    async fn milestone(&mut self, milestone: Milestone) -> anyhow::Result<()> {
        let dana = Who::Person(DANA);
        match milestone {
            Milestone::RevokeOnboardingToken => {
                self.ensure_session(DANA).await?;
                self.wave(vec![get(dana, "/tokens")]).await?;
                self.pause(5, 20);
                self.revoke(ONBOARDING).await?;
            }
            Milestone::EnableExport => {
                self.ensure_session(DANA).await?;
                self.wave(vec![get(dana, "/settings")]).await?;
                self.pause(5, 30);
                let settings = self
                    .one(send(
                        dana,
                        Method::PATCH,
                        "/settings",
                        json!({ "audit_export_enabled": true }),
                        200,
                    ))
                    .await?;
                anyhow::ensure!(
                    settings["audit_export_enabled"] == json!(true),
                    "the audit export setting did not turn on: {settings}"
                );
            }
            Milestone::ExpandPlatform => {
                self.ensure_session(PRIYA).await?;
                let priya = Who::Person(PRIYA);
                let us_cluster = self.world.clusters[1].id;
                let bodies = self
                    .wave(vec![
                        send(
                            priya,
                            Method::POST,
                            "/datastores",
                            json!({ "name": "sessions-cache", "engine": "redis 7.2" }),
                            201,
                        ),
                        send(
                            priya,
                            Method::POST,
                            "/environment-groups",
                            json!({ "name": "preview" }),
                            201,
                        ),
                    ])
                    .await?;
                self.remember_named("datastores", &bodies[0], "redis 7.2")?;
                self.remember_named("environment-groups", &bodies[1], "")?;
                self.pause(60, 300);
                let app = self
                    .one(send(
                        priya,
                        Method::POST,
                        "/applications",
                        json!({
                            "name": "search-indexer",
                            "image": "registry.acme.dev/search-indexer:0.9.0",
                            "cluster_id": us_cluster,
                        }),
                        201,
                    ))
                    .await?;
                self.remember_app(&app)?;
                self.pause(600, 3_000);
                self.ensure_session(DANA).await?;
                self.create_named(
                    dana,
                    "cloud-accounts",
                    "Acme GCP analytics",
                    "provider",
                    "gcp",
                )
                .await?;
            }
            Milestone::ViewerOverreach => {
                // Lena tidies up what she takes for a leftover, and is refused.
                self.ensure_session(LENA).await?;
                let lena = Who::Person(LENA);
                let Some(index) = self.live_app() else {
                    return Ok(());
                };
                let id = self.world.apps[index].id;
                self.wave(vec![
                    get(lena, "/applications"),
                    get(lena, format!("/applications/{id}")),
                ])
                .await?;
                self.pause(10, 40);
                self.one(delete(lena, format!("/applications/{id}"), 403))
                    .await?;
            }
            Milestone::AddNoor => {
                self.ensure_session(DANA).await?;
                self.wave(vec![get(dana, "/members")]).await?;
                self.pause(10, 40);
                let call = self.add_member_call(NOOR);
                let body = self.one(call).await?;
                self.remember_member(NOOR, &body).await?;
            }
            Milestone::PromoteMarco => {
                self.ensure_session(DANA).await?;
                let marco = self.user_id(MARCO)?;
                self.wave(vec![get(dana, "/members")]).await?;
                self.pause(5, 20);
                self.one(send(
                    dana,
                    Method::PATCH,
                    format!("/members/{marco}"),
                    json!({ "role": "admin" }),
                    200,
                ))
                .await?;
                self.people[MARCO].role = Role::Admin;
            }
            Milestone::SandboxCluster => {
                self.ensure_session(MARCO).await?;
                let marco = Who::Person(MARCO);
                self.wave(vec![get(marco, "/clusters")]).await?;
                self.pause(20, 90);
                self.create_named(marco, "clusters", "dev-sandbox", "region", "eu-central-1")
                    .await?;
            }
            Milestone::DeleteSandbox => {
                self.ensure_session(MARCO).await?;
                self.delete_named(Who::Person(MARCO), "clusters", "dev-sandbox")
                    .await?;
            }
            Milestone::Observability => {
                self.ensure_session(DANA).await?;
                let bodies = self
                    .wave(vec![
                        send(
                            dana,
                            Method::POST,
                            "/integrations",
                            json!({ "name": "PagerDuty", "kind": "pagerduty" }),
                            201,
                        ),
                        send(
                            dana,
                            Method::POST,
                            "/integrations",
                            json!({ "name": "Datadog", "kind": "datadog" }),
                            201,
                        ),
                    ])
                    .await?;
                self.remember_named("integrations", &bodies[0], "pagerduty")?;
                self.remember_named("integrations", &bodies[1], "datadog")?;
                self.pause(60, 600);
                let aws = self.world.cloud_accounts[0].id;
                self.wave(vec![get(dana, format!("/cloud-accounts/{aws}"))])
                    .await?;
                self.pause(10, 60);
                let renamed = "Acme AWS production (main)";
                self.one(send(
                    dana,
                    Method::PATCH,
                    format!("/cloud-accounts/{aws}"),
                    json!({ "name": renamed }),
                    200,
                ))
                .await?;
                self.world.cloud_accounts[0].name = renamed.into();
            }
            Milestone::RevokeBackupToken => {
                self.ensure_session(DANA).await?;
                let id = self.tokens[BACKUP].id;
                self.wave(vec![
                    get(dana, "/tokens"),
                    get(dana, format!("/tokens/{id}")),
                ])
                .await?;
                self.pause(10, 40);
                self.revoke(BACKUP).await?;
            }
            Milestone::PasswordGuessing => {
                let guesser = Who::Stranger("python-requests/2.31.0");
                for _ in 0..2 {
                    let calls = (0..2)
                        .map(|n| {
                            send(
                                guesser,
                                Method::POST,
                                "/api/v1/session",
                                json!({
                                    "email": DEMO_ADMIN_EMAIL,
                                    "password": format!("Summer2024!{n}"),
                                }),
                                401,
                            )
                        })
                        .collect();
                    self.wave(calls).await?;
                    self.pause(3, 12);
                }
            }
            Milestone::RevokeMarcoCli => {
                self.ensure_session(DANA).await?;
                self.wave(vec![get(dana, "/tokens")]).await?;
                self.pause(5, 30);
                self.revoke(MARCO_CLI).await?;
            }
            Milestone::RevokedTokenTried => {
                self.one(Call {
                    expect: 401,
                    ..get(Who::Token(MARCO_CLI), "/clusters")
                })
                .await?;
            }
            Milestone::RemoveSam => self.remove_member(SAM).await?,
            Milestone::DeleteDatadog => {
                self.ensure_session(DANA).await?;
                self.delete_named(dana, "integrations", "Datadog").await?;
            }
            Milestone::RemoveJules => self.remove_member(JULES).await?,
            Milestone::RetireNotifications => {
                self.ensure_session(PRIYA).await?;
                let priya = Who::Person(PRIYA);
                let Some(index) = self
                    .world
                    .apps
                    .iter()
                    .position(|a| a.name == "notifications" && a.live)
                else {
                    return Ok(());
                };
                let id = self.world.apps[index].id;
                self.wave(vec![get(priya, format!("/applications/{id}"))])
                    .await?;
                self.pause(10, 60);
                self.one(delete(priya, format!("/applications/{id}"), 204))
                    .await?;
                self.world.apps[index].live = false;
                self.world.gone.push(("applications", id));
            }
            Milestone::StaleTab => {
                self.ensure_session(LENA).await?;
                let id = self
                    .world
                    .apps
                    .iter()
                    .find(|a| a.name == "notifications")
                    .map(|a| a.id)
                    .context("the notifications application was never created")?;
                self.one(Call {
                    expect: 404,
                    ..get(Who::Person(LENA), format!("/applications/{id}"))
                })
                .await?;
            }
            Milestone::DeletePreview => {
                self.ensure_session(NOOR).await?;
                self.delete_named(Who::Person(NOOR), "environment-groups", "preview")
                    .await?;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Steps of the story.

    async fn create_named(
        &mut self,
        who: Who,
        collection: &'static str,
        name: &str,
        attribute: &str,
        value: &str,
    ) -> anyhow::Result<()> {
        let mut body = json!({ "name": name });
        body[attribute] = json!(value);
        if collection == "cloud-accounts" {
            body["external_account_id"] = json!(match value {
                "aws" => "123456789012",
                _ => "acme-analytics-prod",
            });
        }
        let created = self
            .one(send(who, Method::POST, format!("/{collection}"), body, 201))
            .await?;
        self.remember_named(collection, &created, value)
    }

    async fn delete_named(
        &mut self,
        who: Who,
        collection: &'static str,
        name: &str,
    ) -> anyhow::Result<()> {
        let id = match collection {
            "clusters" => &self.world.clusters,
            "environment-groups" => &self.world.environment_groups,
            _ => &self.world.integrations,
        }
        .iter()
        .find(|n| n.name == name && n.live)
        .map(|n| n.id)
        .with_context(|| format!("{name} is not in {collection}"))?;
        self.wave(vec![get(who, format!("/{collection}/{id}"))])
            .await?;
        self.pause(10, 60);
        self.one(delete(who, format!("/{collection}/{id}"), 204))
            .await?;
        if let Some(named) = self.named_mut(collection, id) {
            named.live = false;
        }
        self.world.gone.push((collection, id));
        Ok(())
    }

    fn remember_named(
        &mut self,
        collection: &'static str,
        body: &Value,
        detail: &str,
    ) -> anyhow::Result<()> {
        let named = Named {
            id: body["id"]
                .as_i64()
                .with_context(|| format!("a created resource in {collection} has no id"))?,
            name: body["name"].as_str().unwrap_or_default().to_string(),
            detail: detail.to_string(),
            revision: 0,
            live: true,
        };
        match collection {
            "clusters" => self.world.clusters.push(named),
            "datastores" => self.world.datastores.push(named),
            "environment-groups" => self.world.environment_groups.push(named),
            "cloud-accounts" => self.world.cloud_accounts.push(named),
            _ => self.world.integrations.push(named),
        }
        Ok(())
    }

    fn remember_app(&mut self, body: &Value) -> anyhow::Result<()> {
        let name = body["name"]
            .as_str()
            .context("a created application has no name")?;
        let image = body["image"].as_str().unwrap_or_default();
        let (repository, tag) = image.rsplit_once(':').unwrap_or((image, "1.0.0"));
        let mut parts = tag.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let version = (
            parts.next().unwrap_or(1),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        self.world.apps.push(App {
            id: body["id"]
                .as_i64()
                .context("a created application has no id")?,
            name: name.to_string(),
            repository: repository.to_string(),
            version,
            live: true,
        });
        Ok(())
    }

    /// The admin invites a person (the answer holds the invitation's link).
    fn add_member_call(&self, person: usize) -> Call {
        let p = &self.people[person];
        send(
            Who::Person(DANA),
            Method::POST,
            "/members",
            json!({
                "email": p.spec.email,
                "role": p.spec.role.as_str(),
            }),
            201,
        )
    }

    /// The invited person opens the link and joins with the password they choose, signed in.
    async fn remember_member(&mut self, person: usize, invitation: &Value) -> anyhow::Result<()> {
        let secret = invitation["secret"]
            .as_str()
            .context("an invitation has no secret")?;
        let p = &self.people[person];
        let call = send(
            Who::Person(person),
            Method::POST,
            format!("/api/v1/invitations/{secret}/accept"),
            json!({ "password": p.password, "display_name": p.spec.name }),
            200,
        );
        let answer = self
            .exchange(&[call])
            .await?
            .pop()
            .context("accepting an invitation got no answer")?;
        self.people[person].user_id = Some(
            answer.body["user"]["id"]
                .as_i64()
                .context("an accepted invitation names no user")?,
        );
        self.people[person].member = true;
        self.keep_session(person, &answer)
    }

    async fn revoke(&mut self, token: usize) -> anyhow::Result<()> {
        let id = self.tokens[token].id;
        let revoked = self
            .one(delete(Who::Person(DANA), format!("/tokens/{id}"), 200))
            .await?;
        anyhow::ensure!(
            !revoked["revoked_at"].is_null(),
            "token {id} is not revoked: {revoked}"
        );
        self.tokens[token].revoked = true;
        Ok(())
    }

    /// The admin removes a member; with no other project, the account is deleted.
    async fn remove_member(&mut self, person: usize) -> anyhow::Result<()> {
        self.ensure_session(DANA).await?;
        let dana = Who::Person(DANA);
        let user_id = self.user_id(person)?;
        self.wave(vec![get(dana, "/members")]).await?;
        self.pause(10, 40);
        self.one(delete(dana, format!("/members/{user_id}"), 204))
            .await?;
        self.people[person].member = false;
        self.people[person].session = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_busy_on_weekday_afternoons_and_quiet_at_night() {
        let tuesday_afternoon = "2026-11-24T14:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let tuesday_night = "2026-11-24T03:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let sunday_afternoon = "2026-11-29T14:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(activity_level(tuesday_afternoon), 1.0);
        assert!(activity_level(tuesday_night) < 0.05);
        assert!(activity_level(sunday_afternoon) < 0.1);
    }

    #[test]
    fn merged_activities_go_out_together() {
        let who = Who::Stranger("test");
        let merged = merge(
            vec![vec![get(who, "/a")], vec![get(who, "/b")]],
            vec![
                vec![get(who, "/c")],
                vec![get(who, "/d")],
                vec![get(who, "/e")],
            ],
        );
        let paths: Vec<Vec<&str>> = merged
            .iter()
            .map(|wave| wave.iter().map(|call| call.path.as_str()).collect())
            .collect();
        assert_eq!(paths, vec![vec!["/a", "/c"], vec!["/b", "/d"], vec!["/e"]]);
    }
}
