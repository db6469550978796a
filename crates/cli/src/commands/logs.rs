//! `auditlog logs`: listing and exporting the audit log's entries, and `auditlog logs verify`,
//! the verdict of its hash chain over a window.

pub mod export;
pub mod filters;
pub mod list;
pub mod views;

use std::process::ExitCode;

use anyhow::Context as _;
use auditlog_shared::wire::{ChainKey, SignedHead, VerifyLine, VerifyReport};
use auditlog_shared::{AuditQuery, CustomRange, DateRange, Preset};
use chrono::{DateTime, Utc};

use super::{ProjectSession, EXIT_CODE_CHAIN_BROKEN};
use crate::arguments::VerifyArguments;
use crate::config::{
    load_verified_heads, remember_chain_keys, save_verified_heads, verified_head_key,
};
use crate::output::{group_digits, print_json};

/// Builds the query `auditlog logs verify` sends: `--query` when given, with its range replaced
/// by `--range`, or with the ends that `--from` and `--to` name replaced.
///
/// Every mistake in the flags is an error here, before any request is made, including filters in
/// `--query`, which the server refuses because verification covers a whole window.
pub fn build_verify_query(arguments: &VerifyArguments) -> anyhow::Result<AuditQuery> {
    if arguments.range.is_some() && (arguments.from.is_some() || arguments.to.is_some()) {
        anyhow::bail!(
            "--range cannot be combined with --from or --to: give either a preset window or the \
             ends of a custom one"
        );
    }
    let mut query = match &arguments.query {
        Some(text) => {
            AuditQuery::parse(text).map_err(|error| anyhow::anyhow!("invalid --query: {error}"))?
        }
        None => AuditQuery::default(),
    };
    if query.has_filters() || query.cursor.is_some() {
        anyhow::bail!(
            "invalid --query: verification covers every entry of a window, so the query may only \
             give `range` or `from`/`to`, not filters, a search or a cursor"
        );
    }
    if let Some(range) = &arguments.range {
        query.range = DateRange::Last(parse_preset(range)?);
    } else if arguments.from.is_some() || arguments.to.is_some() {
        let (query_from, query_to) = match query.range {
            DateRange::Custom(custom) => (custom.from(), custom.to()),
            DateRange::Last(_) => (None, None),
        };
        let from = match &arguments.from {
            Some(text) => Some(parse_instant("--from", text)?),
            None => query_from,
        };
        let to = match &arguments.to {
            Some(text) => Some(parse_instant("--to", text)?),
            None => query_to,
        };
        let custom = CustomRange::new(from, to).map_err(|error| anyhow::anyhow!("{error}"))?;
        query.range = DateRange::Custom(custom);
    }
    Ok(query)
}

/// The line that reports a verdict, and whether the chain held.
pub fn describe_report(report: &VerifyReport) -> (String, bool) {
    if report.ok {
        let entries = if report.checked == 1 {
            "1 entry".to_string()
        } else {
            format!("{} entries", report.checked)
        };
        let line = match (report.first_seq, report.last_seq) {
            (Some(first), Some(last)) => format!("OK: {entries} verified (chain #{first}–#{last})"),
            _ => format!("OK: {entries} verified (the window holds no entries)"),
        };
        return (line, true);
    }
    let line = match &report.broken {
        Some(link) => {
            let entry = link.entry_id.map_or_else(
                || "entry deleted".to_string(),
                |id| format!("entry id {id}"),
            );
            format!(
                "BROKEN at chain #{} ({entry}): {}",
                link.chain_seq, link.reason
            )
        }
        None => "BROKEN: the server found the chain broken but named no link".to_string(),
    };
    (line, false)
}

/// Asks the server to verify the chain over the query's window and reports the verdict; the exit
/// code is [`EXIT_CODE_CHAIN_BROKEN`] when the chain is broken.
///
/// When the server's verdict is OK, the signed head it answers is checked here too, with the
/// server's published keys, and against the head this command last found intact (kept in the
/// configuration directory): a head that went backwards or changed means the chain was rolled
/// back or rewritten, even when the server itself says OK.
///
/// The server streams its progress; with `progress` (or when standard error is a terminal) it
/// is shown there as the walk goes.
pub async fn verify_chain(
    session: &ProjectSession,
    query: &AuditQuery,
    config_directory: &std::path::Path,
    progress: bool,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal as _;
    let progress = progress || std::io::stderr().is_terminal();
    let canonical = query.to_query_string();
    let mut path = session.project_path("/audit-logs/verify");
    if !canonical.is_empty() {
        path.push('?');
        path.push_str(&canonical);
    }
    let (report, raw) = read_streamed_report(session, &path, progress).await?;
    let (mut line, mut intact) = describe_report(&report);
    if let (true, Some(head)) = (intact, &report.signed_head) {
        let keys = fetch_chain_keys(session, config_directory).await?;
        let key = verified_head_key(session.client.base_url(), session.project_id);
        let mut remembered = load_verified_heads(config_directory)?;
        let mut verdict = check_signed_head(head, &keys, remembered.get(&key));
        // A head that moved on must still hold, at the position verified here before, the
        // entry verified then: appending after a rollback cannot hide it.
        if let (Ok(()), Some(previous)) = (&verdict, remembered.get(&key)) {
            if head.chain_seq > previous.chain_seq {
                verdict = check_remembered_position(session, previous).await?;
            }
        }
        match verdict {
            Ok(()) => {
                line.push_str(&format!(" · signed head #{}", head.chain_seq));
                remembered.insert(key, head.clone());
                save_verified_heads(config_directory, &remembered)?;
            }
            Err(problem) => {
                line = format!("BROKEN: {problem}");
                intact = false;
            }
        }
    }
    if session.json {
        print_json(&raw)?;
        if !intact {
            eprintln!("{line}");
        }
    } else {
        println!("{line}");
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CODE_CHAIN_BROKEN)
    })
}

/// The keys the server signs with now (and retired ones), remembered for offline checks.
pub async fn fetch_chain_keys(
    session: &ProjectSession,
    config_directory: &std::path::Path,
) -> anyhow::Result<Vec<ChainKey>> {
    let keys = session
        .client
        .get_json::<Vec<ChainKey>>("/api/v1/audit-log-keys")
        .await?
        .value;
    remember_chain_keys(config_directory, session.client.base_url(), &keys)?;
    Ok(keys)
}

/// Whether the entry at the position of a head verified before still has the hash it had. An
/// entry that is gone was removed by retention (the server's verification, which passed, checks
/// that the chain starts where retention stopped).
async fn check_remembered_position(
    session: &ProjectSession,
    previous: &SignedHead,
) -> anyhow::Result<Result<(), String>> {
    let path = session.project_path(&format!("/audit-logs/chain/{}", previous.chain_seq));
    match session
        .client
        .get_json::<auditlog_shared::wire::ChainLink>(&path)
        .await
    {
        Ok(answer) if answer.value.entry_hash == previous.entry_hash => Ok(Ok(())),
        Ok(_) => Ok(Err(format!(
            "the chain was rewritten: entry #{} has another hash than when it was verified here",
            previous.chain_seq
        ))),
        Err(error)
            if error
                .downcast_ref::<crate::client::ProblemError>()
                .is_some_and(|problem| problem.status == 404) =>
        {
            Ok(Ok(()))
        }
        Err(error) => Err(error),
    }
}

/// Reads a streamed verification: shows its progress lines on standard error when asked, and
/// returns the report with its raw JSON.
async fn read_streamed_report(
    session: &ProjectSession,
    path: &str,
    progress: bool,
) -> anyhow::Result<(VerifyReport, serde_json::Value)> {
    let mut response = session.client.get_lines(path).await?;
    let url = response.url().to_string();
    let mut pending: Vec<u8> = Vec::new();
    let mut shown = false;
    let mut report = None;
    loop {
        let chunk = response
            .chunk()
            .await
            .with_context(|| format!("the verification from {url} was interrupted"))?;
        let Some(chunk) = chunk else { break };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let parsed: VerifyLine = serde_json::from_slice(&line)
                .with_context(|| format!("{url} answered a line that is not JSON"))?;
            match parsed {
                VerifyLine::Progress(at) if progress => {
                    eprint!(
                        "\rverified {} entries (through chain #{})…",
                        group_digits(at.checked),
                        group_digits(at.through_seq.max(0) as u64)
                    );
                    shown = true;
                }
                VerifyLine::Progress(_) => {}
                VerifyLine::Report(value) => {
                    let mut raw: serde_json::Value = serde_json::from_slice(&line)?;
                    report = Some((value, raw["report"].take()));
                }
            }
        }
    }
    if shown {
        eprintln!();
    }
    report.with_context(|| format!("{url} ended the verification without a report"))
}

/// Checks a signed head offline: its signature with the published keys, and that it does not
/// go back on the head last found intact.
pub fn check_signed_head(
    head: &SignedHead,
    keys: &[ChainKey],
    previous: Option<&SignedHead>,
) -> Result<(), String> {
    verify_signature(
        keys,
        &head.key_id,
        head.statement().as_bytes(),
        &head.signature,
    )
    .map_err(|problem| format!("the head: {problem}"))?;
    if let Some(previous) = previous {
        if head.chain_seq < previous.chain_seq {
            return Err(format!(
                "the chain was rolled back: it ends at #{}, but #{} was verified here before",
                head.chain_seq, previous.chain_seq
            ));
        }
        if head.chain_seq == previous.chain_seq && head.entry_hash != previous.entry_hash {
            return Err(format!(
                "the chain was rewritten: entry #{} has another hash than when it was verified here",
                head.chain_seq
            ));
        }
    }
    Ok(())
}

/// Checks an Ed25519 signature (hex) of `message` by the key `key_id` among `keys`.
pub fn verify_signature(
    keys: &[ChainKey],
    key_id: &str,
    message: &[u8],
    signature: &str,
) -> Result<(), String> {
    let key = keys
        .iter()
        .find(|key| key.key_id == key_id && key.algorithm == "ed25519")
        .ok_or_else(|| {
            format!(
                "it is signed with key {key_id}, which the server does not publish (or this \
                 client has not seen: give the server's keys with --keys)"
            )
        })?;
    let public: [u8; 32] = hex::decode(&key.public_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("the server published a malformed key")?;
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|_| "the server published a malformed key".to_string())?;
    let signature: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("its signature is malformed")?;
    public
        .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| {
            "its signature does not verify: it was altered or not signed by the server's key"
                .to_string()
        })
}

/// Reads a `--range` preset.
fn parse_preset(text: &str) -> anyhow::Result<Preset> {
    Preset::ALL
        .into_iter()
        .find(|preset| preset.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            anyhow::anyhow!("invalid --range `{text}`: expected one of 1h, 24h, 7d, 30d")
        })
}

/// Reads an RFC 3339 instant given to `flag`.
fn parse_instant(flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!(
                "invalid {flag} `{text}`: expected an RFC 3339 instant such as 2026-11-27T09:30:00Z"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use auditlog_shared::wire::BrokenLink;

    fn arguments(
        query: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        range: Option<&str>,
    ) -> VerifyArguments {
        VerifyArguments {
            query: query.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            range: range.map(str::to_string),
            progress: false,
        }
    }

    fn canonical(arguments: &VerifyArguments) -> String {
        build_verify_query(arguments)
            .expect("valid flags")
            .to_query_string()
    }

    fn error(arguments: &VerifyArguments) -> String {
        build_verify_query(arguments)
            .expect_err("invalid flags")
            .to_string()
    }

    #[test]
    fn no_flags_verify_the_default_window() {
        assert_eq!(canonical(&VerifyArguments::default()), "");
    }

    #[test]
    fn a_query_is_sent_in_canonical_form() {
        assert_eq!(
            canonical(&arguments(Some("?range=24H"), None, None, None)),
            "range=24h"
        );
    }

    #[test]
    fn range_replaces_the_window_of_the_query() {
        assert_eq!(
            canonical(&arguments(None, None, None, Some("1h"))),
            "range=1h"
        );
        assert_eq!(
            canonical(&arguments(Some("range=24h"), None, None, Some("30d"))),
            "range=30d"
        );
        assert_eq!(
            canonical(&arguments(
                Some("from=2026-11-20T00:00:00Z"),
                None,
                None,
                Some("7d")
            )),
            ""
        );
    }

    #[test]
    fn from_and_to_replace_one_end_each() {
        assert_eq!(
            canonical(&arguments(
                None,
                Some("2026-11-20T01:00:00+01:00"),
                Some("2026-11-21T00:00:00Z"),
                None
            )),
            "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"
        );
        assert_eq!(
            canonical(&arguments(
                Some("range=24h"),
                Some("2026-11-20T00:00:00Z"),
                None,
                None
            )),
            "from=2026-11-20T00:00:00Z"
        );
        assert_eq!(
            canonical(&arguments(
                Some("from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z"),
                None,
                Some("2026-11-21T00:00:00Z"),
                None
            )),
            "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"
        );
    }

    #[test]
    fn conflicting_and_malformed_flags_are_refused() {
        assert!(error(&arguments(
            None,
            Some("2026-11-20T00:00:00Z"),
            None,
            Some("24h")
        ))
        .contains("--range cannot be combined with --from or --to"));
        assert!(error(&arguments(
            None,
            None,
            Some("2026-11-20T00:00:00Z"),
            Some("24h")
        ))
        .contains("--range cannot be combined"));
        assert!(error(&arguments(None, None, None, Some("2w"))).contains("invalid --range `2w`"));
        assert!(error(&arguments(None, Some("yesterday"), None, None))
            .contains("invalid --from `yesterday`"));
        assert!(error(&arguments(None, None, Some("soon"), None)).contains("invalid --to `soon`"));
        assert!(
            error(&arguments(Some("colour=red"), None, None, None)).starts_with("invalid --query")
        );
        assert!(error(&arguments(
            Some("range=24h&method.not=GET"),
            None,
            None,
            None
        ))
        .contains("not filters"));
        assert!(error(&arguments(Some("q=deploy"), None, None, Some("1h"))).contains("not filters"));
        assert!(error(&arguments(
            None,
            Some("2026-11-21T00:00:00Z"),
            Some("2026-11-20T00:00:00Z"),
            None
        ))
        .contains("must be before"));
        assert!(error(&arguments(
            Some("from=2026-11-22T00:00:00Z"),
            None,
            Some("2026-11-21T00:00:00Z"),
            None
        ))
        .contains("must be before"));
    }

    #[test]
    fn verdicts_read_as_one_line() {
        let intact = VerifyReport {
            ok: true,
            checked: 42,
            first_seq: Some(100),
            last_seq: Some(141),
            broken: None,
            signed_head: None,
        };
        assert_eq!(
            describe_report(&intact),
            (
                "OK: 42 entries verified (chain #100–#141)".to_string(),
                true
            )
        );
        let broken = VerifyReport {
            ok: false,
            checked: 7,
            first_seq: Some(1),
            last_seq: Some(7),
            broken: Some(BrokenLink {
                chain_seq: 5,
                entry_id: Some(905),
                reason: "hash mismatch".to_string(),
            }),
            signed_head: None,
        };
        assert_eq!(
            describe_report(&broken),
            (
                "BROKEN at chain #5 (entry id 905): hash mismatch".to_string(),
                false
            )
        );
        let deleted = VerifyReport {
            broken: Some(BrokenLink {
                chain_seq: 6,
                entry_id: None,
                reason: "entry missing from the chain".to_string(),
            }),
            signed_head: None,
            ..broken
        };
        assert_eq!(
            describe_report(&deleted).0,
            "BROKEN at chain #6 (entry deleted): entry missing from the chain"
        );
    }

    fn signed(seed: u8, chain_seq: i64, entry_hash: &str) -> (SignedHead, ChainKey) {
        use ed25519_dalek::Signer as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let statement = format!(
            r#"{{"kind":"auditlog.head.v1","project_id":1,"chain_seq":{chain_seq},"entry_hash":"{entry_hash}","signed_at":5}}"#
        );
        let head = SignedHead {
            project_id: 1,
            chain_seq,
            entry_hash: entry_hash.into(),
            signed_at: 5,
            key_id: "k1".into(),
            signature: hex::encode(key.sign(statement.as_bytes()).to_bytes()),
        };
        let published = ChainKey {
            key_id: "k1".into(),
            algorithm: "ed25519".into(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            current: true,
        };
        (head, published)
    }

    #[test]
    fn a_signed_head_is_checked_offline_and_against_the_last_verified_one() {
        let (head, key) = signed(9, 10, "aa");
        let keys = std::slice::from_ref(&key);
        assert_eq!(check_signed_head(&head, keys, None), Ok(()));
        // Forged by someone without the key.
        let (forged, _) = signed(8, 10, "aa");
        assert!(check_signed_head(&forged, keys, None).is_err());
        // Rolled back, or rewritten, since the last verification here.
        let (older, _) = signed(9, 7, "bb");
        let rolled_back = check_signed_head(&older, keys, Some(&head)).unwrap_err();
        assert!(rolled_back.contains("rolled back"), "{rolled_back}");
        let (other, _) = signed(9, 10, "cc");
        let rewritten = check_signed_head(&other, keys, Some(&head)).unwrap_err();
        assert!(rewritten.contains("rewritten"), "{rewritten}");
        let (newer, _) = signed(9, 12, "dd");
        assert_eq!(check_signed_head(&newer, keys, Some(&head)), Ok(()));
    }
}
