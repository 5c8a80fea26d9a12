//! Amounts of money: integers in minor units, parsed and shown by the currency's scale.
//!
//! A scale-2 currency reads "10.5" as 1050 minor units. More decimals than the scale is an
//! error, never a rounding: nobody should lose a cent to a typo.

use std::fmt;

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
    Amount::parse(text, scale).map_err(|e| crate::error::Error::invalid(field, e.to_string()))
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
