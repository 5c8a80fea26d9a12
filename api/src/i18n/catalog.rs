//! The Fluent catalogs, compiled in, and the one function that renders a message.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;

use serde::{Deserialize, Serialize};

use super::Lang;
use crate::domain::money::{Scale, format_minor_in};

/// The catalog files of each language, in the order they are loaded. A message id is unique
/// across a language's files (a duplicate fails the catalog test).
macro_rules! catalog_files {
    ($lang:literal) => {
        [
            (
                concat!($lang, "/refusals.ftl"),
                include_str!(concat!("../../locales/", $lang, "/refusals.ftl")),
            ),
            (
                concat!($lang, "/chat.ftl"),
                include_str!(concat!("../../locales/", $lang, "/chat.ftl")),
            ),
            (
                concat!($lang, "/notices.ftl"),
                include_str!(concat!("../../locales/", $lang, "/notices.ftl")),
            ),
            (
                concat!($lang, "/cli.ftl"),
                include_str!(concat!("../../locales/", $lang, "/cli.ftl")),
            ),
            (
                concat!($lang, "/portal.ftl"),
                include_str!(concat!("../../locales/", $lang, "/portal.ftl")),
            ),
        ]
    };
}

fn files(lang: Lang) -> [(&'static str, &'static str); 5] {
    match lang {
        Lang::En => catalog_files!("en"),
        Lang::De => catalog_files!("de"),
    }
}

struct Catalog {
    bundle: FluentBundle<FluentResource>,
    resources: Vec<FluentResource>,
}

static CATALOGS: LazyLock<[Catalog; 2]> = LazyLock::new(|| Lang::ALL.map(load));

fn load(lang: Lang) -> Catalog {
    let mut bundle = FluentBundle::new_concurrent(vec![lang.langid()]);
    // Chat platforms and terminals show the isolation marks as stray characters.
    bundle.set_use_isolating(false);
    let mut resources = Vec::new();
    for (name, text) in files(lang) {
        // A broken file is caught by the catalog test; at run time its good entries still serve.
        let parse = || {
            FluentResource::try_new(text.to_owned()).unwrap_or_else(|(res, errors)| {
                tracing::error!(file = name, ?errors, "message catalog has syntax errors");
                res
            })
        };
        if let Err(errors) = bundle.add_resource(parse()) {
            tracing::error!(file = name, ?errors, "message catalog has duplicate ids");
        }
        // The bundle owns its resource; a second copy keeps the syntax tree for the tests'
        // and the documentation's questions (which ids, which variables).
        resources.push(parse());
    }
    Catalog { bundle, resources }
}

fn catalog(lang: Lang) -> &'static Catalog {
    &CATALOGS[Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

/// Named arguments of a message: text (names, ids), counts (which choose plural forms) or
/// amounts (formatted for the language the message is rendered in). They do not depend on the
/// language, so they can be kept (as JSON) and rendered later for whoever reads them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Args(Vec<(Cow<'static, str>, Arg)>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Arg {
    Text(String),
    Count(i64),
    Money { minor: i64, scale: Scale },
}

impl Args {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.0.push((name.into(), Arg::Text(value.into())));
        self
    }

    /// An amount in minor units: "1,234.50" in English, "1.234,50" in German.
    pub fn money(mut self, name: impl Into<Cow<'static, str>>, minor: i64, scale: Scale) -> Self {
        self.0.push((name.into(), Arg::Money { minor, scale }));
        self
    }

    /// A count: it selects plural forms (`[one]`, `*[other]`) and prints without grouping.
    pub fn count(mut self, name: impl Into<Cow<'static, str>>, value: i64) -> Self {
        self.0.push((name.into(), Arg::Count(value)));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names and values as a message in `lang` shows them, in the order given.
    pub fn iter(&self, lang: Lang) -> impl Iterator<Item = (&str, String)> {
        self.0.iter().map(move |(name, arg)| {
            let value = match arg {
                Arg::Text(text) => text.clone(),
                Arg::Count(n) => n.to_string(),
                Arg::Money { minor, scale } => format_minor_in(*minor, *scale, lang),
            };
            (name.as_ref(), value)
        })
    }

    fn fluent(&self, lang: Lang) -> FluentArgs<'_> {
        self.0
            .iter()
            .map(|(name, arg)| {
                let value = match arg {
                    Arg::Text(text) => FluentValue::from(text.as_str()),
                    Arg::Count(n) => FluentValue::from(*n),
                    Arg::Money { minor, scale } => {
                        FluentValue::from(format_minor_in(*minor, *scale, lang))
                    }
                };
                (name.as_ref(), value)
            })
            .collect()
    }
}

/// The message `id` in `lang`, with its arguments. A message missing in `lang` falls back to
/// English, and a message missing everywhere shows its id (both logged): a person always gets
/// an answer, and the catalog test keeps both from happening.
pub fn message(lang: Lang, id: &str, args: &Args) -> String {
    if let Some(text) = render(lang, id, args) {
        return text;
    }
    tracing::error!(%lang, id, "message missing from the catalog");
    render(Lang::En, id, args).unwrap_or_else(|| id.to_owned())
}

fn render(lang: Lang, id: &str, args: &Args) -> Option<String> {
    let bundle = &catalog(lang).bundle;
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let fluent_args = args.fluent(lang);
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    if !errors.is_empty() {
        tracing::error!(%lang, id, ?errors, "message rendered with errors");
    }
    Some(text.into_owned())
}

/// Whether `lang`'s catalog has message `id`.
pub fn has_message(lang: Lang, id: &str) -> bool {
    catalog(lang).bundle.has_message(id)
}

/// Every message id of a language's catalog (for completeness tests and documentation).
pub fn message_ids(lang: Lang) -> BTreeSet<&'static str> {
    catalog(lang)
        .resources
        .iter()
        .flat_map(FluentResource::entries)
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => Some(message.id.name),
            _ => None,
        })
        .collect()
}

/// The variables (`$name`) message `id` refers to in `lang`, through every variant and
/// attribute; `None` when the message is missing.
pub fn referenced_args(lang: Lang, id: &str) -> Option<BTreeSet<&'static str>> {
    let message = catalog(lang)
        .resources
        .iter()
        .flat_map(FluentResource::entries)
        .find_map(|entry| match entry {
            ast::Entry::Message(message) if message.id.name == id => Some(message),
            _ => None,
        })?;
    let mut found = BTreeSet::new();
    if let Some(value) = &message.value {
        pattern_vars(value, &mut found);
    }
    for attribute in &message.attributes {
        pattern_vars(&attribute.value, &mut found);
    }
    Some(found)
}

fn pattern_vars(pattern: &ast::Pattern<&'static str>, found: &mut BTreeSet<&'static str>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_vars(expression, found);
        }
    }
}

fn expression_vars(expression: &ast::Expression<&'static str>, found: &mut BTreeSet<&'static str>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, found);
            for variant in variants {
                pattern_vars(&variant.value, found);
            }
        }
        ast::Expression::Inline(inline) => inline_vars(inline, found),
    }
}

fn inline_vars(inline: &ast::InlineExpression<&'static str>, found: &mut BTreeSet<&'static str>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            found.insert(id.name);
        }
        ast::InlineExpression::FunctionReference { arguments, .. }
        | ast::InlineExpression::TermReference {
            arguments: Some(arguments),
            ..
        } => {
            for argument in &arguments.positional {
                inline_vars(argument, found);
            }
            for named in &arguments.named {
                inline_vars(&named.value, found);
            }
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, found),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of every language parses, no id is defined twice, every language has exactly
    /// the messages English has, and each message uses the same variables in every language
    /// (a German sentence cannot drop the amount or ask for an argument nobody passes).
    #[test]
    fn catalogs_are_complete_and_consistent() {
        for lang in Lang::ALL {
            let mut seen = BTreeSet::new();
            for (name, text) in files(lang) {
                if let Err((_, errors)) = FluentResource::try_new(text.to_owned()) {
                    panic!("{name} has syntax errors: {errors:?}");
                }
                let resource = FluentResource::try_new(text.to_owned()).unwrap_or_else(|(r, _)| r);
                for entry in resource.entries() {
                    if let ast::Entry::Message(m) = entry {
                        assert!(
                            seen.insert(m.id.name.to_owned()),
                            "{name}: {} defined twice",
                            m.id.name
                        );
                    }
                }
            }
        }
        let english = message_ids(Lang::En);
        for lang in Lang::ALL {
            let ids = message_ids(lang);
            let missing: Vec<_> = english.difference(&ids).collect();
            let extra: Vec<_> = ids.difference(&english).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang} has messages English lacks: {extra:?}"
            );
            for id in &english {
                assert_eq!(
                    referenced_args(lang, id),
                    referenced_args(Lang::En, id),
                    "{lang}: {id} uses other variables than English"
                );
            }
        }
    }

    #[test]
    fn renders_with_arguments_and_plurals() {
        let args = |n| Args::new().count("count", n);
        assert_eq!(message(Lang::En, "test-plural", &args(1)), "1 member");
        assert_eq!(message(Lang::En, "test-plural", &args(3)), "3 members");
        assert_eq!(message(Lang::De, "test-plural", &args(1)), "1 Mitglied");
        assert_eq!(message(Lang::De, "test-plural", &args(3)), "3 Mitglieder");
    }

    #[test]
    fn a_missing_message_shows_its_id() {
        assert_eq!(
            message(Lang::De, "no-such-message", &Args::new()),
            "no-such-message"
        );
    }
}
