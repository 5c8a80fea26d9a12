//! People's text: the one parser every name, title, memo and body goes through on its way in.
//!
//! Two kinds:
//! - a **line** (display names, org and currency names, titles, memos): one line of visible
//!   text. Control characters, direction controls and invisible characters are refused: a member
//!   named `"\u{202e}evil"` or `"a\u{200b}na"` would pass for someone else.
//! - a **body** (posts, comments, descriptions): several lines. Line breaks are kept (`\r\n`,
//!   `\r`, U+2028 and U+2029 become `\n`) and tabs too; other control characters are refused.
//!   The implicit direction marks that right-to-left writing needs (LRM, RLM, ALM) and the
//!   joiners that emoji and Persian or Indic scripts need are allowed; the explicit embeddings,
//!   overrides and isolates are not: a body is shown inside other text (a chat line "Ana
//!   posted: …", a notification), where an unterminated override reverses what follows it.
//!
//! Both are trimmed, and bounded in characters (not bytes). NUL never reaches PostgreSQL, which
//! refuses it in `text` (that was a 500).

use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// Why a character may not be in a line, or `None` when it may.
fn refused_in_line(c: char) -> Option<&'static str> {
    if c.is_control() {
        return Some("a control character");
    }
    if is_line_separator(c) {
        return Some("a line break");
    }
    if is_explicit_bidi(c) || is_bidi_mark(c) {
        return Some("a text direction control");
    }
    if is_invisible(c) || is_joiner(c) {
        return Some("an invisible character");
    }
    if is_noncharacter(c) {
        return Some("a noncharacter");
    }
    None
}

/// Why a character may not be in a body (after line breaks are normalized), or `None`.
fn refused_in_body(c: char) -> Option<&'static str> {
    if c.is_control() && c != '\n' && c != '\t' {
        return Some("a control character");
    }
    if is_explicit_bidi(c) {
        return Some("a text direction override");
    }
    if is_annotation(c) {
        return Some("an invisible character");
    }
    if is_noncharacter(c) {
        return Some("a noncharacter");
    }
    None
}

/// Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder the text
/// after them until closed.
fn is_explicit_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// LRM, RLM and ALM: zero-width characters with a direction.
fn is_bidi_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Zero-width non-joiner and joiner: needed in words and emoji, invisible in a name.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// Interlinear annotations (U+FFF9–U+FFFB): they hide the text between them in most displays.
fn is_annotation(c: char) -> bool {
    matches!(c, '\u{FFF9}'..='\u{FFFB}')
}

/// Format characters (Unicode category Cf) other than the direction controls and joiners, and
/// the characters that show as blank although they are not spaces (Hangul fillers, Khmer
/// inherent vowels, the combining grapheme joiner): in a name they make two names that look the
/// same differ, or a name that looks empty.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2065}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// U+FDD0–U+FDEF and the last two code points of every plane: never meant for interchange.
fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// How a refused character is named in the reason: `U+202E (a text direction control)`.
fn character(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A length limit as a refusal argument.
fn clamp(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn check_length(field: &'static str, text: &str, min: usize, max: usize) -> Result<()> {
    let n = text.chars().count();
    if n < min || n > max {
        let (min, max) = (clamp(min), clamp(max));
        return Err(Error::from(if min == 0 {
            Refusal::TextTooLong { field, max }
        } else {
            Refusal::TextLength { field, min, max }
        }));
    }
    Ok(())
}

/// One line of visible text (a name, a title, a memo), trimmed, of `min..=max` characters.
pub fn line(field: &'static str, text: &str, min: usize, max: usize) -> Result<String> {
    let text = text.trim();
    if let Some(c) = text.chars().find(|c| refused_in_line(*c).is_some()) {
        return Err(Error::from(Refusal::CharacterNotAllowedInLine {
            field,
            character: character(c),
        }));
    }
    check_length(field, text, min, max)?;
    Ok(text.to_owned())
}

/// Text of several lines (a post, a comment, a description): line breaks normalized to `\n`,
/// trimmed, of `min..=max` characters.
pub fn body(field: &'static str, text: &str, min: usize, max: usize) -> Result<String> {
    let normalized = normalize_line_breaks(text);
    let text = normalized.trim();
    if let Some(c) = text.chars().find(|c| refused_in_body(*c).is_some()) {
        return Err(Error::from(Refusal::CharacterNotAllowedInText {
            field,
            character: character(c),
        }));
    }
    check_length(field, text, min, max)?;
    Ok(text.to_owned())
}

/// `\r\n`, a lone `\r`, U+2028 and U+2029 all become `\n`.
fn normalize_line_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// A name that is not the person's input to us (a chat platform's display name) made to fit a
/// line: what a line refuses is dropped rather than refused, then it is trimmed and cut to `max`
/// characters. May be empty.
pub fn fit_line(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| refused_in_line(*c).is_none())
        .collect();
    let cut: String = kept.trim().chars().take(max).collect();
    cut.trim_end().to_owned()
}

/// Whether a text has a character no line may have (for values that are not names but must
/// still be plain, such as email addresses).
pub fn has_refused_line_char(text: &str) -> bool {
    text.chars().any(|c| refused_in_line(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn field_of(r: Result<String>) -> Option<String> {
        match r {
            Err(e) => e.refusal().and_then(Refusal::field).map(str::to_owned),
            Ok(_) => None,
        }
    }

    #[test]
    fn lines_refuse_controls_direction_and_invisible_characters() {
        for bad in [
            "a\0b",
            "\u{0}",
            "a\u{1}b",
            "a\nb",
            "a\tb",
            "a\u{7f}b",
            "a\u{85}b",
            "\u{202e}evil",
            "a\u{2066}b",
            "a\u{200b}na",
            "a\u{200d}na",
            "a\u{200f}na",
            "a\u{2060}na",
            "\u{feff}ana",
            "ana\u{00ad}",
            "a\u{2028}b",
            "\u{3164}",
            "tag\u{e0041}",
            "x\u{fffe}",
        ] {
            assert_eq!(
                field_of(line("name", bad, 1, 100)).as_deref(),
                Some("name"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lines_keep_what_people_write() {
        for (input, want) in [
            ("  Ana  ", "Ana"),
            ("Zoë Müller-Łukasz", "Zoë Müller-Łukasz"),
            ("محمد", "محمد"),
            ("田中 太郎", "田中 太郎"),
            ("❤\u{fe0f} Bike Kitchen", "❤\u{fe0f} Bike Kitchen"),
        ] {
            assert_eq!(line("name", input, 1, 100).ok().as_deref(), Some(want));
        }
        assert!(line("name", "   ", 1, 100).is_err());
        assert!(
            line("name", "\u{3000}", 1, 100).is_err(),
            "ideographic space"
        );
        assert_eq!(line("memo", "", 0, 500).ok().as_deref(), Some(""));
        assert!(line("name", &"é".repeat(100), 1, 100).is_ok(), "characters");
        assert!(line("name", &"é".repeat(101), 1, 100).is_err());
    }

    #[test]
    fn bodies_keep_lines_and_refuse_other_controls() {
        assert_eq!(
            body("body", "  one\r\ntwo\rthree\u{2028}four\n\tfive  ", 1, 100)
                .ok()
                .as_deref(),
            Some("one\ntwo\nthree\nfour\n\tfive")
        );
        assert!(body("body", "שלום \u{200f}world\u{200e}", 1, 100).is_ok());
        assert!(body("body", "👨\u{200d}👩\u{200d}👧 family", 1, 100).is_ok());
        for bad in [
            "a\0b",
            "a\u{1b}[31mred",
            "\u{202e}txt.exe",
            "a\u{2067}b",
            "a\u{fff9}b",
        ] {
            assert_eq!(
                field_of(body("body", bad, 1, 100)).as_deref(),
                Some("body"),
                "{bad:?}"
            );
        }
        assert!(body("body", "\r\n\r\n", 1, 100).is_err(), "blank");
    }

    #[test]
    fn refusals_name_the_character() {
        let Err(Error::Refused(refusal)) = line("display_name", "\u{202e}evil", 1, 100) else {
            panic!("accepted");
        };
        assert_eq!(
            refusal,
            Refusal::CharacterNotAllowedInLine {
                field: "display_name",
                character: "U+202E".to_owned()
            }
        );
    }

    #[test]
    fn platform_names_are_stripped_not_refused() {
        assert_eq!(fit_line(" \u{202e}Ana\0 B\u{200b}o ", 100), "Ana Bo");
        assert_eq!(fit_line("\u{202e}\u{200b}", 100), "");
        assert_eq!(fit_line(&"a".repeat(300), 100).chars().count(), 100);
        assert_eq!(
            fit_line(&format!("{} b", "a".repeat(99)), 100),
            "a".repeat(99)
        );
    }

    /// Any text, weighted towards the characters the parser cares about.
    fn texts() -> impl Strategy<Value = String> {
        let interesting = prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '\0',
                '\n',
                '\r',
                '\t',
                ' ',
                '\u{85}',
                '\u{a0}',
                '\u{2028}',
                '\u{2029}',
                '\u{202e}',
                '\u{2066}',
                '\u{200b}',
                '\u{200d}',
                '\u{200f}',
                '\u{feff}',
                '\u{3000}',
                '\u{fffe}',
                '\u{e0041}',
                'a',
                'é',
                '文',
            ]),
        ];
        prop::collection::vec(interesting, 0..40).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::domain::fuzz_cases()))]

        #[test]
        fn accepted_lines_are_plain_and_parse_to_themselves(text in texts()) {
            if let Ok(out) = line("name", &text, 0, 100) {
                prop_assert!(out.chars().all(|c| refused_in_line(c).is_none()), "{out:?}");
                prop_assert_eq!(line("name", &out, 0, 100).ok(), Some(out.clone()));
                prop_assert_eq!(out.trim(), out.as_str());
            }
        }

        #[test]
        fn accepted_bodies_are_plain_and_parse_to_themselves(text in texts()) {
            if let Ok(out) = body("body", &text, 0, 100) {
                prop_assert!(out.chars().all(|c| refused_in_body(c).is_none()), "{out:?}");
                prop_assert!(!out.contains('\r') && !out.contains('\0'), "{out:?}");
                prop_assert_eq!(body("body", &out, 0, 100).ok(), Some(out.clone()));
            }
        }

        #[test]
        fn fitted_names_are_accepted_lines(text in texts()) {
            let fitted = fit_line(&text, 100);
            prop_assert!(fitted.chars().count() <= 100);
            prop_assert_eq!(line("name", &fitted, 0, 100).ok(), Some(fitted.clone()));
            prop_assert_eq!(fit_line(&fitted, 100), fitted);
        }
    }
}
