//! Exact prices: a reduced fraction of minor units, never a float.
//!
//! A price is "so many minor units of the currency received per minor unit of the currency
//! given". Numerator and denominator are kept below [`Price::MAX_PART`] so that every product
//! the matcher forms (a sum of `i64` amounts times a price part, or two price parts) fits in a
//! `u128`.

use std::cmp::Ordering;

/// A positive rational `num / den`, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Price {
    num: u64,
    den: u64,
}

/// Why a price cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceError {
    /// Zero, negative, or not a number.
    NotPositive,
    /// More decimals than [`MAX_DECIMALS`], or parts too large once in minor units.
    TooPrecise,
}

/// The most decimal places a price may be written with.
pub const MAX_DECIMALS: u32 = 6;

impl Price {
    /// The largest numerator or denominator (2^40): keeps all of the matcher's arithmetic in
    /// `u128`.
    pub const MAX_PART: u64 = 1 << 40;

    /// `num / den`, reduced; both must be positive and the reduced parts at most `MAX_PART`.
    pub fn new(num: u64, den: u64) -> Result<Self, PriceError> {
        if num == 0 || den == 0 {
            return Err(PriceError::NotPositive);
        }
        let g = gcd(num, den);
        let (num, den) = (num / g, den / g);
        if num > Self::MAX_PART || den > Self::MAX_PART {
            return Err(PriceError::TooPrecise);
        }
        Ok(Self { num, den })
    }

    pub fn num(self) -> u64 {
        self.num
    }

    pub fn den(self) -> u64 {
        self.den
    }

    /// The same exchange seen from the other side: `den / num`.
    pub fn inverse(self) -> Self {
        Self {
            num: self.den,
            den: self.num,
        }
    }

    /// A decimal written by a person ("0.8": units of `received` per unit of `given`) as a
    /// price in minor units, given the two currencies' scales (decimal places).
    pub fn parse_decimal(
        text: &str,
        given_scale: u8,
        received_scale: u8,
    ) -> Result<Self, PriceError> {
        let text = text.trim();
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
            return Err(PriceError::NotPositive);
        }
        let places = u32::try_from(frac.len()).map_err(|_| PriceError::TooPrecise)?;
        if places > MAX_DECIMALS {
            return Err(PriceError::TooPrecise);
        }
        let mut whole: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u128::from(b - b'0')))
                .ok_or(PriceError::TooPrecise)?;
        }
        if whole == 0 {
            return Err(PriceError::NotPositive);
        }
        // units_received / units_given = whole / 10^places;
        // minor_received / minor_given = whole * 10^received_scale / (10^places * 10^given_scale).
        let num = 10u128
            .checked_pow(u32::from(received_scale))
            .and_then(|p| whole.checked_mul(p))
            .ok_or(PriceError::TooPrecise)?;
        let den = 10u128
            .checked_pow(places + u32::from(given_scale))
            .ok_or(PriceError::TooPrecise)?;
        let g = gcd_u128(num, den);
        let (num, den) = (num / g, den / g);
        let num = u64::try_from(num).map_err(|_| PriceError::TooPrecise)?;
        let den = u64::try_from(den).map_err(|_| PriceError::TooPrecise)?;
        Self::new(num, den)
    }

    /// The price as a decimal in whole units for people (at most `places` decimals, rounded
    /// down), given the scales it was made with.
    pub fn display(self, given_scale: u8, received_scale: u8, places: u32) -> String {
        // units = num * 10^given / (den * 10^received)
        let num = u128::from(self.num) * 10u128.pow(u32::from(given_scale));
        let den = u128::from(self.den) * 10u128.pow(u32::from(received_scale));
        let int = num / den;
        let mut rem = num % den;
        let mut frac = String::new();
        for _ in 0..places {
            if rem == 0 {
                break;
            }
            rem *= 10;
            frac.push(char::from(b'0' + (rem / den) as u8));
            rem %= den;
        }
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }
    }
}

impl Ord for Price {
    fn cmp(&self, other: &Self) -> Ordering {
        // Parts are below 2^40: the cross products fit.
        (u128::from(self.num) * u128::from(other.den))
            .cmp(&(u128::from(other.num) * u128::from(self.den)))
    }
}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `a / b` against `c / d` (`b`, `d` > 0) without multiplying, so nothing overflows: compare
/// the integer parts, then the reciprocals of the remainders.
pub(crate) fn cmp_fraction(mut a: u128, mut b: u128, mut c: u128, mut d: u128) -> Ordering {
    loop {
        let (qa, qc) = (a / b, c / d);
        let (ra, rc) = (a % b, c % d);
        return match qa.cmp(&qc) {
            Ordering::Equal => match (ra == 0, rc == 0) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => {
                    // ra/b against rc/d orders like d/rc against b/ra.
                    (a, b, c, d) = (d, rc, b, ra);
                    continue;
                }
            },
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_decimal_becomes_minor_units_per_minor_unit() {
        // 0.8 BIKE per DEMO, both with 2 places: 80 BIKE cents per 100 DEMO cents.
        assert_eq!(Price::parse_decimal("0.8", 2, 2), Price::new(4, 5));
        // 3 units (scale 0) per unit of a scale-2 currency: 3 per 100 minor.
        assert_eq!(Price::parse_decimal("3", 2, 0), Price::new(3, 100));
        assert_eq!(
            Price::parse_decimal("0", 2, 2),
            Err(PriceError::NotPositive)
        );
        assert_eq!(
            Price::parse_decimal("-1", 2, 2),
            Err(PriceError::NotPositive)
        );
        assert_eq!(
            Price::parse_decimal("1e3", 2, 2),
            Err(PriceError::NotPositive)
        );
        assert_eq!(
            Price::parse_decimal("0.1234567", 2, 2),
            Err(PriceError::TooPrecise)
        );
        assert_eq!(
            Price::new(4, 5).map(|p| p.display(2, 2, 4)),
            Ok("0.8".to_owned())
        );
        assert_eq!(
            Price::new(5, 4).map(|p| p.display(2, 2, 4)),
            Ok("1.25".to_owned())
        );
    }

    proptest! {
        #[test]
        fn fractions_compare_like_their_products(a in 0u64..u64::MAX, b in 1u64..u64::MAX, c in 0u64..u64::MAX, d in 1u64..u64::MAX) {
            let (a, b, c, d) = (u128::from(a), u128::from(b), u128::from(c), u128::from(d));
            prop_assert_eq!(cmp_fraction(a, b, c, d), (a * d).cmp(&(c * b)));
        }
    }
}
