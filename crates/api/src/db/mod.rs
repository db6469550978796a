//! Storage: one connection type over SQLite and PostgreSQL, its pool, and the migrations.
//!
//! Invariants:
//! * The backend is chosen from the database URL's scheme, never by trial: `sqlite:` (a file) or
//!   `postgres:`/`postgresql:`. A connection error is reported as the backend's own error.
//! * Every SQLite connection runs in WAL mode with `synchronous=FULL` (a committed entry survives a
//!   power cut), foreign keys on and a busy timeout, set when the pool opens it.
//! * Migrations for both backends are embedded in the binary and run before the server binds.
//!   On PostgreSQL they run under an advisory lock, so several servers may start at once.

pub mod partitions;
pub mod schema;
pub mod stored;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// An arbitrary, fixed key for the PostgreSQL advisory lock that serializes migrations.
const MIGRATION_LOCK_KEY: i64 = 0x4155_4449_544c_4f47; // "AUDITLOG"

/// A connection to either backend. Diesel's `MultiConnection` lets one boxed query serve both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// The pool every request borrows connections from.
pub type DbPool = r2d2::Pool<ConnectionManager>;

/// Where the data lives, read from a database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file, created (with its directory) when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL server, by its URL.
    Postgres(String),
}

impl DatabaseTarget {
    /// Reads `sqlite://./data/auditlog.db`, `sqlite:///abs/path.db`, `sqlite:relative.db` or
    /// `postgres://user@host/db` (also `postgresql://`).
    pub fn parse(url: &str) -> anyhow::Result<DatabaseTarget> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            anyhow::ensure!(!path.is_empty(), "the SQLite URL `{url}` names no file");
            return Ok(DatabaseTarget::Sqlite(PathBuf::from(path)));
        }
        anyhow::bail!(
            "unsupported database URL `{url}`: use sqlite://<file> or postgres://<user>@<host>/<database>"
        )
    }

    /// The engine's name as reported by `/healthz`.
    pub fn engine(&self) -> &'static str {
        match self {
            DatabaseTarget::Sqlite(_) => "sqlite",
            DatabaseTarget::Postgres(_) => "postgres",
        }
    }
}

/// An r2d2 manager that opens connections of the backend the URL names.
#[derive(Debug)]
pub struct ConnectionManager {
    target: DatabaseTarget,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        establish(&self.target)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        ping(conn).map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Opens a connection as the pool does (see the invariants above).
pub fn establish(target: &DatabaseTarget) -> Result<DbConnection, ConnectionError> {
    match target {
        DatabaseTarget::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgres),
        DatabaseTarget::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
            conn.batch_execute(
                // WAL mode is a property of the file, set once by `enable_wal` before the
                // pool opens: switching modes here would race the pool's other connections.
                "PRAGMA busy_timeout = 10000;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;",
            )
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// Runs `work` in a transaction that writes, committing it when `work` succeeds and rolling it
/// back otherwise. On SQLite the write lock is taken up front (`BEGIN IMMEDIATE`, which waits for
/// it like any write): in a deferred transaction, a read followed by a write fails at once with
/// "database is locked" whenever another connection committed in between (the audit writer
/// commits at any moment), without waiting. Nested in an open transaction, it is a savepoint.
/// On PostgreSQL an ordinary transaction.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};

    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()?
        .is_some()
    {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let outcome = work(conn);
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection is the SQLite one it was");
    };
    match outcome {
        Ok(value) => match AnsiTransactionManager::commit_transaction(sqlite) {
            Ok(()) => Ok(value),
            Err(error) => {
                let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                Err(error.into())
            }
        },
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(error)
        }
    }
}

/// A trivial round trip to the database.
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// Opens a pool on a read replica (a PostgreSQL streaming standby): no migrations (a standby
/// takes no writes; it follows the primary's schema), and opening succeeds even while the
/// replica is down, so that reads fall back to the primary until it is back.
pub fn connect_read_replica(url: &str, max_size: u32) -> anyhow::Result<DbPool> {
    anyhow::ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "a read replica is a PostgreSQL streaming standby: give its postgres:// URL"
    );
    Ok(r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(2))
        .build_unchecked(ConnectionManager {
            target: DatabaseTarget::Postgres(url.to_string()),
        }))
}

/// Where audit-log reads go: each read takes the next read replica in turn, or the primary
/// when there is none, or when the replica it drew cannot give a connection (that replica is
/// then passed over for [`ReadPools::REST`]).
///
/// Consistency: a replica replays the primary's write-ahead log in commit order, and an entry,
/// its chain head and its rollups commit in one transaction, so a replica never shows an entry
/// without the head and counts it belongs to; it may only be behind (entries of the last moments
/// are missing until replayed).
#[derive(Clone)]
pub struct ReadPools {
    pub primary: DbPool,
    replicas: std::sync::Arc<Vec<Replica>>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct Replica {
    pool: DbPool,
    /// Until when (Unix milliseconds) it is passed over after a failure.
    resting_until: std::sync::atomic::AtomicU64,
}

impl ReadPools {
    /// How long a replica that gave no connection is passed over.
    pub const REST: Duration = Duration::from_secs(10);

    pub fn new(primary: DbPool, replicas: Vec<DbPool>) -> ReadPools {
        ReadPools {
            primary,
            replicas: std::sync::Arc::new(
                replicas
                    .into_iter()
                    .map(|pool| Replica {
                        pool,
                        resting_until: Default::default(),
                    })
                    .collect(),
            ),
            next: Default::default(),
        }
    }

    fn now_millis() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64)
    }

    /// The next replica that is not resting, if any.
    fn next_replica(&self) -> Option<&Replica> {
        let now = Self::now_millis();
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (0..self.replicas.len())
            .map(|offset| &self.replicas[(turn + offset) % self.replicas.len()])
            .find(|replica| {
                replica
                    .resting_until
                    .load(std::sync::atomic::Ordering::Relaxed)
                    <= now
            })
    }

    fn rest(replica: &Replica, error: &r2d2::Error) {
        tracing::warn!(%error, "a read replica gave no connection; reading from the primary");
        replica.resting_until.store(
            Self::now_millis() + Self::REST.as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The pool for a read that takes several connections (an export's reads), which must all
    /// see the same server: the next replica if it gives a connection now, else the primary.
    pub fn pool_for_read(&self) -> DbPool {
        let Some(replica) = self.next_replica() else {
            return self.primary.clone();
        };
        match replica.pool.get() {
            Ok(_) => replica.pool.clone(),
            Err(error) => {
                Self::rest(replica, &error);
                self.primary.clone()
            }
        }
    }

    /// A connection for a read: from the next replica, or from the primary.
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, r2d2::Error> {
        let Some(replica) = self.next_replica() else {
            return self.primary.get();
        };
        match replica.pool.get() {
            Ok(conn) => Ok(conn),
            Err(error) => {
                Self::rest(replica, &error);
                self.primary.get()
            }
        }
    }
}

/// Opens the pool (creating a SQLite file's directory if needed) and runs pending migrations.
pub fn connect_and_migrate(target: &DatabaseTarget, max_size: u32) -> anyhow::Result<DbPool> {
    if let DatabaseTarget::Sqlite(path) = target {
        create_parent_dir(path)?;
        enable_wal(path)?;
    }
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .build(ConnectionManager {
            target: target.clone(),
        })
        .with_context(|| format!("cannot open the {} database", target.engine()))?;
    let mut conn = pool
        .get()
        .context("cannot borrow a connection to migrate")?;
    run_migrations(&mut conn)?;
    // Writes must find their day's partition (PostgreSQL): made before the first request.
    let now = chrono::Utc::now();
    partitions::ensure_daily(&mut conn, now, crate::db::retention_horizon(now))
        .context("cannot make the daily partitions of the audit log")?;
    Ok(pool)
}

fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(conn) => {
            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!(e))
                .context("SQLite migrations failed")?;
        }
        DbConnection::Postgres(conn) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(conn)
                .context("cannot take the migration lock")?;
            let outcome = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!(e));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .execute(conn)
                .context("cannot release the migration lock")?;
            outcome.context("PostgreSQL migrations failed")?;
        }
    }
    Ok(())
}

/// Puts a SQLite file in write-ahead-log mode (readers never block the writer). The mode is
/// stored in the file, so one connection sets it for all.
fn enable_wal(path: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
        .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")
        .context("cannot switch SQLite to WAL mode")?;
    Ok(())
}

fn create_parent_dir(path: &Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display())),
        _ => Ok(()),
    }
}

/// The oldest instant any query may return entries from.
pub fn retention_horizon(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now - chrono::Duration::days(auditlog_shared::RETENTION_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_choose_the_backend_by_scheme() {
        assert_eq!(
            DatabaseTarget::parse("sqlite://./data/auditlog.db").unwrap(),
            DatabaseTarget::Sqlite("./data/auditlog.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:///var/lib/auditlog.db").unwrap(),
            DatabaseTarget::Sqlite("/var/lib/auditlog.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("postgresql://u@h/db").unwrap(),
            DatabaseTarget::Postgres("postgresql://u@h/db".into())
        );
        assert!(DatabaseTarget::parse("mysql://u@h/db").is_err());
        assert!(DatabaseTarget::parse("sqlite://").is_err());
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    /// A transaction that reads, then writes while another connection wants to write, on one
    /// SQLite file: with `write_transaction` the other waits for the commit and both succeed;
    /// in a deferred transaction the other commits first and the write fails.
    #[test]
    fn a_sqlite_write_transaction_that_reads_first_is_not_overtaken() {
        let directory = tempfile::tempdir().unwrap();
        let target = DatabaseTarget::Sqlite(directory.path().join("t.db"));
        let mut first = establish(&target).unwrap();
        first
            .batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (n BIGINT NOT NULL);")
            .unwrap();
        let mut other = None;
        let outcome = write_transaction(&mut first, |conn| -> QueryResult<()> {
            let before =
                diesel::sql_query("SELECT count(*) AS n FROM t").get_result::<Count>(conn)?;
            let target = target.clone();
            other = Some(std::thread::spawn(move || {
                let mut second = establish(&target).unwrap();
                diesel::sql_query("INSERT INTO t VALUES (2)").execute(&mut second)
            }));
            // Long enough for the other connection to commit, were it let.
            std::thread::sleep(Duration::from_millis(300));
            diesel::sql_query(format!("INSERT INTO t VALUES ({})", before.n + 1)).execute(conn)?;
            Ok(())
        });
        outcome.expect("the transaction that read first commits its write");
        other
            .unwrap()
            .join()
            .unwrap()
            .expect("the other write waited and then committed");
        let rows = diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<Count>(&mut first)
            .unwrap();
        assert_eq!(rows.n, 2);
    }
}
