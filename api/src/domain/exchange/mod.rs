//! The exchange between community currencies: periodic batch auctions per pair of listed
//! currencies, settled in each org's own ledger (no transaction spans two org schemas).

pub mod book;
pub mod listings;
pub mod matcher;
pub mod orders;
pub mod price;
pub mod rounds;
pub mod settlement;
