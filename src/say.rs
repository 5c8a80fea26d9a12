//! The binary's sentences for people, from the catalog (`api/locales/<lang>/cli.ftl`), in the
//! language of the terminal: `--lang` (or `COINSENCE_LANG`), else the locale the shell sets
//! (`LC_ALL`, `LC_MESSAGES`, `LANG`: `de_DE.UTF-8` and every other `de*` is German), else English.
//! Machine output (a URL or code alone, JSON, CSV, tables of figures) is printed as it is.

use std::sync::OnceLock;

use coinsence_api::i18n::{Args, Lang, message};

static LANG: OnceLock<Lang> = OnceLock::new();

/// Fixes the language for the process (before anything is said); `flag` is `--lang`.
pub fn init(flag: Option<Lang>) -> Lang {
    *LANG.get_or_init(|| flag.unwrap_or_else(from_locale))
}

/// The language the binary speaks (the shell's, when nothing was said before `init`).
pub fn lang() -> Lang {
    *LANG.get_or_init(from_locale)
}

/// `tr!("cli-up-at", url = base)`: message `cli-up-at` with `$url` set to `base` (anything
/// `Display`), in the binary's language.
macro_rules! tr {
    ($id:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::say::text(
            $id,
            &coinsence_api::i18n::Args::new()$(.text(stringify!($name), ($value).to_string()))*,
        )
    };
}
pub(crate) use tr;

/// Message `id` of `cli.ftl` in the binary's language.
pub fn text(id: &str, args: &Args) -> String {
    message(lang(), id, args)
}

/// The POSIX order: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set decides (so
/// `LC_ALL=C` means English even under `LANG=de_DE.UTF-8`).
fn from_locale() -> Lang {
    locale_lang(["LC_ALL", "LC_MESSAGES", "LANG"].map(|name| std::env::var(name).ok()))
}

fn locale_lang(values: [Option<String>; 3]) -> Lang {
    values
        .into_iter()
        .flatten()
        .find(|value| !value.is_empty())
        .and_then(|value| Lang::from_tag(&value))
        .unwrap_or(Lang::En)
}

/// An error as a person reads it: a refusal or other core error in the binary's language,
/// every other cause as it says itself, joined as `{:#}` would.
pub fn error(e: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in e.chain() {
        if let Some(core) = cause.downcast_ref::<coinsence_api::Error>() {
            // Its own sentence already says what its sources would add.
            parts.push(core.message(lang()));
            break;
        }
        if let Some(refusal) = cause.downcast_ref::<coinsence_api::refusal::Refusal>() {
            parts.push(refusal.message(lang()));
            break;
        }
        parts.push(cause.to_string());
    }
    text("cli-error", &Args::new().text("error", parts.join(": ")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use coinsence_api::i18n::message_ids;

    use super::*;

    #[test]
    fn the_shells_locale_decides_in_posix_order() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(locale_lang([None, None, some("de_DE.UTF-8")]), Lang::De);
        assert_eq!(
            locale_lang([some("C"), None, some("de_DE.UTF-8")]),
            Lang::En
        );
        assert_eq!(
            locale_lang([some(""), some("de_AT"), some("en_US")]),
            Lang::De
        );
        assert_eq!(locale_lang([None, None, some("C.UTF-8")]), Lang::En);
        assert_eq!(locale_lang([None, None, None]), Lang::En);
    }

    /// Every `cli-…` id the binary's sources name is in the catalog (in every language: the
    /// catalog's own test keeps the languages equal), so no person reads a bare id.
    #[test]
    fn every_message_the_binary_says_is_in_the_catalog() {
        let known = message_ids(Lang::En);
        let mut missing = BTreeSet::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        for entry in std::fs::read_dir(dir).expect("src/") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("source");
            for (at, _) in source.match_indices("\"cli-") {
                let rest = &source[at + 1..];
                let id = &rest[..rest.find('"').unwrap_or(0)];
                let is_id = !id.ends_with('-')
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if is_id && !known.contains(id) {
                    missing.insert(format!("{}: {id}", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "not in cli.ftl: {missing:?}");
    }
}
