//! [`Core`]: the handle every edge (HTTP, CLI, chat, jobs) uses to run domain operations.
//! The operations themselves live with their area under `domain/`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::PgPool;

use crate::batch::Batcher;
use crate::domain::ids::{CurrencyId, TenantId};
use crate::domain::ledger::queue::{QueueConfig, TransferQueue};
use crate::domain::ledger::{Currency, CurrencyCode, CurrencyKind};
use crate::domain::orgs::{Member, members_for_tokens};
use crate::error::Result;

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub(crate) transfers: TransferQueue,
    /// Token and membership lookups, batched across concurrent requests.
    pub(crate) access: Batcher<(Vec<u8>, String), Result<Member>>,
    /// Currencies never change once created (their scale above all), so they are cached.
    pub(crate) currencies: Arc<RwLock<HashMap<(TenantId, CurrencyCode), Currency>>>,
    /// A currency's kind never changes either; payments look it up to guard project shares.
    pub(crate) currency_kinds: Arc<RwLock<HashMap<(TenantId, CurrencyId), CurrencyKind>>>,
}

impl Core {
    /// Needs a Tokio runtime: the batchers start their tasks here.
    pub fn new(pool: PgPool) -> Self {
        Self::with_queue(pool, QueueConfig::default())
    }

    pub fn with_queue(pool: PgPool, config: QueueConfig) -> Self {
        Self {
            transfers: TransferQueue::new(pool.clone(), config),
            access: {
                let pool = pool.clone();
                Batcher::spawn("access", 2, 256, move |lookups| {
                    let pool = pool.clone();
                    async move { members_for_tokens(&pool, lookups).await }
                })
            },
            pool,
            currencies: Arc::default(),
            currency_kinds: Arc::default(),
        }
    }
}
