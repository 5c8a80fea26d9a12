//! Projects raise money in a coin currency into their own account and give investors shares:
//! a currency of kind "share", created with the project, at a fixed rate. At the deadline a
//! project that reached its goal is funded (its owner can spend what it raised); one that did not
//! refunds every investor exactly and cancels their shares.
//!
//! Shares cannot change hands while their project is raising, so the shares an investor got are
//! still in their account when a refund cancels them. The rate is "shares per coin" with up to 6
//! decimals; the share currency has the coin's scale, and an investment must buy a whole number of
//! the share's minor units (nothing is rounded).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::{self, EventKind, NewEvent};
use crate::core::Core;
use crate::domain::idempotency::{Creation, IdempotencyKey};
use crate::domain::ids::{
    AccountId, CurrencyId, InvestmentId, ProjectId, ProposalId, TransferId, UserId,
};
use crate::domain::ledger::currencies::{coin_by_code, currency_map};
use crate::domain::ledger::ops::Receipt;
use crate::domain::ledger::queue::{post_all, replayed};
use crate::domain::ledger::{
    AccountRef, Authority, Currency, CurrencyCode, CurrencyKind, TransferKind, TransferOrder,
    store as ledger_store,
};
use crate::domain::money::{Amount, Scale, format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{Tenant, TenantTx, retrying};
use crate::domain::text;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::{Money, Refusal};

text_enum!(
    /// Raising until the deadline, then funded or refunded.
    ProjectStatus {
        Open => "open",
        Funded => "funded",
        Refunded => "refunded",
    }
);

/// A new project as its owner describes it. Amounts and the rate are decimal text.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The coin currency it raises.
    #[schema(example = "COIN")]
    pub currency: String,
    #[schema(example = "500")]
    pub goal: String,
    /// When raising ends; must be in the future.
    pub deadline: DateTime<Utc>,
    /// Code of the share currency created for it (2–8 capital letters, unused in the org).
    #[schema(example = "BIKESH")]
    pub share_code: String,
    /// Name of the share currency (default: "<title> shares").
    pub share_name: Option<String>,
    /// Shares per coin, up to 6 decimals, e.g. "1" or "0.5".
    #[schema(example = "1")]
    pub rate: String,
    /// The most one member may invest in total.
    pub cap: Option<String>,
}

/// A payment out of a funded project, by its owner.
#[derive(Debug, Clone)]
pub struct ProjectPayment {
    pub to: AccountRef,
    pub amount: String,
    pub memo: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    pub id: ProjectId,
    pub title: String,
    pub description: String,
    pub owner_user_id: UserId,
    pub owner_name: String,
    pub currency: CurrencyCode,
    pub goal: String,
    pub raised: String,
    pub cap: Option<String>,
    pub deadline: DateTime<Utc>,
    pub share_currency: CurrencyCode,
    /// Shares per coin.
    pub rate: String,
    pub status: ProjectStatus,
    /// The project's account, which holds what it raised.
    pub account_id: AccountId,
    pub investors: i64,
    pub settled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvestmentView {
    pub id: InvestmentId,
    pub project_id: ProjectId,
    /// Absent when the community fund invested (through a proposal).
    pub investor_user_id: Option<UserId>,
    pub currency: CurrencyCode,
    pub amount: String,
    pub share_currency: CurrencyCode,
    pub shares: String,
    pub transfer_id: TransferId,
    pub created_at: DateTime<Utc>,
}

/// A project's row, locked or not.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ProjectRow {
    pub id: ProjectId,
    pub owner_user_id: UserId,
    pub title: String,
    pub currency_id: CurrencyId,
    pub account_id: AccountId,
    pub share_currency_id: CurrencyId,
    pub rate_micro: i64,
    pub goal: i64,
    pub cap: Option<i64>,
    pub raised: i64,
    pub deadline: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub status: ProjectStatus,
}

impl ProjectRow {
    /// Investing is possible until the deadline, while the project is open.
    pub fn check_open(&self, at: DateTime<Utc>) -> Result<()> {
        if self.status != ProjectStatus::Open {
            return Err(Error::from(Refusal::ProjectNotRaising));
        }
        if at >= self.deadline {
            return Err(Error::from(Refusal::ProjectDeadlinePassed));
        }
        Ok(())
    }
}

const PROJECT_COLUMNS: &str = "id, owner_user_id, title, currency_id, account_id, share_currency_id, rate_micro, goal, cap, raised, deadline, status";

pub(crate) async fn find(tx: &mut TenantTx, id: ProjectId) -> Result<ProjectRow> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::from(Refusal::ProjectNotFound))
}

/// Locks a project: investments, settling and funding proposals serialize on it.
pub(crate) async fn lock(tx: &mut TenantTx, id: ProjectId) -> Result<ProjectRow> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1 FOR UPDATE");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::from(Refusal::ProjectNotFound))
}

const RATE_SCALE: i128 = 1_000_000;

/// The shares `amount` buys: exactly `amount * rate`, or an error if that is not whole.
pub(crate) fn shares_for(project: &ProjectRow, amount: Amount) -> Result<Amount> {
    let product = i128::from(amount.minor()) * i128::from(project.rate_micro);
    if product % RATE_SCALE != 0 {
        return Err(Error::from(Refusal::FractionalShares { field: "amount" }));
    }
    i64::try_from(product / RATE_SCALE)
        .ok()
        .and_then(|s| Amount::from_minor(s).ok())
        .ok_or_else(|| Error::from(Refusal::AmountTooLarge { field: "amount" }))
}

/// Who invests: a member from their own account, or the community fund (by a passed proposal).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Investor {
    Member(UserId),
    Fund,
}

impl Investor {
    fn account(self) -> AccountRef {
        match self {
            Self::Member(user) => AccountRef::Member(user),
            Self::Fund => AccountRef::Fund,
        }
    }

    fn user(self) -> Option<UserId> {
        match self {
            Self::Member(user) => Some(user),
            Self::Fund => None,
        }
    }

    fn key_part(self) -> String {
        match self {
            Self::Member(user) => user.to_string(),
            Self::Fund => "fund".to_owned(),
        }
    }
}

/// The two movements of an investment: coins into the project, new shares to the investor.
fn investment_orders(
    project: &ProjectRow,
    investor: Investor,
    amount: Amount,
    shares: Amount,
    keys: (String, String),
    actor: UserId,
) -> [TransferOrder; 2] {
    let memo = format!("project {}: {}", project.id, project.title);
    let authority = match investor {
        Investor::Member(user) => Authority::Owner(user),
        Investor::Fund => Authority::System,
    };
    [
        TransferOrder {
            key: keys.0,
            currency: project.currency_id,
            from: investor.account(),
            to: AccountRef::Id(project.account_id),
            amount,
            kind: TransferKind::Investment,
            memo: memo.clone(),
            actor,
            authority,
            credential: None,
        },
        TransferOrder {
            key: keys.1,
            currency: project.share_currency_id,
            from: AccountRef::Issuance,
            to: investor.account(),
            amount: shares,
            kind: TransferKind::Issuance,
            memo,
            actor,
            authority: Authority::Issuer,
            credential: None,
        },
    ]
}

/// Invests inside the caller's transaction, with the project locked and checked open. `Ok(None)`:
/// a concurrent duplicate raced; roll back and retry. An `Err` may leave ledger writes behind:
/// the caller rolls back.
pub(crate) async fn invest_in(
    tx: &mut TenantTx,
    project: &ProjectRow,
    investor: Investor,
    amount: Amount,
    keys: (String, String),
    actor: UserId,
    proposal: Option<ProposalId>,
) -> Result<Option<InvestmentId>> {
    let shares = shares_for(project, amount)?;
    let raised = project
        .raised
        .checked_add(amount.minor())
        .ok_or_else(|| Error::from(Refusal::ProjectGoalExceeded { field: "amount" }))?;
    let orders = investment_orders(project, investor, amount, shares, keys, actor);
    let Some(transfers) = post_all(tx, &orders).await? else {
        return Ok(None);
    };
    let transfer = transfers
        .first()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("investment wrote no transfer")))?;
    let (id,): (InvestmentId,) = sqlx::query_as(
        "INSERT INTO investments (project_id, investor_user_id, amount, shares, transfer_id, proposal_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(project.id)
    .bind(investor.user())
    .bind(amount.minor())
    .bind(shares.minor())
    .bind(transfer.id)
    .bind(proposal)
    .fetch_one(tx.conn())
    .await?;
    // The project is locked (see the callers), so its `raised` as read is current.
    sqlx::query("UPDATE projects SET raised = $2 WHERE id = $1")
        .bind(project.id)
        .bind(raised)
        .execute(tx.conn())
        .await?;
    Ok(Some(id))
}

async fn investment_view(tx: &mut TenantTx, by: InvestmentLookup) -> Result<InvestmentView> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: InvestmentId,
        project_id: ProjectId,
        investor_user_id: Option<UserId>,
        amount: i64,
        shares: i64,
        transfer_id: TransferId,
        created_at: DateTime<Utc>,
        currency_id: CurrencyId,
        share_currency_id: CurrencyId,
    }
    let (id, transfer) = match by {
        InvestmentLookup::Id(id) => (Some(id), None),
        InvestmentLookup::Transfer(t) => (None, Some(t)),
    };
    let row: Row = sqlx::query_as(
        "SELECT i.id, i.project_id, i.investor_user_id, i.amount, i.shares, i.transfer_id, i.created_at,
                p.currency_id, p.share_currency_id
         FROM investments i JOIN projects p ON p.id = i.project_id
         WHERE ($1::bigint IS NULL OR i.id = $1) AND ($2::bigint IS NULL OR i.transfer_id = $2)",
    )
    .bind(id)
    .bind(transfer)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::from(Refusal::InvestmentNotFound))?;
    let currencies = currency_map(tx).await?;
    let (coin, share) = match (
        currencies.get(&row.currency_id),
        currencies.get(&row.share_currency_id),
    ) {
        (Some(c), Some(s)) => (c, s),
        _ => return Err(Error::from(Refusal::CurrencyNotFound)),
    };
    Ok(InvestmentView {
        id: row.id,
        project_id: row.project_id,
        investor_user_id: row.investor_user_id,
        currency: coin.code.clone(),
        amount: format_minor(row.amount, coin.scale),
        share_currency: share.code.clone(),
        shares: format_minor(row.shares, share.scale),
        transfer_id: row.transfer_id,
        created_at: row.created_at,
    })
}

enum InvestmentLookup {
    Id(InvestmentId),
    Transfer(TransferId),
}

fn rate_scale() -> Result<Scale> {
    Scale::new(6).map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))
}

/// Projects newest first: one (`only`), or a page of those older than `before`.
async fn project_views(
    tx: &mut TenantTx,
    only: Option<ProjectId>,
    before: Option<ProjectId>,
    limit: i64,
) -> Result<Vec<ProjectView>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: ProjectId,
        title: String,
        description: String,
        owner_user_id: UserId,
        owner_name: String,
        currency_id: CurrencyId,
        goal: i64,
        raised: i64,
        cap: Option<i64>,
        deadline: DateTime<Utc>,
        share_currency_id: CurrencyId,
        rate_micro: i64,
        status: String,
        account_id: AccountId,
        investors: i64,
        settled_at: Option<DateTime<Utc>>,
        created_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id, p.title, p.description, p.owner_user_id, m.display_name AS owner_name, p.currency_id,
                p.goal, p.raised, p.cap, p.deadline, p.share_currency_id, p.rate_micro, p.status,
                p.account_id, p.settled_at, p.created_at,
                (SELECT count(DISTINCT coalesce(i.investor_user_id, 0)) FROM investments i WHERE i.project_id = p.id) AS investors
         FROM projects p JOIN members m ON m.user_id = p.owner_user_id
         WHERE ($1::bigint IS NULL OR p.id = $1) AND ($2::bigint IS NULL OR p.id < $2)
         ORDER BY p.id DESC LIMIT $3",
    )
    .bind(only)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    let currencies = currency_map(tx).await?;
    let six = rate_scale()?;
    rows.into_iter()
        .map(|r| {
            let (coin, share) = match (
                currencies.get(&r.currency_id),
                currencies.get(&r.share_currency_id),
            ) {
                (Some(c), Some(s)) => (c, s),
                _ => return Err(Error::from(Refusal::CurrencyNotFound)),
            };
            Ok(ProjectView {
                id: r.id,
                title: r.title,
                description: r.description,
                owner_user_id: r.owner_user_id,
                owner_name: r.owner_name,
                currency: coin.code.clone(),
                goal: format_minor(r.goal, coin.scale),
                raised: format_minor(r.raised, coin.scale),
                cap: r.cap.map(|c| format_minor(c, coin.scale)),
                deadline: r.deadline,
                share_currency: share.code.clone(),
                rate: trim_decimal(format_minor(r.rate_micro, six)),
                status: ProjectStatus::try_from(r.status)?,
                account_id: r.account_id,
                investors: r.investors,
                settled_at: r.settled_at,
                created_at: r.created_at,
            })
        })
        .collect()
}

async fn one_project(tx: &mut TenantTx, id: ProjectId) -> Result<ProjectView> {
    project_views(tx, Some(id), None, 1)
        .await?
        .pop()
        .ok_or_else(|| Error::from(Refusal::ProjectNotFound))
}

/// "0.500000" -> "0.5", "1.000000" -> "1".
fn trim_decimal(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

impl Core {
    /// Any member may start a project; they own it. Its share currency is created with it.
    /// With a key, a retry answers the project the first attempt created.
    pub async fn create_project(
        &self,
        member: &Member,
        new: NewProject,
        key: Option<IdempotencyKey>,
    ) -> Result<ProjectView> {
        let title = text::line("title", &new.title, 1, 200)?;
        let description = text::body("description", &new.description, 0, 10_000)?;
        let share_code = CurrencyCode::parse(&new.share_code).map_err(|_| {
            Error::from(Refusal::CurrencyCodeMalformed {
                field: "share_code",
            })
        })?;
        let share_name = match new.share_name.as_deref() {
            Some(name) => text::line("share_name", name, 1, 100)?,
            None => format!("{} shares", title.chars().take(90).collect::<String>()),
        };
        let rate = Amount::parse(&new.rate, rate_scale()?)
            .map_err(|_| Error::from(Refusal::RateMalformed { field: "rate" }))?;
        let creation = Creation::new(key.as_ref(), "project", &new);
        let (new, creation) = (&new, &creation);
        let (title, description, share_code, share_name) =
            (&title, &description, &share_code, &share_name);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let reread = async |tx: &mut TenantTx, id| one_project(tx, ProjectId(id)).await;
            if let Some(first) = creation.take(&mut tx, reread).await? {
                return Ok(Some(first));
            }
            if new.deadline <= Utc::now() {
                return Err(Error::from(Refusal::DeadlineInPast { field: "deadline" }));
            }
            let currency = coin_by_code(&mut tx, &new.currency).await?;
            let goal = parse_amount("goal", &new.goal, currency.scale)?;
            let cap = new
                .cap
                .as_deref()
                .map(|c| parse_amount("cap", c, currency.scale))
                .transpose()?;
            let share = ledger_store::insert_currency(&mut tx, share_code, share_name, currency.scale.into(), 0)
                .await
                .map_err(|e| match e {
                    Error::Refused(Refusal::CurrencyCodeTaken) => Error::from(Refusal::ShareCodeTaken),
                    other => other,
                })?;
            ledger_store::set_currency_kind(&mut tx, share.id, CurrencyKind::Share).await?;
            let account = ledger_store::insert_project_account(&mut tx, currency.id).await?;
            let (id,): (ProjectId,) = sqlx::query_as(
                "INSERT INTO projects (owner_user_id, title, description, currency_id, account_id, share_currency_id,
                                       rate_micro, goal, cap, deadline)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(member.user.id)
            .bind(title)
            .bind(description)
            .bind(currency.id)
            .bind(account)
            .bind(share.id)
            .bind(rate.minor())
            .bind(goal.minor())
            .bind(cap.map(Amount::minor))
            .bind(new.deadline)
            .fetch_one(tx.conn())
            .await?;
            let view = one_project(&mut tx, id).await?;
            creation.remember(&mut tx, id.0, &view).await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }

    /// Projects, newest first, paged by `before` (the last id of the previous page).
    pub async fn projects(
        &self,
        member: &Member,
        before: Option<ProjectId>,
        limit: i64,
    ) -> Result<Vec<ProjectView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        project_views(&mut tx, None, before, limit.clamp(1, 200)).await
    }

    pub async fn project(&self, member: &Member, id: ProjectId) -> Result<ProjectView> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        project_views(&mut tx, Some(id), None, 1)
            .await?
            .pop()
            .ok_or_else(|| Error::from(Refusal::ProjectNotFound))
    }

    /// A member invests from their own account: coins to the project, shares to them, and
    /// never more than the project's per-member cap. A retry with the same key answers the first
    /// investment.
    pub async fn invest(
        &self,
        member: &Member,
        id: ProjectId,
        amount: &str,
        key: IdempotencyKey,
    ) -> Result<InvestmentView> {
        let (user, key) = (member.user.id, &key);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let project = lock(&mut tx, id).await?;
            let scale = currency_map(&mut tx)
                .await?
                .get(&project.currency_id)
                .map(|c| c.scale)
                .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
            let amount = parse_amount("amount", amount, scale)?;
            let shares = shares_for(&project, amount)?;
            let keys = (key.as_str().to_owned(), format!("shares:{}", key.as_str()));
            let [first, _] = investment_orders(&project, Investor::Member(user), amount, shares, keys.clone(), user);
            if let Some(earlier) = replayed(&mut tx, &first).await? {
                return investment_view(&mut tx, InvestmentLookup::Transfer(earlier.id)).await.map(Some);
            }
            project.check_open(Utc::now())?;
            if let Some(cap) = project.cap {
                let (so_far,): (i64,) = sqlx::query_as(
                    "SELECT coalesce(sum(amount), 0)::bigint FROM investments WHERE project_id = $1 AND investor_user_id = $2",
                )
                .bind(project.id)
                .bind(user)
                .fetch_one(tx.conn())
                .await?;
                if so_far.checked_add(amount.minor()).is_none_or(|total| total > cap) {
                    return Err(Error::from(Refusal::InvestmentCapExceeded {
                        field: "amount",
                        cap: Money::new(cap, scale),
                        invested: Money::new(so_far, scale),
                    }));
                }
            }
            let Some(investment) = invest_in(&mut tx, &project, Investor::Member(user), amount, keys, user, None).await? else {
                return Ok(None);
            };
            let view = investment_view(&mut tx, InvestmentLookup::Id(investment)).await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }

    /// The owner of a funded project pays out of it.
    pub async fn pay_from_project(
        &self,
        member: &Member,
        id: ProjectId,
        payment: ProjectPayment,
        key: IdempotencyKey,
    ) -> Result<Receipt> {
        let memo = &text::line("memo", &payment.memo, 0, 500)?;
        let (payment, key) = (&payment, &key);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let project = lock(&mut tx, id).await?;
            if project.owner_user_id != member.user.id {
                return Err(Error::from(Refusal::NotProjectOwner));
            }
            let currency = currency_map(&mut tx)
                .await?
                .remove(&project.currency_id)
                .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
            let order = TransferOrder {
                key: key.as_str().to_owned(),
                currency: currency.id,
                from: AccountRef::Id(project.account_id),
                to: payment.to,
                amount: parse_amount("amount", &payment.amount, currency.scale)?,
                kind: TransferKind::Payment,
                memo: memo.clone(),
                actor: member.user.id,
                authority: Authority::System,
                credential: None,
            };
            if let Some(transfer) = replayed(&mut tx, &order).await? {
                return Ok(Some(Receipt { transfer, currency }));
            }
            if project.status != ProjectStatus::Funded {
                return Err(Error::from(Refusal::ProjectNotFunded));
            }
            let Some(mut transfers) = post_all(&mut tx, &[order]).await? else {
                return Ok(None);
            };
            let transfer = transfers
                .pop()
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("no transfer written")))?;
            tx.commit().await?;
            Ok(Some(Receipt { transfer, currency }))
        })
        .await
    }

    /// Shares move only once their project is funded, and are only ever issued by investing.
    /// The currency's kind is cached (it never changes), so coin payments pay nothing for this.
    pub(crate) async fn guard_shares(
        &self,
        member: &Member,
        currency: &Currency,
        kind: TransferKind,
    ) -> Result<()> {
        let cache_key = (member.tenant.id, currency.id);
        let cached = self
            .currency_kinds
            .read()
            .ok()
            .and_then(|m| m.get(&cache_key).copied());
        let currency_kind = match cached {
            Some(k) => k,
            None => {
                let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
                let k = ledger_store::currency_kind(&mut tx, currency.id)
                    .await?
                    .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
                if let Ok(mut cache) = self.currency_kinds.write() {
                    cache.insert(cache_key, k);
                }
                k
            }
        };
        if currency_kind == CurrencyKind::Coin {
            return Ok(());
        }
        if kind == TransferKind::Issuance {
            return Err(Error::from(Refusal::SharesOnlyByInvesting {
                field: "currency",
            }));
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let status: Option<(String,)> =
            sqlx::query_as("SELECT status FROM projects WHERE share_currency_id = $1")
                .bind(currency.id)
                .fetch_optional(tx.conn())
                .await?;
        match status {
            Some((s,)) if s == ProjectStatus::Open.as_str() => {
                Err(Error::from(Refusal::SharesLockedWhileRaising))
            }
            _ => Ok(()),
        }
    }

    /// Settles one project whose deadline has passed. `Ok(false)`: nothing to do (already
    /// settled, or not due): settling twice is harmless.
    pub(crate) async fn settle_project(
        &self,
        tenant: &Tenant,
        id: ProjectId,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            let project = lock(&mut tx, id).await?;
            if project.status != ProjectStatus::Open || project.deadline > now {
                return Ok(Some(false));
            }
            let investors: Vec<(Option<UserId>, i64, i64)> = sqlx::query_as(
                "SELECT investor_user_id, sum(amount)::bigint, sum(shares)::bigint FROM investments
                 WHERE project_id = $1 GROUP BY investor_user_id ORDER BY investor_user_id NULLS FIRST",
            )
            .bind(project.id)
            .fetch_all(tx.conn())
            .await?;
            let users: Vec<UserId> = investors.iter().filter_map(|(u, _, _)| *u).collect();
            let currencies = currency_map(&mut tx).await?;
            let shown = |amount: i64, currency: CurrencyId| {
                currencies
                    .get(&currency)
                    .map(|c| format_minor(amount, c.scale))
                    .unwrap_or_default()
            };
            let funded = project.raised >= project.goal;
            if !funded {
                let mut orders = Vec::with_capacity(investors.len() * 2);
                for (user, amount, shares) in &investors {
                    let investor = user.map_or(Investor::Fund, Investor::Member);
                    let memo = format!("project {} missed its goal: {}", project.id, project.title);
                    let system = |key: String, currency, from, to, amount: i64, kind| -> Result<TransferOrder> {
                        Ok(TransferOrder {
                            key,
                            currency,
                            from,
                            to,
                            amount: Amount::from_minor(amount).map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?,
                            kind,
                            memo: memo.clone(),
                            actor: project.owner_user_id,
                            authority: Authority::System,
                            credential: None,
                        })
                    };
                    let part = investor.key_part();
                    orders.push(system(
                        format!("project:{}:refund:{part}", project.id),
                        project.currency_id,
                        AccountRef::Id(project.account_id),
                        investor.account(),
                        *amount,
                        TransferKind::Refund,
                    )?);
                    orders.push(system(
                        format!("project:{}:cancel:{part}", project.id),
                        project.share_currency_id,
                        investor.account(),
                        AccountRef::Issuance,
                        *shares,
                        TransferKind::Cancellation,
                    )?);
                }
                if post_all(&mut tx, &orders).await?.is_none() {
                    return Ok(None);
                }
            }
            let status = if funded { ProjectStatus::Funded } else { ProjectStatus::Refunded };
            sqlx::query("UPDATE projects SET status = $2, settled_at = $3 WHERE id = $1")
                .bind(project.id)
                .bind(status.as_str())
                .bind(now)
                .execute(tx.conn())
                .await?;
            let mut to_users = users;
            if !to_users.contains(&project.owner_user_id) {
                to_users.push(project.owner_user_id);
            }
            outbox::emit(
                &mut tx,
                NewEvent {
                    kind: if funded { EventKind::ProjectFunded } else { EventKind::ProjectRefunded },
                    payload: serde_json::json!({
                        "project_id": project.id,
                        "title": project.title,
                        "goal": shown(project.goal, project.currency_id),
                        "raised": shown(project.raised, project.currency_id),
                        "investors": investors.len(),
                    }),
                    to_rooms: true,
                    to_users,
                    dedup_key: format!("project:{}:{}", project.id, status.as_str()),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(Some(true))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(rate_micro: i64) -> ProjectRow {
        ProjectRow {
            id: ProjectId(1),
            owner_user_id: UserId(1),
            title: String::new(),
            currency_id: CurrencyId(1),
            account_id: AccountId(1),
            share_currency_id: CurrencyId(2),
            rate_micro,
            goal: 1,
            cap: None,
            raised: 0,
            deadline: Utc::now(),
            status: ProjectStatus::Open,
        }
    }

    fn amount(minor: i64) -> Amount {
        Amount::from_minor(minor).unwrap()
    }

    #[test]
    fn shares_are_exact_or_refused() {
        let cases: &[(i64, i64, Option<i64>)] = &[
            (1_000_000, 1050, Some(1050)),
            (500_000, 1050, Some(525)),
            (500_000, 1051, None),
            (2_500_000, 3, None),
            (2_500_000, 2, Some(5)),
            (10_000_000, i64::MAX, None),
            (1, 1_000_000, Some(1)),
            (1, 999_999, None),
        ];
        for (rate, minor, want) in cases {
            let got = shares_for(&project(*rate), amount(*minor))
                .ok()
                .map(Amount::minor);
            assert_eq!(got, *want, "rate {rate} amount {minor}");
        }
    }

    #[test]
    fn rates_show_without_trailing_zeros() {
        assert_eq!(trim_decimal("0.500000".into()), "0.5");
        assert_eq!(trim_decimal("1.000000".into()), "1");
        assert_eq!(trim_decimal("10".into()), "10");
    }
}
