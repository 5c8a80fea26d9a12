//! Full journal replays (`ledger/verify`, `ledger/seals/verify`) on a budget.
//!
//! A replay reads an org's whole journal: cheap for a member to ask for, costly to run, so a
//! flood of them would take the database's connections and CPU. Every member may still audit
//! their org (that is the point of an open ledger), but:
//! - one replay of a kind runs per org at a time; callers arriving meanwhile wait for it and
//!   share its answer;
//! - members get an answer up to a minute old; admins (who act on it) always get a fresh one;
//! - at most a few replays run at once in the whole process, and a caller that cannot get a
//!   slot soon is answered 503 with `Retry-After`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::domain::ids::TenantId;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Replay {
    Ledger,
    Seals,
}

type Cached = Arc<tokio::sync::Mutex<Option<(Instant, Bytes)>>>;

pub struct Replays {
    slots: Semaphore,
    fresh_for: Duration,
    wait: Duration,
    last: Mutex<HashMap<(Replay, TenantId), Cached>>,
}

impl Replays {
    /// Replays at once in the process unless configured otherwise.
    pub const DEFAULT_AT_ONCE: usize = 2;

    pub fn new(at_once: usize, fresh_for: Duration) -> Self {
        Self {
            slots: Semaphore::new(at_once.max(1)),
            fresh_for,
            wait: Duration::from_secs(30),
            last: Mutex::default(),
        }
    }

    /// The org's replay as JSON: a recent one, the one running now, or a new one.
    pub async fn run<T, F, Fut>(
        &self,
        replay: Replay,
        tenant: TenantId,
        fresh: bool,
        run: F,
    ) -> Result<Response>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let asked = Instant::now();
        let cell = self.cell(replay, tenant)?;
        let mut last = tokio::time::timeout(self.wait, cell.lock())
            .await
            .map_err(|_| busy())?;
        if let Some((at, json)) = last.as_ref() {
            // A replay that finished after this request came is as fresh as one it would run.
            let recent = !fresh && at.elapsed() < self.fresh_for;
            if recent || *at >= asked {
                return Ok(answer(json.clone()));
            }
        }
        let _slot = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let json = Bytes::from(serde_json::to_vec(&run().await?).map_err(anyhow::Error::from)?);
        *last = Some((Instant::now(), json.clone()));
        Ok(answer(json))
    }

    fn cell(&self, replay: Replay, tenant: TenantId) -> Result<Cached> {
        let mut all = self
            .last
            .lock()
            .map_err(|_| Error::Internal(anyhow::anyhow!("replay cache poisoned")))?;
        Ok(all.entry((replay, tenant)).or_default().clone())
    }
}

fn busy() -> Error {
    Error::Unavailable {
        retry_after_secs: 5,
    }
}

fn answer(json: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}
