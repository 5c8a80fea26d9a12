//! `coinsence bots`: runs the configured chat bots in one process, each with outbox delivery to
//! its rooms, until Ctrl-C.
//!
//! Which bots: those named by `--matrix`, `--discord`, `--telegram`; with none named, every
//! platform whose credentials are in the environment. Every chosen platform's settings are
//! checked before any connects, and all the wrong ones are named at once. If one bot stops with
//! an error, the others are stopped too and the process fails, so a supervisor restarts it
//! whole.
//!
//! Each platform is a cargo feature (`matrix`, `discord`, `telegram`; all on by default). A
//! platform this build lacks is an error when named; chosen by its settings alone it is skipped
//! with a warning, so an environment shared with a fuller build still starts the others.

#[cfg(any(feature = "matrix", feature = "discord", feature = "telegram"))]
use std::time::Duration;

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
#[cfg(feature = "discord")]
use coinsence_bots::discord::{DiscordBot, DiscordConfig};
#[cfg(feature = "matrix")]
use coinsence_bots::matrix::{Credentials, MatrixBot, MatrixConfig};
#[cfg(feature = "telegram")]
use coinsence_bots::telegram::{TelegramBot, TelegramConfig, Webhook};
use coinsence_bots::{Engine, EngineConfig};
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cli::BotsArgs;
use crate::server;

/// Whether this build has any bot platform.
const ANY_PLATFORM: bool = cfg!(any(
    feature = "matrix",
    feature = "discord",
    feature = "telegram"
));

/// One bot, configured and ready to connect. Without any platform feature it has no variant.
enum Bot {
    #[cfg(feature = "matrix")]
    Matrix(MatrixConfig),
    #[cfg(feature = "discord")]
    Discord(DiscordConfig),
    /// With its outbox delivery interval, which `TelegramConfig` does not hold.
    #[cfg(feature = "telegram")]
    Telegram(TelegramConfig, Duration),
}

impl Bot {
    // A method rather than `Display`: without platforms the match is empty, and a formatter call
    // around it would be unreachable code.
    fn name(&self) -> &'static str {
        match *self {
            #[cfg(feature = "matrix")]
            Self::Matrix(_) => "Matrix",
            #[cfg(feature = "discord")]
            Self::Discord(_) => "Discord",
            #[cfg(feature = "telegram")]
            Self::Telegram(..) => "Telegram",
        }
    }

    /// Connects with the engine made for its platform, then serves until `stopping` resolves.
    #[cfg_attr(
        not(any(feature = "matrix", feature = "discord", feature = "telegram")),
        expect(
            unused_variables,
            reason = "a build without platforms has no bot to start"
        )
    )]
    fn start(
        self,
        engine: impl FnOnce(ChatPlatform) -> Engine,
        stopping: impl Future<Output = ()> + Send + 'static,
    ) -> BoxFuture<'static, anyhow::Result<()>> {
        match self {
            #[cfg(feature = "matrix")]
            Self::Matrix(config) => {
                let engine = engine(ChatPlatform::Matrix);
                Box::pin(async move {
                    let bot = MatrixBot::login(&config, engine)
                        .await
                        .with_context(|| format!("logging in to {}", config.homeserver))?;
                    bot.run(config.delivery_interval, stopping).await?;
                    Ok(())
                })
            }
            #[cfg(feature = "discord")]
            Self::Discord(config) => {
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
            #[cfg(feature = "telegram")]
            Self::Telegram(config, delivery) => {
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
        }
    }
}

pub async fn run(args: BotsArgs) -> anyhow::Result<()> {
    let bots = configured(&args)?;
    crate::database::with(&args.db, |url| run_on(&args, bots, url)).await
}

async fn run_on(args: &BotsArgs, bots: Vec<Bot>, url: String) -> anyhow::Result<()> {
    let (pool, core_config) = args.core.connect(&url, args.db.pool_size).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let core = Core::with_config(pool, core_config);
    let (stop, stopped) = watch::channel(false);
    let on_signal = stop.clone();
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = on_signal.send(true);
    });
    let mut running = JoinSet::new();
    for bot in bots {
        let name = bot.name();
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
        let task = bot.start(engine, stopping);
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
    // The chosen platforms this build lacks; each one's feature is its name in lower case.
    let lacking: Vec<String> = [
        (matrix && !cfg!(feature = "matrix"), "Matrix"),
        (discord && !cfg!(feature = "discord"), "Discord"),
        (telegram && !cfg!(feature = "telegram"), "Telegram"),
    ]
    .into_iter()
    .filter_map(|(lacks, platform)| {
        let feature = platform.to_lowercase();
        lacks.then(|| {
            format!("this build has no {platform} support (built without the `{feature}` feature)")
        })
    })
    .collect();
    if named && !lacking.is_empty() {
        anyhow::bail!("{}", lacking.join("; "));
    }
    let checked: [Option<(&str, anyhow::Result<Bot>)>; _] = [
        #[cfg(feature = "matrix")]
        matrix.then(|| ("Matrix", matrix_config(args).map(Bot::Matrix))),
        #[cfg(feature = "discord")]
        discord.then(|| ("Discord", discord_config(args).map(Bot::Discord))),
        #[cfg(feature = "telegram")]
        telegram.then(|| {
            let delivery = Duration::from_millis(args.delivery_interval_ms.max(50));
            let bot = telegram_config(args).map(|config| Bot::Telegram(config, delivery));
            ("Telegram", bot)
        }),
    ];
    let mut bots = Vec::new();
    let mut wrong = Vec::new();
    for (platform, bot) in checked.into_iter().flatten() {
        match bot {
            Ok(bot) => bots.push(bot),
            Err(e) => wrong.push(format!("{platform}: {e:#}")),
        }
    }
    if !wrong.is_empty() {
        anyhow::bail!(
            "configured wrongly, so no bot was started:\n  - {}",
            wrong.join("\n  - ")
        );
    }
    if bots.is_empty() {
        // Here only platforms chosen by their settings can be lacking: named ones failed above.
        if !lacking.is_empty() && ANY_PLATFORM {
            anyhow::bail!("{}", lacking.join("; "));
        }
        if !lacking.is_empty() {
            anyhow::bail!(
                "this build has no bot platform (built without the `matrix`, `discord` and \
                 `telegram` features)"
            );
        }
        anyhow::bail!(
            "no bot configured: pass --matrix (with --matrix-homeserver, --matrix-user and a \
             password or token), --discord (with DISCORD_BOT_TOKEN) or --telegram (with \
             TELEGRAM_BOT_TOKEN), or put those credentials in the environment"
        );
    }
    for lacks in &lacking {
        tracing::warn!("{lacks}; its settings are ignored");
    }
    Ok(bots)
}

/// The Matrix settings from flags and environment; a missing one is named.
#[cfg(feature = "matrix")]
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
        away: away_window(args),
    })
}

/// How old a command that arrived while a bot was away may be and still run.
#[cfg(any(feature = "matrix", feature = "discord", feature = "telegram"))]
fn away_window(args: &BotsArgs) -> coinsence_bots::away::AwayWindow {
    coinsence_bots::away::AwayWindow::new(Duration::from_secs(args.away_window_secs))
}

#[cfg(feature = "discord")]
fn discord_config(args: &BotsArgs) -> anyhow::Result<DiscordConfig> {
    let token = args
        .discord_token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .context("needs --discord-token (or DISCORD_BOT_TOKEN)")?;
    let mut config = DiscordConfig::new(token);
    config.api_base = args.discord_api_base.clone();
    config.message_content = args.discord_message_content;
    config.delivery_interval = Duration::from_millis(args.delivery_interval_ms.max(50));
    config.away = away_window(args);
    Ok(config)
}

#[cfg(feature = "telegram")]
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
        away: away_window(args),
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
        Ok(configured(&args)?
            .iter()
            .map(|bot| bot.name().to_owned())
            .collect())
    }

    /// Why `coinsence bots <flags>` refuses to start ("" if it starts).
    fn refusal(flags: &[&str]) -> String {
        bots(flags).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[cfg(all(feature = "matrix", feature = "discord", feature = "telegram"))]
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

        let wrong = refusal(&[
            "--matrix",
            "--discord",
            "--telegram",
            "--telegram-token",
            "t",
        ]);
        assert!(wrong.contains("no bot was started"), "{wrong}");
        assert!(
            wrong.contains("Matrix: needs --matrix-homeserver"),
            "{wrong}"
        );
        assert!(wrong.contains("Discord: needs --discord-token"), "{wrong}");
        assert!(!wrong.contains("Telegram:"), "{wrong}");

        let blank = refusal(&["--telegram", "--telegram-token", "  "]);
        assert!(
            blank.contains("Telegram: needs TELEGRAM_BOT_TOKEN"),
            "{blank}"
        );
    }

    #[cfg(feature = "telegram")]
    #[test]
    fn without_flags_the_platforms_with_credentials_run() {
        let one = bots(&["--telegram-token", "t"]);
        assert_eq!(one.ok(), Some(vec!["Telegram".to_owned()]));
    }

    #[cfg(feature = "matrix")]
    #[test]
    fn without_flags_matrix_runs_with_its_credentials() {
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

    #[cfg(not(feature = "matrix"))]
    #[test]
    fn a_named_platform_this_build_lacks_is_refused() {
        let named = refusal(&["--matrix", "--matrix-homeserver", "http://127.0.0.1:1"]);
        assert!(
            named.contains("this build has no Matrix support (built without the `matrix` feature)"),
            "{named}"
        );
    }

    #[cfg(all(feature = "discord", not(feature = "telegram")))]
    #[test]
    fn a_lacking_platform_chosen_by_its_settings_is_skipped() {
        let one = bots(&["--discord-token", "d", "--telegram-token", "t"]);
        assert_eq!(one.ok(), Some(vec!["Discord".to_owned()]));
        let none = refusal(&["--telegram-token", "t"]);
        assert!(
            none.contains("this build has no Telegram support"),
            "{none}"
        );
    }

    #[cfg(not(any(feature = "matrix", feature = "discord", feature = "telegram")))]
    #[test]
    fn without_platforms_no_bot_runs() {
        let chosen = refusal(&["--telegram-token", "t"]);
        assert!(
            chosen.contains("this build has no bot platform"),
            "{chosen}"
        );
        let none = refusal(&[]);
        assert!(none.contains("no bot configured"), "{none}");
    }
}
