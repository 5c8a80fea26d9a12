//! The Discord adapter (serenity): translates slash commands, button presses and `!cmd` messages
//! into engine calls and replies into Discord messages. It decides nothing.
//!
//! - Slash commands are registered per guild, in bulk, when the bot learns of the guild (READY,
//!   then GUILD_CREATE for guilds it joins later): guild commands appear at once, global ones
//!   can take an hour. Each command's typed options are written back as the canonical text line
//!   and parsed by the one grammar ([`commands`]).
//! - Interactions are acknowledged at once with a deferred answer (type 5), well inside
//!   Discord's 3 seconds, then the answer replaces it. `/link` is deferred as ephemeral: only the
//!   person sees their login.
//! - Vote buttons are components with the custom id `vote:<proposal>:<choice>`; a press votes
//!   for whoever pressed.
//! - `!pay ...` messages are read where Discord gives the bot message content (the privileged
//!   message-content intent, [`DiscordConfig::message_content`]; direct messages and messages
//!   that mention the bot always carry it).
//! - The idempotency key is `dc:<interaction or message id>`, so a redelivered event never acts
//!   twice (it gets the first answer again).
//! - A room is a channel (its id as text): `/connect` binds the channel it is typed in, as a
//!   Matrix room is bound, and events for the org are posted there. Binding the whole guild
//!   would leave no place to post and would tie every channel of a server to one community.
//! - After a restart (READY) or a gateway resume, each bound channel is read through REST from
//!   the last message handled there ([`catch_up`]): what arrived while the bot was away is
//!   answered, a command older than the [`AwayWindow`] is asked to be sent again.
//! - Private replies ([`Audience::Sender`]) go by direct message (or stay ephemeral), and so do
//!   outbox receipts ([`DiscordSink`]).

mod catch_up;
pub mod commands;
pub mod sink;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serenity::all::{
    ChannelId, Client, CommandDataOptionValue, CommandInteraction, ComponentInteraction,
    ComponentInteractionDataKind, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, EditInteractionResponse, EventHandler, GatewayIntents, Guild,
    GuildId, Http, HttpBuilder, Interaction, Message, Ready, ResumedEvent, User, UserId,
};

use crate::away::{self, AwayWindow};
use crate::command::Command;
use crate::delivery::Sink;
use crate::engine::{Engine, Incoming, help};
use crate::reply::{Audience, Reply};
use crate::say;
use coinsence_api::i18n::Lang;

pub use sink::DiscordSink;

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("Discord configuration: {0}")]
    Config(String),
    /// Boxed: serenity's error is large, and this one travels in every `Result`.
    #[error("Discord: {0}")]
    Serenity(Box<serenity::Error>),
}

impl From<serenity::Error> for DiscordError {
    fn from(e: serenity::Error) -> Self {
        Self::Serenity(Box::new(e))
    }
}

#[derive(Clone)]
pub struct DiscordConfig {
    pub token: String,
    /// Another base for the REST API instead of `https://discord.com` (a proxy, or a test's
    /// fake). Every route is rewritten to it.
    pub api_base: Option<String>,
    /// Ask for the privileged message-content intent, to read `!pay` in guild channels. It must
    /// be enabled for the application in Discord's developer portal, or Discord refuses the
    /// connection.
    pub message_content: bool,
    /// Serenity's REST rate limiter. Always on against Discord; a test's fake turns it off.
    pub ratelimiter: bool,
    /// How often pending outbox events are delivered.
    pub delivery_interval: Duration,
    /// How old a command that arrived while the bot was away may be and still run.
    pub away: AwayWindow,
}

/// The token never reaches logs.
impl std::fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &"..")
            .field("api_base", &self.api_base)
            .field("message_content", &self.message_content)
            .field("ratelimiter", &self.ratelimiter)
            .field("delivery_interval", &self.delivery_interval)
            .field("away", &self.away)
            .finish()
    }
}

impl DiscordConfig {
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            api_base: None,
            message_content: false,
            ratelimiter: true,
            delivery_interval: Duration::from_secs(1),
            away: AwayWindow::default(),
        }
    }

    fn intents(&self) -> GatewayIntents {
        let base = GatewayIntents::GUILDS
            | GatewayIntents::GUILD_MESSAGES
            | GatewayIntents::DIRECT_MESSAGES;
        if self.message_content {
            base | GatewayIntents::MESSAGE_CONTENT
        } else {
            base
        }
    }
}

/// What the event handlers share.
struct State {
    engine: Engine,
    /// Guilds whose commands were registered by this process.
    registered: Mutex<HashSet<GuildId>>,
    /// The bot's own user, from READY: its messages are never commands.
    me: OnceLock<UserId>,
    away: AwayWindow,
    /// Held while a catch-up runs: a resume during one does not start a second.
    catching_up: tokio::sync::Mutex<()>,
    /// The language each person's Discord client said in their last interaction. Messages
    /// carry none, so a person's messages are answered in it too (until a restart forgets it;
    /// then the org's language serves until their next slash command or button).
    locales: Mutex<HashMap<UserId, Lang>>,
}

/// A connected bot, ready to run.
pub struct DiscordBot {
    client: Client,
    config: DiscordConfig,
    state: Arc<State>,
}

impl DiscordBot {
    /// Checks the token and asks Discord for its gateway, then builds the client.
    ///
    /// Serenity's client builder falls back to the real gateway, silently, when the gateway
    /// lookup fails; the lookup is made here first, and its failure is an error, so a
    /// misconfigured API base (or a test's broken fake) never ends up talking to Discord.
    pub async fn connect(config: DiscordConfig, engine: Engine) -> Result<Self, DiscordError> {
        if config.token.trim().is_empty() {
            return Err(DiscordError::Config("the bot token is empty".to_owned()));
        }
        let mut http =
            HttpBuilder::new(config.token.trim()).ratelimiter_disabled(!config.ratelimiter);
        if let Some(base) = &config.api_base {
            http = http.proxy(base.trim_end_matches('/'));
        }
        let http = http.build();
        let gateway = http.get_bot_gateway().await?;
        let state = Arc::new(State {
            engine,
            registered: Mutex::new(HashSet::new()),
            me: OnceLock::new(),
            away: config.away,
            catching_up: tokio::sync::Mutex::new(()),
            locales: Mutex::new(HashMap::new()),
        });
        let client = serenity::all::ClientBuilder::new_with_http(http, config.intents())
            .event_handler(Handler {
                state: Arc::clone(&state),
            })
            .await?;
        // The builder looked the gateway up again and may have fallen back to Discord's.
        *client.ws_url.lock().await = gateway.url;
        Ok(Self {
            client,
            config,
            state,
        })
    }

    /// The REST client (shared with the gateway's handlers).
    pub fn http(&self) -> Arc<Http> {
        Arc::clone(&self.client.http)
    }

    /// The sink that delivers outbox events through this bot's REST client.
    pub fn sink(&self) -> DiscordSink {
        DiscordSink::new(self.http())
    }

    /// Connects to the gateway and handles events, and delivers the outbox, until `stop`
    /// resolves or the gateway refuses us (a bad token, intents not enabled in the portal).
    pub async fn run(
        mut self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), DiscordError> {
        let sink: Arc<dyn Sink> = Arc::new(self.sink());
        let core = self.state.engine.core().clone();
        let interval = self.config.delivery_interval;
        let shards = std::sync::Arc::clone(&self.client.shard_manager);
        crate::delivery::alongside(core, sink, interval, async {
            tokio::select! {
                r = self.client.start() => r.map_err(DiscordError::from),
                () = stop => {
                    shards.shutdown_all().await;
                    Ok(())
                }
            }
        })
        .await
    }
}

struct Handler {
    state: Arc<State>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        ctx.http.set_application_id(ready.application.id);
        let _ = self.state.me.set(ready.user.id);
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord bot is connected");
        for guild in &ready.guilds {
            self.state.register(&ctx.http, guild.id).await;
        }
        let state = Arc::clone(&self.state);
        tokio::spawn(async move { state.catch_up(&ctx.http).await });
    }

    /// Discord replays what the session missed on a resume, but not what came while the bot
    /// was stopped or before a resume it refused: read the bound channels again.
    async fn resume(&self, ctx: Context, _: ResumedEvent) {
        let state = Arc::clone(&self.state);
        tokio::spawn(async move { state.catch_up(&ctx.http).await });
    }

    async fn guild_create(&self, ctx: Context, guild: Guild, _is_new: Option<bool>) {
        self.state.register(&ctx.http, guild.id).await;
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(i) => self.state.on_command(&ctx.http, &i).await,
            Interaction::Component(i) => self.state.on_button(&ctx.http, &i).await,
            _ => {}
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        self.state.on_message(&ctx.http, &msg).await;
    }
}

impl State {
    /// Registers every command in a guild, once per process (a bulk overwrite: registering
    /// again after a restart replaces, never duplicates).
    async fn register(&self, http: &Http, guild: GuildId) {
        let first = self
            .registered
            .lock()
            .map(|mut set| set.insert(guild))
            .unwrap_or(true);
        if !first {
            return;
        }
        match guild.set_commands(http, commands::definitions()).await {
            Ok(done) => tracing::info!(%guild, commands = done.len(), "slash commands registered"),
            Err(e) => {
                tracing::warn!(%guild, error = %e, "slash commands not registered");
                if let Ok(mut set) = self.registered.lock() {
                    set.remove(&guild);
                }
            }
        }
    }

    fn incoming(
        &self,
        channel: ChannelId,
        direct: bool,
        user: &User,
        nick: Option<&str>,
        event: String,
        locale: Option<&str>,
    ) -> Incoming {
        let locale = match locale {
            Some(tag) => {
                let lang = Lang::from_tag(tag);
                if let Ok(mut known) = self.locales.lock() {
                    match lang {
                        Some(lang) => known.insert(user.id, lang),
                        None => known.remove(&user.id),
                    };
                }
                lang
            }
            None => self
                .locales
                .lock()
                .ok()
                .and_then(|known| known.get(&user.id).copied()),
        };
        Incoming {
            room: channel.to_string(),
            sender: user.id.to_string(),
            sender_name: nick.unwrap_or_else(|| user.display_name()).to_owned(),
            event_id: Some(event),
            direct,
            // Interactions carry the user's client language; messages carry none (the last
            // interaction's language stands in).
            locale,
        }
    }

    async fn on_command(&self, http: &Http, i: &CommandInteraction) {
        let private = i.data.name == "link";
        // Acknowledge first: Discord drops an interaction not answered within 3 seconds.
        let defer = CreateInteractionResponse::Defer(
            CreateInteractionResponseMessage::new().ephemeral(private),
        );
        if let Err(e) = i.create_response(http, defer).await {
            // A redelivered interaction was acknowledged already; its answer is edited again.
            tracing::debug!(error = %e, "interaction not deferred");
        }
        let args: Vec<(String, commands::Arg)> = i
            .data
            .options
            .iter()
            .filter_map(|o| {
                let v = match &o.value {
                    CommandDataOptionValue::User(u) => commands::Arg::User(u.get()),
                    CommandDataOptionValue::String(s) => commands::Arg::Text(s.clone()),
                    CommandDataOptionValue::Integer(n) => commands::Arg::Integer(*n),
                    _ => return None,
                };
                Some((o.name.clone(), v))
            })
            .collect();
        let msg = self.incoming(
            i.channel_id,
            i.guild_id.is_none(),
            &i.user,
            i.member.as_ref().and_then(|m| m.nick.as_deref()),
            format!("dc:{}", i.id),
            Some(&i.locale),
        );
        let reply = match commands::command_line(&i.data.name, &args) {
            Some(line) => match self.engine.handle_text(&msg, &line).await {
                Some(reply) => reply,
                None => help(self.engine.lang_of(&msg).await, None, None),
            },
            None => help(self.engine.lang_of(&msg).await, None, Some(&i.data.name)),
        };
        // Read after it ran: a `/connect` binds the channel, and from it on the channel is read.
        if i.guild_id.is_some() {
            self.read(i.channel_id, i.id.get()).await;
        }
        self.finish_interaction(http, &i.token, &i.user, &msg, &reply, private)
            .await;
    }

    async fn on_button(&self, http: &Http, i: &ComponentInteraction) {
        if !matches!(i.data.kind, ComponentInteractionDataKind::Button) {
            return;
        }
        let Some((proposal, choice)) = commands::parse_vote_button(&i.data.custom_id) else {
            return;
        };
        let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new());
        if let Err(e) = i.create_response(http, defer).await {
            tracing::debug!(error = %e, "button press not deferred");
        }
        let msg = self.incoming(
            i.channel_id,
            i.guild_id.is_none(),
            &i.user,
            i.member.as_ref().and_then(|m| m.nick.as_deref()),
            format!("dc:{}", i.id),
            Some(&i.locale),
        );
        let reply = self
            .engine
            .execute(&msg, Command::Vote { proposal, choice })
            .await;
        self.finish_interaction(http, &i.token, &i.user, &msg, &reply, false)
            .await;
    }

    /// Replaces a deferred answer with the reply. A private reply in a shared channel goes by
    /// direct message unless the answer was ephemeral already.
    async fn finish_interaction(
        &self,
        http: &Http,
        token: &str,
        user: &User,
        msg: &Incoming,
        reply: &Reply,
        ephemeral: bool,
    ) {
        let shown = if reply.audience == Audience::Sender && !ephemeral && !msg.direct {
            self.direct(http, user.id, reply, msg).await
        } else {
            reply.clone()
        };
        let edit = EditInteractionResponse::new()
            .content(sink::content(&shown))
            .components(sink::components(&shown))
            .allowed_mentions(sink::no_pings());
        if let Err(e) = http
            .edit_original_interaction_response(token, &edit, Vec::new())
            .await
        {
            tracing::warn!(error = %e, "interaction answer not sent");
        }
    }

    /// Sends a private reply by direct message; answers what the channel is told instead.
    async fn direct(&self, http: &Http, user: UserId, reply: &Reply, msg: &Incoming) -> Reply {
        let nonce = sink::nonce(&format!(
            "dm{}",
            crate::delivery::stable_hash(msg.event_id.as_deref().unwrap_or_default())
        ));
        let sent = match user.create_dm_channel(http).await {
            Ok(dm) => dm
                .id
                .send_message(http, sink::message(reply, &nonce))
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => Reply::text(say::plain(reply.lang, "chat-sent-direct")).in_lang(reply.lang),
            Err(e) => {
                tracing::warn!(error = %e, "cannot send a direct message");
                Reply::error(say::plain(reply.lang, "chat-direct-failed")).in_lang(reply.lang)
            }
        }
    }

    /// A message from the gateway.
    async fn on_message(&self, http: &Http, m: &Message) {
        self.on_message_in(http, m, m.guild_id.is_none()).await;
    }

    /// A message, live or read back after a restart (REST messages carry no guild: the caller
    /// says whether the channel is a direct one). Remembered as read in a bound channel.
    async fn on_message_in(&self, http: &Http, m: &Message, direct: bool) {
        if m.author.bot || self.me.get() == Some(&m.author.id) {
            return;
        }
        let text = self.without_my_mention(&m.content);
        let msg = self.incoming(
            m.channel_id,
            direct,
            &m.author,
            m.member.as_ref().and_then(|p| p.nick.as_deref()),
            format!("dc:{}", m.id),
            None,
        );
        let sent = chrono::DateTime::from_timestamp(m.timestamp.unix_timestamp(), 0);
        let reply = if sent.is_some_and(|at| self.away.too_old(at, chrono::Utc::now())) {
            away::too_old_answer(&self.engine, &msg, text).await
        } else {
            self.engine.handle_text(&msg, text).await
        };
        if !direct {
            self.read(m.channel_id, m.id.get()).await;
        }
        let Some(reply) = reply else {
            return;
        };
        let shown = if reply.audience == Audience::Sender && !msg.direct {
            self.direct(http, m.author.id, &reply, &msg).await
        } else {
            reply
        };
        // The nonce is the command's id: a redelivered message's answer is dropped by Discord.
        let nonce = format!("re{}", m.id);
        if let Err(e) = m
            .channel_id
            .send_message(http, sink::answer(&shown, m.id, m.channel_id, &nonce))
            .await
        {
            tracing::warn!(error = %e, channel = %m.channel_id, "answer not sent");
        }
    }

    /// `@Coinsence !pay ...` reads as `!pay ...`: without the message-content intent, messages
    /// that mention the bot are the ones whose text it gets.
    fn without_my_mention<'a>(&self, text: &'a str) -> &'a str {
        let text = text.trim_start();
        let Some(me) = self.me.get() else {
            return text;
        };
        for form in [format!("<@{me}>"), format!("<@!{me}>")] {
            if let Some(rest) = text.strip_prefix(&form) {
                return rest.trim_start();
            }
        }
        text
    }
}
