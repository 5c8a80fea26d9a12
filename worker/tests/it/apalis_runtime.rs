//! The worker as it runs in production: apalis queues on PostgreSQL and cron schedules, here
//! firing every second, with a clock the test sets. Two worker "processes" (two runtimes with
//! their own instance names and connection pools) run at once where it matters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use coinsence_api::Core;
use coinsence_api::domain::governance::proposals::{NewProposal, ProposalStatus};
use coinsence_api::domain::governance::rules::Rules;
use coinsence_worker::enqueue::{JobFollowUps, enqueue, fan_out};
use coinsence_worker::jobs::{CloseDue, Job, MigrateTenant};
use coinsence_worker::{ManualClock, Worker, WorkerConfig, status};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::helpers::{
    TestDb, assert_verifies, balances, count, create_policy, db, org, policy, weeks,
};

const EVERY_SECOND: &str = "* * * * * *";
const NEVER: &str = "0 0 0 1 1 * 2099";

fn config(close_due: &str, issuance: &str) -> WorkerConfig {
    WorkerConfig {
        close_due: close_due.to_owned(),
        issuance: issuance.to_owned(),
        outbox: NEVER.to_owned(),
        seal: NEVER.to_owned(),
        exchange: NEVER.to_owned(),
        poll_interval: Duration::from_millis(200),
        ..WorkerConfig::default()
    }
}

/// A worker process of its own: its own pool and `Core`.
async fn start(
    db: &TestDb,
    clock: &ManualClock,
    config: WorkerConfig,
    stop: &watch::Receiver<bool>,
) -> JoinHandle<anyhow::Result<()>> {
    let pool = coinsence_api::cluster::connect(&db.url, 8).await.unwrap();
    let worker = Worker::new(Core::new(pool), Arc::new(clock.clone()), None, config);
    let mut stop = stop.clone();
    tokio::spawn(worker.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }))
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_proposal_is_closed_within_a_minute_of_the_worker_running_and_its_action_runs_once() {
    let db = db().await;
    let org = org(&db, "votes", 1).await;
    let rules: Rules = serde_json::from_value(json!({"method": "consent", "quorum_bp": 0,
        "voting_period_secs": 60, "proposers": "members"}))
    .unwrap();
    db.core.set_rules(&org.admin, rules).await.unwrap();
    let proposal: NewProposal = serde_json::from_value(json!({"title": "a gift",
        "action": {"kind": "issue_to_account", "currency": "COIN", "to_member": org.members[1].0, "amount": "5.00"}}))
    .unwrap();
    let opened = db.core.propose(&org.admin, proposal, None).await.unwrap();

    // The deadline passed while no worker ran; two workers start.
    let clock = ManualClock::new(Utc::now() + chrono::Duration::minutes(2));
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let a = start(&db, &clock, config(EVERY_SECOND, NEVER), &stopped).await;
    let b = start(&db, &clock, config(EVERY_SECOND, NEVER), &stopped).await;
    wait_until("closing the proposal", Duration::from_secs(60), || async {
        db.core
            .proposal(&org.admin, opened.id)
            .await
            .is_ok_and(|p| p.status != ProposalStatus::Open)
    })
    .await;
    eprintln!("closed {:?} after the workers started", started.elapsed());
    // Let more ticks pass: nothing runs twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(true);
    for w in [a, b] {
        w.await.unwrap().unwrap();
    }
    let closed = db.core.proposal(&org.admin, opened.id).await.unwrap();
    assert_eq!(closed.status, ProposalStatus::Passed, "{closed:?}");
    assert_eq!(
        count(
            &db,
            &org,
            "transfers WHERE kind = 'issuance' AND amount = 500"
        )
        .await,
        1
    );
    assert_eq!(balances(&db, &org).await[1].1, 500);
    let counts = status::job_counts(&db.pool).await.unwrap();
    let close = counts
        .iter()
        .find(|c| c.kind == CloseDue::NAME)
        .expect("counts");
    assert!(close.done >= 1 && close.failed == 0, "{close:?}");
    // One tick, one job per org, whichever worker claimed it.
    let ticks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM control.worker_ticks WHERE schedule = $1")
            .bind(CloseDue::NAME)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = $1")
        .bind(CloseDue::NAME)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(ticks, jobs, "each tick fanned out once (one org)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_issuance_by_two_workers_with_a_clock_that_skips_periods() {
    let db = db().await;
    let org = org(&db, "income", 40).await;
    create_policy(&db, &org, policy(Some("5.00"), None, None)).await;
    // The worker comes up two periods late.
    let clock = ManualClock::new(Utc::now() + weeks(2));
    let (stop, stopped) = watch::channel(false);
    let a = start(&db, &clock, config(NEVER, EVERY_SECOND), &stopped).await;
    let b = start(&db, &clock, config(NEVER, EVERY_SECOND), &stopped).await;
    wait_until("three periods", Duration::from_secs(60), || async {
        count(&db, &org, "issuance_runs").await == 3
    })
    .await;
    clock.advance(weeks(1));
    wait_until("the fourth period", Duration::from_secs(60), || async {
        count(&db, &org, "issuance_runs").await == 4
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(true);
    for w in [a, b] {
        w.await.unwrap().unwrap();
    }
    assert_eq!(count(&db, &org, "issuance_runs").await, 4);
    assert!(
        balances(&db, &org).await.iter().all(|(_, b)| *b == 2000),
        "{:?}",
        balances(&db, &org).await
    );
    assert_eq!(count(&db, &org, "transfers").await, 4 * 41);
    assert_verifies(&db, &org).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_fans_out_once_and_migration_jobs_bring_orgs_up_to_date() {
    let db = db().await;
    let one = org(&db, "first", 0).await;
    org(&db, "second", 0).await;
    coinsence_worker::setup(&db.pool).await.unwrap();
    let tick = Utc::now();
    let (x, y) = tokio::join!(
        fan_out::<CloseDue>(&db.core, tick),
        fan_out::<CloseDue>(&db.core, tick)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x + y, 2, "one job per org, from whichever claimed the tick");

    // An org left behind (its schema emptied) is migrated by a job enqueued in a transaction.
    let schema = one.tenant.schema();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema};"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let target = coinsence_api::migrate::tenant_target_version();
    let mut tx = db.pool.begin().await.unwrap();
    enqueue(
        &mut tx,
        [MigrateTenant {
            tenant: one.tenant.id,
            target_version: target,
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let clock = ManualClock::new(Utc::now());
    let (stop, stopped) = watch::channel(false);
    let w = start(&db, &clock, config(NEVER, NEVER), &stopped).await;
    let version_sql = format!("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations");
    wait_until("the migration job", Duration::from_secs(60), || async {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(version_sql.clone()))
            .fetch_one(&db.pool)
            .await
            .is_ok_and(|v| v == target)
    })
    .await;
    let _ = stop.send(true);
    w.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_backs_off_between_attempts_and_stops_at_its_limit() {
    let db = db().await;
    coinsence_worker::setup(&db.pool).await.unwrap();
    // An org that does not exist: its migration fails every time.
    let mut tx = db.pool.begin().await.unwrap();
    enqueue(
        &mut tx,
        [MigrateTenant {
            tenant: coinsence_api::domain::ids::TenantId(987_654_321),
            target_version: 1,
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let clock = ManualClock::new(Utc::now());
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let base = Duration::from_millis(100);
    let w = start(
        &db,
        &clock,
        WorkerConfig {
            retry_base: base,
            retry_max: Duration::from_secs(60),
            ..config(NEVER, NEVER)
        },
        &stopped,
    )
    .await;
    let attempts = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT attempts FROM apalis.jobs WHERE job_type = $1 AND status = 'Failed'",
        )
        .bind(MigrateTenant::NAME)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
        .unwrap_or(0)
    };
    let limit = i32::try_from(MigrateTenant::MAX_ATTEMPTS).unwrap_or(i32::MAX);
    wait_until("the last attempt", Duration::from_secs(60), || async {
        attempts().await >= limit
    })
    .await;
    // Without back-off the attempts follow each other within a poll interval; with it the
    // waits between them add up to at least base + 2 base + 4 base + 8 base.
    let waited = started.elapsed();
    assert!(
        waited >= base * 15,
        "{limit} attempts took only {waited:?}: no back-off"
    );
    tokio::time::sleep(base * 20).await;
    assert_eq!(attempts().await, limit, "no attempt after the last one");
    let _ = stop.send(true);
    w.await.unwrap().unwrap();

    // Housekeeping: the process's workers are long gone (as seen from a day later), the job
    // it gave up on stays for inspection.
    let pruned = status::prune(&db.pool, chrono::Duration::zero())
        .await
        .unwrap();
    assert!(pruned.workers >= 1, "{pruned:?}");
    let (workers, failed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM apalis.workers),
                (SELECT count(*) FROM apalis.jobs WHERE status = 'Failed')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((workers, failed), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_are_enqueued_with_their_change_and_run_without_the_schedules() {
    let db = db().await;
    coinsence_worker::setup(&db.pool).await.unwrap();
    let org = org(&db, "followed", 1).await;
    let core = Core::new(db.pool.clone()).with_follow_ups(Arc::new(JobFollowUps));
    let rules: Rules = serde_json::from_value(json!({"method": "consent", "quorum_bp": 0,
        "voting_period_secs": 60, "proposers": "members"}))
    .unwrap();
    core.set_rules(&org.admin, rules).await.unwrap();
    let proposal = |amount: &str| -> NewProposal {
        serde_json::from_value(json!({"title": "a gift",
            "action": {"kind": "issue_to_account", "currency": "COIN", "to_member": org.members[1].0, "amount": amount}}))
        .unwrap()
    };
    let opened = core
        .propose(&org.admin, proposal("5.00"), None)
        .await
        .unwrap();
    // A refused proposal leaves no job behind: the follow-up is part of the change.
    assert!(
        core.propose(&org.admin, proposal("5.001"), None)
            .await
            .is_err()
    );
    let jobs: Vec<(i64,)> = sqlx::query_as(
        "SELECT extract(epoch FROM run_at)::bigint FROM apalis.jobs WHERE job_type = $1",
    )
    .bind(CloseDue::NAME)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let deadline = opened.closes_at.timestamp();
    assert!(
        jobs.len() == 1 && (deadline..=deadline + 1).contains(&jobs[0].0),
        "one close job at the deadline {deadline}: {jobs:?}"
    );
    core.create_issuance_policy(&org.admin, policy(Some("3.00"), None, None))
        .await
        .unwrap();

    // The deadline comes (the job is made due; the worker's clock is past it). The schedules
    // never fire, so only the follow-ups can close the vote and pay the income.
    sqlx::query("UPDATE apalis.jobs SET run_at = now() WHERE job_type = $1")
        .bind(CloseDue::NAME)
        .execute(&db.pool)
        .await
        .unwrap();
    let clock = ManualClock::new(Utc::now() + chrono::Duration::minutes(2));
    let (stop, stopped) = watch::channel(false);
    let w = start(&db, &clock, config(NEVER, NEVER), &stopped).await;
    wait_until("the follow-ups", Duration::from_secs(60), || async {
        let closed = db
            .core
            .proposal(&org.admin, opened.id)
            .await
            .is_ok_and(|p| p.status == ProposalStatus::Passed);
        closed && balances(&db, &org).await[1].1 == 300 + 500
    })
    .await;
    let _ = stop.send(true);
    w.await.unwrap().unwrap();
    let ticks: i64 = sqlx::query_scalar("SELECT count(*) FROM control.worker_ticks")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(ticks, 0, "no schedule fired");
    assert_verifies(&db, &org).await;
}
