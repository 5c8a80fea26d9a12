//! The Telegram adapter (teloxide): translates updates into engine calls and replies into Bot API
//! messages. It decides nothing.
//!
//! - Long polling with teloxide's own loop (`getUpdates` with the confirmed `offset`), or a
//!   webhook (teloxide's axum router, with a secret); updates of one chat are handled in order
//!   by teloxide's dispatcher.
//! - Commands as `/pay` or `/pay@botname` (the bot's name comes from `getMe`); the command menu
//!   is registered with `setMyCommands` from the grammar's help.
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
//! - Flood limits are kept before sending ([`Limits`]) and `retry_after` is waited out.
//! - Outbox events reach bound groups and people's private chats through [`TelegramSink`].

mod limit;
mod sink;
pub mod text;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use coinsence_api::domain::chat::ChatPlatform;
use futures::future::BoxFuture;
use teloxide::dispatching::{Dispatcher, UpdateFilterExt};
use teloxide::error_handlers::{ErrorHandler, LoggingErrorHandler};
use teloxide::payloads::{AnswerCallbackQuerySetters, SendMessageSetters};
use teloxide::prelude::{Request, Requester};
use teloxide::types::{
    BotCommand, CallbackQuery, Chat, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Me,
    Message, MessageEntityKind, MessageId, ParseMode, ReplyParameters, Update, User,
};
use teloxide::update_listeners::{Polling, UpdateListener, webhooks};
use teloxide::{Bot, RequestError, dptree};

pub use limit::Limits;
pub use sink::TelegramSink;

use crate::command::{Command, Dialect, parse};
use crate::delivery::Sink;
use crate::engine::{Engine, Incoming};
use crate::reply::{Audience, Reply, Tone};
use limit::Limiter;

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
    pub limits: Limits,
    /// Receive updates by webhook instead of long polling.
    pub webhook: Option<Webhook>,
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
            .finish()
    }
}

impl TelegramConfig {
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            api_url: None,
            poll_timeout: Duration::from_secs(10),
            limits: Limits::TELEGRAM,
            webhook: None,
        }
    }
}

/// Sends replies within the flood limits.
pub(crate) struct Sender {
    bot: Bot,
    limiter: Limiter,
}

/// An error's text without the token. teloxide strips it from request URLs only when they start
/// with `/bot<token>` and the secret has the usual length; a self-hosted API under a path, or an
/// unusual token, would show it.
fn redact(text: &str, token: &str) -> String {
    let mut out = text.replace(token, "<token>");
    if let Some((_, secret)) = token.split_once(':')
        && secret.len() >= 8
    {
        out = out.replace(secret, "<token>");
    }
    out
}

/// How often a reply is retried after a `retry_after`; a longer wait than this is not waited.
const RETRIES: usize = 5;
const LONGEST_WAIT: Duration = Duration::from_secs(60);

impl Sender {
    fn redact(&self, e: &RequestError) -> String {
        redact(&e.to_string(), self.bot.token())
    }

    /// One `sendMessage`, after the flood limiter lets it go.
    async fn send_once(
        &self,
        chat: ChatId,
        reply: &Reply,
        reply_to: Option<MessageId>,
    ) -> Result<Message, RequestError> {
        self.limiter.wait(chat.0).await;
        let mut request = self
            .bot
            .send_message(chat, text::html(reply))
            .parse_mode(ParseMode::Html);
        if let Some(id) = reply_to {
            request = request.reply_parameters(ReplyParameters {
                allow_sending_without_reply: Some(true),
                ..ReplyParameters::new(id)
            });
        }
        let buttons = text::vote_buttons(reply);
        if !buttons.is_empty() {
            let row: Vec<InlineKeyboardButton> = buttons
                .into_iter()
                .map(|(label, data)| InlineKeyboardButton::callback(label, data))
                .collect();
            request = request.reply_markup(InlineKeyboardMarkup::new([row]));
        }
        request.send().await
    }

    /// A reply the person is waiting for: `retry_after` is waited out, a few times.
    async fn send(
        &self,
        chat: ChatId,
        reply: &Reply,
        reply_to: Option<MessageId>,
    ) -> Result<Message, RequestError> {
        let mut attempt = 1;
        loop {
            match self.send_once(chat, reply, reply_to).await {
                Err(RequestError::RetryAfter(wait))
                    if attempt < RETRIES && wait.duration() <= LONGEST_WAIT =>
                {
                    tracing::info!(wait = ?wait.duration(), chat = chat.0, "Telegram flood wait");
                    tokio::time::sleep(wait.duration()).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Whom the bot has seen: username → user id (usernames change, ids do not), and names. Learnt
/// from every update; kept in memory, so after a restart a person is known again once they write
/// or are replied to.
const PEOPLE_REMEMBERED: usize = 100_000;

#[derive(Default)]
pub struct People {
    inner: Mutex<PeopleInner>,
}

#[derive(Default)]
struct PeopleInner {
    by_username: HashMap<String, u64>,
    /// id → (username, full name).
    by_id: HashMap<u64, (Option<String>, String)>,
}

impl People {
    pub fn learn(&self, user: &User) {
        if user.is_bot {
            return;
        }
        let mut p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: past this many people, start over (they are learnt again as they speak).
        if p.by_id.len() >= PEOPLE_REMEMBERED {
            *p = PeopleInner::default();
        }
        let username = user.username.as_deref().map(str::to_lowercase);
        let id = user.id.0;
        // They dropped or changed their username: it no longer names them (unless someone else
        // has taken it since).
        if let Some((Some(old), _)) = p.by_id.get(&id)
            && Some(old) != username.as_ref()
        {
            let old = old.clone();
            if p.by_username.get(&old) == Some(&id) {
                p.by_username.remove(&old);
            }
        }
        if let Some(name) = &username {
            p.by_username.insert(name.clone(), id);
        }
        p.by_id.insert(id, (username, user.full_name()));
    }

    /// The id behind a username (without `@`, any case).
    pub fn id_of(&self, username: &str) -> Option<u64> {
        let p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        p.by_username.get(&username.to_lowercase()).copied()
    }

    pub fn name_of(&self, id: u64) -> Option<String> {
        let p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        p.by_id.get(&id).map(|(_, name)| name.clone())
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
        let commands = text::command_menu()
            .into_iter()
            .map(|(name, description)| BotCommand::new(name, description));
        // A missing menu costs only the autocompletion: log it and go on.
        if let Err(e) = bot.set_my_commands(commands).send().await {
            let error = redact(&e.to_string(), &config.token);
            tracing::warn!(%error, "Telegram command menu not set");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                sender: Arc::new(Sender {
                    bot,
                    limiter: Limiter::new(config.limits),
                }),
                engine,
                me,
                username,
                people: People::default(),
                poll_timeout: config.poll_timeout,
                webhook: config.webhook.clone(),
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

    /// Long-polls and answers updates, and delivers the outbox every `delivery_interval`, until
    /// `stop` resolves; then stops polling gracefully (confirming the last offset).
    pub async fn run(
        self,
        delivery_interval: Duration,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError> {
        let sink: Arc<dyn Sink> = Arc::new(self.sink());
        let core = self.inner.engine.core().clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let delivery = tokio::spawn(async move {
            let mut rx = stop_rx;
            crate::delivery::run(core, vec![sink], delivery_interval, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        });
        let result = match self.inner.webhook.clone() {
            None => self.poll(stop).await,
            Some(hook) => self.serve_webhook(&hook, stop).await,
        };
        let _ = stop_tx.send(true);
        let _ = delivery.await;
        result
    }

    /// Long polling (after removing a webhook, which would exclude it).
    async fn poll(
        &self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError> {
        self.remove_webhook().await?;
        let polling = Polling::builder(self.inner.sender.bot.clone())
            .timeout(self.inner.poll_timeout)
            .build();
        tracing::info!(bot = %self.inner.username, "Telegram bot is polling");
        let errors = Arc::new(PollErrors {
            sender: self.inner.sender.clone(),
        });
        self.dispatch(polling, errors, stop).await
    }

    /// Webhook mode: registers the URL with `setWebhook` (with a secret Telegram sends back in a
    /// header; requests without it are refused) and serves it; stopping removes the webhook.
    async fn serve_webhook(
        &self,
        hook: &Webhook,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError> {
        let url = reqwest::Url::parse(&hook.url)
            .map_err(|e| TelegramError::Config(format!("webhook URL: {e}")))?;
        let mut options = webhooks::Options::new(hook.listen, url);
        if let Some(secret) = &hook.secret {
            if !valid_secret(secret) {
                return Err(TelegramError::Config(
                    "the webhook secret must be 1 to 256 of a-z, A-Z, 0-9, _ and -".to_owned(),
                ));
            }
            options = options.secret_token(secret.clone());
        }
        // Bound here, before the webhook is set: a port in use is an error to report (teloxide's
        // own `axum` listener panics in a task instead).
        let tcp = tokio::net::TcpListener::bind(hook.listen)
            .await
            .map_err(|e| TelegramError::Config(format!("listening on {}: {e}", hook.listen)))?;
        let (listener, stopped, router) =
            webhooks::axum_to_router(self.inner.sender.bot.clone(), options)
                .await
                .map_err(|e| TelegramError::Request(self.inner.sender.redact(&e)))?;
        let server = tokio::spawn(async move {
            axum::serve(tcp, router)
                .with_graceful_shutdown(stopped)
                .await
        });
        tracing::info!(bot = %self.inner.username, listen = %hook.listen, "Telegram bot receives updates by webhook");
        let result = self
            .dispatch(listener, LoggingErrorHandler::new(), stop)
            .await;
        match tokio::time::timeout(Duration::from_secs(10), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "webhook server failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "webhook server task failed"),
            Err(_) => tracing::warn!("webhook server did not stop in time"),
        }
        result
    }

    /// Runs teloxide's dispatcher on `listener` (updates of one chat in order, chats in
    /// parallel) until `stop` resolves, then stops it gracefully: polling confirms the last
    /// offset, a webhook is removed.
    async fn dispatch<L, Eh>(
        &self,
        listener: L,
        errors: Arc<Eh>,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError>
    where
        L: UpdateListener + Send,
        L::Err: std::fmt::Debug,
        Eh: ErrorHandler<L::Err> + Send + Sync,
    {
        let on_message = self.clone();
        let on_callback = self.clone();
        let handler = dptree::entry()
            .branch(Update::filter_message().endpoint(move |msg: Message| {
                let bot = on_message.clone();
                async move {
                    bot.handle_message(&msg).await;
                    Ok::<(), Infallible>(())
                }
            }))
            .branch(
                Update::filter_callback_query().endpoint(move |q: CallbackQuery| {
                    let bot = on_callback.clone();
                    async move {
                        bot.handle_callback(&q).await;
                        Ok::<(), Infallible>(())
                    }
                }),
            );
        let mut dispatcher = Dispatcher::builder(self.inner.sender.bot.clone(), handler)
            .default_handler(|_| async {})
            .build();
        let shutdown = dispatcher.shutdown_token();
        let dispatch = dispatcher.try_dispatch_with_listener(listener, errors);
        tokio::pin!(dispatch);
        tokio::pin!(stop);
        let mut stopping = false;
        let result = loop {
            tokio::select! {
                done = &mut dispatch => break done,
                () = &mut stop, if !stopping => stopping = true,
                // The token refuses until dispatching has started; ask again shortly.
                () = tokio::time::sleep(Duration::from_millis(50)), if stopping => {
                    if let Ok(done) = shutdown.shutdown() {
                        drop(done);
                    }
                }
            }
        };
        result.map_err(|e| TelegramError::Request(self.inner.sender.redact(&e)))
    }

    /// Polling and a webhook exclude each other: a webhook left set (by an earlier deployment)
    /// is removed. Done here rather than by teloxide's builder, whose log line would show the
    /// raw error.
    async fn remove_webhook(&self) -> Result<(), TelegramError> {
        let sender = &self.inner.sender;
        let info = sender
            .bot
            .get_webhook_info()
            .send()
            .await
            .map_err(|e| TelegramError::Request(sender.redact(&e)))?;
        if info.url.is_some() {
            tracing::info!("removing the bot's webhook to poll instead");
            sender
                .bot
                .delete_webhook()
                .send()
                .await
                .map_err(|e| TelegramError::Request(sender.redact(&e)))?;
        }
        Ok(())
    }

    /// A message in a chat with the bot. Public so a test can hand it one directly.
    pub async fn handle_message(&self, msg: &Message) {
        let Some(from) = msg.from.as_ref() else {
            return;
        };
        let people = &self.inner.people;
        people.learn(from);
        if let Some(users) = msg.new_chat_members() {
            users.iter().for_each(|u| people.learn(u));
        }
        let replied_to = msg
            .reply_to_message()
            .and_then(|m| m.from.as_ref())
            .filter(|u| !u.is_bot && u.id != from.id);
        if let Some(u) = replied_to {
            people.learn(u);
        }
        if from.is_bot {
            return;
        }
        // Telegram tells both chats: the old group whereto, the new supergroup wherefrom.
        if let Some(to) = msg.migrate_to_chat_id() {
            self.follow_migration(msg.chat.id, *to, from).await;
            return;
        }
        if let Some(old) = msg.migrate_from_chat_id() {
            self.follow_migration(*old, msg.chat.id, from).await;
            return;
        }
        let Some(line) = msg.text() else {
            return;
        };
        let line = self.with_ids(msg, line);
        let parsed = parse(&line, self.inner.engine.dialect());
        let parsed = match (parsed, replied_to) {
            // A payment without a payee, sent as a reply: the payee is whom it replies to.
            (Err(_), Some(u)) => {
                let with = text::with_payee(&line, &text::id_mention(u.id.0));
                match parse(&with, self.inner.engine.dialect()) {
                    Ok(Some(pay @ Command::Pay { .. })) => Ok(Some(pay)),
                    _ => parse(&line, self.inner.engine.dialect()),
                }
            }
            (parsed, _) => parsed,
        };
        let reply = match parsed {
            Ok(None) => return,
            Err(e) => Reply::error(e.to_string()),
            Ok(Some(command)) => match self.named(command) {
                Ok(command) => {
                    let incoming = Incoming {
                        room: msg.chat.id.0.to_string(),
                        sender: from.id.0.to_string(),
                        sender_name: from.full_name(),
                        event_id: Some(format!("tg:{}:{}", msg.chat.id.0, msg.id.0)),
                        direct: msg.chat.is_private(),
                    };
                    self.inner.engine.execute(&incoming, command).await
                }
                Err(refused) => refused,
            },
        };
        self.answer(&msg.chat, msg.id, from, &reply).await;
    }

    /// A group that became a supergroup has a new chat id: its org goes with it.
    async fn follow_migration(&self, old: ChatId, new: ChatId, from: &User) {
        let core = self.inner.engine.core();
        let ctx = core
            .chat_context(
                ChatPlatform::Telegram,
                &old.0.to_string(),
                &from.id.0.to_string(),
            )
            .await;
        let tenant = match ctx {
            Ok(ctx) => ctx.tenant,
            Err(e) => {
                tracing::warn!(error = %e, "group migration: binding not read");
                return;
            }
        };
        if let Some(tenant) = tenant {
            match core
                .bind_room(ChatPlatform::Telegram, &new.0.to_string(), &tenant)
                .await
            {
                Ok(()) => tracing::info!(old = old.0, new = new.0, "group moved; binding follows"),
                Err(e) => tracing::warn!(error = %e, "group migration: binding not moved"),
            }
        }
    }

    /// The line with its first mention (the payee's place in the grammar) written as
    /// `@<user id>` when the bot can resolve it. Later ones, in a memo, stay as typed.
    fn with_ids(&self, msg: &Message, line: &str) -> String {
        let Some(entities) = msg.parse_entities() else {
            return line.to_owned();
        };
        let mut edits = Vec::new();
        for entity in entities {
            match entity.kind() {
                MessageEntityKind::Mention => {
                    let name = entity.text().trim_start_matches('@');
                    if name.eq_ignore_ascii_case(&self.inner.username) {
                        continue;
                    }
                    if let Some(id) = self.inner.people.id_of(name) {
                        edits.push((entity.range(), text::id_mention(id)));
                    }
                    break;
                }
                MessageEntityKind::TextMention { user } => {
                    self.inner.people.learn(user);
                    edits.push((entity.range(), text::id_mention(user.id.0)));
                    break;
                }
                _ => {}
            }
        }
        text::rewrite(line, edits)
    }

    /// A payee must be a user id by now: an `@username` nobody was seen with is refused, since
    /// paying the name would pay no one the person could ever be. A known one gets their name.
    fn named(&self, mut command: Command) -> Result<Command, Reply> {
        if let Command::Pay { to, .. } = &mut command {
            if !text::is_user_id(&to.id) {
                return Err(Reply::error(format!(
                    "I don't know who @{} is yet. Reply to one of their messages with /pay, or ask them to write here first. Nothing was paid.",
                    to.display
                )));
            }
            if let Some(name) = to
                .id
                .parse()
                .ok()
                .and_then(|id| self.inner.people.name_of(id))
            {
                to.display = name;
            }
        }
        Ok(command)
    }

    /// A press on a vote button: answered at once (the spinner stops), run as `/vote` for the
    /// presser, and a successful vote is shown in the chat.
    pub async fn handle_callback(&self, q: &CallbackQuery) {
        self.inner.people.learn(&q.from);
        let bot = &self.inner.sender.bot;
        let Some((proposal, choice)) = q.data.as_deref().and_then(text::vote_data) else {
            if let Err(e) = bot.answer_callback_query(q.id.clone()).send().await {
                tracing::debug!(error = %self.inner.sender.redact(&e), "callback not answered");
            }
            return;
        };
        // A press without its message (too old) can only be answered privately.
        let (chat, direct, message) = match &q.message {
            Some(m) => (m.chat().id, m.chat().is_private(), Some(m.id())),
            None => (ChatId::from(q.from.id), true, None),
        };
        let incoming = Incoming {
            room: chat.0.to_string(),
            sender: q.from.id.0.to_string(),
            sender_name: q.from.full_name(),
            event_id: Some(format!("tg-cb:{}", q.id.0)),
            direct,
        };
        let reply = self
            .inner
            .engine
            .execute(&incoming, Command::Vote { proposal, choice })
            .await;
        let toast: String = reply.plain().chars().take(200).collect();
        if let Err(e) = bot
            .answer_callback_query(q.id.clone())
            .text(toast)
            .show_alert(reply.tone == Tone::Error)
            .send()
            .await
        {
            tracing::debug!(error = %self.inner.sender.redact(&e), "callback not answered");
        }
        if reply.tone == Tone::Ok
            && let Err(e) = self.inner.sender.send(chat, &reply, message).await
        {
            tracing::warn!(error = %self.inner.sender.redact(&e), chat = chat.0, "vote reply not sent");
        }
    }

    /// Sends a reply in the chat, or for the sender alone, in their private chat; the group then
    /// hears whether that worked. Failures are logged: the person can ask again.
    async fn answer(&self, chat: &Chat, cause: MessageId, from: &User, reply: &Reply) {
        let sender = &self.inner.sender;
        if reply.audience == Audience::Sender && !chat.is_private() {
            let notice = match sender.send(ChatId::from(from.id), reply, None).await {
                Ok(_) => Reply::text("I sent you a private message."),
                Err(RequestError::Api(e)) if sink::cannot_write(&e) => Reply::error(format!(
                    "I can't write to you privately yet: open a chat with @{} and press Start, then ask again.",
                    self.inner
                        .me
                        .user
                        .username
                        .as_deref()
                        .unwrap_or(&self.inner.username)
                )),
                Err(e) => {
                    tracing::warn!(error = %sender.redact(&e), "private reply not sent");
                    Reply::error("I could not send you a private message; please ask again.")
                }
            };
            if let Err(e) = sender.send(chat.id, &notice, Some(cause)).await {
                tracing::warn!(error = %sender.redact(&e), chat = chat.id.0, "reply not sent");
            }
            return;
        }
        if let Err(e) = sender.send(chat.id, reply, Some(cause)).await {
            tracing::warn!(error = %sender.redact(&e), chat = chat.id.0, "reply not sent");
        }
    }
}

/// Logs failed `getUpdates` calls (teloxide backs off and retries) without the token.
struct PollErrors {
    sender: Arc<Sender>,
}

impl ErrorHandler<RequestError> for PollErrors {
    fn handle_error(self: Arc<Self>, error: RequestError) -> BoxFuture<'static, ()> {
        let error = self.sender.redact(&error);
        Box::pin(async move { tracing::warn!(%error, "Telegram getUpdates failed; retrying") })
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
