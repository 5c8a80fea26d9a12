//! The jobs: typed, named, idempotent. Each is a small serializable value naming what to do
//! (which org), never a copy of the data it works on; running one twice, or in two workers at
//! once, does what running it once does, because each calls a domain operation that is
//! idempotent by itself (a period that ran is recorded, a proposal closes once, a seal covers
//! each entry once, a delivered event is marked).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use coinsence_api::Core;
use coinsence_api::domain::exchange::book::Pair;
use coinsence_api::domain::governance::outbox::{DeliveryPolicy, OutboxSink};
use coinsence_api::domain::ids::TenantId;
use coinsence_api::domain::ledger::CurrencyCode;
use coinsence_api::domain::tenancy::{SchemaName, Tenant, TenantStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

/// What every job handler gets.
pub struct Context {
    pub core: Core,
    pub clock: Arc<dyn Clock>,
    /// Where outbox events go; without one, outbox delivery is not scheduled.
    pub sink: Option<Arc<dyn OutboxSink>>,
    pub delivery: DeliveryPolicy,
    /// A new exchange pair's window between rounds.
    pub exchange_interval: std::time::Duration,
    /// At most one witness (the latest signed tree head) per this long to the org's rooms;
    /// `None`: none.
    pub witness_every: Option<chrono::Duration>,
}

/// A kind of job.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The stable name: the apalis queue, the metrics label, the `worker --status` row.
    const NAME: &'static str;
    /// Attempts before apalis gives the job up (each failure is logged and counted).
    const MAX_ATTEMPTS: usize = 5;

    fn run(self, ctx: &Context) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A job that schedules fan out into, one per org.
pub trait PerOrg: Job {
    fn for_org(tenant: TenantId) -> Self;
}

/// A job as stored: the job and when it was enqueued (wall clock), for the pickup latency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<J> {
    pub enqueued_at: DateTime<Utc>,
    pub job: J,
}

/// The org a job is for, if it is still there and active (a deleted or suspended org's jobs
/// finish without doing anything).
async fn active_tenant(core: &Core, id: TenantId) -> anyhow::Result<Option<Tenant>> {
    Ok(core
        .tenants_by_id(&[id])
        .await?
        .into_iter()
        .find(|t| t.status == TenantStatus::Active))
}

/// Close the proposals and settle the projects of an org whose deadline passed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloseDue {
    pub tenant: TenantId,
}

impl Job for CloseDue {
    const NAME: &'static str = "coinsence::close_due";
    async fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let Some(tenant) = active_tenant(&ctx.core, self.tenant).await? else {
            return Ok(());
        };
        let done = ctx.core.close_due(&tenant, ctx.clock.now()).await?;
        if done.errors > 0 {
            anyhow::bail!(
                "{} items of {} could not be closed",
                done.errors,
                tenant.slug
            );
        }
        Ok(())
    }
}

impl PerOrg for CloseDue {
    fn for_org(tenant: TenantId) -> Self {
        Self { tenant }
    }
}

/// Run every scheduled issuance and demurrage period of an org that is due.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunIssuance {
    pub tenant: TenantId,
}

impl Job for RunIssuance {
    const NAME: &'static str = "coinsence::issuance";
    async fn run(self, ctx: &Context) -> anyhow::Result<()> {
        if let Some(tenant) = active_tenant(&ctx.core, self.tenant).await? {
            ctx.core
                .run_scheduled_issuance(&tenant, ctx.clock.now())
                .await?;
        }
        Ok(())
    }
}

impl PerOrg for RunIssuance {
    fn for_org(tenant: TenantId) -> Self {
        Self { tenant }
    }
}

/// Deliver an org's pending outbox events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverOutbox {
    pub tenant: TenantId,
}

impl Job for DeliverOutbox {
    const NAME: &'static str = "coinsence::outbox";
    async fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let (Some(sink), Some(tenant)) = (&ctx.sink, active_tenant(&ctx.core, self.tenant).await?)
        else {
            return Ok(());
        };
        ctx.core
            .deliver_outbox(&tenant, sink.as_ref(), ctx.clock.now(), ctx.delivery)
            .await?;
        Ok(())
    }
}

impl PerOrg for DeliverOutbox {
    fn for_org(tenant: TenantId) -> Self {
        Self { tenant }
    }
}

/// Seal an org's new journal entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealJournal {
    pub tenant: TenantId,
}

impl Job for SealJournal {
    const NAME: &'static str = "coinsence::seal";
    async fn run(self, ctx: &Context) -> anyhow::Result<()> {
        if let Some(tenant) = active_tenant(&ctx.core, self.tenant).await? {
            ctx.core.seal_journal(&tenant, ctx.clock.now()).await?;
            // After every seal run, sealed or not: the latest head reaches the rooms once the
            // throttle allows, even if no seal follows it.
            if let Some(every) = ctx.witness_every {
                ctx.core
                    .witness_tree_head(&tenant, ctx.clock.now(), every)
                    .await?;
            }
        }
        Ok(())
    }
}

impl PerOrg for SealJournal {
    fn for_org(tenant: TenantId) -> Self {
        Self { tenant }
    }
}

/// Bring one org's schema to the latest tenant migration (`coinsence migrate --background`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrateTenant {
    pub tenant: TenantId,
    /// The version the enqueuing release wanted; a newer worker migrates further, which is fine.
    pub target_version: i64,
}

impl Job for MigrateTenant {
    const NAME: &'static str = "coinsence::migrate";
    async fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let schema = SchemaName::for_tenant(self.tenant);
        let applied = coinsence_api::migrate::migrate_tenant(&ctx.core.pool, &schema).await?;
        tracing::info!(%schema, newly_applied = applied.newly_applied, version = applied.version,
            "org migrated");
        Ok(())
    }
}

/// One step of an exchange pair's schedule (issue 17): finish any of its rounds whose
/// settlement was cut short (a worker died), then, when its cut is due, cut the round, settle
/// it in each org and draw the next cut. Idempotent: the cut is unique per pair and moment, and
/// settlement is keyed by (round, order) in each org's ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeRound {
    pub base: String,
    pub quote: String,
}

impl Job for ExchangeRound {
    const NAME: &'static str = "coinsence::exchange_round";
    async fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let pair = Pair {
            base: CurrencyCode::parse(&self.base)?,
            quote: CurrencyCode::parse(&self.quote)?,
        };
        let step = ctx.core.exchange_step(&pair, ctx.clock.now()).await?;
        if step.cut.is_some() || !step.resumed.is_empty() || step.returned > 0 {
            tracing::info!(base = %self.base, quote = %self.quote, cut = ?step.cut,
                resumed = ?step.resumed, returned = step.returned, "exchange round");
        }
        Ok(())
    }
}

/// Does nothing: measures the queue itself (`coinsence bench jobs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Noop {
    pub n: u64,
}

impl Job for Noop {
    const NAME: &'static str = "coinsence::noop";
    const MAX_ATTEMPTS: usize = 1;
    async fn run(self, _: &Context) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Every job name, for status and metrics.
pub const ALL: [&str; 7] = [
    CloseDue::NAME,
    RunIssuance::NAME,
    DeliverOutbox::NAME,
    SealJournal::NAME,
    MigrateTenant::NAME,
    Noop::NAME,
    ExchangeRound::NAME,
];
