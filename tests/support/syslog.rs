//! A syslog collector for tests: a TCP listener on 127.0.0.1 that reads RFC 6587 octet-counted
//! frames and keeps each RFC 5424 message it received.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// One received syslog message, split into its RFC 5424 parts.
#[derive(Clone, Debug)]
pub struct SyslogMessage {
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`, as received.
    pub line: String,
    pub priority: u8,
    pub msgid: String,
    /// The structured data element (`[auditlog@32473 …]`).
    pub structured_data: String,
    /// The message: the JSON a webhook would receive.
    pub json: Value,
}

/// A running collector; it stops with the test's runtime.
#[derive(Clone)]
pub struct SyslogCollector {
    /// `syslog://127.0.0.1:<port>`.
    pub url: String,
    messages: Arc<Mutex<Vec<SyslogMessage>>>,
    /// Frames that were not octet-counted RFC 5424 messages.
    malformed: Arc<Mutex<Vec<String>>>,
}

impl SyslogCollector {
    pub async fn start() -> SyslogCollector {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("syslog://{}", listener.local_addr().unwrap());
        let messages = Arc::new(Mutex::new(Vec::new()));
        let malformed = Arc::new(Mutex::new(Vec::new()));
        let (kept, bad) = (messages.clone(), malformed.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    continue;
                };
                let (kept, bad) = (kept.clone(), bad.clone());
                tokio::spawn(async move {
                    let mut bytes = vec![0; 4_096];
                    let Ok(first) = socket.read(&mut bytes).await else {
                        return;
                    };
                    bytes.truncate(first);
                    // A TLS ClientHello (a handshake record) is not answered: the connection
                    // closes at once, as a plain-TCP collector's would.
                    if bytes.first() == Some(&0x16) {
                        bad.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&bytes).into_owned());
                        return;
                    }
                    if first > 0 && socket.read_to_end(&mut bytes).await.is_err() {
                        return;
                    }
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        match read_frame(rest) {
                            Some((message, after)) => {
                                kept.lock().unwrap().push(message);
                                rest = after;
                            }
                            None => {
                                bad.lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(rest).into_owned());
                                break;
                            }
                        }
                    }
                });
            }
        });
        SyslogCollector {
            url,
            messages,
            malformed,
        }
    }

    pub fn messages(&self) -> Vec<SyslogMessage> {
        self.messages.lock().unwrap().clone()
    }

    pub fn malformed(&self) -> Vec<String> {
        self.malformed.lock().unwrap().clone()
    }
}

/// Reads one `LENGTH SP MESSAGE` frame.
fn read_frame(bytes: &[u8]) -> Option<(SyslogMessage, &[u8])> {
    let space = bytes.iter().position(|b| *b == b' ')?;
    let length: usize = std::str::from_utf8(&bytes[..space]).ok()?.parse().ok()?;
    let body = bytes.get(space + 1..space + 1 + length)?;
    let line = std::str::from_utf8(body).ok()?.to_string();
    let priority = line.strip_prefix('<')?.split_once('>')?.0.parse().ok()?;
    // <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG
    let mut fields = line.splitn(7, ' ');
    let version = fields.next()?;
    if !version.ends_with(">1") {
        return None;
    }
    let (_time, _host, _app, _procid) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let msgid = fields.next()?.to_string();
    let rest = fields.next()?;
    let end = rest.find("] ")?;
    let structured_data = rest[..=end].to_string();
    let json = serde_json::from_str(&rest[end + 2..]).ok()?;
    Some((
        SyslogMessage {
            line: line.clone(),
            priority,
            msgid,
            structured_data,
            json,
        },
        &bytes[space + 1 + length..],
    ))
}
