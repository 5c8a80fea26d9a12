//! Putting jobs on the queue: on the caller's connection (so a job that follows a change is
//! enqueued in that change's transaction), and the fan-out of a schedule's tick into one job
//! per org, claimed once across every worker process.

use apalis::prelude::TaskBuilder;
use chrono::{DateTime, Utc};
use coinsence_api::Core;
use coinsence_api::domain::tenancy::TenantStatus;
use sqlx::PgConnection;

use crate::jobs::{Envelope, Job, PerOrg};

/// Enqueues jobs on the caller's connection or transaction; they exist once it commits.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    jobs: impl IntoIterator<Item = J>,
) -> anyhow::Result<usize> {
    let enqueued_at = Utc::now();
    let tasks = jobs
        .into_iter()
        .map(|job| {
            let bytes = serde_json::to_vec(&Envelope { enqueued_at, job })?;
            Ok(TaskBuilder::new(bytes)
                .max_attempts(J::MAX_ATTEMPTS)
                .build())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n = tasks.len();
    if n > 0 {
        apalis_postgres::queries::push_tasks(conn, J::NAME, tasks).await?;
    }
    Ok(n)
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
