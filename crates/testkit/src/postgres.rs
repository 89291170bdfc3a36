//! A PostgreSQL server of a test's own: `initdb` into a temporary directory, started on a
//! free port with `pg_ctl`, so the test can crash and restart it without touching the shared
//! server other tests use. Needs the server binaries (`/usr/lib/postgresql/<version>/bin`);
//! when the tests run as root the cluster belongs to the `postgres` user, as PostgreSQL
//! refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::free_port;

pub struct PrivateCluster {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl PrivateCluster {
    /// Creates and starts the cluster; returns once it accepts connections.
    pub fn start() -> Self {
        let bin = server_binaries();
        let dir = tempfile::tempdir().expect("temp dir for the cluster");
        let data = dir.path().join("data");
        if as_root() {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()));
        }
        let cluster = Self {
            port: free_port(),
            bin,
            data,
            _dir: dir,
        };
        cluster.pg(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ],
        );
        cluster.pg_ctl(&["start", "-w"]);
        cluster
    }

    /// The superuser's url to the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as a crash would (`-m immediate`: no checkpoint, every session cut).
    pub fn crash(&self) {
        self.pg("pg_ctl", &["stop", "-m", "immediate", "-w", "-D"]);
    }

    /// Starts the server again; returns once it accepts connections (after crash recovery).
    pub fn start_again(&self) {
        self.pg_ctl(&["start", "-w"]);
    }

    /// `pg_ctl` starting the server on its port, logging next to the data directory.
    fn pg_ctl(&self, args: &[&str]) {
        let log = self.data.with_file_name("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            self.port
        );
        let log = log.display().to_string();
        let all: Vec<&str> = args
            .iter()
            .copied()
            .chain(["-l", &log, "-o", &options, "-D"])
            .collect();
        self.pg("pg_ctl", &all);
    }

    /// Runs a server program with `args`, then the data directory.
    fn pg(&self, program: &str, args: &[&str]) {
        let mut command = self.program(program);
        command.args(args).arg(&self.data);
        run(&mut command);
    }

    /// A server program, run as `postgres` when the tests run as root.
    fn program(&self, program: &str) -> Command {
        let binary = self.bin.join(program);
        if as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(binary);
            command
        } else {
            Command::new(binary)
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self
            .program("pg_ctl")
            .env_remove("LD_PRELOAD")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .output();
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// Runs `command` on the real clock: PostgreSQL is the test's surroundings, not the code under
/// test, so a run under libfaketime (`scripts/test`) leaves it out.
fn run(command: &mut Command) {
    let out = command
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The newest `/usr/lib/postgresql/<version>/bin`, or `WAYMARK_PG_BIN`.
fn server_binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("WAYMARK_PG_BIN") {
        return PathBuf::from(dir);
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|error| {
            panic!(
                "PostgreSQL's server programs are needed in {}: {error}",
                root.display()
            )
        })
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| panic!("no initdb under {}", root.display()))
}
