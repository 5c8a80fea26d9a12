//! The languages Coinsence speaks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language with a complete catalog. `En` is the fallback where nothing says otherwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    De,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language; use one of: en, de")]
pub struct LangParseError;

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The tag stored in the database and shown in the API: `en`, `de`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// A language tag as platforms send it (`de`, `de-DE`, `de_AT`, `EN-us`): its primary
    /// subtag decides. `None` for a language without a catalog.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// The best language of an HTTP `Accept-Language` header (highest quality first, order of
    /// appearance breaking ties); `None` when it names none we speak.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            // Quality in thousandths: "q=0.8" → 800; malformed → skipped as q=0.
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), parse_quality)
                .unwrap_or(0);
            if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    /// Which language a person reads: their own choice, else their platform's, else the org's.
    pub fn pick(own: Option<Lang>, platform: Option<Lang>, org: Lang) -> Lang {
        own.or(platform).unwrap_or(org)
    }

    /// The decimal separator of amounts in this language.
    pub fn decimal_separator(self) -> char {
        match self {
            Lang::En => '.',
            Lang::De => ',',
        }
    }

    /// The separator between groups of three digits.
    pub fn group_separator(self) -> char {
        match self {
            Lang::En => ',',
            Lang::De => '.',
        }
    }

    pub(crate) fn langid(self) -> unic_langid::LanguageIdentifier {
        match self {
            Lang::En => unic_langid::langid!("en"),
            Lang::De => unic_langid::langid!("de"),
        }
    }
}

fn parse_quality(q: &str) -> Option<u16> {
    let q = q.trim();
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl FromStr for Lang {
    type Err = LangParseError;

    /// Exactly `en` or `de` (case-insensitive): what a person types in `/language` or an API
    /// field. Platform tags go through [`Lang::from_tag`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Lang::En),
            "de" => Ok(Lang::De),
            _ => Err(LangParseError),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Stored as `text` (`en`, `de`) in `control.users.language` and `control.tenants.language`.
impl sqlx::Type<sqlx::Postgres> for Lang {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Lang {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(text.parse::<Lang>()?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Lang {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_tags_by_primary_subtag() {
        assert_eq!(Lang::from_tag("de-DE"), Some(Lang::De));
        assert_eq!(Lang::from_tag("de_AT"), Some(Lang::De));
        assert_eq!(Lang::from_tag("EN-us"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(Lang::from_tag(""), None);
    }

    #[test]
    fn accept_language_by_quality() {
        assert_eq!(
            Lang::from_accept_language("de-DE,de;q=0.9,en;q=0.8"),
            Some(Lang::De)
        );
        assert_eq!(
            Lang::from_accept_language("fr, en;q=0.5, de;q=0.7"),
            Some(Lang::De)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.5, de;q=0.5"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("de;q=0, en;q=0.1"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("fr, it"), None);
        assert_eq!(Lang::from_accept_language("de;q=2"), None);
    }

    #[test]
    fn own_choice_then_platform_then_org() {
        assert_eq!(
            Lang::pick(Some(Lang::En), Some(Lang::De), Lang::De),
            Lang::En
        );
        assert_eq!(Lang::pick(None, Some(Lang::De), Lang::En), Lang::De);
        assert_eq!(Lang::pick(None, None, Lang::De), Lang::De);
    }

    #[test]
    fn typed_choice_is_exact() {
        assert_eq!("DE".parse::<Lang>(), Ok(Lang::De));
        assert_eq!("de-DE".parse::<Lang>(), Err(LangParseError));
    }
}
