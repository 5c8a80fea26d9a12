//! `coinsence up`: a private PostgreSQL under the data directory (unless DATABASE_URL is
//! given), migrations, the demo org on first run, the API, and (on a terminal) the console chat,
//! until Ctrl-C stops it all.

use std::io::IsTerminal;

use coinsence_api::Core;
use coinsence_api::cluster::{Cluster, ClusterOptions};
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::console::{self, ConsoleSession};
use coinsence_bots::{Engine, EngineConfig};
use tokio::io::BufReader;

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
    let data_dir = args.data_dir.display();
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!(
            "the console chat: type chat commands here as Ada (try /help, /balance, /pay @ben 5 for lunch)"
        );
    }
    println!(
        "the console chat as someone else, in another terminal: coinsence chat --data-dir {data_dir} --org {} --as Ben",
        demo::SLUG
    );
    // The last line: scripts (and the tests) read up to it and may stop reading there.
    println!("API document: {base}/v1/openapi.json — press Ctrl-C to stop");
    if interactive {
        tokio::spawn(console_chat(core.clone(), base.clone()));
    }
    server::serve(listener, core, server::shutdown_signal()).await
}

/// The console chat on this terminal, as the demo admin; the server keeps running when it ends.
async fn console_chat(core: Core, base: String) {
    let engine = Engine::new(
        core,
        EngineConfig {
            platform: ChatPlatform::Console,
            public_url: base,
        },
    );
    let session = ConsoleSession::for_org(demo::SLUG, demo::PEOPLE[0]);
    let done = console::run(
        &engine,
        &session,
        BufReader::new(tokio::io::stdin()),
        tokio::io::stdout(),
        "> ",
    )
    .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "console chat stopped");
    }
}
