//! Pure translations between Telegram and the engine: the HTML Telegram accepts, vote buttons as
//! callback data, the command menu, and mentions rewritten to user ids.

use std::ops::Range;

use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::i18n::Lang;

use crate::command::help_lines;
use crate::reply::{Block, Reply, VoteButton, html_spans};

/// Telegram refuses a message longer than this (in UTF-16 units; characters are a safe bound).
const MAX_MESSAGE_CHARS: usize = 4096;

/// A reply as Telegram HTML. `Reply::html` is not it: Telegram rejects `<br>`, `<ul>` and `<li>`
/// ("unsupported start tag"), so lines are newlines and list items bullets. Vote buttons are an
/// inline keyboard ([`vote_buttons`]), not text.
pub fn html(reply: &Reply) -> String {
    let mut lines = Vec::new();
    for block in &reply.blocks {
        match block {
            Block::Line(spans) => lines.push(html_spans(spans)),
            Block::List(items) => {
                lines.extend(items.iter().map(|item| format!("• {}", html_spans(item))));
            }
        }
    }
    // Whole lines only, so no tag is cut in half.
    let mut out = String::new();
    for line in lines {
        let extra = usize::from(!out.is_empty()) + line.chars().count();
        if out.chars().count() + extra > MAX_MESSAGE_CHARS - 1 {
            out.push_str("\n…");
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

/// The inline keyboard of a reply: one row, (label, callback data) per vote button.
pub fn vote_buttons(reply: &Reply) -> Vec<(String, String)> {
    reply
        .buttons
        .iter()
        .map(|b| (format!("{} {}", b.emoji(), b.caption(reply.lang)), b.data()))
        .collect()
}

/// The vote a button's callback data stands for.
pub fn vote_data(data: &str) -> Option<(i64, Choice)> {
    VoteButton::from_data(data).map(|b| (b.proposal, b.choice))
}

/// The command menu (`setMyCommands`) in `lang` from the grammar's help: names are 1–32 of
/// `a-z0-9_`, descriptions 1–256 characters.
pub fn command_menu(lang: Lang) -> Vec<(String, String)> {
    help_lines(lang)
        .into_iter()
        .filter_map(|(usage, summary)| {
            let name = usage
                .trim_start_matches(['/', '!'])
                .split_whitespace()
                .next()?
                .to_lowercase();
            let ok = (1..=32).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            let description: String = summary.chars().take(256).collect();
            (ok && !description.is_empty()).then_some((name, description))
        })
        .collect()
}

/// Replaces byte ranges of `text` (entity spans, which never overlap) by new text.
pub fn rewrite(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_owned();
    let mut limit = out.len();
    for (range, with) in edits {
        if range.end <= limit
            && range.start <= range.end
            && out.is_char_boundary(range.start)
            && out.is_char_boundary(range.end)
        {
            out.replace_range(range.clone(), &with);
            limit = range.start;
        }
    }
    out
}

/// `/pay 5 for bread` sent as a reply to Ben's message: the line with Ben (`@<id>`) put after
/// the command word, where the grammar wants the payee. The caller keeps it only if it then
/// parses as a payment and the line named nobody itself.
pub fn with_payee(text: &str, mention: &str) -> String {
    let text = text.trim_start();
    let head = text.find(char::is_whitespace).unwrap_or(text.len());
    format!("{} {mention}{}", &text[..head], &text[head..])
}

/// A Telegram user id as the engine's mention (`@123`): usernames start with a letter, so an
/// all-digit name is always an id.
pub fn id_mention(id: u64) -> String {
    format!("@{id}")
}

/// Whether a mention's id is a Telegram user id rather than an unresolved username.
pub fn is_user_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Span;

    #[test]
    fn html_is_what_telegram_accepts() {
        let r = Reply::text("Paid ")
            .line(vec![
                Span::Amount {
                    value: "5.00".into(),
                    currency: "DEMO".into(),
                },
                Span::Text(" to <Ben>".into()),
            ])
            .list(vec![vec![Span::Code("/pay".into())]])
            .vote_buttons(3);
        let h = html(&r);
        assert_eq!(
            h,
            "Paid \n<b>5.00 DEMO</b> to &lt;Ben&gt;\n• <code>/pay</code>"
        );
        assert!(!h.contains("<br>") && !h.contains("<li>"));
        let long = Reply::text("x".repeat(3000)).line(vec![Span::Text("y".repeat(3000))]);
        let h = html(&long);
        assert!(h.chars().count() <= MAX_MESSAGE_CHARS && h.ends_with('…'));
    }

    #[test]
    fn vote_buttons_round_trip() {
        let r = Reply::text("New proposal").vote_buttons(42);
        let buttons = vote_buttons(&r);
        assert_eq!(buttons.len(), 4);
        assert_eq!(buttons[0], ("👍 yes".to_owned(), "vote:42:yes".to_owned()));
        for (_, data) in &buttons {
            assert_eq!(vote_data(data).map(|(p, _)| p), Some(42));
        }
        assert_eq!(vote_data("vote:42:block"), Some((42, Choice::Block)));
        assert_eq!(vote_data("vote:x:yes"), None);
        assert_eq!(vote_data("vote:1:maybe"), None);
        assert_eq!(vote_data("vote:1:yes:extra"), None);
    }

    #[test]
    fn command_menu_lists_every_verb() {
        for lang in Lang::ALL {
            let menu = command_menu(lang);
            assert_eq!(menu.len(), help_lines(lang).len(), "{lang}");
            assert!(menu.iter().any(|(n, _)| n == "pay"));
            assert!(menu.iter().any(|(n, _)| n == "language"));
        }
        let german = command_menu(Lang::De);
        assert!(
            german
                .iter()
                .any(|(n, d)| n == "pay" && d == "jemanden von deinem Konto bezahlen"),
            "{german:?}"
        );
    }

    #[test]
    fn rewrites_spans_and_inserts_payees() {
        let text = "/pay @Ben 5 for café with @ana";
        let ben = text.find("@Ben").unwrap_or(0);
        let ana = text.find("@ana").unwrap_or(0);
        let out = rewrite(
            text,
            vec![
                (ben..ben + 4, id_mention(222)),
                (ana..ana + 4, id_mention(111)),
            ],
        );
        assert_eq!(out, "/pay @222 5 for café with @111");
        assert_eq!(
            with_payee("/pay 5 for bread", "@222"),
            "/pay @222 5 for bread"
        );
        assert_eq!(with_payee("/pay@coinbot", "@7"), "/pay@coinbot @7");
        assert!(is_user_id("123") && !is_user_id("ben") && !is_user_id(""));
    }
}
