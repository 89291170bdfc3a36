//! A mail server for fault tests, speaking just enough SMTP for the delivery worker: it
//! takes `delay` to accept each message once its data has arrived, and can instead drop the
//! connection after the first message's data, without answering (the message is then in
//! its hands, though the sender cannot know). It keeps every message whose data arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Default)]
struct State {
    messages: Arc<Mutex<Vec<String>>>,
    /// Messages whose data has arrived and that are not answered yet.
    in_flight: Arc<Mutex<usize>>,
    dropped_one: Arc<Mutex<bool>>,
}

pub struct SlowSmtp {
    pub port: u16,
    state: State,
    task: tokio::task::JoinHandle<()>,
}

impl SlowSmtp {
    pub async fn start(delay: Duration, drop_the_first: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = State::default();
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(session(stream, state.clone(), delay, drop_the_first));
                }
            }
        });
        Self { port, state, task }
    }

    /// Every message received, in order of arrival.
    pub fn messages(&self) -> Vec<String> {
        self.state.messages.lock().unwrap().clone()
    }

    /// Messages received and not answered yet.
    pub fn in_flight(&self) -> usize {
        *self.state.in_flight.lock().unwrap()
    }
}

impl Drop for SlowSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The Message-ID header of a message.
pub fn message_id(message: &str) -> String {
    message
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("message-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

async fn session(stream: TcpStream, state: State, delay: Duration, drop_the_first: bool) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 slow.test ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 slow.test\r\n",
            "DATA" => {
                if write.write_all(b"354 go ahead\r\n").await.is_err() {
                    return;
                }
                let mut message = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    message.push_str(&line);
                    message.push('\n');
                }
                state.messages.lock().unwrap().push(message);
                let drop_now = drop_the_first && {
                    let mut dropped = state.dropped_one.lock().unwrap();
                    !std::mem::replace(&mut *dropped, true)
                };
                if drop_now {
                    return;
                }
                *state.in_flight.lock().unwrap() += 1;
                tokio::time::sleep(delay).await;
                *state.in_flight.lock().unwrap() -= 1;
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
