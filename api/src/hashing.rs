//! Password hashing on a budget. Each argon2 run takes a core for tens of milliseconds and
//! 19 MiB of memory; run without a bound, a flood of logins or signups queues thousands of them
//! on the blocking pool and exhausts memory. So at most one runs per core, and a request that
//! cannot get a turn within a short wait is answered 503 (nothing was done).

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::core::env_count;
use crate::error::{Error, Result};

/// `COINSENCE_HASHING_SLOTS` (default: the number of cores).
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Semaphore::new(env_count("COINSENCE_HASHING_SLOTS").unwrap_or(cores))
});

/// `COINSENCE_HASHING_WAIT_MS` (default 3000).
static WAIT: LazyLock<Duration> = LazyLock::new(|| {
    Duration::from_millis(env_count("COINSENCE_HASHING_WAIT_MS").unwrap_or(3000) as u64)
});

/// A turn to hash or verify one password; hold it while the hashing runs.
pub async fn turn() -> Result<SemaphorePermit<'static>> {
    match tokio::time::timeout(*WAIT, SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            metrics::counter!("coinsence_hashing_shed_total").increment(1);
            Err(Error::Unavailable {
                retry_after_secs: 1,
            })
        }
    }
}
