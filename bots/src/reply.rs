//! What the bot answers, free of any platform: text with amounts and emphasis, lists, and buttons
//! for votes. Each adapter renders it; [`Reply::plain`] and [`Reply::html`] are the two
//! renderings most platforms need (Matrix sends both, Telegram takes the HTML, the console the
//! plain text); Discord takes [`Reply::markdown`].

use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::i18n::{Args, Lang, message};

/// A piece of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Strong(String),
    /// An amount with its currency code, shown as "10.50 DEMO".
    Amount {
        value: String,
        currency: String,
    },
    /// Something to type or copy (a command, a code).
    Code(String),
}

/// A paragraph or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Line(Vec<Span>),
    List(Vec<Vec<Span>>),
}

/// A button that votes. Platforms without buttons show the command instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteButton {
    pub proposal: i64,
    pub choice: Choice,
}

impl VoteButton {
    pub fn label(&self) -> &'static str {
        match self.choice {
            Choice::Yes => "yes",
            Choice::No => "no",
            Choice::Abstain => "abstain",
            Choice::Block => "block",
        }
    }

    /// The reaction a Matrix user clicks for this choice.
    pub fn emoji(&self) -> &'static str {
        emoji_for(self.choice)
    }

    /// What the button shows, in the reader's language ("yes", "ja"); the command it stands
    /// for keeps the grammar's word.
    pub fn caption(&self, lang: Lang) -> String {
        message(
            lang,
            "chat-choice",
            &Args::new().text("choice", self.label()),
        )
    }

    /// The command the button stands for.
    pub fn command(&self) -> String {
        format!("/vote {} {}", self.proposal, self.label())
    }

    /// What the platform hands back when the button is pressed (Telegram's callback data,
    /// Discord's custom id): `vote:<proposal>:<choice>`.
    pub fn data(&self) -> String {
        format!("vote:{}:{}", self.proposal, self.label())
    }

    /// The button a press's [`Self::data`] stands for; `None` for anything else.
    pub fn from_data(data: &str) -> Option<Self> {
        let mut parts = data.split(':');
        if parts.next()? != "vote" {
            return None;
        }
        let proposal: i64 = parts.next()?.parse().ok().filter(|n| *n > 0)?;
        let label = parts.next()?;
        let choice = CHOICES.into_iter().find(|c| {
            VoteButton {
                proposal,
                choice: *c,
            }
            .label()
                == label
        })?;
        parts.next().is_none().then_some(Self { proposal, choice })
    }
}

/// Every vote choice, in the order buttons show them.
pub const CHOICES: [Choice; 4] = [Choice::Yes, Choice::No, Choice::Abstain, Choice::Block];

/// The emoji that stands for a vote choice.
pub fn emoji_for(choice: Choice) -> &'static str {
    match choice {
        Choice::Yes => "👍",
        Choice::No => "👎",
        Choice::Abstain => "🤷",
        Choice::Block => "✋",
    }
}

/// The vote choice an emoji stands for (with or without the variation selector).
pub fn choice_for_emoji(key: &str) -> Option<Choice> {
    let key = key.trim_end_matches('\u{fe0f}');
    [Choice::Yes, Choice::No, Choice::Abstain, Choice::Block]
        .into_iter()
        .find(|c| emoji_for(*c).trim_end_matches('\u{fe0f}') == key)
}

/// Who may see a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The room the command came from.
    Room,
    /// Only the person who asked (a login link): adapters send it privately and say so in the
    /// room.
    Sender,
}

/// Whether a reply reports success or a person's mistake (adapters may style them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub blocks: Vec<Block>,
    pub buttons: Vec<VoteButton>,
    pub audience: Audience,
    pub tone: Tone,
    /// The language the reply is written in (for the words adapters add: button captions, the
    /// vote prompt).
    pub lang: Lang,
}

impl Reply {
    pub fn new(tone: Tone) -> Self {
        Self {
            blocks: Vec::new(),
            buttons: Vec::new(),
            audience: Audience::Room,
            tone,
            lang: Lang::En,
        }
    }

    /// Says which language the reply is written in.
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    /// One sentence.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(Tone::Ok).line(vec![Span::Text(text.into())])
    }

    /// One sentence about a mistake; nothing was changed.
    pub fn error(text: impl Into<String>) -> Self {
        Self::new(Tone::Error).line(vec![Span::Text(text.into())])
    }

    pub fn line(mut self, spans: Vec<Span>) -> Self {
        self.blocks.push(Block::Line(spans));
        self
    }

    pub fn list(mut self, items: Vec<Vec<Span>>) -> Self {
        self.blocks.push(Block::List(items));
        self
    }

    /// Adds the four vote buttons for a proposal.
    pub fn vote_buttons(mut self, proposal: i64) -> Self {
        for choice in [Choice::Yes, Choice::No, Choice::Abstain, Choice::Block] {
            self.buttons.push(VoteButton { proposal, choice });
        }
        self
    }

    pub fn to_sender(mut self) -> Self {
        self.audience = Audience::Sender;
        self
    }

    /// The proposal the buttons vote on, if any.
    pub fn vote_proposal(&self) -> Option<i64> {
        self.buttons.first().map(|b| b.proposal)
    }

    /// Plain text: what a terminal shows and what Matrix sends as `body`. Buttons become the
    /// commands they stand for (`emoji` adds the reaction to click, for Matrix).
    pub fn plain(&self) -> String {
        self.plain_with(false)
    }

    pub fn plain_with(&self, emoji: bool) -> String {
        let mut out = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Line(spans) => out.push(plain_spans(spans)),
                Block::List(items) => {
                    for item in items {
                        out.push(format!("• {}", plain_spans(item)));
                    }
                }
            }
        }
        if let Some(id) = self.vote_proposal() {
            out.push(format!(
                "{} /vote {id} {}",
                self.vote_prompt(),
                self.choices(emoji)
            ));
        }
        out.join("\n")
    }

    /// HTML with only the tags every chat client renders (`b`, `code`, `ul`, `li`, `br`), every
    /// piece of text escaped.
    pub fn html(&self, emoji: bool) -> String {
        let mut out = String::new();
        for (i, block) in self.blocks.iter().enumerate() {
            match block {
                Block::Line(spans) => {
                    if i > 0 {
                        out.push_str("<br>");
                    }
                    out.push_str(&html_spans(spans));
                }
                Block::List(items) => {
                    out.push_str("<ul>");
                    for item in items {
                        out.push_str("<li>");
                        out.push_str(&html_spans(item));
                        out.push_str("</li>");
                    }
                    out.push_str("</ul>");
                }
            }
        }
        if let Some(id) = self.vote_proposal() {
            out.push_str(&format!(
                "<br>{} <code>/vote {id} {}</code>",
                escape(&self.vote_prompt()),
                escape(&self.choices(emoji))
            ));
        }
        out
    }

    /// "Vote:", in the reply's language.
    fn vote_prompt(&self) -> String {
        message(self.lang, "chat-vote-prompt", &Args::new())
    }

    /// The vote buttons written out, `yes | no | ...` (with their emoji on platforms that show
    /// reactions).
    fn choices(&self, emoji: bool) -> String {
        let labels: Vec<String> = self
            .buttons
            .iter()
            .map(|b| {
                if emoji {
                    format!("{} {}", b.emoji(), b.label())
                } else {
                    b.label().to_owned()
                }
            })
            .collect();
        labels.join(" | ")
    }
}

impl Reply {
    /// Discord's markdown: `**bold**`, `` `code` ``, `- ` lists, every other piece of text
    /// escaped so a memo cannot format the message. Buttons are not written out: Discord shows
    /// them as components. Mentions (`<@123>`) stay as they are, so a payee is named; the
    /// adapter decides whether they ping.
    pub fn markdown(&self) -> String {
        let mut out = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Line(spans) => out.push(no_quote(markdown_spans(spans))),
                Block::List(items) => {
                    for item in items {
                        out.push(format!("- {}", markdown_spans(item)));
                    }
                }
            }
        }
        out.join("\n")
    }
}

/// A line starting with `>`, `#` or `-` would be a quote, a heading or a list item.
fn no_quote(line: String) -> String {
    if line.starts_with(['>', '#', '-']) {
        format!("\\{line}")
    } else {
        line
    }
}

fn markdown_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => markdown_escape(t),
            Span::Strong(t) => format!("**{}**", markdown_escape(t)),
            Span::Code(t) => markdown_code(t),
            Span::Amount { value, currency } => {
                format!(
                    "**{} {}**",
                    markdown_escape(value),
                    markdown_escape(currency)
                )
            }
        })
        .collect()
}

/// Escapes Discord markdown: a backslash before any punctuation mark is shown as that mark.
/// `<`, `>`, `@`, `:` and `/` are left alone so mentions (`<@123>`), emoji and commands keep
/// working; `>`, `#` and `-` only format at the start of a line, where [`Reply::markdown`]
/// escapes them.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Inline code; text with backticks gets a longer fence (code spans have no escapes).
fn markdown_code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {} ``", text.replace("``", "` `"))
    } else {
        format!("`{text}`")
    }
}

fn plain_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) | Span::Strong(t) | Span::Code(t) => t.clone(),
            Span::Amount { value, currency } => format!("{value} {currency}"),
        })
        .collect()
}

/// Spans as HTML (`b`, `code`), every piece of text escaped.
pub(crate) fn html_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => escape(t),
            Span::Strong(t) => format!("<b>{}</b>", escape(t)),
            Span::Code(t) => format!("<code>{}</code>", escape(t)),
            Span::Amount { value, currency } => {
                format!("<b>{} {}</b>", escape(value), escape(currency))
            }
        })
        .collect()
}

/// Escapes text for HTML bodies and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_plain_and_escaped_html() {
        let r = Reply::text("Paid ")
            .line(vec![
                Span::Amount {
                    value: "5.00".into(),
                    currency: "DEMO".into(),
                },
                Span::Text(" to <Ben>".into()),
            ])
            .vote_buttons(3);
        assert_eq!(
            r.plain(),
            "Paid \n5.00 DEMO to <Ben>\nVote: /vote 3 yes | no | abstain | block"
        );
        let html = r.html(false);
        assert!(html.contains("<b>5.00 DEMO</b> to &lt;Ben&gt;"), "{html}");
        assert!(!html.contains("<Ben>"));
    }

    #[test]
    fn renders_escaped_markdown() {
        let r = Reply::text("Paid ")
            .line(vec![
                Span::Amount {
                    value: "5.00".into(),
                    currency: "DEMO".into(),
                },
                Span::Text(" to ".into()),
                Span::Strong("<@42>".into()),
                Span::Text(" for *cake* #1".into()),
            ])
            .list(vec![vec![Span::Code("/vote 3 yes".into())]])
            .vote_buttons(3);
        assert_eq!(
            r.markdown(),
            "Paid \n**5.00 DEMO** to **<@42>** for \\*cake\\* #1\n- `/vote 3 yes`"
        );
        assert_eq!(Reply::text("> not a quote").markdown(), "\\> not a quote");
        assert_eq!(
            Reply::text("# not-a-heading").markdown(),
            "\\# not-a-heading"
        );
        assert_eq!(
            Reply::new(Tone::Ok)
                .line(vec![Span::Code("a`b".into())])
                .markdown(),
            "`` a`b ``"
        );
    }

    #[test]
    fn emoji_round_trip() {
        for c in [Choice::Yes, Choice::No, Choice::Abstain, Choice::Block] {
            assert_eq!(choice_for_emoji(emoji_for(c)), Some(c));
        }
        assert_eq!(choice_for_emoji("👍\u{fe0f}"), Some(Choice::Yes));
        assert_eq!(choice_for_emoji("🎉"), None);
    }
}
