//! What the queues hold, for `coinsence worker --status` and the Prometheus gauges.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::jobs;

/// Jobs of one kind by state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct JobCounts {
    pub kind: String,
    /// Waiting to run (including failed ones that will be retried).
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    /// Gave up: out of attempts, or killed.
    pub failed: i64,
    /// Failed at least once and will be retried.
    pub retrying: i64,
}

/// An apalis worker (one job kind in one process) and when it last reported.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WorkerSeen {
    pub id: String,
    pub queue: String,
    pub last_seen: DateTime<Utc>,
}

/// Counts per job kind, every known kind listed even when empty.
pub async fn job_counts(pool: &PgPool) -> anyhow::Result<Vec<JobCounts>> {
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT job_type,
                count(*) FILTER (WHERE status IN ('Pending', 'Queued')
                                    OR (status = 'Failed' AND attempts < max_attempts)),
                count(*) FILTER (WHERE status = 'Running'),
                count(*) FILTER (WHERE status = 'Done'),
                count(*) FILTER (WHERE status = 'Killed'
                                    OR (status = 'Failed' AND attempts >= max_attempts)),
                count(*) FILTER (WHERE status = 'Failed' AND attempts < max_attempts)
         FROM apalis.jobs GROUP BY job_type ORDER BY job_type",
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<JobCounts> = jobs::ALL
        .iter()
        .map(|k| JobCounts {
            kind: (*k).to_owned(),
            ..JobCounts::default()
        })
        .collect();
    for (kind, queued, running, done, failed, retrying) in rows {
        let counts = JobCounts {
            kind: kind.clone(),
            queued,
            running,
            done,
            failed,
            retrying,
        };
        match out.iter_mut().find(|c| c.kind == kind) {
            Some(slot) => *slot = counts,
            None => out.push(counts),
        }
    }
    Ok(out)
}

/// apalis workers seen within `within`.
pub async fn workers(pool: &PgPool, within: Duration) -> anyhow::Result<Vec<WorkerSeen>> {
    Ok(sqlx::query_as(
        "SELECT id, worker_type AS queue, last_seen FROM apalis.workers
         WHERE last_seen > now() - make_interval(secs => $1) ORDER BY worker_type, id",
    )
    .bind(within.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// The latest tick each schedule fanned out, and how many jobs it made.
pub async fn last_ticks(pool: &PgPool) -> anyhow::Result<Vec<(String, DateTime<Utc>, i32)>> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT ON (schedule) schedule, tick, jobs FROM control.worker_ticks
         ORDER BY schedule, tick DESC",
    )
    .fetch_all(pool)
    .await?)
}

/// Keeps the `coinsence_jobs` gauges (queued, running, failed per kind) current until stopped,
/// and drops finished jobs older than a day so the queue table stays small.
pub async fn refresh_metrics(pool: PgPool, mut stop: watch::Receiver<bool>) {
    let mut rounds = 0u64;
    loop {
        match job_counts(&pool).await {
            Ok(all) => {
                for c in all {
                    for (state, n) in [
                        ("queued", c.queued),
                        ("running", c.running),
                        ("failed", c.failed),
                        ("retrying", c.retrying),
                    ] {
                        metrics::gauge!("coinsence_jobs", "kind" => c.kind.clone(), "state" => state)
                            .set(n as f64);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading job counts failed"),
        }
        if rounds.is_multiple_of(40)
            && let Err(e) = prune(&pool, chrono::Duration::days(1)).await
        {
            tracing::warn!(error = %format!("{e:#}"), "pruning finished jobs and dead workers failed");
        }
        rounds += 1;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// What [`prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub jobs: u64,
    pub workers: u64,
}

/// Housekeeping: finished jobs older than `age` go, and so do apalis workers not seen for `age`
/// (every process registers new ones when it starts, so they would pile up forever). A job a dead
/// worker gave up on stays for inspection, detached from it; a job it held while running is left
/// alone (apalis re-enqueues those), and so is its worker row until then.
pub async fn prune(pool: &PgPool, age: chrono::Duration) -> anyhow::Result<Pruned> {
    let before = Utc::now() - age;
    let mut tx = pool.begin().await?;
    let jobs = sqlx::query("DELETE FROM apalis.jobs WHERE status = 'Done' AND done_at < $1")
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query(
        "UPDATE apalis.jobs j SET lock_by = NULL
         FROM apalis.workers w
         WHERE j.lock_by = w.id AND w.last_seen < $1
           AND (j.status IN ('Done', 'Killed') OR (j.status = 'Failed' AND j.attempts >= j.max_attempts))",
    )
    .bind(before)
    .execute(&mut *tx)
    .await?;
    let workers = sqlx::query(
        "DELETE FROM apalis.workers w WHERE w.last_seen < $1
           AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)",
    )
    .bind(before)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Pruned { jobs, workers })
}
