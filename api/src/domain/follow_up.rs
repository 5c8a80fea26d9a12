//! Work that follows a change, handed to the job queue inside the change's own transaction: it
//! exists exactly when the change committed. The worker's schedules would get to it anyway (every
//! minute); a follow-up makes it happen at its moment — a proposal closes at its deadline, a new
//! issuance policy pays its first period at once. The queue is the worker's (`coinsence-worker`
//! implements [`FollowUps`]); a `Core` without one leaves everything to the schedules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::PgConnection;

use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};

/// What should happen after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// Close the org's due proposals at `at` (a proposal's deadline).
    CloseProposals { tenant: TenantId, at: DateTime<Utc> },
    /// Run the org's scheduled issuance now (a policy was set).
    RunIssuance { tenant: TenantId },
}

/// Puts follow-ups on a job queue, on the caller's connection (inside its transaction).
pub trait FollowUps: Send + Sync {
    fn enqueue<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        follow_up: FollowUp,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

impl Core {
    /// With a job queue for follow-ups (the API server and `coinsence up` set the worker's).
    pub fn with_follow_ups(mut self, follow_ups: Arc<dyn FollowUps>) -> Self {
        self.follow_ups = Some(follow_ups);
        self
    }

    /// Enqueues `follow_up` in `tx`: it commits, or rolls back, with the change.
    pub(crate) async fn follow_up(&self, tx: &mut TenantTx, follow_up: FollowUp) -> Result<()> {
        if let Some(queue) = &self.follow_ups {
            queue
                .enqueue(tx.conn(), follow_up)
                .await
                .map_err(Error::Internal)?;
        }
        Ok(())
    }
}
