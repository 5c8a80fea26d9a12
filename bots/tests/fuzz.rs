//! The chat grammar fuzzed: no line of any kind makes the parser panic, what it accepts is
//! well-formed, and `/pay @who N CUR for memo` gives back exactly its parts on every platform.
//!
//! `COINSENCE_FUZZ_CASES` sets the number of inputs per property (default 20,000 for CI; a
//! dedicated run uses a million or more).

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::command::{AmountText, Command, Dialect, Mention, VERBS, parse};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("COINSENCE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

const PLATFORMS: [ChatPlatform; 4] = [
    ChatPlatform::Console,
    ChatPlatform::Matrix,
    ChatPlatform::Discord,
    ChatPlatform::Telegram,
];

fn dialects() -> Vec<Dialect> {
    PLATFORMS
        .iter()
        .map(|p| Dialect::new(*p).with_bot_name("coinbot"))
        .collect()
}

/// Pieces chat lines are made of: command words, mentions of every platform's form, numbers
/// (huge ones too), quotes, spaces of every kind, emoji, direction controls, any character.
fn piece() -> impl Strategy<Value = String> {
    let words: Vec<String> = VERBS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
        .flat_map(|w| [format!("/{w}"), format!("!{w}"), w.to_uppercase()])
        .collect();
    prop_oneof![
        3 => prop::sample::select(words),
        2 => "[0-9]{1,4}(\\.[0-9]{0,4})?",
        1 => "[0-9]{18,60}",
        1 => "#[0-9]{1,20}",
        2 => "@[a-zA-Z0-9_.-]{0,10}(:[a-z.]{0,8})?",
        1 => "<@!?[0-9]{0,22}>",
        1 => "/[a-z]{0,6}@[a-zA-Z]{0,8}",
        2 => prop::sample::select(vec![
            " ", "  ", "\t", "\n", "\u{a0}", "\u{3000}", "\u{2028}", "\"", "'", "“", "”", "for",
            "FOR", "yes", "no", "block", "👍", "👎", "\u{0}", "\u{202e}", "\u{200b}", "é", "文",
            ".", "-", "+", "@", "<@", ">", "/", "!",
        ])
        .prop_map(str::to_owned),
        2 => any::<String>(),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..12).prop_map(|v| v.concat())
}

/// A mention as typed on a platform, and what the parser must make of it.
fn mention(platform: ChatPlatform) -> BoxedStrategy<(String, Mention)> {
    match platform {
        ChatPlatform::Matrix => ("[a-z0-9._=/+-]{1,20}", "[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?")
            .prop_map(|(local, server)| {
                let token = format!("@{local}:{server}");
                let m = Mention {
                    id: token.clone(),
                    display: token.clone(),
                };
                (token, m)
            })
            .boxed(),
        ChatPlatform::Discord => ("[0-9]{1,20}", any::<bool>())
            .prop_map(|(id, bang)| {
                let token = format!("<@{}{id}>", if bang { "!" } else { "" });
                let m = Mention {
                    id: id.clone(),
                    display: format!("<@{id}>"),
                };
                (token, m)
            })
            .boxed(),
        ChatPlatform::Telegram | ChatPlatform::Console => "[a-zA-Z0-9_.éÉßЖж文-]{1,30}"
            .prop_map(|name| {
                let m = Mention {
                    id: name.to_lowercase(),
                    display: name.clone(),
                };
                (format!("@{name}"), m)
            })
            .boxed(),
    }
}

/// A positive amount as people type it: "10", "10.5", ".5", "007.50", "3.". Built with a
/// non-zero digit rather than filtered, so that a million cases reject none.
fn amount_text() -> impl Strategy<Value = String> {
    (
        "[0-9]{0,15}",
        1_u8..=9,
        prop::option::of("[0-9]{0,8}"),
        any::<bool>(),
    )
        .prop_map(
            |(whole, d, fraction, in_fraction)| match (fraction, in_fraction) {
                (Some(f), true) => format!("{whole}.{f}{d}"),
                (Some(f), false) => format!("{whole}{d}.{f}"),
                (None, _) => format!("{whole}{d}"),
            },
        )
}

fn currency() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        "[a-zA-Z]{2,8}".prop_filter("not the word for", |c| !c.eq_ignore_ascii_case("for")),
    )
}

/// Any memo text: words, unicode, quotes, inner line breaks and spaces around.
fn memo() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[a-zA-Z0-9 ,.'!?-]{0,12}",
            1 => prop::sample::select(vec![" ", "  ", "\n", "\t", "\"", "“", "for", "@ana", "5", "COIN", "é", "👍"])
                .prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..6,
    )
    .prop_map(|v| v.concat())
}

fn pay_word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/pay",
        "!pay",
        "/PAY",
        "/Pay",
        "/send",
        "!give",
        "/pay@coinbot",
        "/pay@CoinBot",
    ])
    .prop_map(str::to_owned)
}

fn platform() -> impl Strategy<Value = ChatPlatform> {
    prop::sample::select(PLATFORMS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn no_line_panics_and_what_parses_is_well_formed(line in line()) {
        for dialect in dialects() {
            match parse(&line, &dialect) {
                Err(e) => prop_assert!(!e.to_string().is_empty(), "{line:?}"),
                Ok(None) => {}
                Ok(Some(cmd)) => well_formed(&cmd).map_err(|m| {
                    TestCaseError::fail(format!("{m}: {line:?} gave {cmd:?}"))
                })?,
            }
        }
    }

    #[test]
    fn pay_gives_back_its_parts(
        (platform, (token, who)) in platform().prop_flat_map(|p| (Just(p), mention(p))),
        word in pay_word(),
        amount in amount_text(),
        currency in currency(),
        memo in memo(),
        amount_first in any::<bool>(),
        quoted in any::<bool>(),
    ) {
        let cur = currency.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
        let (first, second) = if amount_first { (&amount, &token) } else { (&token, &amount) };
        // A quoted memo cannot hold its closing quote; `for` takes the rest of the line as is.
        let quoted = quoted && !memo.contains('"');
        let tail = if quoted { format!(" \"{memo}\"") } else { format!(" for {memo}") };
        let line = format!("{word} {first} {second}{cur}{tail}");
        let dialect = Dialect::new(platform).with_bot_name("coinbot");
        let want = Command::Pay {
            to: who,
            amount: AmountText::parse(&amount).ok_or_else(|| TestCaseError::fail("amount"))?,
            currency: currency.map(|c| c.to_ascii_uppercase()),
            memo: memo.trim().to_owned(),
        };
        prop_assert_eq!(parse(&line, &dialect), Ok(Some(want)), "{:?}", line);
    }

    #[test]
    fn pay_without_a_memo_has_an_empty_one(
        (platform, (token, who)) in platform().prop_flat_map(|p| (Just(p), mention(p))),
        amount in amount_text(),
        currency in currency(),
    ) {
        let cur = currency.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
        let line = format!("/pay {token} {amount}{cur}");
        let want = Command::Pay {
            to: who,
            amount: AmountText::parse(&amount).ok_or_else(|| TestCaseError::fail("amount"))?,
            currency: currency.map(|c| c.to_ascii_uppercase()),
            memo: String::new(),
        };
        prop_assert_eq!(parse(&line, &Dialect::new(platform)), Ok(Some(want)), "{:?}", line);
    }
}

/// What any accepted command must look like, whatever the line was.
fn well_formed(cmd: &Command) -> Result<(), String> {
    let amount_ok = |a: &AmountText| AmountText::parse(a.as_str()).as_ref() == Some(a);
    let text_ok = |t: &str| t == t.trim();
    let currency_ok = |c: &Option<String>| {
        c.as_ref()
            .is_none_or(|c| (2..=8).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_uppercase()))
    };
    let ok = match cmd {
        Command::Pay {
            to,
            amount,
            currency,
            memo,
        } => !to.id.is_empty() && amount_ok(amount) && currency_ok(currency) && text_ok(memo),
        Command::Pledge {
            amount,
            currency,
            work: text,
        }
        | Command::Offer {
            price: amount,
            currency,
            title: text,
        }
        | Command::Need {
            price: amount,
            currency,
            title: text,
        } => amount_ok(amount) && currency_ok(currency) && text_ok(text) && !text.is_empty(),
        Command::Propose { title: text } | Command::Post { body: text } => {
            text_ok(text) && !text.is_empty()
        }
        Command::Vote { proposal, .. } => *proposal > 0,
        Command::Buy { listing: id }
        | Command::Invest { project: id, .. }
        | Command::Cancel { order: id } => *id > 0,
        Command::Exchange {
            amount,
            sell,
            buy,
            limit,
        } => {
            amount_ok(amount)
                && amount_ok(limit)
                && currency_ok(&Some(sell.clone()))
                && currency_ok(&Some(buy.clone()))
        }
        Command::Quote { sell, buy } => {
            currency_ok(&Some(sell.clone())) && currency_ok(&Some(buy.clone()))
        }
        Command::Connect { code } => code.len() <= 64 && !code.chars().any(char::is_whitespace),
        Command::Topup { amount } | Command::Cashout { amount } => amount_ok(amount),
        Command::ApproveCashout { cashout } => *cashout > 0,
        Command::Balance
        | Command::History
        | Command::Proposals
        | Command::Market
        | Command::Orders
        | Command::Verify
        | Command::Link
        | Command::Language { .. }
        | Command::Help { .. } => true,
    };
    if ok {
        Ok(())
    } else {
        Err("malformed command".to_owned())
    }
}
