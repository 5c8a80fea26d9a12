//! The rules of Coinsence, free of any web, chat or payment framework.

pub mod archive;
pub mod chat;
pub mod follow_up;
pub mod governance;
pub mod identity;
pub mod ids;
pub mod languages;
pub mod ledger;
pub mod money;
pub mod orgs;
pub mod spare_schemas;
pub mod tenancy;
pub mod text;
pub(crate) mod text_enum;

/// How many inputs each property test of a parser tries: `COINSENCE_FUZZ_CASES`, or a number
/// small enough for CI (a dedicated run sets a million).
#[cfg(test)]
pub(crate) fn fuzz_cases() -> u32 {
    std::env::var("COINSENCE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}
