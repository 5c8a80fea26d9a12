//! Serving the API until Ctrl-C (or SIGTERM).

use std::net::SocketAddr;

use anyhow::Context;
use coinsence_api::Core;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

pub async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&args.db.database_url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let listener = bind(args.listen).await?;
    tracing::info!("serving on http://{}", listener.local_addr()?);
    let core = Core::new(pool.clone());
    // Follow-up jobs go to the workers' queue once a worker has created it; until then the
    // workers' schedules do the same work, a little later.
    let has_jobs: Option<String> = sqlx::query_scalar("SELECT to_regclass('apalis.jobs')::text")
        .fetch_one(&pool)
        .await?;
    let core = if has_jobs.is_some() {
        core.with_follow_ups(std::sync::Arc::new(coinsence_worker::enqueue::JobFollowUps))
    } else {
        tracing::info!("no job queue yet (start a worker): follow-ups are left to its schedules");
        core
    };
    serve(listener, core, shutdown_signal()).await
}

pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; pass --listen with a free address"))
}

pub async fn serve(
    listener: TcpListener,
    core: Core,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Orgs signed up right after a start are ready as fast as later ones.
    core.spares.replenish(&core.pool);
    axum::serve(listener, coinsence_api::http::router(core))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
}
