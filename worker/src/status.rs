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
            && let Err(e) = sqlx::query(
                "DELETE FROM apalis.jobs WHERE status = 'Done' AND done_at < now() - interval '1 day'",
            )
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "pruning finished jobs failed");
        }
        rounds += 1;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
