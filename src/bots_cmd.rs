//! `coinsence bots`: runs the configured chat bots in this process, each with outbox delivery to
//! its rooms, until Ctrl-C.

use std::time::Duration;

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::matrix::{Credentials, MatrixBot, MatrixConfig};
use coinsence_bots::telegram::{TelegramBot, TelegramConfig, Webhook};
use coinsence_bots::{Engine, EngineConfig};

use crate::cli::BotsArgs;
use crate::server;

pub async fn run(args: BotsArgs) -> anyhow::Result<()> {
    if args.telegram {
        if args.matrix {
            anyhow::bail!(
                "--matrix and --telegram in one process are not supported yet; run one `coinsence bots` for each"
            );
        }
        return telegram(&args).await;
    }
    if !args.matrix {
        anyhow::bail!(
            "no bot chosen: pass --matrix (with --matrix-homeserver and --matrix-user) or --telegram (with TELEGRAM_BOT_TOKEN)"
        );
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

/// The Telegram bot: long polling (or a webhook) and outbox delivery until Ctrl-C.
async fn telegram(args: &BotsArgs) -> anyhow::Result<()> {
    let token = args
        .telegram_token
        .clone()
        .context("--telegram needs TELEGRAM_BOT_TOKEN (or --telegram-token)")?;
    let webhook = args.telegram_webhook_url.clone().map(|url| Webhook {
        url,
        listen: args.telegram_webhook_listen,
        secret: args.telegram_webhook_secret.clone(),
    });
    let config = TelegramConfig {
        api_url: args.telegram_api_url.clone(),
        webhook,
        ..TelegramConfig::new(token)
    };
    let pool = coinsence_api::cluster::connect(&args.db.database_url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let engine = Engine::new(
        Core::new(pool),
        EngineConfig {
            platform: ChatPlatform::Telegram,
            public_url: args.public_url.clone(),
        },
    );
    // The error never holds the token: teloxide strips it from request URLs.
    let bot = TelegramBot::connect(&config, engine)
        .await
        .context("connecting to the Telegram Bot API")?;
    bot.run(
        Duration::from_millis(args.delivery_interval_ms.max(50)),
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
