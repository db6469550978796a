//! The stored sign-in: the server URL, the API token and the project, kept in
//! `<config dir>/auditlog/config.json`.
//!
//! The configuration directory is `$AUDITLOG_CONFIG_DIR` when that is set, and the platform's
//! configuration directory otherwise (for example `~/.config` on Linux). On unix the file is
//! readable by its owner only, because it holds a secret.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The environment variable that overrides the configuration directory.
pub const CONFIG_DIRECTORY_VARIABLE: &str = "AUDITLOG_CONFIG_DIR";

/// What `auditlog login` stores and every project command reads.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConfig {
    /// The server's base URL, without a trailing slash.
    pub url: String,
    /// The API token, sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// The project the commands work in unless `--project` says otherwise.
    pub project_id: i64,
}

impl fmt::Debug for StoredConfig {
    /// Shows everything but the token, so that the secret never ends up in a log by accident.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("StoredConfig")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("project_id", &self.project_id)
            .finish()
    }
}

/// The configuration directory: `$AUDITLOG_CONFIG_DIR` when set and not empty, the platform's
/// configuration directory otherwise.
pub fn default_config_directory() -> anyhow::Result<PathBuf> {
    match std::env::var_os(CONFIG_DIRECTORY_VARIABLE) {
        Some(directory) if !directory.is_empty() => Ok(PathBuf::from(directory)),
        _ => dirs::config_dir().with_context(|| {
            format!(
                "cannot find a configuration directory for this user; set {CONFIG_DIRECTORY_VARIABLE}"
            )
        }),
    }
}

/// The path of the configuration file inside a configuration directory.
pub fn config_file_path(config_directory: &Path) -> PathBuf {
    config_directory.join("auditlog").join("config.json")
}

/// Reads the stored configuration; `None` when nobody has signed in.
pub fn load_config(config_directory: &Path) -> anyhow::Result<Option<StoredConfig>> {
    let path = config_file_path(config_directory);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    let config = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid configuration file; run `auditlog logout` and sign in again",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// Writes the configuration, replacing any previous one, and returns the file's path.
///
/// The file is written next to its final place and then renamed, so that a crash never leaves a
/// half-written file behind; on unix it is created with mode 0600 and its directory with 0700.
pub fn save_config(config_directory: &Path, config: &StoredConfig) -> anyhow::Result<PathBuf> {
    let path = config_file_path(config_directory);
    let directory = path
        .parent()
        .context("the configuration file path has no parent directory")?;
    create_private_directory(directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    let mut contents =
        serde_json::to_string_pretty(config).context("cannot serialize the configuration")?;
    contents.push('\n');
    let temporary_path = directory.join("config.json.tmp");
    write_private_file(&temporary_path, contents.as_bytes())
        .with_context(|| format!("cannot write {}", temporary_path.display()))?;
    fs::rename(&temporary_path, &path).with_context(|| {
        format!(
            "cannot move {} to {}",
            temporary_path.display(),
            path.display()
        )
    })?;
    Ok(path)
}

/// Deletes the stored configuration. Returns whether there was one to delete.
pub fn delete_config(config_directory: &Path) -> anyhow::Result<bool> {
    let path = config_file_path(config_directory);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot delete {}", path.display())),
    }
}

/// Creates a directory and its parents; on unix a directory this creates is private to its owner.
fn create_private_directory(directory: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(directory)
}

/// Writes a file that only its owner may read or write (mode 0600 on unix), even when a file was
/// already there with wider permissions.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    file.sync_all()
}

/// The file holding the chain heads `auditlog logs verify` last found intact, per server and
/// project.
pub fn verified_heads_path(config_directory: &Path) -> PathBuf {
    config_directory
        .join("auditlog")
        .join("verified-heads.json")
}

/// The remembered heads, keyed by [`verified_head_key`]; empty when there are none.
pub fn load_verified_heads(
    config_directory: &Path,
) -> anyhow::Result<std::collections::BTreeMap<String, auditlog_shared::wire::SignedHead>> {
    load_remembered(&verified_heads_path(config_directory))
}

/// Stores the remembered heads (written aside, then renamed; mode 0600).
pub fn save_verified_heads(
    config_directory: &Path,
    heads: &std::collections::BTreeMap<String, auditlog_shared::wire::SignedHead>,
) -> anyhow::Result<()> {
    save_remembered(&verified_heads_path(config_directory), heads)
}

/// The file holding the chain-signing public keys each server published, by server URL: what
/// `auditlog export verify` checks signatures with when no `--keys` file is given.
pub fn chain_keys_path(config_directory: &Path) -> PathBuf {
    config_directory.join("auditlog").join("chain-keys.json")
}

/// The remembered keys, by server URL; empty when there are none.
pub fn load_chain_keys(
    config_directory: &Path,
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<auditlog_shared::wire::ChainKey>>> {
    load_remembered(&chain_keys_path(config_directory))
}

/// Adds the keys a server publishes now to those remembered for it (a key it retired stays
/// trusted for what it signed).
pub fn remember_chain_keys(
    config_directory: &Path,
    url: &str,
    keys: &[auditlog_shared::wire::ChainKey],
) -> anyhow::Result<()> {
    let mut remembered = load_chain_keys(config_directory)?;
    let known = remembered.entry(url.to_string()).or_default();
    for key in keys {
        match known.iter_mut().find(|k| k.key_id == key.key_id) {
            Some(existing) => *existing = key.clone(),
            None => known.push(key.clone()),
        }
    }
    save_remembered(&chain_keys_path(config_directory), &remembered)
}

/// A JSON file this client keeps, or the empty value when it does not exist yet.
fn load_remembered<T: serde::de::DeserializeOwned + Default>(path: &Path) -> anyhow::Result<T> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged; delete it to start over", path.display())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Stores a JSON file this client keeps (written aside, then renamed; mode 0600).
fn save_remembered<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let directory = path
        .parent()
        .context("the file path has no parent directory")?;
    create_private_directory(directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    let temporary_path = path.with_extension("json.tmp");
    write_private_file(
        &temporary_path,
        serde_json::to_string_pretty(value)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", temporary_path.display()))?;
    fs::rename(&temporary_path, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The key a head is remembered under: the server's URL and the project.
pub fn verified_head_key(url: &str, project_id: i64) -> String {
    format!("{url}#{project_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_config() -> StoredConfig {
        StoredConfig {
            url: "https://audit.example.com".to_string(),
            token: "alt_secret_value".to_string(),
            project_id: 7,
        }
    }

    #[test]
    fn a_missing_file_means_not_signed_in() {
        let directory = tempfile::tempdir().expect("temporary directory");
        assert_eq!(load_config(directory.path()).expect("load"), None);
        assert!(!delete_config(directory.path()).expect("delete"));
    }

    #[test]
    fn the_config_survives_a_round_trip_and_logout_removes_it() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = save_config(directory.path(), &sample_config()).expect("save");
        assert_eq!(path, directory.path().join("auditlog").join("config.json"));
        assert_eq!(
            load_config(directory.path()).expect("load"),
            Some(sample_config())
        );

        let replacement = StoredConfig {
            project_id: 8,
            ..sample_config()
        };
        save_config(directory.path(), &replacement).expect("save again");
        assert_eq!(
            load_config(directory.path()).expect("load again"),
            Some(replacement)
        );
        assert!(!directory
            .path()
            .join("auditlog")
            .join("config.json.tmp")
            .exists());

        assert!(delete_config(directory.path()).expect("delete"));
        assert_eq!(
            load_config(directory.path()).expect("load after delete"),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;

        let directory = tempfile::tempdir().expect("temporary directory");
        let path = config_file_path(directory.path());
        fs::create_dir_all(path.parent().expect("parent")).expect("create directory");
        fs::write(&path, "{}").expect("write a world-readable file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");

        save_config(directory.path(), &sample_config()).expect("save");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = config_file_path(directory.path());
        fs::create_dir_all(path.parent().expect("parent")).expect("create directory");
        fs::write(&path, "not json").expect("write");
        let error = load_config(directory.path()).expect_err("corrupt file");
        assert!(error.to_string().contains("config.json"), "{error:#}");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let shown = format!("{:?}", sample_config());
        assert!(!shown.contains("alt_secret_value"), "{shown}");
        assert!(shown.contains("audit.example.com"), "{shown}");
    }
}
