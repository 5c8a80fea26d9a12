//! The ledger: currencies, accounts and the append-only journal of transfers (DESIGN "Money").
//!
//! - `posting`: the pure rules that decide, for a batch of orders against locked accounts, which
//!   transfers apply and why others are refused.
//! - `store`: the SQL, always on a [`TenantTx`](super::tenancy::TenantTx).
//! - `queue`: groups concurrent transfers of one org into one commit.
//! - `ops`: the operations the edges call.
//! - `issuance`: scheduled issuance and demurrage, set-based per org and period.
//! - `seal`: the hash chain over the journal that lets anyone check history was not rewritten.
//! - `merkle`: the RFC 9162 tree over the journal; `tree_heads` stores it and signs its heads.

pub mod canonical;
pub mod currencies;
pub mod issuance;
pub mod merkle;
pub mod ops;
pub mod posting;
pub mod queue;
pub mod seal;
pub mod transparency;
pub mod tree_heads;
pub mod witness;
// The SQL is the ledger's own; edges go through `Core`. Tests that check the optimistic writes
// directly reach it with the `testing` feature.
#[cfg(feature = "testing")]
pub mod store;
#[cfg(not(feature = "testing"))]
pub(crate) mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{AccountId, CurrencyId, TenantId, TransferId, UserId};
use super::money::{Amount, Scale};
use super::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// The most a limit may be, in minor units: a credit limit, or a scheduled issuance's amount or
/// top-up target (10^15; ten trillion at scale 2). Balances are `i64` (about 9.2 * 10^18), so a
/// balance between floor and target, plus or minus any one such amount, always fits: arithmetic
/// on limits cannot overflow, and an overflow can only come from amounts the ledger refuses.
pub const MAX_LIMIT: i64 = 1_000_000_000_000_000;

/// 2–8 capital ASCII letters, unique within an org.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "BIKE")]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub fn parse(text: &str) -> Result<Self> {
        if (2..=8).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::from(Refusal::CurrencyCodeMalformed {
                field: "currency",
            }))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<CurrencyCode> for String {
    fn from(value: CurrencyCode) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Currency {
    pub id: CurrencyId,
    #[sqlx(try_from = "String")]
    pub code: CurrencyCode,
    pub name: String,
    #[sqlx(try_from = "i16")]
    pub scale: Scale,
    pub default_credit_limit: i64,
}

text_enum!(
    /// What a currency is: the community's money, or one project's participation shares.
    CurrencyKind {
        Coin => "coin",
        Share => "share",
        /// Another org's listed coin as this org's members hold it after an exchange round:
        /// backed by this org's clearing account (no issuance account, nothing is issued here).
        Foreign => "foreign",
    }
);

text_enum!(
    /// What an account is for. A project account (one per project, referenced by id) holds
    /// what the project raised.
    AccountKind {
        Member => "member",
        Issuance => "issuance",
        Fund => "fund",
        Project => "project",
        /// What a currency's open exchange orders hold (one per currency).
        Escrow => "escrow",
        /// The exchange's side of every fill in a currency (one per currency).
        Clearing => "clearing",
        /// Coins of cash-outs whose payout is under way (one per currency; issue 16).
        CashoutEscrow => "cashout_escrow",
        /// What refunds and lost disputes could not take back from members (one per currency).
        Clawback => "clawback",
    }
);

text_enum!(
    /// Why money moved.
    TransferKind {
        Payment => "payment",
        Issuance => "issuance",
        /// Coins from an investor (or the fund) into a project's account.
        Investment => "investment",
        /// Coins back from a project that missed its goal.
        Refund => "refund",
        /// Paying for a market offer.
        Purchase => "purchase",
        /// Shares of a refunded project going back to their issuance account.
        Cancellation => "cancellation",
        /// A periodic holding fee from a member's account to the community fund.
        Demurrage => "demurrage",
        /// Into or out of an exchange order's escrow.
        Escrow => "escrow",
        /// A fill of an exchange order, through the clearing account.
        Exchange => "exchange",
        /// Coins of a cash-out: into its escrow, burned when paid, back when it failed.
        Cashout => "cashout",
        /// Coins taken back for a refunded or disputed top-up.
        Clawback => "clawback",
    }
);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub id: AccountId,
    pub currency_id: CurrencyId,
    #[sqlx(try_from = "String")]
    pub kind: AccountKind,
    pub owner_user_id: Option<UserId>,
    pub balance: i64,
    pub floor: Option<i64>,
    pub ceiling: Option<i64>,
    /// A removed member's account: it keeps its balance but takes no new money.
    pub closed: bool,
}

/// Names an account of the order's currency without knowing its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountRef {
    Id(AccountId),
    Member(UserId),
    Issuance,
    Fund,
}

/// Who vouches for taking money out of the paying account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// The paying account must be the actor's own member account.
    Owner(UserId),
    /// The paying account must be the currency's issuance account (an admin, checked before).
    Issuer,
    /// A domain rule already decided this movement may happen (a passed proposal, a refund):
    /// any account of the currency may pay, within its floor.
    System,
}

/// One transfer as asked for: resolved currency, parsed amount, namespaced idempotency key.
#[derive(Debug, Clone)]
pub struct TransferOrder {
    pub key: String,
    pub currency: CurrencyId,
    pub from: AccountRef,
    pub to: AccountRef,
    pub amount: Amount,
    pub kind: TransferKind,
    pub memo: String,
    pub actor: UserId,
    pub authority: Authority,
    /// The bearer token that authorised it, when it came over HTTP: checked again inside the
    /// transfer's own transaction (the caller may have known the member from memory).
    pub credential: Option<Credential>,
}

/// Who vouched for an order with a bearer token, to be checked again where it is applied.
#[derive(Debug, Clone)]
pub struct Credential {
    pub tenant: TenantId,
    pub token_hash: Vec<u8>,
}

impl TransferOrder {
    /// What must match for a repeated key to be the same request.
    pub fn fingerprint(&self) -> Vec<u8> {
        let canon = format!(
            "v1|{}|{:?}|{:?}|{}|{}|{}|{}",
            self.currency.0,
            self.from,
            self.to,
            self.amount.minor(),
            self.kind.as_str(),
            self.actor.0,
            self.memo
        );
        Sha256::digest(canon.as_bytes()).to_vec()
    }
}

/// A journal entry: what a transfer (or its replay) answers.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Transfer {
    pub id: TransferId,
    pub currency_id: CurrencyId,
    pub from_account: AccountId,
    pub to_account: AccountId,
    pub amount: i64,
    #[sqlx(try_from = "String")]
    pub kind: TransferKind,
    pub memo: String,
    pub actor_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// Per currency: does the ledger hold together?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CurrencyCheck {
    pub currency: CurrencyCode,
    /// Sum of all balances in minor units; must be 0.
    pub balance_sum: String,
    /// Accounts whose balance differs from their replayed journal.
    pub replay_mismatches: i64,
    /// Accounts below their floor or above their ceiling.
    pub limit_violations: i64,
    pub journal_entries: i64,
    pub ok: bool,
}
