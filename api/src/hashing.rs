//! Password hashing on a budget. Each argon2 run takes a core for tens of milliseconds and
//! 19 MiB of memory; run without a bound, a flood of logins or signups queues thousands of them
//! on the blocking pool and exhausts memory. So at most one runs per core, and a request that
//! cannot get a turn within a short wait is answered 503 (nothing was done).

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, Result};

/// How many passwords hash at once in the process, and how long a caller waits for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingConfig {
    /// None: one per core.
    pub slots: Option<usize>,
    pub wait: Duration,
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            slots: None,
            wait: Duration::from_millis(3000),
        }
    }
}

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

/// The process's budget: one, set by the first [`configure`] (the first `Core` built), or the
/// defaults if hashing comes first.
static TURNS: OnceLock<Turns> = OnceLock::new();

/// Sets the process's hashing budget unless it is already set (it is one for the process).
pub fn configure(config: HashingConfig) {
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Turns::new(config.slots.unwrap_or(cores).max(1), config.wait)
    });
}

/// A turn from the process's hashing budget.
pub async fn turn() -> Result<SemaphorePermit<'static>> {
    configure(HashingConfig::default());
    match TURNS.get() {
        Some(turns) => turns.turn().await,
        None => Err(Error::Internal(anyhow::anyhow!("no hashing budget"))),
    }
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
