//! `coinsence chat --org <org> --as <name>`: the console chat. One line in, the reply out, on a
//! terminal or through a pipe.

use std::io::IsTerminal;

use coinsence_api::Core;
use coinsence_api::cluster::{Cluster, ClusterOptions};
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::console::{self, ConsoleSession};
use coinsence_bots::{Engine, EngineConfig};
use tokio::io::BufReader;

use crate::cli::{ChatArgs, LocalDbArgs};

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let (cluster, url) = database(&args.db).await?;
    let result = chat(&args, &url).await;
    if let Some(cluster) = cluster {
        cluster.stop()?;
    }
    result
}

/// The database to use: `--database-url`, the running `coinsence up`'s cluster, or that cluster
/// started for this command (and stopped after it).
pub async fn database(args: &LocalDbArgs) -> anyhow::Result<(Option<Cluster>, String)> {
    if let Some(url) = &args.database_url {
        return Ok((None, url.clone()));
    }
    let dir = args.data_dir.join("postgres");
    if let Some(url) = Cluster::running_url(&dir, "postgres")
        && coinsence_api::cluster::connect(&url, 1).await.is_ok()
    {
        return Ok((None, url));
    }
    if !dir.join("data").exists() {
        anyhow::bail!(
            "no database: run `coinsence up` first (it creates the demo org), or pass --database-url"
        );
    }
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
    Ok((Some(cluster), url))
}

async fn chat(args: &ChatArgs, url: &str) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(url, 4).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let core = Core::new(pool);
    let tenant = core.tenant(&args.org).await?;
    core.bind_room(
        ChatPlatform::Console,
        &console::room_for_org(tenant.slug.as_str()),
        &tenant,
    )
    .await?;
    let engine = Engine::new(
        core,
        EngineConfig {
            platform: ChatPlatform::Console,
            public_url: args.public_url.clone(),
        },
    );
    let session = ConsoleSession::for_org(tenant.slug.as_str(), &args.name);
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "{} in {}. Type /help for the commands; Ctrl-D leaves.",
            session.name, tenant.name
        );
    }
    let prompt = if interactive { "> " } else { "" };
    console::run(
        &engine,
        &session,
        BufReader::new(tokio::io::stdin()),
        tokio::io::stdout(),
        prompt,
    )
    .await?;
    Ok(())
}
