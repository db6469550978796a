//! The real `auditlog-server` binary, started as a child process on a free port.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// A binary of the workspace, built by `cargo build --bins` into the same profile directory as
/// the running test.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// A running server process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    /// Starts `auditlog-server` on `127.0.0.1:0` and waits for the line that names its address.
    pub fn start(database_url: &str, data_dir: &Path, static_dir: &Path) -> ServerProcess {
        ServerProcess::start_with_args(database_url, data_dir, static_dir, &[])
    }

    /// Like [`ServerProcess::start`], with more flags for the server, such as
    /// `["--secret-key", key]` for servers that share one database, or `["--bind", address]`
    /// to listen where a stopped server did.
    pub fn start_with_args(
        database_url: &str,
        data_dir: &Path,
        static_dir: &Path,
        extra_args: &[&str],
    ) -> ServerProcess {
        // A free port unless the caller names the address.
        let bind = if extra_args.contains(&"--bind") {
            &[][..]
        } else {
            &["--bind", "127.0.0.1:0"][..]
        };
        let mut child = Command::new(binary("auditlog-server"))
            .args(bind)
            .args(["--database-url", database_url])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--static-dir")
            .arg(static_dir)
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("auditlog-server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Auditlog is listening on ") {
                    let _ = sender.send(url.to_string());
                }
            }
        });
        let url = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("auditlog-server did not report its address within 60 s");
            }
        };
        ServerProcess { child, url }
    }

    /// The server's base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the server at once with SIGKILL, as a crash or a power cut would stop it (no
    /// graceful shutdown, no flush), and waits until the process is gone.
    pub fn kill(&mut self) -> ExitStatus {
        // `Child::kill` sends SIGKILL on unix. It fails only when the process was already reaped.
        let _ = self.child.kill();
        self.child.wait().expect("the killed server is reaped")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first admin and project, made with `auditlog-server create-admin`.
#[derive(Clone, Debug)]
pub struct AdminAccount {
    pub email: String,
    pub name: String,
    pub password: String,
    pub project: String,
}

impl AdminAccount {
    /// Ada, admin of the project "Acme".
    pub fn ada() -> AdminAccount {
        AdminAccount {
            email: "ada@example.com".to_string(),
            name: "Ada".to_string(),
            password: "correct horse battery".to_string(),
            project: "Acme".to_string(),
        }
    }
}

/// Runs `auditlog-server create-admin` on the database and returns the new project's id.
pub fn create_admin(database_url: &str, data_dir: &Path, admin: &AdminAccount) -> i64 {
    let output = Command::new(binary("auditlog-server"))
        .args(["--database-url", database_url])
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "create-admin",
            "--email",
            &admin.email,
            "--name",
            &admin.name,
        ])
        .args(["--password", &admin.password, "--project", &admin.project])
        .env("RUST_LOG", "warn")
        .output()
        .expect("auditlog-server create-admin runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "create-admin failed: {output:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .split("project #")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("create-admin did not name the project's id: {stdout}"))
}

/// A fresh 64-hex-character secret key, for servers that must share one.
pub fn random_secret_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The server flags that let it deliver to receivers on 127.0.0.1 and retry within a second.
pub const STREAMING_FLAGS: [&str; 3] = [
    "--stream-allow-private-networks",
    "--stream-retry-max-seconds",
    "1",
];

/// The `auditlog` binary with its own configuration directory and no `AUDITLOG_URL` from the
/// environment.
pub struct CliProcess {
    config_dir: tempfile::TempDir,
}

impl Default for CliProcess {
    fn default() -> CliProcess {
        CliProcess::new()
    }
}

impl CliProcess {
    pub fn new() -> CliProcess {
        CliProcess {
            config_dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(binary("auditlog"))
            .args(args)
            .env("AUDITLOG_CONFIG_DIR", self.config_dir.path())
            .env_remove("AUDITLOG_URL")
            .output()
            .expect("auditlog runs")
    }

    /// Runs a command that must succeed and returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "`auditlog {}` failed with {}:\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs a command that must exit with `code`; returns its standard output and error.
    pub fn exits_with(&self, code: i32, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "`auditlog {}` should have failed with exit code {code}:\nstdout: {}\nstderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}
