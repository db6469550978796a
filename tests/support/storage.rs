//! Reading what a server stored, straight from its database (SQLite file or PostgreSQL), to check
//! that what clients were told matches what was kept.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{PgConnection, SqliteConnection};

/// The `prev_hash` of a project's first audit entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit entry as stored.
#[derive(Clone, Debug, QueryableByName)]
pub struct StoredEntry {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub project_id: i64,
    #[diesel(sql_type = Text)]
    pub actor_kind: String,
    #[diesel(sql_type = Text)]
    pub actor_name: String,
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = Text)]
    pub method: String,
    #[diesel(sql_type = Text)]
    pub path: String,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Integer)]
    pub status_code: i32,
    #[diesel(sql_type = Text)]
    pub resource_type: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub resource_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub resource_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_agent: Option<String>,
    #[diesel(sql_type = Text)]
    pub request_id: String,
    #[diesel(sql_type = BigInt)]
    pub chain_seq: i64,
    #[diesel(sql_type = Text)]
    pub prev_hash: String,
    #[diesel(sql_type = Text)]
    pub entry_hash: String,
}

/// An application row as stored.
#[derive(Clone, Debug, QueryableByName)]
pub struct StoredResource {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
}

/// A direct connection to a test database, by the URL the server was given.
pub enum StoredDatabase {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl StoredDatabase {
    pub fn open(database_url: &str) -> StoredDatabase {
        if let Some(path) = database_url.strip_prefix("sqlite://") {
            let mut conn = SqliteConnection::establish(path)
                .unwrap_or_else(|error| panic!("cannot open {path}: {error}"));
            diesel::sql_query("PRAGMA busy_timeout = 10000")
                .execute(&mut conn)
                .expect("the busy timeout is set");
            StoredDatabase::Sqlite(conn)
        } else {
            StoredDatabase::Postgres(
                PgConnection::establish(database_url)
                    .unwrap_or_else(|error| panic!("cannot open {database_url}: {error}")),
            )
        }
    }

    fn load<T>(&mut self, sql: &str) -> Vec<T>
    where
        T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        let query = diesel::sql_query(sql);
        match self {
            StoredDatabase::Sqlite(conn) => query.load(conn),
            StoredDatabase::Postgres(conn) => query.load(conn),
        }
        .unwrap_or_else(|error| panic!("`{sql}` failed: {error}"))
    }

    /// Runs a statement behind the server's back, as someone with database access could.
    pub fn execute(&mut self, sql: &str) -> usize {
        let query = diesel::sql_query(sql);
        match self {
            StoredDatabase::Sqlite(conn) => query.execute(conn),
            StoredDatabase::Postgres(conn) => query.execute(conn),
        }
        .unwrap_or_else(|error| panic!("`{sql}` failed: {error}"))
    }

    /// Every audit entry of the project, in chain order.
    pub fn audit_entries(&mut self, project_id: i64) -> Vec<StoredEntry> {
        self.load(&format!(
            "SELECT id, project_id, actor_kind, actor_name, source, method, path, action, \
             status_code, resource_type, resource_id, resource_name, user_agent, request_id, \
             chain_seq, prev_hash, entry_hash \
             FROM audit_entries WHERE project_id = {project_id} ORDER BY chain_seq, id"
        ))
    }

    /// The project's applications, by id.
    pub fn applications(&mut self, project_id: i64) -> Vec<StoredResource> {
        self.load(&format!(
            "SELECT id, name FROM applications WHERE project_id = {project_id} ORDER BY id"
        ))
    }

    /// The project's applications that no successful `application.create` entry names: created
    /// (or being created) but not recorded.
    pub fn unrecorded_applications(&mut self, project_id: i64) -> Vec<StoredResource> {
        self.load(&format!(
            "SELECT a.id, a.name FROM applications a WHERE a.project_id = {project_id} \
             AND NOT EXISTS (SELECT 1 FROM audit_entries e WHERE e.project_id = {project_id} \
             AND e.resource_type = 'application' AND e.resource_id = a.id \
             AND e.action = 'application.create' AND e.status_code BETWEEN 200 AND 299) \
             ORDER BY a.id"
        ))
    }

    /// The project's clusters, by id.
    pub fn clusters(&mut self, project_id: i64) -> Vec<StoredResource> {
        self.load(&format!(
            "SELECT id, name FROM clusters WHERE project_id = {project_id} ORDER BY id"
        ))
    }
}

/// Describes how a project's stored entries fail to form one unbroken chain `1..=N` where each
/// entry links to the hash of the one before it (the first to [`GENESIS_HASH`]); `None` when
/// they do. `entries` must be in chain order.
pub fn chain_defect(entries: &[StoredEntry]) -> Option<String> {
    let mut expected_prev = GENESIS_HASH;
    for (index, entry) in entries.iter().enumerate() {
        let expected_seq = index as i64 + 1;
        if entry.chain_seq != expected_seq {
            return Some(format!(
                "entry #{} (id {}) has chain_seq {}, expected {expected_seq} (a gap or a duplicate)",
                index + 1,
                entry.id,
                entry.chain_seq
            ));
        }
        if entry.prev_hash != expected_prev {
            return Some(format!(
                "entry with chain_seq {} (id {}) has prev_hash {}, but the entry before it has \
                 entry_hash {expected_prev} (a forked chain)",
                entry.chain_seq, entry.id, entry.prev_hash
            ));
        }
        expected_prev = &entry.entry_hash;
    }
    None
}
