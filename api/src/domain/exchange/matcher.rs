//! The batch auction: one pair's book and a seed in, one clearing price and every order's fill
//! out. Pure: no clock, no database, no randomness but the seed.
//!
//! The pair is (base, quote); the clearing price is quote minor units per base minor unit. An
//! order sells `amount` of one side's currency for at least `limit` of the other per unit sold.
//!
//! - Candidates are the orders' own limits. The price that trades the most base wins (volume
//!   measured exactly, as a rational); ties go to the least imbalance between what is offered
//!   and what is wanted, then to the price closest to the last round's, then to the lower price.
//! - Everybody trades at exactly that price, so every fill is at or better than its limit and
//!   no minor unit is made or lost: fills come in whole lots (`den` base for `num` quote, the
//!   reduced price). What does not make a whole lot stays with its owner: rounding is always in
//!   the trader's favour (nobody gives a unit they are not paid for at the clearing price), and
//!   because every lot is exact the remainder left for an org's fund is zero.
//! - The side offering more is rationed: by price priority, the marginal level (the limit where
//!   the volume runs out) pro rata by size, never by arrival; the last lots of a division go to
//!   the largest fractions, ties broken by the seed.

use std::cmp::{Ordering, Reverse};

use super::price::{Price, cmp_fraction};

/// Which currency of the pair an order sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Sells base for quote; `limit` is quote per base.
    SellBase,
    /// Sells quote for base; `limit` is base per quote.
    SellQuote,
}

/// One open order as the matcher sees it: no owner, no org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookOrder {
    /// Unique within the book; the fills carry it back.
    pub id: u64,
    pub side: Side,
    /// Minor units of the currency sold; positive.
    pub amount: i64,
    /// The least accepted of the other currency per unit sold.
    pub limit: Price,
}

/// Why an order gave less than its amount (or `Filled` when it gave all of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Why {
    Filled,
    /// Nothing crossed: no price both sides accept.
    NoCounterparty,
    /// The clearing price is worse than the order's limit.
    LimitNotReached,
    /// The order's side offered more than the other wanted; it got its pro-rata share.
    Rationed,
    /// Less than a whole lot at the clearing price was left (the rest stays with its owner).
    OddLot,
}

/// One order's result; `gives` of the currency it sells, `receives` of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub id: u64,
    pub side: Side,
    pub gives: i64,
    pub receives: i64,
    pub why: Why,
}

/// The round's outcome for one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearing {
    /// Quote per base; `None` when nothing crossed.
    pub price: Option<Price>,
    /// Base that changed hands (given by base sellers = received by quote sellers).
    pub base_volume: i64,
    /// Quote that changed hands.
    pub quote_volume: i64,
    /// Base offered at the price minus base wanted at it (positive: base sellers were rationed),
    /// in base minor units rounded toward zero: what `/quote` shows.
    pub imbalance: i64,
    /// One per order of the book, in the book's order.
    pub fills: Vec<Fill>,
}

/// The book cannot be cleared (the caller built it wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchError {
    /// An amount is zero or negative.
    NotPositive { id: u64 },
    /// One side's amounts sum to more than `i64::MAX`.
    TooLarge,
    /// Two orders share an id.
    DuplicateId { id: u64 },
}

/// Clears one pair's book. `last` is the previous round's price (for ties); `seed` breaks the
/// remaining ties of a pro-rata division (derive it from the round, so a re-run agrees).
pub fn clear(book: &[BookOrder], last: Option<Price>, seed: u64) -> Result<Clearing, MatchError> {
    check(book)?;
    let Some(price) = best_price(book, last) else {
        return Ok(no_trade(book, Why::NoCounterparty, None));
    };
    Ok(fill_at(book, price, seed))
}

fn check(book: &[BookOrder]) -> Result<(), MatchError> {
    let (mut base, mut quote) = (0i64, 0i64);
    let mut ids: Vec<u64> = book.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(MatchError::DuplicateId { id: pair[0] });
    }
    for order in book {
        if order.amount <= 0 {
            return Err(MatchError::NotPositive { id: order.id });
        }
        let total = match order.side {
            Side::SellBase => &mut base,
            Side::SellQuote => &mut quote,
        };
        *total = total
            .checked_add(order.amount)
            .ok_or(MatchError::TooLarge)?;
    }
    Ok(())
}

/// The highest price (quote per base) a quote seller accepts.
fn ceiling(order: &BookOrder) -> Price {
    order.limit.inverse()
}

/// Whether `order` trades at `price` (quote per base).
fn accepts(order: &BookOrder, price: Price) -> bool {
    match order.side {
        Side::SellBase => order.limit <= price,
        Side::SellQuote => price <= ceiling(order),
    }
}

/// What is on offer at one price: base offered, quote offered.
#[derive(Debug, Clone, Copy)]
struct Offer {
    price: Price,
    base: u128,
    quote: u128,
}

impl Offer {
    /// The base that can trade, exactly: `min(base, quote / price)` as `(num, den)`.
    fn volume(&self) -> (u128, u128) {
        let (n, d) = (u128::from(self.price.num()), u128::from(self.price.den()));
        if self.base * n <= self.quote * d {
            (self.base, 1)
        } else {
            (self.quote * d, n)
        }
    }

    /// `|base - quote / price|` as `(num, den)`.
    fn imbalance(&self) -> (u128, u128) {
        let (n, d) = (u128::from(self.price.num()), u128::from(self.price.den()));
        ((self.base * n).abs_diff(self.quote * d), n)
    }
}

/// `|a - b|` as `(num, den)`.
fn distance(a: Price, b: Price) -> (u128, u128) {
    let (an, ad) = (u128::from(a.num()), u128::from(a.den()));
    let (bn, bd) = (u128::from(b.num()), u128::from(b.den()));
    ((an * bd).abs_diff(bn * ad), ad * bd)
}

/// Better first: more volume, less imbalance, nearer the last price, lower.
fn rank(a: &Offer, b: &Offer, last: Option<Price>) -> Ordering {
    let frac = |x: (u128, u128), y: (u128, u128)| cmp_fraction(x.0, x.1, y.0, y.1);
    frac(b.volume(), a.volume())
        .then_with(|| frac(a.imbalance(), b.imbalance()))
        .then_with(|| match last {
            Some(last) => frac(distance(a.price, last), distance(b.price, last)),
            None => Ordering::Equal,
        })
        .then_with(|| a.price.cmp(&b.price))
}

/// Every candidate's offer in one sweep over the sorted limits (O(n log n): a book of 10,000
/// orders must clear in milliseconds).
fn offers(book: &[BookOrder]) -> Vec<Offer> {
    let mut sells: Vec<(Price, u128)> = Vec::new();
    let mut buys: Vec<(Price, u128)> = Vec::new();
    for order in book {
        let amount = u128::from(order.amount.unsigned_abs());
        match order.side {
            Side::SellBase => sells.push((order.limit, amount)),
            Side::SellQuote => buys.push((ceiling(order), amount)),
        }
    }
    sells.sort_unstable_by_key(|s| s.0);
    buys.sort_unstable_by_key(|b| b.0);
    let mut candidates: Vec<Price> = sells.iter().chain(&buys).map(|(p, _)| *p).collect();
    candidates.sort_unstable();
    candidates.dedup();
    let (mut base, mut quote) = (0u128, buys.iter().map(|(_, a)| a).sum::<u128>());
    let (mut s, mut b) = (0, 0);
    let mut out = Vec::with_capacity(candidates.len());
    for price in candidates {
        while let Some((_, amount)) = sells.get(s).filter(|(l, _)| *l <= price) {
            base += amount;
            s += 1;
        }
        while let Some((_, amount)) = buys.get(b).filter(|(c, _)| *c < price) {
            quote -= amount;
            b += 1;
        }
        out.push(Offer { price, base, quote });
    }
    out
}

fn best_price(book: &[BookOrder], last: Option<Price>) -> Option<Price> {
    offers(book)
        .into_iter()
        .filter(|o| o.volume().0 > 0)
        .min_by(|a, b| rank(a, b, last))
        .map(|o| o.price)
}

fn no_trade(book: &[BookOrder], why: Why, price: Option<Price>) -> Clearing {
    Clearing {
        price,
        base_volume: 0,
        quote_volume: 0,
        imbalance: 0,
        fills: book
            .iter()
            .map(|o| Fill {
                id: o.id,
                side: o.side,
                gives: 0,
                receives: 0,
                why,
            })
            .collect(),
    }
}

/// Splits `lots` whole lots over one side's eligible orders (indices into `book`, with each
/// order's whole lots), by price priority then pro rata; returns lots per index.
fn allocate(book: &[BookOrder], eligible: &[(usize, u128)], lots: u128, seed: u64) -> Vec<u128> {
    let mut out = vec![0u128; book.len()];
    let mut order: Vec<&(usize, u128)> = eligible.iter().collect();
    // Most aggressive first: the lowest limit on either side asks the least for what it sells.
    order.sort_by(|a, b| book[a.0].limit.cmp(&book[b.0].limit));
    let mut left = lots;
    let mut at = 0;
    while at < order.len() && left > 0 {
        let limit = book[order[at].0].limit;
        let end = order[at..]
            .iter()
            .position(|(i, _)| book[*i].limit != limit)
            .map_or(order.len(), |p| at + p);
        let level = &order[at..end];
        let level_lots: u128 = level.iter().map(|(_, l)| l).sum();
        if level_lots <= left {
            for (i, l) in level {
                out[*i] = *l;
            }
            left -= level_lots;
        } else {
            // The marginal level: each its share, rounded down; the lots that are left go one
            // each to the largest remainders (a seeded draw among equals, never arrival).
            let mut given = 0u128;
            let mut rest: Vec<(u128, u64, u64, usize)> = Vec::with_capacity(level.len());
            for (i, l) in level {
                let share = left * l;
                out[*i] = share / level_lots;
                given += out[*i];
                let id = book[*i].id;
                rest.push((share % level_lots, mix(seed, id), id, *i));
            }
            rest.sort_by_key(|(r, draw, id, _)| (Reverse(*r), *draw, *id));
            let extra = usize::try_from(left - given).unwrap_or(usize::MAX);
            for (_, _, _, i) in rest.iter().take(extra) {
                out[*i] += 1;
            }
            left = 0;
        }
        at = end;
    }
    out
}

/// SplitMix64 of the seed and an id: a fair, reproducible draw.
fn mix(seed: u64, id: u64) -> u64 {
    let mut z = seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fill_at(book: &[BookOrder], price: Price, seed: u64) -> Clearing {
    let (n, d) = (u128::from(price.num()), u128::from(price.den()));
    // A lot: `d` base for `n` quote, exactly the price.
    let lot = |side: Side| match side {
        Side::SellBase => d,
        Side::SellQuote => n,
    };
    let mut sells = Vec::new();
    let mut buys = Vec::new();
    let (mut base_offered, mut quote_offered) = (0u128, 0u128);
    for (i, order) in book.iter().enumerate() {
        if !accepts(order, price) {
            continue;
        }
        let amount = u128::from(order.amount.unsigned_abs());
        let lots = amount / lot(order.side);
        match order.side {
            Side::SellBase => {
                sells.push((i, lots));
                base_offered += amount;
            }
            Side::SellQuote => {
                buys.push((i, lots));
                quote_offered += amount;
            }
        }
    }
    let lots = sells
        .iter()
        .map(|(_, l)| l)
        .sum::<u128>()
        .min(buys.iter().map(|(_, l)| l).sum());
    let sold = allocate(book, &sells, lots, seed);
    let bought = allocate(book, &buys, lots, seed);
    let imbalance = Offer {
        price,
        base: base_offered,
        quote: quote_offered,
    }
    .imbalance();
    let imbalance = i64::try_from(imbalance.0 / imbalance.1).unwrap_or(i64::MAX);
    let imbalance = if base_offered * n >= quote_offered * d {
        imbalance
    } else {
        -imbalance
    };
    let fills = book
        .iter()
        .enumerate()
        .map(|(i, order)| {
            let taken = sold[i].max(bought[i]);
            // Both fit in i64: at most the order's amount, and the same lots' other side is at
            // most what the other side offered, itself checked to fit.
            let gives = taken * lot(order.side);
            let receives = taken
                * match order.side {
                    Side::SellBase => n,
                    Side::SellQuote => d,
                };
            let amount = u128::from(order.amount.unsigned_abs());
            let why = if !accepts(order, price) {
                Why::LimitNotReached
            } else if gives == amount {
                Why::Filled
            } else if taken == amount / lot(order.side) {
                Why::OddLot
            } else {
                Why::Rationed
            };
            Fill {
                id: order.id,
                side: order.side,
                gives: i64::try_from(gives).unwrap_or(i64::MAX),
                receives: i64::try_from(receives).unwrap_or(i64::MAX),
                why,
            }
        })
        .collect();
    Clearing {
        price: Some(price),
        base_volume: i64::try_from(lots * d).unwrap_or(i64::MAX),
        quote_volume: i64::try_from(lots * n).unwrap_or(i64::MAX),
        imbalance,
        fills,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn price(n: u64, d: u64) -> Price {
        Price::new(n, d).expect("a price")
    }

    fn order(id: u64, side: Side, amount: i64, limit: Price) -> BookOrder {
        BookOrder {
            id,
            side,
            amount,
            limit,
        }
    }

    /// Base that could trade at `p`, exactly, from the book alone (no sweep, no lots).
    fn exact_volume(book: &[BookOrder], p: Price) -> (u128, u128) {
        let base: u128 = book
            .iter()
            .filter(|o| o.side == Side::SellBase && accepts(o, p))
            .map(|o| o.amount as u128)
            .sum();
        let quote: u128 = book
            .iter()
            .filter(|o| o.side == Side::SellQuote && accepts(o, p))
            .map(|o| o.amount as u128)
            .sum();
        Offer {
            price: p,
            base,
            quote,
        }
        .volume()
    }

    #[test]
    fn the_price_that_trades_most_wins_and_everyone_gets_it() {
        // Base sellers: 100 at 0.5, 50 at 0.9. A quote seller: 90 quote, paying at most 1.0
        // per base (its limit: at least 1 base per quote).
        let book = [
            order(1, Side::SellBase, 100, price(1, 2)),
            order(2, Side::SellBase, 50, price(9, 10)),
            order(3, Side::SellQuote, 90, price(1, 1)),
        ];
        let c = clear(&book, None, 7).expect("clears");
        // At 0.5: 100 base offered, 180 wanted: 100 trade, 80 apart. At 0.9: 150 offered, 100
        // wanted: 100 trade, only 50 apart. At 1.0: 150 offered, 90 wanted: 90 trade.
        assert_eq!(c.price, Some(price(9, 10)));
        assert_eq!((c.base_volume, c.quote_volume), (100, 90));
        let by_id: BTreeMap<u64, Fill> = c.fills.iter().map(|f| (f.id, *f)).collect();
        // Price priority: the order at 0.5 fills fully, the marginal one gets what is left.
        assert_eq!(
            (by_id[&1].gives, by_id[&1].receives, by_id[&1].why),
            (100, 90, Why::Filled)
        );
        assert_eq!((by_id[&2].gives, by_id[&2].why), (0, Why::Rationed));
        assert_eq!(
            (by_id[&3].gives, by_id[&3].receives, by_id[&3].why),
            (90, 100, Why::Filled)
        );
    }

    #[test]
    fn ties_go_to_the_price_nearest_the_last_one() {
        // Base: 10 at 1, 10 at 2; quote: 20 paying at most 2 per base. At 1: 10 offered, 20
        // wanted; at 2: 20 offered, 10 wanted. Same volume, same imbalance.
        let book = [
            order(1, Side::SellBase, 10, price(1, 1)),
            order(2, Side::SellBase, 10, price(2, 1)),
            order(3, Side::SellQuote, 20, price(1, 2)),
        ];
        let low = clear(&book, Some(price(1, 10)), 1).expect("clears");
        let high = clear(&book, Some(price(3, 1)), 1).expect("clears");
        assert_eq!((low.price, low.base_volume), (Some(price(1, 1)), 10));
        assert_eq!((high.price, high.base_volume), (Some(price(2, 1)), 10));
    }

    #[test]
    fn nothing_crosses_nothing_moves() {
        let book = [
            order(1, Side::SellBase, 10, price(2, 1)),
            order(2, Side::SellQuote, 10, price(1, 1)),
        ];
        let c = clear(&book, None, 0).expect("clears");
        assert_eq!(c.price, None);
        assert!(
            c.fills
                .iter()
                .all(|f| f.gives == 0 && f.why == Why::NoCounterparty)
        );
        assert_eq!(
            clear(&[order(1, Side::SellBase, 0, price(1, 1))], None, 0),
            Err(MatchError::NotPositive { id: 1 })
        );
    }

    fn books() -> impl Strategy<Value = Vec<BookOrder>> {
        prop::collection::vec((any::<bool>(), 1i64..2_000, 1u64..12, 1u64..12), 1..9).prop_map(
            |orders| {
                orders
                    .into_iter()
                    .enumerate()
                    .map(|(i, (base, amount, n, d))| BookOrder {
                        id: i as u64 * 7 + 3,
                        side: if base {
                            Side::SellBase
                        } else {
                            Side::SellQuote
                        },
                        amount,
                        limit: Price::new(n, d).expect("small parts"),
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn one_price_within_limits_and_nothing_made_or_lost(
            book in books(), seed in any::<u64>(), last in proptest::option::of((1u64..12, 1u64..12)),
        ) {
            let last = last.map(|(n, d)| price(n, d));
            let c = clear(&book, last, seed).expect("clears");
            prop_assert_eq!(c.fills.len(), book.len());
            let (mut base_out, mut base_in, mut quote_out, mut quote_in) = (0i64, 0i64, 0i64, 0i64);
            for (o, f) in book.iter().zip(&c.fills) {
                prop_assert_eq!(o.id, f.id);
                prop_assert!(0 <= f.gives && f.gives <= o.amount);
                if f.gives == 0 {
                    prop_assert_eq!(f.receives, 0);
                    continue;
                }
                let p = c.price.expect("a fill has a price");
                // Exactly the one clearing price ...
                let (n, d) = (p.num() as i128, p.den() as i128);
                let (g, r) = (f.gives as i128, f.receives as i128);
                match o.side {
                    Side::SellBase => prop_assert_eq!(r * d, g * n),
                    Side::SellQuote => prop_assert_eq!(r * n, g * d),
                }
                // ... which is at or better than the order's limit.
                let (ln, ld) = (o.limit.num() as i128, o.limit.den() as i128);
                prop_assert!(r * ld >= g * ln, "{:?} {:?}", o, f);
                match o.side {
                    Side::SellBase => { base_out += f.gives; quote_in += f.receives; }
                    Side::SellQuote => { quote_out += f.gives; base_in += f.receives; }
                }
            }
            prop_assert_eq!(base_out, base_in);
            prop_assert_eq!(quote_out, quote_in);
            prop_assert_eq!(base_out, c.base_volume);
            prop_assert_eq!(quote_out, c.quote_volume);
        }

        #[test]
        fn no_price_trades_more(book in books(), seed in any::<u64>()) {
            let c = clear(&book, None, seed).expect("clears");
            let best = c.price.map_or((0, 1), |p| exact_volume(&book, p));
            // Brute force over every price with small parts (the book's limits among them) and
            // around them.
            for n in 1..=30u64 {
                for d in 1..=30u64 {
                    let v = exact_volume(&book, price(n, d));
                    prop_assert!(
                        cmp_fraction(v.0, v.1, best.0, best.1) != Ordering::Greater,
                        "{}/{} trades {:?}, the clearing price {:?} only {:?}", n, d, v, c.price, best
                    );
                }
            }
        }

        #[test]
        fn price_priority_then_pro_rata_at_the_margin(book in books(), seed in any::<u64>()) {
            let c = clear(&book, None, seed).expect("clears");
            let Some(p) = c.price else { return Ok(()) };
            let lot = |side| match side { Side::SellBase => p.den() as u128, Side::SellQuote => p.num() as u128 };
            for side in [Side::SellBase, Side::SellQuote] {
                // (limit, whole lots, lots filled) of the orders that accept the price.
                let eligible: Vec<(Price, u128, u128)> = book.iter().zip(&c.fills)
                    .filter(|(o, _)| o.side == side && accepts(o, p))
                    .map(|(o, f)| (o.limit, o.amount as u128 / lot(side), f.gives as u128 / lot(side)))
                    .collect();
                for a in &eligible {
                    for b in &eligible {
                        // A better limit fills fully before a worse one gets anything.
                        if a.0 < b.0 && b.2 > 0 {
                            prop_assert_eq!(a.2, a.1);
                        }
                    }
                }
                // Within one level: each its share of the level's fill, within one lot.
                let mut levels: BTreeMap<Price, Vec<(u128, u128)>> = BTreeMap::new();
                for (limit, lots, filled) in &eligible {
                    levels.entry(*limit).or_default().push((*lots, *filled));
                }
                for level in levels.values() {
                    let total: u128 = level.iter().map(|(l, _)| l).sum();
                    let filled: u128 = level.iter().map(|(_, f)| f).sum();
                    for (lots, f) in level {
                        prop_assert!((f * total).abs_diff(filled * lots) < total.max(1));
                    }
                }
            }
        }

        #[test]
        fn same_book_and_seed_same_result_whatever_the_arrival(
            book in books(), seed in any::<u64>(), rotate in 0usize..8,
        ) {
            let first = clear(&book, None, seed).expect("clears");
            prop_assert_eq!(&first, &clear(&book, None, seed).expect("clears"));
            // Arrival does not count: the same orders in another order fill the same.
            let mut turned = book.clone();
            turned.rotate_left(rotate % book.len());
            let second = clear(&turned, None, seed).expect("clears");
            let by_id = |c: &Clearing| c.fills.iter().map(|f| (f.id, *f)).collect::<BTreeMap<_, _>>();
            prop_assert_eq!(first.price, second.price);
            prop_assert_eq!(by_id(&first), by_id(&second));
        }
    }
}
