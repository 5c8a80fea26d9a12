//! Pledges: the work-backed way money is made. A member pledges work worth N, which opens an
//! "issue for a pledge" proposal; when it passes, N is issued to the member and recorded as
//! their obligation. Buying the pledged work through the market redeems it. The org's page shows,
//! per currency, what was pledged, issued, redeemed and is still outstanding.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actions::Action;
use super::proposals::open_for_pledge;
use crate::core::Core;
use crate::domain::idempotency::{Creation, IdempotencyKey};
use crate::domain::ids::{CurrencyId, PledgeId, ProposalId, UserId};
use crate::domain::ledger::CurrencyCode;
use crate::domain::ledger::currencies::{coin_by_code, currency_map};
use crate::domain::money::{format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{TenantTx, retrying};
use crate::domain::text;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

text_enum!(
    /// Waiting for its proposal, then approved (issued) or rejected.
    PledgeStatus {
        Proposed => "proposed",
        Approved => "approved",
        Rejected => "rejected",
    }
);

/// A pledge as the member makes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPledge {
    #[schema(example = "COIN")]
    pub currency: String,
    /// What the work is worth, as decimal text in the currency's scale.
    #[schema(example = "10")]
    pub amount: String,
    /// The work, e.g. "10 hours of bike repair".
    pub description: String,
    /// When the vote on it ends (default: the org's voting period from now).
    pub closes_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PledgeView {
    pub id: PledgeId,
    pub user_id: UserId,
    pub member_name: String,
    pub currency: CurrencyCode,
    pub amount: String,
    pub description: String,
    pub status: PledgeStatus,
    pub issued: String,
    pub redeemed: String,
    /// Issued and not yet redeemed: what the member still owes in work.
    pub outstanding: String,
    pub proposal_id: ProposalId,
    pub created_at: DateTime<Utc>,
}

/// Per currency, over all pledges (on the wire as `http::governance::PledgeSummary`).
#[derive(Debug, Clone, Serialize)]
pub struct PledgeSummary {
    pub currency: CurrencyCode,
    /// Pledges waiting for their vote or approved (rejected ones do not count).
    pub pledged: String,
    pub issued: String,
    pub redeemed: String,
    pub outstanding: String,
}

/// Pledges newest first: one (`only`), or a page of those older than `before`.
async fn views(
    tx: &mut TenantTx,
    only: Option<PledgeId>,
    before: Option<PledgeId>,
    limit: i64,
) -> Result<Vec<PledgeView>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: PledgeId,
        user_id: UserId,
        member_name: String,
        currency_id: CurrencyId,
        amount: i64,
        description: String,
        status: String,
        issued: i64,
        redeemed: i64,
        proposal_id: ProposalId,
        created_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id, p.user_id, m.display_name AS member_name, p.currency_id, p.amount, p.description,
                p.status, p.issued, p.redeemed, p.proposal_id, p.created_at
         FROM pledges p JOIN members m ON m.user_id = p.user_id
         WHERE ($1::bigint IS NULL OR p.id = $1) AND ($2::bigint IS NULL OR p.id < $2)
         ORDER BY p.id DESC LIMIT $3",
    )
    .bind(only)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    let currencies = currency_map(tx).await?;
    rows.into_iter()
        .map(|r| {
            let c = currencies
                .get(&r.currency_id)
                .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
            Ok(PledgeView {
                id: r.id,
                user_id: r.user_id,
                member_name: r.member_name,
                currency: c.code.clone(),
                amount: format_minor(r.amount, c.scale),
                description: r.description,
                status: PledgeStatus::try_from(r.status)?,
                issued: format_minor(r.issued, c.scale),
                redeemed: format_minor(r.redeemed, c.scale),
                outstanding: format_minor(r.issued - r.redeemed, c.scale),
                proposal_id: r.proposal_id,
                created_at: r.created_at,
            })
        })
        .collect()
}

async fn one(tx: &mut TenantTx, id: PledgeId) -> Result<PledgeView> {
    views(tx, Some(id), None, 1)
        .await?
        .pop()
        .ok_or_else(|| Error::from(Refusal::PledgeNotFound))
}

impl Core {
    /// A member pledges work and, with it, opens the proposal that approves it. With a key, a
    /// retry answers the pledge the first attempt made.
    pub async fn pledge(
        &self,
        member: &Member,
        new: NewPledge,
        key: Option<IdempotencyKey>,
    ) -> Result<PledgeView> {
        let description = text::body("description", &new.description, 1, 500)?;
        let creation = Creation::new(key.as_ref(), "pledge", &new);
        let (new, creation, description) = (&new, &creation, &description);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let reread = async |tx: &mut TenantTx, id| one(tx, PledgeId(id)).await;
            if let Some(first) = creation.take(&mut tx, reread).await? {
                return Ok(Some(first));
            }
            let currency = coin_by_code(&mut tx, &new.currency).await?;
            let amount = parse_amount("amount", &new.amount, currency.scale)?;
            // The pledge and its proposal name each other: take the pledge's id first.
            let (id,): (PledgeId,) =
                sqlx::query_as("SELECT nextval(pg_get_serial_sequence('pledges', 'id'))")
                    .fetch_one(tx.conn())
                    .await?;
            let action = Action::IssueForPledge {
                pledge_id: id,
                member: member.user.id,
                currency: currency.code.clone(),
                amount: amount.display(currency.scale),
                amount_minor: amount.minor(),
            };
            let title = format!(
                "Pledge: {} ({} {})",
                description.chars().take(150).collect::<String>(),
                amount.display(currency.scale),
                currency.code.as_str()
            );
            let proposal = open_for_pledge(&mut tx, member, &action, &title, new.closes_at).await?;
            sqlx::query(
                "INSERT INTO pledges (id, user_id, currency_id, amount, description, proposal_id)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(member.user.id)
            .bind(currency.id)
            .bind(amount.minor())
            .bind(description)
            .bind(proposal)
            .execute(tx.conn())
            .await?;
            let view = one(&mut tx, id).await?;
            creation.remember(&mut tx, id.0, &view).await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }

    /// The org's pledges, newest first, paged by `before` (the last id of the previous page).
    pub async fn pledges(
        &self,
        member: &Member,
        before: Option<PledgeId>,
        limit: i64,
    ) -> Result<Vec<PledgeView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        views(&mut tx, None, before, limit.clamp(1, 200)).await
    }

    pub async fn pledge_by_id(&self, member: &Member, id: PledgeId) -> Result<PledgeView> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        views(&mut tx, Some(id), None, 1)
            .await?
            .pop()
            .ok_or_else(|| Error::from(Refusal::PledgeNotFound))
    }

    /// Pledged, issued, redeemed and outstanding, per currency. Summed and shown by PostgreSQL
    /// in `numeric`, so no total can overflow.
    pub async fn pledge_summary(&self, member: &Member) -> Result<Vec<PledgeSummary>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "WITH t AS (
                 SELECT c.code, c.scale,
                        coalesce(sum(p.amount) FILTER (WHERE p.status <> 'rejected'), 0) AS pledged,
                        coalesce(sum(p.issued), 0) AS issued,
                        coalesce(sum(p.redeemed), 0) AS redeemed
                 FROM pledges p JOIN currencies c ON c.id = p.currency_id
                 GROUP BY c.code, c.scale
             )
             SELECT code,
                    round(pledged / 10::numeric ^ scale, scale)::text,
                    round(issued / 10::numeric ^ scale, scale)::text,
                    round(redeemed / 10::numeric ^ scale, scale)::text,
                    round((issued - redeemed) / 10::numeric ^ scale, scale)::text
             FROM t ORDER BY code",
        )
        .fetch_all(tx.conn())
        .await?;
        rows.into_iter()
            .map(|(code, pledged, issued, redeemed, outstanding)| {
                Ok(PledgeSummary {
                    currency: CurrencyCode::parse(&code)?,
                    pledged,
                    issued,
                    redeemed,
                    outstanding,
                })
            })
            .collect()
    }
}
