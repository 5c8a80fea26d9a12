//! [`Core`]: the handle every edge (HTTP, CLI, chat, jobs) uses to run domain operations.
//! The operations themselves live with their area under `domain/`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::PgPool;

use crate::domain::ids::{CurrencyId, TenantId};
use crate::domain::ledger::queue::{QueueConfig, TransferQueue};
use crate::domain::ledger::{Currency, CurrencyCode, CurrencyKind};

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub(crate) transfers: TransferQueue,
    /// Currencies never change once created (their scale above all), so they are cached.
    pub(crate) currencies: Arc<RwLock<HashMap<(TenantId, CurrencyCode), Currency>>>,
    /// A currency's kind never changes either; payments look it up to guard project shares.
    pub(crate) currency_kinds: Arc<RwLock<HashMap<(TenantId, CurrencyId), CurrencyKind>>>,
    /// Members per transaction when an issuance period is applied (see `ledger::issuance`).
    pub(crate) issuance_chunk: usize,
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
            currency_kinds: Arc::default(),
            issuance_chunk: crate::domain::ledger::issuance::CHUNK,
        }
    }

    /// With another number of members per issuance transaction (tests make periods span
    /// several transactions with small orgs).
    pub fn with_issuance_chunk(mut self, members: usize) -> Self {
        self.issuance_chunk = members.max(1);
        self
    }
}
