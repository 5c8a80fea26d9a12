//! `coinsence bots`: runs the configured chat bots in one process, each with outbox delivery to
//! its rooms, until Ctrl-C.
//!
//! Which bots: those named by `--matrix`, `--discord`, `--telegram`; with none named, every
//! platform whose credentials are in the environment. Every chosen platform's settings are
//! checked before any connects, and all the wrong ones are named at once. If one bot stops with
//! an error, the others are stopped too and the process fails, so a supervisor restarts it
//! whole.

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::discord::{DiscordBot, DiscordConfig};
use coinsence_bots::matrix::{Credentials, MatrixBot, MatrixConfig};
use coinsence_bots::telegram::{TelegramBot, TelegramConfig, Webhook};
use coinsence_bots::{Engine, EngineConfig};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cli::BotsArgs;
use crate::server;

/// One bot, configured and ready to connect.
enum Bot {
    Matrix(MatrixConfig),
    Discord(DiscordConfig),
    Telegram(TelegramConfig),
}

impl fmt::Display for Bot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Matrix(_) => "Matrix",
            Self::Discord(_) => "Discord",
            Self::Telegram(_) => "Telegram",
        })
    }
}

pub async fn run(args: BotsArgs) -> anyhow::Result<()> {
    let bots = configured(&args)?;
    let pool = coinsence_api::cluster::connect(&args.db.database_url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let core = Core::new(pool);
    let (stop, stopped) = watch::channel(false);
    let on_signal = stop.clone();
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = on_signal.send(true);
    });
    let delivery = Duration::from_millis(args.delivery_interval_ms.max(50));
    let mut running = JoinSet::new();
    for bot in bots {
        let name = bot.to_string();
        tracing::info!(bot = %name, "starting");
        let engine = |platform| {
            Engine::new(
                core.clone(),
                EngineConfig {
                    platform,
                    public_url: args.public_url.clone(),
                },
            )
        };
        let mut until = stopped.clone();
        let stopping = async move {
            let _ = until.wait_for(|s| *s).await;
        };
        let task = match bot {
            Bot::Matrix(config) => {
                let engine = engine(ChatPlatform::Matrix);
                Box::pin(async move {
                    let bot = MatrixBot::login(&config, engine)
                        .await
                        .with_context(|| format!("logging in to {}", config.homeserver))?;
                    bot.run(config.delivery_interval, stopping).await?;
                    anyhow::Ok(())
                }) as futures::future::BoxFuture<'static, anyhow::Result<()>>
            }
            Bot::Discord(config) => {
                let engine = engine(ChatPlatform::Discord);
                Box::pin(async move {
                    // The token is checked and the gateway looked up first: a bad token fails
                    // here, with Discord's answer.
                    let bot = DiscordBot::connect(config, engine)
                        .await
                        .context("connecting to Discord")?;
                    bot.run(stopping).await?;
                    Ok(())
                })
            }
            Bot::Telegram(config) => {
                let engine = engine(ChatPlatform::Telegram);
                Box::pin(async move {
                    // The error never holds the token: teloxide strips it from request URLs.
                    let bot = TelegramBot::connect(&config, engine)
                        .await
                        .context("connecting to the Telegram Bot API")?;
                    bot.run(delivery, stopping).await?;
                    Ok(())
                })
            }
        };
        running.spawn(async move { (name, task.await) });
    }
    let mut failed = None;
    while let Some(done) = running.join_next().await {
        let (name, result) = done.context("a bot task panicked")?;
        match result {
            Ok(()) => tracing::info!(bot = %name, "stopped"),
            Err(e) => {
                tracing::error!(bot = %name, error = %format!("{e:#}"), "bot failed; stopping the others");
                let _ = stop.send(true);
                failed.get_or_insert(e.context(format!("the {name} bot")));
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// The bots to run, each checked; every misconfigured one is named in the error.
fn configured(args: &BotsArgs) -> anyhow::Result<Vec<Bot>> {
    let named = args.matrix || args.discord || args.telegram;
    let (matrix, discord, telegram) = if named {
        (args.matrix, args.discord, args.telegram)
    } else {
        (
            args.matrix_homeserver.is_some(),
            args.discord_token.is_some(),
            args.telegram_token.is_some(),
        )
    };
    let delivery = Duration::from_millis(args.delivery_interval_ms.max(50));
    let mut bots = Vec::new();
    let mut wrong = Vec::new();
    let mut check = |platform: &str, bot: anyhow::Result<Bot>| match bot {
        Ok(bot) => bots.push(bot),
        Err(e) => wrong.push(format!("{platform}: {e:#}")),
    };
    if matrix {
        check("Matrix", matrix_config(args).map(Bot::Matrix));
    }
    if discord {
        check("Discord", discord_config(args, delivery).map(Bot::Discord));
    }
    if telegram {
        check("Telegram", telegram_config(args).map(Bot::Telegram));
    }
    if !wrong.is_empty() {
        anyhow::bail!(
            "configured wrongly, so no bot was started:\n  - {}",
            wrong.join("\n  - ")
        );
    }
    if bots.is_empty() {
        anyhow::bail!(
            "no bot configured: pass --matrix (with --matrix-homeserver, --matrix-user and a \
             password or token), --discord (with DISCORD_BOT_TOKEN) or --telegram (with \
             TELEGRAM_BOT_TOKEN), or put those credentials in the environment"
        );
    }
    Ok(bots)
}

/// The Matrix settings from flags and environment; a missing one is named.
fn matrix_config(args: &BotsArgs) -> anyhow::Result<MatrixConfig> {
    let homeserver = args
        .matrix_homeserver
        .clone()
        .context("needs --matrix-homeserver (or MATRIX_HOMESERVER)")?;
    let user = args
        .matrix_user
        .clone()
        .context("needs --matrix-user (or MATRIX_USER)")?;
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
            "needs --matrix-password (MATRIX_PASSWORD) or --matrix-token (MATRIX_ACCESS_TOKEN)"
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

fn discord_config(args: &BotsArgs, delivery: Duration) -> anyhow::Result<DiscordConfig> {
    let token = args
        .discord_token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .context("needs --discord-token (or DISCORD_BOT_TOKEN)")?;
    let mut config = DiscordConfig::new(token);
    config.api_base = args.discord_api_base.clone();
    config.message_content = args.discord_message_content;
    config.delivery_interval = delivery;
    Ok(config)
}

fn telegram_config(args: &BotsArgs) -> anyhow::Result<TelegramConfig> {
    let token = args
        .telegram_token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .context("needs TELEGRAM_BOT_TOKEN (or --telegram-token)")?;
    let webhook = args.telegram_webhook_url.clone().map(|url| Webhook {
        url,
        listen: args.telegram_webhook_listen,
        secret: args.telegram_webhook_secret.clone(),
    });
    Ok(TelegramConfig {
        api_url: args.telegram_api_url.clone(),
        webhook,
        ..TelegramConfig::new(token)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// `coinsence bots <flags>` as parsed (credentials come from flags only here).
    fn bots(flags: &[&str]) -> anyhow::Result<Vec<String>> {
        let mut argv = vec!["coinsence", "bots", "--database-url", "postgres://x/y"];
        argv.extend_from_slice(flags);
        let Command::Bots(args) = Cli::try_parse_from(argv)?.command else {
            anyhow::bail!("not the bots command");
        };
        Ok(configured(&args)?.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn every_configured_platform_runs_and_every_wrong_one_is_named() {
        let both = bots(&[
            "--discord",
            "--discord-token",
            "d",
            "--telegram",
            "--telegram-token",
            "t",
        ]);
        assert_eq!(
            both.ok(),
            Some(vec!["Discord".to_owned(), "Telegram".to_owned()])
        );

        let wrong = bots(&[
            "--matrix",
            "--discord",
            "--telegram",
            "--telegram-token",
            "t",
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(wrong.contains("no bot was started"), "{wrong}");
        assert!(
            wrong.contains("Matrix: needs --matrix-homeserver"),
            "{wrong}"
        );
        assert!(wrong.contains("Discord: needs --discord-token"), "{wrong}");
        assert!(!wrong.contains("Telegram:"), "{wrong}");

        let blank = bots(&["--telegram", "--telegram-token", "  "])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            blank.contains("Telegram: needs TELEGRAM_BOT_TOKEN"),
            "{blank}"
        );
    }

    #[test]
    fn without_flags_the_platforms_with_credentials_run() {
        let one = bots(&["--telegram-token", "t"]);
        assert_eq!(one.ok(), Some(vec!["Telegram".to_owned()]));
        let matrix = bots(&[
            "--matrix-homeserver",
            "http://127.0.0.1:1",
            "--matrix-user",
            "@bot:example.org",
            "--matrix-password",
            "p",
        ]);
        assert_eq!(matrix.ok(), Some(vec!["Matrix".to_owned()]));
    }
}
