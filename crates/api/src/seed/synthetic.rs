//! `auditlog-server bench-seed`: a large, realistic and deterministic audit history written
//! straight into the database, for benchmarks at the scale of the busiest projects.
//!
//! The same `--seed`, `--entries`, `--projects`, `--days` and `--end` give the same rows.
//! The shape:
//! * Projects are skewed: the first holds 35 % of all entries, the rest follow a Zipf law.
//! * Each project has members (users), API tokens, clusters, applications, datastores,
//!   environment groups, cloud accounts and integrations as real rows; entries name them by id
//!   and by the name they have.
//! * Actors are skewed within a project (a Zipf law: a CI token and a few people dominate).
//!   Users work from the dashboard or the CLI, tokens through the API.
//! * About 70 % of requests are reads; 3 % of answers are 4xx and 0.3 % 5xx.
//! * Time follows the day (quiet nights, busy afternoons UTC, quieter weekends) with bursts:
//!   a few 5–30 minute stretches per project and day at 5–15 times the usual rate.
//!
//! Every invariant the server relies on holds: each project's hash chain (`chain_seq`,
//! `prev_hash`, `entry_hash`, and its head), the derived columns, and the rollup counts.
//! Rows go in with batched inserts in large transactions on SQLite and with COPY on PostgreSQL.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use auditlog_shared::wire::Role;
use auditlog_shared::{ResourceType, Source};
use diesel::prelude::*;
use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;

use super::SeedRng;
use crate::auth::password;
use crate::capture::collection_name;
use crate::catalog::{self, RouteSpec};
use crate::db::schema::{
    api_tokens, applications, audit_chain_heads, audit_entries, cloud_accounts, clusters,
    datastores, environment_groups, integrations, memberships, project_settings, projects, users,
};
use crate::db::DbConnection;
use crate::entry::chain::ChainHead;
use crate::entry::draft::{ActorKind, DraftActor, EntryDraft};
use crate::entry::NewAuditEntry;

/// The account that administers every generated project.
pub const ADMIN_EMAIL: &str = "bench@auditlog.local";

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    pub entries: u64,
    pub projects: u32,
    /// The history spans `days` days ending at `end`.
    pub days: u32,
    /// The end of the history, microseconds since the Unix epoch.
    pub end: i64,
    pub seed: u64,
    /// The password of [`ADMIN_EMAIL`] (and of every generated member).
    pub password: String,
}

/// What was generated.
#[derive(Clone, Debug)]
pub struct SeedSummary {
    pub entries: u64,
    pub projects: u32,
    pub largest_project_id: i64,
    pub largest_project_entries: u64,
    pub elapsed: Duration,
}

/// Entries per write transaction.
const TRANSACTION_ROWS: usize = 50_000;
const MINUTE: i64 = 60_000_000;

/// Generates the history into an empty database. The chain heads it leaves are signed with
/// `signer` (the server's key), as a server appending the same entries would have signed them.
pub fn seed(
    conn: &mut DbConnection,
    options: &SeedOptions,
    signer: &crate::entry::checkpoint::ChainSigner,
) -> anyhow::Result<SeedSummary> {
    let started = Instant::now();
    anyhow::ensure!(options.projects > 0, "--projects must be at least 1");
    anyhow::ensure!(
        (1..=30).contains(&options.days),
        "--days must be from 1 to 30 (the retention window)"
    );
    let existing: i64 = projects::table.count().get_result(conn)?;
    anyhow::ensure!(
        existing == 0,
        "bench-seed fills an empty database; this one already has {existing} projects"
    );
    bulk_load_settings(conn)?;

    let mut rng = SeedRng::seed_from_u64(options.seed);
    let start = options.end - i64::from(options.days) * 24 * 60 * MINUTE;
    let models = create_fixtures(conn, options, start, &mut rng).context("creating projects")?;

    // Timestamps, per project, sorted; then merged into one stream in time order.
    let profile = daily_profile(start, options.days);
    let timestamps: Vec<Vec<i64>> = models
        .iter()
        .map(|model| project_timestamps(model.entries, start, &profile, &mut rng))
        .collect();
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = timestamps
        .iter()
        .enumerate()
        .filter_map(|(index, ts)| ts.first().map(|&t| Reverse((t, index))))
        .collect();
    let mut positions = vec![0usize; models.len()];
    let mut heads = vec![ChainHead::genesis(); models.len()];
    let routes = RouteTable::new();

    let mut batch: Vec<NewAuditEntry> = Vec::with_capacity(TRANSACTION_ROWS);
    let mut written = 0u64;
    while let Some(Reverse((ts, index))) = heap.pop() {
        positions[index] += 1;
        if let Some(&next) = timestamps[index].get(positions[index]) {
            heap.push(Reverse((next, index)));
        }
        let mut entry = models[index].entry(ts, &routes, &mut rng);
        heads[index].link(&mut entry);

        batch.push(entry);
        if batch.len() == TRANSACTION_ROWS {
            written += batch.len() as u64;
            write(conn, &mut batch)?;
            if written.is_multiple_of(1_000_000) {
                tracing::info!(written, elapsed = ?started.elapsed(), "bench-seed progress");
            }
        }
    }
    written += batch.len() as u64;
    write(conn, &mut batch)?;

    let chain_heads: Vec<(i64, i64, String, i64)> = models
        .iter()
        .zip(heads)
        .filter(|(_, head)| head.chain_seq > 0)
        .map(|(model, head)| (model.id, head.chain_seq, head.entry_hash, head.newest_ts))
        .collect();
    conn.transaction(|conn| {
        for (project_id, seq, hash, signed_at) in &chain_heads {
            let (key_id, signature) = signer.sign_head(*project_id, *seq, hash, *signed_at);
            diesel::insert_into(audit_chain_heads::table)
                .values((
                    audit_chain_heads::project_id.eq(project_id),
                    audit_chain_heads::chain_seq.eq(seq),
                    audit_chain_heads::entry_hash.eq(hash),
                    audit_chain_heads::signed_at.eq(signed_at),
                    audit_chain_heads::key_id.eq(&key_id),
                    audit_chain_heads::signature.eq(&signature),
                ))
                .execute(conn)?;
        }
        QueryResult::Ok(())
    })?;
    finish_bulk_load(conn)?;

    let largest = &models[0];
    Ok(SeedSummary {
        entries: written,
        projects: options.projects,
        largest_project_id: largest.id,
        largest_project_entries: largest.entries,
        elapsed: started.elapsed(),
    })
}

/// Writes entries and their counts in one transaction, as the capture writer does.
fn write(conn: &mut DbConnection, batch: &mut Vec<NewAuditEntry>) -> anyhow::Result<()> {
    conn.transaction(|conn| {
        match conn {
            DbConnection::Postgres(conn) => {
                diesel::copy_from(audit_entries::table)
                    .from_insertable(batch.as_slice())
                    .execute(conn)?;
            }
            DbConnection::Sqlite(conn) => {
                for chunk in batch.chunks(500) {
                    diesel::insert_into(audit_entries::table)
                        .values(chunk)
                        .execute(conn)?;
                }
            }
        }
        crate::entry::rollup::record(conn, batch)
    })
    .context("writing generated entries")?;
    batch.clear();
    Ok(())
}

/// Speeds up the load: the data can be generated again, so a crash mid-way may lose it.
fn bulk_load_settings(conn: &mut DbConnection) -> QueryResult<()> {
    let statements: &[&str] = match conn {
        // The search index merges its segments inside the load's own commits (a server merges
        // them between its commits instead; `finish_bulk_load` hands them back to it).
        DbConnection::Sqlite(_) => &[
            "PRAGMA synchronous = OFF",
            "PRAGMA cache_size = -1048576",
            "INSERT INTO audit_search (audit_search, rank) VALUES ('automerge', 4)",
        ],
        DbConnection::Postgres(_) => &["SET synchronous_commit = off"],
    };
    for statement in statements {
        diesel::sql_query(*statement).execute(conn)?;
    }
    Ok(())
}

/// Makes the load durable and refreshes the planner's statistics.
fn finish_bulk_load(conn: &mut DbConnection) -> QueryResult<()> {
    let statements: &[&str] = match conn {
        DbConnection::Sqlite(_) => &[
            "INSERT INTO audit_search (audit_search, rank) VALUES ('automerge', 0)",
            "PRAGMA synchronous = FULL",
            "ANALYZE",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ],
        DbConnection::Postgres(_) => &["SET synchronous_commit = on", "ANALYZE"],
    };
    for statement in statements {
        diesel::sql_query(*statement).execute(conn)?;
    }
    Ok(())
}

/// Someone or something that calls the API.
struct Actor {
    kind: ActorKind,
    id: i64,
    name: String,
    email: Option<String>,
    ip: std::net::IpAddr,
    /// For users: how often they use the CLI rather than the dashboard.
    cli_share: f64,
    user_agent: &'static str,
}

/// A project and everything its entries name.
struct ProjectModel {
    id: i64,
    name: String,
    entries: u64,
    actors: Vec<Actor>,
    actor_weights: WeightedIndex<f64>,
    resources: HashMap<ResourceType, Vec<(i64, String)>>,
}

const FIRST_NAMES: [&str; 24] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Dennis",
    "Radia",
    "Leslie",
    "Margaret",
    "John",
    "Sophie",
    "Tim",
    "Anita",
    "Linus",
    "Guido",
    "Yukihiro",
    "Bjarne",
    "Katherine",
    "Hedy",
    "Niklaus",
    "Shafi",
];
const LAST_NAMES: [&str; 20] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Ritchie",
    "Perlman",
    "Lamport",
    "Hamilton",
    "McCarthy",
    "Wilson",
    "Berners",
    "Borg",
    "Torvalds",
    "Rossum",
    "Matsumoto",
    "Stroustrup",
];
const PROJECT_WORDS: [&str; 20] = [
    "payments",
    "checkout",
    "search",
    "billing",
    "identity",
    "catalog",
    "shipping",
    "ledger",
    "analytics",
    "notifications",
    "storefront",
    "inventory",
    "pricing",
    "reviews",
    "media",
    "gateway",
    "reports",
    "support",
    "onboarding",
    "mobile",
];
const APP_WORDS: [&str; 16] = [
    "api",
    "web",
    "worker",
    "scheduler",
    "frontend",
    "backend",
    "consumer",
    "cron",
    "admin",
    "graphql",
    "ingest",
    "export",
    "mailer",
    "cache-warmer",
    "webhooks",
    "sync",
];
const REGIONS: [&str; 5] = [
    "eu-west-1",
    "us-east-1",
    "us-west-2",
    "ap-southeast-1",
    "eu-central-1",
];
const TOKEN_NAMES: [(&str, &str); 6] = [
    ("github-actions-deploy", "GitHub-Actions/2.321"),
    ("terraform", "terraform-provider-auditlog/1.4.2"),
    ("grafana-sync", "Grafana/11.3"),
    ("backup-job", "python-requests/2.32.3"),
    ("argo-cd", "argocd/2.13"),
    ("ops-script", "curl/8.5.0"),
];
const BROWSERS: [&str; 3] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0",
];

/// Creates the admin, the users and every project with its resources, members and tokens.
fn create_fixtures(
    conn: &mut DbConnection,
    options: &SeedOptions,
    created_at: i64,
    rng: &mut SeedRng,
) -> anyhow::Result<Vec<ProjectModel>> {
    let hash = password::hash_password(&options.password)?;
    let projects_count = options.projects as usize;
    let user_count = (projects_count * 6).max(24);
    let shares = project_shares(projects_count);

    conn.transaction(|conn| {
        let admin_id: i64 = diesel::insert_into(users::table)
            .values((
                users::email.eq(ADMIN_EMAIL),
                users::display_name.eq("Bench Admin"),
                users::password_hash.eq(&hash),
                users::created_at.eq(created_at),
            ))
            .returning(users::id)
            .get_result(conn)?;
        let mut people = Vec::with_capacity(user_count);
        for n in 0..user_count {
            let first = FIRST_NAMES[n % FIRST_NAMES.len()];
            let last = LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()];
            let name = format!("{first} {last}");
            let email = format!(
                "{}.{}{}@example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                n / (FIRST_NAMES.len() * LAST_NAMES.len())
            );
            let id: i64 = diesel::insert_into(users::table)
                .values((
                    users::email.eq(&email),
                    users::display_name.eq(&name),
                    users::password_hash.eq(&hash),
                    users::created_at.eq(created_at),
                ))
                .returning(users::id)
                .get_result(conn)?;
            people.push((id, name, email));
        }

        let mut models = Vec::with_capacity(projects_count);
        let mut assigned = 0u64;
        for index in 0..projects_count {
            let entries = if index + 1 == projects_count {
                options.entries - assigned
            } else {
                ((options.entries as f64) * shares[index]).floor() as u64
            };
            assigned += entries;
            let size = shares[index] / shares[0]; // 1.0 for the largest
            let word = PROJECT_WORDS[index % PROJECT_WORDS.len()];
            let name = format!("{word}-{:03}", index + 1);
            let project_id: i64 = diesel::insert_into(projects::table)
                .values((
                    projects::name.eq(&name),
                    projects::slug.eq(&name),
                    projects::created_at.eq(created_at),
                ))
                .returning(projects::id)
                .get_result(conn)?;
            diesel::insert_into(project_settings::table)
                .values((
                    project_settings::project_id.eq(project_id),
                    project_settings::audit_export_enabled.eq(true),
                    project_settings::updated_at.eq(created_at),
                ))
                .execute(conn)?;
            let member = |conn: &mut DbConnection, user_id: i64, role: Role| {
                diesel::insert_into(memberships::table)
                    .values((
                        memberships::project_id.eq(project_id),
                        memberships::user_id.eq(user_id),
                        memberships::role.eq(role.as_str()),
                        memberships::created_at.eq(created_at),
                    ))
                    .execute(conn)
            };
            member(conn, admin_id, Role::Admin)?;

            let mut actors = Vec::new();
            let member_count = 2 + (size * 28.0).round() as usize + rng.gen_range(0..3);
            let first_member = rng.gen_range(0..people.len());
            for k in 0..member_count.min(people.len()) {
                let (user_id, user_name, email) = &people[(first_member + k) % people.len()];
                let role = match k % 5 {
                    0 => Role::Admin,
                    4 => Role::Viewer,
                    _ => Role::Developer,
                };
                member(conn, *user_id, role)?;
                actors.push(Actor {
                    kind: ActorKind::User,
                    id: *user_id,
                    name: user_name.clone(),
                    email: Some(email.clone()),
                    ip: std::net::IpAddr::from([
                        10,
                        (index % 250) as u8,
                        (k % 250) as u8,
                        (10 + k % 200) as u8,
                    ]),
                    cli_share: [0.05, 0.1, 0.3, 0.6][k % 4],
                    user_agent: BROWSERS[k % BROWSERS.len()],
                });
            }
            let token_count = 1 + (size * 4.0).round() as usize;
            let mut resources: HashMap<ResourceType, Vec<(i64, String)>> = HashMap::new();
            for (k, &(token_name, agent)) in TOKEN_NAMES.iter().take(token_count).enumerate() {
                let id: i64 = diesel::insert_into(api_tokens::table)
                    .values((
                        api_tokens::project_id.eq(project_id),
                        api_tokens::name.eq(token_name),
                        api_tokens::role.eq(Role::Developer.as_str()),
                        api_tokens::can_ingest.eq(false),
                        api_tokens::created_at.eq(created_at),
                    ))
                    .returning(api_tokens::id)
                    .get_result(conn)?;
                resources
                    .entry(ResourceType::ApiToken)
                    .or_default()
                    .push((id, token_name.to_string()));
                actors.insert(
                    k,
                    Actor {
                        kind: ActorKind::Token,
                        id,
                        name: token_name.to_string(),
                        email: None,
                        ip: std::net::IpAddr::from([172, 16, (index % 250) as u8, (10 + k) as u8]),
                        cli_share: 0.0,
                        user_agent: agent,
                    },
                );
            }
            let user_resources: Vec<(i64, String)> = actors
                .iter()
                .filter(|a| a.kind == ActorKind::User)
                .map(|a| (a.id, a.name.clone()))
                .collect();
            resources.insert(ResourceType::User, user_resources);

            let count = |scale: f64, rng: &mut SeedRng| {
                1 + (size * scale).round() as usize + rng.gen_range(0..2)
            };
            let mut cluster_ids = Vec::new();
            for k in 0..count(3.0, rng) {
                let name = format!(
                    "{}-{}",
                    REGIONS[k % REGIONS.len()],
                    ["prod", "staging", "dev"][k % 3]
                );
                let id: i64 = diesel::insert_into(clusters::table)
                    .values((
                        clusters::project_id.eq(project_id),
                        clusters::name.eq(&name),
                        clusters::region.eq(REGIONS[k % REGIONS.len()]),
                        clusters::created_at.eq(created_at),
                        clusters::updated_at.eq(created_at),
                    ))
                    .returning(clusters::id)
                    .get_result(conn)?;
                cluster_ids.push(id);
                resources
                    .entry(ResourceType::Cluster)
                    .or_default()
                    .push((id, name));
            }
            for k in 0..count(24.0, rng) {
                let name = format!(
                    "{word}-{}{}",
                    APP_WORDS[k % APP_WORDS.len()],
                    if k >= APP_WORDS.len() {
                        format!("-{}", k / APP_WORDS.len() + 1)
                    } else {
                        String::new()
                    }
                );
                let id: i64 = diesel::insert_into(applications::table)
                    .values((
                        applications::project_id.eq(project_id),
                        applications::cluster_id.eq(cluster_ids[k % cluster_ids.len()]),
                        applications::name.eq(&name),
                        applications::image.eq(format!("registry.example.com/{name}:1.{k}.0")),
                        applications::created_at.eq(created_at),
                        applications::updated_at.eq(created_at),
                    ))
                    .returning(applications::id)
                    .get_result(conn)?;
                resources
                    .entry(ResourceType::Application)
                    .or_default()
                    .push((id, name));
            }
            for k in 0..count(4.0, rng) {
                let name = format!(
                    "{word}-{}",
                    ["postgres", "redis", "mysql", "kafka", "mongo"][k % 5]
                );
                let name = if k >= 5 { format!("{name}-{k}") } else { name };
                let id: i64 = diesel::insert_into(datastores::table)
                    .values((
                        datastores::project_id.eq(project_id),
                        datastores::name.eq(&name),
                        datastores::engine
                            .eq(["postgres", "redis", "mysql", "kafka", "mongodb"][k % 5]),
                        datastores::created_at.eq(created_at),
                        datastores::updated_at.eq(created_at),
                    ))
                    .returning(datastores::id)
                    .get_result(conn)?;
                resources
                    .entry(ResourceType::Datastore)
                    .or_default()
                    .push((id, name));
            }
            for k in 0..count(3.0, rng) {
                let name = [
                    "production",
                    "staging",
                    "preview",
                    "shared-secrets",
                    "feature-flags",
                ][k % 5]
                    .to_string();
                let name = if k >= 5 { format!("{name}-{k}") } else { name };
                let id: i64 = diesel::insert_into(environment_groups::table)
                    .values((
                        environment_groups::project_id.eq(project_id),
                        environment_groups::name.eq(&name),
                        environment_groups::created_at.eq(created_at),
                        environment_groups::updated_at.eq(created_at),
                    ))
                    .returning(environment_groups::id)
                    .get_result(conn)?;
                resources
                    .entry(ResourceType::EnvironmentGroup)
                    .or_default()
                    .push((id, name));
            }
            for k in 0..count(1.0, rng) {
                let (provider, name) = [
                    ("aws", "aws-main"),
                    ("gcp", "gcp-data"),
                    ("azure", "azure-legacy"),
                ][k % 3];
                let name = if k >= 3 {
                    format!("{name}-{k}")
                } else {
                    name.to_string()
                };
                let id: i64 = diesel::insert_into(cloud_accounts::table)
                    .values((
                        cloud_accounts::project_id.eq(project_id),
                        cloud_accounts::name.eq(&name),
                        cloud_accounts::provider.eq(provider),
                        cloud_accounts::external_account_id
                            .eq(format!("{:012}", rng.gen_range(0..1_000_000_000_000u64))),
                        cloud_accounts::created_at.eq(created_at),
                        cloud_accounts::updated_at.eq(created_at),
                    ))
                    .returning(cloud_accounts::id)
                    .get_result(conn)?;
                resources
                    .entry(ResourceType::CloudAccount)
                    .or_default()
                    .push((id, name));
            }
            for k in 0..count(2.0, rng) {
                let (kind, name) = [
                    ("slack", "slack-alerts"),
                    ("pagerduty", "pagerduty"),
                    ("datadog", "datadog"),
                    ("github", "github"),
                ][k % 4];
                let name = if k >= 4 {
                    format!("{name}-{k}")
                } else {
                    name.to_string()
                };
                let id: i64 = diesel::insert_into(integrations::table)
                    .values((
                        integrations::project_id.eq(project_id),
                        integrations::name.eq(&name),
                        integrations::kind.eq(kind),
                        integrations::created_at.eq(created_at),
                        integrations::updated_at.eq(created_at),
                    ))
                    .returning(integrations::id)
                    .get_result(conn)?;
                resources
                    .entry(ResourceType::Integration)
                    .or_default()
                    .push((id, name));
            }

            // A few actors dominate: weights follow a Zipf law over a shuffled order.
            let actor_weights = WeightedIndex::new(
                (0..actors.len()).map(|rank| 1.0 / ((rank + 1) as f64).powf(1.1)),
            )
            .expect("every project has actors");
            models.push(ProjectModel {
                id: project_id,
                name,
                entries,
                actors,
                actor_weights,
                resources,
            });
        }
        anyhow::Ok(models)
    })
}

/// Each project's share of all entries: 35 % for the first, a Zipf law over the rest.
fn project_shares(projects: usize) -> Vec<f64> {
    if projects == 1 {
        return vec![1.0];
    }
    let harmonic: f64 = (1..projects).map(|rank| 1.0 / rank as f64).sum();
    std::iter::once(0.35)
        .chain((1..projects).map(|rank| 0.65 / rank as f64 / harmonic))
        .collect()
}

/// The relative request rate of every minute of the history: low at night, highest in the
/// afternoon (UTC), lower at weekends.
fn daily_profile(start: i64, days: u32) -> Vec<f64> {
    let minutes = days as usize * 24 * 60;
    (0..minutes)
        .map(|minute| {
            let at = crate::clock::from_micros(start + minute as i64 * MINUTE);
            let hour =
                chrono::Timelike::hour(&at) as f64 + chrono::Timelike::minute(&at) as f64 / 60.0;
            let daytime = (std::f64::consts::PI * (hour - 8.0) / 12.0).sin().max(0.0);
            let weekday = chrono::Datelike::weekday(&at).number_from_monday();
            let weekend = if weekday >= 6 { 0.4 } else { 1.0 };
            (0.15 + daytime * daytime) * weekend
        })
        .collect()
}

/// `count` timestamps following the daily profile and the project's own bursts (two a day,
/// 5–30 minutes at 5–15 times the rate), sorted.
fn project_timestamps(count: u64, start: i64, profile: &[f64], rng: &mut SeedRng) -> Vec<i64> {
    let mut weights = profile.to_vec();
    let days = profile.len() / (24 * 60);
    for _ in 0..days * 2 {
        let begin = rng.gen_range(0..weights.len());
        let length = rng.gen_range(5..=30);
        let factor: f64 = rng.gen_range(5.0..15.0);
        for weight in weights.iter_mut().skip(begin).take(length) {
            *weight *= factor;
        }
    }
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut sum = 0.0;
    for weight in &weights {
        sum += weight;
        cumulative.push(sum);
    }
    let mut timestamps: Vec<i64> = (0..count)
        .map(|_| {
            let u = rng.gen::<f64>() * sum;
            let minute = cumulative
                .partition_point(|&c| c < u)
                .min(weights.len() - 1);
            start + minute as i64 * MINUTE + rng.gen_range(0..MINUTE)
        })
        .collect();
    timestamps.sort_unstable();
    timestamps
}

/// Routes with how often they are called.
struct RouteTable {
    routes: Vec<&'static RouteSpec>,
    weights: WeightedIndex<f64>,
}

impl RouteTable {
    fn new() -> RouteTable {
        let routes: Vec<&'static RouteSpec> = catalog::all_routes()
            .filter(|route| route.action != "audit_log.ingest")
            .collect();
        let weights = routes
            .iter()
            .map(|route| route_weight(route))
            .collect::<Vec<_>>();
        RouteTable {
            weights: WeightedIndex::new(weights).expect("routes have weights"),
            routes,
        }
    }
}

/// How often a route is called, relative to the others: about 70 % of calls are reads.
fn route_weight(route: &RouteSpec) -> f64 {
    match route.action {
        "application.read" => 14.0,
        "application.list" => 12.0,
        "project.read" => 10.0,
        "application.deploy" => 10.0,
        "application.update" => 6.0,
        "cluster.list" => 6.0,
        "cluster.read" => 5.0,
        "environment_group.update" => 4.0,
        "audit_log.list" => 3.0,
        "datastore.list" | "datastore.read" | "environment_group.list" => 3.0,
        "environment_group.read" => 2.0,
        "application.create" => 1.5,
        "audit_log.histogram" | "audit_log.facets" | "user.list" => 1.5,
        _ => match route.method {
            "GET" => 0.8,
            "PATCH" => 0.8,
            "POST" => 0.4,
            _ => 0.15,
        },
    }
}

impl ProjectModel {
    fn entry(&self, ts: i64, routes: &RouteTable, rng: &mut SeedRng) -> NewAuditEntry {
        let actor = &self.actors[self.actor_weights.sample(rng)];
        let source = if actor.kind == ActorKind::Token {
            Source::Api
        } else if rng.gen_bool(actor.cli_share) {
            Source::Cli
        } else {
            Source::Dashboard
        };
        let user_agent = match source {
            Source::Cli => "auditlog-cli/0.1.0",
            _ => actor.user_agent,
        };
        let route = routes.routes[routes.weights.sample(rng)];
        let mut path = format!("/api/v1/projects/{}{}", self.id, route.template);
        let (resource_id, resource_name) = if route.resource_type == ResourceType::Project {
            (Some(self.id), self.name.clone())
        } else if route.template.contains("{id}") {
            match self
                .resources
                .get(&route.resource_type)
                .filter(|r| !r.is_empty())
            {
                Some(candidates) => {
                    let (id, name) = &candidates[rng.gen_range(0..candidates.len())];
                    path = path.replace("{id}", &id.to_string());
                    (Some(*id), name.clone())
                }
                None => {
                    let id = rng.gen_range(1..1_000);
                    path = path.replace("{id}", &id.to_string());
                    (Some(id), format!("#{id}"))
                }
            }
        } else {
            (None, collection_name(route.resource_type).to_string())
        };
        path = path.replace("{format}", if rng.gen_bool(0.5) { "csv" } else { "ndjson" });
        if route.action == "audit_log.list" && rng.gen_bool(0.3) {
            path.push_str("?range=24h&method.not=GET");
        }
        let status = status_of(route.method, rng);
        let base = match route.method {
            "GET" => 1_500,
            _ => 8_000,
        };
        let mean = match route.action {
            "application.deploy" => 120_000.0,
            _ if route.method == "GET" => 6_000.0,
            _ => 25_000.0,
        };
        let duration = base + (-mean * (1.0 - rng.gen::<f64>()).ln()) as i64;
        EntryDraft {
            project_id: self.id,
            ts,
            actor: DraftActor {
                kind: actor.kind,
                id: Some(actor.id),
                name: actor.name.clone(),
                email: actor.email.clone(),
            },
            source,
            method: actix_web::http::Method::from_bytes(route.method.as_bytes())
                .expect("the catalog's methods are standard"),
            path,
            route: format!("{}{}", catalog::PROJECT_SCOPE, route.template),
            action: route.action.to_string(),
            status,
            resource_type: route.resource_type,
            resource_id,
            resource_name,
            client_ip: Some(actor.ip),
            user_agent: Some(user_agent.to_string()),
            request_id: format!("{:016x}{:016x}", rng.gen::<u64>(), rng.gen::<u64>()),
            duration_us: duration,
            ingested_by_token_id: None,
            changes: None,
        }
        .into_entry()
    }
}

/// The answer's status: mostly success, 3 % client errors, 0.3 % server errors.
fn status_of(method: &str, rng: &mut SeedRng) -> u16 {
    let roll: f64 = rng.gen();
    if roll < 0.003 {
        return [500, 500, 500, 502, 503][rng.gen_range(0..5)];
    }
    if roll < 0.033 {
        return match method {
            "GET" => [404, 404, 403, 401][rng.gen_range(0..4)],
            _ => [422, 422, 409, 403, 404][rng.gen_range(0..5)],
        };
    }
    match method {
        "POST" => 201,
        "DELETE" => 204,
        _ => 200,
    }
}
