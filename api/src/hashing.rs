//! Password hashing on a budget. Each argon2 run takes a core for tens of milliseconds and
//! 19 MiB of memory; run without a bound, a flood of logins or signups queues thousands of them
//! on the blocking pool and exhausts memory. So at most one runs per core, and a request that
//! cannot get a turn within a short wait is answered 503 (nothing was done).

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::core::env_count;
use crate::error::{Error, Result};

/// Turns to hash, and how long a caller waits for one.
pub struct Turns {
    slots: Semaphore,
    wait: Duration,
}

impl Turns {
    pub const fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Semaphore::const_new(slots),
            wait,
        }
    }

    /// A turn to hash or verify one password; hold it while the hashing runs.
    pub async fn turn(&self) -> Result<SemaphorePermit<'_>> {
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("coinsence_hashing_shed_total").increment(1);
                Err(Error::Unavailable {
                    retry_after_secs: 1,
                })
            }
        }
    }
}

/// `COINSENCE_HASHING_SLOTS` (default: the number of cores) and `COINSENCE_HASHING_WAIT_MS`
/// (default 3000).
static TURNS: LazyLock<Turns> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Turns::new(
        env_count("COINSENCE_HASHING_SLOTS").unwrap_or(cores),
        Duration::from_millis(env_count("COINSENCE_HASHING_WAIT_MS").unwrap_or(3000) as u64),
    )
});

/// A turn from the process's hashing budget.
pub async fn turn() -> Result<SemaphorePermit<'static>> {
    TURNS.turn().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_its_turns_a_caller_gets_503_after_a_short_wait() {
        let turns = Turns::new(2, Duration::from_millis(50));
        let a = turns.turn().await;
        let b = turns.turn().await;
        assert!(a.is_ok() && b.is_ok());
        let started = std::time::Instant::now();
        assert!(matches!(turns.turn().await, Err(Error::Unavailable { .. })));
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(a);
        assert!(turns.turn().await.is_ok());
    }
}
