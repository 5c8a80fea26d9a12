//! [`Core`]: the handle every edge (HTTP, CLI, chat, jobs) uses to run domain operations.
//! The operations themselves live with their area under `domain/`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::PgPool;

use crate::domain::ids::TenantId;
use crate::domain::ledger::queue::{QueueConfig, TransferQueue};
use crate::domain::ledger::{Currency, CurrencyCode};

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub(crate) transfers: TransferQueue,
    /// Currencies never change once created (their scale above all), so they are cached.
    pub(crate) currencies: Arc<RwLock<HashMap<(TenantId, CurrencyCode), Currency>>>,
}

impl Core {
    pub fn new(pool: PgPool) -> Self {
        Self::with_queue(pool, QueueConfig::default())
    }

    pub fn with_queue(pool: PgPool, config: QueueConfig) -> Self {
        Self {
            transfers: TransferQueue::new(pool.clone(), config),
            pool,
            currencies: Arc::default(),
        }
    }
}
