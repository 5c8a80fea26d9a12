//! `coinsence worker`: the background jobs until Ctrl-C, with Prometheus metrics; `--status`
//! shows the queues instead.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use coinsence_api::Core;
use coinsence_api::domain::governance::outbox::OutboxSink;
use coinsence_worker::sinks::LogSink;
use coinsence_worker::{SystemClock, Worker, WorkerConfig, status};

use crate::cli::WorkerArgs;
use crate::server;

pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    crate::database::with(&args.db, |url| run_on(&args, url)).await
}

async fn run_on(args: &WorkerArgs, url: String) -> anyhow::Result<()> {
    let (pool, core_config) = args.core.connect(&url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    coinsence_worker::setup(&pool).await?;
    if args.status {
        return print_status(&pool).await;
    }
    // The API's recorder: the same metrics names whether the worker runs alone or in `up`.
    let _ = coinsence_api::http::ops::prometheus();
    let listener = server::bind(args.metrics_listen).await?;
    tracing::info!(
        "worker metrics on http://{}/metrics",
        listener.local_addr()?
    );
    let metrics = Router::new().route("/metrics", get(coinsence_api::http::ops::metrics));
    tokio::spawn(async move { axum::serve(listener, metrics).await });
    let sink: Option<Arc<dyn OutboxSink>> = args.outbox_log.then(|| Arc::new(LogSink) as _);
    let config = WorkerConfig {
        concurrency: args.concurrency,
        exchange_interval: Duration::from_secs(args.exchange_interval),
        witness_every: (args.witness_every_secs > 0)
            .then(|| std::time::Duration::from_secs(args.witness_every_secs)),
        ..WorkerConfig::default()
    };
    let core = Core::with_config(pool, core_config);
    // Stored Stripe events are applied here, next to the jobs.
    let billing = crate::payments::install(core, &args.billing)?;
    let core = billing.core;
    if core.topups_on() {
        tokio::spawn(coinsence_billing::run_applier(
            core.clone(),
            billing.stored,
            crate::payments::APPLY_EVERY,
            server::shutdown_signal(),
        ));
    }
    Worker::new(core, Arc::new(SystemClock), sink, config)
        .run(server::shutdown_signal())
        .await
}

async fn print_status(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    println!(
        "{:<24} {:>8} {:>8} {:>10} {:>8} {:>9}",
        "job", "queued", "running", "done", "failed", "retrying"
    );
    for c in status::job_counts(pool).await? {
        println!(
            "{:<24} {:>8} {:>8} {:>10} {:>8} {:>9}",
            c.kind, c.queued, c.running, c.done, c.failed, c.retrying
        );
    }
    let workers = status::workers(pool, Duration::from_secs(120)).await?;
    println!("\nlive workers: {}", workers.len());
    for w in workers {
        println!("  {:<60} last seen {}", w.id, w.last_seen);
    }
    let ticks = status::last_ticks(pool).await?;
    if !ticks.is_empty() {
        println!("\nlast ticks:");
        for (schedule, tick, jobs) in ticks {
            println!("  {schedule:<24} {tick}  {jobs} jobs");
        }
    }
    Ok(())
}
