//! `coinsence up`: a private PostgreSQL under the data directory (unless DATABASE_URL is
//! given), migrations, the demo org on first run, and the API, until Ctrl-C stops it all.

use coinsence_api::Core;
use coinsence_api::cluster::{Cluster, ClusterOptions};

use crate::cli::UpArgs;
use crate::{demo, server};

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let (cluster, url) = match &args.database_url {
        Some(url) => (None, url.clone()),
        None => {
            let dir = args.data_dir.join("postgres");
            eprintln!("starting PostgreSQL in {}", dir.display());
            let cluster = tokio::task::spawn_blocking(move || {
                Cluster::start(
                    &dir,
                    ClusterOptions {
                        fsync: true,
                        remove_on_exit: false,
                    },
                )
            })
            .await??;
            let url = cluster.url("postgres");
            (Some(cluster), url)
        }
    };
    let result = run_on(&args, &url).await;
    if let Some(cluster) = cluster {
        eprintln!("stopping PostgreSQL");
        cluster.stop()?;
    }
    result
}

async fn run_on(args: &UpArgs, url: &str) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(url, 32).await?;
    let summary = coinsence_api::migrate::migrate_all(&pool, |_, _| {}).await?;
    tracing::info!(orgs = summary.orgs, "migrated");
    let core = Core::new(pool);
    let (admin, token) = demo::ensure(&core).await?;
    let listener = server::bind(args.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("Coinsence is up at {base}");
    println!(
        "demo org: {} (currency {}), admin {} <{}>",
        demo::SLUG,
        demo::CURRENCY,
        admin.display_name,
        admin.email
    );
    println!("admin token: {}", token.expose());
    println!(
        "try:  curl -H 'Authorization: Bearer {}' {base}/v1/orgs/{}/accounts",
        token.expose(),
        demo::SLUG
    );
    println!("API document: {base}/v1/openapi.json — press Ctrl-C to stop");
    server::serve(listener, core, server::shutdown_signal()).await
}
