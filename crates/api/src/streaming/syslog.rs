//! Syslog destinations: RFC 5424 messages over TCP, framed by octet counting (RFC 6587), with
//! TLS (RFC 5425, `syslog+tls://host:6514`) or, only where private networks are allowed, plain
//! (`syslog://host:514`).
//!
//! Each message is `<PRI>1 TIMESTAMP HOST auditlog - MSGID [auditlog@32473 event_id="…"
//! project_id="…"] JSON`: facility 13 (log audit), severity informational for entries and tests,
//! warning for alerts; `MSGID` is `entry`, `alert` or `test`; the message is the same JSON a
//! webhook receives. (32473 is the enterprise number RFC 5612 reserves for examples.)
//!
//! TCP syslog has no acknowledgement: a batch counts as delivered once every byte was written
//! and the connection closed cleanly. A receiver that needs a receipt per batch uses a webhook.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use auditlog_shared::wire::StreamMessage;
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::streaming::network::NetworkPolicy;
use crate::streaming::Answer;

/// The port when a `syslog://` URL names none.
pub const PLAIN_PORT: u16 = 514;
/// The port when a `syslog+tls://` URL names none.
pub const TLS_PORT: u16 = 6514;
/// Facility 13, "log audit".
const FACILITY: u8 = 13;
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_INFORMATIONAL: u8 = 6;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the connection is watched after writing: a syslog collector says nothing, so an
/// answer (an HTTPS server's `400 Bad Request`) or a reset means the bytes were not taken.
const LISTEN_AFTER_WRITE: Duration = Duration::from_millis(200);

/// Checks a syslog URL: `syslog+tls://` (or `syslog://` where private networks are allowed), a
/// host, an optional port, nothing else. Returns it with the port spelled out.
pub fn check_url(policy: NetworkPolicy, text: &str) -> Result<reqwest::Url, String> {
    let text = text.trim();
    if text.chars().count() > crate::streaming::network::MAX_URL_CHARS {
        return Err("the URL is too long".into());
    }
    let mut url = reqwest::Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
    let default_port = match url.scheme() {
        "syslog+tls" => TLS_PORT,
        "syslog" if policy.allow_private => PLAIN_PORT,
        "syslog" => {
            return Err("syslog goes over TLS (`syslog+tls://host:6514`): plain `syslog://` is allowed only to private networks the server is started to allow (--stream-allow-private-networks)".into())
        }
        other => {
            return Err(format!(
                "`{other}` is not a syslog URL: use syslog+tls://host:6514"
            ))
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a syslog URL holds no credentials".into());
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err("a syslog URL is only `syslog+tls://host:port`".into());
    }
    let host = host_of(&url).ok_or("the URL has no host")?;
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        policy.check_address(ip)?;
    } else if !policy.allow_private && (host == "localhost" || host.ends_with(".localhost")) {
        return Err(
            "`localhost` is not a public address: the server delivers to private networks only when started with --stream-allow-private-networks"
                .into(),
        );
    }
    if url.port().is_none() {
        url.set_port(Some(default_port))
            .map_err(|()| "the URL cannot take a port".to_string())?;
    }
    url.set_path("");
    Ok(url)
}

/// The host of a syslog URL, without IPv6 brackets, lowercase.
fn host_of(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    (!host.is_empty()).then_some(host)
}

/// One message as an RFC 5424 line, framed with its length (RFC 6587 octet counting).
pub fn frame(message: &StreamMessage, hostname: &str, now: DateTime<Utc>) -> Vec<u8> {
    let (msgid, severity, event_id, project_id, time) = match message {
        StreamMessage::Entry {
            event_id,
            project_id,
            entry,
        } => (
            "entry",
            SEVERITY_INFORMATIONAL,
            event_id.as_str(),
            Some(*project_id),
            entry.timestamp,
        ),
        StreamMessage::Test {
            event_id,
            project_id,
            sent_at,
        } => (
            "test",
            SEVERITY_INFORMATIONAL,
            event_id.as_str(),
            Some(*project_id),
            *sent_at,
        ),
        StreamMessage::Alert(alert) if !alert.entries.is_empty() => {
            // Collectors cut long messages (rsyslog at 8 KB): an alert names its entries by id
            // and links to them instead of carrying them.
            let mut short = alert.clone();
            short.entries.clear();
            return frame(&StreamMessage::Alert(short), hostname, now);
        }
        StreamMessage::Alert(alert) => (
            "alert",
            SEVERITY_WARNING,
            alert.event_id.as_str(),
            Some(alert.project_id),
            alert.firing.fired_at,
        ),
        StreamMessage::Verification { .. } => {
            ("verification", SEVERITY_INFORMATIONAL, "", None, now)
        }
    };
    let mut data = String::from("[auditlog@32473");
    if !event_id.is_empty() {
        data.push_str(&format!(" event_id=\"{}\"", escape_param(event_id)));
    }
    if let Some(project_id) = project_id {
        data.push_str(&format!(" project_id=\"{project_id}\""));
    }
    data.push(']');
    let line = format!(
        "<{}>1 {} {} auditlog - {msgid} {data} {}",
        FACILITY * 8 + severity,
        time.to_rfc3339_opts(SecondsFormat::Micros, true),
        hostname,
        serde_json::to_string(message).expect("messages serialize"),
    );
    let mut framed = format!("{} ", line.len()).into_bytes();
    framed.extend_from_slice(line.as_bytes());
    framed
}

/// Escapes a structured-data parameter value (RFC 5424: `"`, `\` and `]`).
fn escape_param(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Sends `messages` over one connection: resolved under the policy, TLS verified against the
/// system's roots for `syslog+tls`.
pub async fn send(
    policy: NetworkPolicy,
    url: &reqwest::Url,
    messages: &[StreamMessage],
    now: DateTime<Utc>,
) -> Answer {
    let started = Instant::now();
    let outcome = tokio::time::timeout(TOTAL_TIMEOUT, deliver(policy, url, messages, now)).await;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error),
        Err(_) => Some("the syslog destination did not take the messages in time".to_string()),
    };
    Answer {
        accepted: error.is_none(),
        status: None,
        body: error.unwrap_or_default(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

async fn deliver(
    policy: NetworkPolicy,
    url: &reqwest::Url,
    messages: &[StreamMessage],
    now: DateTime<Utc>,
) -> Result<(), String> {
    let host = host_of(url).ok_or("the URL has no host")?;
    let port = url.port().unwrap_or(TLS_PORT);
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|error| format!("`{host}` could not be resolved: {error}"))?
        .collect();
    let Some(address) = found
        .iter()
        .copied()
        .find(|address| policy.check_address(address.ip()).is_ok())
    else {
        return Err(match found.first() {
            None => format!("`{host}` resolves to no address"),
            // The address is not named: an admin may not map the server's network by names.
            Some(_) => format!(
                "`{host}` is not a public address: the server delivers to private networks only when started with --stream-allow-private-networks"
            ),
        });
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| {
            "the syslog destination could not be reached: the connection timed out".to_string()
        })?
        .map_err(|error| format!("the syslog destination could not be reached: {error}"))?;
    let hostname = "auditlog";
    let mut body = Vec::with_capacity(messages.len() * 800);
    for message in messages {
        body.extend_from_slice(&frame(message, hostname, now));
    }
    if url.scheme() == "syslog+tls" {
        let connector = native_tls::TlsConnector::new()
            .map_err(|error| format!("TLS could not be set up: {error}"))?;
        let connector = tokio_native_tls::TlsConnector::from(connector);
        let stream = connector.connect(&host, stream).await.map_err(|error| {
            format!("the TLS handshake with the syslog destination failed: {error}")
        })?;
        write_all(stream, &body).await
    } else {
        write_all(stream, &body).await
    }
}

async fn write_all(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    body: &[u8],
) -> Result<(), String> {
    stream
        .write_all(body)
        .await
        .map_err(|error| format!("the syslog destination stopped reading: {error}"))?;
    stream
        .flush()
        .await
        .map_err(|error| format!("the syslog destination stopped reading: {error}"))?;
    let mut answer = [0_u8; 256];
    match tokio::time::timeout(LISTEN_AFTER_WRITE, stream.read(&mut answer)).await {
        // Silence, or a collector that closes once it has read everything.
        Err(_) | Ok(Ok(0)) => {}
        Ok(Ok(read)) => {
            let text: String = String::from_utf8_lossy(&answer[..read])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(100)
                .collect();
            return Err(format!(
                "the destination answered, which a syslog collector does not: {text}"
            ));
        }
        Ok(Err(error)) => {
            return Err(format!(
                "the syslog destination dropped the connection: {error}"
            ))
        }
    }
    stream
        .shutdown()
        .await
        .map_err(|error| format!("the syslog connection did not close cleanly: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_tls_unless_private_networks_are_allowed() {
        let strict = NetworkPolicy {
            allow_private: false,
        };
        let open = NetworkPolicy {
            allow_private: true,
        };
        assert_eq!(
            check_url(strict, "syslog+tls://logs.example.com")
                .unwrap()
                .as_str(),
            "syslog+tls://logs.example.com:6514"
        );
        assert!(check_url(strict, "syslog://logs.example.com")
            .unwrap_err()
            .contains("TLS"));
        assert!(check_url(strict, "syslog+tls://127.0.0.1:6514").is_err());
        assert!(check_url(strict, "syslog+tls://[::1]:6514").is_err());
        assert!(check_url(strict, "syslog+tls://10.1.2.3").is_err());
        assert!(check_url(strict, "syslog+tls://localhost").is_err());
        assert!(check_url(strict, "syslog+tls://user:pw@logs.example.com").is_err());
        assert!(check_url(strict, "syslog+tls://logs.example.com/path").is_err());
        assert!(check_url(strict, "https://logs.example.com").is_err());
        assert_eq!(
            check_url(open, "syslog://127.0.0.1").unwrap().as_str(),
            "syslog://127.0.0.1:514"
        );
    }

    #[test]
    fn frames_are_octet_counted_rfc_5424_lines() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let message = StreamMessage::Test {
            event_id: "7:test:a\"b]".into(),
            project_id: 7,
            sent_at: now,
        };
        let framed = String::from_utf8(frame(&message, "auditlog", now)).unwrap();
        let (length, line) = framed.split_once(' ').unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), line.len());
        assert!(
            line.starts_with(
                "<110>1 2026-12-07T10:00:00.000000Z auditlog auditlog - test [auditlog@32473 event_id=\"7:test:a\\\"b\\]\" project_id=\"7\"] {"
            ),
            "{line}"
        );
        let json = &line[line.find("] {").unwrap() + 2..];
        assert_eq!(
            serde_json::from_str::<StreamMessage>(json).unwrap(),
            message
        );
    }
}
