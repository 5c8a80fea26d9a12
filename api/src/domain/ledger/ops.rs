//! Ledger operations as members and admins call them.

use super::{
    Account, AccountRef, Authority, Credential, Currency, CurrencyCheck, CurrencyCode, Transfer,
    TransferKind, TransferOrder, store,
};
use crate::core::Core;
use crate::domain::ids::{AccountId, TransferId};
use crate::domain::money::{Amount, Scale, format_minor};
use crate::domain::orgs::{Member, Payer};
use crate::domain::tenancy::TenantTx;
use crate::domain::text;
use crate::error::{Error, Result};
use crate::refusal::{Money, Refusal};

/// Edges name the key by this older path too.
pub use crate::domain::idempotency::IdempotencyKey;

/// A payment or issuance as asked for, before the currency is known.
#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub currency: String,
    pub to: AccountRef,
    pub amount: String,
    pub memo: String,
}

/// A journal entry with its currency, for showing amounts.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub transfer: Transfer,
    pub currency: Currency,
}

/// An account with its currency, for showing its balance.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: Account,
    pub currency: Currency,
}

impl AccountView {
    pub fn balance(&self) -> String {
        format_minor(self.account.balance, self.currency.scale)
    }
}

pub struct NewCurrency {
    pub code: String,
    pub name: String,
    pub scale: i64,
    /// Mutual credit: how far below zero member accounts may go, as a decimal amount.
    pub credit_limit: Option<String>,
}

const MEMO_MAX: usize = 500;

fn parse_memo(memo: &str) -> Result<String> {
    text::line("memo", memo, 0, MEMO_MAX)
}

impl Core {
    /// A payment over HTTP by a payer from [`Core::payer_for_token`]. A payment applied now was
    /// authorised by its own write; any other answer (a refusal, decided without writing, or a
    /// replay of an earlier key) is given only after the token and membership are looked up
    /// again, so a revoked token gets 401 there too, in every process. Which answer was
    /// written now is the transfer lane's to say ([`Posted::written_now`](super::queue::Posted::written_now)), not a clock's.
    pub async fn pay_with_token(
        &self,
        payer: &Payer,
        req: MoveRequest,
        key: IdempotencyKey,
    ) -> Result<Receipt> {
        let answer = self.pay_as(payer, req, key).await;
        let checked_by_write = match &answer {
            Ok((_, written_now)) => *written_now,
            Err(Error::Unauthorized) => true,
            Err(_) => false,
        };
        let answer = answer.map(|(receipt, _)| receipt);
        if !payer.remembered || checked_by_write {
            return answer;
        }
        let slug = payer.member.tenant.slug.to_string();
        match self
            .access
            .call((payer.credential.token_hash.clone(), slug))
            .await?
        {
            Ok(_) => answer,
            // The write's own refusal of a member who left says it as well as the lookup would.
            Err(e)
                if !matches!(e, Error::Unauthorized)
                    && answer
                        .as_ref()
                        .err()
                        .and_then(Error::refusal)
                        .is_some_and(|r| r.class() == crate::refusal::Class::Forbidden) =>
            {
                answer
            }
            Err(e) => Err(e),
        }
    }

    pub async fn create_currency(&self, admin: &Member, new: NewCurrency) -> Result<Currency> {
        admin.require_admin()?;
        let code = CurrencyCode::parse(&new.code)?;
        let name = &text::line("name", &new.name, 1, 100)?;
        let scale = i16::try_from(new.scale)
            .ok()
            .and_then(|s| Scale::try_from(s).ok())
            .ok_or_else(|| {
                Error::from(Refusal::ScaleOutOfRange {
                    field: "scale",
                    max: 6,
                })
            })?;
        let credit_limit = match new.credit_limit.as_deref() {
            None | Some("0") => 0,
            Some(text) => Amount::parse(text, scale)
                .map_err(|e| Error::from(Refusal::amount("credit_limit", e)))?
                .minor(),
        };
        if credit_limit > super::MAX_LIMIT {
            return Err(Error::from(Refusal::AmountAboveLimit {
                field: "credit_limit",
                max: Money::new(super::MAX_LIMIT, scale),
            }));
        }
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        let currency =
            store::insert_currency(&mut tx, &code, name, scale.into(), credit_limit).await?;
        tx.commit().await?;
        Ok(currency)
    }

    pub async fn currencies(&self, member: &Member) -> Result<Vec<Currency>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        store::currencies(&mut tx).await
    }

    /// A currency by code, from the cache when it was seen before.
    pub async fn currency(&self, member: &Member, code: &str) -> Result<Currency> {
        let code = CurrencyCode::parse(code)?;
        let key = (member.tenant.id, code);
        if let Some(c) = self
            .currencies
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(c);
        }
        let all = self.currencies(member).await?;
        let found = all.iter().find(|c| c.code == key.1).cloned();
        if let Ok(mut cache) = self.currencies.write() {
            for c in all {
                cache.insert((member.tenant.id, c.code.clone()), c);
            }
        }
        found.ok_or_else(|| Error::from(Refusal::CurrencyNotFound))
    }

    /// The member's own accounts; admins and treasurers see every account of the org.
    pub async fn accounts(&self, member: &Member) -> Result<Vec<AccountView>> {
        let owner = (!member.role.sees_all_accounts()).then_some(member.user.id);
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let currencies = store::currencies(&mut tx).await?;
        let accounts = store::accounts(&mut tx, owner).await?;
        Ok(accounts
            .into_iter()
            .filter_map(|account| {
                let currency = currencies
                    .iter()
                    .find(|c| c.id == account.currency_id)?
                    .clone();
                Some(AccountView { account, currency })
            })
            .collect())
    }

    /// The member pays from their own account.
    pub async fn pay(
        &self,
        member: &Member,
        req: MoveRequest,
        key: IdempotencyKey,
    ) -> Result<Receipt> {
        self.move_money(member, req, key, TransferKind::Payment, None)
            .await
            .map(|(receipt, _)| receipt)
    }

    /// A payment over HTTP: the member may come from memory ([`Core::payer_for_token`]), so
    /// the token is checked again in the payment's own transaction. The flag says whether that
    /// write happened now (false: the answer replays an earlier entry, and checked nothing).
    pub async fn pay_as(
        &self,
        payer: &Payer,
        req: MoveRequest,
        key: IdempotencyKey,
    ) -> Result<(Receipt, bool)> {
        let credential = Some(payer.credential.clone());
        self.move_money(&payer.member, req, key, TransferKind::Payment, credential)
            .await
    }

    /// An admin issues new money from the currency's issuance account.
    pub async fn issue(
        &self,
        admin: &Member,
        req: MoveRequest,
        key: IdempotencyKey,
    ) -> Result<Receipt> {
        admin.require_admin()?;
        self.move_money(admin, req, key, TransferKind::Issuance, None)
            .await
            .map(|(receipt, _)| receipt)
    }

    async fn move_money(
        &self,
        member: &Member,
        req: MoveRequest,
        key: IdempotencyKey,
        kind: TransferKind,
        credential: Option<Credential>,
    ) -> Result<(Receipt, bool)> {
        let (order, currency) = self.order(member, req, key, kind, credential).await?;
        let posted = self.transfers.submit(&member.schema(), order).await;
        let outcome = match &posted {
            Ok(_) => "applied",
            Err(e) => e.code(),
        };
        metrics::counter!("coinsence_transfers_total", "kind" => kind.as_str(), "outcome" => outcome).increment(1);
        let posted = posted?;
        Ok((
            Receipt {
                transfer: posted.transfer,
                currency,
            },
            posted.written_now,
        ))
    }

    /// A member's payment as an order, for an operation that posts it inside its own
    /// transaction ([`super::queue::post_all`]) rather than through a lane.
    pub(crate) async fn payment_order(
        &self,
        member: &Member,
        req: MoveRequest,
        key: IdempotencyKey,
    ) -> Result<(TransferOrder, Currency)> {
        self.order(member, req, key, TransferKind::Payment, None)
            .await
    }

    /// Resolves the currency and checks what can be checked before the ledger is touched.
    async fn order(
        &self,
        member: &Member,
        req: MoveRequest,
        key: IdempotencyKey,
        kind: TransferKind,
        credential: Option<Credential>,
    ) -> Result<(TransferOrder, Currency)> {
        let currency = self.currency(member, &req.currency).await?;
        let amount = Amount::parse(&req.amount, currency.scale)
            .map_err(|e| Error::from(Refusal::amount("amount", e)))?;
        self.guard_shares(member, &currency, kind).await?;
        let (from, authority) = if kind == TransferKind::Issuance {
            (AccountRef::Issuance, Authority::Issuer)
        } else {
            (
                AccountRef::Member(member.user.id),
                Authority::Owner(member.user.id),
            )
        };
        let order = TransferOrder {
            key: key.into_string(),
            currency: currency.id,
            from,
            to: req.to,
            amount,
            kind,
            memo: parse_memo(&req.memo)?,
            actor: member.user.id,
            authority,
            credential,
        };
        Ok((order, currency))
    }

    /// Journal entries, newest first. Members see those touching their own accounts; admins and
    /// treasurers see all, or one account's with `account`.
    pub async fn history(
        &self,
        member: &Member,
        account: Option<AccountId>,
        before: Option<TransferId>,
        limit: i64,
    ) -> Result<Vec<Receipt>> {
        let limit = limit.clamp(1, 200);
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let currencies = store::currencies(&mut tx).await?;
        let filter = visible_accounts(&mut tx, member, account).await?;
        let transfers = store::history(&mut tx, filter.as_deref(), before, limit).await?;
        Ok(transfers
            .into_iter()
            .filter_map(|transfer| {
                let currency = currencies
                    .iter()
                    .find(|c| c.id == transfer.currency_id)?
                    .clone();
                Some(Receipt { transfer, currency })
            })
            .collect())
    }

    /// Checks every currency: balances sum to zero, the journal replays to every balance, and no
    /// account is outside its limits.
    pub async fn verify_ledger(&self, member: &Member) -> Result<Vec<CurrencyCheck>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let currencies = store::currencies(&mut tx).await?;
        let rows = store::verify(&mut tx).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, sum, mismatches, violations, entries)| {
                let currency = currencies.iter().find(|c| c.id == id)?;
                Some(CurrencyCheck {
                    currency: currency.code.clone(),
                    ok: sum == "0" && mismatches == 0 && violations == 0,
                    balance_sum: sum,
                    replay_mismatches: mismatches,
                    limit_violations: violations,
                    journal_entries: entries,
                })
            })
            .collect())
    }
}

/// Whose entries `member` may read in the journal, narrowed to `account`: admins and treasurers
/// every account (`None`: no narrowing), members only their own (refused for another's).
pub(crate) async fn visible_accounts(
    tx: &mut TenantTx,
    member: &Member,
    account: Option<AccountId>,
) -> Result<Option<Vec<AccountId>>> {
    if member.role.sees_all_accounts() {
        return Ok(account.map(|a| vec![a]));
    }
    let own: Vec<AccountId> = store::accounts(tx, Some(member.user.id))
        .await?
        .into_iter()
        .map(|a| a.id)
        .filter(|id| account.is_none_or(|a| a == *id))
        .collect();
    if account.is_some() && own.is_empty() {
        return Err(Error::from(Refusal::NotYourHistory));
    }
    Ok(Some(own))
}
