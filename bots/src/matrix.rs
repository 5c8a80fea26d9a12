//! The Matrix adapter (matrix-sdk): translates room messages into engine calls and replies into
//! Matrix messages. It decides nothing.
//!
//! - Logs in with a password (the session is saved beside the store, so a restart is the same
//!   device) or restores a given access token.
//! - Keeps its state and end-to-end keys in a persistent sqlite store: encrypted rooms work, and
//!   after a restart it resumes from the stored sync token.
//! - Catches up after a restart: the first sync from the stored token carries what arrived
//!   while the bot was away, and it is handled like anything new (the event id is the
//!   idempotency key, and the answer's transaction id, so nothing acts or is answered twice). A
//!   command older than the [`AwayWindow`] is not run: its sender is asked to send it again.
//!   A first start (no stored token) ignores the rooms' history: one sync runs before any
//!   handler is attached.
//! - Accepts invites; reads `!cmd` and `/cmd`; answers with a notice that has an HTML and a plain
//!   body, sent with a transaction id derived from the command's event id, so a second send of
//!   the same answer is dropped by the homeserver.
//! - Shows votes as reaction buttons, once per proposal: the bot reacts to the proposal's
//!   announcement in the room (an outbox event) with 👍 👎 🤷 ✋, and a click on one votes. A
//!   command's answer about a proposal (a pledge, `!proposals`) carries no reactions of its own
//!   but points to the announcement (a link, once it is known); in a direct chat, which gets no
//!   announcements, the answer carries the reactions.
//! - Delivers outbox events ([`MatrixSink`]) and backs off on `M_LIMIT_EXCEEDED`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use coinsence_api::domain::chat::{ChatPlatform, ChatTarget};
use futures::future::BoxFuture;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};
use matrix_sdk::ruma::events::reaction::OriginalSyncReactionEvent;
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{MessageType, OriginalSyncRoomMessageEvent};
use matrix_sdk::ruma::{
    EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedTransactionId, RoomId,
    UInt, UserId,
};
use matrix_sdk::store::StateStoreDataKey;
use matrix_sdk::{Client, Room, RoomState, SessionMeta, SessionTokens};
use serde_json::json;

use crate::away::{self, AwayWindow};
use crate::command::Command;
use crate::delivery::{Sent, Sink, SinkError};
use crate::engine::{Engine, Incoming};
use crate::reply::{Audience, Reply, Span, choice_for_emoji};
use crate::say;
use coinsence_api::i18n::Args;

/// The custom content key that ties a message with vote buttons to its proposal, so a reaction
/// to it can be turned into a vote even after a restart.
const PROPOSAL_KEY: &str = "org.coinsence.proposal";

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("Matrix configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Build(#[from] matrix_sdk::ClientBuildError),
    #[error(transparent)]
    Sdk(#[from] matrix_sdk::Error),
    #[error(transparent)]
    Http(#[from] matrix_sdk::HttpError),
    #[error("session file: {0}")]
    Io(#[from] std::io::Error),
    #[error("session file: {0}")]
    Json(#[from] serde_json::Error),
}

/// How to log in: a password, or an access token of an existing device.
#[derive(Clone)]
pub enum Credentials {
    Password(String),
    Token {
        access_token: String,
        device_id: String,
    },
}

/// Secrets never reach logs.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(..)"),
            Self::Token { device_id, .. } => write!(f, "Token {{ device_id: {device_id:?}, .. }}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// The bot's user: `@coinsence:example.org` or its localpart.
    pub user: String,
    pub credentials: Credentials,
    /// Where the sqlite state and crypto stores and the saved session live.
    pub store_dir: PathBuf,
    /// Encrypts the stores at rest, when given.
    pub store_passphrase: Option<String>,
    /// How often pending outbox events are delivered.
    pub delivery_interval: Duration,
    /// How old a command that arrived while the bot was away may be and still run.
    pub away: AwayWindow,
}

/// Messages the bot sent with vote buttons: event id → proposal.
type VoteMessages = Arc<Mutex<HashMap<OwnedEventId, i64>>>;

/// The announcement of each proposal in each room (the message with its vote reactions), as
/// this process sent it: where an answer about the proposal points to vote.
type Announcements = Arc<Mutex<HashMap<(OwnedRoomId, i64), OwnedEventId>>>;

/// A logged-in bot, ready to run.
#[derive(Clone)]
pub struct MatrixBot {
    client: Client,
    engine: Engine,
    votes: VoteMessages,
    announcements: Announcements,
    away: AwayWindow,
    /// True once the first sync is done and the handlers listen.
    listening: Arc<tokio::sync::watch::Sender<bool>>,
}

impl MatrixBot {
    /// Builds the client on its persistent store and logs in (or restores the saved session).
    pub async fn login(config: &MatrixConfig, engine: Engine) -> Result<Self, MatrixError> {
        std::fs::create_dir_all(&config.store_dir)?;
        let client = Client::builder()
            .homeserver_url(&config.homeserver)
            .sqlite_store(&config.store_dir, config.store_passphrase.as_deref())
            .build()
            .await?;
        let session_file = config.store_dir.join("session.json");
        if session_file.exists() {
            let session: MatrixSession =
                serde_json::from_str(&std::fs::read_to_string(&session_file)?)?;
            client.restore_session(session).await?;
        } else {
            match &config.credentials {
                Credentials::Password(password) => {
                    client
                        .matrix_auth()
                        .login_username(&config.user, password)
                        .initial_device_display_name("Coinsence bot")
                        .send()
                        .await?;
                }
                Credentials::Token {
                    access_token,
                    device_id,
                } => {
                    let user_id = UserId::parse(&config.user).map_err(|_| {
                        MatrixError::Config(
                            "with an access token, give the bot's full user id (@name:server)"
                                .to_owned(),
                        )
                    })?;
                    let session = MatrixSession {
                        meta: SessionMeta {
                            user_id,
                            device_id: device_id.as_str().into(),
                        },
                        tokens: SessionTokens {
                            access_token: access_token.clone(),
                            refresh_token: None,
                        },
                    };
                    client.restore_session(session).await?;
                }
            }
            if let Some(session) = client.matrix_auth().session() {
                std::fs::write(&session_file, serde_json::to_string(&session)?)?;
            }
        }
        Ok(Self {
            client,
            engine,
            votes: VoteMessages::default(),
            announcements: Announcements::default(),
            away: config.away,
            listening: Arc::new(tokio::sync::watch::channel(false).0),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Becomes true when the bot answers commands (after its first sync).
    pub fn listening(&self) -> tokio::sync::watch::Receiver<bool> {
        self.listening.subscribe()
    }

    /// The sink that delivers outbox events through this bot's client.
    pub fn sink(&self) -> MatrixSink {
        MatrixSink {
            client: self.client.clone(),
            announcements: self.announcements.clone(),
        }
    }

    /// Catches up on what arrived while it was away (or, on a first start, syncs once without
    /// handlers: history gets no answer), joins pending invites, then handles events and
    /// delivers the outbox until `stop` resolves.
    pub async fn run(
        self,
        delivery_interval: Duration,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), MatrixError> {
        let settings = SyncSettings::default().timeout(Duration::from_secs(10));
        let resumed = self
            .client
            .state_store()
            .get_kv_data(StateStoreDataKey::SyncToken)
            .await
            .is_ok_and(|token| token.is_some());
        let first = if resumed {
            self.attach_handlers();
            let first = self
                .client
                .sync_once(settings.clone().filter(catch_up_filter()))
                .await?;
            tracing::info!("Matrix bot caught up on what arrived while it was away");
            first
        } else {
            let first = self.client.sync_once(settings.clone()).await?;
            self.attach_handlers();
            first
        };
        for room in self.client.invited_rooms() {
            tokio::spawn(join_with_retry(room));
        }
        self.listening.send_replace(true);
        tracing::info!(user = ?self.client.user_id(), "Matrix bot is listening");
        drop(first);
        let sink: Arc<dyn Sink> = Arc::new(self.sink());
        let core = self.engine.core().clone();
        crate::delivery::alongside(core, sink, delivery_interval, async {
            tokio::select! {
                () = self.sync_forever(settings) => {},
                () = stop => {},
            }
        })
        .await;
        Ok(())
    }

    /// Long-polls `/sync` from the stored token, one request after the other. (matrix-sdk's own
    /// `sync` pauses up to a second between syncs that come less than a second apart, which is
    /// a second added to every answer in a busy room; the homeserver's long-poll timeout is
    /// what keeps this from hammering it.) Errors back off, rate limits as long as asked.
    async fn sync_forever(&self, settings: SyncSettings) {
        let mut backoff = Duration::from_millis(500);
        let mut quick = 0u32;
        loop {
            let started = std::time::Instant::now();
            match self.client.sync_once(settings.clone()).await {
                Ok(_) => {
                    backoff = Duration::from_millis(500);
                    // A server that answers at once again and again, ignoring the timeout.
                    quick = if started.elapsed() < Duration::from_millis(20) {
                        quick + 1
                    } else {
                        0
                    };
                    if quick > 5 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                Err(e) => {
                    let wait = match classify(&e) {
                        SinkError::RateLimited(wait) => wait,
                        _ => backoff,
                    };
                    tracing::warn!(error = %e, ?wait, "Matrix sync failed; retrying");
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn attach_handlers(&self) {
        self.client.add_event_handler(
            |ev: StrippedRoomMemberEvent, room: Room, client: Client| async move {
                if ev.content.membership == MembershipState::Invite
                    && client.user_id() == Some(&*ev.state_key)
                {
                    tokio::spawn(join_with_retry(room));
                }
            },
        );
        let bot = self.clone();
        self.client
            .add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
                let bot = bot.clone();
                async move { bot.handle_message(&room, &ev).await }
            });
        let bot = self.clone();
        self.client
            .add_event_handler(move |ev: OriginalSyncReactionEvent, room: Room| {
                let bot = bot.clone();
                async move { bot.handle_reaction(&room, &ev).await }
            });
    }

    /// Answers a room message if it is a command. Public so a test can deliver the same event a
    /// second time, as a homeserver may.
    pub async fn handle_message(&self, room: &Room, ev: &OriginalSyncRoomMessageEvent) {
        if room.state() != RoomState::Joined || self.client.user_id() == Some(&*ev.sender) {
            return;
        }
        let MessageType::Text(text) = &ev.content.msgtype else {
            return;
        };
        let body = with_pills_as_ids(&text.body, text.formatted.as_ref().map(|f| f.body.as_str()));
        let sender_name = name_in_room(room, &ev.sender).await;
        let msg = Incoming {
            room: room.room_id().to_string(),
            sender: ev.sender.to_string(),
            sender_name,
            event_id: Some(ev.event_id.to_string()),
            direct: room.is_direct().await.unwrap_or(false),
            // Matrix tells nothing about a person's language.
            locale: None,
        };
        let reply = if self.too_old(ev.origin_server_ts) {
            away::too_old_answer(&self.engine, &msg, &body).await
        } else {
            self.engine.handle_text(&msg, &body).await
        };
        let Some(reply) = reply else {
            return;
        };
        self.answer(room, &ev.event_id, &ev.sender, &reply).await;
    }

    /// Sent longer ago than the away window (a command that waited while the bot was down).
    fn too_old(&self, sent: MilliSecondsSinceUnixEpoch) -> bool {
        sent.to_system_time()
            .is_some_and(|at| self.away.too_old(at.into(), chrono::Utc::now()))
    }

    /// A click on a vote button (a reaction to a message of ours that carries a proposal).
    pub async fn handle_reaction(&self, room: &Room, ev: &OriginalSyncReactionEvent) {
        if room.state() != RoomState::Joined || self.client.user_id() == Some(&*ev.sender) {
            return;
        }
        let target = &ev.content.relates_to.event_id;
        let Some(choice) = choice_for_emoji(&ev.content.relates_to.key) else {
            return;
        };
        let Some(proposal) = self.proposal_of(room, target).await else {
            return;
        };
        // As for a message: a member's name follows their platform, so a click must not rename
        // them to their id's local part (`!pay @cleo` would no longer find Cleo).
        let sender_name = name_in_room(room, &ev.sender).await;
        let msg = Incoming {
            room: room.room_id().to_string(),
            sender: ev.sender.to_string(),
            sender_name,
            event_id: Some(ev.event_id.to_string()),
            direct: room.is_direct().await.unwrap_or(false),
            locale: None,
        };
        let reply = if self.too_old(ev.origin_server_ts) {
            away::send_again(self.engine.lang_of(&msg).await)
        } else {
            self.engine
                .execute(&msg, Command::Vote { proposal, choice })
                .await
        };
        self.answer(room, &ev.event_id, &ev.sender, &reply).await;
    }

    /// The proposal a message of ours votes on: remembered, or read from the message itself.
    async fn proposal_of(&self, room: &Room, event: &EventId) -> Option<i64> {
        if let Some(p) = self.votes.lock().ok().and_then(|m| m.get(event).copied()) {
            return Some(p);
        }
        let found = room.event(event, None).await.ok()?;
        let raw: serde_json::Value = found.raw().deserialize_as().ok()?;
        if raw.get("sender").and_then(|s| s.as_str()) != self.client.user_id().map(|u| u.as_str()) {
            return None;
        }
        raw.get("content")?.get(PROPOSAL_KEY)?.as_i64()
    }

    /// Sends a reply in the room (or, for a private one, to the sender directly), then its vote
    /// buttons. A private reply never goes to a shared room: if no direct room can be opened,
    /// the room only hears that. Failures are logged: the person can ask again.
    async fn answer(&self, room: &Room, cause: &EventId, sender: &UserId, reply: &Reply) {
        let txn = format!("re-{}", crate::delivery::stable_hash(cause.as_str()));
        let direct = room.is_direct().await.unwrap_or(false);
        let private = reply.audience == Audience::Sender && !direct;
        let (target, in_reply_to) = if private {
            let (notice, target) = match direct_room(&self.client, sender).await {
                Ok((dm, _)) => (
                    Reply::text(say::plain(reply.lang, "chat-sent-direct")).in_lang(reply.lang),
                    Some(dm),
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open a direct message");
                    let sorry = Reply::error(say::plain(reply.lang, "chat-direct-open-failed"))
                        .in_lang(reply.lang);
                    (sorry, None)
                }
            };
            if let Err(e) = send_reply(room, &notice, Some(cause), &format!("{txn}-n")).await {
                tracing::warn!(error = %e, "reply not sent");
            }
            match target {
                Some(dm) => (dm, None),
                None => return,
            }
        } else {
            (room.clone(), Some(cause))
        };
        // In a shared room the proposal's announcement carries the reactions: point to it.
        let shared = !direct && in_reply_to.is_some();
        let pointed;
        let reply = match reply.vote_proposal() {
            Some(p) if shared => {
                pointed = pointing_to_announcement(&self.announcements, target.room_id(), p, reply);
                &pointed
            }
            _ => reply,
        };
        match send_reply(&target, reply, in_reply_to, &txn).await {
            Ok(sent) => {
                if let Some(p) = reply.vote_proposal() {
                    if let Ok(mut m) = self.votes.lock() {
                        m.insert(sent.clone(), p);
                    }
                    if !shared {
                        add_vote_buttons(&target, &sent, reply, &txn).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, room = %target.room_id(), "reply not sent"),
        }
    }
}

/// The first sync after a restart asks for up to 100 events per room (the default is 10), so
/// a busy room's missed commands are not cut off.
fn catch_up_filter() -> sync_events::v3::Filter {
    let mut filter = FilterDefinition::default();
    filter.room.timeline.limit = Some(UInt::from(100u32));
    sync_events::v3::Filter::FilterDefinition(filter)
}

/// The announcement of a proposal in a room, if this process sent it.
fn announcement(
    announcements: &Announcements,
    room: &RoomId,
    proposal: i64,
) -> Option<OwnedEventId> {
    announcements
        .lock()
        .ok()
        .and_then(|m| m.get(&(room.to_owned(), proposal)).cloned())
}

/// The reply with a line that sends voters to the proposal's announcement: a link when this
/// process announced it, else word that it follows in the room.
fn pointing_to_announcement(
    announcements: &Announcements,
    room: &RoomId,
    proposal: i64,
    reply: &Reply,
) -> Reply {
    let lang = reply.lang;
    let line = match announcement(announcements, room, proposal) {
        Some(event) => say::spans(
            lang,
            "chat-vote-on-announcement",
            Args::new(),
            vec![(
                "link",
                Span::Text(format!("https://matrix.to/#/{room}/{event}")),
            )],
        ),
        None => say::spans(lang, "chat-vote-announcement-follows", Args::new(), vec![]),
    };
    reply.clone().line(line)
}

/// Joins a room we were invited to. Synapse may refuse a join that follows the invite too
/// closely, so it retries with a growing pause.
async fn join_with_retry(room: Room) {
    let mut wait = Duration::from_millis(250);
    for _ in 0..8 {
        match room.join().await {
            Ok(()) => {
                tracing::info!(room = %room.room_id(), "joined");
                return;
            }
            Err(e) => {
                if let SinkError::RateLimited(d) = classify(&e) {
                    wait = wait.max(d);
                }
                tracing::debug!(error = %e, room = %room.room_id(), "join failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
    tracing::warn!(room = %room.room_id(), "could not join");
}

/// The content of a reply: a notice with plain and HTML bodies, the proposal its buttons vote
/// on, and the message it answers.
fn content(reply: &Reply, in_reply_to: Option<&EventId>) -> serde_json::Value {
    let mut content = json!({
        "msgtype": "m.notice",
        "body": reply.plain_with(true),
        "format": "org.matrix.custom.html",
        "formatted_body": reply.html(true),
    });
    if let Some(p) = reply.vote_proposal() {
        content[PROPOSAL_KEY] = json!(p);
    }
    if let Some(cause) = in_reply_to {
        content["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": cause.as_str() } });
    }
    content
}

/// Sends one message with a transaction id, waiting out rate limits.
async fn send_reply(
    room: &Room,
    reply: &Reply,
    in_reply_to: Option<&EventId>,
    txn: &str,
) -> Result<OwnedEventId, SinkError> {
    send_raw(room, "m.room.message", content(reply, in_reply_to), txn).await
}

async fn send_raw(
    room: &Room,
    event_type: &str,
    content: serde_json::Value,
    txn: &str,
) -> Result<OwnedEventId, SinkError> {
    let txn: OwnedTransactionId = txn.into();
    for _ in 0..5 {
        match room
            .send_raw(event_type, content.clone())
            .with_transaction_id(&txn)
            .await
        {
            Ok(sent) => return Ok(sent.response.event_id),
            Err(e) => match classify(&e) {
                SinkError::RateLimited(wait) => {
                    tracing::info!(?wait, "Matrix rate limit; waiting");
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                }
                other => return Err(other),
            },
        }
    }
    Err(SinkError::Failed("still rate limited".to_owned()))
}

/// The bot's own reactions under a message with buttons: one click for each choice.
async fn add_vote_buttons(room: &Room, message: &EventId, reply: &Reply, txn: &str) {
    for button in &reply.buttons {
        let reaction = json!({
            "m.relates_to": {
                "rel_type": "m.annotation",
                "event_id": message.as_str(),
                "key": button.emoji(),
            }
        });
        let txn = format!("{txn}-{}", button.label());
        if let Err(e) = send_raw(room, "m.reaction", reaction, &txn).await {
            tracing::debug!(error = %e, "vote button not added");
        }
    }
}

/// Rate limits, rooms we cannot reach, and the rest.
fn classify(e: &matrix_sdk::Error) -> SinkError {
    match e.client_api_error_kind() {
        Some(ErrorKind::LimitExceeded(data)) => {
            let wait = match &data.retry_after {
                Some(RetryAfter::Delay(d)) => *d,
                Some(RetryAfter::DateTime(at)) => at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::from_millis(500)),
                None => Duration::from_secs(1),
            };
            SinkError::RateLimited(wait)
        }
        Some(ErrorKind::Forbidden | ErrorKind::NotFound) => SinkError::Unreachable(e.to_string()),
        _ => SinkError::Failed(e.to_string()),
    }
}

/// A direct-message room with someone: the one we have, or a new one (encrypted, as
/// matrix-sdk creates them). The flag tells whether it was created now.
async fn direct_room(client: &Client, user: &UserId) -> Result<(Room, bool), SinkError> {
    if let Some(room) = client.get_dm_room(user) {
        return Ok((room, false));
    }
    client
        .create_dm(user)
        .await
        .map(|r| (r, true))
        .map_err(|e| classify(&e))
}

/// What the room calls `who`: their display name there, else their id's local part.
async fn name_in_room(room: &Room, who: &UserId) -> String {
    match room.get_member_no_sync(who).await {
        Ok(Some(m)) => m.display_name().unwrap_or(who.localpart()).to_owned(),
        _ => who.localpart().to_owned(),
    }
}

/// Rewrites mention pills to Matrix ids: clients send "Ben" in the plain body and
/// `<a href="https://matrix.to/#/@ben:example.org">Ben</a>` in the HTML one, and the grammar
/// wants the id.
pub fn with_pills_as_ids(body: &str, html: Option<&str>) -> String {
    let Some(html) = html else {
        return body.to_owned();
    };
    let mut out = body.to_owned();
    let mut rest = html;
    while let Some(start) = rest.find("href=\"https://matrix.to/#/") {
        let after = &rest[start + "href=\"https://matrix.to/#/".len()..];
        let Some(end) = after.find('"') else { break };
        let target = after[..end].split('?').next().unwrap_or("");
        let target = target
            .replace("%40", "@")
            .replace("%3A", ":")
            .replace("%3a", ":");
        let Some(text_start) = after.find('>') else {
            break;
        };
        let Some(text_end) = after[text_start..].find("</a>") else {
            break;
        };
        let text = &after[text_start + 1..text_start + text_end];
        // Replace the pill's text (the display name, sometimes with an @) by the id, once.
        if target.starts_with('@')
            && !text.is_empty()
            && text != target
            && let Some(at) = out.find(text)
        {
            out.replace_range(at..at + text.len(), &target);
        }
        rest = &after[text_start + text_end..];
    }
    out
}

/// Outbox delivery over Matrix: rooms by id, people in their direct-message room.
#[derive(Clone)]
pub struct MatrixSink {
    client: Client,
    announcements: Announcements,
}

impl MatrixSink {
    async fn send_to(
        &self,
        target: &ChatTarget,
        reply: &Reply,
        txn: &str,
    ) -> Result<Sent, SinkError> {
        let (room, sent) = match target {
            ChatTarget::Room(id) => {
                let room_id: OwnedRoomId = RoomId::parse(id)
                    .map_err(|e| SinkError::Unreachable(format!("room id {id}: {e}")))?;
                let room = self
                    .client
                    .get_room(&room_id)
                    .filter(|r| r.state() == RoomState::Joined)
                    .ok_or_else(|| SinkError::Unreachable(format!("not in room {id}")))?;
                (room, Sent::Delivered)
            }
            ChatTarget::Direct {
                platform_user_id,
                dm_room_id,
                ..
            } => {
                let known = dm_room_id
                    .as_deref()
                    .and_then(|id| RoomId::parse(id).ok())
                    .and_then(|id| self.client.get_room(&id))
                    .filter(|r| r.state() == RoomState::Joined);
                match known {
                    Some(room) => (room, Sent::Delivered),
                    None => {
                        let user = UserId::parse(platform_user_id).map_err(|e| {
                            SinkError::Unreachable(format!("user id {platform_user_id}: {e}"))
                        })?;
                        let (room, created) = direct_room(&self.client, &user).await?;
                        let sent = if created || dm_room_id.is_none() {
                            Sent::DirectRoom(room.room_id().to_string())
                        } else {
                            Sent::Delivered
                        };
                        (room, sent)
                    }
                }
            }
        };
        // The first message about a proposal in a room (its announcement) carries the
        // reactions; a later one (a reminder) points to it.
        let proposal = reply.vote_proposal();
        let announced = match (proposal, target) {
            (Some(p), ChatTarget::Room(_)) => announcement(&self.announcements, room.room_id(), p),
            _ => None,
        };
        let pointed;
        let reply = match (proposal, &announced) {
            (Some(p), Some(_)) => {
                pointed = pointing_to_announcement(&self.announcements, room.room_id(), p, reply);
                &pointed
            }
            _ => reply,
        };
        let message = send_reply(&room, reply, None, txn).await?;
        if let (Some(p), None) = (proposal, &announced) {
            add_vote_buttons(&room, &message, reply, txn).await;
            if matches!(target, ChatTarget::Room(_))
                && let Ok(mut m) = self.announcements.lock()
            {
                m.insert((room.room_id().to_owned(), p), message);
            }
        }
        Ok(sent)
    }
}

impl Sink for MatrixSink {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Matrix
    }

    fn send<'a>(
        &'a self,
        target: &'a ChatTarget,
        reply: &'a Reply,
        txn_id: &'a str,
    ) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(self.send_to(target, reply, txn_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pills_become_ids() {
        let body = "!pay Ben 5 for lunch";
        let html = r#"!pay <a href="https://matrix.to/#/@ben:example.org">Ben</a> 5 for lunch"#;
        assert_eq!(
            with_pills_as_ids(body, Some(html)),
            "!pay @ben:example.org 5 for lunch"
        );
        assert_eq!(with_pills_as_ids(body, None), body);
        let plain_id = "!pay @ben:example.org 5";
        assert_eq!(with_pills_as_ids(plain_id, Some(plain_id)), plain_id);
    }
}
