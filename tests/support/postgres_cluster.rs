//! PostgreSQL servers of a test's (or a benchmark's) own: a primary made with initdb and a
//! streaming standby made from it with `pg_basebackup -R`, in temporary directories, on
//! 127.0.0.1 ports of their own, as the `postgres` system user when running as root (PostgreSQL
//! refuses to run as root). `fsync` is off: these servers hold nothing that must survive.

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;
use diesel::PgConnection;

/// The newest installed PostgreSQL's programs (`/usr/lib/postgresql/<version>/bin`).
pub fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql")
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL with initdb")
}

pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A PostgreSQL program, run as the `postgres` user when the test runs as root (PostgreSQL
/// refuses to run as root).
pub fn postgres_command(program: &str) -> Command {
    let program = postgres_bin().join(program);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A directory the `postgres` user owns.
fn postgres_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if running_as_root() {
        run(
            {
                let mut command = Command::new("chown");
                command.arg("postgres:postgres").arg(dir.path());
                command
            },
            "chown",
        );
    }
    dir
}

/// A PostgreSQL server of its own, stopped (immediately) when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Cluster {
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A fresh primary, accepting replication from 127.0.0.1.
    pub fn primary() -> Cluster {
        let cluster = Cluster {
            dir: postgres_dir(),
            port: free_port(),
        };
        let mut initdb = postgres_command("initdb");
        initdb
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(cluster.data());
        run(initdb, "initdb");
        cluster.configure(&cluster.data().join("postgresql.conf"));
        cluster.start();
        cluster
    }

    /// A streaming standby of `primary` (`pg_basebackup -R`), started.
    pub fn standby_of(primary: &Cluster) -> Cluster {
        let cluster = Cluster {
            dir: postgres_dir(),
            port: free_port(),
        };
        let mut backup = postgres_command("pg_basebackup");
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                // A fast checkpoint on the primary: the default spreads it over minutes.
                "-c",
                "fast",
                "-p",
            ])
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(cluster.data());
        run(backup, "pg_basebackup");
        cluster.configure(&cluster.data().join("postgresql.auto.conf"));
        cluster.start();
        cluster
    }

    fn configure(&self, file: &Path) {
        let mut text = std::fs::read_to_string(file).unwrap();
        text.push_str(&format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nmax_wal_senders = 5\nwal_level = replica\nhot_standby = on\n",
            self.port,
            self.dir.path().display()
        ));
        std::fs::write(file, text).unwrap();
    }

    pub fn start(&self) {
        let mut start = postgres_command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"]);
        run(start, "pg_ctl start");
    }

    pub fn stop(&self) {
        let mut stop = postgres_command("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.output();
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn connect(&self, database: &str) -> PgConnection {
        PgConnection::establish(&self.url(database)).expect("a connection to the test cluster")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
