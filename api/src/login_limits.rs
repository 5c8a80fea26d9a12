//! Login limits, free of HTTP so every edge that signs people in shares them (the API's
//! `/v1/login` and the portal's login form): a per-address allowance (GCRA, `governor`) and a
//! lock on an account's password login after repeated failures. Both refuse with
//! [`Error::RateLimited`], which says how many seconds to wait.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::identity::Email;
use crate::error::{Error, Result};

/// The numbers, from the binary's flags or set by a test.
#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    /// Requests to the sign-in routes per address and minute (a burst of as many is allowed).
    pub auth_per_minute: u32,
    /// Failed logins to one account within `failure_window` that lock it.
    pub login_failures: u32,
    pub failure_window: Duration,
    /// How long a locked account's password login answers 429.
    pub lock_for: Duration,
}

impl Default for LimitConfig {
    /// 30 sign-in requests per address and minute; 10 failed logins in 900 s lock an account
    /// for 900 s.
    fn default() -> Self {
        Self {
            auth_per_minute: 30,
            login_failures: 10,
            failure_window: Duration::from_secs(900),
            lock_for: Duration::from_secs(900),
        }
    }
}

/// The limiters' state, shared by all requests.
pub struct Limits {
    config: LimitConfig,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    /// When the address map was last pruned (seconds since `started`).
    pruned_at: AtomicU64,
    started: Instant,
    accounts: Mutex<HashMap<String, Failures>>,
}

/// Failed logins of one account in the current window.
struct Failures {
    since: Instant,
    count: u32,
    locked_until: Option<Instant>,
}

/// Accounts tracked at most; past it, expired entries are dropped, and if all are live a new
/// account is not tracked (memory stays bounded whatever emails a flood invents).
const MAX_ACCOUNTS: usize = 100_000;

impl Limits {
    pub fn new(config: LimitConfig) -> Self {
        let per_minute = NonZeroU32::new(config.auth_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            config,
            per_address: RateLimiter::keyed(Quota::per_minute(per_minute)),
            pruned_at: AtomicU64::new(0),
            started: Instant::now(),
            accounts: Mutex::default(),
        }
    }

    /// Takes one request from the address's allowance.
    pub fn check_address(&self, addr: IpAddr) -> Result<()> {
        self.prune_addresses();
        self.per_address
            .check_key(&address_key(addr))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                rate_limited(wait)
            })
    }

    /// Forgets addresses whose allowance is full again, at most once a minute.
    fn prune_addresses(&self) {
        let now = self.started.elapsed().as_secs();
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now >= last + 60
            && self
                .pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.per_address.retain_recent();
            self.per_address.shrink_to_fit();
        }
    }

    /// Refuses a login to a locked account (whether or not it exists).
    pub fn check_login(&self, email: &str) -> Result<()> {
        let Ok(accounts) = self.accounts.lock() else {
            return Ok(());
        };
        match accounts
            .get(&account_key(email))
            .and_then(|f| f.locked_until)
        {
            Some(until) => match until.checked_duration_since(Instant::now()) {
                Some(left) => Err(rate_limited(left)),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Counts a failed login; the one that reaches the limit locks the account.
    pub fn login_failed(&self, email: &str) {
        let Ok(mut accounts) = self.accounts.lock() else {
            return;
        };
        let now = Instant::now();
        let key = account_key(email);
        if accounts.len() >= MAX_ACCOUNTS && !accounts.contains_key(&key) {
            accounts.retain(|_, f| !self.expired(f, now));
            if accounts.len() >= MAX_ACCOUNTS {
                return;
            }
        }
        let failures = accounts.entry(key).or_insert(Failures {
            since: now,
            count: 0,
            locked_until: None,
        });
        if self.expired(failures, now) {
            *failures = Failures {
                since: now,
                count: 0,
                locked_until: None,
            };
        }
        failures.count += 1;
        if failures.count >= self.config.login_failures.max(1) {
            failures.locked_until = Some(now + self.config.lock_for);
            tracing::warn!("an account's password login is locked after repeated failures");
        }
    }

    /// A successful login forgets the earlier failures.
    pub fn login_succeeded(&self, email: &str) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.remove(&account_key(email));
        }
    }

    fn expired(&self, failures: &Failures, now: Instant) -> bool {
        let window_over = now.duration_since(failures.since) >= self.config.failure_window;
        let unlocked = failures.locked_until.is_none_or(|until| until <= now);
        window_over && unlocked
    }
}

/// An IPv6 host usually has a whole /64: it counts as one address.
pub(crate) fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// The account an email names, as login would look it up.
fn account_key(email: &str) -> String {
    match Email::parse(email) {
        Ok(email) => email.as_str().to_owned(),
        Err(_) => email.trim().to_lowercase().chars().take(254).collect(),
    }
}

pub(crate) fn rate_limited(wait: Duration) -> Error {
    // Whole seconds, rounded up: a client that waits that long is let through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Error::RateLimited {
        retry_after_secs: secs.max(1),
    }
}
