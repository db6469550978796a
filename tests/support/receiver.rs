//! A stream destination for tests: an HTTP receiver on 127.0.0.1 that records what it is sent,
//! answers webhook verifications, and can be made to fail or to refuse connections.
//!
//! It speaks just enough HTTP/1.1 for one request per connection (it answers
//! `Connection: close`), which is all a delivery needs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200, echoing a verification's challenge.
    Accept,
    /// Like `Accept`, after waiting this many milliseconds (a slow receiver).
    AcceptAfter(u64),
    /// This status, recording nothing.
    Fail(u16),
    /// Closes every connection unanswered (as if the receiver were down).
    Refuse,
}

/// One request the receiver accepted.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the whole request had arrived.
    pub received_at: std::time::Instant,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body's lines as JSON.
    pub fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.body)
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }
}

struct State {
    mode: Mode,
    accepted: Vec<Delivery>,
    attempts: usize,
    /// Lines of accepted bodies, counted as they arrive (cheap to poll).
    lines: usize,
}

/// A running receiver; it stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Accept,
            accepted: Vec::new(),
            attempts: 0,
            lines: 0,
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = answer(socket, &state).await;
                });
            }
        });
        Receiver { url, state }
    }

    /// A receiver that accepts everything for the life of the test process, on a thread of its
    /// own (so that it outlives any one test's runtime).
    pub fn shared() -> &'static Receiver {
        static SHARED: std::sync::OnceLock<Receiver> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async move {
                    sender
                        .send(Receiver::start().await)
                        .expect("the receiver is handed over");
                    std::future::pending::<()>().await
                });
            });
            receiver.recv().expect("the shared receiver starts")
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Every request accepted so far, verifications included.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// NDJSON lines accepted so far (every message, verifications and tests included), and when
    /// the last request was accepted.
    pub fn accepted_lines(&self) -> (usize, Option<std::time::Instant>) {
        let state = self.state.lock().unwrap();
        (state.lines, state.accepted.last().map(|d| d.received_at))
    }

    /// Requests received in any mode (connections refused in `Refuse` mode included).
    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }

    /// Every accepted message of type `auditlog.entry`, in the order received.
    pub fn entries(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .flat_map(Delivery::lines)
            .filter(|line| line["type"] == "auditlog.entry")
            .collect()
    }

    /// Every accepted message of type `auditlog.alert`, in the order received.
    pub fn alerts(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .flat_map(Delivery::lines)
            .filter(|line| line["type"] == "auditlog.alert")
            .collect()
    }

    /// Waits until `done` holds for the accepted entries, or panics after `patience`.
    pub async fn wait_for_entries(
        &self,
        patience: Duration,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let entries = self.entries();
            if done(&entries) {
                return entries;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the receiver did not get {what} within {patience:?}; it has {} entries",
                    entries.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn answer(mut socket: tokio::net::TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mode = {
        let mut state = state.lock().unwrap();
        state.attempts += 1;
        state.mode
    };
    if mode == Mode::Refuse {
        return Ok(());
    }
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        let read = socket.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let read = socket.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = buffer[header_end..].to_vec();
    if let Mode::AcceptAfter(millis) = mode {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    let (status, reply) = match mode {
        Mode::Fail(status) => (status, "failing on purpose".to_string()),
        _ => {
            let delivery = Delivery {
                path,
                headers,
                received_at: std::time::Instant::now(),
                body,
            };
            let challenge = delivery
                .lines()
                .iter()
                .find(|line| line["type"] == "auditlog.verification")
                .and_then(|line| line["challenge"].as_str().map(str::to_string));
            {
                let mut state = state.lock().unwrap();
                state.lines += delivery.body.iter().filter(|b| **b == b'\n').count();
                state.accepted.push(delivery);
            }
            (
                200,
                match challenge {
                    Some(challenge) => serde_json::json!({ "challenge": challenge }).to_string(),
                    None => "{\"text\":\"Success\",\"code\":0}".to_string(),
                },
            )
        }
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}
