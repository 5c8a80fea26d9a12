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

    proptest! {
        #[test]
        fn display_then_parse_round_trips(minor in 1_i64..=i64::MAX, places in 0_u8..=6) {
            let amount = Amount::from_minor(minor).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let shown = amount.display(s(places));
            prop_assert_eq!(Amount::parse(&shown, s(places)), Ok(amount));
        }

        #[test]
        fn parse_never_panics(text in ".{0,40}", places in 0_u8..=6) {
            let _ = Amount::parse(&text, s(places));
        }
    }
}
