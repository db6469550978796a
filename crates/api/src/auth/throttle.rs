//! Sign-in throttling: failed attempts are counted per account (email) and per client address
//! over a sliding window; past a limit further attempts are refused (429 with `Retry-After`)
//! for a wait that doubles with every failure beyond it, up to a cap.
//!
//! Invariants:
//! * A refused attempt is answered before any password hashing, so throttled guessing costs the
//!   server nothing.
//! * A success clears its account's count (not its address's: one address guessing many
//!   accounts stays throttled).
//! * Memory stays bounded: counts idle for a whole window are forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// How long failures are remembered after the last one.
pub const WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;
/// Failures per account within the window before attempts are refused.
pub const ACCOUNT_LIMIT: u32 = 5;
/// Failures per client address within the window before attempts are refused.
pub const ADDRESS_LIMIT: u32 = 20;
/// The first wait once a limit is reached; each further failure doubles it.
const FIRST_WAIT_MICROS: i64 = 30 * 1_000_000;
/// The longest wait.
const MAX_WAIT_MICROS: i64 = WINDOW_MICROS;
/// Past this many remembered keys, idle ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last_at: i64,
}

impl Failures {
    /// Until when attempts are refused, if the count is past `limit`.
    fn locked_until(self, limit: u32) -> Option<i64> {
        (self.count >= limit).then(|| {
            let doublings = (self.count - limit).min(20);
            self.last_at + (FIRST_WAIT_MICROS << doublings).min(MAX_WAIT_MICROS)
        })
    }
}

#[derive(Default)]
pub struct SignInThrottle {
    accounts: Mutex<HashMap<String, Failures>>,
    addresses: Mutex<HashMap<IpAddr, Failures>>,
}

/// A refused attempt: how many seconds to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
}

impl SignInThrottle {
    /// Whether an attempt for `email` from `address` may go ahead at `now`.
    pub fn check(&self, email: &str, address: Option<IpAddr>, now: i64) -> Result<(), Throttled> {
        let account =
            lookup(&self.accounts, email, now).and_then(|f| f.locked_until(ACCOUNT_LIMIT));
        let by_address = address
            .and_then(|address| lookup(&self.addresses, &address, now))
            .and_then(|f| f.locked_until(ADDRESS_LIMIT));
        match account.into_iter().chain(by_address).max() {
            Some(until) if until > now => Err({
                crate::metrics::metrics().sign_in_throttled.inc();
                Throttled {
                    retry_after_secs: u64::try_from(until - now)
                        .map_or(1, |micros| micros.div_ceil(1_000_000)),
                }
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt; returns the account's failures within the window, this one
    /// included.
    pub fn record_failure(&self, email: &str, address: Option<IpAddr>, now: i64) -> u32 {
        crate::metrics::metrics().sign_in_failures.inc();
        if let Some(address) = address {
            bump(&self.addresses, address, now);
        }
        bump(&self.accounts, email.to_string(), now)
    }

    /// Forgets the account's failures after a successful sign-in.
    pub fn record_success(&self, email: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(email);
    }
}

fn lookup<K, Q>(map: &Mutex<HashMap<K, Failures>>, key: &Q, now: i64) -> Option<Failures>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    let map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.get(key)
        .copied()
        .filter(|failures| now - failures.last_at < WINDOW_MICROS)
}

fn bump<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Failures>>, key: K, now: i64) -> u32 {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() > PRUNE_ABOVE {
        map.retain(|_, failures| now - failures.last_at < WINDOW_MICROS);
    }
    let failures = map.entry(key).or_insert(Failures {
        count: 0,
        last_at: now,
    });
    if now - failures.last_at >= WINDOW_MICROS {
        failures.count = 0;
    }
    failures.count += 1;
    failures.last_at = now;
    failures.count
}

/// Whether the failure with this running count is recorded in the audit log: every failure up
/// to the account's limit (so "5 failed sign-ins for one account" can be counted, and the one
/// that locks the account is seen), then the 8th, 16th, 32nd … of a window, each entry carrying
/// the count, so a guessing run of a million attempts leaves twenty-odd entries, not a million.
pub fn is_recorded_failure(count: u32) -> bool {
    count <= ACCOUNT_LIMIT || count.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn an_account_is_locked_after_its_limit_with_a_doubling_wait() {
        let throttle = SignInThrottle::default();
        let address: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        for attempt in 1..=ACCOUNT_LIMIT {
            assert!(throttle.check("a@x.test", address, attempt as i64).is_ok());
            assert_eq!(
                throttle.record_failure("a@x.test", address, attempt as i64),
                attempt
            );
        }
        let at = ACCOUNT_LIMIT as i64;
        assert_eq!(
            throttle.check("a@x.test", address, at),
            Err(Throttled {
                retry_after_secs: 30
            })
        );
        // Another account from another address is not affected.
        assert!(throttle.check("b@x.test", None, at).is_ok());
        // After the wait, one more failure doubles it.
        let later = at + 31 * SECOND;
        assert!(throttle.check("a@x.test", address, later).is_ok());
        throttle.record_failure("a@x.test", address, later);
        assert_eq!(
            throttle.check("a@x.test", address, later),
            Err(Throttled {
                retry_after_secs: 60
            })
        );
        // A quiet window forgets everything.
        assert!(throttle
            .check("a@x.test", address, later + WINDOW_MICROS)
            .is_ok());
    }

    #[test]
    fn one_address_guessing_many_accounts_is_locked() {
        let throttle = SignInThrottle::default();
        let address: Option<IpAddr> = Some("2001:db8::1".parse().unwrap());
        for n in 0..ADDRESS_LIMIT {
            throttle.record_failure(&format!("user{n}@x.test"), address, 1);
        }
        assert!(throttle.check("fresh@x.test", address, 2).is_err());
        assert!(throttle.check("fresh@x.test", None, 2).is_ok());
    }

    #[test]
    fn a_success_clears_the_account() {
        let throttle = SignInThrottle::default();
        for _ in 0..ACCOUNT_LIMIT {
            throttle.record_failure("a@x.test", None, 1);
        }
        throttle.record_success("a@x.test");
        assert!(throttle.check("a@x.test", None, 2).is_ok());
    }

    #[test]
    fn failures_are_recorded_up_to_the_limit_then_at_powers_of_two() {
        let recorded: Vec<u32> = (1..=40).filter(|&n| is_recorded_failure(n)).collect();
        assert_eq!(recorded, [1, 2, 3, 4, 5, 8, 16, 32]);
    }
}
