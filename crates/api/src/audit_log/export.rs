//! Export: the query's entries as CSV or NDJSON, newest first, capped at
//! [`EXPORT_CAP`] rows, streamed in chunks as they are read, and the signed manifest of each
//! completed export (what it answered, how many rows, the file's SHA-256, the chain positions it
//! covers and the project's signed head), which clients check the file against offline.

use std::sync::Arc;

use actix_web::web::Bytes;
use anyhow::Context as _;
use auditlog_shared::wire::{AuditEntry, ExportManifest, EXPORT_STATEMENT_KIND};
use diesel::prelude::*;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::audit_log::view::View;
use crate::audit_log::{after_cursor, filtered, ChunkStream, EntryRow};
use crate::clock::Clock;
use crate::db::schema::audit_entries::dsl::{id, ts};
use crate::db::schema::audit_export_manifests;
use crate::db::{DbConnection, DbPool};
use crate::entry::checkpoint::ChainSigner;
use crate::entry::signing;

/// The most rows one export holds.
pub const EXPORT_CAP: i64 = 10_000;
/// Rows read per database round trip.
const CHUNK: i64 = 1_000;

/// The stable column order of CSV exports (documented in the README).
pub const CSV_COLUMNS: [&str; 25] = [
    "id",
    "timestamp",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_email",
    "source",
    "method",
    "status",
    "action",
    "action_label",
    "resource_type",
    "resource_id",
    "resource_name",
    "path",
    "route",
    "client_ip",
    "user_agent",
    "request_id",
    "duration_ms",
    "ingested_by_token_id",
    "changes",
    "chain_seq",
    "prev_hash",
    "entry_hash",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text {
            "csv" => Some(ExportFormat::Csv),
            "ndjson" => Some(ExportFormat::Ndjson),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }
}

/// What one export writes and what its manifest states.
pub struct ExportJob {
    /// The primary, where the manifest is stored.
    pub pool: DbPool,
    /// Where the rows are read (a read replica, or the primary).
    pub read_pool: DbPool,
    pub project_id: i64,
    pub validated: View,
    pub format: ExportFormat,
    /// Rows the file holds: the matches, up to [`EXPORT_CAP`].
    pub rows: i64,
    pub matched: i64,
    /// The id the manifest is stored and fetched under (unguessable: it names a project's data).
    pub export_id: String,
    pub signer: Arc<ChainSigner>,
    pub clock: Clock,
}

/// A fresh export id: a random (version 4) UUID, lowercase and hyphenated.
pub fn new_export_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Whether `text` is an export id as [`new_export_id`] spells it.
pub fn is_export_id(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok_and(|parsed| parsed.hyphenated().to_string() == text)
}

/// Starts reading the job's rows on a blocking thread and returns the stream of their encoding.
///
/// The bytes sent are hashed as they go; when the last row is sent, the signed manifest is
/// stored before the stream ends, so a client that read the whole file can always fetch it. A
/// failure midway (or while storing the manifest) ends the stream with an error: the client sees
/// a truncated download, never a silently short one.
pub fn stream(job: ExportJob) -> ChunkStream {
    let (sender, receiver) = mpsc::channel(4);
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<()> {
            let mut conn = job.read_pool.get()?;
            let mut file = FileDigest::default();
            let mut sent = 0i64;
            let mut after: Option<(i64, i64)> = None;
            let send = |file: &mut FileDigest, bytes: Bytes| -> bool {
                file.add(&bytes);
                sender.blocking_send(Ok(bytes)).is_ok()
            };
            if job.format == ExportFormat::Csv {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer.write_record(CSV_COLUMNS)?;
                if !send(&mut file, Bytes::from(writer.into_inner()?)) {
                    return Ok(()); // The client went away.
                }
            }
            while sent < job.rows {
                let mut query = filtered(job.project_id, &job.validated, None);
                if let Some((t, i)) = after {
                    // The same keyset as the list's next page.
                    query = query.filter(after_cursor(&job.validated, "<", t, i));
                }
                let chunk: Vec<EntryRow> = query
                    .order((ts.desc(), id.desc()))
                    .limit(CHUNK.min(job.rows - sent))
                    .select(EntryRow::as_select())
                    .load(&mut conn)?;
                if chunk.is_empty() {
                    break;
                }
                sent += chunk.len() as i64;
                after = chunk.last().map(|row| (row.ts, row.id));
                for row in &chunk {
                    file.cover(row.chain_seq);
                }
                let bytes = encode(job.format, chunk.into_iter().map(AuditEntry::from))?;
                if !send(&mut file, bytes) {
                    return Ok(());
                }
            }
            drop(conn);
            let manifest = store_manifest(&mut *job.pool.get()?, &job, file, sent)?;
            tracing::info!(
                export_id = %manifest.export_id,
                rows = manifest.rows,
                sha256 = %manifest.sha256,
                "export complete"
            );
            Ok(())
        })();
        if let Err(error) = result {
            tracing::error!(cause_chain = %format!("{error:#}"), "export failed midway");
            let _ = sender.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    ChunkStream(receiver)
}

/// The manifest stored under `export_id` in `project_id`, if any.
pub fn load_manifest(
    conn: &mut DbConnection,
    project_id: i64,
    export_id: &str,
) -> anyhow::Result<Option<ExportManifest>> {
    let text: Option<String> = audit_export_manifests::table
        .filter(audit_export_manifests::export_id.eq(export_id))
        .filter(audit_export_manifests::project_id.eq(project_id))
        .select(audit_export_manifests::manifest)
        .first(conn)
        .optional()?;
    text.map(|text| serde_json::from_str(&text).context("a stored export manifest is damaged"))
        .transpose()
}

/// The running SHA-256 and length of the file, and the chain positions its rows cover.
#[derive(Default)]
struct FileDigest {
    hasher: Sha256,
    bytes: u64,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
}

impl FileDigest {
    fn add(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
    }

    fn cover(&mut self, chain_seq: i64) {
        self.first_seq = Some(self.first_seq.map_or(chain_seq, |s| s.min(chain_seq)));
        self.last_seq = Some(self.last_seq.map_or(chain_seq, |s| s.max(chain_seq)));
    }
}

/// Signs and stores the manifest of a completed export.
fn store_manifest(
    conn: &mut DbConnection,
    job: &ExportJob,
    file: FileDigest,
    rows: i64,
) -> anyhow::Result<ExportManifest> {
    let head = signing::signed_head(conn, job.project_id)?;
    let created_at = job.clock.now_micros();
    let mut manifest = ExportManifest {
        kind: EXPORT_STATEMENT_KIND.to_string(),
        export_id: job.export_id.clone(),
        project_id: job.project_id,
        query: job.validated.query.to_query_string(),
        from: job.validated.window.from.timestamp_micros(),
        to: job.validated.window.to.timestamp_micros(),
        format: job.format.extension().to_string(),
        rows: rows as u64,
        matched: job.matched as u64,
        truncated: job.matched > rows,
        bytes: file.bytes,
        sha256: hex::encode(file.hasher.finalize()),
        first_seq: file.first_seq,
        last_seq: file.last_seq,
        created_at,
        head,
        key_id: String::new(),
        signature: String::new(),
    };
    job.signer.sign_export(&mut manifest);
    diesel::insert_into(audit_export_manifests::table)
        .values((
            audit_export_manifests::export_id.eq(&manifest.export_id),
            audit_export_manifests::project_id.eq(manifest.project_id),
            audit_export_manifests::created_at.eq(created_at),
            audit_export_manifests::manifest.eq(serde_json::to_string(&manifest)?),
        ))
        .execute(conn)
        .context("cannot store the export manifest")?;
    Ok(manifest)
}

fn encode(
    format: ExportFormat,
    entries: impl Iterator<Item = AuditEntry>,
) -> anyhow::Result<Bytes> {
    match format {
        ExportFormat::Ndjson => {
            let mut out = Vec::new();
            for entry in entries {
                serde_json::to_writer(&mut out, &entry)?;
                out.push(b'\n');
            }
            Ok(Bytes::from(out))
        }
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for entry in entries {
                writer.write_record(csv_record(&entry))?;
            }
            Ok(Bytes::from(writer.into_inner()?))
        }
    }
}

/// One CSV row in [`CSV_COLUMNS`] order, every cell neutralised against formula injection.
pub fn csv_record(entry: &AuditEntry) -> Vec<String> {
    let optional = |value: &Option<String>| value.clone().unwrap_or_default();
    let number = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
    [
        entry.id.to_string(),
        entry
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        entry.actor.kind.clone(),
        number(entry.actor.id),
        entry.actor.name.clone(),
        optional(&entry.actor.email),
        entry.source.as_str().to_string(),
        entry.method.clone(),
        entry.status.to_string(),
        entry.action.clone(),
        entry.action_label.clone(),
        entry.resource.kind.as_str().to_string(),
        number(entry.resource.id),
        entry.resource.name.clone(),
        entry.path.clone(),
        entry.route.clone(),
        optional(&entry.client_ip),
        optional(&entry.user_agent),
        entry.request_id.clone(),
        format!("{:.3}", entry.duration_ms),
        number(entry.ingested_by_token_id),
        auditlog_shared::chain::changes_text(&entry.changes).unwrap_or_default(),
        entry.chain_seq.to_string(),
        entry.prev_hash.clone(),
        entry.entry_hash.clone(),
    ]
    .into_iter()
    .map(neutralize)
    .collect()
}

/// A cell a spreadsheet would run as a formula gets a leading apostrophe.
pub fn neutralize(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for hostile in ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(hostile.into()), format!("'{hostile}"));
        }
        assert_eq!(neutralize("plain".into()), "plain");
    }
}
