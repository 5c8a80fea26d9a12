//! What one caller can make the service do: per-address limits on the routes that hash
//! passwords or redeem codes (`/v1/signup`, `/v1/login`, `/v1/login/link`), and a lock on an
//! account's password login after repeated failures.
//!
//! Both answer [`Error::RateLimited`] (429 with `Retry-After`).
//!
//! Apart from who asks, the API works on a bounded number of requests at once ([`Admission`]):
//! when the machine is saturated, more work in progress only waits longer for the CPU and the
//! database and makes every answer slower; bounding it keeps the requests taken fast, and under
//! overload the rest are refused quickly (503 with `Retry-After`). The account lock is kept for
//! any email asked for, registered or not, and answered the same way, so it tells nobody which
//! emails exist. Addresses come from the socket ([`ClientAddr`]); a request without one (the
//! router called in-process) is not limited by address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::AppState;
use super::client_addr::ClientAddr;
use super::error::ApiError;
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
fn address_key(addr: IpAddr) -> IpAddr {
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

fn rate_limited(wait: Duration) -> Error {
    // Whole seconds, rounded up: a client that waits that long is let through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Error::RateLimited {
        retry_after_secs: secs.max(1),
    }
}

/// Middleware on the sign-in routes: one request from the caller's address's allowance.
pub async fn per_address(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    if let Some(addr) = addr
        && let Err(err) = state.limits.check_address(addr)
    {
        return ApiError::from(err).into_response();
    }
    next.run(req).await
}

/// Requests the API works on at once by default: 16 per core and at least 32 (about as many as
/// keep the payment batches full; on two cores a payment then waits some 20 ms at most behind
/// the others at the rate they sustain).
pub fn max_in_flight() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    (16 * cores).max(32)
}

/// 15 ms by default: with the time a payment is then worked on, what is taken under overload
/// is answered within about 50 ms.
pub fn admission_target() -> Duration {
    Duration::from_millis(15)
}

/// Admission to the API: a bounded number of requests in flight, and a wait for a place that
/// is short only while the service is overloaded.
///
/// A burst (many requests at once on an idle service) waits a little and is served. When the
/// recent waits for a place (a moving average over the last few dozen requests) reach half the
/// target, more comes than the service does, and newcomers wait at most the target before they
/// are shed with 503: what is taken stays fast, what is refused is refused quickly.
pub struct Admission {
    slots: Semaphore,
    target: Duration,
    patience: Duration,
    /// Moving average of the waits, in microseconds.
    recent_wait: AtomicU64,
}

impl Admission {
    pub fn new(max_in_flight: usize, target: Duration, patience: Duration) -> Self {
        Self {
            slots: Semaphore::new(max_in_flight.max(1)),
            target,
            patience,
            recent_wait: AtomicU64::new(0),
        }
    }

    /// A place for one request, held while it is worked on.
    pub async fn admit(&self) -> Result<SemaphorePermit<'_>> {
        if let Ok(place) = self.slots.try_acquire() {
            self.observe(Duration::ZERO);
            return Ok(place);
        }
        let asked = Instant::now();
        let patience = if self.overloaded() {
            self.target
        } else {
            self.patience
        };
        let place = tokio::time::timeout(patience, self.slots.acquire()).await;
        self.observe(asked.elapsed());
        match place {
            Ok(Ok(place)) => Ok(place),
            _ => {
                metrics::counter!("coinsence_http_shed_total").increment(1);
                Err(Error::Unavailable {
                    retry_after_secs: 1,
                })
            }
        }
    }

    fn overloaded(&self) -> bool {
        let half_target = u64::try_from(self.target.as_micros() / 2).unwrap_or(u64::MAX);
        self.recent_wait.load(Ordering::Relaxed) >= half_target
    }

    /// Moves the average 1/16 of the way to this wait (a lost update under a race only makes
    /// the average a little less exact).
    fn observe(&self, waited: Duration) {
        let waited = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        let recent = self.recent_wait.load(Ordering::Relaxed);
        let next = recent - recent / 16 + waited / 16;
        if next != recent {
            self.recent_wait.store(next, Ordering::Relaxed);
        }
    }
}

/// Middleware on the API's routes (see [`Admission`]).
pub async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.admission.admit().await {
        Ok(_working) => next.run(req).await,
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(failures: u32) -> LimitConfig {
        LimitConfig {
            auth_per_minute: 2,
            login_failures: failures,
            failure_window: Duration::from_secs(60),
            lock_for: Duration::from_secs(60),
        }
    }

    #[test]
    fn an_address_gets_its_allowance_then_429() {
        let limits = Limits::new(config(3));
        let addr: IpAddr = [10, 0, 0, 1].into();
        assert!(limits.check_address(addr).is_ok());
        assert!(limits.check_address(addr).is_ok());
        assert!(matches!(
            limits.check_address(addr),
            Err(Error::RateLimited { retry_after_secs }) if (1..=60).contains(&retry_after_secs)
        ));
        assert!(limits.check_address([10, 0, 0, 2].into()).is_ok());
    }

    #[test]
    fn one_ipv6_host_is_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
    }

    #[test]
    fn failures_lock_an_account_by_its_normalized_email() {
        let limits = Limits::new(config(3));
        for _ in 0..2 {
            limits.login_failed("Ana@Example.org");
            assert!(limits.check_login("ana@example.org").is_ok());
        }
        limits.login_failed(" ana@example.org");
        assert!(matches!(
            limits.check_login("ANA@example.org"),
            Err(Error::RateLimited { .. })
        ));
        assert!(limits.check_login("bob@example.org").is_ok());
    }
}
