//! Export: the query's entries as CSV or NDJSON, newest first, capped at
//! [`EXPORT_CAP`] rows, streamed in chunks as they are read.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use auditlog_shared::wire::AuditEntry;
use diesel::prelude::*;
use tokio::sync::mpsc;

use crate::audit_log::{filtered, EntryRow};
use crate::audit_query::ValidatedQuery;
use crate::db::schema::audit_entries::dsl::{id, ts};
use crate::db::DbPool;

/// The most rows one export holds.
pub const EXPORT_CAP: i64 = 10_000;
/// Rows read per database round trip.
const CHUNK: i64 = 1_000;

/// The stable column order of CSV exports (documented in the README).
pub const CSV_COLUMNS: [&str; 21] = [
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

/// A stream of encoded chunks fed by the thread that reads the database.
pub struct ExportStream(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for ExportStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Starts reading the first `rows` matching entries on a blocking thread and returns the stream
/// of their encoding. A failure midway ends the stream with an error (the client sees a
/// truncated download, never a silently short one).
pub fn stream(
    pool: DbPool,
    project_id: i64,
    validated: ValidatedQuery,
    format: ExportFormat,
    rows: i64,
) -> ExportStream {
    let (sender, receiver) = mpsc::channel(4);
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<()> {
            let mut conn = pool.get()?;
            let mut sent = 0i64;
            let mut after: Option<(i64, i64)> = None;
            if format == ExportFormat::Csv {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer.write_record(CSV_COLUMNS)?;
                if sender
                    .blocking_send(Ok(Bytes::from(writer.into_inner()?)))
                    .is_err()
                {
                    return Ok(());
                }
            }
            while sent < rows {
                let mut query = filtered(project_id, &validated, None);
                if let Some((t, i)) = after {
                    query = query.filter(ts.lt(t).or(ts.eq(t).and(id.lt(i))));
                }
                let chunk: Vec<EntryRow> = query
                    .order((ts.desc(), id.desc()))
                    .limit(CHUNK.min(rows - sent))
                    .select(EntryRow::as_select())
                    .load(&mut conn)?;
                if chunk.is_empty() {
                    break;
                }
                sent += chunk.len() as i64;
                after = chunk.last().map(|row| (row.ts, row.id));
                let bytes = encode(format, chunk.into_iter().map(AuditEntry::from))?;
                if sender.blocking_send(Ok(bytes)).is_err() {
                    return Ok(()); // The client went away.
                }
            }
            Ok(())
        })();
        if let Err(error) = result {
            tracing::error!(cause_chain = %format!("{error:#}"), "export failed midway");
            let _ = sender.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    ExportStream(receiver)
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
