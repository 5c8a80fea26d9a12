//! Amounts of money: integers in minor units, parsed and shown by the currency's scale.
//!
//! A scale-2 currency reads "10.5" as 1050 minor units. More decimals than the scale is an
//! error, never a rounding: nobody should lose a cent to a typo.

use std::fmt;

use crate::i18n::Lang;

use serde::{Deserialize, Serialize};

/// How many decimal places a currency has (0..=6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub struct Scale(u8);

impl Scale {
    pub const MAX: u8 = 6;

    pub fn new(places: u8) -> Result<Self, MoneyError> {
        if places > Self::MAX {
            return Err(MoneyError::BadScale);
        }
        Ok(Self(places))
    }

    pub fn places(self) -> u8 {
        self.0
    }

    fn factor(self) -> i64 {
        10_i64.pow(u32::from(self.0))
    }
}

impl TryFrom<i16> for Scale {
    type Error = MoneyError;
    fn try_from(value: i16) -> Result<Self, Self::Error> {
        u8::try_from(value)
            .map_err(|_| MoneyError::BadScale)
            .and_then(Self::new)
    }
}

impl From<Scale> for i16 {
    fn from(value: Scale) -> Self {
        i16::from(value.0)
    }
}

/// Why a text is not an amount. People never read these texts: a refused amount reaches them as
/// a refusal code ([`crate::refusal::Refusal::amount`]), rendered in their language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount must be a positive number such as \"10\" or \"10.50\"")]
    Malformed,
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error("this currency has {0} decimal places; the amount has more")]
    TooManyDecimals(u8),
    #[error("the amount is too large")]
    TooLarge,
    #[error("the scale must be between 0 and 6")]
    BadScale,
}

/// A strictly positive quantity of one currency, in minor units: what a transfer moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    pub fn from_minor(minor: i64) -> Result<Self, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Self(minor))
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// Parses a decimal string ("10", "10.5", "0.01") in the given scale.
    pub fn parse(text: &str, scale: Scale) -> Result<Self, MoneyError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole) || (whole.is_empty() && fraction.is_none_or(str::is_empty)) {
            return Err(MoneyError::Malformed);
        }
        let fraction = fraction.unwrap_or("");
        if !digits_only(fraction) {
            return Err(MoneyError::Malformed);
        }
        // Trailing zeros carry no value: "10.500" is fine for a scale-2 currency.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(scale.places()) {
            return Err(MoneyError::TooManyDecimals(scale.places()));
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole
                .trim_start_matches('0')
                .parse::<i64>()
                .or_else(|e| match e.kind() {
                    std::num::IntErrorKind::Empty => Ok(0),
                    _ => Err(MoneyError::TooLarge),
                })?
        };
        let mut frac_minor: i64 = 0;
        for (i, b) in fraction.bytes().enumerate() {
            let digit = i64::from(b - b'0');
            let place = u32::from(scale.places())
                - 1
                - u32::try_from(i).map_err(|_| MoneyError::Malformed)?;
            frac_minor += digit * 10_i64.pow(place);
        }
        let minor = whole
            .checked_mul(scale.factor())
            .and_then(|w| w.checked_add(frac_minor))
            .ok_or(MoneyError::TooLarge)?;
        Self::from_minor(minor)
    }

    /// Shows the amount in the currency's scale ("10.50").
    pub fn display(self, scale: Scale) -> String {
        format_minor(self.0, scale)
    }
}

/// Formats any signed number of minor units (balances may be negative).
pub fn format_minor(minor: i64, scale: Scale) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let factor = scale.factor().unsigned_abs();
    if scale.places() == 0 {
        return format!("{sign}{abs}");
    }
    let places = usize::from(scale.places());
    format!("{sign}{}.{:0places$}", abs / factor, abs % factor)
}

/// Formats minor units as a person in `lang` reads them: "1,234.50" in English, "1.234,50" in
/// German (digits grouped by three, the currency's decimal places always shown).
pub fn format_minor_in(minor: i64, scale: Scale, lang: Lang) -> String {
    let plain = format_minor(minor, scale);
    let (sign, digits) = plain.split_at(usize::from(plain.starts_with('-')));
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut out = String::with_capacity(plain.len() + whole.len() / 3 + 1);
    out.push_str(sign);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(lang.group_separator());
        }
        out.push(digit);
    }
    if !fraction.is_empty() {
        out.push(lang.decimal_separator());
        out.push_str(fraction);
    }
    out
}

impl Amount {
    /// Parses an amount as a person types it: "1234.5", "1,234.50" and "1.234,50" alike. With
    /// both separators the last one is the decimal point; a lone separator followed by other than
    /// three digits ("1,5", "2.25") can only be one; a lone separator followed by exactly three
    /// digits ("1.234") is read the way `lang` writes numbers: a thousand and thirty-four to a
    /// German, one and a bit to an English reader (who then hears that the currency has fewer
    /// decimals, rather than paying a thousand times too much). Grouping must be by threes:
    /// "1,23,4" is refused rather than guessed.
    pub fn parse_in(text: &str, scale: Scale, lang: Lang) -> Result<Self, MoneyError> {
        let text = text.trim();
        let dots = text.matches('.').count();
        let commas = text.matches(',').count();
        let decimal = match (dots, commas) {
            (0, 0) => None,
            (_, 0) | (0, _) => {
                let sep = if dots > 0 { '.' } else { ',' };
                let (whole, after) = text.rsplit_once(sep).unwrap_or((text, ""));
                let bare = whole.trim_start_matches(['+', '-']);
                let could_group =
                    after.len() == 3 && (1..=3).contains(&bare.len()) && !bare.starts_with('0');
                if dots + commas > 1 {
                    // Only grouping repeats.
                    None
                } else if !could_group || sep == lang.decimal_separator() {
                    Some(sep)
                } else {
                    None
                }
            }
            _ => {
                let last = text.rfind(['.', ',']).map(|i| &text[i..=i]);
                match last {
                    Some(".") => Some('.'),
                    _ => Some(','),
                }
            }
        };
        let group = match decimal {
            Some('.') => ',',
            Some(_) => '.',
            None if dots > 0 => '.',
            None => ',',
        };
        let (whole, fraction) = match decimal {
            Some(sep) => text
                .rsplit_once(sep)
                .map_or((text, None), |(w, f)| (w, Some(f))),
            None => (text, None),
        };
        if fraction.is_some_and(|f| f.contains(group)) {
            return Err(MoneyError::Malformed);
        }
        let whole = ungroup(whole, group)?;
        let plain = match fraction {
            Some(fraction) => format!("{whole}.{fraction}"),
            None => whole,
        };
        Self::parse(&plain, scale)
    }
}

/// Removes grouping separators, which must split the digits into threes after a first group
/// of one to three digits.
fn ungroup(whole: &str, group: char) -> Result<String, MoneyError> {
    if !whole.contains(group) {
        return Ok(whole.to_owned());
    }
    let (sign, digits) = whole.split_at(usize::from(whole.starts_with(['+', '-'])));
    let mut groups = digits.split(group);
    let first = groups.next().unwrap_or("");
    if !(1..=3).contains(&first.len()) {
        return Err(MoneyError::Malformed);
    }
    let mut out = format!("{sign}{first}");
    for rest in groups {
        if rest.len() != 3 {
            return Err(MoneyError::Malformed);
        }
        out.push_str(rest);
    }
    Ok(out)
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} minor units", self.0)
    }
}

/// A positive amount in a currency's scale, as a field error when it is not one.
pub(crate) fn parse_amount(
    field: &'static str,
    text: &str,
    scale: Scale,
) -> crate::error::Result<Amount> {
    Amount::parse(text, scale)
        .map_err(|e| crate::error::Error::from(crate::refusal::Refusal::amount(field, e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(p: u8) -> Scale {
        Scale::new(p).unwrap_or_else(|_| panic!("scale {p}"))
    }

    #[test]
    fn parses_by_scale() {
        let cases: &[(&str, u8, Result<i64, MoneyError>)] = &[
            ("10", 2, Ok(1000)),
            ("10.5", 2, Ok(1050)),
            ("10.50", 2, Ok(1050)),
            ("10.500", 2, Ok(1050)),
            ("0.01", 2, Ok(1)),
            (".5", 2, Ok(50)),
            ("7", 0, Ok(7)),
            ("10.", 2, Ok(1000)),
            ("10.001", 2, Err(MoneyError::TooManyDecimals(2))),
            ("1.5", 0, Err(MoneyError::TooManyDecimals(0))),
            ("0", 2, Err(MoneyError::NotPositive)),
            ("0.00", 2, Err(MoneyError::NotPositive)),
            ("-5", 2, Err(MoneyError::NotPositive)),
            ("", 2, Err(MoneyError::Malformed)),
            (".", 2, Err(MoneyError::Malformed)),
            ("1e3", 2, Err(MoneyError::Malformed)),
            ("1,5", 2, Err(MoneyError::Malformed)),
            ("ten", 2, Err(MoneyError::Malformed)),
            ("9223372036854775807", 0, Ok(i64::MAX)),
            ("9223372036854775808", 0, Err(MoneyError::TooLarge)),
            ("92233720368547758.07", 2, Ok(i64::MAX)),
            ("92233720368547758.08", 2, Err(MoneyError::TooLarge)),
            ("99999999999999999999999", 2, Err(MoneyError::TooLarge)),
        ];
        for (text, scale, want) in cases {
            let got = Amount::parse(text, s(*scale)).map(Amount::minor);
            assert_eq!(&got, want, "parsing {text:?} at scale {scale}");
        }
    }

    #[test]
    fn formats_by_scale() {
        assert_eq!(format_minor(1050, s(2)), "10.50");
        assert_eq!(format_minor(-1, s(2)), "-0.01");
        assert_eq!(format_minor(7, s(0)), "7");
        assert_eq!(format_minor(i64::MIN, s(6)), "-9223372036854.775808");
    }

    #[test]
    fn formats_per_language() {
        assert_eq!(format_minor_in(123_450, s(2), Lang::En), "1,234.50");
        assert_eq!(format_minor_in(123_450, s(2), Lang::De), "1.234,50");
        assert_eq!(
            format_minor_in(-100_000_000, s(2), Lang::De),
            "-1.000.000,00"
        );
        assert_eq!(format_minor_in(999, s(0), Lang::En), "999");
        assert_eq!(format_minor_in(1_000, s(0), Lang::De), "1.000");
        assert_eq!(format_minor_in(5, s(2), Lang::De), "0,05");
    }

    #[test]
    fn parses_both_forms() {
        let cases: &[(&str, u8, Lang, Result<i64, MoneyError>)] = &[
            ("1,234.50", 2, Lang::De, Ok(123_450)),
            ("1.234,50", 2, Lang::En, Ok(123_450)),
            ("1,5", 2, Lang::En, Ok(150)),
            ("2.25", 2, Lang::De, Ok(225)),
            ("1.234.567", 0, Lang::En, Ok(1_234_567)),
            ("1,234,567", 2, Lang::De, Ok(123_456_700)),
            // A lone separator before three digits: the reader's convention decides.
            ("1.234", 2, Lang::De, Ok(123_400)),
            ("1.234", 2, Lang::En, Err(MoneyError::TooManyDecimals(2))),
            ("1,234", 2, Lang::En, Ok(123_400)),
            ("1,234", 3, Lang::De, Ok(1_234)),
            ("0,500", 2, Lang::En, Ok(50)),
            ("1,23,4", 2, Lang::En, Err(MoneyError::Malformed)),
            ("12,34.5", 2, Lang::En, Err(MoneyError::Malformed)),
            ("1.234,5,6", 2, Lang::De, Err(MoneyError::Malformed)),
            ("-1.234,50", 2, Lang::De, Err(MoneyError::NotPositive)),
            (
                "1.000.000.000.000.000.000.000",
                0,
                Lang::De,
                Err(MoneyError::TooLarge),
            ),
        ];
        for (text, scale, lang, want) in cases {
            let got = Amount::parse_in(text, s(*scale), *lang).map(Amount::minor);
            assert_eq!(&got, want, "parsing {text:?} at scale {scale} in {lang}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::domain::fuzz_cases()))]

        /// What a person is shown, typed back in their language, is the same amount.
        #[test]
        fn formatting_then_parsing_in_a_language_is_the_identity(
            minor in 1..=i64::MAX,
            places in 0u8..=6,
            lang in prop_oneof![Just(Lang::En), Just(Lang::De)],
        ) {
            let scale = s(places);
            let shown = format_minor_in(minor, scale, lang);
            prop_assert_eq!(Amount::parse_in(&shown, scale, lang).map(Amount::minor), Ok(minor), "{}", shown);
        }

        /// A plain machine amount ("1234.5") reads the same in every language.
        #[test]
        fn plain_amounts_read_alike(minor in 1..=i64::MAX, places in 0u8..=6) {
            let scale = s(places);
            let plain = format_minor(minor, scale);
            if !(plain.len() > 3 && plain.split_once('.').is_some_and(|(w, f)| w.len() <= 3 && f.len() == 3)) {
                prop_assert_eq!(Amount::parse_in(&plain, scale, Lang::De), Amount::parse(&plain, scale));
            }
            prop_assert_eq!(Amount::parse_in(&plain, scale, Lang::En), Amount::parse(&plain, scale));
        }
    }

    /// The parser's rules written the slow, obvious way (in u128, checked): what `Amount::parse`
    /// must answer for every input.
    fn reference(text: &str, places: u8) -> Result<i64, MoneyError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || !digits(fraction) || (whole.is_empty() && fraction.is_empty()) {
            return Err(MoneyError::Malformed);
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(places) {
            return Err(MoneyError::TooManyDecimals(places));
        }
        let padded = format!("{whole}{fraction:0<width$}", width = usize::from(places));
        let mut value: u128 = 0;
        for c in padded.chars() {
            let digit = u128::from(c.to_digit(10).unwrap_or(0));
            value = match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
                Some(v) => v,
                None => return Err(MoneyError::TooLarge),
            };
        }
        match i64::try_from(value) {
            Ok(0) => Err(MoneyError::NotPositive),
            Ok(minor) => Ok(minor),
            Err(_) => Err(MoneyError::TooLarge),
        }
    }

    /// Text shaped like amounts and near misses: digits (sometimes dozens), points, signs,
    /// spaces of every kind, letters, and any character at all.
    fn amount_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => "[0-9]{1,3}",
            1 => "[0-9]{15,45}",
            2 => Just(".".to_owned()),
            1 => prop::sample::select(vec!["+", "-", " ", "\t", "\u{a0}", "\u{3000}", "0", "00", "e", ",", "٣", "１"])
                .prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
    }

    fn minor_amounts() -> impl Strategy<Value = i64> {
        prop_oneof![
            1_i64..=1_000_000,
            1_i64..=i64::MAX,
            (i64::MAX - 1_000)..=i64::MAX,
            (0_u32..19).prop_map(|p| 10_i64.pow(p)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::domain::fuzz_cases()))]

        #[test]
        fn display_then_parse_round_trips(minor in minor_amounts(), places in 0_u8..=6) {
            let amount = Amount::from_minor(minor).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let shown = amount.display(s(places));
            prop_assert_eq!(Amount::parse(&shown, s(places)), Ok(amount));
            // However it is dressed: spaces around, a plus, trailing zeros.
            let point = if places == 0 { "." } else { "" };
            let dressed = format!("  +{shown}{point}000 ");
            prop_assert_eq!(Amount::parse(&dressed, s(places)), Ok(amount));
        }

        #[test]
        fn more_decimals_than_the_scale_are_refused_never_rounded(
            minor in minor_amounts(),
            places in 0_u8..=6,
            extra in 1_u8..=9,
        ) {
            let amount = Amount::from_minor(minor).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let point = if places == 0 { "." } else { "" };
            let longer = format!("{}{point}{extra}", amount.display(s(places)));
            prop_assert_eq!(
                Amount::parse(&longer, s(places)),
                Err(MoneyError::TooManyDecimals(places))
            );
        }

        #[test]
        fn parse_agrees_with_the_reference(text in amount_like(), places in 0_u8..=6) {
            let got = Amount::parse(&text, s(places)).map(Amount::minor);
            prop_assert_eq!(&got, &reference(&text, places), "{:?}", text);
            if let Ok(minor) = got {
                prop_assert!(minor > 0);
            }
        }

        #[test]
        fn parse_never_panics(text in any::<String>(), places in 0_u8..=6) {
            let _ = Amount::parse(&text, s(places));
        }
    }
}
