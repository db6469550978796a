//! The server-side validation of an [`AuditQuery`], done once before any SQL is built.
//!
//! The shared crate checks the shape of a query; this module checks what needs the server's view
//! of the world: the current time and the retention window.

use auditlog_shared::{AuditQuery, ResolvedRange, RETENTION_DAYS};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::ApiError;

/// A query that every endpoint can serve as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedQuery {
    pub query: AuditQuery,
    /// The half-open window `[from, to)` the query covers, within retention and not past `now`.
    pub window: ResolvedRange,
    /// Whether `window.from` was moved forward to the retention horizon.
    pub clamped_to_retention: bool,
}

impl ValidatedQuery {
    /// Parses and validates a raw query string in one step.
    pub fn from_query_string(raw: &str, now: DateTime<Utc>) -> Result<ValidatedQuery, ApiError> {
        ValidatedQuery::new(AuditQuery::parse(raw)?, now)
    }

    /// The same query over a narrower window `[from, to)` (microseconds).
    pub fn with_window(&self, from: i64, to: i64) -> ValidatedQuery {
        let mut narrowed = self.clone();
        narrowed.window.from = crate::clock::from_micros(from);
        narrowed.window.to = crate::clock::from_micros(to);
        narrowed
    }

    /// Pins the query's range to `now` and clamps it to the retention window.
    pub fn new(query: AuditQuery, now: DateTime<Utc>) -> Result<ValidatedQuery, ApiError> {
        let horizon = crate::db::retention_horizon(now);
        let mut window = query.range.resolve(now);
        if window.from >= now {
            return Err(ApiError::UnservableQuery {
                param: "from".into(),
                detail: format!(
                    "the range starts in the future ({})",
                    window.from.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            });
        }
        if window.to <= horizon {
            return Err(ApiError::UnservableQuery {
                param: "to".into(),
                detail: format!(
                    "the range ends before the retention horizon: audit entries are kept for {RETENTION_DAYS} days, so nothing before {} can be shown",
                    horizon.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            });
        }
        let clamped_to_retention = window.from < horizon;
        window.from = window.from.max(horizon);
        window.to = window.to.min(now);
        Ok(ValidatedQuery {
            query,
            window,
            clamped_to_retention,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn ranges_are_clamped_to_retention_and_to_now() {
        let query = ValidatedQuery::from_query_string(
            "from=2026-10-01T00:00:00Z&to=2027-01-01T00:00:00Z",
            now(),
        )
        .unwrap();
        assert!(query.clamped_to_retention);
        assert_eq!(query.window.from, crate::db::retention_horizon(now()));
        assert_eq!(query.window.to, now());
    }

    #[test]
    fn ranges_wholly_outside_what_is_kept_are_refused() {
        let past = ValidatedQuery::from_query_string("to=2026-10-01T00:00:00Z", now());
        assert!(matches!(past, Err(ApiError::UnservableQuery { param, .. }) if param == "to"));
        let future = ValidatedQuery::from_query_string("from=2027-01-01T00:00:00Z", now());
        assert!(matches!(future, Err(ApiError::UnservableQuery { param, .. }) if param == "from"));
    }

    #[test]
    fn presets_end_now() {
        let query = ValidatedQuery::from_query_string("range=24h", now()).unwrap();
        assert!(!query.clamped_to_retention);
        assert_eq!(
            query.window.to - query.window.from,
            chrono::Duration::hours(24)
        );
    }
}
