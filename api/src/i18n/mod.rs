//! Every sentence a person reads, in their language.
//!
//! Messages live in Fluent catalogs, one folder per language under `api/locales/<lang>/`, compiled
//! into the binary. Code names a message by its id and passes named arguments ([`Args`]); it never
//! holds a sentence of its own. Amounts are formatted per language before they become arguments
//! (see [`crate::domain::money::format_minor_in`]): Fluent's own number formatting does not know
//! the grouping rules of each locale.
//!
//! Which language a person reads: their own choice if set, else what their platform says, else the
//! org's default ([`Lang::pick`]).

mod catalog;
mod lang;
mod reason;

pub use catalog::{Args, has_message, message, message_ids, referenced_args};
pub use lang::{Lang, LangParseError};
pub use reason::Reason;
