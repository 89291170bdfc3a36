//! A real SMTP server for tests (mailin-embedded), keeping every message it receives.

use std::io;
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Server, response};

/// An SMTP server that keeps every message it receives. It can be started late, on a port
/// chosen early: until then the port refuses connections, as a mail server that is down.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub messages: Arc<Mutex<Vec<String>>>,
    current: Vec<u8>,
}

impl Handler for SmtpSink {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> mailin_embedded::Response {
        self.current.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = String::from_utf8_lossy(&self.current).replace("=\r\n", "");
        self.messages.lock().expect("SMTP sink").push(message);
        response::OK
    }
}

impl SmtpSink {
    /// Listens on `port` (chosen early with [`crate::free_port`]).
    pub fn start(port: u16) -> Self {
        let sink = Self::default();
        let mut server = Server::new(sink.clone());
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("SMTP sink");
        server.with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        sink
    }

    pub fn count(&self) -> usize {
        self.messages.lock().expect("SMTP sink").len()
    }

    pub fn all(&self) -> Vec<String> {
        self.messages.lock().expect("SMTP sink").clone()
    }
}

/// The addresses in a message that point at `base` (its links), in order, without repeats.
pub fn links_to(message: &str, base: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = message;
    while let Some(at) = rest.find(base) {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>'))
            .unwrap_or(tail.len());
        let link = tail[..end].to_owned();
        if !found.contains(&link) {
            found.push(link);
        }
        rest = &tail[end..];
    }
    found
}
