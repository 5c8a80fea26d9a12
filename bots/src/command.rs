//! The chat grammar (DESIGN "Chat"), the same on every platform: a line of text becomes a
//! [`Command`] once, here, or an error sentence that says how to write it.
//!
//! - A command starts with `/` or `!` (`/pay`, `!pay`); Telegram's `/pay@botname` is accepted
//!   when it names this bot and ignored when it names another one.
//! - Verbs and vote choices are case-insensitive; currency codes are upper-cased.
//! - Amounts stay decimal text ([`AmountText`]): only the currency knows its scale and only the
//!   speaker's language says what "1.234" means, so the engine parses them once both are known
//!   ("10.5" is 1050 in a scale-2 currency, an error in a scale-0 one; "1.234,50" and "1,5" are
//!   read as in German, "1,234.50" as in English).
//! - People are named by a mention, whose form depends on the platform ([`Dialect`]).
//! - Memos and descriptions follow `for` (or German `für`) or are quoted: `/pay @ben 5 for lunch`,
//!   `/pay @ben 5 "lunch at Mo's"`.
//! - Every sentence the grammar says (usage lines, summaries, mistakes) is a catalog message
//!   (`chat.ftl`), rendered in the reader's language.
//! - An unknown command is answered with the help, which is generated from [`VERBS`].

use std::fmt;

use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::i18n::{Args, Lang, message};

/// A person named in a command: the platform's user id (Matrix, Discord) or handle (console,
/// Telegram), as the engine looks chat identities up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// The platform's id for them: `@ben:example.org`, `1234` (Discord), `ben` (console).
    pub id: String,
    /// How to call them in a reply.
    pub display: String,
}

/// A positive number as typed, with `.` and `,` as a person's language writes them ("10",
/// "10.5", ".5", "1,5", "1.234,50"); the speaker's language and the currency decide what it
/// means and whether it fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountText(String);

impl AmountText {
    /// A leading minus is read too, so that `/pay @ben -3` is answered that amounts must be
    /// positive rather than that the amount is missing.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let ok = text.len() <= 40
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
            && digits.bytes().any(|b| b.is_ascii_digit() && b != b'0');
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AmountText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a member asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pay {
        to: Mention,
        amount: AmountText,
        currency: Option<String>,
        memo: String,
    },
    Balance,
    History,
    Pledge {
        amount: AmountText,
        currency: Option<String>,
        work: String,
    },
    Propose {
        title: String,
    },
    Vote {
        proposal: i64,
        choice: Choice,
    },
    Proposals,
    Post {
        body: String,
    },
    Offer {
        price: AmountText,
        currency: Option<String>,
        title: String,
    },
    Need {
        price: AmountText,
        currency: Option<String>,
        title: String,
    },
    Market,
    Buy {
        listing: i64,
    },
    Invest {
        project: i64,
        amount: AmountText,
    },
    Connect {
        code: String,
    },
    Link,
    /// Which language the bot speaks to the person: `None` asks, `Some` chooses.
    Language {
        choice: Option<LanguageChoice>,
    },
    /// A euro top-up: the Checkout link comes back privately (issue 16).
    Topup {
        amount: AmountText,
    },
    /// A treasurer's cash-out of coins to the org's bank (issue 16).
    Cashout {
        amount: AmountText,
    },
    /// Another treasurer or admin approves a cash-out below the threshold.
    ApproveCashout {
        cashout: i64,
    },
    /// `/exchange 10 COIN for BIKE at 0.8`: a limit order on the exchange.
    Exchange {
        amount: AmountText,
        sell: String,
        buy: String,
        limit: AmountText,
    },
    /// The sender's own exchange orders.
    Orders,
    /// Checks the org's published history for the sender (issue 20).
    Verify,
    Cancel {
        order: i64,
    },
    /// The pair's indicative price now.
    Quote {
        sell: String,
        buy: String,
    },
    /// The help, for one verb or all; `unknown` is the command that was not understood.
    Help {
        verb: Option<Verb>,
        unknown: Option<String>,
    },
}

/// What `/language` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageChoice {
    /// This language, everywhere, whatever the platform says.
    Set(Lang),
    /// No choice of one's own: the platform's language, else the org's.
    Auto,
}

/// Every command word, in the order the help lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Pay,
    Balance,
    History,
    Pledge,
    Propose,
    Vote,
    Proposals,
    Post,
    Offer,
    Need,
    Market,
    Buy,
    Invest,
    Connect,
    Link,
    Language,
    Topup,
    Exchange,
    Orders,
    Cancel,
    Quote,
    Verify,
    Cashout,
    Help,
}

/// One line of the grammar: the word and other words for it. How to write it and what it does
/// are the catalog messages `chat-usage-<name>` and `chat-summary-<name>`.
pub struct VerbSpec {
    pub verb: Verb,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

impl VerbSpec {
    /// How to write the command, in `lang` (`/pay @who 10 [CUR] [for memo]`).
    pub fn usage(&self, lang: Lang) -> String {
        message(lang, &format!("chat-usage-{}", self.name), &Args::new())
    }

    /// What the command does, in `lang`.
    pub fn summary(&self, lang: Lang) -> String {
        message(lang, &format!("chat-summary-{}", self.name), &Args::new())
    }
}

/// The grammar's table: the parser finds verbs here and the help is written from it.
pub const VERBS: &[VerbSpec] = &[
    VerbSpec {
        verb: Verb::Pay,
        name: "pay",
        aliases: &["send", "give"],
    },
    VerbSpec {
        verb: Verb::Balance,
        name: "balance",
        aliases: &["bal", "balances"],
    },
    VerbSpec {
        verb: Verb::History,
        name: "history",
        aliases: &["hist"],
    },
    VerbSpec {
        verb: Verb::Pledge,
        name: "pledge",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Propose,
        name: "propose",
        aliases: &["proposal"],
    },
    VerbSpec {
        verb: Verb::Vote,
        name: "vote",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Proposals,
        name: "proposals",
        aliases: &["open"],
    },
    VerbSpec {
        verb: Verb::Post,
        name: "post",
        aliases: &["say"],
    },
    VerbSpec {
        verb: Verb::Offer,
        name: "offer",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Need,
        name: "need",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Market,
        name: "market",
        aliases: &["listings"],
    },
    VerbSpec {
        verb: Verb::Buy,
        name: "buy",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Invest,
        name: "invest",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Connect,
        name: "connect",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Link,
        name: "link",
        aliases: &["login"],
    },
    VerbSpec {
        verb: Verb::Topup,
        name: "topup",
        aliases: &["aufladen"],
    },
    VerbSpec {
        verb: Verb::Language,
        name: "language",
        aliases: &["lang", "sprache"],
    },
    VerbSpec {
        verb: Verb::Exchange,
        name: "exchange",
        aliases: &["trade", "tauschen"],
    },
    VerbSpec {
        verb: Verb::Orders,
        name: "orders",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Verify,
        name: "verify",
        aliases: &["prüfen", "pruefen"],
    },
    VerbSpec {
        verb: Verb::Cancel,
        name: "cancel",
        aliases: &[],
    },
    VerbSpec {
        verb: Verb::Quote,
        name: "quote",
        aliases: &["kurs"],
    },
    VerbSpec {
        verb: Verb::Cashout,
        name: "cashout",
        aliases: &["auszahlen"],
    },
    VerbSpec {
        verb: Verb::Help,
        name: "help",
        aliases: &["commands", "start", "?"],
    },
];

impl Verb {
    pub fn spec(self) -> &'static VerbSpec {
        // VERBS has one entry per verb, so this always finds one; Help's is the fallback.
        let last = &VERBS[VERBS.len() - 1];
        VERBS.iter().find(|s| s.verb == self).unwrap_or(last)
    }

    fn lookup(word: &str) -> Option<Self> {
        let word = word.to_lowercase();
        VERBS
            .iter()
            .find(|s| s.name == word || s.aliases.contains(&word.as_str()))
            .map(|s| s.verb)
    }
}

/// The help text in `lang`: (usage, summary) per command, from [`VERBS`].
pub fn help_lines(lang: Lang) -> Vec<(String, String)> {
    VERBS
        .iter()
        .map(|s| (s.usage(lang), s.summary(lang)))
        .collect()
}

/// How one platform writes commands and mentions.
#[derive(Debug, Clone)]
pub struct Dialect {
    pub platform: ChatPlatform,
    /// The bot's own name, for `/cmd@botname` (Telegram) addressing.
    pub bot_name: Option<String>,
}

impl Dialect {
    pub fn new(platform: ChatPlatform) -> Self {
        Self {
            platform,
            bot_name: None,
        }
    }

    pub fn with_bot_name(mut self, name: &str) -> Self {
        self.bot_name = Some(name.trim_start_matches('@').to_lowercase());
        self
    }

    /// A mention in this platform's form, or `None` if the token is not one.
    fn mention(&self, token: &str) -> Option<Mention> {
        match self.platform {
            // Matrix ids: @localpart:server (the adapter turns pills into this form).
            ChatPlatform::Matrix => {
                let name = token.strip_prefix('@')?;
                // A short name (`@ben`): the engine finds the room's member it names.
                if !name.contains(':') {
                    return short_name(name).map(|name| Mention {
                        id: name.to_owned(),
                        display: token.to_owned(),
                    });
                }
                let (local, server) = name.split_once(':')?;
                let ok_local = !local.is_empty()
                    && local.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'=' | b'-' | b'/' | b'+')
                    });
                let ok_server = !server.is_empty()
                    && server.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    });
                (ok_local && ok_server && token.len() <= 255).then(|| Mention {
                    id: token.to_owned(),
                    display: token.to_owned(),
                })
            }
            // Discord: <@123> or <@!123> (the user's snowflake).
            ChatPlatform::Discord => {
                let inner = token.strip_prefix("<@")?.strip_suffix('>')?;
                let id = inner.strip_prefix('!').unwrap_or(inner);
                (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())).then(
                    || Mention {
                        id: id.to_owned(),
                        display: format!("<@{id}>"),
                    },
                )
            }
            // Telegram usernames and console names: @name, compared case-insensitively.
            ChatPlatform::Telegram | ChatPlatform::Console => {
                let name = token.strip_prefix('@')?;
                let ok = (1..=64).contains(&name.chars().count())
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
                ok.then(|| Mention {
                    id: name.to_lowercase(),
                    display: name.to_owned(),
                })
            }
        }
    }

    fn mention_example(&self) -> &'static str {
        match self.platform {
            ChatPlatform::Matrix => "@ben:example.org",
            ChatPlatform::Discord => "@Ben",
            ChatPlatform::Telegram | ChatPlatform::Console => "@ben",
        }
    }
}

/// A name typed after `@` without a server: letters, digits and `.`, `_`, `-`.
fn short_name(name: &str) -> Option<&str> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then_some(name)
}

impl Mention {
    /// A name the person typed rather than the platform's id for someone (Matrix's `@ben`
    /// without a server): the room's members are searched for it.
    pub fn is_short(&self, platform: ChatPlatform) -> bool {
        platform == ChatPlatform::Matrix && !self.id.starts_with('@')
    }
}

/// A line that looked like a command but could not be understood: what is wrong (a catalog
/// message and its arguments), told with the command's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub verb: Verb,
    /// The catalog message that says what is wrong.
    pub problem: &'static str,
    pub args: Args,
}

impl ParseError {
    /// What is wrong and how to write the command, in `lang`.
    pub fn sentence(&self, lang: Lang) -> String {
        message(
            lang,
            "chat-parse-mistake",
            &Args::new()
                .text("problem", message(lang, self.problem, &self.args))
                .text("usage", self.verb.spec().usage(lang)),
        )
    }
}

/// In English; adapters answer with [`ParseError::sentence`] in the reader's language.
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence(Lang::En))
    }
}

impl std::error::Error for ParseError {}

/// The words of a command line: plain tokens, and quoted strings kept whole.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Quoted(String),
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let mut chars = rest.char_indices();
        let Some((_, first)) = chars.next() else {
            break;
        };
        let close = match first {
            '"' => Some('"'),
            '“' => Some('”'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(close) = close {
            let body = &rest[first.len_utf8()..];
            if let Some(end) = body.find(close) {
                tokens.push(Token::Quoted(body[..end].to_owned()));
                rest = body[end + close.len_utf8()..].trim_start();
                continue;
            }
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        tokens.push(Token::Word(&rest[..end]));
        rest = rest[end..].trim_start();
    }
    tokens
}

/// The text after the first `n` words of `args`, as typed (for free text such as a post).
fn rest_after_words(args: &str, n: usize) -> &str {
    let mut rest = args.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest.trim_end()
}

/// A currency code as typed: 2 to 8 letters (upper-cased), never the word "for".
fn currency_word(word: &str) -> Option<String> {
    let ok = (2..=8).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_alphabetic())
        && !word.eq_ignore_ascii_case("for");
    ok.then(|| word.to_ascii_uppercase())
}

/// An id as typed: `3` or `#3`.
fn id_word(word: &str) -> Option<i64> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

fn choice_word(word: &str) -> Option<Choice> {
    match word.to_lowercase().as_str() {
        "yes" | "y" | "+1" | "👍" => Some(Choice::Yes),
        "no" | "n" | "-1" | "👎" => Some(Choice::No),
        "abstain" | "a" => Some(Choice::Abstain),
        "block" | "b" => Some(Choice::Block),
        _ => None,
    }
}

/// The word before free text: `for`, or `für` as a German speaker writes it.
fn is_for(word: &str) -> bool {
    word.eq_ignore_ascii_case("for") || word.to_lowercase() == "für"
}

/// The free text after an amount and optional currency: `for ...` or a quoted string. Returns
/// the text, or the catalog message that says what is wrong when something else follows.
fn memo_text(tokens: &[Token<'_>], raw_rest: &str) -> Result<String, &'static str> {
    match tokens.first() {
        None => Ok(String::new()),
        Some(Token::Quoted(q)) if tokens.len() == 1 => Ok(q.trim().to_owned()),
        Some(Token::Word(w)) if is_for(w) => Ok(rest_after_words(raw_rest, 1).to_owned()),
        _ => Err("chat-parse-memo-place"),
    }
}

/// Parses a chat line. `Ok(None)`: not a command (ordinary chat, or addressed to another bot),
/// so say nothing.
pub fn parse(line: &str, dialect: &Dialect) -> Result<Option<Command>, ParseError> {
    let line = line.trim();
    let Some(body) = line.strip_prefix('/').or_else(|| line.strip_prefix('!')) else {
        return Ok(None);
    };
    let head_end = body.find(char::is_whitespace).unwrap_or(body.len());
    let (head, args) = (&body[..head_end], &body[head_end..]);
    let (word, addressee) = match head.split_once('@') {
        Some((w, bot)) => (w, Some(bot)),
        None => (head, None),
    };
    if let Some(bot) = addressee {
        match &dialect.bot_name {
            Some(mine) if !bot.eq_ignore_ascii_case(mine) => return Ok(None),
            _ => {}
        }
    }
    if word.is_empty() {
        return Ok(None);
    }
    let Some(verb) = Verb::lookup(word) else {
        return Ok(Some(Command::Help {
            verb: None,
            unknown: Some(word.chars().take(32).collect()),
        }));
    };
    let tokens = tokenize(args);
    parse_args(verb, &tokens, args, dialect).map(Some)
}

fn parse_args(
    verb: Verb,
    tokens: &[Token<'_>],
    raw: &str,
    dialect: &Dialect,
) -> Result<Command, ParseError> {
    let fail_with = |problem: &'static str, args: Args| ParseError {
        verb,
        problem,
        args,
    };
    let fail = |problem: &'static str| fail_with(problem, Args::new());
    let words: Vec<&str> = tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) => *w,
            Token::Quoted(_) => "",
        })
        .collect();
    let no_args = |cmd: Command| {
        if tokens.is_empty() {
            Ok(cmd)
        } else {
            Err(fail_with(
                "chat-parse-no-arguments",
                Args::new().text("command", format!("/{}", verb.spec().name)),
            ))
        }
    };
    match verb {
        Verb::Balance => no_args(Command::Balance),
        Verb::History => no_args(Command::History),
        Verb::Proposals => no_args(Command::Proposals),
        Verb::Market => no_args(Command::Market),
        Verb::Link => no_args(Command::Link),
        Verb::Topup => match words.as_slice() {
            [amount] => AmountText::parse(amount)
                .map(|amount| Command::Topup { amount })
                .ok_or_else(|| fail("chat-parse-topup")),
            _ => Err(fail("chat-parse-topup")),
        },
        Verb::Language => match words.as_slice() {
            [] => Ok(Command::Language { choice: None }),
            [word] => {
                let word = word.to_lowercase();
                if matches!(word.as_str(), "auto" | "automatic" | "automatisch") {
                    Ok(Command::Language {
                        choice: Some(LanguageChoice::Auto),
                    })
                } else {
                    Lang::from_tag(&word)
                        .map(|lang| Command::Language {
                            choice: Some(LanguageChoice::Set(lang)),
                        })
                        .ok_or_else(|| fail("chat-parse-language"))
                }
            }
            _ => Err(fail("chat-parse-language")),
        },
        Verb::Help => Ok(Command::Help {
            verb: words
                .first()
                .and_then(|w| Verb::lookup(w.trim_start_matches(['/', '!']))),
            unknown: None,
        }),
        Verb::Pay => {
            // The mention and the amount may come in either order.
            let (to, amount) = match (words.first(), words.get(1)) {
                (Some(a), Some(b)) => match (dialect.mention(a), AmountText::parse(b)) {
                    (Some(m), Some(x)) => (m, x),
                    _ => match (AmountText::parse(a), dialect.mention(b)) {
                        (Some(x), Some(m)) => (m, x),
                        _ if dialect.mention(a).is_none() && dialect.mention(b).is_none() => {
                            return Err(fail_with(
                                "chat-parse-pay-whom",
                                Args::new().text("example", dialect.mention_example()),
                            ));
                        }
                        _ => return Err(fail("chat-parse-pay-how-much")),
                    },
                },
                _ => return Err(fail("chat-parse-pay-whom-and-how-much")),
            };
            let (currency, skip) = currency_at(&words, 2);
            let memo = memo_text(&tokens[skip..], rest_after_words(raw, skip)).map_err(fail)?;
            Ok(Command::Pay {
                to,
                amount,
                currency,
                memo,
            })
        }
        Verb::Pledge | Verb::Offer | Verb::Need => {
            let what = match verb {
                Verb::Pledge => "chat-parse-pledge-what",
                Verb::Offer => "chat-parse-offer-what",
                _ => "chat-parse-need-what",
            };
            let amount = words
                .first()
                .and_then(|w| AmountText::parse(w))
                .ok_or_else(|| fail("chat-parse-amount-first"))?;
            let (currency, skip) = currency_at(&words, 1);
            let text =
                memo_text(&tokens[skip..], rest_after_words(raw, skip)).map_err(|_| fail(what))?;
            if text.is_empty() {
                return Err(fail(what));
            }
            Ok(match verb {
                Verb::Pledge => Command::Pledge {
                    amount,
                    currency,
                    work: text,
                },
                Verb::Offer => Command::Offer {
                    price: amount,
                    currency,
                    title: text,
                },
                _ => Command::Need {
                    price: amount,
                    currency,
                    title: text,
                },
            })
        }
        Verb::Propose => {
            let title = unquote_all(tokens, raw);
            if title.is_empty() {
                return Err(fail("chat-parse-propose-what"));
            }
            Ok(Command::Propose { title })
        }
        Verb::Post => {
            let body = unquote_all(tokens, raw);
            if body.is_empty() {
                return Err(fail("chat-parse-post-what"));
            }
            Ok(Command::Post { body })
        }
        Verb::Vote => {
            if words.len() != 2 {
                return Err(fail("chat-parse-vote-both"));
            }
            let (a, b) = (words[0], words[1]);
            let (proposal, choice) = match (id_word(a), choice_word(b)) {
                (Some(id), Some(c)) => (id, c),
                _ => match (choice_word(a), id_word(b)) {
                    (Some(c), Some(id)) => (id, c),
                    _ if id_word(a).is_none() && id_word(b).is_none() => {
                        return Err(fail("chat-parse-vote-number"));
                    }
                    _ => {
                        return Err(fail("chat-parse-vote-choice"));
                    }
                },
            };
            Ok(Command::Vote { proposal, choice })
        }
        Verb::Buy => match words.as_slice() {
            [id] => id_word(id)
                .map(|listing| Command::Buy { listing })
                .ok_or_else(|| fail("chat-parse-buy-number")),
            _ => Err(fail("chat-parse-buy-number")),
        },
        Verb::Invest => match words.as_slice() {
            [id, amount] => match (id_word(id), AmountText::parse(amount)) {
                (Some(project), Some(amount)) => Ok(Command::Invest { project, amount }),
                (None, _) => Err(fail("chat-parse-invest-project")),
                (_, None) => Err(fail("chat-parse-invest-how-much")),
            },
            _ => Err(fail("chat-parse-invest-both")),
        },
        Verb::Exchange => match words.as_slice() {
            // The joining words in either language: "for"/"für", "at"/"zu"/"@".
            [amount, sell, join, buy, at, limit]
                if ["for", "für"].contains(&join.to_lowercase().as_str())
                    && ["at", "zu", "@"].contains(&at.to_lowercase().as_str()) =>
            {
                match (
                    AmountText::parse(amount),
                    currency_word(sell),
                    currency_word(buy),
                    AmountText::parse(limit),
                ) {
                    (Some(amount), Some(sell), Some(buy), Some(limit)) => Ok(Command::Exchange {
                        amount,
                        sell,
                        buy,
                        limit,
                    }),
                    _ => Err(fail("chat-parse-exchange")),
                }
            }
            _ => Err(fail("chat-parse-exchange")),
        },
        Verb::Orders => no_args(Command::Orders),
        Verb::Verify => no_args(Command::Verify),
        Verb::Cashout => match words.as_slice() {
            [approve, id] if matches!(approve.to_lowercase().as_str(), "approve" | "freigeben") => {
                id_word(id)
                    .map(|cashout| Command::ApproveCashout { cashout })
                    .ok_or_else(|| fail("chat-parse-cashout"))
            }
            [amount] => AmountText::parse(amount)
                .map(|amount| Command::Cashout { amount })
                .ok_or_else(|| fail("chat-parse-cashout")),
            _ => Err(fail("chat-parse-cashout")),
        },
        Verb::Cancel => match words.as_slice() {
            [id] => id_word(id)
                .map(|order| Command::Cancel { order })
                .ok_or_else(|| fail("chat-parse-cancel-number")),
            _ => Err(fail("chat-parse-cancel-number")),
        },
        Verb::Quote => match words.as_slice() {
            [a, b] => match (currency_word(a), currency_word(b)) {
                (Some(sell), Some(buy)) => Ok(Command::Quote { sell, buy }),
                _ => Err(fail("chat-parse-quote-pair")),
            },
            _ => Err(fail("chat-parse-quote-pair")),
        },
        Verb::Connect => match tokens {
            [] => Err(fail("chat-parse-connect-code")),
            _ => {
                let code: String = raw.split_whitespace().collect::<Vec<_>>().join("");
                if code.len() > 64 {
                    Err(fail("chat-parse-connect-not-a-code"))
                } else {
                    Ok(Command::Connect { code })
                }
            }
        },
    }
}

/// The optional currency code at `words[at]`: the code and how many words the amount part used.
fn currency_at(words: &[&str], at: usize) -> (Option<String>, usize) {
    match words.get(at).and_then(|w| currency_word(w)) {
        Some(code) => (Some(code), at + 1),
        None => (None, at),
    }
}

/// Free text: one quoted string as written inside its quotes, otherwise the text as typed.
fn unquote_all(tokens: &[Token<'_>], raw: &str) -> String {
    match tokens {
        [Token::Quoted(q)] => q.trim().to_owned(),
        _ => raw.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_unique_and_all_listed() {
        let mut seen = std::collections::HashSet::new();
        for spec in VERBS {
            assert!(seen.insert(spec.name), "{}", spec.name);
            for a in spec.aliases {
                assert!(seen.insert(a), "{a}");
            }
            assert_eq!(spec.verb.spec().name, spec.name);
        }
    }

    #[test]
    fn tokens_keep_quotes_whole() {
        assert_eq!(
            tokenize(r#"@a 5 "x y" z"#),
            vec![
                Token::Word("@a"),
                Token::Word("5"),
                Token::Quoted("x y".into()),
                Token::Word("z")
            ]
        );
        assert_eq!(tokenize("\"open"), vec![Token::Word("\"open")]);
    }
}
