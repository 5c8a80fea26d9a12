//! The Discord bot end to end through serenity's real client, pointed at a fake Discord started
//! here: a REST server (every route rewritten to it by `HttpBuilder::proxy`) and a `ws://`
//! gateway that says HELLO, takes IDENTIFY, sends READY and GUILD_CREATE, acknowledges
//! heartbeats, and then dispatches what a test asks for (slash commands, button presses,
//! messages). The fake records every request; the ledger is real PostgreSQL.
//!
//! Every wait has a timeout, and the bot refuses to start when the fake's gateway lookup fails
//! (serenity would otherwise fall back to the real Discord), so a broken fake fails fast.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform, ChatTarget};
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_bots::delivery::{Sent, Sink, SinkError};
use coinsence_bots::discord::{DiscordBot, DiscordConfig, DiscordSink};
use coinsence_bots::reply::Reply;
use coinsence_bots::scenario::{self, Driver, Person};
use coinsence_bots::{Engine, EngineConfig};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;

const TOKEN: &str = "fake-bot-token";
const APP: u64 = 700;
const BOT: u64 = 701;
const GUILD: u64 = 800;
const CHANNEL: u64 = 2001;
const ANA: u64 = 1001;
const BEN: u64 = 1002;
/// Every wait for the fake to see something.
const WAIT: Duration = Duration::from_secs(20);
const HEARTBEAT_MS: u64 = 1000;
const TS: &str = "2026-01-01T00:00:00.000000+00:00";

/// One request the fake received (REST), or one gateway frame from the bot (`WS op:<n>`).
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    method: String,
    path: String,
    body: Value,
}

#[derive(Default)]
struct Behaviour {
    /// The gateway lookup answers 500.
    gateway_fails: bool,
    /// Messages to this channel answer 429.
    rate_limited_channel: Option<u64>,
}

struct FakeState {
    hits: Mutex<Vec<Hit>>,
    /// Messages `GET /channels/{id}/messages` returns (as Discord keeps a channel's history).
    history: Mutex<Vec<Value>>,
    gateway_url: String,
    behaviour: Behaviour,
}

struct Fake {
    rest: String,
    state: Arc<FakeState>,
    dispatch: mpsc::UnboundedSender<(String, Value)>,
}

impl Fake {
    async fn start(behaviour: Behaviour) -> Self {
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let gateway = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let rest_url = format!("http://{}", rest.local_addr().unwrap());
        let gateway_url = format!("ws://{}", gateway.local_addr().unwrap());
        let state = Arc::new(FakeState {
            hits: Mutex::new(Vec::new()),
            history: Mutex::new(Vec::new()),
            gateway_url,
            behaviour,
        });
        let app = axum::Router::new()
            .fallback(rest_handler)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = axum::serve(rest, app).await;
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(gateway_loop(gateway, Arc::clone(&state), rx));
        Self {
            rest: rest_url,
            state,
            dispatch: tx,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.state
            .hits
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Waits until `found` picks something out of the recorded hits; panics after [`WAIT`].
    async fn wait<T>(&self, what: &str, found: impl Fn(&[Hit]) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(t) = found(&self.hits()) {
                return t;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self
                    .hits()
                    .iter()
                    .map(|h| format!("{} {} {}", h.method, h.path, h.body))
                    .collect();
                panic!("the fake never saw {what}; it saw:\n{}", seen.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a dispatch (after checking serenity reads it: a payload it cannot read would be
    /// dropped silently by the client, and the test would only time out).
    fn send(&self, event: &str, d: Value) {
        check_payload(event, &d);
        self.dispatch
            .send((event.to_owned(), d))
            .expect("gateway gone");
    }
}

fn check_payload(event: &str, d: &Value) {
    let res = match event {
        "READY" => serde_json::from_value::<serenity::all::Ready>(d.clone()).map(drop),
        "GUILD_CREATE" => serde_json::from_value::<serenity::all::Guild>(d.clone()).map(drop),
        "INTERACTION_CREATE" => {
            serde_json::from_value::<serenity::all::Interaction>(d.clone()).map(drop)
        }
        "MESSAGE_CREATE" => serde_json::from_value::<serenity::all::Message>(d.clone()).map(drop),
        _ => Ok(()),
    };
    if let Err(e) = res {
        panic!("serenity cannot read the fake's {event}: {e}\n{d}");
    }
}

fn record(state: &FakeState, method: &str, path: &str, body: Value) {
    if let Ok(mut hits) = state.hits.lock() {
        hits.push(Hit {
            at: Instant::now(),
            method: method.to_owned(),
            path: path.to_owned(),
            body,
        });
    }
}

fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(), "username": name, "discriminator": "0", "global_name": name,
        "avatar": null, "bot": bot,
    })
}

fn name_of(id: u64) -> &'static str {
    match id {
        ANA => "Ana",
        BEN => "Ben",
        BOT => "Coinsence",
        _ => "Someone",
    }
}

fn member(id: u64) -> Value {
    json!({
        "user": user(id, name_of(id), false), "nick": null, "roles": [], "joined_at": TS,
        "deaf": false, "mute": false, "flags": 0, "pending": false, "permissions": "0",
    })
}

static IDS: AtomicU64 = AtomicU64::new(90_000);

fn next_id() -> u64 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

/// A message's timestamp: now (the bot does not run commands older than an hour).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// A message as Discord sends and returns it.
fn message_json(id: u64, channel: u64, author: u64, content: &str, components: Value) -> Value {
    json!({
        "id": id.to_string(), "channel_id": channel.to_string(),
        "author": user(author, name_of(author), author == BOT),
        "content": content, "timestamp": now(), "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0, "components": components,
    })
}

async fn rest_handler(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(&state, method.as_str(), &path, body.clone());
    let route = path.trim_start_matches("/api/v10/");
    let segs: Vec<&str> = route.split('/').collect();
    let ok = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["gateway"] | ["gateway", "bot"]) => {
            if state.behaviour.gateway_fails {
                return (StatusCode::INTERNAL_SERVER_ERROR, "broken fake").into_response();
            }
            ok(json!({
                "url": state.gateway_url, "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
            }))
        }
        ("PUT", ["applications", _, "guilds", _, "commands"]) => ok(json!([])),
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) | ("POST", ["webhooks", _, _]) => {
            let content = body.get("content").and_then(Value::as_str).unwrap_or("");
            ok(message_json(next_id(), CHANNEL, BOT, content, json!([])))
        }
        ("POST", ["users", "@me", "channels"]) => {
            let to: u64 = body
                .get("recipient_id")
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_u64().map(|n| n.to_string()))
                })
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            ok(json!({
                "id": dm_channel(to).to_string(), "type": 1, "last_message_id": null,
                "recipients": [user(to, name_of(to), false)],
            }))
        }
        ("GET", ["channels", channel, "messages"]) => {
            // `after` and `limit`, newest first, as Discord answers.
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let after = param("after").unwrap_or(0);
            let limit = usize::try_from(param("limit").unwrap_or(50)).unwrap_or(50);
            let id_of = |m: &Value| {
                m["id"]
                    .as_str()
                    .and_then(|id| id.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let mut found: Vec<Value> = state
                .history
                .lock()
                .map(|h| h.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m["channel_id"] == json!(*channel) && id_of(m) > after)
                .collect();
            found.sort_by_key(|m| std::cmp::Reverse(id_of(m)));
            found.truncate(limit);
            ok(Value::Array(found))
        }
        ("POST", ["channels", channel, "messages"]) => {
            let channel: u64 = channel.parse().unwrap_or_default();
            if state.behaviour.rate_limited_channel == Some(channel) {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false, "code": 0})),
                )
                    .into_response();
            }
            let content = body.get("content").and_then(Value::as_str).unwrap_or("");
            ok(message_json(next_id(), channel, BOT, content, json!([])))
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 0, "message": format!("the fake has no {method} {path}")})),
        )
            .into_response(),
    }
}

fn dm_channel(user: u64) -> u64 {
    500_000 + user
}

/// The gateway: one session per connection (serenity reconnects after a failure, and gets a
/// new READY).
async fn gateway_loop(
    listener: TcpListener,
    state: Arc<FakeState>,
    rx: mpsc::UnboundedReceiver<(String, Value)>,
) {
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    while let Ok((stream, _)) = listener.accept().await {
        let state = Arc::clone(&state);
        let rx = Arc::clone(&rx);
        tokio::spawn(async move {
            if let Err(e) = session(stream, &state, &rx).await {
                record(&state, "WS", "error", json!(e));
            }
        });
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    state: &FakeState,
    rx: &tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
) -> Result<(), String> {
    let mut ws = tokio_tungstenite::accept_async(stream)
        .await
        .map_err(|e| e.to_string())?;
    let text = |v: Value| Ws::Text(v.to_string());
    // Discord asks for a heartbeat every ~41 s; a second here, so the tests see heartbeats
    // acknowledged and the session staying up.
    ws.send(text(
        json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}}),
    ))
    .await
    .map_err(|e| e.to_string())?;
    let mut seq = 0u64;
    let mut rx = rx.lock().await;
    loop {
        tokio::select! {
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else { return Ok(()) };
                let payload: Value = match frame {
                    Ws::Text(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
                    Ws::Close(_) => return Ok(()),
                    _ => continue,
                };
                let op = payload.get("op").and_then(Value::as_u64).unwrap_or(99);
                record(state, "WS", &format!("op:{op}"), payload.clone());
                match op {
                    1 => ws.send(text(json!({"op": 11}))).await.map_err(|e| e.to_string())?,
                    2 | 6 => {
                        let ready = json!({
                            "v": 10, "user": user(BOT, "Coinsence", true),
                            "guilds": [{"id": GUILD.to_string(), "unavailable": true}],
                            "session_id": "fake-session", "resume_gateway_url": state.gateway_url,
                            "shard": [0, 1], "application": {"id": APP.to_string(), "flags": 0},
                        });
                        for (t, d) in [("READY", ready), ("GUILD_CREATE", guild())] {
                            check_payload(t, &d);
                            seq += 1;
                            ws.send(text(json!({"op": 0, "s": seq, "t": t, "d": d})))
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                    }
                    _ => {}
                }
            }
            event = rx.recv() => {
                let Some((t, d)) = event else { return Ok(()) };
                seq += 1;
                record(state, "WS", &format!("dispatch:{t}"), d.clone());
                ws.send(text(json!({"op": 0, "s": seq, "t": t, "d": d})))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}

fn guild() -> Value {
    json!({
        "id": GUILD.to_string(), "name": "Repair Café", "icon": null, "owner_id": ANA.to_string(),
        "afk_channel_id": null, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0, "roles": [],
        "emojis": [], "features": [], "mfa_level": 0, "application_id": null,
        "system_channel_id": null, "system_channel_flags": 0, "rules_channel_id": null,
        "premium_tier": 0, "preferred_locale": "en-US", "public_updates_channel_id": null,
        "nsfw_level": 0, "stickers": [], "premium_progress_bar_enabled": false,
        "joined_at": TS, "large": false, "unavailable": false, "member_count": 3,
        "voice_states": [], "members": [], "channels": [], "threads": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [],
    })
}

/// A slash command as Discord dispatches it: `options` are (name, type, value).
fn slash(id: u64, who: u64, name: &str, options: &[(&str, u8, Value)]) -> Value {
    let opts: Vec<Value> = options
        .iter()
        .map(|(n, t, v)| json!({"name": n, "type": t, "value": v}))
        .collect();
    let users: serde_json::Map<String, Value> = options
        .iter()
        .filter(|(_, t, _)| *t == 6)
        .filter_map(|(_, _, v)| v.as_str())
        .filter_map(|id| id.parse::<u64>().ok())
        .map(|id| (id.to_string(), user(id, name_of(id), false)))
        .collect();
    interaction(
        id,
        who,
        2,
        json!({"id": "600", "name": name, "type": 1, "options": opts, "resolved": {"users": users}}),
        None,
    )
}

/// A press on a button of a message of the bot's.
fn press(id: u64, who: u64, custom_id: &str) -> Value {
    let message = message_json(next_id(), CHANNEL, BOT, "Vote", json!([]));
    interaction(
        id,
        who,
        3,
        json!({"custom_id": custom_id, "component_type": 2}),
        Some(message),
    )
}

fn interaction(id: u64, who: u64, kind: u8, data: Value, message: Option<Value>) -> Value {
    let mut i = json!({
        "id": id.to_string(), "application_id": APP.to_string(), "type": kind, "data": data,
        "guild_id": GUILD.to_string(), "channel_id": CHANNEL.to_string(),
        "channel": {"id": CHANNEL.to_string(), "type": 0},
        "member": member(who), "token": format!("tok-{id}"), "version": 1,
        "app_permissions": "0", "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "authorizing_integration_owners": {}, "context": 0,
        "attachment_size_limit": 10_485_760,
    });
    if let Some(m) = message {
        i["message"] = m;
    }
    i
}

/// A person's message in a guild channel.
fn said(id: u64, who: u64, channel: u64, text: &str) -> Value {
    let mut m = message_json(id, channel, who, text, json!([]));
    m["guild_id"] = json!(GUILD.to_string());
    m["member"] = json!({"roles": [], "joined_at": TS, "deaf": false, "mute": false, "flags": 0});
    m
}

/// What a person reads in a markdown message: no `**`, no backticks, no escapes.
fn unmarkdown(text: &str) -> String {
    let text = text.replace("**", "").replace('`', "");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(next) = chars.peek()
            && next.is_ascii_punctuation()
        {
            continue;
        }
        out.push(c);
    }
    out
}

fn content_of(hit: &Hit) -> String {
    hit.body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// The bot's answers to the interaction with this token (edits of the deferred answer).
fn answers(hits: &[Hit], token: &str) -> Vec<Hit> {
    let path = format!("/api/v10/webhooks/{APP}/{token}/messages/@original");
    hits.iter()
        .filter(|h| h.method == "PATCH" && h.path == path)
        .cloned()
        .collect()
}

fn callbacks(hits: &[Hit], id: u64) -> Vec<Hit> {
    let path = format!("/api/v10/interactions/{id}/tok-{id}/callback");
    hits.iter()
        .filter(|h| h.method == "POST" && h.path == path)
        .cloned()
        .collect()
}

/// The bot's messages in a channel that answer message `to`.
fn replies_to(hits: &[Hit], channel: u64, to: u64) -> Vec<Hit> {
    let path = format!("/api/v10/channels/{channel}/messages");
    hits.iter()
        .filter(|h| {
            h.method == "POST"
                && h.path == path
                && h.body
                    .pointer("/message_reference/message_id")
                    .and_then(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    == Some(to.to_string())
        })
        .cloned()
        .collect()
}

struct World {
    core: Core,
    admin: coinsence_api::domain::orgs::Member,
}

async fn world(bound: bool) -> World {
    let (pool, _) = coinsence_api::testing::test_database()
        .await
        .expect("test database");
    let core = Core::new(pool);
    let slug = format!("dc-{:08x}", rand::random::<u32>());
    let org = scenario::setup(&core, &slug).await.expect("setup");
    if bound {
        core.bind_room(
            ChatPlatform::Discord,
            &CHANNEL.to_string(),
            &org.admin.tenant,
        )
        .await
        .unwrap();
    }
    World {
        core,
        admin: org.admin,
    }
}

impl World {
    async fn fund(&self, who: u64, amount: &str) {
        let id = ChatIdentity::new(ChatPlatform::Discord, &who.to_string()).unwrap();
        let member = self
            .core
            .chat_member(&self.admin.tenant, &id, name_of(who))
            .await
            .unwrap();
        self.core
            .issue(
                &self.admin,
                MoveRequest {
                    currency: "COIN".into(),
                    to: AccountRef::Member(member.user.id),
                    amount: amount.into(),
                    memo: "funding".into(),
                },
                IdempotencyKey::scoped("test", "fund", &format!("{who}-{amount}")).unwrap(),
            )
            .await
            .unwrap();
    }

    async fn balance(&self, who: u64) -> String {
        let org = scenario::ScenarioOrg {
            admin: self.admin.clone(),
        };
        scenario::balance_of(&self.core, &org, ChatPlatform::Discord, &who.to_string())
            .await
            .unwrap()
    }

    /// How many entries the org's journal has.
    async fn journal(&self) -> usize {
        self.core
            .history(&self.admin, None, None, 200)
            .await
            .unwrap()
            .len()
    }
}

struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), coinsence_bots::discord::DiscordError>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(WAIT, &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(other) => panic!("the bot ended badly: {other:?}"),
            Err(_) => panic!("the bot did not stop"),
        }
    }
}

fn config(fake: &Fake) -> DiscordConfig {
    let mut config = DiscordConfig::new(TOKEN);
    config.api_base = Some(fake.rest.clone());
    config.message_content = true;
    // The fake sends no rate-limit headers; Discord's limits are not what is tested here.
    config.ratelimiter = false;
    config.delivery_interval = Duration::from_millis(100);
    config
}

/// Connects the bot to the fake and waits until it has identified and registered its commands.
async fn start(fake: &Fake, core: Core) -> Running {
    let engine = Engine::new(
        core,
        EngineConfig {
            platform: ChatPlatform::Discord,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    let bot = tokio::time::timeout(WAIT, DiscordBot::connect(config(fake), engine))
        .await
        .expect("connecting timed out")
        .expect("connecting");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(bot.run(async move {
        let _ = rx.await;
    }));
    let running = Running {
        stop: Some(tx),
        task,
    };
    fake.wait("IDENTIFY", |h| h.iter().find(|h| h.path == "op:2").cloned())
        .await;
    fake.wait("the commands' registration", |h| {
        h.iter()
            .find(|h| {
                h.method == "PUT"
                    && h.path == format!("/api/v10/applications/{APP}/guilds/{GUILD}/commands")
            })
            .cloned()
    })
    .await;
    running
}

/// Dispatches a slash command or a press and returns its answer, checking it was acknowledged
/// with a deferred answer within 3 seconds. `nth` counts answers to the same interaction
/// (a redelivery answers again).
async fn interact(fake: &Fake, id: u64, d: Value, nth: usize) -> String {
    let sent = Instant::now();
    fake.send("INTERACTION_CREATE", d);
    let callback = fake
        .wait(&format!("the callback of interaction {id}"), |h| {
            callbacks(h, id).get(nth - 1).cloned()
        })
        .await;
    let took = callback.at.duration_since(sent);
    assert!(
        took < Duration::from_secs(3),
        "interaction {id} was acknowledged after {took:?}"
    );
    assert_eq!(callback.body["type"], json!(5), "{}", callback.body);
    let answer = fake
        .wait(&format!("the answer to interaction {id}"), |h| {
            answers(h, &format!("tok-{id}")).get(nth - 1).cloned()
        })
        .await;
    content_of(&answer)
}

/// Messages said in a bound channel while the bot was stopped: on its next start the bot reads
/// them back through REST from the last one it handled, runs a recent command once, asks for an
/// old one (over the hour) to be sent again without running it, and answers nothing it had
/// answered before. A message the gateway delivers as well is still run once.
#[tokio::test]
async fn messages_sent_while_away_are_read_back_after_a_restart() {
    let w = world(true).await;
    w.fund(ANA, "100").await;
    let fake = Fake::start(Behaviour::default()).await;
    let bot = start(&fake, w.core.clone()).await;

    // Before the stop: a command the bot handles live (it is in the history too, as on Discord).
    let before = next_id();
    let live = said(before, ANA, CHANNEL, "!balance");
    fake.state.history.lock().unwrap().push(live.clone());
    fake.send("MESSAGE_CREATE", live);
    fake.wait("the live answer", |h| replies_to(h, CHANNEL, before).pop())
        .await;
    bot.stop().await;

    // While stopped: a payment, a payment from two hours ago, and chatter.
    let pay = next_id();
    let old = next_id();
    let chatter = next_id();
    let two_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let mut old_pay = said(old, ANA, CHANNEL, &format!("!pay <@{BEN}> 3 for old glue"));
    old_pay["timestamp"] = json!(two_hours_ago);
    // REST messages carry no guild id.
    let from_rest = |mut m: Value| {
        if let Some(o) = m.as_object_mut() {
            o.remove("guild_id");
            o.remove("member");
        }
        m
    };
    {
        let mut history = fake.state.history.lock().unwrap();
        history.push(from_rest(said(
            pay,
            ANA,
            CHANNEL,
            &format!("!pay <@{BEN}> 4 for glue"),
        )));
        history.push(from_rest(old_pay));
        history.push(from_rest(said(chatter, BEN, CHANNEL, "thanks!")));
    }

    let bot = start(&fake, w.core.clone()).await;
    let paid = fake
        .wait("the answer to the payment", |h| {
            replies_to(h, CHANNEL, pay).pop()
        })
        .await;
    assert!(
        unmarkdown(&content_of(&paid)).contains("Paid 4.00 COIN to")
            && content_of(&paid).contains("for glue"),
        "{}",
        content_of(&paid)
    );
    let again = fake
        .wait("the answer to the old payment", |h| {
            replies_to(h, CHANNEL, old).pop()
        })
        .await;
    assert_eq!(
        content_of(&again),
        "I was away when you sent this, so I did nothing; please send it again."
    );
    // The gateway delivers the payment too (as a resume may): it is not run twice.
    fake.send(
        "MESSAGE_CREATE",
        said(pay, ANA, CHANNEL, &format!("!pay <@{BEN}> 4 for glue")),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = fake.hits();
    assert_eq!(
        replies_to(&hits, CHANNEL, before).len(),
        1,
        "answered twice"
    );
    assert_eq!(replies_to(&hits, CHANNEL, old).len(), 1);
    assert!(replies_to(&hits, CHANNEL, chatter).is_empty());
    assert_eq!(w.balance(ANA).await, "96.00");
    assert_eq!(w.balance(BEN).await, "4.00");
    // The read-back asked only for what came after the last message handled.
    assert!(
        hits.iter().any(|h| h.method == "GET"
            && h.path == format!("/api/v10/channels/{CHANNEL}/messages")),
        "no read-back"
    );
    assert_eq!(
        w.core
            .chat_cursor(ChatPlatform::Discord, &CHANNEL.to_string())
            .await
            .unwrap(),
        Some(i64::try_from(chatter).unwrap())
    );
    bot.stop().await;
}

#[tokio::test]
async fn slash_commands_buttons_messages_and_redelivery() {
    let w = world(true).await;
    w.fund(ANA, "100").await;
    let fake = Fake::start(Behaviour::default()).await;
    let bot = start(&fake, w.core.clone()).await;

    // IDENTIFY carries the token and the intents, message content included.
    let identify = fake
        .wait("IDENTIFY", |h| h.iter().find(|h| h.path == "op:2").cloned())
        .await;
    assert!(
        identify.body["d"]["token"]
            .as_str()
            .unwrap_or("")
            .ends_with(TOKEN)
    );
    let intents = identify.body["d"]["intents"].as_u64().unwrap_or(0);
    assert_ne!(intents & (1 << 15), 0, "message content intent: {intents}");

    // Every command is registered for the guild, with typed options.
    let registered = fake
        .wait("the commands", |h| {
            h.iter()
                .find(|h| h.method == "PUT" && h.path.ends_with("/commands"))
                .cloned()
        })
        .await;
    let commands = registered.body.as_array().cloned().unwrap_or_default();
    let named = |n: &str| {
        commands
            .iter()
            .find(|c| c["name"] == json!(n))
            .cloned()
            .unwrap_or_else(|| panic!("/{n} not registered: {}", registered.body))
    };
    // Every verb of the one grammar is registered.
    for spec in coinsence_bots::command::VERBS {
        named(spec.name);
    }
    assert_eq!(named("pay")["options"][0]["name"], json!("to"));
    assert_eq!(named("pay")["options"][0]["type"], json!(6));
    assert_eq!(named("vote")["options"][0]["type"], json!(4));
    assert_eq!(
        named("vote")["options"][1]["choices"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );

    // /pay through the slash command, then the same interaction delivered again.
    let pay = slash(
        3001,
        ANA,
        "pay",
        &[
            ("to", 6, json!(BEN.to_string())),
            ("amount", 3, json!("12.50")),
            ("memo", 3, json!("bread")),
        ],
    );
    let paid = interact(&fake, 3001, pay.clone(), 1).await;
    assert!(
        paid.contains("Paid **12.50 COIN** to") && paid.contains("for bread"),
        "{paid}"
    );
    // The redelivery is answered again (the engine replays the payment's receipt), and pays
    // nothing more.
    let again = interact(&fake, 3001, pay, 2).await;
    assert!(again.contains("Paid **12.50 COIN** to"), "{again}");
    assert_eq!(w.balance(ANA).await, "87.50");
    assert_eq!(w.balance(BEN).await, "12.50");

    // Ben's receipt arrives by direct message (the outbox through the sink).
    fake.wait("the DM channel for Ben", |h| {
        h.iter()
            .find(|h| {
                h.path == "/api/v10/users/@me/channels"
                    && h.body["recipient_id"] == json!(BEN.to_string())
            })
            .cloned()
    })
    .await;
    let receipt = fake
        .wait("Ben's receipt", |h| {
            h.iter()
                .find(|h| h.path == format!("/api/v10/channels/{}/messages", dm_channel(BEN)))
                .cloned()
        })
        .await;
    let receipt = unmarkdown(&content_of(&receipt));
    assert!(receipt.contains("paid you 12.50 COIN"), "{receipt}");

    // A proposal comes with vote buttons; a slash /vote and a button press both vote.
    let proposed = slash(
        3002,
        ANA,
        "propose",
        &[("title", 3, json!("Buy a cargo bike"))],
    );
    let text = interact(&fake, 3002, proposed, 1).await;
    assert!(unmarkdown(&text).contains("Buy a cargo bike"), "{text}");
    let edit = fake
        .wait("the proposal's buttons", |h| {
            answers(h, "tok-3002").first().cloned()
        })
        .await;
    let custom_ids: Vec<String> = edit.body["components"][0]["components"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(custom_ids.len(), 4, "{}", edit.body);
    let proposal = scenario::number_after(&unmarkdown(&text), "Proposal ")
        .unwrap_or_else(|| panic!("no proposal number in {text}"));
    assert_eq!(custom_ids[0], format!("vote:{proposal}:yes"));
    let voted = interact(
        &fake,
        3003,
        slash(
            3003,
            ANA,
            "vote",
            &[
                ("proposal", 4, json!(proposal.parse::<i64>().unwrap_or(0))),
                ("choice", 3, json!("yes")),
            ],
        ),
        1,
    )
    .await;
    assert!(voted.contains("You voted yes"), "{voted}");
    let pressed = interact(&fake, 3004, press(3004, BEN, &custom_ids[1]), 1).await;
    assert!(pressed.contains("You voted no"), "{pressed}");

    // The outbox announces the proposal in the bound channel, with the same buttons.
    let announced = fake
        .wait("the proposal's announcement in the channel", |h| {
            h.iter()
                .find(|h| {
                    h.method == "POST"
                        && h.path == format!("/api/v10/channels/{CHANNEL}/messages")
                        && content_of(h).contains("New proposal")
                })
                .cloned()
        })
        .await;
    assert_eq!(
        announced.body["components"][0]["components"][0]["custom_id"],
        json!(format!("vote:{proposal}:yes"))
    );
    assert_eq!(announced.body["allowed_mentions"]["parse"], json!([]));

    // `/link` is private: deferred as ephemeral, answered only to the person.
    let link = interact(&fake, 3005, slash(3005, ANA, "link", &[]), 1).await;
    assert!(unmarkdown(&link).contains("one-time login"), "{link}");
    let deferred = fake
        .wait("the /link callback", |h| {
            callbacks(h, 3005).first().cloned()
        })
        .await;
    assert_eq!(
        deferred.body["data"]["flags"],
        json!(64),
        "{}",
        deferred.body
    );

    // `!link` typed in the channel goes by direct message; the channel only hears that.
    fake.send("MESSAGE_CREATE", said(5003, BEN, CHANNEL, "!link"));
    let notice = fake
        .wait("the answer to !link", |h| {
            replies_to(h, CHANNEL, 5003).first().cloned()
        })
        .await;
    assert!(
        content_of(&notice).contains("I sent you a direct message"),
        "{}",
        notice.body
    );
    fake.wait("Ben's login by direct message", |h| {
        h.iter()
            .find(|h| {
                h.path == format!("/api/v10/channels/{}/messages", dm_channel(BEN))
                    && unmarkdown(&content_of(h)).contains("one-time login")
            })
            .cloned()
    })
    .await;

    // `!balance` as a plain message is answered in the channel, as a reply to it.
    fake.send("MESSAGE_CREATE", said(5001, BEN, CHANNEL, "!balance"));
    let balance = fake
        .wait("the answer to !balance", |h| {
            replies_to(h, CHANNEL, 5001).first().cloned()
        })
        .await;
    assert!(
        content_of(&balance).contains("12.50 COIN"),
        "{}",
        balance.body
    );

    // A `!pay` message delivered twice pays once.
    let journal = w.journal().await;
    let pay = said(5002, ANA, CHANNEL, &format!("!pay <@{BEN}> 1 for tea"));
    fake.send("MESSAGE_CREATE", pay.clone());
    fake.send("MESSAGE_CREATE", pay);
    let both = fake
        .wait("two answers to the same !pay", |h| {
            let r = replies_to(h, CHANNEL, 5002);
            (r.len() == 2).then_some(r)
        })
        .await;
    for answer in &both {
        assert!(
            unmarkdown(&content_of(answer)).contains("Paid 1.00 COIN to"),
            "{}",
            answer.body
        );
        // The same nonce both times: Discord itself drops the second message.
        assert_eq!(answer.body["nonce"], both[0].body["nonce"]);
        assert_eq!(answer.body["enforce_nonce"], json!(true));
    }
    assert_eq!(w.journal().await, journal + 1);
    assert_eq!(w.balance(ANA).await, "86.50");
    assert_eq!(w.balance(BEN).await, "13.50");
    let checks = w.core.verify_ledger(&w.admin).await.unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");

    // The session stayed up: heartbeats were sent and acknowledged, and there was one IDENTIFY
    // (a missed acknowledgement makes serenity reconnect and identify again).
    fake.wait("a heartbeat", |h| {
        h.iter().find(|h| h.path == "op:1").cloned()
    })
    .await;
    let identifies = fake.hits().iter().filter(|h| h.path == "op:2").count();
    assert_eq!(identifies, 1);

    // Commands were registered once (READY and GUILD_CREATE both name the guild).
    let registrations = fake
        .hits()
        .iter()
        .filter(|h| h.method == "PUT" && h.path.ends_with("/commands"))
        .count();
    assert_eq!(registrations, 1);

    // Nothing went to a route the fake does not know.
    let unknown: Vec<Hit> = fake
        .hits()
        .into_iter()
        .filter(|h| h.method != "WS" && !known_route(&h.method, &h.path))
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
    bot.stop().await;
}

fn known_route(method: &str, path: &str) -> bool {
    let segs: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    matches!(
        (method, segs.as_slice()),
        ("GET", ["gateway"] | ["gateway", "bot"])
            | ("PUT", ["applications", _, "guilds", _, "commands"])
            | ("POST", ["interactions", _, _, "callback"])
            | ("PATCH", ["webhooks", _, _, "messages", "@original"])
            | ("POST", ["users", "@me", "channels"])
            | ("POST", ["channels", _, "messages"])
    )
}

/// The scenario's people speak in `!` messages through the gateway and read the bot's replies.
struct DiscordDriver<'a> {
    fake: &'a Fake,
    next: u64,
    /// The language the people's Discord clients are set to, when the run says one.
    locale: Option<&'static str>,
    /// Who has used a slash command from that client already.
    introduced: std::collections::HashSet<u64>,
}

impl Driver for DiscordDriver<'_> {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Discord
    }

    fn user_id(&self, who: Person) -> String {
        match who {
            Person::Ana => ANA,
            Person::Ben => BEN,
        }
        .to_string()
    }

    fn mention(&self, who: Person) -> String {
        format!("<@{}>", self.user_id(who))
    }

    fn set_locale(&mut self, tag: &'static str) -> Result<(), String> {
        self.locale = Some(tag);
        Ok(())
    }

    fn say<'a>(&'a mut self, who: Person, text: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let author = match who {
                Person::Ana => ANA,
                Person::Ben => BEN,
            };
            if let Some(tag) = self.locale
                && self.introduced.insert(author)
            {
                // Discord tells a person's language only in interactions: each person first
                // asks for /help from their client, which says its language.
                self.next += 1;
                let id = self.next;
                let mut help = slash(id, author, "help", &[]);
                help["locale"] = json!(tag);
                interact(self.fake, id, help, 1).await;
            }
            self.next += 1;
            let id = self.next;
            self.fake
                .send("MESSAGE_CREATE", said(id, author, CHANNEL, text));
            let answer = self
                .fake
                .wait(&format!("an answer to {text:?}"), |h| {
                    replies_to(h, CHANNEL, id).first().cloned()
                })
                .await;
            Ok(unmarkdown(&content_of(&answer)))
        })
    }
}

#[tokio::test]
async fn shared_scenario_through_the_real_client() {
    discord_scenario(coinsence_api::i18n::Lang::En).await;
}

/// People whose Discord client is set to German read German (in an English-speaking org),
/// in answers to their slash commands and to their messages alike, until one chooses English
/// with `!language en`; `!language auto` gives the client's language back.
#[tokio::test]
async fn shared_scenario_through_the_real_client_in_german() {
    discord_scenario(coinsence_api::i18n::Lang::De).await;
}

async fn discord_scenario(lang: coinsence_api::i18n::Lang) {
    let w = world(false).await;
    let org = scenario::ScenarioOrg {
        admin: w.admin.clone(),
    };
    let fake = Fake::start(Behaviour::default()).await;
    let bot = start(&fake, w.core.clone()).await;
    let mut driver = DiscordDriver {
        fake: &fake,
        next: 7000,
        locale: None,
        introduced: std::collections::HashSet::new(),
    };
    scenario::run(&w.core, &org, &mut driver, lang)
        .await
        .unwrap();
    bot.stop().await;
}

#[tokio::test]
async fn sink_sends_to_channels_and_dms_and_reports_rate_limits() {
    let fake = Fake::start(Behaviour {
        rate_limited_channel: Some(4242),
        ..Behaviour::default()
    })
    .await;
    let http = serenity::all::HttpBuilder::new(TOKEN)
        .proxy(fake.rest.clone())
        .ratelimiter_disabled(true)
        .build();
    let sink = DiscordSink::new(Arc::new(http));
    let reply = Reply::text("Hello").vote_buttons(9);
    let sent = sink
        .send(&ChatTarget::Room(CHANNEL.to_string()), &reply, "txn-1")
        .await;
    assert_eq!(sent.ok(), Some(Sent::Delivered));
    let dm = ChatTarget::Direct {
        user: UserId(1),
        platform_user_id: BEN.to_string(),
        dm_room_id: None,
    };
    let sent = sink.send(&dm, &reply, "txn-2").await;
    assert_eq!(
        sent.ok(),
        Some(Sent::DirectRoom(dm_channel(BEN).to_string()))
    );
    let limited = sink
        .send(&ChatTarget::Room("4242".into()), &reply, "txn-3")
        .await;
    assert!(
        matches!(limited, Err(SinkError::RateLimited(_))),
        "{limited:?}"
    );
    let bad = sink
        .send(&ChatTarget::Room("not-a-channel".into()), &reply, "txn-4")
        .await;
    assert!(matches!(bad, Err(SinkError::Unreachable(_))), "{bad:?}");
    let posted = fake
        .wait("the room message", |h| {
            h.iter()
                .find(|h| h.path == format!("/api/v10/channels/{CHANNEL}/messages"))
                .cloned()
        })
        .await;
    assert_eq!(posted.body["content"], json!("Hello"));
    assert_eq!(posted.body["nonce"], json!("txn-1"));
    assert_eq!(
        posted.body["components"][0]["components"][0]["custom_id"],
        json!("vote:9:yes")
    );
}

#[tokio::test]
async fn a_broken_fake_fails_fast_instead_of_reaching_discord() {
    let fake = Fake::start(Behaviour {
        gateway_fails: true,
        ..Behaviour::default()
    })
    .await;
    // No database is touched before the gateway is found.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let engine = Engine::new(
        Core::new(pool),
        EngineConfig {
            platform: ChatPlatform::Discord,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    let started = Instant::now();
    let result = tokio::time::timeout(WAIT, DiscordBot::connect(config(&fake), engine))
        .await
        .expect("connect hung");
    assert!(result.is_err(), "connected through a broken fake");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(fake.hits().iter().all(|h| h.method != "WS"));
}
