//! Serving the API until Ctrl-C (or SIGTERM).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::http::serve::ServeConfig;
use coinsence_api::http::{HttpConfig, metrics_router, router_with, with_common_layers};
use coinsence_tenant_admin::PortalConfig;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// File descriptors kept for the pool's connections, the log and the like.
const FDS_RESERVED: u64 = 256;

pub async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    crate::database::with(&args.db, |url| serve_on(&args, url)).await
}

async fn serve_on(args: &ServeArgs, url: String) -> anyhow::Result<()> {
    let fds = raise_file_limit();
    let (pool, core_config) = args.core.connect(&url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let listener = bind(args.listen).await?;
    tracing::info!("serving on http://{}", listener.local_addr()?);
    let core = Core::with_config(pool.clone(), core_config);
    let billing = crate::payments::install(core, &args.billing)?;
    let core = billing.core;
    // Follow-up jobs go to the workers' queue once a worker has created it; until then the
    // workers' schedules do the same work, a little later.
    let core = if coinsence_worker::enqueue::has_job_queue(&pool).await? {
        core.with_follow_ups(std::sync::Arc::new(coinsence_worker::enqueue::JobFollowUps))
    } else {
        tracing::info!("no job queue yet (start a worker): follow-ups are left to its schedules");
        core
    };
    let mut max_connections = args.max_connections;
    if let Some(fds) = fds {
        let fit = usize::try_from(fds.saturating_sub(FDS_RESERVED)).unwrap_or(usize::MAX);
        if fit < max_connections {
            tracing::warn!(
                fds,
                "the file limit allows {fit} connections, not {max_connections}"
            );
            max_connections = fit.max(1);
        }
    }
    let config = ServeConfig {
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_connections,
    };
    let mut http = args.http.config();
    if let Some(addr) = args.metrics_listen {
        let metrics = bind(addr).await?;
        tracing::info!("metrics on http://{}/metrics", metrics.local_addr()?);
        http.public_metrics = false;
        tokio::spawn(async move { axum::serve(metrics, metrics_router()).await });
    }
    let portal = PortalConfig {
        https: args.portal_https,
        trust_proxy: args.trust_proxy,
        limits: http.limits,
    };
    serve_routes(
        listener,
        core,
        http,
        portal,
        config,
        billing.webhook,
        shutdown_signal(),
    )
    .await
}

/// Raises the open-file soft limit to the hard limit (each connection takes one); the limit
/// now in force, if known.
pub fn raise_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::debug!(limit, "open-file limit");
            Some(limit)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            None
        }
    }
}

pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; pass --listen with a free address"))
}

/// Serves with the default limits (`coinsence up`, the benchmarks), and `extra` routes next to
/// the API (billing's webhook).
pub async fn serve(
    listener: TcpListener,
    core: Core,
    extra: Option<axum::Router>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    raise_file_limit();
    serve_routes(
        listener,
        core,
        HttpConfig::default(),
        PortalConfig::default(),
        ServeConfig::default(),
        extra,
        shutdown,
    )
    .await
}

/// Serves the API at /v1, the portal at /, and `extra` routes next to them (billing's webhook).
pub async fn serve_routes(
    listener: TcpListener,
    core: Core,
    http: HttpConfig,
    portal: PortalConfig,
    config: ServeConfig,
    extra: Option<axum::Router>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Orgs signed up right after a start are ready as fast as later ones.
    core.replenish_spares();
    // The API at /v1 (with the fallback for unknown paths), the portal at /.
    let portal = with_common_layers(coinsence_tenant_admin::router(core.clone(), portal));
    let mut router = router_with(core, http).merge(portal);
    if let Some(extra) = extra {
        router = extra.merge(router);
    }
    coinsence_api::http::serve::serve(listener, router, config, shutdown).await?;
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
