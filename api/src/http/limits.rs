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

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::AppState;
use super::client_addr::ClientAddr;
use super::error::ApiError;
use crate::error::{Error, Result};
// The limiters live outside HTTP (the portal uses them too); the API's names stay.
pub use crate::login_limits::{LimitConfig, Limits};

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
    use crate::login_limits::address_key;
    use std::net::IpAddr;

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
