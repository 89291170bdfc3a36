//! Test support. Every test gets its own database on the real PostgreSQL and, when it needs
//! one, its own nats-server process; nothing here fakes a dependency. A missing PostgreSQL or
//! nats-server makes the test fail loudly, never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::process::{Child, Command};

pub mod directory;
pub mod objects;
pub mod postgres;
pub mod smtp;

pub mod time {
    //! When tests happen. Every test's clock starts at [`start`] unless the test sets its
    //! own: the day the test suite runs on never changes what a test sees. Services read
    //! time only through the injected clock, so a run under libfaketime (`scripts/test`
    //! does three) passes the same.

    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use waymark_runtime::RunningClock;

    /// Tuesday 17 November 2026, 10:00 in London (UTC in winter): a working day in the
    /// autumn term of 2026-27, outside anyone's quiet hours.
    pub fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 17, 10, 0, 0)
            .single()
            .expect("a valid moment")
    }

    /// The date at [`start`] where the schools are. A test never runs for the fourteen
    /// hours it would take to reach the next day.
    pub fn today() -> NaiveDate {
        start().date_naive()
    }

    /// A clock that starts at [`start`] and runs at the real pace from there.
    pub fn clock() -> RunningClock {
        RunningClock::starting_at(start())
    }
}

/// The server tests create their databases on. Override with `WAYMARK_TEST_DATABASE_URL`.
pub fn server_url() -> String {
    std::env::var("WAYMARK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, named `waymark_test_<uuid>`.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates an empty database. Panics with a clear message when PostgreSQL is unreachable.
    pub async fn create() -> Self {
        Self::create_on(&server_url()).await
    }

    /// Creates an empty database on the server at `server` (a superuser's url).
    pub async fn create_on(server: &str) -> Self {
        let name = format!("waymark_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(server)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is required for this test and is not reachable at {server}: {error}"
                )
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let options: PgConnectOptions = server.parse().expect("database url");
        let options = options.database(&name);
        let url = options.to_url_lossy().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect_with(options)
            .await
            .expect("connect to test database");
        Self { name, url, pool }
    }

    /// A second, independent pool on the same database (a "restarted" process).
    pub async fn new_pool(&self, max_connections: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

/// Polls `condition` until it holds, failing the test after `timeout`. For waiting on
/// asynchronous effects without guessing a sleep.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A free TCP port on 127.0.0.1, found by binding port 0.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

/// A private nats-server with JetStream, on its own port and store directory, that a test can
/// stop and start again (the store survives restarts).
pub struct NatsServer {
    pub port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
    /// A configuration file, and the environment it reads.
    config: Option<(PathBuf, Vec<(String, String)>)>,
}

impl NatsServer {
    pub async fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir for JetStream"), None).await
    }

    /// Starts one that also reads the configuration file `include` (an absolute path) and
    /// the lines `extra`, with `env` for the variables they read.
    pub async fn start_including(include: &Path, extra: &str, env: &[(&str, &str)]) -> Self {
        let store = tempfile::tempdir().expect("temp dir for JetStream");
        // nats-server takes include paths relative to the including file only.
        let up = "../".repeat(store.path().components().count().saturating_sub(1));
        let relative = include.to_string_lossy().trim_start_matches('/').to_owned();
        let file = store.path().join("server.conf");
        std::fs::write(&file, format!("include \"{up}{relative}\"\n{extra}\n"))
            .expect("write the nats-server configuration");
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::start_in(store, Some((file, env))).await
    }

    async fn start_in(
        store: tempfile::TempDir,
        config: Option<(PathBuf, Vec<(String, String)>)>,
    ) -> Self {
        let mut server = Self {
            port: free_port(),
            store,
            child: None,
            config,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn binary() -> PathBuf {
        std::env::var_os("WAYMARK_NATS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
    }

    /// Starts (or starts again) the server and waits until it accepts connections.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let binary = Self::binary();
        let mut command = Command::new(&binary);
        if let Some((file, env)) = &self.config {
            command
                .arg("-c")
                .arg(file)
                .envs(env.iter().map(|(k, v)| (k, v)));
        }
        let child = command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "nats-server is required for this test ({}): {error}",
                    binary.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the server abruptly (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill nats-server");
        }
    }
}

pub mod services;
