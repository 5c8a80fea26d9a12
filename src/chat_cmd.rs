//! `coinsence chat --org <org> --as <name>`: the console chat. One line in, the reply out, on a
//! terminal or through a pipe.

use std::io::IsTerminal;

use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::console::{self, ConsoleSession};
use coinsence_bots::{Engine, EngineConfig};
use tokio::io::BufReader;

use crate::cli::ChatArgs;
use crate::database::Database;
use crate::interrupt::Interrupts;
use crate::say::tr;

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    // Ctrl-C ends the chat, not the process: a cluster started for it is stopped first.
    let mut interrupts = Interrupts::install()?;
    let db = Database::find(args.db.database_url.as_deref(), &args.db.data_dir).await?;
    let result = tokio::select! {
        result = chat(&args, &db.url) => result,
        () = interrupts.next() => Ok(()),
    };
    db.close().await?;
    result
}

async fn chat(args: &ChatArgs, url: &str) -> anyhow::Result<()> {
    let (pool, config) = args.core.connect(url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let core = Core::with_config(pool, config);
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
            "{}",
            tr!("cli-chat-welcome", name = session.name, org = tenant.name)
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
