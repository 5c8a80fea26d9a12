//! The grammar as a table: each input and the `Command` it gives, or the start of the sentence
//! that says what is wrong; and a property test that no input makes the parser panic.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::i18n::Lang;
use coinsence_bots::command::{AmountText, Command, Dialect, LanguageChoice, Mention, Verb, parse};
use proptest::prelude::*;

fn amount(text: &str) -> AmountText {
    AmountText::parse(text).unwrap_or_else(|| panic!("{text} is an amount"))
}

fn console_mention(name: &str) -> Mention {
    Mention {
        id: name.to_lowercase(),
        display: name.to_owned(),
    }
}

fn pay(to: Mention, a: &str, currency: Option<&str>, memo: &str) -> Command {
    Command::Pay {
        to,
        amount: amount(a),
        currency: currency.map(str::to_owned),
        memo: memo.to_owned(),
    }
}

enum Want {
    Cmd(Command),
    /// Not a command: the bot stays quiet.
    Quiet,
    /// A parse error whose sentence contains this text.
    Err(&'static str),
}

fn check(dialect: &Dialect, cases: Vec<(&str, Want)>) {
    for (input, want) in cases {
        let got = parse(input, dialect);
        match (want, got) {
            (Want::Cmd(c), Ok(Some(g))) => assert_eq!(g, c, "{input:?}"),
            (Want::Quiet, Ok(None)) => {}
            (Want::Err(text), Err(e)) => {
                assert!(e.to_string().contains(text), "{input:?}: {e}");
                assert!(
                    e.to_string().contains(&e.verb.spec().usage(Lang::En)),
                    "{input:?}: {e}"
                );
            }
            (_, got) => panic!("{input:?} gave {got:?}"),
        }
    }
}

#[test]
fn console_table() {
    let d = Dialect::new(ChatPlatform::Console);
    check(
        &d,
        vec![
            (
                "/pay @Ben 10",
                Want::Cmd(pay(console_mention("Ben"), "10", None, "")),
            ),
            (
                "!pay @ben 10.5 DEMO",
                Want::Cmd(pay(console_mention("ben"), "10.5", Some("DEMO"), "")),
            ),
            (
                "/PAY @ben 3 demo for lunch at Mo's",
                Want::Cmd(pay(
                    console_mention("ben"),
                    "3",
                    Some("DEMO"),
                    "lunch at Mo's",
                )),
            ),
            (
                "/pay @ben 3 for lunch",
                Want::Cmd(pay(console_mention("ben"), "3", None, "lunch")),
            ),
            (
                r#"/pay @ben 3 "rent, March""#,
                Want::Cmd(pay(console_mention("ben"), "3", None, "rent, March")),
            ),
            (
                "/pay 7 @ben",
                Want::Cmd(pay(console_mention("ben"), "7", None, "")),
            ),
            (
                "/send @ben .5",
                Want::Cmd(pay(console_mention("ben"), ".5", None, "")),
            ),
            ("/pay @ben", Want::Err("whom to pay and how much")),
            ("/pay ben 5", Want::Err("Say whom to pay")),
            ("/pay @ben five", Want::Err("Say how much")),
            ("/pay @ben 0", Want::Err("Say how much")),
            // A negative amount is read, so the engine can say amounts must be positive.
            (
                "/pay @ben -5",
                Want::Cmd(pay(console_mention("ben"), "-5", None, "")),
            ),
            ("/pay @ben 5 lunch money", Want::Err("after \"for\"")),
            ("/balance", Want::Cmd(Command::Balance)),
            ("/Balance", Want::Cmd(Command::Balance)),
            ("!bal", Want::Cmd(Command::Balance)),
            ("/balance now", Want::Err("takes nothing")),
            ("/history", Want::Cmd(Command::History)),
            (
                "/pledge 10 for 10 hours of bike repair",
                Want::Cmd(Command::Pledge {
                    amount: amount("10"),
                    currency: None,
                    work: "10 hours of bike repair".into(),
                }),
            ),
            (
                "/pledge 2.5 TIME for gardening",
                Want::Cmd(Command::Pledge {
                    amount: amount("2.5"),
                    currency: Some("TIME".into()),
                    work: "gardening".into(),
                }),
            ),
            ("/pledge 10", Want::Err("after \"for\"")),
            ("/pledge for nothing", Want::Err("Start with the amount")),
            (
                "/propose Buy a cargo bike",
                Want::Cmd(Command::Propose {
                    title: "Buy a cargo bike".into(),
                }),
            ),
            ("/propose", Want::Err("what should be decided")),
            (
                "/vote 3 yes",
                Want::Cmd(Command::Vote {
                    proposal: 3,
                    choice: Choice::Yes,
                }),
            ),
            (
                "/vote #3 BLOCK",
                Want::Cmd(Command::Vote {
                    proposal: 3,
                    choice: Choice::Block,
                }),
            ),
            (
                "/vote no 4",
                Want::Cmd(Command::Vote {
                    proposal: 4,
                    choice: Choice::No,
                }),
            ),
            (
                "/vote 4 abstain",
                Want::Cmd(Command::Vote {
                    proposal: 4,
                    choice: Choice::Abstain,
                }),
            ),
            ("/vote 4 maybe", Want::Err("yes, no, abstain or block")),
            ("/vote yes", Want::Err("number and yes")),
            ("/vote x y", Want::Err("proposal's number")),
            ("/proposals", Want::Cmd(Command::Proposals)),
            (
                "/post Hello, commons!",
                Want::Cmd(Command::Post {
                    body: "Hello, commons!".into(),
                }),
            ),
            ("/post", Want::Err("what to post")),
            (
                "/offer 5 for bike repair",
                Want::Cmd(Command::Offer {
                    price: amount("5"),
                    currency: None,
                    title: "bike repair".into(),
                }),
            ),
            (
                "/need 20 COIN for a ladder",
                Want::Cmd(Command::Need {
                    price: amount("20"),
                    currency: Some("COIN".into()),
                    title: "a ladder".into(),
                }),
            ),
            ("/market", Want::Cmd(Command::Market)),
            ("/buy 4", Want::Cmd(Command::Buy { listing: 4 })),
            (
                "/exchange 10 demo for BIKE at 0.8",
                Want::Cmd(Command::Exchange {
                    amount: amount("10"),
                    sell: "DEMO".into(),
                    buy: "BIKE".into(),
                    limit: amount("0.8"),
                }),
            ),
            (
                "/exchange 10 DEMO für BIKE zu 0,8",
                Want::Cmd(Command::Exchange {
                    amount: amount("10"),
                    sell: "DEMO".into(),
                    buy: "BIKE".into(),
                    limit: amount("0,8"),
                }),
            ),
            (
                "/exchange 10 DEMO BIKE 0.8",
                Want::Err("/exchange 10 COIN for BIKE at 0.8"),
            ),
            (
                "/exchange ten DEMO for BIKE at 0.8",
                Want::Err("/exchange 10 COIN for BIKE at 0.8"),
            ),
            ("/orders", Want::Cmd(Command::Orders)),
            ("/verify", Want::Cmd(Command::Verify)),
            ("/prüfen", Want::Cmd(Command::Verify)),
            ("/cancel #7", Want::Cmd(Command::Cancel { order: 7 })),
            ("/cancel it", Want::Err("order's number")),
            (
                "/quote demo BIKE",
                Want::Cmd(Command::Quote {
                    sell: "DEMO".into(),
                    buy: "BIKE".into(),
                }),
            ),
            ("/quote DEMO", Want::Err("two currencies")),
            ("/buy four", Want::Err("listing's number")),
            (
                "/invest 2 10",
                Want::Cmd(Command::Invest {
                    project: 2,
                    amount: amount("10"),
                }),
            ),
            ("/invest 2", Want::Err("project's number and how much")),
            (
                "/connect K7QX-M2PD-9WTR",
                Want::Cmd(Command::Connect {
                    code: "K7QX-M2PD-9WTR".into(),
                }),
            ),
            (
                "/connect k7qx m2pd 9wtr",
                Want::Cmd(Command::Connect {
                    code: "k7qxm2pd9wtr".into(),
                }),
            ),
            ("/connect", Want::Err("code an admin gave you")),
            ("/link", Want::Cmd(Command::Link)),
            ("/language", Want::Cmd(Command::Language { choice: None })),
            (
                "/language de",
                Want::Cmd(Command::Language {
                    choice: Some(LanguageChoice::Set(Lang::De)),
                }),
            ),
            (
                "/LANGUAGE EN",
                Want::Cmd(Command::Language {
                    choice: Some(LanguageChoice::Set(Lang::En)),
                }),
            ),
            (
                "/sprache de-AT",
                Want::Cmd(Command::Language {
                    choice: Some(LanguageChoice::Set(Lang::De)),
                }),
            ),
            (
                "/language auto",
                Want::Cmd(Command::Language {
                    choice: Some(LanguageChoice::Auto),
                }),
            ),
            ("/language fr", Want::Err("Say de or en")),
            ("/language de en", Want::Err("Say de or en")),
            // Amounts as any language writes them; the speaker's language reads them later.
            (
                "/pay @ben 1.234,50 für Werkzeug",
                Want::Cmd(pay(console_mention("ben"), "1.234,50", None, "Werkzeug")),
            ),
            (
                "/pay @ben 1,5",
                Want::Cmd(pay(console_mention("ben"), "1,5", None, "")),
            ),
            (
                "/help",
                Want::Cmd(Command::Help {
                    verb: None,
                    unknown: None,
                }),
            ),
            (
                "/help pay",
                Want::Cmd(Command::Help {
                    verb: Some(Verb::Pay),
                    unknown: None,
                }),
            ),
            (
                "/help /vote",
                Want::Cmd(Command::Help {
                    verb: Some(Verb::Vote),
                    unknown: None,
                }),
            ),
            (
                "/frobnicate 3",
                Want::Cmd(Command::Help {
                    verb: None,
                    unknown: Some("frobnicate".into()),
                }),
            ),
            ("hello everyone", Want::Quiet),
            ("", Want::Quiet),
            ("/", Want::Quiet),
            ("  !balance  ", Want::Cmd(Command::Balance)),
        ],
    );
}

#[test]
fn matrix_mentions() {
    let d = Dialect::new(ChatPlatform::Matrix);
    let ben = Mention {
        id: "@ben:example.org".into(),
        display: "@ben:example.org".into(),
    };
    check(
        &d,
        vec![
            (
                "!pay @ben:example.org 5 for tea",
                Want::Cmd(pay(ben.clone(), "5", None, "tea")),
            ),
            (
                "!pay @ben:localhost:8448 5",
                Want::Cmd(pay(
                    Mention {
                        id: "@ben:localhost:8448".into(),
                        display: "@ben:localhost:8448".into(),
                    },
                    "5",
                    None,
                    "",
                )),
            ),
            (
                "/pay 5 @ben:example.org",
                Want::Cmd(pay(ben, "5", None, "")),
            ),
            // A short name: the engine looks for the room's member it names.
            (
                "!pay @ben 5",
                Want::Cmd(pay(
                    Mention {
                        id: "ben".into(),
                        display: "@ben".into(),
                    },
                    "5",
                    None,
                    "",
                )),
            ),
            ("!pay @Ben:example.org 5", Want::Err("mention such as")),
        ],
    );
}

#[test]
fn discord_mentions() {
    let d = Dialect::new(ChatPlatform::Discord);
    let m = Mention {
        id: "80351110224678912".into(),
        display: "<@80351110224678912>".into(),
    };
    check(
        &d,
        vec![
            (
                "!pay <@80351110224678912> 5",
                Want::Cmd(pay(m.clone(), "5", None, "")),
            ),
            (
                "!pay <@!80351110224678912> 5",
                Want::Cmd(pay(m, "5", None, "")),
            ),
            ("!pay <@abc> 5", Want::Err("Say whom to pay")),
        ],
    );
}

#[test]
fn telegram_addressing() {
    let d = Dialect::new(ChatPlatform::Telegram).with_bot_name("@CoinsenceBot");
    check(
        &d,
        vec![
            ("/balance@coinsencebot", Want::Cmd(Command::Balance)),
            ("/balance@CoinsenceBot", Want::Cmd(Command::Balance)),
            ("/balance@OtherBot", Want::Quiet),
            (
                "/pay@CoinsenceBot @ben_k 5",
                Want::Cmd(pay(
                    Mention {
                        id: "ben_k".into(),
                        display: "ben_k".into(),
                    },
                    "5",
                    None,
                    "",
                )),
            ),
        ],
    );
}

/// Every command is in the help, in every language, with a usage line and summary of its own
/// (a verb without its catalog messages would show their ids).
#[test]
fn help_is_generated_from_the_grammar() {
    for lang in Lang::ALL {
        let reply = coinsence_bots::engine::help(lang, None, None).plain();
        for spec in coinsence_bots::command::VERBS {
            let (usage, summary) = (spec.usage(lang), spec.summary(lang));
            assert!(
                usage.starts_with(&format!("/{}", spec.name)),
                "{lang}: {usage}"
            );
            assert!(!summary.starts_with("chat-"), "{lang}: {summary}");
            assert!(reply.contains(&usage), "{lang}: {usage}");
            assert!(reply.contains(&summary), "{lang}: {summary}");
        }
    }
    let unknown = coinsence_bots::engine::help(Lang::En, None, Some("frob")).plain();
    assert!(unknown.starts_with("I don't know the command \"frob\""));
    let unknown = coinsence_bots::engine::help(Lang::De, None, Some("frob")).plain();
    assert!(
        unknown.starts_with("Den Befehl „frob“ kenne ich nicht"),
        "{unknown}"
    );
}

/// A mistake is told in the reader's language, with the usage in that language.
#[test]
fn mistakes_are_told_in_each_language() {
    let d = Dialect::new(ChatPlatform::Console);
    let Err(e) = parse("/pay ben 5", &d) else {
        panic!("a payment without a mention parsed");
    };
    assert_eq!(
        e.sentence(Lang::En),
        "Say whom to pay with a mention such as @ben. Write it as: /pay @who 10 [CUR] [for memo]"
    );
    assert_eq!(
        e.sentence(Lang::De),
        "Sag, wen du bezahlst, mit einer Erwähnung wie @ben. Schreib es so: /pay @wer 10 [WÄHRUNG] [für Notiz]"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_input_panics(line in any::<String>(), prefix in prop::sample::select(vec!["", "/", "!", "/pay ", "!vote ", "/pledge ", "/connect ", "/pay@bot "])) {
        for platform in [ChatPlatform::Console, ChatPlatform::Matrix, ChatPlatform::Discord, ChatPlatform::Telegram] {
            let d = Dialect::new(platform).with_bot_name("bot");
            let _ = parse(&format!("{prefix}{line}"), &d);
        }
    }

    #[test]
    fn command_like_inputs_never_panic(
        verb in prop::sample::select(coinsence_bots::command::VERBS.iter().map(|s| s.name).collect::<Vec<_>>()),
        args in prop::collection::vec("[@#!\"'“”a-zA-Z0-9.:_<>-]{0,12}", 0..6),
    ) {
        let line = format!("/{verb} {}", args.join(" "));
        for platform in [ChatPlatform::Console, ChatPlatform::Matrix, ChatPlatform::Discord] {
            if let Err(e) = parse(&line, &Dialect::new(platform)) {
                prop_assert!(!e.sentence(Lang::En).is_empty());
            }
        }
    }
}
