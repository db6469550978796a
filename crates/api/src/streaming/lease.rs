//! What destinations and alerts share as background work: a lease (one server works on a row at
//! a time) and failure bookkeeping (the error, its time, and the next attempt after a backoff).
//!
//! Both tables carry the same columns (`paused`, `lease_owner`, `lease_until`,
//! `consecutive_failures`, `last_error`, `last_error_at`, `next_attempt_at`); the macros below
//! are written once for any such table.

use std::time::Duration;

/// How long a lease lasts without renewal (a crashed server's work waits this long).
pub const LEASE: Duration = Duration::from_secs(15);

pub fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Whether `owner` holds a lease with more than half of it left: such a lease is not written
/// again (every recorded attempt renews it).
pub fn held_for_a_while(
    lease_owner: Option<&str>,
    lease_until: Option<i64>,
    owner: &str,
    now: i64,
) -> bool {
    lease_owner == Some(owner) && lease_until.is_some_and(|until| until > now + micros(LEASE / 2))
}

/// Takes or renews the lease of row `$id` of `$table` for `$owner` at `$now` (microseconds),
/// unless the row is paused or another server's lease is still running. Evaluates to
/// `QueryResult<bool>`: whether this server holds it now.
macro_rules! take_lease {
    ($conn:expr, $table:ident, $id:expr, $owner:expr, $now:expr) => {{
        use crate::db::schema::$table::dsl;
        diesel::update(
            dsl::$table
                .filter(dsl::id.eq($id))
                .filter(dsl::paused.eq(false))
                .filter(
                    dsl::lease_owner
                        .is_null()
                        .or(dsl::lease_owner.eq($owner))
                        .or(dsl::lease_until.lt($now)),
                ),
        )
        .set((
            dsl::lease_owner.eq($owner),
            dsl::lease_until
                .eq($now + crate::streaming::lease::micros(crate::streaming::lease::LEASE)),
        ))
        .execute($conn)
        .map(|taken| taken > 0)
    }};
}
pub(crate) use take_lease;

/// Records a failed attempt on row `$id` of `$table`, if `$owner` still holds its lease: the
/// error (one line, at most 1,000 characters), its time, and the next attempt after
/// [`backoff`]. Evaluates to `QueryResult<()>`.
macro_rules! record_failure {
    ($conn:expr, $table:ident, $id:expr, $owner:expr, $now:expr, $error:expr, $retry_max:expr) => {{
        use crate::db::schema::$table::dsl;
        let mine = dsl::$table
            .filter(dsl::id.eq($id))
            .filter(dsl::lease_owner.eq($owner));
        let failures: Option<i32> = mine
            .select(dsl::consecutive_failures)
            .first($conn)
            .optional()?;
        match failures {
            None => Ok(()),
            Some(failures) => {
                let failures = failures.saturating_add(1);
                let pause = crate::streaming::lease::backoff(failures, $retry_max);
                let error: String = $error.chars().take(1_000).collect();
                diesel::update(mine)
                    .set((
                        dsl::consecutive_failures.eq(failures),
                        dsl::last_error.eq(Some(error)),
                        dsl::last_error_at.eq(Some($now)),
                        dsl::next_attempt_at
                            .eq(Some($now + crate::streaming::lease::micros(pause))),
                        dsl::lease_until
                            .eq($now
                                + crate::streaming::lease::micros(crate::streaming::lease::LEASE)),
                    ))
                    .execute($conn)
                    .map(|_| ())
            }
        }
    }};
}
pub(crate) use record_failure;

/// The pause after the `failures`-th failure in a row: 1 s, 2 s, 4 s … up to `max`, each
/// scaled by a random factor in [0.5, 1) so that many failing destinations do not retry in step.
pub fn backoff(failures: i32, max: Duration) -> Duration {
    let doubling = 2f64.powi((failures - 1).clamp(0, 30));
    let capped = doubling.min(max.as_secs_f64());
    Duration::from_secs_f64(capped * (0.5 + rand::random::<f64>() / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_maximum_with_jitter() {
        let max = Duration::from_secs(300);
        for (failures, full) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (9, 256.0),
            (10, 300.0),
            (40, 300.0),
        ] {
            let pause = backoff(failures, max).as_secs_f64();
            assert!(pause >= full / 2.0 && pause < full, "{failures}: {pause}");
        }
    }

    #[test]
    fn a_lease_with_little_time_left_is_renewed() {
        let second = 1_000_000;
        assert!(held_for_a_while(
            Some("a"),
            Some(20 * second),
            "a",
            10 * second
        ));
        assert!(!held_for_a_while(
            Some("a"),
            Some(15 * second),
            "a",
            10 * second
        ));
        assert!(!held_for_a_while(
            Some("b"),
            Some(20 * second),
            "a",
            10 * second
        ));
        assert!(!held_for_a_while(None, None, "a", 10 * second));
    }
}
