//! `retention`: what the retention job costs on PostgreSQL when a day of entries expires, with
//! the table partitioned by day (the day's partition is dropped) and as one table (the day's
//! rows are deleted in batches, as before partitioning). Both databases hold the same generated
//! history; the unpartitioned one is made by reverting the partitioning migration.

use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use diesel::prelude::*;
use diesel::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use auditlog_api::db::partitions::{day_start, DAY_MICROS};
use auditlog_api::db::{self, DatabaseTarget};
use auditlog_api::entry::checkpoint::ChainSigner;
use auditlog_api::seed::synthetic::{self, SeedOptions};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Entries in the generated history.
    #[arg(long, default_value_t = 3_000_000)]
    pub entries: u64,
    /// Days the generated history spans, ending at the next UTC midnight (fewer days make
    /// bigger days).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Projects in the generated history.
    #[arg(long, default_value_t = 200)]
    pub projects: u32,
    /// The PostgreSQL server to create the two databases on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
}

pub async fn run(args: RetentionArgs) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now();
    // The history ends at the next midnight, so its first day is a whole UTC day; retention
    // then runs when exactly that day has passed the horizon.
    let end = day_start(started_at.timestamp_micros()) + DAY_MICROS;
    let first_day = end - i64::from(args.days) * DAY_MICROS;
    let purge_at = first_day + DAY_MICROS + 30 * DAY_MICROS;
    println!(
        "| Table | Entries stored | Entries of the expired day | Removing them (s) | Partitions dropped | Rest of the retention job (s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for partitioned in [true, false] {
        let label = if partitioned {
            "partitioned by day"
        } else {
            "one table"
        };
        let name = if partitioned {
            "auditlog_bench_retention_partitioned"
        } else {
            "auditlog_bench_retention_single"
        };
        let url = create_database(&args.postgres_url, name)?;
        let target = DatabaseTarget::parse(&url)?;
        let pool =
            tokio::task::spawn_blocking(move || db::connect_and_migrate(&target, 2)).await??;
        let signer = ChainSigner::from_seed([7; 32], &[])?;
        let options = SeedOptions {
            entries: args.entries,
            projects: args.projects,
            days: args.days,
            end,
            seed: 1,
            password: "bench-password".into(),
        };
        let report =
            tokio::task::spawn_blocking(move || -> anyhow::Result<(i64, i64, f64, usize, f64)> {
                let mut conn = pool.get()?;
                if !partitioned {
                    let mut pg = PgConnection::establish(&url)?;
                    pg.revert_last_migration(MIGRATIONS)
                        .map_err(|e| anyhow::anyhow!(e))
                        .context("reverting the partitioning")?;
                }
                eprintln!("{label}: generating {} entries", options.entries);
                synthetic::seed(&mut conn, &options, &signer)?;
                diesel::sql_query("ANALYZE audit_entries").execute(&mut conn)?;
                let stored: i64 = db::schema::audit_entries::table
                    .count()
                    .get_result(&mut conn)?;
                let expiring: i64 = db::schema::audit_entries::table
                    .filter(db::schema::audit_entries::ts.lt(first_day + DAY_MICROS))
                    .count()
                    .get_result(&mut conn)?;
                let before = db::partitions::list(&mut conn)?.len();
                // The entries first (what partitioning changes), then the rest of the job
                // (rollup counts, manifests, sessions) as it runs after them.
                let started = Instant::now();
                let deleted = auditlog_api::audit_log::retention::remove_expired_entries(
                    &mut conn,
                    first_day + DAY_MICROS,
                )?;
                let seconds = started.elapsed().as_secs_f64();
                let started = Instant::now();
                auditlog_api::audit_log::retention::purge_expired(&mut conn, purge_at, &signer)?;
                let rest = started.elapsed().as_secs_f64();
                anyhow::ensure!(
                    deleted as i64 == expiring,
                    "retention removed {deleted} entries, {expiring} expired"
                );
                let dropped = before - db::partitions::list(&mut conn)?.len();
                if !partitioned {
                    // The upgrade of this database, as a server starting on it runs it.
                    drop(conn);
                    let started = Instant::now();
                    let mut pg = PgConnection::establish(&url)?;
                    pg.run_pending_migrations(MIGRATIONS)
                        .map_err(|e| anyhow::anyhow!(e))
                        .context("partitioning in place")?;
                    eprintln!(
                        "one table: partitioned in place in {:.1} s ({} entries)",
                        started.elapsed().as_secs_f64(),
                        stored - expiring
                    );
                }
                Ok((stored, expiring, seconds, dropped, rest))
            })
            .await??;
        let (stored, expiring, seconds, dropped, rest) = report;
        println!(
            "| {label} | {} | {} | {seconds:.2} | {dropped} | {rest:.2} |",
            crate::report::thousands(stored as f64),
            crate::report::thousands(expiring as f64),
        );
        drop_database(&args.postgres_url, name)?;
    }
    Ok(())
}

fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = PgConnection::establish(admin_url)
        .with_context(|| format!("PostgreSQL is unreachable at {admin_url}"))?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .context("the PostgreSQL URL names no database")?;
    Ok(format!("{base}/{name}"))
}

fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::establish(admin_url)?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)?;
    Ok(())
}
