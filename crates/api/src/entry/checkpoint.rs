//! Signed chain heads: what makes tampering visible to someone who can write the database.
//!
//! The hash chain (`chain.rs`) finds any partial edit, but someone who can write the database
//! can also delete the newest entries and roll the head back, rewrite an entry and recompute every
//! later hash, append a forged entry, delete the oldest entries, or delete a whole chain. Three
//! things the database cannot give such a person close those holes:
//!
//! - **The signing key** (Ed25519) lives outside the database: derived from the server's secret
//!   key (itself generated into the data directory with mode 0600, or given by flag or
//!   environment, and shared by every server of one database), or read from
//!   `--chain-signing-key-file` so that it can be kept and rotated apart. Every
//!   append signs the project's new head, `(project, chain_seq, entry_hash, signed_at)`, in the
//!   same transaction as the entries; every [`CHECKPOINT_EVERY`]th entry also leaves a signed
//!   `head` checkpoint row behind as history, and the retention job signs a `retention`
//!   checkpoint naming the newest entry it removed. A forged or recomputed head has no valid
//!   signature.
//! - **The anchor** (`<data dir>/chain-anchor.json`, and in memory): the newest head this
//!   server signed for each project, and its retention watermark. Rolling the database back
//!   (even to an old, validly signed head) leaves the chain shorter than the anchor.
//! - **Clients remember**: every verification answers the signed head, which the CLI keeps and
//!   compares on its next run, with the public keys of `GET /api/v1/audit-log-keys`.
//!
//! Invariants:
//! - Nothing is signed that this process did not write itself (heads are signed where they are
//!   appended; the retention checkpoint where entries are purged), except once per project at
//!   start-up: a head the anchor does not know yet (a database from before signing existed) is
//!   adopted as it is.
//! - The statement signed is `auditlog_shared::wire::chain_statement` (a head, or a retention
//!   watermark); [`auditlog_shared::wire::SignedHead`] documents it for clients.
//! - Retired keys stay trusted for verification (`--trusted-chain-key`), so rotation keeps every
//!   old signature checkable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use auditlog_shared::wire::{ChainKey, SignedHead};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::configuration::{SecretKey, Settings};

/// A `head` checkpoint row is kept every this many entries of a project.
pub const CHECKPOINT_EVERY: i64 = 1_000;

/// What the anchor remembers of a project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The newest head this server signed.
    pub chain_seq: i64,
    pub entry_hash: String,
    pub signed_at: i64,
    /// The newest entry retention removed, if any.
    #[serde(default)]
    pub purged_through_seq: Option<i64>,
    /// What this server found when it was about to extend the chain: no longer the chain it
    /// signed. Kept for good, so that appending past the old head does not bury the evidence.
    #[serde(default)]
    pub conflict: Option<AnchorConflict>,
}

/// The chain this server signed up to `chain_seq`, found rolled back or rewritten.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorConflict {
    /// The head this server had signed.
    pub chain_seq: i64,
    pub entry_hash: String,
    pub signed_at: i64,
    /// The head the chain had when the server came to extend it.
    pub found_head_seq: i64,
    /// When (microseconds since the epoch).
    pub found_at: i64,
    /// The head found was signed by no trusted key: entries were appended (or the head
    /// rewritten) outside the server. Otherwise the chain was rolled back or rewritten under a
    /// head this server had signed.
    #[serde(default)]
    pub unsigned_head: bool,
}

/// The signing key, the trusted keys and the anchor, shared by every writer of this process.
pub struct ChainSigner {
    signing_key: SigningKey,
    key_id: String,
    /// The current key first, then retired ones.
    trusted: Vec<(String, VerifyingKey)>,
    anchors: Mutex<HashMap<i64, Anchor>>,
    anchor_path: Option<PathBuf>,
}

static APPEND_SIGNATURES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static APPEND_SIGNING_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What signing has cost appends in this process so far: the heads they signed and the time
/// that took them (inside their transactions). The capture benchmark reads it.
pub fn append_signing_cost() -> (u64, std::time::Duration) {
    (
        APPEND_SIGNATURES.load(std::sync::atomic::Ordering::Relaxed),
        std::time::Duration::from_nanos(
            APPEND_SIGNING_NANOS.load(std::sync::atomic::Ordering::Relaxed),
        ),
    )
}
impl ChainSigner {
    /// The signer the settings name: the signing key, the trusted keys and the data
    /// directory's anchor.
    pub fn from_settings(
        settings: &Settings,
        secret_key: &SecretKey,
    ) -> anyhow::Result<ChainSigner> {
        ChainSigner::load(
            settings.chain_signing_key_file.as_deref(),
            secret_key.expose(),
            Some(settings.data_dir.join("chain-anchor.json")),
            &settings.trusted_chain_keys,
        )
    }

    /// The signer for a server: its key from `key_file` (created when missing) or derived from
    /// the secret key, the anchor from `anchor_file`; `retired` are hex public keys that stay
    /// trusted.
    pub fn load(
        key_file: Option<&Path>,
        secret_key: &str,
        anchor_file: Option<PathBuf>,
        retired: &[String],
    ) -> anyhow::Result<ChainSigner> {
        let seed = match key_file {
            Some(path) => load_or_create_seed(path)?,
            None => derived_seed(secret_key),
        };
        let mut signer = ChainSigner::from_seed(seed, retired)?;
        if let Some(path) = &anchor_file {
            if path.exists() {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the chain anchor {}", path.display()))?;
                let anchors: HashMap<i64, Anchor> = serde_json::from_str(&text)
                    .with_context(|| format!("the chain anchor {} is damaged", path.display()))?;
                signer.anchors = Mutex::new(anchors);
            }
        }
        signer.anchor_path = anchor_file;
        Ok(signer)
    }

    /// A signer with the given seed and no anchor file (tests and tools).
    pub fn from_seed(seed: [u8; 32], retired: &[String]) -> anyhow::Result<ChainSigner> {
        let signing_key = SigningKey::from_bytes(&seed);
        let verifying = signing_key.verifying_key();
        let key_id = key_id(&verifying);
        let mut trusted = vec![(key_id.clone(), verifying)];
        for text in retired {
            let bytes: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .with_context(|| format!("`{text}` is not a 32-byte hex Ed25519 public key"))?;
            let key = VerifyingKey::from_bytes(&bytes)
                .with_context(|| format!("`{text}` is not an Ed25519 public key"))?;
            trusted.push((self::key_id(&key), key));
        }
        Ok(ChainSigner {
            signing_key,
            key_id,
            trusted,
            anchors: Mutex::new(HashMap::new()),
            anchor_path: None,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs a project's head: `(key_id, signature hex)`.
    pub fn sign_head(
        &self,
        project_id: i64,
        chain_seq: i64,
        entry_hash: &str,
        signed_at: i64,
    ) -> (String, String) {
        self.sign(&head_message(project_id, chain_seq, entry_hash, signed_at))
    }

    /// Signs the head an append leaves, in its transaction, and counts what that cost (see
    /// [`append_signing_cost`]).
    pub fn sign_appended_head(
        &self,
        project_id: i64,
        chain_seq: i64,
        entry_hash: &str,
        signed_at: i64,
    ) -> (String, String) {
        let started = std::time::Instant::now();
        let signed = self.sign_head(project_id, chain_seq, entry_hash, signed_at);
        APPEND_SIGNATURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        APPEND_SIGNING_NANOS.fetch_add(
            u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        signed
    }

    /// Signs a statement of the given kind about one position of a project's chain (a retention
    /// watermark, a conflict; see `auditlog_shared::wire::chain_statement`):
    /// `(key_id, signature hex)`.
    pub fn sign_statement(
        &self,
        kind: &str,
        project_id: i64,
        chain_seq: i64,
        entry_hash: &str,
        signed_at: i64,
    ) -> (String, String) {
        self.sign(&statement_message(
            kind, project_id, chain_seq, entry_hash, signed_at,
        ))
    }

    /// Signs an export manifest's statement, filling its `key_id` and `signature`.
    pub fn sign_export(&self, manifest: &mut auditlog_shared::wire::ExportManifest) {
        let (key_id, signature) = self.sign(manifest.statement().as_bytes());
        manifest.key_id = key_id;
        manifest.signature = signature;
    }

    fn sign(&self, message: &[u8]) -> (String, String) {
        let signature = self.signing_key.sign(message);
        (self.key_id.clone(), hex::encode(signature.to_bytes()))
    }

    /// Whether `signature` (hex) by the key `key_id` is valid for the message, with a trusted
    /// key.
    pub fn verifies(&self, message: &[u8], key_id: &str, signature: &str) -> bool {
        let Some((_, key)) = self.trusted.iter().find(|(id, _)| id == key_id) else {
            return false;
        };
        let Some(bytes) = hex::decode(signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        else {
            return false;
        };
        key.verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// Whether a signed head is valid.
    pub fn head_verifies(&self, head: &SignedHead) -> bool {
        self.verifies(head.statement().as_bytes(), &head.key_id, &head.signature)
    }

    /// The keys clients verify with.
    pub fn public_keys(&self) -> Vec<ChainKey> {
        self.trusted
            .iter()
            .enumerate()
            .map(|(index, (key_id, key))| ChainKey {
                key_id: key_id.clone(),
                algorithm: "ed25519".into(),
                public_key: hex::encode(key.to_bytes()),
                current: index == 0,
            })
            .collect()
    }

    /// Remembers a head this process committed (call after the commit).
    pub fn remember_head(&self, project_id: i64, chain_seq: i64, entry_hash: &str, signed_at: i64) {
        let mut anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
        let anchor = anchors.entry(project_id).or_default();
        if chain_seq > anchor.chain_seq {
            anchor.chain_seq = chain_seq;
            anchor.entry_hash = entry_hash.to_string();
            anchor.signed_at = signed_at;
        }
    }

    /// Records, once, that the chain no longer holds the head this server signed.
    pub fn record_conflict(&self, project_id: i64, conflict: AnchorConflict) {
        let mut anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
        let anchor = anchors.entry(project_id).or_default();
        if anchor.conflict.is_none() {
            tracing::error!(
                project_id,
                signed_seq = conflict.chain_seq,
                found_head_seq = conflict.found_head_seq,
                "the audit chain no longer holds the head this server signed: it was rolled back or rewritten in the database"
            );
            anchor.conflict = Some(conflict);
        }
    }

    /// Remembers the newest entry retention removed (call after the commit).
    pub fn remember_purge(&self, project_id: i64, purged_through_seq: i64) {
        let mut anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
        let anchor = anchors.entry(project_id).or_default();
        anchor.purged_through_seq = Some(
            anchor
                .purged_through_seq
                .unwrap_or(0)
                .max(purged_through_seq),
        );
    }

    pub fn anchor(&self, project_id: i64) -> Option<Anchor> {
        self.anchors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&project_id)
            .cloned()
    }

    /// Writes the anchor file (atomically: a temporary file renamed over it).
    pub fn persist(&self) -> anyhow::Result<()> {
        let Some(path) = &self.anchor_path else {
            return Ok(());
        };
        let text = {
            let anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
            serde_json::to_string(&*anchors)?
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }

    /// Writes the anchor file every `interval`, on its own thread, for the life of the process.
    pub fn start_persisting(signer: std::sync::Arc<ChainSigner>, interval: std::time::Duration) {
        std::thread::Builder::new()
            .name("chain-anchor".into())
            .spawn(move || {
                let mut written = String::new();
                loop {
                    std::thread::sleep(interval);
                    // The data directory is gone (a test's temporary one): nothing to keep.
                    if signer
                        .anchor_path
                        .as_deref()
                        .and_then(Path::parent)
                        .is_some_and(|dir| !dir.exists())
                    {
                        return;
                    }
                    let now = {
                        let anchors = signer.anchors.lock().unwrap_or_else(|e| e.into_inner());
                        serde_json::to_string(&*anchors).unwrap_or_default()
                    };
                    if now != written {
                        match signer.persist() {
                            Ok(()) => written = now,
                            Err(error) => {
                                tracing::error!(cause_chain = %format!("{error:#}"), "the chain anchor could not be written")
                            }
                        }
                    }
                }
            })
            .expect("the chain anchor thread starts");
    }
}

/// The signed head statement of a head, as the verifier rebuilds it.
pub fn head_message(project_id: i64, chain_seq: i64, entry_hash: &str, signed_at: i64) -> Vec<u8> {
    auditlog_shared::wire::head_statement(project_id, chain_seq, entry_hash, signed_at).into_bytes()
}

/// The signed statement of the given kind about one position of a project's chain.
pub fn statement_message(
    kind: &str,
    project_id: i64,
    chain_seq: i64,
    entry_hash: &str,
    signed_at: i64,
) -> Vec<u8> {
    auditlog_shared::wire::chain_statement(kind, project_id, chain_seq, entry_hash, signed_at)
        .into_bytes()
}

/// The signing seed of a server configured with only a secret key.
fn derived_seed(secret_key: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"auditlog chain signing key v1\n");
    hasher.update(secret_key.as_bytes());
    hasher.finalize().into()
}

fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.to_bytes()))[..16].to_string()
}

fn load_or_create_seed(path: &Path) -> anyhow::Result<[u8; 32]> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the chain signing key {}", path.display()))?;
        return hex::decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .with_context(|| {
                format!(
                    "{} must hold a 32-byte Ed25519 seed as 64 hex digits",
                    path.display()
                )
            });
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    crate::configuration::write_private_file(path, &hex::encode(seed))
        .with_context(|| format!("cannot write the chain signing key {}", path.display()))?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_verifies_and_any_change_does_not() {
        let signer = ChainSigner::from_seed([7; 32], &[]).unwrap();
        let (key_id, signature) = signer.sign_head(3, 10, "ab", 42);
        let mut head = SignedHead {
            project_id: 3,
            chain_seq: 10,
            entry_hash: "ab".into(),
            signed_at: 42,
            key_id,
            signature,
        };
        assert!(signer.head_verifies(&head));
        head.chain_seq = 9;
        assert!(!signer.head_verifies(&head));
        assert_eq!(
            String::from_utf8(head_message(3, 10, "ab", 42)).unwrap(),
            r#"{"kind":"auditlog.head.v1","project_id":3,"chain_seq":10,"entry_hash":"ab","signed_at":42}"#
        );
    }

    #[test]
    fn retired_keys_stay_trusted_and_strangers_are_not() {
        let old = ChainSigner::from_seed([1; 32], &[]).unwrap();
        let (key_id, signature) = old.sign_head(1, 1, "x", 1);
        let retired = old.public_keys()[0].public_key.clone();
        let rotated = ChainSigner::from_seed([2; 32], &[retired]).unwrap();
        let message = head_message(1, 1, "x", 1);
        assert!(rotated.verifies(&message, &key_id, &signature));
        let stranger = ChainSigner::from_seed([3; 32], &[]).unwrap();
        assert!(!stranger.verifies(&message, &key_id, &signature));
        assert_eq!(rotated.public_keys().len(), 2);
        assert!(rotated.public_keys()[0].current && !rotated.public_keys()[1].current);
    }
}
