//! Verification against what the server signed (see `entry::checkpoint` for the trust model):
//! the chain head's signature, the signed checkpoints, the anchor of this server and the
//! retention watermark. The hash chain walk (`entry::chain::verify`) finds partial edits; this
//! finds the coordinated ones a database writer can make.

use auditlog_shared::wire::{self, BrokenLink, SignedHead, VerifyReport};
use diesel::prelude::*;

use crate::db::schema::{audit_chain_heads, audit_checkpoints, audit_entries};
use crate::db::DbConnection;
use crate::entry::checkpoint::{self, ChainSigner};

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_chain_heads)]
struct HeadRow {
    project_id: i64,
    chain_seq: i64,
    entry_hash: String,
    signed_at: i64,
    key_id: String,
    signature: String,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_checkpoints)]
struct CheckpointRow {
    id: i64,
    kind: String,
    chain_seq: i64,
    entry_hash: String,
    signed_at: i64,
    key_id: String,
    signature: String,
}

impl CheckpointRow {
    fn verifies(&self, project_id: i64, signer: &ChainSigner) -> bool {
        let message = checkpoint::statement_message(
            statement_kind(&self.kind),
            project_id,
            self.chain_seq,
            &self.entry_hash,
            self.signed_at,
        );
        signer.verifies(&message, &self.key_id, &self.signature)
    }
}

/// A head that must still be in the chain, with where the claim comes from.
struct SignedReference {
    chain_seq: i64,
    entry_hash: String,
    signed_at: i64,
    source: &'static str,
}

/// Checks the project's chain against its signatures; returns the report with the first
/// finding, and the signed head when everything holds.
pub fn check(
    conn: &mut DbConnection,
    project_id: i64,
    signer: &ChainSigner,
    mut report: VerifyReport,
) -> QueryResult<VerifyReport> {
    // Read in this order — the newest entry, the anchor, the checkpoints, then the head — so
    // that appends committing meanwhile can only make the head newer than what was read before
    // it, never older (entries, checkpoints and head commit together; the anchor learns a head
    // after its commit).
    let newest: Option<i64> = audit_entries::table
        .filter(audit_entries::project_id.eq(project_id))
        .select(diesel::dsl::max(audit_entries::chain_seq))
        .first(conn)?;
    let anchor = signer.anchor(project_id).filter(|a| a.chain_seq > 0);
    let checkpoints: Vec<CheckpointRow> = audit_checkpoints::table
        .filter(audit_checkpoints::project_id.eq(project_id))
        .order(audit_checkpoints::id.asc())
        .select(CheckpointRow::as_select())
        .load(conn)?;
    let head: Option<HeadRow> = audit_chain_heads::table
        .find(project_id)
        .select(HeadRow::as_select())
        .first(conn)
        .optional()?;

    if let Some(conflict) = anchor.as_ref().and_then(|a| a.conflict.as_ref()) {
        if conflict.unsigned_head {
            return Ok(broken(
                report,
                conflict.chain_seq + 1,
                None,
                untrusted_stretch(
                    conflict.chain_seq + 1,
                    Some(conflict.found_head_seq),
                    conflict.found_at,
                ),
            ));
        }
        let how = if conflict.found_head_seq < conflict.chain_seq {
            "rolled back"
        } else {
            "rewritten"
        };
        return Ok(broken(
            report,
            conflict.chain_seq,
            None,
            format!(
                "the chain was {how}: this server signed #{} at {}, and at {} found the chain ending at #{}; entries appended since do not restore what was removed",
                conflict.chain_seq,
                instant(conflict.signed_at),
                instant(conflict.found_at),
                conflict.found_head_seq
            ),
        ));
    }
    if let Some(forged) = checkpoints.iter().find(|c| !c.verifies(project_id, signer)) {
        return Ok(broken(
            report,
            forged.chain_seq,
            None,
            format!(
                "checkpoint #{} is not signed by a trusted key: it was written outside the server",
                forged.id
            ),
        ));
    }
    // A server found a head no trusted key signed and appended on top of it: what it appended
    // is signed, what lies between is not.
    if let Some(conflict) = checkpoints.iter().find(|c| c.kind == "conflict") {
        return Ok(broken(
            report,
            conflict.chain_seq,
            None,
            untrusted_stretch(conflict.chain_seq, None, conflict.signed_at),
        ));
    }
    // The newest entry retention removed: the chain may start right after it, not later.
    let watermark = retention_watermark(&checkpoints, anchor.as_ref());
    let mut references: Vec<SignedReference> = checkpoints
        .iter()
        .filter(|c| c.kind == "head")
        .map(|c| SignedReference {
            chain_seq: c.chain_seq,
            entry_hash: c.entry_hash.clone(),
            signed_at: c.signed_at,
            source: "a signed checkpoint",
        })
        .collect();
    if let Some(anchor) = &anchor {
        references.push(SignedReference {
            chain_seq: anchor.chain_seq,
            entry_hash: anchor.entry_hash.clone(),
            signed_at: anchor.signed_at,
            source: "this server",
        });
    }

    let Some(head) = head else {
        return Ok(match references.iter().map(|r| r.chain_seq).max() {
            Some(signed) => broken(
                report,
                watermark + 1,
                None,
                format!(
                    "the project's chain is gone: entries up to #{signed} were signed, and neither they nor the chain head exist"
                ),
            ),
            None => report,
        });
    };
    let head_message =
        checkpoint::head_message(project_id, head.chain_seq, &head.entry_hash, head.signed_at);
    if head.chain_seq > 0 && !signer.verifies(&head_message, &head.key_id, &head.signature) {
        return Ok(broken(
            report,
            head.chain_seq,
            None,
            "the chain head is not signed by this server: entries were appended or the head was rewritten outside it".into(),
        ));
    }

    if let Some(newest) = newest.filter(|newest| *newest > head.chain_seq) {
        return Ok(broken(
            report,
            head.chain_seq + 1,
            None,
            format!(
                "entries up to #{newest} lie beyond the signed chain head #{}: they were appended outside the server",
                head.chain_seq
            ),
        ));
    }

    for reference in &references {
        if reference.chain_seq > head.chain_seq {
            return Ok(broken(
                report,
                head.chain_seq + 1,
                None,
                format!(
                    "the chain ends at #{} but {} signed #{} at {}: the newest entries were deleted and the head rolled back",
                    head.chain_seq,
                    reference.source,
                    reference.chain_seq,
                    instant(reference.signed_at)
                ),
            ));
        }
        let stored: Option<(i64, String)> = audit_entries::table
            .filter(audit_entries::project_id.eq(project_id))
            .filter(audit_entries::chain_seq.eq(reference.chain_seq))
            .select((audit_entries::id, audit_entries::entry_hash))
            .first(conn)
            .optional()?;
        match stored {
            Some((id, hash)) if hash != reference.entry_hash => {
                return Ok(broken(
                    report,
                    reference.chain_seq,
                    Some(id),
                    format!(
                        "the entry no longer matches what {} signed at {}: the chain was rewritten",
                        reference.source,
                        instant(reference.signed_at)
                    ),
                ));
            }
            None if reference.chain_seq > watermark => {
                return Ok(broken(
                    report,
                    reference.chain_seq,
                    None,
                    format!(
                        "this entry, signed by {} at {}, is missing",
                        reference.source,
                        instant(reference.signed_at)
                    ),
                ));
            }
            _ => {}
        }
    }

    let oldest: Option<i64> = audit_entries::table
        .filter(audit_entries::project_id.eq(project_id))
        .select(diesel::dsl::min(audit_entries::chain_seq))
        .first(conn)?;
    match oldest {
        Some(oldest) if oldest > watermark + 1 => {
            return Ok(broken(
                report,
                watermark + 1,
                None,
                if watermark == 0 {
                    format!(
                        "entries #1 to #{} are missing; retention removed none",
                        oldest - 1
                    )
                } else {
                    format!(
                        "entries #{} to #{} are missing; retention removed entries only up to #{watermark}",
                        watermark + 1,
                        oldest - 1
                    )
                },
            ));
        }
        None if head.chain_seq > watermark => {
            return Ok(broken(
                report,
                watermark + 1,
                None,
                format!(
                    "entries #{} to #{} are missing; retention removed entries only up to #{watermark}",
                    watermark + 1,
                    head.chain_seq
                ),
            ));
        }
        _ => {}
    }

    if head.chain_seq > 0 {
        report.signed_head = Some(head.into());
    }
    Ok(report)
}

/// The newest entry retention removed, by the retention checkpoints (all of them already
/// checked to be signed) and this server's anchor; 0 when none was.
fn retention_watermark(checkpoints: &[CheckpointRow], anchor: Option<&checkpoint::Anchor>) -> i64 {
    checkpoints
        .iter()
        .filter(|c| c.kind == "retention")
        .map(|c| c.chain_seq)
        .chain(anchor.and_then(|a| a.purged_through_seq))
        .max()
        .unwrap_or(0)
}

/// Whether retention — of this server or another one on the database — removed the entry at
/// `chain_seq`, by a validly signed retention checkpoint or this server's anchor.
pub fn removed_by_retention(
    conn: &mut DbConnection,
    signer: &ChainSigner,
    project_id: i64,
    chain_seq: i64,
) -> QueryResult<bool> {
    let watermarks: Vec<CheckpointRow> = audit_checkpoints::table
        .filter(audit_checkpoints::project_id.eq(project_id))
        .filter(audit_checkpoints::kind.eq("retention"))
        .filter(audit_checkpoints::chain_seq.ge(chain_seq))
        .select(CheckpointRow::as_select())
        .load(conn)?;
    let signed: Vec<CheckpointRow> = watermarks
        .into_iter()
        .filter(|c| c.verifies(project_id, signer))
        .collect();
    Ok(retention_watermark(&signed, signer.anchor(project_id).as_ref()) >= chain_seq)
}

/// The project's chain head as the server signed it, when the project has entries.
pub fn signed_head(conn: &mut DbConnection, project_id: i64) -> QueryResult<Option<SignedHead>> {
    let head: Option<HeadRow> = audit_chain_heads::table
        .find(project_id)
        .select(HeadRow::as_select())
        .first(conn)
        .optional()?;
    Ok(head.filter(|head| head.chain_seq > 0).map(SignedHead::from))
}

impl From<HeadRow> for SignedHead {
    fn from(head: HeadRow) -> SignedHead {
        SignedHead {
            project_id: head.project_id,
            chain_seq: head.chain_seq,
            entry_hash: head.entry_hash,
            signed_at: head.signed_at,
            key_id: head.key_id,
            signature: head.signature,
        }
    }
}

/// Signs, once, the chain heads of projects this server has no anchor for — a database from
/// before heads were signed, or a server with a new data directory. A head that already carries
/// a valid signature is only remembered. Heads with a signature that does not verify are left
/// alone: verification reports them. Returns how many heads were signed.
pub fn adopt_unanchored_heads(conn: &mut DbConnection, signer: &ChainSigner) -> QueryResult<usize> {
    let heads: Vec<HeadRow> = audit_chain_heads::table
        .select(HeadRow::as_select())
        .load(conn)?;
    let mut adopted = 0;
    for head in heads {
        if head.chain_seq == 0 || signer.anchor(head.project_id).is_some() {
            continue;
        }
        if !head.signature.is_empty() {
            let message = checkpoint::head_message(
                head.project_id,
                head.chain_seq,
                &head.entry_hash,
                head.signed_at,
            );
            if signer.verifies(&message, &head.key_id, &head.signature) {
                signer.remember_head(
                    head.project_id,
                    head.chain_seq,
                    &head.entry_hash,
                    head.signed_at,
                );
            }
            continue;
        }
        let signed_at = crate::db::write_transaction(conn, |conn| -> QueryResult<i64> {
            let signed_at = audit_entries::table
                .filter(audit_entries::project_id.eq(head.project_id))
                .filter(audit_entries::chain_seq.eq(head.chain_seq))
                .select(audit_entries::ts)
                .first::<i64>(conn)
                .optional()?
                .unwrap_or(0);
            let (key_id, signature) =
                signer.sign_head(head.project_id, head.chain_seq, &head.entry_hash, signed_at);
            diesel::update(audit_chain_heads::table.find(head.project_id))
                .filter(audit_chain_heads::chain_seq.eq(head.chain_seq))
                .set((
                    audit_chain_heads::signed_at.eq(signed_at),
                    audit_chain_heads::key_id.eq(&key_id),
                    audit_chain_heads::signature.eq(&signature),
                ))
                .execute(conn)?;
            // What retention removed before signing existed is taken as it is.
            let oldest: Option<(i64, String)> = audit_entries::table
                .filter(audit_entries::project_id.eq(head.project_id))
                .order(audit_entries::chain_seq.asc())
                .select((audit_entries::chain_seq, audit_entries::prev_hash))
                .first(conn)
                .optional()?;
            if let Some((oldest, prev_hash)) = oldest.filter(|(seq, _)| *seq > 1) {
                record_retention(
                    conn,
                    signer,
                    head.project_id,
                    oldest - 1,
                    &prev_hash,
                    signed_at,
                )?;
            }
            Ok(signed_at)
        })?;
        signer.remember_head(head.project_id, head.chain_seq, &head.entry_hash, signed_at);
        adopted += 1;
    }
    Ok(adopted)
}

/// Stores a signed retention checkpoint: entries up to `chain_seq` (hash `entry_hash`) were
/// removed on purpose.
pub fn record_retention(
    conn: &mut DbConnection,
    signer: &ChainSigner,
    project_id: i64,
    chain_seq: i64,
    entry_hash: &str,
    signed_at: i64,
) -> QueryResult<()> {
    record_checkpoint(
        conn,
        signer,
        "retention",
        project_id,
        (chain_seq, entry_hash),
        signed_at,
    )?;
    signer.remember_purge(project_id, chain_seq);
    Ok(())
}

/// A checkpoint row as it is stored: `kind` is `head`, `retention` or `conflict`, and the
/// signature is over the statement of that kind ([`statement_kind`]).
#[derive(Insertable)]
#[diesel(table_name = audit_checkpoints)]
pub struct NewCheckpoint<'a> {
    pub project_id: i64,
    pub kind: &'a str,
    pub chain_seq: i64,
    pub entry_hash: &'a str,
    pub signed_at: i64,
    pub key_id: &'a str,
    pub signature: &'a str,
}

/// The kind of signed statement a checkpoint row of `kind` holds.
pub fn statement_kind(kind: &str) -> &'static str {
    match kind {
        "retention" => wire::RETENTION_STATEMENT_KIND,
        "conflict" => wire::CONFLICT_STATEMENT_KIND,
        _ => wire::HEAD_STATEMENT_KIND,
    }
}

/// Signs a checkpoint of `kind` about the chain position `(chain_seq, entry_hash)` and stores
/// it.
pub fn record_checkpoint(
    conn: &mut DbConnection,
    signer: &ChainSigner,
    kind: &str,
    project_id: i64,
    (chain_seq, entry_hash): (i64, &str),
    signed_at: i64,
) -> QueryResult<()> {
    let (key_id, signature) = signer.sign_statement(
        statement_kind(kind),
        project_id,
        chain_seq,
        entry_hash,
        signed_at,
    );
    diesel::insert_into(audit_checkpoints::table)
        .values(&NewCheckpoint {
            project_id,
            kind,
            chain_seq,
            entry_hash,
            signed_at,
            key_id: &key_id,
            signature: &signature,
        })
        .execute(conn)?;
    Ok(())
}

/// Why the entries from `from` on are not trusted: a server found the head (at
/// `found_head_seq`, when known) signed by no trusted key at `found_at`.
fn untrusted_stretch(from: i64, found_head_seq: Option<i64>, found_at: i64) -> String {
    let head = found_head_seq.map_or("a chain head".to_string(), |seq| {
        format!("the chain head #{seq}")
    });
    format!(
        "entries from #{from} on were appended outside the server: at {} it found {head} not signed by a trusted key, and the entries appended since do not vouch for them",
        instant(found_at)
    )
}

fn instant(micros: i64) -> String {
    crate::clock::from_micros(micros).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn broken(
    mut report: VerifyReport,
    chain_seq: i64,
    entry_id: Option<i64>,
    reason: String,
) -> VerifyReport {
    report.ok = false;
    report.broken = Some(BrokenLink {
        chain_seq,
        entry_id,
        reason,
    });
    report
}
