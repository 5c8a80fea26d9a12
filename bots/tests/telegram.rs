//! The Telegram bot through teloxide's real polling loop (and its webhook listener), pointed at a
//! fake Bot API that this test starts on 127.0.0.1 (nothing outside the machine is ever called).
//! The fake serves `getMe`, `getWebhookInfo`, `deleteWebhook`, `setWebhook`, long-polling
//! `getUpdates` that honours `offset` and `timeout`, `sendMessage`, `answerCallbackQuery` and
//! `setMyCommands`, and records every call. Every wait has a timeout, so a broken fake fails the
//! test instead of hanging it.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform, ChatTarget};
use coinsence_api::domain::ids::ProposalId;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::i18n::Lang;
use coinsence_bots::delivery::{Sink, SinkError};
use coinsence_bots::reply::Reply;
use coinsence_bots::scenario::{self, Driver, Person, ScenarioOrg};
use coinsence_bots::telegram::{Limits, TelegramBot, TelegramConfig, Webhook};
use coinsence_bots::{Engine, EngineConfig};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::watch;

const TOKEN: &str = "4242:fake-token-for-tests";
const BOT_ID: u64 = 4242;
const BOT_NAME: &str = "coinsence_bot";
/// How long any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// A person in the fake: user id, first name, username.
#[derive(Debug, Clone, Copy)]
struct Who(u64, &'static str, Option<&'static str>);

const ANA: Who = Who(111, "Ana", Some("ana_tg"));
const BEN: Who = Who(222, "Ben", Some("Ben_TG"));
const CAT: Who = Who(333, "Cat", None);

fn user_json(w: Who) -> Value {
    let mut u = json!({ "id": w.0, "is_bot": false, "first_name": w.1 });
    if let Some(name) = w.2 {
        u["username"] = json!(name);
    }
    u
}

fn bot_json() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": "Coinsence", "username": BOT_NAME })
}

fn chat_json(id: i64) -> Value {
    if id < -1_000_000 {
        json!({ "id": id, "type": "supergroup", "title": "Repair café" })
    } else if id < 0 {
        json!({ "id": id, "type": "group", "title": "Repair café" })
    } else {
        json!({ "id": id, "type": "private", "first_name": "Someone" })
    }
}

/// Entities as Telegram sends them: the leading command and every `@name` word (UTF-16 offsets).
fn entities(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for (i, word) in text.split(' ').enumerate() {
        let len = word.encode_utf16().count();
        if i == 0 && word.starts_with('/') {
            out.push(json!({ "type": "bot_command", "offset": 0, "length": len }));
        } else if word.len() > 1 && word.starts_with('@') {
            out.push(json!({ "type": "mention", "offset": offset, "length": len }));
        }
        offset += len + 1;
    }
    out
}

#[derive(Default)]
struct Recorded {
    next_update: i64,
    /// Updates not yet confirmed (ids at or above the last `offset` seen).
    updates: Vec<Value>,
    next_message: i64,
    /// Every call the bot made: (method, parameters, when).
    calls: Vec<(String, Value, Instant)>,
    /// Make this many next `sendMessage` calls fail with 429, `retry_after` 1.
    flood: usize,
    /// Private chats the bot may not start.
    not_started: HashSet<i64>,
}

#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<Recorded>>,
    /// Bumped on every change: the long poll and the test's waits watch it.
    changed: Arc<watch::Sender<u64>>,
    url: String,
}

impl Fake {
    async fn start() -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(Recorded {
                next_update: 1,
                next_message: 1000,
                ..Recorded::default()
            })),
            changed: Arc::new(watch::channel(0).0),
            url: String::new(),
        };
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::post(api))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/"),
            ..fake
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// Queues an update (`{"message": ..}` or `{"callback_query": ..}`); returns its id.
    fn push(&self, mut update: Value) -> i64 {
        let id = {
            let mut s = self.lock();
            let id = s.next_update;
            s.next_update += 1;
            update["update_id"] = json!(id);
            s.updates.push(update);
            id
        };
        self.bump();
        id
    }

    fn next_message_id(&self) -> i64 {
        let mut s = self.lock();
        s.next_message += 1;
        s.next_message
    }

    /// A message from `who` in `chat`, optionally replying to another message.
    fn message(&self, who: Who, chat: i64, text: &str, reply_to: Option<&Value>) -> Value {
        let mut m = json!({
            "message_id": self.next_message_id(),
            "date": chrono::Utc::now().timestamp(),
            "chat": chat_json(chat),
            "from": user_json(who),
            "text": text,
            "entities": entities(text),
        });
        if let Some(r) = reply_to {
            m["reply_to_message"] = r.clone();
        }
        m
    }

    /// Sends a message and returns it (to be replied to or delivered again).
    fn say(&self, who: Who, chat: i64, text: &str, reply_to: Option<&Value>) -> Value {
        let m = self.message(who, chat, text, reply_to);
        self.push(json!({ "message": m.clone() }));
        m
    }

    fn calls(&self, method: &str) -> Vec<(Value, Instant)> {
        self.lock()
            .calls
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, p, t)| (p.clone(), *t))
            .collect()
    }

    /// Waits until `found` picks something out of the recorded calls.
    async fn wait_for<T>(&self, what: &str, found: impl Fn(&Recorded) -> Option<T>) -> T {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(t) = found(&self.lock()) {
                return t;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => panic!(
                    "timed out waiting for {what}; the bot sent: {:#?}",
                    self.calls("sendMessage")
                ),
            }
        }
    }

    /// The `n`th (from 0) successful reply to message `id`.
    async fn reply_to(&self, id: i64, n: usize) -> Value {
        self.wait_for(&format!("reply {n} to message {id}"), |s| {
            s.calls
                .iter()
                .filter(|(m, p, _)| {
                    m == "sendMessage"
                        && p["reply_parameters"]["message_id"] == json!(id)
                        && p["ok"] == json!(true)
                })
                .nth(n)
                .map(|(_, p, _)| p.clone())
        })
        .await
    }

    /// The first successful message to `chat` whose text contains `needle`.
    async fn sent_to(&self, chat: i64, needle: &str) -> Value {
        self.wait_for(&format!("{needle:?} in chat {chat}"), |s| {
            s.calls
                .iter()
                .find(|(m, p, _)| {
                    m == "sendMessage"
                        && p["chat_id"] == json!(chat)
                        && p["ok"] == json!(true)
                        && p["text"].as_str().is_some_and(|t| t.contains(needle))
                })
                .map(|(_, p, _)| p.clone())
        })
        .await
    }
}

fn ok(result: Value) -> (StatusCode, axum::Json<Value>) {
    (
        StatusCode::OK,
        axum::Json(json!({ "ok": true, "result": result })),
    )
}

fn err(code: u16, description: &str, parameters: Option<Value>) -> (StatusCode, axum::Json<Value>) {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
}

/// The text fields of a `multipart/form-data` body (teloxide sends `setWebhook` so, as it may
/// carry a certificate).
fn form_fields(content_type: &str, body: &[u8]) -> Value {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return json!({});
    };
    let body = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in body.split(&format!("--{}", boundary.trim_matches('"'))) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        fields.insert(name.to_owned(), json!(value));
    }
    Value::Object(fields)
}

async fn api(
    State(fake): State<Fake>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    if bot != format!("bot{TOKEN}") {
        return err(401, "Unauthorized", None);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let params: Value = if content_type.starts_with("multipart/form-data") {
        form_fields(content_type, &body)
    } else if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    };
    // teloxide names methods as its payloads (`GetMe`); Telegram ignores case.
    let method = [
        "getMe",
        "getWebhookInfo",
        "deleteWebhook",
        "setMyCommands",
        "answerCallbackQuery",
        "getUpdates",
        "sendMessage",
        "setWebhook",
    ]
    .into_iter()
    .find(|m| m.eq_ignore_ascii_case(&method))
    .map_or(method, str::to_owned);
    let reply = match method.as_str() {
        "getMe" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Coinsence", "username": BOT_NAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false,
        })),
        "getWebhookInfo" => ok(json!({
            "url": "", "has_custom_certificate": false, "pending_update_count": 0
        })),
        "deleteWebhook" | "setWebhook" | "setMyCommands" | "answerCallbackQuery" => ok(json!(true)),
        "getUpdates" => get_updates(&fake, &params).await,
        "sendMessage" => send_message(&fake, &params),
        _ => err(404, "Not Found: method not found", None),
    };
    let mut recorded = params;
    recorded["ok"] = json!(reply.0 == StatusCode::OK);
    fake.lock().calls.push((method, recorded, Instant::now()));
    fake.bump();
    reply
}

/// Long polling: confirms everything below `offset`, then answers at once if there is news or
/// after `timeout` seconds otherwise.
async fn get_updates(fake: &Fake, params: &Value) -> (StatusCode, axum::Json<Value>) {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let limit = params["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0).min(30));
    let mut rx = fake.changed.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let pending: Vec<Value> = {
            let mut s = fake.lock();
            s.updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            s.updates.iter().take(limit).cloned().collect()
        };
        if !pending.is_empty() {
            return ok(Value::Array(pending));
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => return ok(json!([])),
        }
    }
}

fn send_message(fake: &Fake, params: &Value) -> (StatusCode, axum::Json<Value>) {
    let chat = params["chat_id"].as_i64().unwrap_or(0);
    {
        let mut s = fake.lock();
        if s.flood > 0 {
            s.flood -= 1;
            return err(
                429,
                "Too Many Requests: retry after 1",
                Some(json!({ "retry_after": 1 })),
            );
        }
        if s.not_started.contains(&chat) {
            return err(
                403,
                "Forbidden: bot can't initiate conversation with a user",
                None,
            );
        }
    }
    let mut m = json!({
        "message_id": fake.next_message_id(),
        "date": 1_700_000_000,
        "chat": chat_json(chat),
        "from": bot_json(),
        "text": params["text"],
    });
    if let Some(markup) = params.get("reply_markup") {
        m["reply_markup"] = markup.clone();
    }
    ok(m)
}

/// What a person reads: the HTML without its tags.
fn plain(html: &Value) -> String {
    let html = html.as_str().unwrap_or_default();
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

type Running = (
    coinsence_bots::telegram::TelegramSink,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

/// A bot polling `fake`, until the sender is used.
async fn start_bot(
    core: &Core,
    fake: &Fake,
    limits: Option<Limits>,
    webhook: Option<Webhook>,
) -> Running {
    let engine = Engine::new(
        core.clone(),
        EngineConfig {
            platform: ChatPlatform::Telegram,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    let config = TelegramConfig {
        api_url: Some(fake.url.clone()),
        poll_timeout: Duration::from_secs(1),
        limits,
        webhook,
        ..TelegramConfig::new(TOKEN)
    };
    let bot = tokio::time::timeout(WAIT, TelegramBot::connect(&config, engine))
        .await
        .expect("connect timed out")
        .expect("connect");
    assert_eq!(bot.username(), BOT_NAME);
    let sink = bot.sink();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        bot.run(Duration::from_millis(200), async move {
            let _ = stopped.await;
        })
        .await
        .expect("bot");
    });
    (sink, stop, task)
}

/// The database, a scenario org, the fake, and the bot polling it.
struct World {
    core: Core,
    org: ScenarioOrg,
    fake: Fake,
    sink: coinsence_bots::telegram::TelegramSink,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    bot: Option<tokio::task::JoinHandle<()>>,
}

async fn world(slug_prefix: &str) -> World {
    world_with(slug_prefix, None, None).await
}

async fn world_with(slug_prefix: &str, limits: Option<Limits>, webhook: Option<Webhook>) -> World {
    let (pool, _) = coinsence_api::testing::test_database()
        .await
        .expect("test database");
    let core = Core::new(pool);
    let slug = format!("{slug_prefix}-{:08x}", rand::random::<u32>());
    let org = scenario::setup(&core, &slug).await.expect("setup");
    let fake = Fake::start().await;
    let (sink, stop, task) = start_bot(&core, &fake, limits, webhook).await;
    World {
        core,
        org,
        fake,
        sink,
        stop: Some(stop),
        bot: Some(task),
    }
}

impl World {
    async fn connect(&self, chat: i64) {
        let code = self
            .core
            .create_connect_code(&self.org.admin)
            .await
            .unwrap();
        let m = self
            .fake
            .say(ANA, chat, &format!("/connect {}", code.code), None);
        let r = self.fake.reply_to(id(&m), 0).await;
        assert!(
            plain(&r["text"]).contains("now connected to Scenario Commons"),
            "{r}"
        );
    }

    async fn fund(&self, who: Who, amount: &str) {
        let ident = ChatIdentity::new(ChatPlatform::Telegram, &who.0.to_string()).unwrap();
        let user = self
            .core
            .chat_member(&self.org.admin.tenant, &ident, who.1)
            .await
            .unwrap()
            .user;
        self.core
            .issue(
                &self.org.admin,
                MoveRequest {
                    currency: "COIN".into(),
                    to: AccountRef::Member(user.id),
                    amount: amount.into(),
                    memo: "funding".into(),
                },
                IdempotencyKey::scoped("test", "fund", &format!("{}-{amount}", who.0)).unwrap(),
            )
            .await
            .expect("fund");
    }

    async fn balance(&self, who: Who) -> String {
        scenario::balance_of(
            &self.core,
            &self.org,
            ChatPlatform::Telegram,
            &who.0.to_string(),
        )
        .await
        .unwrap()
    }

    /// Stops the bot (it must stop promptly) but keeps the fake and the database.
    async fn pause(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.bot.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the bot did not stop")
                .expect("bot task");
        }
    }

    /// Starts a new bot process against the same fake and database.
    async fn resume(&mut self) {
        let (sink, stop, task) = start_bot(&self.core, &self.fake, None, None).await;
        self.sink = sink;
        self.stop = Some(stop);
        self.bot = Some(task);
    }

    /// Stops the bot; it must stop promptly.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.bot.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the bot did not stop")
                .expect("bot task");
        }
    }
}

fn id(message: &Value) -> i64 {
    message["message_id"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn group_payments_votes_buttons_and_redelivery() {
    let w = world("tg").await;
    let group = -1001;

    // The command menu was registered from the grammar.
    let menu = w
        .fake
        .wait_for("setMyCommands", |s| {
            s.calls
                .iter()
                .find(|(m, _, _)| m == "setMyCommands")
                .map(|(_, p, _)| p.clone())
        })
        .await;
    let names: Vec<&str> = menu["commands"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["command"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names.len(),
        coinsence_bots::command::help_lines(Lang::En).len(),
        "{menu}"
    );
    for want in ["pay", "balance", "vote", "connect", "help"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }

    w.connect(group).await;
    w.fund(ANA, "100").await;

    // Ben and Cat say something ordinary: no answer, but the bot now knows them.
    let hello = w.fake.say(BEN, group, "hello everyone", None);
    let cat_asks = w.fake.say(CAT, group, "can someone lend me 5?", None);

    // By @username (any case), addressed to this bot by name.
    let pay = w
        .fake
        .say(ANA, group, "/pay@coinsence_bot @BEN_tg 10 for bread", None);
    let r = w.fake.reply_to(id(&pay), 0).await;
    assert!(
        plain(&r["text"]).starts_with("Paid 10.00 COIN to Ben for bread."),
        "{r}"
    );
    assert_eq!(r["parse_mode"], json!("HTML"));

    // By replying to Cat's message (Cat has no username).
    let lend = w
        .fake
        .say(ANA, group, "/pay 5 for the loan", Some(&cat_asks));
    let r = w.fake.reply_to(id(&lend), 0).await;
    assert!(
        plain(&r["text"]).starts_with("Paid 5.00 COIN to Cat for the loan."),
        "{r}"
    );

    // A text mention (a person without a username, picked from the member list) carries the
    // id; a mention in the memo stays as typed.
    let text = "/pay Cat 1 for tea with @ben_tg";
    let mut m = w.fake.message(ANA, group, text, None);
    m["entities"] = json!([
        { "type": "bot_command", "offset": 0, "length": 4 },
        { "type": "text_mention", "offset": 5, "length": 3, "user": user_json(CAT) },
        { "type": "mention", "offset": 24, "length": 7 },
    ]);
    w.fake.push(json!({ "message": m.clone() }));
    let r = w.fake.reply_to(id(&m), 0).await;
    assert_eq!(
        plain(&r["text"]),
        "Paid 1.00 COIN to Cat for tea with @ben_tg."
    );

    // Someone the bot has never seen is not paid by name.
    let stranger = w.fake.say(ANA, group, "/pay @stranger 1", None);
    let r = w.fake.reply_to(id(&stranger), 0).await;
    assert!(
        plain(&r["text"]).starts_with("I don't know who @stranger is yet."),
        "{r}"
    );

    // A command for another bot is not ours.
    let other = w.fake.say(ANA, group, "/balance@other_bot", None);

    // The payment to Ben delivered again in a later getUpdates: the same answer, paid once.
    w.fake.push(json!({ "message": pay.clone() }));
    let again = w.fake.reply_to(id(&pay), 1).await;
    assert!(
        plain(&again["text"]).starts_with("Paid 10.00 COIN to Ben for bread."),
        "{again}"
    );

    // A vote by button.
    let propose = w
        .fake
        .say(BEN, group, "/propose Paint the workshop green", None);
    let proposal_msg = w.fake.reply_to(id(&propose), 0).await;
    let buttons = proposal_msg["reply_markup"]["inline_keyboard"][0]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(buttons.len(), 4, "{proposal_msg}");
    let yes = buttons[0]["callback_data"].as_str().unwrap_or_default();
    assert!(yes.starts_with("vote:") && yes.ends_with(":yes"), "{yes}");
    let proposal: i64 = yes
        .split(':')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{yes}"));
    let bot_message = {
        let mut m = json!({
            "message_id": 999_999,
            "date": 1_700_000_000,
            "chat": chat_json(group),
            "from": bot_json(),
            "text": plain(&proposal_msg["text"]),
        });
        m["reply_markup"] = proposal_msg["reply_markup"].clone();
        m
    };
    w.fake.push(json!({ "callback_query": {
        "id": "cb-1",
        "from": user_json(ANA),
        "chat_instance": "ci-1",
        "data": yes,
        "message": bot_message,
    }}));
    let answered = w
        .fake
        .wait_for("answerCallbackQuery", |s| {
            s.calls
                .iter()
                .find(|(m, p, _)| m == "answerCallbackQuery" && p["callback_query_id"] == "cb-1")
                .map(|(_, p, _)| p.clone())
        })
        .await;
    assert!(
        answered["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("You voted yes on #")),
        "{answered}"
    );
    let shown = w.fake.reply_to(999_999, 0).await;
    assert!(plain(&shown["text"]).contains("You voted yes"), "{shown}");
    let view = w
        .core
        .proposal(&w.org.admin, ProposalId(proposal))
        .await
        .unwrap();
    assert_eq!(view.votes.yes, 1);

    // A login link goes privately; Cat never started the bot, so the group is told.
    w.fake.lock().not_started.insert(CAT.0 as i64);
    let link = w.fake.say(ANA, group, "/link", None);
    let r = w.fake.reply_to(id(&link), 0).await;
    assert_eq!(plain(&r["text"]), "I sent you a private message.");
    let dm = w.fake.sent_to(ANA.0 as i64, "one-time login").await;
    assert!(dm.get("reply_parameters").is_none(), "{dm}");
    let cat_link = w.fake.say(CAT, group, "/link", None);
    let r = w.fake.reply_to(id(&cat_link), 0).await;
    assert!(
        plain(&r["text"])
            .starts_with("I can't write to you privately yet: open a chat with @coinsence_bot"),
        "{r}"
    );

    // Outbox: Ben hears of his payment in his private chat; the group of the new proposal.
    let ben_dm = w.fake.sent_to(BEN.0 as i64, "paid you").await;
    assert!(
        plain(&ben_dm["text"]).contains("Ana paid you 10.00 COIN for bread"),
        "{ben_dm}"
    );
    let opened = w.fake.sent_to(group, "New proposal").await;
    assert_eq!(
        opened["reply_markup"]["inline_keyboard"][0]
            .as_array()
            .map(Vec::len),
        Some(4)
    );

    // The ledger: exactly the two payments.
    assert_eq!(w.balance(ANA).await, "84.00");
    assert_eq!(w.balance(BEN).await, "10.00");
    assert_eq!(w.balance(CAT).await, "6.00");
    let checks = w.core.verify_ledger(&w.org.admin).await.unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");

    // Nothing answered the chatter or the other bot's command.
    let sent = w.fake.calls("sendMessage");
    for quiet in [&hello, &cat_asks, &other] {
        assert!(
            !sent
                .iter()
                .any(|(p, _)| p["reply_parameters"]["message_id"] == json!(id(quiet))),
            "answered {quiet}"
        );
    }
    // The group becomes a supergroup: its binding follows the new chat id.
    let supergroup = -100_1001;
    let mut moved = w.fake.message(ANA, group, "", None);
    if let Some(m) = moved.as_object_mut() {
        m.remove("text");
        m.remove("entities");
    }
    moved["migrate_to_chat_id"] = json!(supergroup);
    w.fake.push(json!({ "message": moved.clone() }));
    let mut arrived = w.fake.message(ANA, supergroup, "", None);
    if let Some(m) = arrived.as_object_mut() {
        m.remove("text");
        m.remove("entities");
    }
    arrived["migrate_from_chat_id"] = json!(group);
    w.fake.push(json!({ "message": arrived }));
    // The two chats are handled in parallel: wait for the binding before speaking there.
    let deadline = Instant::now() + WAIT;
    while w
        .core
        .chat_context(ChatPlatform::Telegram, &supergroup.to_string(), "111")
        .await
        .ok()
        .and_then(|c| c.tenant)
        .is_none()
    {
        assert!(Instant::now() < deadline, "the binding did not follow");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let balance = w.fake.say(ANA, supergroup, "/balance", None);
    let r = w.fake.reply_to(id(&balance), 0).await;
    assert!(plain(&r["text"]).contains("84.00 COIN"), "{r}");

    // The polling loop confirmed what it got: `offset` only grows, past every update so far.
    let offsets: Vec<i64> = w
        .fake
        .calls("getUpdates")
        .iter()
        .map(|(p, _)| p["offset"].as_i64().unwrap_or(0))
        .collect();
    assert!(offsets.windows(2).all(|o| o[0] <= o[1]), "{offsets:?}");
    let last_update = w.fake.lock().next_update - 1;
    w.fake
        .wait_for("getUpdates past the last update", |s| {
            s.calls
                .iter()
                .any(|(m, p, _)| m == "getUpdates" && p["offset"].as_i64() > Some(last_update))
                .then_some(())
        })
        .await;
    w.stop().await;
}

/// Commands that arrived while the bot was stopped wait in `getUpdates`; a new process answers
/// them once: a recent one is run, one older than the window (an hour) is asked to be sent
/// again and moves nothing, and ordinary chat is not answered however old.
#[tokio::test]
async fn commands_sent_while_away_are_answered_once_after_a_restart() {
    let mut w = world("tgaway").await;
    let group = -1002;
    w.connect(group).await;
    w.fund(ANA, "100").await;
    w.pause().await;

    // While the bot is down: Ben says hello, Ana pays him by username, and two messages from
    // two hours ago (a payment and chatter) arrive late, as after a long outage.
    let hello = w.fake.say(BEN, group, "hello, anyone here?", None);
    let pay = w.fake.say(ANA, group, "/pay @ben_tg 7 for soup", None);
    let two_hours_ago = chrono::Utc::now().timestamp() - 2 * 3600;
    let mut old_pay = w
        .fake
        .message(ANA, group, "/pay @ben_tg 3 for old soup", None);
    old_pay["date"] = json!(two_hours_ago);
    w.fake.push(json!({ "message": old_pay.clone() }));
    let mut old_chat = w.fake.message(BEN, group, "see you tomorrow", None);
    old_chat["date"] = json!(two_hours_ago);
    w.fake.push(json!({ "message": old_chat.clone() }));
    let sent_while_away = w.fake.calls("sendMessage").len();

    w.resume().await;
    let r = w.fake.reply_to(id(&pay), 0).await;
    assert!(
        plain(&r["text"]).starts_with("Paid 7.00 COIN to Ben for soup."),
        "{r}"
    );
    let r = w.fake.reply_to(id(&old_pay), 0).await;
    assert_eq!(
        plain(&r["text"]),
        "I was away when you sent this, so I did nothing; please send it again."
    );
    // Everything pending was confirmed: the bot polls past the last update.
    let last = w.fake.lock().next_update - 1;
    w.fake
        .wait_for("getUpdates past the last update", |s| {
            s.calls
                .iter()
                .any(|(m, p, _)| m == "getUpdates" && p["offset"].as_i64() > Some(last))
                .then_some(())
        })
        .await;
    // One answer each to the two commands, none to chatter.
    let answers = |w: &World| -> Vec<Value> {
        w.fake.calls("sendMessage")[sent_while_away..]
            .iter()
            .map(|(p, _)| p["reply_parameters"]["message_id"].clone())
            .filter(|m| !m.is_null())
            .collect()
    };
    assert_eq!(answers(&w), vec![json!(id(&pay)), json!(id(&old_pay))]);
    assert!(!answers(&w).contains(&json!(id(&hello))));
    assert_eq!(w.balance(ANA).await, "93.00");
    assert_eq!(w.balance(BEN).await, "7.00");

    // Restarted again, nothing is answered twice (the offset was confirmed at the stop).
    w.pause().await;
    w.resume().await;
    let ping = w.fake.say(ANA, group, "/help", None);
    w.fake.reply_to(id(&ping), 0).await;
    assert_eq!(
        answers(&w),
        vec![json!(id(&pay)), json!(id(&old_pay)), json!(id(&ping))]
    );
    w.stop().await;
}

/// The first receipt a person gets in their private chat is announced in the group once, and
/// never again, even after a restart.
#[tokio::test]
async fn the_group_hears_once_of_a_first_private_receipt() {
    let mut w = world("tgtold").await;
    let group = -1003;
    w.connect(group).await;
    w.fund(ANA, "100").await;
    let told = |w: &World| {
        w.fake
            .calls("sendMessage")
            .iter()
            .filter(|(p, _)| {
                p["chat_id"] == json!(group)
                    && plain(&p["text"]).contains("I sent you a private message")
            })
            .map(|(p, _)| plain(&p["text"]))
            .collect::<Vec<_>>()
    };
    w.fake.say(BEN, group, "hi", None);
    let pay = w.fake.say(ANA, group, "/pay @ben_tg 1 for a stamp", None);
    w.fake.reply_to(id(&pay), 0).await;
    w.fake.sent_to(BEN.0 as i64, "paid you").await;
    let notice = w.fake.sent_to(group, "I sent you a private message").await;
    assert_eq!(
        plain(&notice["text"]),
        "Ben: I sent you a private message. Receipts reach you there from now on; look in your direct messages."
    );

    // A second receipt, and one after a restart: Ben is not announced again.
    let pay = w.fake.say(ANA, group, "/pay @ben_tg 2 for stamps", None);
    w.fake.reply_to(id(&pay), 0).await;
    w.fake
        .wait_for("the second receipt", |s| {
            s.calls
                .iter()
                .filter(|(m, p, _)| {
                    m == "sendMessage"
                        && p["chat_id"] == json!(BEN.0)
                        && plain(&p["text"]).contains("paid you")
                })
                .nth(1)
                .map(|_| ())
        })
        .await;
    w.pause().await;
    w.resume().await;
    w.fake.say(BEN, group, "hi again", None);
    let pay = w.fake.say(ANA, group, "/pay @ben_tg 3 for more", None);
    w.fake.reply_to(id(&pay), 0).await;
    w.fake
        .wait_for("the third receipt", |s| {
            s.calls
                .iter()
                .filter(|(m, p, _)| {
                    m == "sendMessage"
                        && p["chat_id"] == json!(BEN.0)
                        && plain(&p["text"]).contains("paid you")
                })
                .nth(2)
                .map(|_| ())
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(told(&w).len(), 1, "{:?}", told(&w));
    w.stop().await;
}

#[tokio::test]
async fn flood_waits_are_honoured() {
    // The flood limits on, as Telegram documents them: one message a second to a chat.
    let spacing = Duration::from_secs(1);
    let w = world_with("tgflood", Some(Limits::default()), None).await;
    let group = -2002;
    w.connect(group).await;

    // Two commands at once in one chat: the answers go out spaced.
    let first = w.fake.say(ANA, group, "/balance", None);
    let second = w.fake.say(ANA, group, "/proposals", None);
    let a = w.fake.reply_to(id(&first), 0).await;
    let b = w.fake.reply_to(id(&second), 0).await;
    let at = |m: &Value| {
        w.fake
            .calls("sendMessage")
            .iter()
            .find(|(p, _)| p["reply_parameters"] == m["reply_parameters"] && p["ok"] == json!(true))
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("{m}"))
    };
    let gap = at(&b).duration_since(at(&a));
    assert!(gap >= spacing - Duration::from_millis(20), "{gap:?}");

    // The first try is refused with retry_after 1; the answer comes after the wait.
    w.fake.lock().flood = 1;
    let help = w.fake.say(ANA, group, "/help", None);
    let r = w.fake.reply_to(id(&help), 0).await;
    assert!(plain(&r["text"]).contains("/pay @who"), "{r}");
    let attempts = w.fake.calls("sendMessage");
    let refused = attempts
        .iter()
        .find(|(p, _)| p["ok"] == json!(false))
        .map(|(_, t)| *t)
        .expect("no 429 was served");
    let delivered = attempts
        .iter()
        .find(|(p, _)| {
            p["reply_parameters"]["message_id"] == json!(id(&help)) && p["ok"] == json!(true)
        })
        .map(|(_, t)| *t)
        .expect("not delivered");
    assert!(
        delivered.duration_since(refused) >= Duration::from_millis(950),
        "resent after {:?}",
        delivered.duration_since(refused)
    );
    let answers = attempts
        .iter()
        .filter(|(p, _)| {
            p["reply_parameters"]["message_id"] == json!(id(&help)) && p["ok"] == json!(true)
        })
        .count();
    assert_eq!(answers, 1, "sent once");

    // The sink reports the flood wait to the delivery loop, and a person who never started the
    // bot as unreachable.
    w.fake.lock().flood = 1;
    let target = ChatTarget::Room(group.to_string());
    match w.sink.send(&target, &Reply::text("hi"), "t1").await {
        Err(SinkError::RateLimited(wait)) => assert_eq!(wait, Duration::from_secs(1)),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    w.fake.lock().not_started.insert(777);
    let person = ChatTarget::Direct {
        user: coinsence_api::domain::ids::UserId(1),
        platform_user_id: "777".into(),
        dm_room_id: None,
    };
    match w.sink.send(&person, &Reply::text("hi"), "t2").await {
        Err(SinkError::Unreachable(_)) => {}
        other => panic!("expected unreachable, got {other:?}"),
    }
    w.stop().await;
}

/// The shared scenario: each line is a message in a group; the answer is the bot's reply to it.
struct TelegramDriver {
    fake: Fake,
    group: i64,
    /// The `language_code` the people's Telegram apps send, if any.
    language_code: Option<&'static str>,
}

fn who(p: Person) -> Who {
    match p {
        Person::Ana => ANA,
        Person::Ben => BEN,
    }
}

impl Driver for TelegramDriver {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Telegram
    }

    fn user_id(&self, p: Person) -> String {
        who(p).0.to_string()
    }

    fn mention(&self, p: Person) -> String {
        format!("@{}", who(p).2.unwrap_or_default())
    }

    fn set_locale(&mut self, tag: &'static str) -> Result<(), String> {
        self.language_code = Some(tag);
        Ok(())
    }

    fn say<'a>(&'a mut self, p: Person, text: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let mut m = self.fake.message(who(p), self.group, text, None);
            if let Some(code) = self.language_code {
                m["from"]["language_code"] = json!(code);
            }
            self.fake.push(json!({ "message": m.clone() }));
            let r = tokio::time::timeout(WAIT, self.fake.reply_to(id(&m), 0))
                .await
                .map_err(|_| format!("no answer to {text:?}"))?;
            Ok(plain(&r["text"]))
        })
    }
}

async fn scenario_through_the_polling_loop(slug: &str, group: i64, lang: Lang) {
    let w = world(slug).await;
    // Both join the group first: the bot learns their usernames from the service message.
    let mut join = w.fake.message(ANA, group, "", None);
    if let Some(m) = join.as_object_mut() {
        m.remove("text");
        m.remove("entities");
    }
    join["new_chat_members"] = json!([user_json(ANA), user_json(BEN)]);
    w.fake.push(json!({ "message": join }));
    let mut driver = TelegramDriver {
        fake: w.fake.clone(),
        group,
        language_code: None,
    };
    scenario::run(&w.core, &w.org, &mut driver, lang)
        .await
        .unwrap();
    w.stop().await;
}

#[tokio::test]
async fn shared_scenario_through_the_polling_loop() {
    scenario_through_the_polling_loop("tgscn", -3003, Lang::En).await;
}

/// People whose Telegram app is set to German (`language_code`) read German until one of them
/// chooses English with `/language en`.
#[tokio::test]
async fn shared_scenario_in_german_through_the_polling_loop() {
    scenario_through_the_polling_loop("tgscnde", -3004, Lang::De).await;
}

#[tokio::test]
async fn webhook_mode() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("http://127.0.0.1:{port}/tg-hook");
    let secret = "test-secret_1";
    let w = world_with(
        "tghook",
        None,
        Some(Webhook {
            url: url.clone(),
            listen: ([127, 0, 0, 1], port).into(),
            secret: Some(secret.into()),
        }),
    )
    .await;
    let set = w
        .fake
        .wait_for("setWebhook", |s| {
            s.calls
                .iter()
                .find(|(m, _, _)| m == "setWebhook")
                .map(|(_, p, _)| p.clone())
        })
        .await;
    assert_eq!(set["url"], json!(url));
    assert_eq!(set["secret_token"], json!(secret));

    let group = -4004;
    let code = w.core.create_connect_code(&w.org.admin).await.unwrap();
    let m = w
        .fake
        .message(ANA, group, &format!("/connect {}", code.code), None);
    let update = json!({ "update_id": 1, "message": m });
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let post = |secret: &str| {
        client
            .post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .header("Content-Type", "application/json")
            .body(update.to_string())
            .send()
    };
    let forged = post("wrong").await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let sent = post(secret).await.unwrap();
    assert!(sent.status().is_success(), "{}", sent.status());
    let r = w.fake.reply_to(id(&m), 0).await;
    assert!(
        plain(&r["text"]).contains("now connected to Scenario Commons"),
        "{r}"
    );

    let fake = w.fake.clone();
    w.stop().await;
    assert!(
        fake.calls("getUpdates").is_empty(),
        "polled in webhook mode"
    );
    assert!(
        !fake.calls("deleteWebhook").is_empty(),
        "the webhook stays set after stopping"
    );
}
