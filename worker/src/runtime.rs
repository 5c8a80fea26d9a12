//! The worker process: apalis workers on PostgreSQL storage (one queue per job kind, woken by
//! LISTEN/NOTIFY with a polling fallback) and apalis-cron schedules that fan out into one job per
//! org. Several processes may run this at once: a tick is fanned out by one of them, and a job is
//! taken by one worker (`FOR UPDATE SKIP LOCKED`); a job whose worker died is re-enqueued after
//! its heartbeat lapses, and runs again harmlessly because every job is idempotent.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use apalis::prelude::{
    Attempt, BackendExt, BoxDynError, Data, Monitor, Strategy, TaskId, WorkerBuilder,
    WorkerBuilderExt,
};
use apalis_cron::{CronScheduler, Tick};
use apalis_postgres::{Config, PostgresStorage};
use chrono::{DateTime, Utc};
use coinsence_api::Core;
use coinsence_api::domain::governance::outbox::{DeliveryPolicy, OutboxSink};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::enqueue::{fan_out, fan_out_pairs};
use crate::jobs::{
    CloseDue, Context, DeliverOutbox, Envelope, ExchangeRound, Job, MigrateTenant, Noop, PerOrg,
    RunIssuance, SealJournal,
};
use crate::status;

/// When the schedules fire (cron with seconds: `sec min hour day month weekday`) and how the
/// queues are worked.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub close_due: String,
    pub issuance: String,
    pub outbox: String,
    pub seal: String,
    /// When each exchange pair's schedule is looked at (a round is cut when its moment came).
    pub exchange: String,
    /// A new exchange pair's window between rounds (`--exchange-interval`; a minute under `up`).
    pub exchange_interval: Duration,
    /// Jobs of one kind run at once in this process.
    pub concurrency: usize,
    /// How often an idle queue is polled besides being woken by NOTIFY.
    pub poll_interval: Duration,
    /// A worker whose heartbeat is older than this many intervals is dead; its jobs run again.
    pub heartbeat_interval: Duration,
    /// Distinguishes this process's apalis workers from other processes' (must be unique).
    pub instance: String,
    /// A failed job waits this long before its first retry, twice as long before each next one,
    /// never longer than `retry_max` (it runs at most its kind's `MAX_ATTEMPTS` times).
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// At most one witness line (the latest signed tree head) per this long in an org's rooms;
    /// `None`: no witnesses.
    pub witness_every: Option<Duration>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            close_due: "0 * * * * *".to_owned(),
            issuance: "30 * * * * *".to_owned(),
            outbox: "*/10 * * * * *".to_owned(),
            seal: "15 */10 * * * *".to_owned(),
            exchange: "*/5 * * * * *".to_owned(),
            exchange_interval: Duration::from_secs(3600),
            concurrency: 4,
            poll_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(10),
            instance: instance_name(),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            witness_every: Some(Duration::from_secs(3600)),
        }
    }
}

/// A name no other worker process has: host, pid and a random part.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Creates (or upgrades) apalis's tables in the `apalis` schema. Safe to run concurrently.
pub async fn setup(pool: &PgPool) -> anyhow::Result<()> {
    // apalis's migrations record themselves in `public._sqlx_migrations`; serialize concurrent
    // setups so two processes starting together do not race on them.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('coinsence-worker-setup'))")
        .execute(&mut *tx)
        .await?;
    PostgresStorage::setup(pool)
        .await
        .context("creating apalis's job tables")?;
    tx.commit().await?;
    Ok(())
}

pub struct Worker {
    ctx: Arc<Context>,
    config: WorkerConfig,
    /// Run only the queue of `noop` jobs (the job benchmark), no schedules.
    bench_only: bool,
}

/// Runs one job, timing it and counting the outcome per kind. A failed job is pushed back
/// (exponential back-off) before apalis records the failure, so the queue does not hand it out
/// again at once.
async fn handle<J: Job>(
    envelope: Envelope<J>,
    ctx: Data<Arc<Context>>,
    retry: Data<Backoff>,
    id: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let pickup = (Utc::now() - envelope.enqueued_at)
        .num_microseconds()
        .unwrap_or(0);
    metrics::histogram!("coinsence_job_pickup_seconds", "kind" => J::NAME)
        .record(pickup as f64 / 1e6);
    metrics::gauge!("coinsence_jobs_running", "kind" => J::NAME).increment(1.0);
    let start = Instant::now();
    let result = envelope.job.run(&ctx).await;
    metrics::gauge!("coinsence_jobs_running", "kind" => J::NAME).decrement(1.0);
    metrics::histogram!("coinsence_job_duration_seconds", "kind" => J::NAME)
        .record(start.elapsed().as_secs_f64());
    let outcome = if result.is_ok() { "done" } else { "failed" };
    metrics::counter!("coinsence_jobs_total", "kind" => J::NAME, "outcome" => outcome).increment(1);
    let Err(e) = result else {
        return Ok(());
    };
    // `Attempt` counts this run: 1 on the first.
    let failures_before = attempt.current().saturating_sub(1);
    let delay = retry.delay(failures_before);
    tracing::warn!(kind = J::NAME, attempt = attempt.current(), retry_in = ?delay,
        error = %format!("{e:#}"), "job failed");
    if let Err(e) = retry.postpone(&ctx.core.pool, &id, delay).await {
        tracing::warn!(kind = J::NAME, error = %e, "postponing a failed job failed");
    }
    Err(BoxDynError::from(format!("{e:#}")))
}

/// How long a failed job waits before it runs again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// `base` after the first failure, doubling after each next one, at most `max`.
    pub(crate) fn delay(self, failures_before: usize) -> Duration {
        let factor = 1_u32 << failures_before.min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    async fn postpone(self, pool: &PgPool, id: &TaskId, delay: Duration) -> sqlx::Result<()> {
        sqlx::query("UPDATE apalis.jobs SET run_at = now() + $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(delay)
            .execute(pool)
            .await
            .map(drop)
    }
}

/// A schedule's tick: fan it out into one job per org (if no other process did).
async fn on_tick<J: PerOrg>(tick: Tick<Utc>, ctx: Data<Arc<Context>>) -> Result<(), BoxDynError> {
    let at = i64::try_from(tick.get_timestamp())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| BoxDynError::from("tick out of range"))?;
    match fan_out::<J>(&ctx.core, at).await {
        Ok(n) => {
            tracing::debug!(kind = J::NAME, jobs = n, %at, "tick");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(kind = J::NAME, error = %format!("{e:#}"), "fanning out a tick failed");
            Err(BoxDynError::from(format!("{e:#}")))
        }
    }
}

/// The exchange schedule's tick: one job per pair (if no other process did).
async fn on_exchange_tick(tick: Tick<Utc>, ctx: Data<Arc<Context>>) -> Result<(), BoxDynError> {
    let at = i64::try_from(tick.get_timestamp())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| BoxDynError::from("tick out of range"))?;
    fan_out_pairs(&ctx.core, at, ctx.exchange_interval)
        .await
        .map(drop)
        .map_err(|e| {
            tracing::warn!(kind = ExchangeRound::NAME, error = %format!("{e:#}"),
                "fanning out the exchange tick failed");
            BoxDynError::from(format!("{e:#}"))
        })
}

/// Registers the apalis worker of one job kind.
macro_rules! job_worker {
    ($monitor:expr, $job:ty, $pool:expr, $ctx:expr, $config:expr) => {{
        let (pool, ctx, config) = ($pool.clone(), $ctx.clone(), $config.clone());
        $monitor.register(move |restarts| {
            let storage = PostgresStorage::<Envelope<$job>>::new(&pool)
                .with_config(
                    Config::default()
                        .queue(<$job>::NAME)
                        .batch_size(config.concurrency.max(1) * 4)
                        .heartbeat_interval(config.heartbeat_interval)
                        .missed_heartbeats(3),
                )
                .with_pubsub()
                .poll_with_strategy(Strategy::new().interval(config.poll_interval));
            WorkerBuilder::new(format!("{}@{}-r{restarts}", <$job>::NAME, config.instance))
                .backend(storage)
                .data(ctx.clone())
                .data(Backoff {
                    base: config.retry_base,
                    max: config.retry_max,
                })
                .concurrency(config.concurrency.max(1))
                .build(handle::<$job>)
        })
    }};
}

/// Registers the cron schedule that fans out one job kind.
macro_rules! schedule {
    ($monitor:expr, $job:ty, $cron:expr, $ctx:expr, $config:expr) => {{
        let schedule = cron::Schedule::from_str(&$cron)
            .with_context(|| format!("the schedule of {} ({:?})", <$job>::NAME, $cron))?;
        let (ctx, instance) = ($ctx.clone(), $config.instance.clone());
        $monitor.register(move |restarts| {
            WorkerBuilder::new(format!("{}-schedule@{instance}-r{restarts}", <$job>::NAME))
                .backend(CronScheduler::new(schedule.clone()))
                .data(ctx.clone())
                .build(on_tick::<$job>)
        })
    }};
}

impl Worker {
    pub fn new(
        core: Core,
        clock: Arc<dyn Clock>,
        sink: Option<Arc<dyn OutboxSink>>,
        config: WorkerConfig,
    ) -> Self {
        Self {
            ctx: Arc::new(Context {
                core,
                clock,
                sink,
                delivery: DeliveryPolicy::default(),
                exchange_interval: config.exchange_interval,
                witness_every: config
                    .witness_every
                    .and_then(|d| chrono::Duration::from_std(d).ok()),
            }),
            config,
            bench_only: false,
        }
    }

    /// With another delivery policy (tests shorten the back-off).
    pub fn with_delivery(mut self, delivery: DeliveryPolicy) -> Self {
        if let Some(ctx) = Arc::get_mut(&mut self.ctx) {
            ctx.delivery = delivery;
        }
        self
    }

    /// Only the `noop` queue, no schedules: what `coinsence bench jobs` measures.
    pub fn bench_only(mut self) -> Self {
        self.bench_only = true;
        self
    }

    /// Runs until `shutdown` resolves, then lets running jobs finish.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let pool = self.ctx.core.pool.clone();
        setup(&pool).await?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let refresher = tokio::spawn(status::refresh_metrics(pool.clone(), stopped.clone()));

        let (ctx, config) = (self.ctx.clone(), self.config.clone());
        let mut monitor = Monitor::new().should_restart(|worker, error| {
            tracing::error!(worker = worker.name(), error = %error, "worker failed; restarting");
            worker.restarts() < 1000
        });
        monitor = job_worker!(monitor, Noop, pool, ctx, config);
        if !self.bench_only {
            monitor = job_worker!(monitor, CloseDue, pool, ctx, config);
            monitor = job_worker!(monitor, RunIssuance, pool, ctx, config);
            monitor = job_worker!(monitor, SealJournal, pool, ctx, config);
            monitor = job_worker!(monitor, MigrateTenant, pool, ctx, config);
            monitor = schedule!(monitor, CloseDue, config.close_due, ctx, config);
            monitor = schedule!(monitor, RunIssuance, config.issuance, ctx, config);
            monitor = schedule!(monitor, SealJournal, config.seal, ctx, config);
            monitor = job_worker!(monitor, ExchangeRound, pool, ctx, config);
            let exchange = cron::Schedule::from_str(&config.exchange).with_context(|| {
                format!(
                    "the schedule of {} ({:?})",
                    ExchangeRound::NAME,
                    config.exchange
                )
            })?;
            let (tick_ctx, instance) = (ctx.clone(), config.instance.clone());
            monitor = monitor.register(move |restarts| {
                WorkerBuilder::new(format!(
                    "{}-schedule@{instance}-r{restarts}",
                    ExchangeRound::NAME
                ))
                .backend(CronScheduler::new(exchange.clone()))
                .data(tick_ctx.clone())
                .build(on_exchange_tick)
            });
            if ctx.sink.is_some() {
                monitor = job_worker!(monitor, DeliverOutbox, pool, ctx, config);
                monitor = schedule!(monitor, DeliverOutbox, config.outbox, ctx, config);
            } else {
                tracing::info!("no outbox sink: outbox events are left for the chat bots");
            }
        }
        tracing::info!(instance = %config.instance, "worker running");
        let mut wait = stopped;
        let result = monitor
            .shutdown_timeout(Duration::from_secs(30))
            .run_with_signal(async move {
                let _ = wait.wait_for(|stop| *stop).await;
                Ok(())
            })
            .await;
        refresher.abort();
        result.map_err(|e| anyhow::anyhow!("worker: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_limit() {
        let b = Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
        };
        let delays: Vec<u64> = (0..9).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(b.delay(usize::MAX), Duration::from_secs(600));
    }
}
