//! How an audit entry's hash is computed: one definition for the server that writes and verifies
//! the chain and for every client that checks an export offline.
//!
//! Each entry of a project's chain stores its position (`chain_seq`, from 1), the hash of the
//! entry before it (`prev_hash`; the first entry links to [`GENESIS_HASH`]) and its own hash:
//! `SHA-256(prev_hash || "\n" || canonical JSON of HashedFields)`, lowercase hex. The canonical
//! JSON is `serde_json`'s compact form of [`HashedFields`], keys in declaration order.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::wire::AuditEntry;

/// The `prev_hash` of a project's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields an entry's hash covers, in their canonical order. The entry's `id` (assigned by
/// the database) and the columns derived from these fields are not covered.
#[derive(Debug, Default, Serialize)]
pub struct HashedFields<'a> {
    pub project_id: i64,
    pub chain_seq: i64,
    /// Microseconds since the Unix epoch.
    pub ts: i64,
    pub actor_kind: &'a str,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub actor_email: Option<&'a str>,
    pub source: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub route: &'a str,
    pub action: &'a str,
    pub status_code: i32,
    pub resource_type: &'a str,
    pub resource_id: Option<i64>,
    pub resource_name: &'a str,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: &'a str,
    pub duration_us: i64,
    /// Only ingested events carry it, so the hashes of all other entries (and of every entry
    /// written before it existed) are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingested_by_token_id: Option<i64>,
    /// What a state-changing request changed ([`changes_text`]). Only entries with changes carry
    /// it, so the hashes of all others (and of every entry written before it existed) are
    /// unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<std::borrow::Cow<'a, str>>,
}

/// The stored and hashed form of an entry's changes: the compact JSON of the list, `None` for
/// none. Clients recompute it from the entry's `changes` to check its hash.
pub fn changes_text(changes: &[crate::wire::FieldChange]) -> Option<String> {
    (!changes.is_empty())
        .then(|| serde_json::to_string(changes).expect("changes serialize as JSON"))
}

impl<'a> HashedFields<'a> {
    /// The hashed fields of an entry as clients receive it (a list page or an NDJSON export),
    /// of the project `project_id`.
    pub fn of_entry(project_id: i64, entry: &'a AuditEntry) -> HashedFields<'a> {
        HashedFields {
            project_id,
            chain_seq: entry.chain_seq,
            ts: entry.timestamp.timestamp_micros(),
            actor_kind: &entry.actor.kind,
            actor_id: entry.actor.id,
            actor_name: &entry.actor.name,
            actor_email: entry.actor.email.as_deref(),
            source: entry.source.as_str(),
            method: &entry.method,
            path: &entry.path,
            route: &entry.route,
            action: &entry.action,
            status_code: i32::from(entry.status),
            resource_type: entry.resource.kind.as_str(),
            resource_id: entry.resource.id,
            resource_name: &entry.resource.name,
            client_ip: entry.client_ip.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            request_id: &entry.request_id,
            // The wire carries milliseconds with microsecond precision; rounding recovers the
            // stored microseconds exactly for any realistic duration.
            duration_us: (entry.duration_ms * 1000.0).round() as i64,
            ingested_by_token_id: entry.ingested_by_token_id,
            changes: changes_text(&entry.changes).map(std::borrow::Cow::Owned),
        }
    }
}

/// The hash of an entry given the hash of the one before it.
pub fn entry_hash(prev_hash: &str, fields: &HashedFields<'_>) -> String {
    hex::encode(entry_digest(prev_hash, fields, &mut Vec::new()))
}

/// Whether `stored` (lowercase hex) is the hash of an entry given the hash of the one before it.
/// `scratch` is reused between calls, so that checking a long chain allocates nothing per entry.
pub fn hash_matches(
    stored: &str,
    prev_hash: &str,
    fields: &HashedFields<'_>,
    scratch: &mut Vec<u8>,
) -> bool {
    if stored.len() != 64 {
        return false;
    }
    let mut expected = [0u8; 64];
    hex::encode_to_slice(entry_digest(prev_hash, fields, scratch), &mut expected)
        .expect("32 bytes are 64 hex digits");
    expected == stored.as_bytes()
}

fn entry_digest(prev_hash: &str, fields: &HashedFields<'_>, scratch: &mut Vec<u8>) -> [u8; 32] {
    scratch.clear();
    write_canonical_json(scratch, fields);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(&scratch[..]);
    hasher.finalize().into()
}

/// Writes the canonical JSON of the fields: byte for byte what `serde_json::to_writer` writes for
/// [`HashedFields`] (a property test holds the two together), written directly because
/// verification hashes millions of entries and the generic serializer was a tenth of its time.
fn write_canonical_json(out: &mut Vec<u8>, fields: &HashedFields<'_>) {
    fn number(out: &mut Vec<u8>, key: &[u8], value: impl itoa::Integer) {
        out.extend_from_slice(key);
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }
    fn optional_number(out: &mut Vec<u8>, key: &[u8], value: Option<i64>) {
        match value {
            Some(value) => number(out, key, value),
            None => {
                out.extend_from_slice(key);
                out.extend_from_slice(b"null");
            }
        }
    }
    fn text(out: &mut Vec<u8>, key: &[u8], value: &str) {
        out.extend_from_slice(key);
        write_json_string(out, value);
    }
    fn optional_text(out: &mut Vec<u8>, key: &[u8], value: Option<&str>) {
        match value {
            Some(value) => text(out, key, value),
            None => {
                out.extend_from_slice(key);
                out.extend_from_slice(b"null");
            }
        }
    }
    number(out, b"{\"project_id\":", fields.project_id);
    number(out, b",\"chain_seq\":", fields.chain_seq);
    number(out, b",\"ts\":", fields.ts);
    text(out, b",\"actor_kind\":", fields.actor_kind);
    optional_number(out, b",\"actor_id\":", fields.actor_id);
    text(out, b",\"actor_name\":", fields.actor_name);
    optional_text(out, b",\"actor_email\":", fields.actor_email);
    text(out, b",\"source\":", fields.source);
    text(out, b",\"method\":", fields.method);
    text(out, b",\"path\":", fields.path);
    text(out, b",\"route\":", fields.route);
    text(out, b",\"action\":", fields.action);
    number(out, b",\"status_code\":", fields.status_code);
    text(out, b",\"resource_type\":", fields.resource_type);
    optional_number(out, b",\"resource_id\":", fields.resource_id);
    text(out, b",\"resource_name\":", fields.resource_name);
    optional_text(out, b",\"client_ip\":", fields.client_ip);
    optional_text(out, b",\"user_agent\":", fields.user_agent);
    text(out, b",\"request_id\":", fields.request_id);
    number(out, b",\"duration_us\":", fields.duration_us);
    if let Some(token) = fields.ingested_by_token_id {
        number(out, b",\"ingested_by_token_id\":", token);
    }
    if let Some(changes) = &fields.changes {
        text(out, b",\"changes\":", changes);
    }
    out.push(b'}');
}

/// A JSON string as `serde_json` writes it: `"` and `\\` escaped, the control characters as
/// `\b \f \n \r \t` or `\u00xx`, everything else as it is.
fn write_json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = value.as_bytes();
    if !bytes
        .iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
    {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut plain_from = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..index]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 0xf) as usize]);
        } else {
            out.extend_from_slice(short);
        }
        plain_from = index + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EntryActor, EntryResource, ExportManifest};
    use crate::{ResourceType, Source};

    fn entry() -> AuditEntry {
        AuditEntry {
            id: 7,
            timestamp: chrono::DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            actor: EntryActor {
                kind: "user".into(),
                id: Some(3),
                name: "Ada".into(),
                email: Some("ada@example.com".into()),
            },
            source: Source::Dashboard,
            method: "POST".into(),
            path: "/api/v1/projects/1/applications".into(),
            route: "/api/v1/projects/{project_id}/applications".into(),
            action: "application.create".into(),
            action_label: "Create application".into(),
            status: 201,
            resource: EntryResource {
                kind: ResourceType::Application,
                id: Some(9),
                name: "web".into(),
            },
            client_ip: Some("10.0.0.1".into()),
            user_agent: None,
            request_id: "req-1".into(),
            duration_ms: 12.345,
            ingested_by_token_id: None,
            chain_seq: 1,
            prev_hash: GENESIS_HASH.into(),
            entry_hash: String::new(),
            changes: Vec::new(),
        }
    }

    #[test]
    fn changes_are_hashed_and_an_entry_without_them_hashes_as_before() {
        let plain = entry();
        let before = entry_hash(GENESIS_HASH, &HashedFields::of_entry(1, &plain));
        let mut json = Vec::new();
        write_canonical_json(&mut json, &HashedFields::of_entry(1, &plain));
        assert!(!String::from_utf8(json).unwrap().contains("changes"));
        let mut changed = entry();
        changed.changes = vec![crate::wire::FieldChange {
            field: "image".into(),
            before: Some("web:1".into()),
            after: Some("web:2".into()),
        }];
        let with = entry_hash(GENESIS_HASH, &HashedFields::of_entry(1, &changed));
        assert_ne!(with, before);
        // Read back from JSON, the changes rehash the same; altered, they do not.
        let read: AuditEntry =
            serde_json::from_str(&serde_json::to_string(&changed).unwrap()).unwrap();
        assert_eq!(
            entry_hash(GENESIS_HASH, &HashedFields::of_entry(1, &read)),
            with
        );
        let mut forged = read;
        forged.changes[0].after = Some("evil:1".into());
        assert_ne!(
            entry_hash(GENESIS_HASH, &HashedFields::of_entry(1, &forged)),
            with
        );
    }

    #[test]
    fn a_wire_entry_rehashes_after_a_json_round_trip_and_any_change_shows() {
        let mut original = entry();
        original.entry_hash = entry_hash(GENESIS_HASH, &HashedFields::of_entry(1, &original));
        let text = serde_json::to_string(&original).unwrap();
        let read: AuditEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(
            entry_hash(&read.prev_hash, &HashedFields::of_entry(1, &read)),
            original.entry_hash
        );
        // The microseconds of the duration survive the milliseconds of the wire.
        assert_eq!(HashedFields::of_entry(1, &read).duration_us, 12_345);
        let mut altered = read.clone();
        altered.actor.name = "Eve".into();
        assert_ne!(
            entry_hash(&altered.prev_hash, &HashedFields::of_entry(1, &altered)),
            original.entry_hash
        );
        let mut scratch = Vec::new();
        let fields = HashedFields::of_entry(1, &read);
        assert!(hash_matches(
            &original.entry_hash,
            &read.prev_hash,
            &fields,
            &mut scratch
        ));
        let shouted = original.entry_hash.to_uppercase();
        assert!(!hash_matches(
            &shouted,
            &read.prev_hash,
            &fields,
            &mut scratch
        ));
        assert!(!hash_matches("", &read.prev_hash, &fields, &mut scratch));
        // The project is part of what is hashed: an entry cannot be moved to another.
        assert_ne!(
            entry_hash(&read.prev_hash, &HashedFields::of_entry(2, &read)),
            original.entry_hash
        );
    }

    proptest::proptest! {
        #[test]
        fn the_canonical_json_is_what_serde_json_writes(
            numbers in proptest::array::uniform8(proptest::num::i64::ANY),
            texts in proptest::collection::vec("(\\PC|[\\x00-\\x1f\"\\\\\\x7f]){0,12}", 14),
            present in proptest::array::uniform7(proptest::bool::ANY),
        ) {
            let fields = HashedFields {
                project_id: numbers[0],
                chain_seq: numbers[1],
                ts: numbers[2],
                actor_kind: &texts[0],
                actor_id: present[0].then_some(numbers[3]),
                actor_name: &texts[1],
                actor_email: present[1].then_some(texts[2].as_str()),
                source: &texts[3],
                method: &texts[4],
                path: &texts[5],
                route: &texts[6],
                action: &texts[7],
                status_code: numbers[4] as i32,
                resource_type: &texts[8],
                resource_id: present[2].then_some(numbers[5]),
                resource_name: &texts[9],
                client_ip: present[3].then_some(texts[10].as_str()),
                user_agent: present[4].then_some(texts[11].as_str()),
                request_id: &texts[12],
                duration_us: numbers[6],
                ingested_by_token_id: present[5].then_some(numbers[7]),
                changes: present[6].then(|| std::borrow::Cow::Borrowed(texts[13].as_str())),
            };
            let mut written = Vec::new();
            write_canonical_json(&mut written, &fields);
            proptest::prop_assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&fields).unwrap()
            );
        }
    }

    #[test]
    fn a_manifest_describes_exactly_its_file() {
        use sha2::Digest as _;
        let file = b"{\"id\":1}\n{\"id\":2}\n";
        let manifest = ExportManifest {
            kind: crate::wire::EXPORT_STATEMENT_KIND.into(),
            export_id: "e".into(),
            project_id: 1,
            query: "range=1h".into(),
            from: 0,
            to: 1,
            format: "ndjson".into(),
            rows: 2,
            matched: 2,
            truncated: false,
            bytes: file.len() as u64,
            sha256: hex::encode(Sha256::digest(file)),
            first_seq: Some(1),
            last_seq: Some(2),
            created_at: 5,
            head: None,
            key_id: "k".into(),
            signature: "s".into(),
        };
        assert!(manifest.describes(file));
        assert!(!manifest.describes(b"{\"id\":1}\n"));
        assert!(!manifest.describes(b"{\"id\":1}\n{\"id\":3}\n"));
        // The statement leaves out only the signature and its key, and names every field.
        let statement = manifest.statement();
        assert!(
            statement.starts_with(
                r#"{"kind":"auditlog.export.v1","export_id":"e","project_id":1,"query":"range=1h""#
            ),
            "{statement}"
        );
        assert!(!statement.contains("signature") && !statement.contains("key_id"));
        let mut other = manifest.clone();
        other.truncated = true;
        assert_ne!(other.statement(), statement);
    }
}
