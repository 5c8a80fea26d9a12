//! Sentences from the message catalog (`api/locales/<lang>/{chat,notices}.ftl`) as reply spans.
//!
//! A catalog message decides where its pieces go ("Paid 5.00 COIN to Ben" and "5,00 COIN an Ben
//! gezahlt" put them in other orders), but a reply needs some pieces as spans of their own (an
//! amount, a name in bold, a command to copy). So each such piece is passed as a *mark*: the
//! message is rendered with a placeholder in its place, and the placeholders are then replaced
//! by the spans. Text a person typed (names, memos, titles) always goes in as a mark, never as a
//! Fluent argument: it is placed after rendering, so nothing in it is read as a placeholder.

use chrono::{DateTime, Utc};
use coinsence_api::domain::money::{Scale, format_minor_in};
use coinsence_api::i18n::{Args, Lang, message};

use crate::reply::{Reply, Span, Tone};

/// Placeholder brackets: private-use characters, which no catalog message contains.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// A catalog message as plain text.
pub fn text(lang: Lang, id: &str, args: &Args) -> String {
    message(lang, id, args)
}

/// A catalog message without arguments.
pub fn plain(lang: Lang, id: &str) -> String {
    message(lang, id, &Args::new())
}

/// A catalog message as spans: `args` are Fluent arguments (counts, our own words), `marks`
/// the named spans the message places.
pub fn spans(lang: Lang, id: &str, args: Args, marks: Vec<(&'static str, Span)>) -> Vec<Span> {
    let mut args = args;
    for (i, (name, _)) in marks.iter().enumerate() {
        args = args.text(*name, format!("{OPEN}{i}{CLOSE}"));
    }
    let rendered = message(lang, id, &args);
    let mut out = Vec::new();
    let mut rest = rendered.as_str();
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            break;
        };
        let Some((_, span)) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| marks.get(i))
        else {
            break;
        };
        push_text(&mut out, &rest[..start]);
        out.push(span.clone());
        rest = &after[end + CLOSE.len_utf8()..];
    }
    push_text(&mut out, rest);
    out
}

fn push_text(out: &mut Vec<Span>, text: &str) {
    if !text.is_empty() {
        out.push(Span::Text(text.to_owned()));
    }
}

/// A reply of one catalog line.
pub fn line(lang: Lang, id: &str, args: Args, marks: Vec<(&'static str, Span)>) -> Reply {
    Reply::new(Tone::Ok)
        .in_lang(lang)
        .line(spans(lang, id, args, marks))
}

/// A person's mistake or a refusal, as one catalog line.
pub fn error(lang: Lang, id: &str, args: Args, marks: Vec<(&'static str, Span)>) -> Reply {
    Reply::new(Tone::Error)
        .in_lang(lang)
        .line(spans(lang, id, args, marks))
}

/// Text as a mark (placed, never interpreted).
pub fn t(text: impl Into<String>) -> Span {
    Span::Text(text.into())
}

/// Bold text as a mark.
pub fn strong(text: impl Into<String>) -> Span {
    Span::Strong(text.into())
}

/// Something to type or copy, as a mark.
pub fn code(text: impl Into<String>) -> Span {
    Span::Code(text.into())
}

/// An amount in minor units, written as `lang` writes numbers.
pub fn amount(minor: i64, scale: Scale, currency: &str, lang: Lang) -> Span {
    Span::Amount {
        value: format_minor_in(minor, scale, lang),
        currency: currency.to_owned(),
    }
}

/// An amount the domain wrote as plain decimal text ("1234.50", "-3", "0.00"), written as
/// `lang` writes numbers ("1.234,50" in German); text that is not such a number stays as it is.
pub fn decimal(text: &str, currency: &str, lang: Lang) -> Span {
    Span::Amount {
        value: decimal_in(text, lang),
        currency: currency.to_owned(),
    }
}

/// See [`decimal`].
pub fn decimal_in(text: &str, lang: Lang) -> String {
    let minor_and_scale = || {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let scale = Scale::new(u8::try_from(fraction.len()).ok()?).ok()?;
        let minor: i64 = format!("{whole}{fraction}").parse().ok()?;
        Some((if negative { -minor } else { minor }, scale))
    };
    match minor_and_scale() {
        Some((minor, scale)) => format_minor_in(minor, scale, lang),
        None => text.to_owned(),
    }
}

/// A point in time as `lang` writes it (always UTC, and said so).
pub fn when(at: DateTime<Utc>, lang: Lang) -> String {
    match lang {
        Lang::En => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        Lang::De => at.format("%d.%m.%Y %H:%M UTC").to_string(),
    }
}

/// A day as `lang` writes it.
pub fn day(at: DateTime<Utc>, lang: Lang) -> String {
    match lang {
        Lang::En => at.format("%Y-%m-%d").to_string(),
        Lang::De => at.format("%d.%m.%Y").to_string(),
    }
}

/// A language's own name, for telling people which one they read.
pub fn language_name(of: Lang, lang: Lang) -> String {
    text(
        lang,
        "chat-language-name",
        &Args::new().text("lang", of.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_land_where_the_message_puts_them() {
        let got = spans(
            Lang::De,
            "chat-paid",
            Args::new(),
            vec![("amount", t("5,00 X")), ("payee", strong("Ben"))],
        );
        assert!(got.contains(&Span::Strong("Ben".into())), "{got:?}");
        assert!(got.contains(&Span::Text("5,00 X".into())), "{got:?}");
        // A typed placeholder in a mark is placed as text, never replaced.
        let sneaky = format!("{OPEN}0{CLOSE}");
        let got = spans(
            Lang::En,
            "chat-paid",
            Args::new(),
            vec![("amount", t("1")), ("payee", strong(sneaky.clone()))],
        );
        assert!(got.contains(&Span::Strong(sneaky)), "{got:?}");
    }

    #[test]
    fn domain_decimals_are_written_per_language() {
        assert_eq!(decimal_in("1234.50", Lang::De), "1.234,50");
        assert_eq!(decimal_in("1234.50", Lang::En), "1,234.50");
        assert_eq!(decimal_in("-3", Lang::De), "-3");
        assert_eq!(decimal_in("0.00", Lang::De), "0,00");
        assert_eq!(decimal_in("n/a", Lang::De), "n/a");
    }
}
