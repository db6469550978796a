//! Streaming the audit log to SIEMs: every entry of a project that passes a destination's filter
//! is pushed to it (a webhook, Splunk's HTTP Event Collector, syslog over TLS) at least once, in
//! chain order.
//!
//! How it works:
//! * A destination keeps a cursor: the chain position through which every entry was examined
//!   and, when it passed the filter, delivered. Chain positions are gap-free and committed in
//!   order per project (each commit holds the project's chain head), so "everything after the
//!   cursor" is exactly what is left to send, across restarts and crashes.
//! * [`Deliverer`] runs one task per active destination. A task takes the
//!   destination's lease (several servers on one PostgreSQL: one delivers, the others wait),
//!   reads the next entries after the cursor, keeps those its filter matches (the same filter
//!   builder as every read of the audit log), sends them as one batch, and moves the cursor only
//!   once the destination answered 2xx. A crash between the answer and the cursor's move sends
//!   the batch again: receivers de-duplicate by `event_id`.
//! * A failure pauses the destination with exponential backoff and jitter and records the error;
//!   other destinations and capture go on. Commits wake the tasks at once; a periodic poll
//!   catches entries written by other servers.
//! * Alerts ([`alerts`]) count the entries that pass their filter against a condition ("any
//!   match", or "N matches within M minutes, per actor") with a cursor of their own, and send
//!   each firing to a destination.
//! * Deliveries are not requests: they record no audit entries. Creating, changing, testing and
//!   deleting a destination are requests, recorded like any other.

pub mod alerts;
pub mod cursor;
pub mod delivery;
pub mod destination;
pub mod lease;
pub mod network;
pub mod send;
pub mod syslog;

use std::time::Duration;

use crate::capture::writer::CommitSignal;
use crate::clock::Clock;
use crate::db::DbPool;
use network::NetworkPolicy;

/// What the routes and the deliverer share: the network policy, the HTTP client that keeps to
/// it, and how failures back off.
#[derive(Clone)]
pub struct Streaming {
    pub policy: NetworkPolicy,
    pub client: reqwest::Client,
    /// The longest pause between two attempts to a failing destination.
    pub retry_max: Duration,
    /// This server's name in leases: stable across restarts of one data directory, so a
    /// restarted server resumes its own deliveries at once.
    pub server_id: String,
    /// Fires after every committed batch of entries.
    pub committed: CommitSignal,
    /// `--public-url`, for the dashboard links in alert notifications.
    pub public_url: Option<String>,
}

impl Streaming {
    pub fn new(
        policy: NetworkPolicy,
        retry_max: Duration,
        server_id: String,
        committed: CommitSignal,
        public_url: Option<String>,
    ) -> Streaming {
        Streaming {
            policy,
            client: policy.client(),
            retry_max: retry_max.max(Duration::from_secs(1)),
            server_id,
            committed,
            public_url: public_url.map(|url| url.trim_end_matches('/').to_string()),
        }
    }
}

/// Runs the deliveries of every destination of the database.
#[derive(Clone)]
pub struct Deliverer {
    pub streaming: Streaming,
    pub pool: DbPool,
    pub clock: Clock,
}

/// The most characters of a destination's answer kept in an error.
const ERROR_BODY_CHARS: usize = 200;

/// How a destination answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// Whether the destination took the messages: a 2xx answer, or (syslog, which answers
    /// nothing) every byte written and the connection closed cleanly.
    pub accepted: bool,
    /// The HTTP status, when it answered at all.
    pub status: Option<u16>,
    /// The answer's body (its first characters), for the handshake and for error reports.
    pub body: String,
    pub duration_ms: f64,
}

impl Answer {
    pub fn delivered(&self) -> bool {
        self.accepted
    }

    /// What went wrong, for the destination's last error; `None` for a delivery.
    pub fn error(&self) -> Option<String> {
        if self.accepted {
            return None;
        }
        match self.status {
            Some(status) => {
                let reason = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|code| code.canonical_reason())
                    .unwrap_or("");
                // One line, and short: a receiver may answer with a whole HTML page.
                let body: String = self
                    .body
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(ERROR_BODY_CHARS)
                    .collect();
                Some(if body.is_empty() {
                    format!("the destination answered {status} {reason}")
                } else {
                    format!("the destination answered {status} {reason}: {body}")
                })
            }
            None => Some(self.body.clone()),
        }
    }
}
