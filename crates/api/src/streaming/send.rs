//! One delivery: the messages in a destination's format, signed or authenticated, sent once.
//!
//! * Webhook: `POST` of NDJSON (`application/x-ndjson`), one [`StreamMessage`] per line, with
//!   `Auditlog-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
//!   signing secret>`, `Auditlog-Destination` and `Auditlog-Delivery` (a fresh id per attempt).
//! * Splunk HEC: `POST` of concatenated HEC events (`{"time", "source", "sourcetype",
//!   "event"}`), `Authorization: Splunk <token>`.
//! * Datadog: `POST` of a JSON array of logs (`{"ddsource", "service", "hostname", "ddtags",
//!   "message"}`, the message being the JSON a webhook receives), `DD-API-KEY: <key>`.
//! * Syslog: see `syslog.rs`.
//!
//! Any 2xx answer is a delivery; anything else (another status, a timeout, a refused address)
//! is a failure the caller retries.

use std::collections::BTreeMap;
use std::time::Instant;

use auditlog_shared::wire::{StreamKind, StreamMessage};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::streaming::Answer;

/// The header carrying a webhook delivery's signature.
pub const SIGNATURE_HEADER: &str = "Auditlog-Signature";
/// Characters of a failed answer's body kept in the destination's last error.
/// Bytes of an answer read at most: a receiver cannot make the server hold a large body.
const MAX_ANSWER_BYTES: usize = 4_096;

/// Where and how to send: what a delivery needs of a destination.
#[derive(Clone, Debug)]
pub struct Target {
    /// `None` for the handshake of a destination not yet created.
    pub destination_id: Option<i64>,
    pub kind: StreamKind,
    pub url: reqwest::Url,
    /// The webhook's signing secret, or Splunk's HEC token.
    pub secret: String,
    pub headers: BTreeMap<String, String>,
    /// Where a syslog delivery may connect (HTTP deliveries keep to it through the client).
    pub policy: crate::streaming::network::NetworkPolicy,
}

/// The signature header's value for `body` sent at `unix_seconds`.
pub fn signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The request body of `messages` in the target's format.
pub fn body(kind: StreamKind, messages: &[StreamMessage]) -> Vec<u8> {
    if kind == StreamKind::Datadog {
        let logs: Vec<serde_json::Value> = messages.iter().map(datadog_log).collect();
        return serde_json::to_vec(&logs).expect("logs serialize");
    }
    let mut body = Vec::with_capacity(messages.len() * 700);
    for message in messages {
        match kind {
            // Syslog frames each of these lines itself (`syslog::frame`).
            StreamKind::Webhook | StreamKind::Syslog | StreamKind::Datadog => {
                serde_json::to_writer(&mut body, message).expect("messages serialize");
            }
            StreamKind::SplunkHec => {
                let time = match message {
                    StreamMessage::Entry { entry, .. } => entry.timestamp,
                    StreamMessage::Test { sent_at, .. } => *sent_at,
                    StreamMessage::Verification { .. } => chrono::Utc::now(),
                    StreamMessage::Alert(alert) => alert.firing.fired_at,
                };
                let event = serde_json::json!({
                    "time": time.timestamp_micros() as f64 / 1_000_000.0,
                    "source": "auditlog",
                    "sourcetype": match message {
                        StreamMessage::Alert(_) => "auditlog:alert",
                        _ => "auditlog:entry",
                    },
                    "event": message,
                });
                serde_json::to_writer(&mut body, &event).expect("events serialize");
            }
        }
        body.push(b'\n');
    }
    body
}

/// One Datadog log: the message as JSON text (Datadog reads its fields as attributes), tagged
/// with its type and project.
fn datadog_log(message: &StreamMessage) -> serde_json::Value {
    let (kind, project_id) = match message {
        StreamMessage::Entry { project_id, .. } => ("auditlog.entry", Some(*project_id)),
        StreamMessage::Test { project_id, .. } => ("auditlog.test", Some(*project_id)),
        StreamMessage::Alert(alert) => ("auditlog.alert", Some(alert.project_id)),
        StreamMessage::Verification { .. } => ("auditlog.verification", None),
    };
    let mut tags = format!("event_type:{kind}");
    if let Some(project_id) = project_id {
        tags.push_str(&format!(",project_id:{project_id}"));
    }
    serde_json::json!({
        "ddsource": "auditlog",
        "service": "auditlog",
        "hostname": "auditlog",
        "ddtags": tags,
        "message": serde_json::to_string(message).expect("messages serialize"),
    })
}

/// Sends `messages` to the target once.
pub async fn send(
    client: &reqwest::Client,
    target: &Target,
    messages: &[StreamMessage],
    now: chrono::DateTime<chrono::Utc>,
) -> Answer {
    if target.kind == StreamKind::Syslog {
        return crate::streaming::syslog::send(target.policy, &target.url, messages, now).await;
    }
    let body = body(target.kind, messages);
    let mut request = client.post(target.url.clone());
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    request = match target.kind {
        StreamKind::Webhook => {
            if let Some(id) = target.destination_id {
                request = request.header("Auditlog-Destination", id.to_string());
            }
            request
                .header("Content-Type", "application/x-ndjson")
                .header(
                    SIGNATURE_HEADER,
                    signature(&target.secret, now.timestamp(), &body),
                )
                .header("Auditlog-Delivery", uuid::Uuid::new_v4().to_string())
        }
        StreamKind::SplunkHec => request
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Splunk {}", target.secret)),
        StreamKind::Datadog => request
            .header("Content-Type", "application/json")
            .header("DD-API-KEY", &target.secret),
        StreamKind::Syslog => unreachable!("syslog is sent above"),
    };
    let started = Instant::now();
    let outcome = request.body(body).send().await;
    let (status, body) = match outcome {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut bytes = Vec::new();
            while bytes.len() < MAX_ANSWER_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            bytes.truncate(MAX_ANSWER_BYTES);
            (Some(status), String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(error) => (None, describe(&error)),
    };
    Answer {
        accepted: status.is_some_and(|status| (200..300).contains(&status)),
        status,
        body,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// A transport error with its causes ("error sending request: … connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "the destination did not answer in time".to_string()
    } else {
        "the destination could not be reached".to_string()
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_the_documented_hmac() {
        // The recipe in the README: HMAC-SHA256 of "<t>.<body>", hex.
        let value = signature("whsec_test", 1_700_000_000, b"{\"a\":1}\n");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").unwrap();
        mac.update(b"1700000000.{\"a\":1}\n");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(value, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn webhook_bodies_are_one_message_per_line() {
        let messages = vec![
            StreamMessage::Verification {
                challenge: "abc".into(),
            },
            StreamMessage::Verification {
                challenge: "def".into(),
            },
        ];
        let text = String::from_utf8(body(StreamKind::Webhook, &messages)).unwrap();
        assert_eq!(
            text,
            "{\"type\":\"auditlog.verification\",\"challenge\":\"abc\"}\n{\"type\":\"auditlog.verification\",\"challenge\":\"def\"}\n"
        );
    }

    #[test]
    fn failed_answers_say_what_came_back() {
        let answer = Answer {
            accepted: false,
            status: Some(503),
            body: "maintenance".into(),
            duration_ms: 1.0,
        };
        assert!(!answer.delivered());
        assert_eq!(
            answer.error().unwrap(),
            "the destination answered 503 Service Unavailable: maintenance"
        );
    }
}
