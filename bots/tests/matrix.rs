//! The Matrix bot end to end on a real Synapse (PyPI `matrix-synapse`, installed by `.ci/deps`):
//! started once per test process on 127.0.0.1 with sqlite, a registration shared secret, every
//! rate limit raised and no key servers. A bot and two people are registered through the
//! shared-secret admin API; the people create a room, invite the bot, and type commands; the
//! bot's replies arrive in the room and the ledger changes as it should. Missing Synapse skips
//! loudly on a laptop and fails under CI=true.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Type-checking a spawned matrix-sdk sync future (its `Send` bound) needs more than the default.
#![recursion_limit = "256"]

use std::time::{Duration, Instant};

use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::away::AwayWindow;
use coinsence_bots::scenario::{self, Driver, Person};
use futures::future::BoxFuture;
use matrix_sdk::ruma::RoomId;
use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
use serde_json::{Value, json};

#[path = "support/synapse.rs"]
mod synapse;

use synapse::*;

/// The Matrix side of the shared scenario: people type in the room over the client-server API.
struct MatrixDriver<'a> {
    hs: &'a Synapse,
    room: String,
    bot: String,
    ana: Account,
    ben: Account,
    latencies: Vec<Duration>,
}

impl MatrixDriver<'_> {
    fn account(&self, who: Person) -> &Account {
        match who {
            Person::Ana => &self.ana,
            Person::Ben => &self.ben,
        }
    }
}

impl Driver for MatrixDriver<'_> {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Matrix
    }

    fn user_id(&self, who: Person) -> String {
        self.account(who).user_id.clone()
    }

    fn mention(&self, who: Person) -> String {
        self.account(who).user_id.clone()
    }

    fn say<'a>(&'a mut self, who: Person, text: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let account = self.account(who).clone();
            let started = Instant::now();
            let event = self.hs.send_text(&account, &self.room, text).await;
            let answer = self
                .hs
                .answer(&account, &self.room, &self.bot, &event)
                .await?;
            self.latencies.push(started.elapsed());
            Ok(answer)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_scenario_on_synapse_then_redelivery_and_restart() {
    let Some(hs) = synapse().await else {
        return;
    };
    let (pool, _) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool);
    let tag = rand::random::<u32>();
    let bot_account = hs.register(&format!("coinsence{tag}")).await;
    let ana = hs.register(&format!("ana{tag}")).await;
    let ben = hs.register(&format!("ben{tag}")).await;
    let store = tempfile::tempdir().unwrap();
    let running = start_bot(hs, &bot_account, store.path(), &core).await;

    let created = hs
        .call(
            &ana,
            reqwest::Method::POST,
            "/createRoom",
            Some(json!({"preset": "private_chat", "name": "Repair café",
                        "invite": [bot_account.user_id, ben.user_id]})),
        )
        .await;
    let room = created["room_id"].as_str().unwrap_or_default().to_owned();
    hs.call(
        &ben,
        reqwest::Method::POST,
        &format!("/join/{}", enc(&room)),
        Some(json!({})),
    )
    .await;
    hs.wait_joined(&ana, &room, &bot_account.user_id).await;

    let org = scenario::setup(&core, &format!("scenario-mx-{tag:x}"))
        .await
        .unwrap();
    let mut driver = MatrixDriver {
        hs,
        room: room.clone(),
        bot: bot_account.user_id.clone(),
        ana: ana.clone(),
        ben: ben.clone(),
        latencies: Vec::new(),
    };
    scenario::run(&core, &org, &mut driver, coinsence_api::i18n::Lang::En)
        .await
        .unwrap();
    let mut latencies = driver.latencies.clone();
    latencies.sort();
    eprintln!(
        "Matrix command to visible reply over {} commands: p50 {:.1} ms, max {:.1} ms",
        latencies.len(),
        latencies[latencies.len() / 2].as_secs_f64() * 1000.0,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    let balance = |who: &Account| {
        let core = core.clone();
        let org_admin = &org;
        let id = who.user_id.clone();
        async move {
            scenario::balance_of(&core, org_admin, ChatPlatform::Matrix, &id)
                .await
                .unwrap()
        }
    };

    // The reply is HTML plus a plain body, and the pledge's answer carries vote buttons.
    let events = hs.messages(&ana, &room).await;
    let formatted = events
        .iter()
        .find(|e| e["sender"] == bot_account.user_id && e["content"]["formatted_body"].is_string())
        .expect("no formatted reply");
    assert_eq!(formatted["content"]["format"], "org.matrix.custom.html");
    assert!(
        events.iter().any(|e| e["type"] == "m.reaction"
            && e["sender"] == bot_account.user_id
            && e["content"]["m.relates_to"]["key"] == "👍"),
        "vote buttons as reactions"
    );

    // Redelivery: the same event handled a second time pays once and answers once.
    let event_id = hs
        .send_text(
            &ana,
            &room,
            &format!("!pay {} 1 for redelivery", ben.user_id),
        )
        .await;
    let first = hs
        .answer(&ana, &room, &bot_account.user_id, &event_id)
        .await
        .unwrap();
    assert!(first.contains("Paid 1.00 COIN"), "{first}");
    assert_eq!(balance(&ben).await, "18.50");
    let raw = hs
        .call(
            &ana,
            reqwest::Method::GET,
            &format!("/rooms/{}/event/{}", enc(&room), enc(&event_id)),
            None,
        )
        .await;
    let event: OriginalSyncRoomMessageEvent = serde_json::from_value(raw).expect("event");
    let bot_room = running
        .bot
        .client()
        .get_room(&RoomId::parse(&room).unwrap())
        .expect("the bot does not know the room");
    running.bot.handle_message(&bot_room, &event).await;
    running.bot.handle_message(&bot_room, &event).await;
    assert_eq!(
        balance(&ben).await,
        "18.50",
        "a redelivered event paid twice"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hs.replies_to(&ana, &room, &bot_account.user_id, &event_id)
            .await
            .len(),
        1,
        "the repeated answer has the same transaction id, so the homeserver keeps one"
    );

    // Votes by reaction, one set per proposal: the bot's answer to `!propose` carries no
    // reactions and points to the announcement the outbox makes in the room, which carries
    // 👍 👎 🤷 ✋. Ben clicks 👍 there, and the bot answers the click.
    let proposed = hs.send_text(&ana, &room, "!propose Paint the door").await;
    let opened = hs
        .answer(&ana, &room, &bot_account.user_id, &proposed)
        .await
        .unwrap();
    let proposal: i64 = scenario::number_after(&opened, "Proposal ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no proposal number in {opened:?}"));
    assert!(
        opened.contains("react to the proposal's announcement"),
        "{opened}"
    );
    let answer_event = hs
        .messages(&ana, &room)
        .await
        .into_iter()
        .find(|e| {
            e["sender"] == bot_account.user_id
                && e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == proposed
        })
        .and_then(|e| e["event_id"].as_str().map(str::to_owned))
        .expect("the bot's answer to the proposal");
    let started = Instant::now();
    let announcement = loop {
        let found = hs.messages(&ana, &room).await.into_iter().find(|e| {
            e["sender"] == bot_account.user_id
                && e["content"]["body"].as_str().is_some_and(|b| {
                    b.contains("New proposal in Scenario Commons") && b.contains("Paint the door")
                })
        });
        if let Some(e) = found {
            break e["event_id"].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the outbox did not announce the proposal in the room"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Its reactions are added after it is sent.
    let reactions_on = |events: &[Value], target: &str| {
        events
            .iter()
            .filter(|e| {
                e["type"] == "m.reaction"
                    && e["sender"] == bot_account.user_id
                    && e["content"]["m.relates_to"]["event_id"] == target
            })
            .count()
    };
    let started = Instant::now();
    while reactions_on(&hs.messages(&ana, &room).await, &announcement) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no vote reactions under the announcement"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = hs.messages(&ana, &room).await;
    assert_eq!(reactions_on(&events, &announcement), 4);
    assert_eq!(
        reactions_on(&events, &answer_event),
        0,
        "the answer repeats the reactions"
    );
    let click = hs
        .call(
            &ben,
            reqwest::Method::PUT,
            &format!(
                "/rooms/{}/send/m.reaction/r{}",
                enc(&room),
                rand::random::<u64>()
            ),
            Some(json!({"m.relates_to": {"rel_type": "m.annotation",
                                         "event_id": announcement, "key": "👍"}})),
        )
        .await;
    let click = click["event_id"].as_str().unwrap_or_default().to_owned();
    let voted = hs
        .answer(&ben, &room, &bot_account.user_id, &click)
        .await
        .expect("the click was not answered");
    assert!(voted.contains("You voted yes"), "{voted}");
    let view = core
        .proposal(&org.admin, coinsence_api::domain::ids::ProposalId(proposal))
        .await
        .unwrap();
    assert_eq!(view.votes.yes, 1, "{view:?}");
    // `!proposals` now links to the announcement instead of carrying reactions.
    let listed = hs.send_text(&ana, &room, "!proposals").await;
    let listing = hs
        .answer(&ana, &room, &bot_account.user_id, &listed)
        .await
        .unwrap();
    if listing.contains(&format!("/vote {proposal} ")) {
        assert!(listing.contains(&announcement), "{listing}");
    }

    // Restart: a payment typed while the bot was down is run and answered once, when it is
    // back (the first sync from the stored token carries it); nothing older is answered again.
    running.stop().await;
    let before = hs.bot_messages(&ana, &room, &bot_account.user_id).await;
    let while_down = hs
        .send_text(&ana, &room, &format!("!pay {} 2 for tea", ben.user_id))
        .await;
    let running = start_bot(hs, &bot_account, store.path(), &core).await;
    let paid = hs
        .answer(&ana, &room, &bot_account.user_id, &while_down)
        .await
        .expect("the payment sent while the bot was down was not answered");
    assert!(paid.contains("Paid 2.00 COIN"), "{paid}");
    let fresh = hs.send_text(&ben, &room, "!balance").await;
    let answer = hs
        .answer(&ben, &room, &bot_account.user_id, &fresh)
        .await
        .expect("after a restart");
    assert!(answer.contains("20.50 COIN"), "{answer}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hs.replies_to(&ana, &room, &bot_account.user_id, &while_down)
            .await
            .len(),
        1,
        "the payment sent while the bot was down was answered more than once"
    );
    assert_eq!(
        hs.bot_messages(&ana, &room, &bot_account.user_id).await,
        before + 2,
        "after a restart the bot answered something old again"
    );
    assert_eq!(balance(&ana).await, "84.50");
    assert_eq!(balance(&ben).await, "20.50");

    // Down longer than the away window (here 1 s): the payment is not made, and its sender is
    // asked once to send it again; chatter is not answered.
    running.stop().await;
    let stale = hs
        .send_text(&ana, &room, &format!("!pay {} 3 for old tea", ben.user_id))
        .await;
    let chatter = hs.send_text(&ben, &room, "thanks for the tea").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let running = start_bot_with(
        hs,
        &bot_account,
        store.path(),
        &core,
        AwayWindow::new(Duration::from_secs(1)),
    )
    .await;
    let again = hs
        .answer(&ana, &room, &bot_account.user_id, &stale)
        .await
        .expect("the stale payment got no answer");
    assert_eq!(
        again,
        "I was away when you sent this, so I did nothing; please send it again."
    );
    running.stop().await;
    let running = start_bot(hs, &bot_account, store.path(), &core).await;
    let ping = hs.send_text(&ben, &room, "!help").await;
    hs.answer(&ben, &room, &bot_account.user_id, &ping)
        .await
        .expect("after a second restart");
    assert_eq!(
        hs.replies_to(&ana, &room, &bot_account.user_id, &stale)
            .await
            .len(),
        1,
        "the stale payment was answered more than once"
    );
    assert!(
        hs.replies_to(&ben, &room, &bot_account.user_id, &chatter)
            .await
            .is_empty()
    );
    assert_eq!(balance(&ana).await, "84.50");
    assert_eq!(balance(&ben).await, "20.50");

    // `/link` answers privately: a notice in the room, the login in a direct message.
    let asked = hs.send_text(&ana, &room, "!link").await;
    let notice = hs
        .answer(&ana, &room, &bot_account.user_id, &asked)
        .await
        .unwrap();
    assert!(notice.contains("I sent you a direct message"), "{notice}");
    let started = Instant::now();
    let dm = loop {
        let sync = hs
            .call(&ana, reqwest::Method::GET, "/sync?timeout=0", None)
            .await;
        if let Some(id) = sync["rooms"]["invite"]
            .as_object()
            .and_then(|rooms| rooms.keys().next().cloned())
        {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no direct-message invite from the bot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    hs.call(
        &ana,
        reqwest::Method::POST,
        &format!("/join/{}", enc(&dm)),
        Some(json!({})),
    )
    .await;
    // The bot's direct messages are end-to-end encrypted: what arrives is an encrypted event.
    let started = Instant::now();
    loop {
        let events = hs.messages(&ana, &dm).await;
        let encrypted = events.iter().any(|e| e["type"] == "m.room.encryption");
        if encrypted
            && events
                .iter()
                .any(|e| e["sender"] == bot_account.user_id && e["type"] == "m.room.encrypted")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no encrypted direct message from the bot: {:?}",
            events
                .iter()
                .map(|e| (e["type"].clone(), e["sender"].clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !hs.messages(&ana, &room)
            .await
            .iter()
            .any(|e| e["content"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("Your one-time login"))),
        "the login was shown in the room"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_room_works() {
    use matrix_sdk::config::SyncSettings;
    use matrix_sdk::ruma::api::client::room::create_room;
    use matrix_sdk::ruma::events::InitialStateEvent;
    use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
    use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;

    let Some(hs) = synapse().await else {
        return;
    };
    let (pool, _) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool);
    let tag = rand::random::<u32>();
    let bot_account = hs.register(&format!("crypto-bot{tag}")).await;
    let ana = hs.register(&format!("crypto-ana{tag}")).await;
    let org = scenario::setup(&core, &format!("crypto-{tag:x}"))
        .await
        .unwrap();
    let bot_store = tempfile::tempdir().unwrap();
    let running = start_bot(hs, &bot_account, bot_store.path(), &core).await;

    // Ana uses a real end-to-end client with her own keys.
    let ana_store = tempfile::tempdir().unwrap();
    let client = matrix_sdk::Client::builder()
        .homeserver_url(&hs.base)
        .sqlite_store(ana_store.path(), None)
        .build()
        .await
        .unwrap();
    client
        .matrix_auth()
        .login_username(&ana.user_id, &ana.password)
        .send()
        .await
        .unwrap();
    client.sync_once(SyncSettings::default()).await.unwrap();
    let (tx, mut answers) = tokio::sync::mpsc::unbounded_channel::<String>();
    let bot_id = bot_account.user_id.clone();
    client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
        let (tx, bot_id) = (tx.clone(), bot_id.clone());
        async move {
            if ev.sender.as_str() == bot_id {
                let _ = tx.send(ev.content.body().to_owned());
            }
        }
    });
    let syncing = client.clone();
    let sync_task = tokio::spawn(async move {
        let _ = syncing.sync(SyncSettings::default()).await;
    });

    let mut request = create_room::v3::Request::new();
    request.invite = vec![matrix_sdk::ruma::UserId::parse(&bot_account.user_id).unwrap()];
    request.initial_state = vec![
        InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any(),
    ];
    let room = client.create_room(request).await.unwrap();
    let room_id = room.room_id().to_string();
    hs.wait_joined(&ana, &room_id, &bot_account.user_id).await;
    // Let Ana's client see the bot join, so her room key is shared with the bot's device.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let code = core.create_connect_code(&org.admin).await.unwrap();
    let mut expect = async |text: String, want: &str| {
        room.send(RoomMessageEventContent::text_plain(text))
            .await
            .expect("send");
        let answer = tokio::time::timeout(Duration::from_secs(30), answers.recv())
            .await
            .unwrap_or_else(|_| panic!("no decrypted answer within 30 s (waiting for {want:?})"))
            .unwrap_or_default();
        assert!(answer.contains(want), "{answer}");
    };
    expect(
        format!("!connect {}", code.code),
        "now connected to Scenario Commons",
    )
    .await;
    expect("!balance".to_owned(), "0.00 COIN").await;

    // On the wire, the bot's answers were encrypted too.
    let events = hs.messages(&ana, &room_id).await;
    let from_bot: Vec<&Value> = events
        .iter()
        .filter(|e| e["sender"] == bot_account.user_id && e["type"] != "m.room.member")
        .collect();
    assert!(!from_bot.is_empty());
    assert!(
        from_bot.iter().all(|e| e["type"] == "m.room.encrypted"),
        "{from_bot:?}"
    );
    sync_task.abort();
    running.stop().await;
}
