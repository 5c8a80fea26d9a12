//! Putting jobs on the queue: on the caller's connection (so a job that follows a change is
//! enqueued in that change's transaction), and the fan-out of a schedule's tick into one job
//! per org, claimed once across every worker process.

use apalis::prelude::TaskBuilder;
use chrono::{DateTime, Utc};
use coinsence_api::Core;
use coinsence_api::domain::follow_up::{FollowUp, FollowUps};
use coinsence_api::domain::ids::TenantId;
use coinsence_api::domain::tenancy::TenantStatus;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};

use crate::jobs::{CloseDue, Envelope, ExchangeRound, Job, MigrateTenant, PerOrg, RunIssuance};

/// Enqueues jobs on the caller's connection or transaction; they exist once it commits.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    jobs: impl IntoIterator<Item = J>,
) -> anyhow::Result<usize> {
    enqueue_at(conn, jobs, None).await
}

/// Like [`enqueue`], the jobs to run no earlier than `at` (to the next whole second).
pub async fn enqueue_at<J: Job>(
    conn: &mut PgConnection,
    jobs: impl IntoIterator<Item = J>,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<usize> {
    let enqueued_at = Utc::now();
    let run_at = at.map(|at| {
        let secs = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
        u64::try_from(secs).unwrap_or(0)
    });
    let tasks = jobs
        .into_iter()
        .map(|job| {
            let bytes = serde_json::to_vec(&Envelope { enqueued_at, job })?;
            let task = TaskBuilder::new(bytes).max_attempts(J::MAX_ATTEMPTS);
            Ok(match run_at {
                Some(secs) => task.run_at_timestamp(secs),
                None => task,
            }
            .build())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n = tasks.len();
    if n > 0 {
        apalis_postgres::queries::push_tasks(conn, J::NAME, tasks).await?;
    }
    Ok(n)
}

/// The worker's queue for the core's follow-ups ([`coinsence_api::domain::follow_up`]): a
/// proposal's deadline becomes a `close_due` job at that moment, a new issuance policy a
/// `issuance` job now. The job tables must exist ([`crate::setup`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct JobFollowUps;

impl FollowUps for JobFollowUps {
    fn enqueue<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        follow_up: FollowUp,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            // Inside a tenant transaction the search path is the org's schema alone; apalis's
            // queries need `hstore`, which lives in `public`, for as long as they run.
            let path: String =
                sqlx::query_scalar("SELECT set_config('search_path', current_setting('search_path') || ', public', true)")
                    .fetch_one(&mut *conn)
                    .await?;
            let org_path = path.trim_end_matches(", public").to_owned();
            let pushed = match follow_up {
                FollowUp::CloseProposals { tenant, at } => {
                    enqueue_at(&mut *conn, [CloseDue { tenant }], Some(at)).await
                }
                FollowUp::RunIssuance { tenant } => {
                    enqueue(&mut *conn, [RunIssuance { tenant }]).await
                }
            };
            sqlx::query("SELECT set_config('search_path', $1, true)")
                .bind(org_path)
                .execute(&mut *conn)
                .await?;
            pushed.map(drop)
        })
    }
}

/// Turns one tick of a schedule into one `J` per active org. Every worker process runs the same
/// schedules; the first to claim the tick (in `control.worker_ticks`, in the same transaction
/// as the jobs) enqueues them, the others find it claimed and enqueue nothing. Returns how many
/// jobs this call enqueued.
pub async fn fan_out<J: PerOrg>(core: &Core, tick: DateTime<Utc>) -> anyhow::Result<usize> {
    let tenants: Vec<_> = core
        .tenants()
        .await?
        .into_iter()
        .filter(|t| t.status == TenantStatus::Active)
        .map(|t| t.id)
        .collect();
    let mut tx = core.pool.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO control.worker_ticks (schedule, tick, jobs) VALUES ($1, $2, $3)
         ON CONFLICT (schedule, tick) DO NOTHING",
    )
    .bind(J::NAME)
    .bind(tick)
    .bind(i32::try_from(tenants.len()).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Ok(0);
    }
    let n = enqueue(&mut tx, tenants.into_iter().map(J::for_org)).await?;
    sqlx::query(
        "DELETE FROM control.worker_ticks WHERE schedule = $1 AND tick < $2 - interval '1 day'",
    )
    .bind(J::NAME)
    .bind(tick)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    metrics::counter!("coinsence_jobs_enqueued_total", "kind" => J::NAME).increment(n as u64);
    Ok(n)
}

/// Turns one tick of the exchange schedule into one [`ExchangeRound`] job per pair (pairs of
/// currencies listed by two orgs are made known on the way, with `interval` as a new pair's
/// window). Claimed once across every worker process, like [`fan_out`].
pub async fn fan_out_pairs(
    core: &Core,
    tick: DateTime<Utc>,
    interval: std::time::Duration,
) -> anyhow::Result<usize> {
    let pairs = core.exchange_pairs(interval).await?;
    let mut tx = core.pool.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO control.worker_ticks (schedule, tick, jobs) VALUES ($1, $2, $3)
         ON CONFLICT (schedule, tick) DO NOTHING",
    )
    .bind(ExchangeRound::NAME)
    .bind(tick)
    .bind(i32::try_from(pairs.len()).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Ok(0);
    }
    let jobs = pairs.into_iter().map(|p| ExchangeRound {
        base: p.base.as_str().to_owned(),
        quote: p.quote.as_str().to_owned(),
    });
    let n = enqueue(&mut tx, jobs).await?;
    sqlx::query(
        "DELETE FROM control.worker_ticks WHERE schedule = $1 AND tick < $2 - interval '1 day'",
    )
    .bind(ExchangeRound::NAME)
    .bind(tick)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    metrics::counter!("coinsence_jobs_enqueued_total", "kind" => ExchangeRound::NAME)
        .increment(n as u64);
    Ok(n)
}

/// Enqueues a migration job to `target` for each org in `behind` that has none waiting or
/// running, in one transaction: either every job is queued or none is, and an org that already
/// has a migration job waiting or running gets no second one. How many were enqueued.
pub async fn enqueue_migrations(
    pool: &PgPool,
    behind: &[TenantId],
    target: i64,
) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('coinsence-migrate-background'))")
        .execute(&mut *tx)
        .await?;
    let waiting: Vec<String> = sqlx::query_scalar(
        "SELECT convert_from(job, 'UTF8') FROM apalis.jobs
         WHERE job_type = $1 AND status IN ('Pending', 'Queued', 'Running')",
    )
    .bind(MigrateTenant::NAME)
    .fetch_all(&mut *tx)
    .await?;
    let waiting: Vec<TenantId> = waiting
        .iter()
        .filter_map(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .filter_map(|v| v["job"]["tenant"].as_i64().map(TenantId))
        .collect();
    let jobs: Vec<MigrateTenant> = behind
        .iter()
        .filter(|id| !waiting.contains(id))
        .map(|&tenant| MigrateTenant {
            tenant,
            target_version: target,
        })
        .collect();
    let n = enqueue(&mut tx, jobs).await?;
    tx.commit().await?;
    Ok(n)
}

/// Whether the job queue exists yet (a worker creates it when it starts).
pub async fn has_job_queue(pool: &PgPool) -> anyhow::Result<bool> {
    let queue: Option<String> = sqlx::query_scalar("SELECT to_regclass('apalis.jobs')::text")
        .fetch_one(pool)
        .await?;
    Ok(queue.is_some())
}
