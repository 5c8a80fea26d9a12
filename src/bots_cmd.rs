//! `coinsence bots`: runs the configured chat bots in this process, each with outbox delivery to
//! its rooms, until Ctrl-C.

use std::time::Duration;

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::discord::{DiscordBot, DiscordConfig};
use coinsence_bots::matrix::{Credentials, MatrixBot, MatrixConfig};
use coinsence_bots::{Engine, EngineConfig};

use crate::cli::BotsArgs;
use crate::server;

pub async fn run(args: BotsArgs) -> anyhow::Result<()> {
    if args.discord {
        if args.matrix {
            anyhow::bail!("--matrix and --discord run in separate processes for now");
        }
        let pool =
            coinsence_api::cluster::connect(&args.db.database_url, args.db.pool_size).await?;
        coinsence_api::migrate::migrate_control(&pool).await?;
        return discord(&args, Core::new(pool)).await;
    }
    if !args.matrix {
        anyhow::bail!("no bot chosen: pass --matrix (with --matrix-homeserver and --matrix-user)");
    }
    let config = matrix_config(&args)?;
    let pool = coinsence_api::cluster::connect(&args.db.database_url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let engine = Engine::new(
        Core::new(pool),
        EngineConfig {
            platform: ChatPlatform::Matrix,
            public_url: args.public_url.clone(),
        },
    );
    let bot = MatrixBot::login(&config, engine)
        .await
        .with_context(|| format!("logging in to {}", config.homeserver))?;
    bot.run(config.delivery_interval, server::shutdown_signal())
        .await?;
    Ok(())
}

/// The Matrix settings from flags and environment; a missing one is named.
fn matrix_config(args: &BotsArgs) -> anyhow::Result<MatrixConfig> {
    let homeserver = args
        .matrix_homeserver
        .clone()
        .context("--matrix needs --matrix-homeserver (or MATRIX_HOMESERVER)")?;
    let user = args
        .matrix_user
        .clone()
        .context("--matrix needs --matrix-user (or MATRIX_USER)")?;
    let credentials = match (&args.matrix_password, &args.matrix_token) {
        (Some(password), None) => Credentials::Password(password.clone()),
        (None, Some(token)) => Credentials::Token {
            access_token: token.clone(),
            device_id: args
                .matrix_device_id
                .clone()
                .context("--matrix-token needs --matrix-device-id (or MATRIX_DEVICE_ID)")?,
        },
        (Some(_), Some(_)) => anyhow::bail!("give --matrix-password or --matrix-token, not both"),
        (None, None) => anyhow::bail!(
            "--matrix needs --matrix-password (MATRIX_PASSWORD) or --matrix-token (MATRIX_ACCESS_TOKEN)"
        ),
    };
    Ok(MatrixConfig {
        homeserver,
        user,
        credentials,
        store_dir: args.matrix_store.clone(),
        store_passphrase: args.matrix_store_passphrase.clone(),
        delivery_interval: Duration::from_millis(args.delivery_interval_ms.max(50)),
    })
}

/// The Discord bot with outbox delivery, until Ctrl-C. The token is checked and the gateway
/// looked up before anything else, so a bad token fails here, with Discord's answer.
async fn discord(args: &BotsArgs, core: Core) -> anyhow::Result<()> {
    let token = args
        .discord_token
        .clone()
        .context("--discord needs --discord-token (or DISCORD_BOT_TOKEN)")?;
    let mut config = DiscordConfig::new(token);
    config.api_base = args.discord_api_base.clone();
    config.message_content = args.discord_message_content;
    config.delivery_interval = Duration::from_millis(args.delivery_interval_ms.max(50));
    let engine = Engine::new(
        core,
        EngineConfig {
            platform: ChatPlatform::Discord,
            public_url: args.public_url.clone(),
        },
    );
    let bot = DiscordBot::connect(config, engine)
        .await
        .context("connecting to Discord")?;
    bot.run(server::shutdown_signal()).await?;
    Ok(())
}
