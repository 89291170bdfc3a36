//! A real S3-compatible server for tests: `moto_server` (moto in server mode, from PyPI,
//! installed by `scripts/test`), on its own port, with a bucket made for the test. Set
//! `WAYMARK_MOTO_SERVER` to its path; a missing server fails the test, never skips it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::free_port;

pub struct S3Server {
    pub port: u16,
    _child: Child,
}

impl S3Server {
    pub async fn start() -> Self {
        let binary = std::env::var_os("WAYMARK_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default())
                    .join(".cache/waymark/tools/moto/bin/moto_server")
            });
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "moto_server is required for this test ({}; scripts/test installs it): {error}",
                    binary.display()
                )
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            port,
            _child: child,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Makes a bucket (moto takes unsigned requests).
    pub async fn bucket(&self, name: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to moto_server");
        let request = format!(
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.expect("reply");
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "moto_server did not make bucket {name}: {reply}"
        );
    }

    /// The configuration of a section (e.g. `audit.anchors`) that stores in `bucket/prefix`.
    pub fn config(&self, section: &str, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        vec![
            (format!("{section}.url"), format!("s3://{bucket}/{prefix}")),
            (format!("{section}.endpoint"), self.endpoint()),
            (format!("{section}.access_key_id"), "test".to_owned()),
            (format!("{section}.secret_access_key"), "test".to_owned()),
        ]
    }
}
