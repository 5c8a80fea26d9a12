//! Discord's slash commands: their registration (typed options per command) and the way an
//! invocation becomes a [`Command`].
//!
//! An invocation is written back as the canonical text line (`/pay <@123> 12.50 COIN for bread`)
//! and parsed with the Discord [`Dialect`](crate::Dialect): one grammar, one validator and one
//! set of error sentences for typed and clicked commands alike, so the two cannot drift apart.
//! Options that are one word in the grammar (amounts, currencies, codes) lose any whitespace
//! first, so an option can never inject more words into the line.

use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::i18n::Lang;
use serenity::all::{CommandOptionType, CreateCommand, CreateCommandOption};

use crate::command::{VERBS, Verb};
use crate::reply::{CHOICES, VoteButton};

/// The value of one option, free of serenity's types (so the rendering is testable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    User(u64),
    Text(String),
    Integer(i64),
}

/// How an option is typed in Discord's form.
#[derive(Debug, Clone, Copy)]
enum Kind {
    User,
    /// One word of text (an amount, a currency code, a connect code).
    Word,
    /// Free text (a memo, a title).
    Text,
    /// A positive number (a proposal, listing or project id).
    Id,
    Choice,
}

struct Opt {
    name: &'static str,
    kind: Kind,
    required: bool,
    description: &'static str,
}

/// An option as a struct literal: unlike a `const fn` call, a literal is promoted to `'static`
/// inside `&[...]`.
macro_rules! opt {
    ($name:literal, $kind:expr, $required:literal, $description:literal) => {
        Opt {
            name: $name,
            kind: $kind,
            required: $required,
            description: $description,
        }
    };
}

const AMOUNT: Opt = opt!("amount", Kind::Word, true, "how much, such as 10 or 2.50");
const CURRENCY: Opt = opt!(
    "currency",
    Kind::Word,
    false,
    "currency code (the community's first one if left out)"
);

/// The options of each registered command, in the order Discord shows them (required first,
/// as Discord demands).
fn options(verb: Verb) -> &'static [Opt] {
    match verb {
        Verb::Pay => &[
            opt!("to", Kind::User, true, "whom to pay"),
            AMOUNT,
            CURRENCY,
            opt!("memo", Kind::Text, false, "what it is for"),
        ],
        Verb::Pledge => &[
            AMOUNT,
            opt!("work", Kind::Text, true, "the work you pledge"),
            CURRENCY,
        ],
        Verb::Offer => &[
            opt!("price", Kind::Word, true, "the price, such as 5"),
            opt!("title", Kind::Text, true, "what you offer"),
            CURRENCY,
        ],
        Verb::Need => &[
            opt!("price", Kind::Word, true, "what you would pay, such as 5"),
            opt!("title", Kind::Text, true, "what you need"),
            CURRENCY,
        ],
        Verb::Propose => &[opt!("title", Kind::Text, true, "what should be decided")],
        Verb::Vote => &[
            opt!("proposal", Kind::Id, true, "the proposal's number"),
            opt!("choice", Kind::Choice, true, "your vote"),
        ],
        Verb::Post => &[opt!(
            "message",
            Kind::Text,
            true,
            "what to post to the feed"
        )],
        Verb::Buy => &[opt!("listing", Kind::Id, true, "the listing's number")],
        Verb::Invest => &[
            opt!("project", Kind::Id, true, "the project's number"),
            AMOUNT,
        ],
        Verb::Connect => &[opt!("code", Kind::Word, true, "the code an admin gave you")],
        Verb::Topup => &[AMOUNT],
        Verb::Cashout => &[
            opt!("amount", Kind::Word, false, "how many coins to cash out"),
            opt!(
                "approve",
                Kind::Id,
                false,
                "approve this cash-out number instead"
            ),
        ],
        Verb::Help => &[opt!("command", Kind::Word, false, "one command to explain")],
        Verb::Language => &[opt!("language", Kind::Word, false, "de, en, or auto")],
        Verb::Exchange => &[
            AMOUNT,
            opt!(
                "sell",
                Kind::Word,
                true,
                "the currency you sell, such as COIN"
            ),
            opt!(
                "buy",
                Kind::Word,
                true,
                "the currency you want, such as BIKE"
            ),
            opt!(
                "limit",
                Kind::Word,
                true,
                "the least you take per unit, such as 0.8"
            ),
        ],
        Verb::Cancel => &[opt!("order", Kind::Id, true, "the order's number")],
        Verb::Quote => &[
            opt!("sell", Kind::Word, true, "one currency, such as COIN"),
            opt!("buy", Kind::Word, true, "the other, such as BIKE"),
        ],
        Verb::Balance
        | Verb::History
        | Verb::Proposals
        | Verb::Market
        | Verb::Link
        | Verb::Orders
        | Verb::Verify => &[],
    }
}

/// Every command of the grammar as a Discord slash command, for a guild's bulk registration.
pub fn definitions() -> Vec<CreateCommand> {
    VERBS
        .iter()
        .map(|spec| {
            // Discord shows each person the description in their client's language.
            let mut command = CreateCommand::new(spec.name)
                .description(clip(&spec.summary(Lang::En), 100))
                .description_localized("de", clip(&spec.summary(Lang::De), 100));
            for o in options(spec.verb) {
                let kind = match o.kind {
                    Kind::User => CommandOptionType::User,
                    Kind::Word | Kind::Text | Kind::Choice => CommandOptionType::String,
                    Kind::Id => CommandOptionType::Integer,
                };
                let mut option =
                    CreateCommandOption::new(kind, o.name, o.description).required(o.required);
                match o.kind {
                    Kind::Id => option = option.min_int_value(1),
                    Kind::Choice => {
                        for c in CHOICES {
                            let label = c.to_string();
                            option = option.add_string_choice(label.clone(), label);
                        }
                    }
                    Kind::Word => option = option.max_length(64),
                    Kind::Text => option = option.max_length(1000),
                    Kind::User => {}
                }
                command = command.add_option(option);
            }
            command
        })
        .collect()
}

/// The names of the registered commands.
pub fn names() -> Vec<&'static str> {
    VERBS.iter().map(|s| s.name).collect()
}

/// The canonical text line for an invocation of command `name` with `args` (by option name).
/// `None` for a command we never registered.
pub fn command_line(name: &str, args: &[(String, Arg)]) -> Option<String> {
    let spec = VERBS.iter().find(|s| s.name == name)?;
    let mut line = format!("/{}", spec.name);
    let get = |n: &str| args.iter().find(|(k, _)| k == n).map(|(_, v)| v);
    let text = |n: &str| match get(n) {
        Some(Arg::Text(t)) => Some(t.trim().to_owned()),
        Some(Arg::Integer(i)) => Some(i.to_string()),
        Some(Arg::User(u)) => Some(format!("<@{u}>")),
        None => None,
    };
    // One word, whatever was typed: whitespace inside would add words to the line.
    let word = |n: &str| {
        text(n)
            .map(|t| t.split_whitespace().collect::<String>())
            .filter(|t| !t.is_empty())
    };
    let mut push = |part: Option<String>| {
        if let Some(p) = part {
            line.push(' ');
            line.push_str(&p);
        }
    };
    match spec.verb {
        Verb::Pay => {
            push(word("to"));
            push(word("amount"));
            push(word("currency"));
            push(
                text("memo")
                    .filter(|m| !m.is_empty())
                    .map(|m| format!("for {m}")),
            );
        }
        Verb::Pledge => {
            push(word("amount"));
            push(word("currency"));
            push(text("work").map(|w| format!("for {w}")));
        }
        Verb::Offer | Verb::Need => {
            push(word("price"));
            push(word("currency"));
            push(text("title").map(|t| format!("for {t}")));
        }
        Verb::Propose => push(text("title")),
        Verb::Post => push(text("message")),
        Verb::Vote => {
            push(word("proposal"));
            push(word("choice"));
        }
        Verb::Buy => push(word("listing")),
        Verb::Invest => {
            push(word("project"));
            push(word("amount"));
        }
        Verb::Connect => push(word("code")),
        Verb::Topup => push(word("amount")),
        // `/cashout approve:7` approves; `/cashout amount:20` asks.
        Verb::Cashout => match word("approve") {
            Some(id) => {
                push(Some("approve".to_owned()));
                push(Some(id));
            }
            None => push(word("amount")),
        },
        Verb::Help => push(word("command")),
        Verb::Language => push(word("language")),
        Verb::Exchange => {
            push(word("amount"));
            push(word("sell"));
            push(Some("for".to_owned()));
            push(word("buy"));
            push(Some("at".to_owned()));
            push(word("limit"));
        }
        Verb::Cancel => push(word("order")),
        Verb::Quote => {
            push(word("sell"));
            push(word("buy"));
        }
        Verb::Balance
        | Verb::History
        | Verb::Proposals
        | Verb::Market
        | Verb::Link
        | Verb::Orders
        | Verb::Verify => {}
    }
    Some(line)
}

/// The proposal and choice a vote button's custom id stands for.
pub fn parse_vote_button(custom_id: &str) -> Option<(i64, Choice)> {
    VoteButton::from_data(custom_id).map(|b| (b.proposal, b.choice))
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Dialect, parse};
    use coinsence_api::domain::chat::ChatPlatform;

    fn args(list: &[(&str, Arg)]) -> Vec<(String, Arg)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn parsed(line: &str) -> Command {
        parse(line, &Dialect::new(ChatPlatform::Discord))
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap_or_else(|| panic!("{line}: not a command"))
    }

    #[test]
    fn options_become_the_line_the_grammar_reads() {
        let pay = command_line(
            "pay",
            &args(&[
                ("to", Arg::User(42)),
                ("amount", Arg::Text(" 12.50 ".into())),
                ("currency", Arg::Text("coin".into())),
                ("memo", Arg::Text("bread".into())),
            ]),
        );
        assert_eq!(pay.as_deref(), Some("/pay <@42> 12.50 coin for bread"));
        assert_eq!(
            parsed("/pay <@42> 12.50 coin for bread"),
            parsed("!pay <@!42> 12.50 COIN for bread")
        );
        let vote = command_line(
            "vote",
            &args(&[
                ("proposal", Arg::Integer(3)),
                ("choice", Arg::Text("yes".into())),
            ]),
        );
        assert_eq!(vote.as_deref(), Some("/vote 3 yes"));
        assert_eq!(command_line("balance", &[]).as_deref(), Some("/balance"));
        assert_eq!(command_line("frobnicate", &[]), None);
    }

    #[test]
    fn one_word_options_cannot_add_words() {
        let line = command_line(
            "pay",
            &args(&[
                ("to", Arg::User(42)),
                ("amount", Arg::Text("5 for 1000".into())),
            ]),
        )
        .unwrap_or_default();
        assert_eq!(line, "/pay <@42> 5for1000");
        assert!(parse(&line, &Dialect::new(ChatPlatform::Discord)).is_err());
    }

    #[test]
    fn every_verb_is_registered_with_valid_names() {
        assert_eq!(definitions().len(), VERBS.len());
        for spec in VERBS {
            for o in options(spec.verb) {
                assert!(o.name.len() <= 32 && o.name == o.name.to_lowercase());
                assert!(o.description.len() <= 100, "{}", o.description);
            }
            // Discord wants every required option before the optional ones.
            let opts = options(spec.verb);
            let first_optional = opts.iter().position(|o| !o.required).unwrap_or(opts.len());
            assert!(
                opts[first_optional..].iter().all(|o| !o.required),
                "{}",
                spec.name
            );
        }
        for name in [
            "pay",
            "balance",
            "history",
            "pledge",
            "propose",
            "vote",
            "proposals",
            "post",
            "connect",
            "link",
            "help",
        ] {
            assert!(names().contains(&name), "{name}");
        }
    }

    #[test]
    fn vote_buttons_round_trip() {
        for c in CHOICES {
            assert_eq!(
                parse_vote_button(
                    &VoteButton {
                        proposal: 7,
                        choice: c
                    }
                    .data()
                ),
                Some((7, c))
            );
        }
        assert_eq!(parse_vote_button("vote:0:yes"), None);
        assert_eq!(parse_vote_button("vote:3:maybe"), None);
        assert_eq!(parse_vote_button("other"), None);
    }
}
