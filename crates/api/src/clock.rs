//! The server's notion of "now". Production reads the system clock; the demo seeder drives a
//! simulated clock so that a month of history can flow through the real request path in seconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// Microseconds since the epoch, set by whoever holds the other end.
    Simulated(Arc<AtomicI64>),
    /// The system clock moved by an offset in microseconds (tests use it to let time pass).
    Shifted(Arc<AtomicI64>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Simulated(micros) => {
                DateTime::from_timestamp_micros(micros.load(Ordering::SeqCst)).unwrap_or_default()
            }
            Clock::Shifted(offset) => {
                Utc::now() + chrono::Duration::microseconds(offset.load(Ordering::SeqCst))
            }
        }
    }

    pub fn now_micros(&self) -> i64 {
        self.now().timestamp_micros()
    }
}

/// Microseconds since the epoch to an instant (storage to wire).
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
