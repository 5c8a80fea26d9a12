//! The Telegram adapter (teloxide): translates updates into engine calls and replies into Bot API
//! messages. It decides nothing.
//!
//! - Long polling with teloxide's own loop (`getUpdates` with the confirmed `offset`), or a
//!   webhook (teloxide's axum router, with a secret); updates of one chat are handled in order
//!   by teloxide's dispatcher.
//! - Commands as `/pay` or `/pay@botname` (the bot's name comes from `getMe`); the command menu
//!   is registered with `setMyCommands` from the grammar's help, in English and (for apps set to
//!   German) in German.
//! - People are their numeric user ids (usernames change). A mention by `@username` is turned
//!   into the id of the person the bot has seen with that username ([`People`]); one it has
//!   never seen is refused rather than paid to a stranger's name. A mention without username
//!   (`text_mention`) carries the id, and a `/pay 5` sent as a reply to someone's message pays
//!   the author of that message.
//! - The idempotency key of a message is `tg:<chat>:<message>` and of a button press
//!   `tg-cb:<callback id>`: a redelivered update gets the first answer again and acts once.
//! - Replies are HTML; vote buttons are an inline keyboard whose presses (callback queries) are
//!   answered and run as `/vote` for the presser. A reply meant for the sender alone goes to
//!   their private chat, and the group hears only whether it could.
//! - Flood limits are kept before sending (teloxide's `Throttle` adaptor, [`Limits`]) and
//!   `retry_after` is waited out.
//! - Updates that waited while the bot was stopped are fetched on start (the `getUpdates`
//!   offset was confirmed at the stop) and handled like new ones; a command older than the
//!   [`AwayWindow`](crate::away::AwayWindow) (its message `date`) is not run, and its sender
//!   is asked to send it again.
//! - Outbox events reach bound groups and people's private chats through [`TelegramSink`].

mod handle;
mod listen;
mod people;
mod send;
mod sink;
pub mod text;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::i18n::Lang;
use teloxide::Bot;
use teloxide::payloads::SetMyCommandsSetters;
use teloxide::prelude::{Request, Requester};
use teloxide::types::{BotCommand, Me};

pub use people::People;
pub use sink::TelegramSink;
/// Telegram's flood limits, as teloxide's `Throttle` keeps them.
pub use teloxide::adaptors::throttle::Limits;

use crate::away::AwayWindow;
use crate::command::Dialect;
use crate::engine::Engine;
use send::{Sender, redact};

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram configuration: {0}")]
    Config(String),
    /// A failed Bot API call, its text with the token removed.
    #[error("Telegram Bot API: {0}")]
    Request(String),
}

#[derive(Clone)]
pub struct TelegramConfig {
    /// The bot token from @BotFather. Never logged.
    pub token: String,
    /// Another Bot API server (a self-hosted one, or a test's fake), e.g. `http://127.0.0.1:8081/`.
    pub api_url: Option<String>,
    /// How long one `getUpdates` waits for news; under teloxide's 17 s request timeout.
    pub poll_timeout: Duration,
    /// The flood limits kept before sending; `None` sends at once (tests against a fake API).
    pub limits: Option<Limits>,
    /// Receive updates by webhook instead of long polling.
    pub webhook: Option<Webhook>,
    /// How old a pending command may be and still run when the bot starts (older ones are
    /// asked to be sent again).
    pub away: AwayWindow,
}

/// Where Telegram posts updates in webhook mode.
#[derive(Clone)]
pub struct Webhook {
    /// The public HTTPS URL Telegram posts to (its path is the one served).
    pub url: String,
    /// The local address the webhook server listens on.
    pub listen: SocketAddr,
    /// The secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`; random when `None`.
    pub secret: Option<String>,
}

/// The secret stays out of logs.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("listen", &self.listen)
            .field("secret", &self.secret.as_ref().map(|_| ".."))
            .finish()
    }
}

/// What Telegram accepts as a webhook secret.
fn valid_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The token stays out of logs.
impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &"..")
            .field("api_url", &self.api_url)
            .field("poll_timeout", &self.poll_timeout)
            .field("limits", &self.limits)
            .field("webhook", &self.webhook)
            .field("away", &self.away)
            .finish()
    }
}

impl TelegramConfig {
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            api_url: None,
            poll_timeout: Duration::from_secs(10),
            limits: Some(Limits::default()),
            webhook: None,
            away: AwayWindow::default(),
        }
    }
}

/// A connected bot, ready to run.
#[derive(Clone)]
pub struct TelegramBot {
    inner: Arc<Inner>,
}

struct Inner {
    sender: Arc<Sender>,
    engine: Engine,
    me: Me,
    /// The bot's username, lowercase.
    username: String,
    people: People,
    poll_timeout: Duration,
    webhook: Option<Webhook>,
    away: AwayWindow,
}

impl TelegramBot {
    /// Builds the client, asks who the bot is (`getMe`, for `/pay@botname`) and registers the
    /// command menu.
    pub async fn connect(config: &TelegramConfig, engine: Engine) -> Result<Self, TelegramError> {
        if engine.platform() != ChatPlatform::Telegram {
            return Err(TelegramError::Config(
                "the engine is not set up for Telegram".to_owned(),
            ));
        }
        // The request timeout must outlast a long poll.
        let client = teloxide::net::default_reqwest_settings()
            .timeout(config.poll_timeout + Duration::from_secs(10))
            .build()
            .map_err(|e| TelegramError::Config(format!("HTTP client: {e}")))?;
        let mut bot = Bot::with_client(config.token.clone(), client);
        if let Some(url) = &config.api_url {
            let url = reqwest::Url::parse(url)
                .map_err(|e| TelegramError::Config(format!("Bot API URL: {e}")))?;
            bot = bot.set_api_url(url);
        }
        let me = bot
            .get_me()
            .send()
            .await
            .map_err(|e| TelegramError::Request(redact(&e.to_string(), &config.token)))?;
        let username = me
            .user
            .username
            .clone()
            .ok_or_else(|| TelegramError::Config("the bot has no username".to_owned()))?
            .to_lowercase();
        let engine =
            engine.with_dialect(Dialect::new(ChatPlatform::Telegram).with_bot_name(&username));
        // The menu in English for everyone, and in German for apps set to German. A missing
        // menu costs only the autocompletion: log it and go on.
        for lang in Lang::ALL {
            let commands = text::command_menu(lang)
                .into_iter()
                .map(|(name, description)| BotCommand::new(name, description));
            let request = bot.set_my_commands(commands);
            let request = match lang {
                Lang::En => request,
                other => request.language_code(other.as_str()),
            };
            if let Err(e) = request.send().await {
                let error = redact(&e.to_string(), &config.token);
                tracing::warn!(%error, %lang, "Telegram command menu not set");
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                sender: Arc::new(Sender::new(bot, config.limits)),
                engine,
                me,
                username,
                people: People::default(),
                poll_timeout: config.poll_timeout,
                webhook: config.webhook.clone(),
                away: config.away,
            }),
        })
    }

    /// The bot's username (lowercase, without `@`).
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    pub fn people(&self) -> &People {
        &self.inner.people
    }

    /// The sink that delivers outbox events through this bot.
    pub fn sink(&self) -> TelegramSink {
        TelegramSink {
            sender: self.inner.sender.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted() {
        let token = "123456:AAHsecretsecretsecret";
        let text = format!("error sending request for url (http://h/tg/bot{token}/getMe)");
        let out = redact(&text, token);
        assert!(!out.contains("secretsecret"), "{out}");
        assert!(out.contains("bot<token>/getMe"), "{out}");
        let cfg = format!("{:?}", TelegramConfig::new(token));
        assert!(!cfg.contains("secret"), "{cfg}");
        let hook = Webhook {
            url: "https://example.org/tg".to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            secret: Some("hook-secret".to_owned()),
        };
        assert!(!format!("{hook:?}").contains("hook-secret"));
        assert!(valid_secret("hook-secret_1") && !valid_secret("no spaces") && !valid_secret(""));
    }
}
