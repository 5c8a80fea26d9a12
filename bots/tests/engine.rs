//! The engine against real PostgreSQL: every command through the console path, the mistakes
//! people make (each one clear sentence, nothing changed), redelivery, the shared scenario, and
//! outbox delivery through a recording sink.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform, ChatTarget};
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::projects::NewProject;
use coinsence_api::domain::governance::proposals::NewProposal;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::orgs::Member;
use coinsence_api::i18n::Lang;
use coinsence_bots::console::{self, ConsoleSession};
use coinsence_bots::delivery::{self, Sent, Sink, SinkError};
use coinsence_bots::reply::{Audience, Reply, Tone};
use coinsence_bots::scenario::{self, Driver, Person};
use coinsence_bots::{Engine, EngineConfig, Incoming};
use futures::future::BoxFuture;

struct World {
    core: Core,
    engine: Engine,
    admin: Member,
    room: String,
}

async fn world(open: bool) -> World {
    let (pool, _) = coinsence_api::testing::test_database()
        .await
        .expect("test database");
    let core = Core::new(pool);
    let slug = format!("eng-{:08x}", rand::random::<u32>());
    let admin = coinsence_api::testing::org_with_coin(&core, &slug, "Test Commons", open)
        .await
        .admin;
    let room = console::room_for_org(&slug);
    core.bind_room(ChatPlatform::Console, &room, &admin.tenant)
        .await
        .unwrap();
    let engine = Engine::new(
        core.clone(),
        EngineConfig {
            platform: ChatPlatform::Console,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    World {
        core,
        engine,
        admin,
        room,
    }
}

impl World {
    fn msg(&self, who: &str, event: Option<&str>) -> Incoming {
        Incoming {
            room: self.room.clone(),
            sender: who.to_lowercase(),
            sender_name: who.to_owned(),
            event_id: event.map(str::to_owned),
            direct: false,
            locale: None,
        }
    }

    /// A message from someone whose platform says they read `lang`.
    fn msg_in(&self, who: &str, lang: Lang) -> Incoming {
        Incoming {
            locale: Some(lang),
            ..self.msg(who, None)
        }
    }

    async fn say(&self, who: &str, text: &str) -> Reply {
        self.say_as(self.msg(who, None), text).await
    }

    async fn say_as(&self, msg: Incoming, text: &str) -> Reply {
        self.engine
            .handle_text(&msg, text)
            .await
            .unwrap_or_else(|| panic!("{text:?} got no answer"))
    }

    async fn ok(&self, who: &str, text: &str) -> String {
        let r = self.say(who, text).await;
        assert_eq!(r.tone, Tone::Ok, "{text:?}: {}", r.plain());
        r.plain()
    }

    /// A person's mistake: one sentence, no list, no buttons.
    async fn refused(&self, who: &str, text: &str) -> String {
        let r = self.say(who, text).await;
        assert_eq!(r.tone, Tone::Error, "{text:?}: {}", r.plain());
        let plain = r.plain();
        assert!(
            !plain.contains('\n'),
            "{text:?}: more than one line: {plain}"
        );
        assert!(r.buttons.is_empty());
        assert!(
            plain.ends_with('.') || plain.contains(". Write it as: /"),
            "{plain}"
        );
        plain
    }

    async fn user(&self, name: &str) -> coinsence_api::domain::identity::User {
        let who = ChatIdentity::new(ChatPlatform::Console, &name.to_lowercase()).unwrap();
        self.core.chat_user(&who, name).await.unwrap()
    }

    async fn fund(&self, name: &str, amount: &str) {
        let user = self.user(name).await;
        self.core
            .chat_member(
                &self.admin.tenant,
                &ChatIdentity::new(ChatPlatform::Console, &name.to_lowercase()).unwrap(),
                name,
            )
            .await
            .unwrap();
        self.core
            .issue(
                &self.admin,
                MoveRequest {
                    currency: "COIN".into(),
                    to: AccountRef::Member(user.id),
                    amount: amount.into(),
                    memo: "funding".into(),
                },
                IdempotencyKey::scoped("test", "fund", &format!("{name}-{amount}")).unwrap(),
            )
            .await
            .unwrap();
    }

    /// Every balance and the journal's length: what "nothing changed" compares.
    async fn ledger(&self) -> (Vec<(i64, i64)>, usize) {
        let accounts = self.core.accounts(&self.admin).await.unwrap();
        let balances = accounts
            .iter()
            .map(|a| (a.account.id.0, a.account.balance))
            .collect();
        let journal = self
            .core
            .history(&self.admin, None, None, 200)
            .await
            .unwrap()
            .len();
        (balances, journal)
    }
}

#[tokio::test]
async fn every_command_answers() {
    let w = world(true).await;
    w.fund("Ana", "100").await;
    assert!(
        w.ok("Ana", "/help")
            .await
            .contains("/pay @who 10 [CUR] [for memo]")
    );
    assert!(w.ok("Ana", "/help vote").await.contains("/vote <id>"));
    assert!(w.ok("Ana", "/balance").await.contains("100.00 COIN"));
    let paid = w.ok("Ana", "/pay @Ben 12.5 for bread").await;
    assert!(paid.contains("Paid 12.50 COIN to Ben for bread."), "{paid}");
    assert!(paid.contains("had no account"), "{paid}");
    assert!(w.ok("Ben", "/balance").await.contains("12.50 COIN"));
    let history = w.ok("Ana", "/history").await;
    assert!(
        history.contains("− 12.50 COIN (payment) bread") || history.contains("−12.50"),
        "{history}"
    );
    assert!(history.contains("+ 100.00 COIN (issuance)"), "{history}");
    assert!(w.ok("Ben", "/history").await.contains("+ 12.50 COIN"));

    let pledge = w.say("Ben", "/pledge 5 for two hours of bike repair").await;
    assert_eq!(pledge.tone, Tone::Ok, "{}", pledge.plain());
    let proposal = pledge.vote_proposal().expect("no buttons");
    assert_eq!(pledge.buttons.len(), 4);
    assert!(
        pledge
            .plain()
            .contains("5.00 COIN for two hours of bike repair")
    );
    let listed = w.ok("Ana", "/proposals").await;
    assert!(
        listed.contains(&format!("#{proposal} Pledge: two hours of bike repair")),
        "{listed}"
    );
    assert!(
        w.ok("Ana", &format!("/vote {proposal} yes"))
            .await
            .contains("You voted yes")
    );

    let free = w.say("Ana", "/propose Paint the workshop green").await;
    assert_eq!(free.tone, Tone::Ok);
    assert!(free.plain().contains("Paint the workshop green"));
    assert!(free.vote_proposal().is_some());

    assert!(
        w.ok("Ana", "/post Saturday is repair day")
            .await
            .contains("Posted")
    );
    let feed = w.core.feed(&w.admin, None, 10).await.unwrap();
    assert_eq!(feed[0].body, "Saturday is repair day");

    let offer = w.ok("Ben", "/offer 3 for a bike check").await;
    assert!(offer.contains("Listed offer"), "{offer}");
    let listing = scenario::number_after(&offer, "offer").unwrap_or_default();
    assert!(
        w.ok("Ana", "/need 20 COIN for a ladder")
            .await
            .contains("Listed need")
    );
    let market = w.ok("Ana", "/market").await;
    assert!(
        market.contains("a bike check") && market.contains("a ladder"),
        "{market}"
    );
    let bought = w.ok("Ana", &format!("/buy {listing}")).await;
    assert!(
        bought.contains("You bought") && bought.contains("3.00 COIN"),
        "{bought}"
    );

    let project = w
        .core
        .create_project(
            &w.admin,
            NewProject {
                title: "Cargo bike".into(),
                description: String::new(),
                currency: "COIN".into(),
                goal: "500".into(),
                deadline: Utc::now() + chrono::Duration::days(30),
                share_code: "BIKE".into(),
                share_name: None,
                rate: "1".into(),
                cap: None,
            },
            None,
        )
        .await
        .unwrap();
    let invested = w.ok("Ana", &format!("/invest {} 10", project.id)).await;
    assert!(
        invested.contains("10.00 COIN") && invested.contains("BIKE"),
        "{invested}"
    );

    let link = w.say("Ana", "/link").await;
    assert_eq!(link.audience, Audience::Sender);
    let code = link
        .plain()
        .split_whitespace()
        .find(|w| w.starts_with("cl_"))
        .map(|c| {
            c.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
                .to_owned()
        })
        .unwrap_or_else(|| panic!("no code in {}", link.plain()));
    let (user, _token) = w.core.redeem_login_link(&code).await.unwrap();
    assert_eq!(user.id, w.user("Ana").await.id);
    assert!(w.core.redeem_login_link(&code).await.is_err(), "used twice");

    assert!(w.ok("Ana", "!BALANCE").await.contains("74.50 COIN"));
    let checks = w.core.verify_ledger(&w.admin).await.unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

#[tokio::test]
async fn mistakes_are_one_sentence_and_change_nothing() {
    let w = world(true).await;
    w.fund("Ana", "10").await;
    w.fund("Ben", "1").await;
    let before = w.ledger().await;

    let poor = w.refused("Ana", "/pay @ben 50").await;
    assert_eq!(
        poor,
        "You have 10.00 COIN, not enough to pay 50.00 COIN. Nothing was paid."
    );
    let wrong = w.refused("Ana", "/pay @ben 5 EUR").await;
    assert_eq!(
        wrong,
        "There is no currency EUR in Test Commons; use COIN. Nothing was changed."
    );
    let decimals = w.refused("Ana", "/pay @ben 1.005").await;
    assert!(
        decimals.starts_with("This currency has 2 decimal places: \"1.005\" does not fit."),
        "{decimals}"
    );
    let unreadable = w.refused("Ana", "/pay @ben 1,2,3").await;
    assert!(
        unreadable.starts_with("I cannot read \"1,2,3\" as an amount"),
        "{unreadable}"
    );
    assert_eq!(
        w.refused("Ana", "/pay @ana 1").await,
        "You cannot pay yourself."
    );
    let syntax = w.refused("Ana", "/pay ben 5").await;
    assert!(
        syntax.contains("Write it as: /pay @who 10 [CUR] [for memo]"),
        "{syntax}"
    );
    // The domain's refusal, in its words (refusals.ftl): naming what was not found.
    let missing = w.refused("Ana", "/vote 999 yes").await;
    assert!(missing.to_lowercase().contains("proposal"), "{missing}");
    let missing = w.refused("Ana", "/buy 999").await;
    assert!(missing.to_lowercase().contains("listing"), "{missing}");
    assert_eq!(w.ledger().await, before);

    // A proposal that closed: Ana, Ben and the owner vote; two yes settle it.
    let pledge = w.say("Ben", "/pledge 1 for a thing").await;
    let p = pledge
        .vote_proposal()
        .unwrap_or_else(|| panic!("{}", pledge.plain()));
    w.ok("Ana", &format!("/vote {p} yes")).await;
    let settled = w.ok("Ben", &format!("/vote {p} yes")).await;
    assert!(settled.contains("it passed"), "{settled}");
    let after_close = w.ledger().await;
    let closed = w.refused("Ana", &format!("/vote {p} no")).await;
    assert_eq!(closed, format!("Voting on proposal {p} has closed."));
    assert_eq!(w.ledger().await, after_close);
    let view = w
        .core
        .proposal(&w.admin, coinsence_api::domain::ids::ProposalId(p))
        .await
        .unwrap();
    assert_eq!(view.votes.no, 0, "the late vote was not counted");

    // A room nobody connected.
    let mut stray = w.msg("Ana", None);
    stray.room = "org:nowhere".into();
    let r = w.say_as(stray.clone(), "/balance").await;
    assert_eq!(r.tone, Tone::Error);
    assert!(
        r.plain()
            .starts_with("This room is not connected to a community yet."),
        "{}",
        r.plain()
    );
    let r = w.say_as(stray, "/pay @ben 1").await;
    assert!(r.plain().starts_with("This room is not connected"));
    let r = w.say("Ana", "/connect AAAA-BBBB-CCCC").await;
    assert_eq!(
        r.plain(),
        "That connect code is not valid. Ask an admin for a new one."
    );
    assert_eq!(w.ledger().await, after_close);
}

#[tokio::test]
async fn closed_orgs_pay_members_only() {
    let w = world(false).await;
    // The owner is a member; a stranger at the console is not.
    let r = w.say("Stranger", "/balance").await;
    assert_eq!(r.tone, Tone::Error);
    assert_eq!(
        r.plain(),
        "This org admits members by invitation; ask an admin to admit you."
    );
    let owner = ChatIdentity::new(ChatPlatform::Console, "owner").unwrap();
    w.core
        .link_chat_identity(&owner, w.admin.user.id)
        .await
        .unwrap();
    w.core
        .issue(
            &w.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(w.admin.user.id),
                amount: "10".into(),
                memo: String::new(),
            },
            IdempotencyKey::scoped("test", "fund", "owner").unwrap(),
        )
        .await
        .unwrap();
    let before = w.ledger().await;
    let unknown = w.refused("Owner", "/pay @nobody 5").await;
    assert_eq!(
        unknown,
        "nobody is not a member of Test Commons, so they cannot be paid here. Nothing was paid."
    );
    assert_eq!(w.ledger().await, before);
}

#[tokio::test]
async fn a_redelivered_event_acts_once() {
    let w = world(true).await;
    w.fund("Ana", "20").await;
    let first = w
        .say_as(w.msg("Ana", Some("$event-1")), "/pay @ben 5 for tea")
        .await;
    let again = w
        .say_as(w.msg("Ana", Some("$event-1")), "/pay @ben 5 for tea")
        .await;
    // Ben was admitted by the first delivery: the redelivery says so too.
    assert!(
        first.plain().contains("had no account"),
        "{}",
        first.plain()
    );
    assert_eq!(first.plain(), again.plain());
    assert!(w.ok("Ana", "/balance").await.contains("15.00 COIN"));
    let pledge1 = w
        .say_as(w.msg("Ben", Some("$event-2")), "/pledge 3 for soup")
        .await;
    let pledge2 = w
        .say_as(w.msg("Ben", Some("$event-2")), "/pledge 3 for soup")
        .await;
    assert_eq!(pledge1.vote_proposal(), pledge2.vote_proposal());
    let post1 = w.say_as(w.msg("Ben", Some("$event-3")), "/post once").await;
    let post2 = w.say_as(w.msg("Ben", Some("$event-3")), "/post once").await;
    assert_eq!(post1.plain(), post2.plain());
    assert_eq!(
        w.core.feed(&w.admin, None, 10).await.map(|f| f.len()).ok(),
        Some(1)
    );
}

/// A payment redelivered after its payee was removed from a closed org answers the receipt it
/// answered first (not "not a member"): the journal is asked before the payee is looked up.
#[tokio::test]
async fn a_payment_redelivered_after_its_payee_left_answers_the_receipt() {
    let w = world(false).await;
    let owner = ChatIdentity::new(ChatPlatform::Console, "owner").unwrap();
    w.core
        .link_chat_identity(&owner, w.admin.user.id)
        .await
        .unwrap();
    w.core
        .issue(
            &w.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(w.admin.user.id),
                amount: "10".into(),
                memo: String::new(),
            },
            IdempotencyKey::scoped("test", "fund", "owner").unwrap(),
        )
        .await
        .unwrap();
    let ben = w.user("Ben").await;
    w.core.admit_members(&w.admin, &[ben.id]).await.unwrap();
    let pay = w.msg("Owner", Some("$pay-before-leaving"));
    let first = w.say_as(pay.clone(), "/pay @ben 4 for tea").await;
    assert_eq!(first.tone, Tone::Ok, "{}", first.plain());

    let bye = w
        .core
        .propose(
            &w.admin,
            NewProposal {
                title: "Ben leaves".into(),
                description: String::new(),
                closes_at: None,
                action: ActionRequest::RemoveMember { user_id: ben.id },
            },
            None,
        )
        .await
        .unwrap();
    w.ok("Owner", &format!("/vote {} yes", bye.id)).await;
    w.ok("Ben", &format!("/vote {} yes", bye.id)).await;
    w.core
        .close_due(&w.admin.tenant, Utc::now() + chrono::Duration::days(100))
        .await
        .unwrap();
    let fresh = w.refused("Owner", "/pay @ben 1").await;
    assert!(fresh.contains("not a member"), "{fresh}");

    let before = w.ledger().await;
    let again = w.say_as(pay, "/pay @ben 4 for tea").await;
    assert_eq!(again.tone, Tone::Ok, "{}", again.plain());
    assert_eq!(again.plain(), first.plain());
    assert_eq!(w.ledger().await, before);
}

/// A vote redelivered after others voted and the proposal closed answers the tally the first
/// delivery answered, not the tally now or "voting has closed".
#[tokio::test]
async fn a_redelivered_vote_answers_the_first_tally() {
    let w = world(true).await;
    w.ok("Ana", "/balance").await;
    w.ok("Ben", "/balance").await;
    let opened = w.ok("Ana", "/propose Paint the door").await;
    assert!(opened.contains("#1 "), "{opened}");
    let vote = w.msg("Ana", Some("$vote-1"));
    let first = w.say_as(vote.clone(), "/vote 1 yes").await;
    assert_eq!(first.tone, Tone::Ok, "{}", first.plain());
    w.ok("Ben", "/vote 1 no").await;
    let again = w.say_as(vote.clone(), "/vote 1 yes").await;
    assert_eq!(again.plain(), first.plain());
    w.core
        .close_due(&w.admin.tenant, Utc::now() + chrono::Duration::days(100))
        .await
        .unwrap();
    w.refused("Ben", "/vote 1 yes").await;
    let closed = w.say_as(vote, "/vote 1 yes").await;
    assert_eq!(closed.plain(), first.plain());
}

/// The same chat event delivered 50 times at once (a platform redelivering under load).
async fn storm_event(w: &World, who: &str, event: &str, text: &str) -> Vec<String> {
    futures::future::join_all((0..50).map(|_| w.say_as(w.msg(who, Some(event)), text)))
        .await
        .iter()
        .map(Reply::plain)
        .collect()
}

/// Every reply is `first`; otherwise the distinct replies, with how many got each.
fn all_alike(replies: &[String], first: &str, what: &str) {
    let mut distinct: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in replies {
        *distinct.entry(r.as_str()).or_default() += 1;
    }
    assert!(
        distinct.len() == 1 && distinct.contains_key(first),
        "{what}: the {} replies are not all {first:?}: {distinct:#?}",
        replies.len()
    );
}

/// A payment event stormed, then stormed again after the payer spent what was left: one
/// payment, and every reply is the receipt.
#[tokio::test]
async fn a_stormed_payment_event_pays_once_and_always_answers_the_receipt() {
    let w = world(true).await;
    w.fund("Ana", "20").await;
    w.ok("Ben", "/balance").await;
    let paid = storm_event(&w, "Ana", "$storm-pay", "/pay @ben 15 for tea").await;
    let receipt = paid
        .iter()
        .find(|r| r.contains("Paid 15.00 COIN to Ben"))
        .cloned()
        .unwrap_or_else(|| panic!("no reply says the payment was made: {paid:?}"));
    all_alike(&paid, &receipt, "the payment at once");
    assert!(w.ok("Ana", "/balance").await.contains("5.00 COIN"));
    // Ana spends the rest: the same payment sent fresh would now be refused.
    w.ok("Ana", "/pay @ben 5").await;
    let again = storm_event(&w, "Ana", "$storm-pay", "/pay @ben 15 for tea").await;
    all_alike(&again, &receipt, "the payment after the balance changed");
    assert!(w.ok("Ben", "/balance").await.contains("20.00 COIN"));
    let journal = w.core.history(&w.admin, None, None, 200).await.unwrap();
    assert_eq!(
        journal.len(),
        3,
        "the funding, the stormed payment once and Ana's rest"
    );
}

#[tokio::test]
async fn a_stormed_pledge_event_pledges_once() {
    let w = world(true).await;
    let pledged = storm_event(&w, "Ben", "$storm-pledge", "/pledge 3 for soup").await;
    all_alike(&pledged, &pledged[0], "the pledge at once");
    w.ok("Ana", "/pledge 2 for bread").await;
    let again = storm_event(&w, "Ben", "$storm-pledge", "/pledge 3 for soup").await;
    all_alike(&again, &pledged[0], "the pledge again");
    let pledges = w.core.pledges(&w.admin, None, 200).await.unwrap();
    assert_eq!(pledges.len(), 2, "Ben's pledge once and Ana's");
}

#[tokio::test]
async fn a_stormed_post_event_posts_once() {
    let w = world(true).await;
    let posted = storm_event(&w, "Ben", "$storm-post", "/post once in a storm").await;
    all_alike(&posted, &posted[0], "the post at once");
    w.ok("Ana", "/post another").await;
    let again = storm_event(&w, "Ben", "$storm-post", "/post once in a storm").await;
    all_alike(&again, &posted[0], "the post again");
    assert_eq!(
        w.core.feed(&w.admin, None, 10).await.map(|f| f.len()).ok(),
        Some(2),
        "Ben's post once and Ana's"
    );
}

/// The console side of the shared scenario.
struct ConsoleDriver {
    engine: Engine,
    room: String,
    /// The terminal's language (`LANG`), as the console's platform language.
    locale: Option<Lang>,
}

impl Driver for ConsoleDriver {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Console
    }

    fn user_id(&self, who: Person) -> String {
        format!("{who:?}").to_lowercase()
    }

    fn mention(&self, who: Person) -> String {
        format!("@{who:?}")
    }

    fn set_locale(&mut self, tag: &'static str) -> Result<(), String> {
        self.locale = Lang::from_tag(tag);
        Ok(())
    }

    fn say<'a>(&'a mut self, who: Person, text: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let session = ConsoleSession {
                room: self.room.clone(),
                name: format!("{who:?}"),
                locale: self.locale,
            };
            console::answer(&self.engine, &session, text)
                .await
                .map(|r| console::render(&r))
                .ok_or_else(|| format!("no answer to {text:?}"))
        })
    }
}

async fn console_scenario(slug: &str, lang: Lang) {
    let (pool, _) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool);
    let org = scenario::setup(&core, slug).await.unwrap();
    let engine = Engine::new(
        core.clone(),
        EngineConfig {
            platform: ChatPlatform::Console,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    let mut driver = ConsoleDriver {
        engine,
        room: "console-room-1".into(),
        locale: None,
    };
    scenario::run(&core, &org, &mut driver, lang).await.unwrap();
}

#[tokio::test]
async fn the_shared_scenario_on_the_console() {
    console_scenario("scenario-console", Lang::En).await;
}

/// People whose terminal says German read German (in an English-speaking org) until one of them
/// chooses English.
#[tokio::test]
async fn the_shared_scenario_on_the_console_in_german() {
    console_scenario("scenario-console-de", Lang::De).await;
}

/// Which language a person reads, and amounts both read and written in it: the platform's
/// language (German here), a choice of one's own over it, and the org's default under both.
#[tokio::test]
async fn people_read_and_write_their_language() {
    let w = world(true).await;
    w.fund("Ana", "2000").await;
    let ana_de = w.msg_in("Ana", Lang::De);
    // A German speaker writes a thousand with a dot and decimals with a comma.
    let paid = w
        .say_as(ana_de.clone(), "/pay @ben 1.234,50 für Werkzeug")
        .await;
    assert_eq!(paid.tone, Tone::Ok, "{}", paid.plain());
    assert!(
        paid.plain()
            .starts_with("1.234,50 COIN an ben gezahlt für Werkzeug."),
        "{}",
        paid.plain()
    );
    let balance = w.say_as(ana_de.clone(), "/balance").await.plain();
    assert!(
        balance.contains("dein Kontostand") && balance.contains("765,50 COIN"),
        "{balance}"
    );
    // The same words from an English speaker: "1.234" is one and a bit, too fine for COIN.
    let en = w.refused("Ana", "/pay @ben 1.234").await;
    assert!(en.starts_with("This currency has 2 decimal places"), "{en}");
    // A decimal comma is read the same by everyone.
    let comma = w.ok("Ana", "/pay @ben 1,5").await;
    assert!(comma.starts_with("Paid 1.50 COIN to ben."), "{comma}");
    // The help and the grammar's mistakes speak German too.
    let help = w.say_as(ana_de.clone(), "/help").await.plain();
    assert!(help.starts_with("Befehle"), "{help}");
    assert!(
        help.contains("/pay @wer 10 [WÄHRUNG] [für Notiz]"),
        "{help}"
    );
    let mistake = w.say_as(ana_de.clone(), "/pay ben 5").await;
    assert_eq!(mistake.tone, Tone::Error);
    assert!(
        mistake.plain().contains("Schreib es so: /pay @wer"),
        "{}",
        mistake.plain()
    );
    // Her own choice wins over her platform's, until she gives it up.
    let chose = w.say_as(ana_de.clone(), "/language en").await.plain();
    assert_eq!(chose, "From now on I answer you in English.");
    assert!(
        w.say_as(ana_de.clone(), "/balance")
            .await
            .plain()
            .contains("764.00 COIN"),
        "English, though her platform says German"
    );
    let auto = w.say_as(ana_de.clone(), "/language auto").await.plain();
    assert!(auto.ends_with("Im Moment ist das Deutsch."), "{auto}");
    let asked = w.say_as(ana_de.clone(), "/language").await.plain();
    assert!(
        asked.starts_with("Ich antworte dir auf Deutsch, wie deine App"),
        "{asked}"
    );
    assert!(asked.contains("/language auto"), "{asked}");
    let bad = w.say_as(ana_de, "/language fr").await;
    assert_eq!(bad.tone, Tone::Error);
    assert!(
        bad.plain().contains("/language [de|en|auto]"),
        "{}",
        bad.plain()
    );
    // Under both, the org's language: an admin makes it German.
    assert!(w.ok("Ben", "/balance").await.contains("1,236.00 COIN"));
    w.core.set_org_language(&w.admin, Lang::De).await.unwrap();
    let ben = w.ok("Ben", "/balance").await;
    assert!(ben.contains("1.236,00 COIN"), "{ben}");
    assert_eq!(
        w.ok("Ben", "/language").await.lines().next(),
        Some("Ich antworte dir auf Deutsch, in der Sprache der Gemeinschaft.")
    );
}

/// A sink that records what it sends, and can be told to be rate-limited first.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String, String)>>,
    limit_first: Mutex<u32>,
    /// Sends to rooms fail (the platform is down for them).
    rooms_down: Mutex<bool>,
}

impl Sink for Recorder {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Console
    }

    fn send<'a>(
        &'a self,
        target: &'a ChatTarget,
        reply: &'a Reply,
        txn_id: &'a str,
    ) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(async move {
            if let Ok(mut n) = self.limit_first.lock()
                && *n > 0
            {
                *n -= 1;
                return Err(SinkError::RateLimited(Duration::from_millis(20)));
            }
            if matches!(target, ChatTarget::Room { .. })
                && self.rooms_down.lock().map(|d| *d).unwrap_or(false)
            {
                return Err(SinkError::Failed("rooms are down".into()));
            }
            if let Ok(mut sent) = self.sent.lock() {
                sent.push((target.key(), reply.plain(), txn_id.to_owned()));
            }
            Ok(match target {
                ChatTarget::Direct {
                    dm_room_id: None,
                    platform_user_id,
                    ..
                } => Sent::DirectRoom(format!("dm-{platform_user_id}")),
                _ => Sent::Delivered,
            })
        })
    }
}

#[tokio::test]
async fn outbox_events_reach_rooms_and_people_once() {
    let w = world(true).await;
    w.fund("Ana", "20").await;
    w.ok("Ana", "/pay @ben 2 for cake").await;
    w.ok("Ana", "/propose Longer opening hours").await;
    let recorder = Arc::new(Recorder::default());
    if let Ok(mut n) = recorder.limit_first.lock() {
        *n = 2;
    }
    let sinks: Vec<Arc<dyn Sink>> = vec![recorder.clone()];
    let round = delivery::deliver_once(&w.core, &sinks).await.unwrap();
    assert_eq!(round.failed, 0, "{round:?}");
    let again = delivery::deliver_once(&w.core, &sinks).await.unwrap();
    assert_eq!(again.sent, 0, "nothing is sent twice: {again:?}");
    let sent = recorder.sent.lock().map(|s| s.clone()).unwrap_or_default();
    let to_ben: Vec<_> = sent.iter().filter(|(t, _, _)| t == "dm:ben").collect();
    assert_eq!(to_ben.len(), 1, "{sent:?}");
    assert!(
        to_ben[0]
            .1
            .contains("Ana paid you 2.00 COIN for cake in Test Commons"),
        "{sent:?}"
    );
    let in_room: Vec<_> = sent
        .iter()
        .filter(|(t, _, _)| *t == format!("room:{}", w.room))
        .collect();
    assert!(
        in_room
            .iter()
            .any(|(_, text, _)| text.contains("New proposal in Test Commons")
                && text.contains("Longer opening hours")),
        "{sent:?}"
    );
    let txns: std::collections::HashSet<_> = sent.iter().map(|(_, _, t)| t.clone()).collect();
    assert_eq!(
        txns.len(),
        sent.len(),
        "transaction ids are distinct per event and target"
    );
    let ben = ChatIdentity::new(ChatPlatform::Console, "ben").unwrap();
    let targets = w
        .core
        .chat_targets(
            w.admin.tenant.id,
            ChatPlatform::Console,
            false,
            &[w.user("Ben").await.id],
        )
        .await
        .unwrap();
    assert_eq!(
        targets,
        vec![ChatTarget::Direct {
            user: w.user("Ben").await.id,
            platform_user_id: ben.platform_user_id,
            dm_room_id: Some("dm-ben".into()),
        }],
        "the direct-message room is remembered"
    );
    assert!(
        w.core
            .outbox_pending(&w.admin.tenant, 100)
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// Notices to a room are in the org's language; to a person, in their own choice.
#[tokio::test]
async fn outbox_notices_speak_each_readers_language() {
    let w = world(true).await;
    w.fund("Ana", "2000").await;
    // Ben has been seen and chooses German; Ana has no choice of her own.
    w.ok("Ben", "/balance").await;
    w.say("Ben", "/language de").await;
    w.ok("Ana", "/pay @ben 1234 for a bike").await;
    w.ok("Ben", "/pay @ana 1,5").await;
    w.ok("Ana", "/propose Longer opening hours").await;
    let recorder = Arc::new(Recorder::default());
    let sinks: Vec<Arc<dyn Sink>> = vec![recorder.clone()];
    delivery::deliver_once(&w.core, &sinks).await.unwrap();
    let sent = recorder.sent.lock().map(|s| s.clone()).unwrap_or_default();
    let to = |target: &str| -> Vec<String> {
        sent.iter()
            .filter(|(t, _, _)| t == target)
            .map(|(_, text, _)| text.clone())
            .collect()
    };
    let ben = to("dm:ben");
    assert!(
        ben.iter()
            .any(|t| t.starts_with("Ana hat dir 1.234,00 COIN für a bike in Test Commons gezahlt.")),
        "{sent:?}"
    );
    let ana = to("dm:ana");
    assert!(
        ana.iter()
            .any(|t| t.starts_with("Ben paid you 1.50 COIN in Test Commons.")),
        "{sent:?}"
    );
    let room = to(&format!("room:{}", w.room));
    assert!(
        room.iter()
            .any(|t| t.starts_with("New proposal in Test Commons: #")
                && t.contains("\nVote: /vote ")),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_failed_send_backs_off_and_never_repeats_the_targets_already_reached() {
    let w = world(true).await;
    w.fund("Ana", "20").await;
    w.ok("Ana", "/propose Longer opening hours").await;
    let recorder = Arc::new(Recorder::default());
    if let Ok(mut down) = recorder.rooms_down.lock() {
        *down = true;
    }
    let sinks: Vec<Arc<dyn Sink>> = vec![recorder.clone()];
    let first = delivery::deliver_once(&w.core, &sinks).await.unwrap();
    assert!(first.failed >= 1, "{first:?}");
    let pending = |w: &World| {
        let (core, tenant) = (w.core.clone(), w.admin.tenant.clone());
        async move {
            core.outbox_pending(&tenant, 100)
                .await
                .unwrap_or_default()
                .len()
        }
    };
    let waiting = pending(&w).await;
    assert!(waiting >= 1, "the event is still owed to the room");
    // Tried again at once: the event is backing off, so nothing is sent or failed.
    let again = delivery::deliver_once(&w.core, &sinks).await.unwrap();
    assert_eq!((again.sent, again.failed), (0, 0), "{again:?}");
    // Once due again and the rooms are back, only the room gets it (nobody twice).
    if let Ok(mut down) = recorder.rooms_down.lock() {
        *down = false;
    }
    let sent_before = recorder.sent.lock().map(|s| s.len()).unwrap_or_default();
    let tenant = w.admin.tenant.clone();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {}.outbox SET next_attempt_at = now() - interval '1 second'",
        tenant.schema()
    )))
    .execute(&w.core.pool)
    .await
    .unwrap();
    let later = delivery::deliver_once(&w.core, &sinks).await.unwrap();
    assert_eq!(later.failed, 0, "{later:?}");
    let sent = recorder.sent.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        sent[sent_before..]
            .iter()
            .all(|(t, _, _)| t.starts_with("room:")),
        "only the room was still owed: {sent:?}"
    );
    assert_eq!(pending(&w).await, 0);
}

/// Issue 14: a newcomer gets the org's joining grant with their first answer, once; `/help`
/// says how newcomers get money; paying someone new admits them with the grant too.
#[tokio::test]
async fn newcomers_get_the_joining_grant_once_and_help_says_how() {
    let w = world(true).await;
    w.fund("Ana", "10").await;
    let help = w.ok("Ana", "/help").await;
    assert!(
        help.contains("How newcomers get money: ask an admin of Test Commons."),
        "{help}"
    );
    let grant = w
        .core
        .set_joining_grant(&w.admin, "20")
        .await
        .unwrap()
        .expect("a grant is set");
    assert_eq!(grant.decimal(), "20.00");
    let help = w.ok("Ana", "/help").await;
    assert!(
        help.contains("everyone who joins Test Commons gets 20.00 COIN once"),
        "{help}"
    );
    // Ana joined before: nothing for her.
    assert!(w.ok("Ana", "/balance").await.contains("10.00 COIN"));

    let first = w.ok("Dan", "/balance").await;
    assert!(
        first.starts_with("Welcome to Test Commons! You got 20.00 COIN to get started."),
        "{first}"
    );
    assert!(first.contains("20.00 COIN"), "{first}");
    let second = w.ok("Dan", "/balance").await;
    assert!(!second.contains("Welcome"), "{second}");
    assert!(second.contains("20.00 COIN"), "{second}");
    // The newcomer's first payment works.
    assert!(
        w.ok("Dan", "/pay @ana 5")
            .await
            .starts_with("Paid 5.00 COIN to Ana.")
    );

    // Paid by mention before ever speaking: admitted with the grant, in the payment's transaction.
    w.ok("Ana", "/pay @eve 1").await;
    let eve = w.ok("Eve", "/balance").await;
    assert!(
        eve.contains("21.00 COIN") && !eve.contains("Welcome"),
        "{eve}"
    );

    assert!(
        w.core
            .set_joining_grant(&w.admin, "0")
            .await
            .unwrap()
            .is_none()
    );
    let fay = w.ok("Fay", "/balance").await;
    assert!(
        !fay.contains("Welcome") && fay.contains("0.00 COIN"),
        "{fay}"
    );
    let checks = w.core.verify_ledger(&w.admin).await.unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

/// Issue 14: a refused payment to someone new changes nothing, not even who is a member.
#[tokio::test]
async fn a_refused_payment_to_someone_new_admits_nobody() {
    let w = world(true).await;
    w.fund("Ana", "5").await;
    let members = w.core.members(&w.admin).await.unwrap().len();
    let before = w.ledger().await;
    let refused = w.refused("Ana", "/pay @zoe 50").await;
    assert!(refused.contains("not enough"), "{refused}");
    let negative = w.refused("Ana", "/pay @zoe -3").await;
    assert!(negative.contains("greater than zero"), "{negative}");
    assert_eq!(w.core.members(&w.admin).await.unwrap().len(), members);
    assert_eq!(w.ledger().await, before);
    let zoe = ChatIdentity::new(ChatPlatform::Console, "zoe").unwrap();
    let known = w
        .core
        .chat_context(ChatPlatform::Console, &w.room, &zoe.platform_user_id)
        .await
        .unwrap();
    assert!(known.user.is_none(), "no user was made for Zoe");
}

/// A Matrix engine on the console's org: rooms and people as Matrix names them.
async fn matrix_world() -> (World, Engine, String) {
    let w = world(true).await;
    let room = "!commons:hs".to_owned();
    w.core
        .bind_room(ChatPlatform::Matrix, &room, &w.admin.tenant)
        .await
        .unwrap();
    let engine = Engine::new(
        w.core.clone(),
        EngineConfig {
            platform: ChatPlatform::Matrix,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    (w, engine, room)
}

async fn matrix_say(engine: &Engine, room: &str, sender: &str, name: &str, text: &str) -> Reply {
    let msg = Incoming {
        room: room.to_owned(),
        sender: sender.to_owned(),
        sender_name: name.to_owned(),
        event_id: Some(format!("$ev{:016x}", rand::random::<u64>())),
        direct: false,
        locale: None,
    };
    engine
        .handle_text(&msg, text)
        .await
        .unwrap_or_else(|| panic!("{text:?} got no answer"))
}

/// Issue 14: `!pay @ben 1` finds the one member called ben (by display name or the local part
/// of their Matrix id), asks which one when several match, and says when nobody does.
#[tokio::test]
async fn short_names_find_the_one_member_or_ask_which() {
    let (w, engine, room) = matrix_world().await;
    let say = |sender: &'static str, name: &'static str, text: &'static str| {
        let (engine, room) = (engine.clone(), room.clone());
        async move { matrix_say(&engine, &room, sender, name, text).await }
    };
    for (id, name) in [
        ("@ana:hs", "Ana"),
        ("@ben:a.org", "Ben A"),
        ("@ben:b.org", "Ben B"),
        ("@cleo:hs", "Cleopatra"),
    ] {
        let r = say(id, name, "!balance").await;
        assert_eq!(r.tone, Tone::Ok, "{}", r.plain());
    }
    let ana = w
        .core
        .chat_user(
            &ChatIdentity::new(ChatPlatform::Matrix, "@ana:hs").unwrap(),
            "Ana",
        )
        .await
        .unwrap();
    w.core
        .issue(
            &w.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(ana.id),
                amount: "10".into(),
                memo: String::new(),
            },
            IdempotencyKey::scoped("test", "fund", "short-names").unwrap(),
        )
        .await
        .unwrap();
    // Unique by local part, and by display name (any case).
    let paid = say("@ana:hs", "Ana", "!pay @cleo 1").await;
    assert_eq!(paid.tone, Tone::Ok, "{}", paid.plain());
    assert!(
        paid.plain().contains("Paid 1.00 COIN to Cleopatra."),
        "{}",
        paid.plain()
    );
    let paid = say("@ana:hs", "Ana", "!pay @CLEOPATRA 1").await;
    assert_eq!(paid.tone, Tone::Ok, "{}", paid.plain());
    // Two Bens: asked which, nothing paid.
    let which = say("@ana:hs", "Ana", "!pay @ben 1").await;
    assert_eq!(which.tone, Tone::Error);
    assert!(
        which
            .plain()
            .contains("Which ben do you mean: @ben:a.org | @ben:b.org?"),
        "{}",
        which.plain()
    );
    let nobody = say("@ana:hs", "Ana", "!pay @dan 1").await;
    assert_eq!(nobody.tone, Tone::Error);
    assert!(
        nobody.plain().contains("Nobody called dan is here."),
        "{}",
        nobody.plain()
    );
    // The full id still works for either Ben.
    let paid = say("@ana:hs", "Ana", "!pay @ben:b.org 1").await;
    assert!(
        paid.plain().contains("Paid 1.00 COIN to Ben B."),
        "{}",
        paid.plain()
    );
    let checks = w.core.verify_ledger(&w.admin).await.unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

/// Issue 14: someone paid by mention carries their raw id as a name until they speak; then
/// their name is what their platform says.
#[tokio::test]
async fn a_name_follows_the_platform_once_the_person_speaks() {
    let (w, engine, room) = matrix_world().await;
    let r = matrix_say(&engine, &room, "@ana:hs", "Ana", "!balance").await;
    assert_eq!(r.tone, Tone::Ok, "{}", r.plain());
    let ana = w
        .core
        .chat_user(
            &ChatIdentity::new(ChatPlatform::Matrix, "@ana:hs").unwrap(),
            "Ana",
        )
        .await
        .unwrap();
    w.core
        .issue(
            &w.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(ana.id),
                amount: "10".into(),
                memo: String::new(),
            },
            IdempotencyKey::scoped("test", "fund", "names").unwrap(),
        )
        .await
        .unwrap();
    let paid = matrix_say(&engine, &room, "@ana:hs", "Ana", "!pay @ben:hs 2").await;
    assert!(
        paid.plain().contains("Paid 2.00 COIN to @ben:hs."),
        "{}",
        paid.plain()
    );
    let names = |w: &World| {
        let core = w.core.clone();
        let admin = w.admin.clone();
        async move {
            core.members(&admin)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.display_name)
                .collect::<Vec<_>>()
        }
    };
    assert!(names(&w).await.contains(&"@ben:hs".to_owned()));
    let r = matrix_say(&engine, &room, "@ben:hs", "Ben Brown", "!balance").await;
    assert_eq!(r.tone, Tone::Ok, "{}", r.plain());
    let now = names(&w).await;
    assert!(now.contains(&"Ben Brown".to_owned()), "{now:?}");
    assert!(!now.contains(&"@ben:hs".to_owned()), "{now:?}");
}

/// Issue 14: a payment made outside chat (the API's path, by someone with no chat identity)
/// reaches the payee's chat identity as a receipt.
#[tokio::test]
async fn a_payment_made_through_the_api_reaches_the_payees_chat() {
    let w = world(true).await;
    w.ok("Cleo", "/balance").await;
    let cleo = w.user("Cleo").await;
    w.core
        .issue(
            &w.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(w.admin.user.id),
                amount: "10".into(),
                memo: String::new(),
            },
            IdempotencyKey::scoped("test", "fund", "api").unwrap(),
        )
        .await
        .unwrap();
    w.core
        .pay(
            &w.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(cleo.id),
                amount: "3".into(),
                memo: "tea".into(),
            },
            IdempotencyKey::scoped("api", "test", "pay-cleo").unwrap(),
        )
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let sinks: Vec<Arc<dyn Sink>> = vec![recorder.clone()];
    let round = delivery::deliver_once(&w.core, &sinks).await.unwrap();
    assert_eq!(round.failed, 0, "{round:?}");
    let sent = recorder.sent.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        sent.iter().any(|(target, text, _)| target == "dm:cleo"
            && text.contains("paid you 3.00 COIN for tea in Test Commons")),
        "{sent:?}"
    );
}

/// Issue 14: the "not connected" answer shows its commands as code, with no literal backticks.
#[tokio::test]
async fn the_not_connected_answer_renders_code_without_backticks() {
    let w = world(true).await;
    let msg = Incoming {
        room: "nowhere".into(),
        ..w.msg("Ana", None)
    };
    let reply = w.say_as(msg, "/balance").await;
    let html = reply.html(false);
    assert!(!html.contains('`'), "{html}");
    assert!(
        html.contains("<code>coinsence org connect-code &lt;org&gt;</code>"),
        "{html}"
    );
}

/// Without a payment provider `/topup` says top-ups are off (issue 16); a bad amount is a
/// parse mistake. Both are one sentence and change nothing.
#[tokio::test]
async fn topup_without_stripe_says_top_ups_are_off() {
    let w = world(true).await;
    let off = w.refused("Ana", "/topup 20").await;
    assert!(off.contains("Top-ups are off"), "{off}");
    let bad = w.refused("Ana", "/topup twenty").await;
    assert!(bad.contains("/topup 20"), "{bad}");
}

/// `/cashout` is for treasurers (issue 16): a member is told so, a bad amount is a parse
/// mistake, and the German words work the same. Nothing changes.
#[tokio::test]
async fn cashout_is_for_treasurers_and_says_how() {
    let w = world(true).await;
    let member = w.refused("Ana", "/cashout 30").await;
    assert!(member.contains("treasurers"), "{member}");
    let bad = w.refused("Ana", "/cashout thirty").await;
    assert!(bad.contains("/cashout 30"), "{bad}");
    let approve = w.refused("Ana", "/auszahlen freigeben 7").await;
    assert!(approve.contains("treasurers"), "{approve}");
}

/// Lists `code` of the admin's org on the exchange: the admin, its only voter, votes it through.
async fn list_on_exchange(core: &Core, admin: &Member, code: &str) {
    let proposal = core
        .propose(
            admin,
            NewProposal {
                title: format!("trade {code}"),
                description: String::new(),
                closes_at: None,
                action: ActionRequest::ListOnExchange {
                    currency: code.into(),
                    trustline: "1000".into(),
                    max_out_per_round: "500".into(),
                },
            },
            None,
        )
        .await
        .unwrap();
    let voted = core
        .vote(
            admin,
            proposal.id,
            coinsence_api::domain::governance::tally::Choice::Yes,
        )
        .await
        .unwrap();
    assert_eq!(voted.status.to_string(), "passed");
}

#[tokio::test]
async fn exchange_orders_from_chat() {
    let w = world(true).await;
    // Listed while the admin is the only voter; Ada joins after.
    list_on_exchange(&w.core, &w.admin, "COIN").await;
    w.fund("Ada", "50").await;
    let slug = format!("eng-b-{:08x}", rand::random::<u32>());
    let other = coinsence_api::testing::org_with_coin(&w.core, &slug, "Bike Commons", true)
        .await
        .admin;
    w.core
        .create_currency(
            &other,
            coinsence_api::domain::ledger::ops::NewCurrency {
                code: "BIKE".into(),
                name: "Bike hours".into(),
                scale: 1,
                credit_limit: None,
            },
        )
        .await
        .unwrap();
    list_on_exchange(&w.core, &other, "BIKE").await;

    let placed = w.ok("Ada", "/exchange 10 COIN for BIKE at 0.8").await;
    assert!(
        placed.contains("Order #1") && placed.contains("0.8 BIKE"),
        "{placed}"
    );
    let orders = w.ok("Ada", "/orders").await;
    assert!(orders.contains("#1") && orders.contains("open"), "{orders}");
    let quote = w.ok("Ada", "/quote COIN BIKE").await;
    assert!(quote.contains("nothing would trade"), "{quote}");
    // Mistakes: one sentence each, nothing escrowed.
    let before = w.ledger().await;
    for bad in [
        "/exchange 10 COIN for COIN at 1",
        "/exchange 10 COIN for XYZ at 1",
        "/exchange 0 COIN for BIKE at 1",
        "/exchange 10 COIN for BIKE at 0",
        "/exchange 1000 COIN for BIKE at 1",
        "/exchange 10 COIN BIKE 1",
        "/cancel 99",
    ] {
        w.refused("Ada", bad).await;
    }
    assert_eq!(w.ledger().await, before);
    let cancelled = w.ok("Ada", "/cancel 1").await;
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    let twice = w.refused("Ada", "/cancel 1").await;
    assert!(twice.contains("no longer open"), "{twice}");
}

/// Issue 20: `/verify` runs the member's check of the published history: nothing before the
/// first seal, "checks out" with the member's entries counted after it, and a journal row
/// rewritten behind the append-only trigger is named as a contradiction.
#[tokio::test]
async fn verify_checks_the_published_history_for_the_member() {
    let w = world(true).await;
    w.fund("Ana", "10").await;
    assert!(
        w.ok("Ana", "/verify")
            .await
            .contains("Nothing of Test Commons is sealed yet"),
    );
    assert!(
        w.ok("Ana", "/pay @ben 2")
            .await
            .starts_with("Paid 2.00 COIN")
    );
    w.core
        .seal_journal(&w.admin.tenant, Utc::now())
        .await
        .unwrap()
        .expect("a seal");
    let ok = w.ok("Ana", "/verify").await;
    assert!(
        ok.contains("The published history of Test Commons checks out")
            && ok.contains("all 2 of your entries are in the latest")
            && ok.contains("coinsence audit verify --url http://127.0.0.1:8080 --org eng-"),
        "{ok}"
    );
    let de = w.ok("Ana", "/prüfen").await;
    assert!(de.contains("checks out"), "the command's German name: {de}");

    let schema = w.admin.tenant.schema();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {schema}.transfers DISABLE TRIGGER transfers_append_only;
         UPDATE {schema}.transfers SET amount = amount + 1
          WHERE id = (SELECT max(transfer_id) FROM {schema}.merkle_leaves);
         ALTER TABLE {schema}.transfers ENABLE TRIGGER transfers_append_only;"
    )))
    .execute(&w.core.pool)
    .await
    .unwrap();
    let bad = w.refused("Ana", "/verify").await;
    assert!(
        bad.contains("The published history of Test Commons does not check out"),
        "{bad}"
    );
}

/// Witnesses (issue 20): the line the worker posts to the room, copied back into
/// `coinsence audit verify --witness`, checks out. An operator who then rewrites a sealed payment
/// and re-signs the whole history with the org's key passes every signature and proof, but not
/// the room's line: the check names the head it contradicts. Rooms hear one line an hour at most.
#[tokio::test]
async fn a_witness_line_from_the_room_catches_a_history_rewritten_and_re_signed() {
    use coinsence_api::domain::identity::Role;
    use coinsence_api::domain::ledger::transparency::{
        self, CoreSource, Evidence, HeadProblem, parse_witnesses,
    };

    let w = world(true).await;
    w.fund("Ana", "20").await;
    w.ok("Ana", "/pay @ben 2 for cake").await;
    let tenant = w.admin.tenant.clone();
    let now = Utc::now();
    let hour = chrono::Duration::hours(1);
    w.core.seal_journal(&tenant, now).await.unwrap();
    let head = w
        .core
        .witness_tree_head(&tenant, now, hour)
        .await
        .unwrap()
        .expect("the first head is posted");

    let recorder = Arc::new(Recorder::default());
    let sinks: Vec<Arc<dyn Sink>> = vec![recorder.clone()];
    delivery::deliver_once(&w.core, &sinks).await.unwrap();
    let sent = recorder.sent.lock().map(|s| s.clone()).unwrap_or_default();
    let room = format!("room:{}", w.room);
    let lines: Vec<&String> = sent
        .iter()
        .filter(|(t, text, _)| *t == room && text.contains("Signed history"))
        .map(|(_, text, _)| text)
        .collect();
    assert_eq!(lines.len(), 1, "{sent:?}");
    let witnesses = parse_witnesses(lines[0]);
    assert_eq!(witnesses.len(), 1, "{}", lines[0]);
    assert_eq!(witnesses[0].tree_size, head.tree_size);
    assert!(witnesses[0].matches(&head.root.0), "{}", lines[0]);

    let ana = coinsence_api::testing::member(tenant.clone(), w.user("Ana").await, Role::Member);
    let src = CoreSource {
        core: &w.core,
        member: &ana,
    };
    let before = transparency::check(&src, None, None, &witnesses)
        .await
        .unwrap();
    assert!(before.ok(), "{before:?}");
    assert_eq!(before.witnesses, 1);

    // The operator rewrites the payment and re-signs the history from scratch.
    let schema = tenant.schema();
    for sql in [
        format!("ALTER TABLE {schema}.transfers DISABLE TRIGGER transfers_append_only"),
        format!("UPDATE {schema}.transfers SET amount = amount * 10 WHERE kind = 'payment'"),
        format!("ALTER TABLE {schema}.transfers ENABLE TRIGGER transfers_append_only"),
        format!(
            "TRUNCATE {schema}.tree_heads, {schema}.merkle_nodes, {schema}.merkle_leaves, \
             {schema}.journal_seals"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&w.core.pool)
            .await
            .unwrap();
    }
    w.core.seal_journal(&tenant, now).await.unwrap();
    let without = transparency::check(&src, None, None, &[]).await.unwrap();
    assert!(without.ok(), "re-signed, it checks out alone: {without:?}");
    let with = transparency::check(&src, None, None, &witnesses)
        .await
        .unwrap();
    let bad = with.first_bad.expect("the witness contradicts it");
    assert_eq!(bad.tree_size, head.tree_size);
    assert_eq!(
        bad.reason,
        HeadProblem::RootDiffers {
            from: Evidence::Witness
        }
    );

    // A seal ten minutes later: no second line within the hour; after it, the latest head.
    w.ok("Ana", "/pay @ben 1").await;
    let later = now + chrono::Duration::minutes(10);
    w.core.seal_journal(&tenant, later).await.unwrap();
    assert_eq!(
        w.core
            .witness_tree_head(&tenant, later, hour)
            .await
            .unwrap(),
        None
    );
    let posted = w
        .core
        .witness_tree_head(&tenant, now + chrono::Duration::minutes(61), hour)
        .await
        .unwrap()
        .expect("posted after the hour");
    assert_eq!(posted.tree_size, head.tree_size + 1);
    assert_eq!(
        w.core
            .witness_tree_head(&tenant, now + chrono::Duration::hours(3), hour)
            .await
            .unwrap(),
        None,
        "a head is posted once"
    );
}
