//! `auditlog export verify FILE`: checks an exported file offline against its signed manifest.
//!
//! What a verified file proves:
//! - **It is the export the server signed**: the manifest's Ed25519 signature verifies with a
//!   key the server published, and the file's length and SHA-256 are the manifest's. So no row
//!   was altered, added, removed or reordered since the download, and the file is complete for
//!   its query: the signed row count, match count and truncation say how much of the match it
//!   holds.
//! - **Every NDJSON row is the entry as it was recorded**: each row's hash is recomputed from
//!   its fields and the hash before it (the rules of `auditlog_shared::chain`), rows next to
//!   each other in the chain link up, and a row at the chain head carries the head's signed
//!   hash. A row a database writer altered after it was recorded fails here even though the
//!   server exported it. (CSV rows carry their hashes too, but rounded durations and neutralised
//!   cells cannot be hashed back; verify NDJSON exports for row-level proof.)
//!
//! What it does not prove: that the rest of the chain, outside the file, is intact — that is
//! `auditlog logs verify`'s job.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use auditlog_shared::chain::{entry_hash, HashedFields, GENESIS_HASH};
use auditlog_shared::wire::{AuditEntry, ChainKey, ExportManifest, EXPORT_STATEMENT_KIND};
use sha2::{Digest as _, Sha256};

use super::logs::export::RowCounter;
use super::logs::verify_signature;
use super::EXIT_CODE_CHAIN_BROKEN;
use crate::arguments::{ExportFormatArgument, ExportVerifyArguments};
use crate::config::load_chain_keys;
use crate::output::group_digits;

/// What a verified export holds.
#[derive(Debug, PartialEq, Eq)]
pub struct VerifiedExport {
    pub rows: u64,
    /// NDJSON rows whose hash was recomputed from their fields (0 for CSV).
    pub rows_rehashed: u64,
    /// Rows whose chain neighbour is the next row of the file, checked to link to it.
    pub links_checked: u64,
}

/// The manifest next to an export by default: `<file>.manifest.json`.
pub fn default_manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// Runs `auditlog export verify`: exit code 0 when the file is verified, 3 when it is not.
pub fn run_verify(
    arguments: &ExportVerifyArguments,
    config_directory: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let manifest_path = arguments
        .manifest
        .clone()
        .unwrap_or_else(|| default_manifest_path(&arguments.file));
    let manifest_text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read the manifest {} (give its path with --manifest)",
            manifest_path.display()
        )
    })?;
    let manifest: ExportManifest = serde_json::from_str(&manifest_text)
        .with_context(|| format!("{} is not an export manifest", manifest_path.display()))?;
    let keys = match &arguments.keys {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the keys file {}", path.display()))?;
            serde_json::from_str::<Vec<ChainKey>>(&text).with_context(|| {
                format!(
                    "{} is not a list of keys (save the answer of GET /api/v1/audit-log-keys)",
                    path.display()
                )
            })?
        }
        None => load_chain_keys(config_directory)?
            .into_values()
            .flatten()
            .collect(),
    };
    let file = File::open(&arguments.file)
        .with_context(|| format!("cannot read {}", arguments.file.display()))?;
    let verdict = verify_export(file, &manifest, &keys)?;
    let file_name = arguments.file.display();
    match verdict {
        Ok(verified) => {
            if json {
                let summary = serde_json::json!({
                    "ok": true,
                    "file": file_name.to_string(),
                    "project_id": manifest.project_id,
                    "query": manifest.query,
                    "rows": verified.rows,
                    "matched": manifest.matched,
                    "truncated": manifest.truncated,
                    "first_seq": manifest.first_seq,
                    "last_seq": manifest.last_seq,
                    "rows_rehashed": verified.rows_rehashed,
                    "links_checked": verified.links_checked,
                    "key_id": manifest.key_id,
                });
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!("{}", describe_verified(&manifest, &verified));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            if json {
                let summary = serde_json::json!({
                    "ok": false,
                    "file": file_name.to_string(),
                    "problem": problem,
                });
                println!("{}", serde_json::to_string_pretty(&summary)?);
            }
            eprintln!("NOT VERIFIED: {file_name}: {problem}");
            Ok(ExitCode::from(EXIT_CODE_CHAIN_BROKEN))
        }
    }
}

/// The line that reports a verified export.
pub fn describe_verified(manifest: &ExportManifest, verified: &VerifiedExport) -> String {
    let noun = if verified.rows == 1 { "row" } else { "rows" };
    let query = if manifest.query.is_empty() {
        "the default view".to_string()
    } else {
        format!("`{}`", manifest.query)
    };
    let mut line = format!(
        "OK: the export the server signed: {} {noun} of project {} for {query}",
        group_digits(verified.rows),
        manifest.project_id
    );
    if let (Some(first), Some(last)) = (manifest.first_seq, manifest.last_seq) {
        line.push_str(&format!(
            " (chain #{}–#{})",
            group_digits(first as u64),
            group_digits(last as u64)
        ));
    }
    if manifest.truncated {
        line.push_str(&format!(
            "; truncated: {} of {} matching entries",
            group_digits(verified.rows),
            group_digits(manifest.matched)
        ));
    }
    if verified.rows_rehashed > 0 {
        line.push_str(&format!(
            "; every row's hash recomputed, {} linked to the next",
            group_digits(verified.links_checked)
        ));
    }
    line
}

/// Checks an export against its manifest with the given keys. The outer error is a failure to
/// read; the inner one says why the file is not the export the server signed.
pub fn verify_export(
    file: impl std::io::Read,
    manifest: &ExportManifest,
    keys: &[ChainKey],
) -> anyhow::Result<Result<VerifiedExport, String>> {
    if manifest.kind != EXPORT_STATEMENT_KIND {
        return Ok(Err(format!(
            "the manifest is of kind `{}`, not `{EXPORT_STATEMENT_KIND}`",
            manifest.kind
        )));
    }
    if let Err(problem) = verify_signature(
        keys,
        &manifest.key_id,
        manifest.statement().as_bytes(),
        &manifest.signature,
    ) {
        return Ok(Err(format!("the manifest: {problem}")));
    }
    if let Some(head) = &manifest.head {
        if head.project_id != manifest.project_id {
            return Ok(Err("the manifest's chain head is of another project".into()));
        }
        if let Err(problem) = verify_signature(
            keys,
            &head.key_id,
            head.statement().as_bytes(),
            &head.signature,
        ) {
            return Ok(Err(format!("the manifest's chain head: {problem}")));
        }
    }
    let format = match manifest.format.as_str() {
        "csv" => ExportFormatArgument::Csv,
        "ndjson" => ExportFormatArgument::Ndjson,
        other => {
            return Ok(Err(format!(
                "the manifest names an unknown format `{other}`"
            )))
        }
    };

    // One pass: the digest of the raw bytes, and for NDJSON each row's own checks.
    let mut reader = BufReader::new(HashingReader {
        inner: file,
        hasher: Sha256::new(),
        bytes: 0,
    });
    let mut counter = RowCounter::new(format);
    let mut rows = RowChecks::new(manifest);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .context("cannot read the export")?;
        if read == 0 {
            break;
        }
        counter.feed(&line);
        if format == ExportFormatArgument::Ndjson {
            rows.check_line(&line);
        }
    }
    let reader = reader.into_inner();
    let (bytes, sha256) = (reader.bytes, hex::encode(reader.hasher.finalize()));

    if bytes != manifest.bytes || sha256 != manifest.sha256 {
        let how = if bytes < manifest.bytes {
            format!(
                "it is {bytes} bytes, {} fewer than the export's: it was cut short or rows were removed",
                manifest.bytes - bytes
            )
        } else if bytes > manifest.bytes {
            format!(
                "it is {bytes} bytes, {} more than the export's: something was added",
                bytes - manifest.bytes
            )
        } else {
            "its SHA-256 is not the export's: it was altered".to_string()
        };
        // A row that fails its own hash says where the change is.
        let detail = rows
            .first_problem
            .map(|problem| format!(" ({problem})"))
            .unwrap_or_default();
        return Ok(Err(format!("{how}{detail}")));
    }
    let counted = counter.rows();
    if counted != manifest.rows {
        return Ok(Err(format!(
            "it holds {counted} rows, the manifest {}",
            manifest.rows
        )));
    }
    if let Some(problem) = rows.first_problem {
        // The bytes are what the server sent, but a row does not match its recorded hash: the
        // server read an entry altered in its database.
        return Ok(Err(format!(
            "the server exported a row that was altered after it was recorded: {problem}"
        )));
    }
    Ok(Ok(VerifiedExport {
        rows: counted,
        rows_rehashed: rows.rehashed,
        links_checked: rows.links,
    }))
}

/// A reader that hashes and counts what it reads.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        self.bytes += read as u64;
        Ok(read)
    }
}

/// The checks of NDJSON rows, one line at a time; keeps the first problem found.
struct RowChecks<'a> {
    manifest: &'a ExportManifest,
    line_number: u64,
    /// The previous row: its chain position, `prev_hash`, timestamp and id.
    previous: Option<(i64, String, i64, i64)>,
    rehashed: u64,
    links: u64,
    first_problem: Option<String>,
}

impl<'a> RowChecks<'a> {
    fn new(manifest: &'a ExportManifest) -> RowChecks<'a> {
        RowChecks {
            manifest,
            line_number: 0,
            previous: None,
            rehashed: 0,
            links: 0,
            first_problem: None,
        }
    }

    fn check_line(&mut self, line: &[u8]) {
        self.line_number += 1;
        if self.first_problem.is_some() {
            return;
        }
        if let Err(problem) = self.check(line) {
            self.first_problem = Some(format!("line {}: {problem}", self.line_number));
        }
    }

    fn check(&mut self, line: &[u8]) -> Result<(), String> {
        let entry: AuditEntry =
            serde_json::from_slice(line).map_err(|_| "not an audit entry".to_string())?;
        let at = format!("entry id {}, chain #{}", entry.id, entry.chain_seq);
        let fields = HashedFields::of_entry(self.manifest.project_id, &entry);
        if entry_hash(&entry.prev_hash, &fields) != entry.entry_hash {
            return Err(format!("{at}: its fields do not match its hash"));
        }
        self.rehashed += 1;
        if entry.chain_seq == 1 && entry.prev_hash != GENESIS_HASH {
            return Err(format!("{at}: the first entry does not start the chain"));
        }
        let in_range = match (self.manifest.first_seq, self.manifest.last_seq) {
            (Some(first), Some(last)) => (first..=last).contains(&entry.chain_seq),
            _ => false,
        };
        if !in_range {
            return Err(format!("{at}: outside the chain range of the manifest"));
        }
        if let Some(head) = &self.manifest.head {
            if entry.chain_seq > head.chain_seq {
                return Err(format!("{at}: newer than the signed chain head"));
            }
            if entry.chain_seq == head.chain_seq && entry.entry_hash != head.entry_hash {
                return Err(format!("{at}: its hash is not the signed chain head's"));
            }
        }
        let micros = entry.timestamp.timestamp_micros();
        if let Some((seq, prev_hash, ts, id)) = &self.previous {
            // Newest first: each row is older than the one before it.
            if (micros, entry.id) >= (*ts, *id) {
                return Err(format!("{at}: out of order"));
            }
            if entry.chain_seq == seq - 1 {
                if &entry.entry_hash != prev_hash {
                    return Err(format!("{at}: the entry after it does not link to it"));
                }
                self.links += 1;
            }
        }
        self.previous = Some((entry.chain_seq, entry.prev_hash, micros, entry.id));
        Ok(())
    }
}
