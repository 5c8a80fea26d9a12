//! `coinsence bench issuance` and `coinsence bench jobs`, on a private durable (fsync on)
//! cluster unless `--database-url` is given. Not tests: run them with `--release` and read the
//! figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use coinsence_api::Core;
use coinsence_api::cluster::{Cluster, ClusterOptions};
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::issuance::{NewIssuancePolicy, Period};
use coinsence_api::domain::ledger::ops::NewCurrency;
use coinsence_api::domain::orgs::{Member, NewOrg};
use coinsence_api::domain::tenancy::OrgSlug;
use coinsence_worker::jobs::{Job, Noop};
use coinsence_worker::{SystemClock, Worker, WorkerConfig};
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::cli::{IssuanceBenchArgs, JobsBenchArgs};

/// A migrated pool (and its URL) on `--database-url`, or on a fresh private, durable cluster that
/// goes away with the process. Every benchmark starts here.
pub(crate) async fn database(
    url: Option<&str>,
    pool_size: u32,
) -> anyhow::Result<(PgPool, String, Option<Cluster>)> {
    let (cluster, url) = match url {
        Some(url) => (None, url.to_owned()),
        None => {
            let dir = std::env::temp_dir().join(format!("coinsence-bench-{}", std::process::id()));
            let cluster = tokio::task::spawn_blocking(move || {
                Cluster::start(
                    &dir,
                    ClusterOptions {
                        fsync: true,
                        remove_on_exit: true,
                    },
                )
            })
            .await??;
            let url = cluster.url("postgres");
            (Some(cluster), url)
        }
    };
    let pool = coinsence_api::cluster::connect(&url, pool_size).await?;
    coinsence_api::migrate::migrate_all(&pool, |_, _| {}).await?;
    Ok((pool, url, cluster))
}

/// A fresh open org for a benchmark, named `<prefix>-<random>`, with a scale-2 currency `code`;
/// its slug and its owner as admin.
pub(crate) async fn bench_org(
    core: &Core,
    prefix: &str,
    code: &str,
) -> anyhow::Result<(String, Member)> {
    let slug = format!("{prefix}-{:08x}", rand::random::<u32>());
    let owner = core
        .signup(
            &format!("owner@{slug}.bench"),
            "bench-password".to_owned(),
            "Bench owner",
            Some(NewOrg {
                slug: OrgSlug::parse(&slug)?,
                name: format!("{prefix} bench"),
                open: true,
                language: Default::default(),
            }),
        )
        .await?;
    let admin = core.member_for_token(&owner.token, &slug).await?;
    core.create_currency(
        &admin,
        NewCurrency {
            code: code.to_owned(),
            name: format!("{code} bench coin"),
            scale: 2,
            credit_limit: None,
        },
    )
    .await?;
    Ok((slug, admin))
}

pub async fn issuance(args: IssuanceBenchArgs) -> anyhow::Result<()> {
    let (pool, _, _cluster) = database(args.database_url.as_deref(), 8).await?;
    let core = Core::new(pool.clone());
    let (slug, admin) = bench_org(&core, "issue", "BASIC").await?;
    eprintln!("adding {} members ...", args.members);
    let ids: Vec<UserId> = sqlx::query_scalar(
        "INSERT INTO control.users (email, password_hash, display_name)
         SELECT $1 || '-' || i || '@bench.test', '!', 'member ' || i FROM generate_series(1, $2) i
         RETURNING id",
    )
    .bind(&slug)
    .bind(i64::try_from(args.members)?)
    .fetch_all(&pool)
    .await?;
    core.admit_members(&admin, &ids).await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    core.create_issuance_policy(
        &admin,
        NewIssuancePolicy {
            currency: "BASIC".to_owned(),
            period: Period::Weekly,
            time_zone: Some("Europe/Berlin".to_owned()),
            fixed_amount: Some("10.00".to_owned()),
            top_up_to: None,
            demurrage_bp: (args.demurrage_bp > 0).then_some(args.demurrage_bp),
            starts_at: None,
        },
    )
    .await?;
    let tenant = core.tenant(&slug).await?;
    let mut times = Vec::new();
    for (label, now) in [
        ("first period", Utc::now()),
        ("next period", Utc::now() + chrono::Duration::days(7)),
    ] {
        let start = Instant::now();
        let done = core.run_scheduled_issuance(&tenant, now).await?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "issuance, {label}: {} members paid ({} fees) in {secs:.2} s",
            done.issued_count, done.demurrage_count
        );
        if done.periods != 1 || done.issued_count != i64::try_from(args.members)? + 1 {
            bail!("expected one period paying every member and the owner, got {done:?}");
        }
        times.push(secs);
    }
    let start = Instant::now();
    let again = core
        .run_scheduled_issuance(&tenant, Utc::now() + chrono::Duration::days(7))
        .await?;
    println!(
        "issuance, run again in the same period: {} periods, {:.3} s",
        again.periods,
        start.elapsed().as_secs_f64()
    );
    let checks = core.verify_ledger(&admin).await?;
    let ok = checks.iter().all(|c| c.ok);
    println!(
        "ledger verifies: {ok} ({} journal entries)",
        checks.iter().map(|c| c.journal_entries).sum::<i64>()
    );
    println!(
        "scheduled issuance, {} members: {:.2} s per period (target <= 5 s)",
        args.members,
        times.iter().copied().fold(0.0, f64::max)
    );
    if !ok {
        bail!("the ledger does not verify");
    }
    Ok(())
}

/// Polls until `n` noop jobs are done.
async fn wait_done(pool: &PgPool, n: i64, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'",
        )
        .bind(Noop::NAME)
        .fetch_one(pool)
        .await?;
        if done >= n {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!("only {done} of {n} jobs done after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn jobs(args: JobsBenchArgs) -> anyhow::Result<()> {
    let (pool, _, _cluster) = database(args.database_url.as_deref(), 32).await?;
    coinsence_worker::setup(&pool).await?;
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = $1")
        .bind(Noop::NAME)
        .execute(&pool)
        .await?;
    let core = Core::new(pool.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = WorkerConfig {
        concurrency: args.concurrency,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(core, Arc::new(SystemClock), None, config).bench_only();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Latency: one job at a time on an idle queue, from the enqueuing commit until the job is
    // seen done (the no-op itself takes nothing).
    let mut latencies = Vec::new();
    for i in 0..200u64 {
        let start = Instant::now();
        let mut conn = pool.acquire().await?;
        coinsence_worker::enqueue::enqueue(&mut conn, [Noop { n: i }]).await?;
        drop(conn);
        wait_done(&pool, i64::try_from(i + 1)?, Duration::from_secs(30)).await?;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let ms = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies
            .get(i)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "pickup, idle queue (enqueue commit -> done, 200 jobs one at a time): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );

    // Throughput: every job enqueued at once, drained by the worker.
    let n = args.jobs;
    let start = Instant::now();
    let mut tx = pool.begin().await?;
    coinsence_worker::enqueue::enqueue(&mut tx, (0..n as u64).map(|n| Noop { n })).await?;
    tx.commit().await?;
    let enqueued = start.elapsed();
    wait_done(&pool, 200 + i64::try_from(n)?, Duration::from_secs(600))
        .await
        .context("draining the queue")?;
    let elapsed = start.elapsed();
    println!(
        "throughput: {n} no-op jobs enqueued in {:.2} s, all done after {:.2} s: {:.0} jobs/s (concurrency {})",
        enqueued.as_secs_f64(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        args.concurrency
    );
    let _ = stop.send(());
    running.await??;
    Ok(())
}
