//! The README's path for a new community, on a real Synapse, as one test: the admin gets a
//! connect code from the operator's command, invites the bot, connects the room; a newcomer
//! speaks and can pay at once (the org's joining grant), pays someone by short name
//! (`!pay @ben 1`), pledges work that is voted on with the one set of reactions under the
//! proposal's announcement; and a command sent while the bot was stopped is answered once after
//! it restarts. Each step checks what the person sees in the room and what the ledger holds.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Type-checking a spawned matrix-sdk sync future (its `Send` bound) needs more than the default.
#![recursion_limit = "256"]

#[path = "support/synapse.rs"]
mod synapse;

use std::time::{Duration, Instant};

use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::domain::governance::proposals::ProposalStatus;
use coinsence_api::domain::ids::ProposalId;
use coinsence_api::domain::tenancy::OrgSlug;
use coinsence_bots::scenario;
use serde_json::{Value, json};
use synapse::{Account, Synapse, enc, start_bot, synapse};

/// The four vote reactions a proposal's announcement carries.
const VOTE_KEYS: [&str; 4] = ["👍", "👎", "🤷", "✋"];

/// Registers a person whose Matrix display name is `display` (set before they join any room,
/// so their membership events carry it).
async fn person(hs: &Synapse, local: &str, display: &str) -> Account {
    let account = hs.register(local).await;
    hs.call(
        &account,
        reqwest::Method::PUT,
        &format!("/profile/{}/displayname", enc(&account.user_id)),
        Some(json!({"displayname": display})),
    )
    .await;
    account
}

/// The bot's reactions in `events`, as (the event they are on, key).
fn bot_reactions(events: &[Value], bot: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["type"] == "m.reaction" && e["sender"] == bot)
        .map(|e| {
            let on = &e["content"]["m.relates_to"];
            (
                on["event_id"].as_str().unwrap_or_default().to_owned(),
                on["key"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A person clicks `key` under `event`; returns the reaction's event id.
async fn react(hs: &Synapse, who: &Account, room: &str, event: &str, key: &str) -> String {
    let r = hs
        .call(
            who,
            reqwest::Method::PUT,
            &format!(
                "/rooms/{}/send/m.reaction/r{}",
                enc(room),
                rand::random::<u64>()
            ),
            Some(json!({"m.relates_to": {"rel_type": "m.annotation",
                                         "event_id": event, "key": key}})),
        )
        .await;
    r["event_id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_community_from_connect_code_to_first_payment_and_vote() {
    let Some(hs) = synapse().await else {
        return;
    };
    let (pool, _) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool);
    let tag = rand::random::<u32>();
    let slug = format!("readme-mx-{tag:x}");
    // The community as `coinsence org create` leaves it, with its coin, and the joining grant
    // its admin sets (`PATCH /v1/orgs/{org}` with `{"joining_grant": "20"}` calls this).
    let org = scenario::setup(&core, &slug).await.unwrap();
    core.set_joining_grant(&org.admin, "20").await.unwrap();

    let bot = hs.register(&format!("readme-bot{tag}")).await;
    let ana = person(hs, &format!("ana{tag}"), "Ana").await;
    let ben = person(hs, &format!("ben{tag}"), "Ben").await;
    let cleo = person(hs, &format!("cleo{tag}"), "Cleo").await;
    let store = tempfile::tempdir().unwrap();
    let running = start_bot(hs, &bot, store.path(), &core).await;
    let balance = async |who: &Account| {
        scenario::balance_of(&core, &org, ChatPlatform::Matrix, &who.user_id)
            .await
            .unwrap()
    };
    let ask = async |who: &Account, room: &str, text: &str| {
        let event = hs.send_text(who, room, text).await;
        let answer = hs
            .answer(who, room, &bot.user_id, &event)
            .await
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        (event, answer)
    };

    // 1. The admin gets a code the way `coinsence org connect-code <org>` does (the same
    //    `Core` call; `tests/cli.rs` runs the built binary's command itself).
    let code = core
        .create_connect_code_for(&OrgSlug::parse(&slug).unwrap())
        .await
        .unwrap();

    // 2. Ana (the admin, on Matrix) makes a room, invites the bot and Ben; the bot joins by
    //    itself. Before `!connect` the bot says how to connect; after it, the room is the org's.
    let created = hs
        .call(
            &ana,
            reqwest::Method::POST,
            "/createRoom",
            Some(json!({"preset": "private_chat", "name": "Repair café",
                        "invite": [bot.user_id, ben.user_id, cleo.user_id]})),
        )
        .await;
    let room = created["room_id"].as_str().unwrap_or_default().to_owned();
    for who in [&ben, &cleo] {
        hs.call(
            who,
            reqwest::Method::POST,
            &format!("/join/{}", enc(&room)),
            Some(json!({})),
        )
        .await;
    }
    hs.wait_joined(&ana, &room, &bot.user_id).await;
    let (_, before) = ask(&ana, &room, "!balance").await;
    assert!(before.contains("connect-code"), "{before}");
    let (_, connected) = ask(&ana, &room, &format!("!connect {}", code.code)).await;
    assert!(
        connected.contains("now connected to Scenario Commons"),
        "{connected}"
    );

    // 3. Newcomers speak and get going: `/help` names the grant, and the first answer says
    //    what they got.
    let (_, help) = ask(&cleo, &room, "!help").await;
    assert!(
        help.contains("everyone who joins Scenario Commons gets 20.00 COIN once"),
        "{help}"
    );
    let (_, first) = ask(&cleo, &room, "!balance").await;
    assert!(
        first.contains("Welcome to Scenario Commons! You got 20.00 COIN to get started."),
        "{first}"
    );
    assert!(first.contains("Cleo, your balance"), "{first}");
    // Connecting made nobody a member: Ben and Ana join when they first speak, as Cleo did.
    for who in [&ben, &ana] {
        let (_, said) = ask(who, &room, "!balance").await;
        assert!(said.contains("You got 20.00 COIN"), "{said}");
    }
    assert_eq!(balance(&cleo).await, "20.00");
    assert_eq!(balance(&ben).await, "20.00");
    assert_eq!(balance(&ana).await, "20.00");

    // 4. Cleo pays Ben by his short name; the answer names him as Matrix does.
    let (_, paid) = ask(&cleo, &room, "!pay @ben 1 for the bike pump").await;
    assert!(
        paid.contains("Paid 1.00 COIN to Ben for the bike pump"),
        "{paid}"
    );
    assert_eq!(balance(&cleo).await, "19.00");
    assert_eq!(balance(&ben).await, "21.00");
    // Nobody called so in the room's org: asked back, nothing paid.
    let (_, nobody) = ask(&cleo, &room, "!pay @zed 1").await;
    assert!(nobody.contains("Nothing was paid"), "{nobody}");
    assert_eq!(balance(&cleo).await, "19.00");

    // 5. Cleo pledges work; the proposal's announcement in the room carries the one set of
    //    vote reactions, the answer to the pledge points to it and carries none.
    let (pledged, pledge_answer) = ask(&cleo, &room, "!pledge 5 for fixing the door").await;
    assert!(pledge_answer.contains("5.00 COIN"), "{pledge_answer}");
    assert!(
        pledge_answer.contains("react to the proposal's announcement"),
        "{pledge_answer}"
    );
    let proposal: i64 = scenario::number_after(&pledge_answer, "Proposal ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no proposal number in {pledge_answer:?}"));
    let started = Instant::now();
    let announcement = loop {
        let found = hs.messages(&ana, &room).await.into_iter().find(|e| {
            e["sender"] == bot.user_id
                && e["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("New proposal in Scenario Commons"))
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
    let started = Instant::now();
    while bot_reactions(&hs.messages(&ana, &room).await, &bot.user_id).len() < VOTE_KEYS.len() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no vote reactions under the announcement"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ben, Ana and Cleo vote with a click on the announcement; each click is answered. Three
    // yes of the four members (the org's admin, Ana, Ben, Cleo) is a majority of all who may
    // vote, so the pledge passes at once and Cleo is issued its worth.
    for who in [&ben, &ana, &cleo] {
        let click = react(hs, who, &room, &announcement, "👍").await;
        let voted = hs
            .answer(who, &room, &bot.user_id, &click)
            .await
            .expect("the click was not answered");
        assert!(voted.contains("You voted yes"), "{voted}");
    }
    let view = core
        .proposal(&org.admin, ProposalId(proposal))
        .await
        .unwrap();
    assert_eq!(view.votes.yes, 3, "{view:?}");
    assert_eq!(view.status, ProposalStatus::Passed, "{view:?}");
    assert_eq!(balance(&cleo).await, "24.00");
    // `!proposals` lists it without reactions of its own.
    let (listed, _) = ask(&ben, &room, "!proposals").await;
    // Give any stray reaction time to arrive before counting.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut reactions = bot_reactions(&hs.messages(&ana, &room).await, &bot.user_id);
    reactions.sort();
    let mut want: Vec<(String, String)> = VOTE_KEYS
        .iter()
        .map(|k| (announcement.clone(), (*k).to_owned()))
        .collect();
    want.sort();
    assert_eq!(
        reactions, want,
        "one set of vote reactions, on the announcement only (pledge {pledged}, listing {listed})"
    );

    // 6. A cheap restart check (the full one, with the away window, is in `tests/matrix.rs`):
    //    a payment typed while the bot was stopped is made and answered once when it is back.
    running.stop().await;
    let while_down = hs.send_text(&ben, &room, "!pay @cleo 2 for tea").await;
    let running = start_bot(hs, &bot, store.path(), &core).await;
    let answer = hs
        .answer(&ben, &room, &bot.user_id, &while_down)
        .await
        .expect("the payment sent while the bot was down was not answered");
    assert!(
        answer.contains("Paid 2.00 COIN to Cleo for tea"),
        "{answer}"
    );
    let (_, after) = ask(&cleo, &room, "!balance").await;
    assert!(after.contains("26.00 COIN"), "{after}");
    assert_eq!(
        hs.replies_to(&ben, &room, &bot.user_id, &while_down)
            .await
            .len(),
        1,
        "the payment sent while the bot was down was answered more than once"
    );
    assert_eq!(balance(&ben).await, "19.00");
    assert_eq!(balance(&cleo).await, "26.00");
    running.stop().await;
}
