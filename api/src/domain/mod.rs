//! The rules of Coinsence, free of any web, chat or payment framework.

pub mod chat;
pub mod follow_up;
pub mod governance;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod orgs;
pub mod spare_schemas;
pub mod tenancy;
pub(crate) mod text_enum;
