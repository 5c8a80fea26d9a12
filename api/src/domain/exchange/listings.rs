//! Which currencies trade: an org lists its own coin by vote, with its limits, and delists it
//! the same way. Listings live in the control schema (every org's members and the worker read
//! them); the vote that writes one runs in the listing org's own transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::{ProposalId, TenantId};
use crate::domain::ledger::CurrencyCode;
use crate::domain::ledger::currencies::coin_by_code;
use crate::domain::money::{Scale, parse_amount};
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// A listing as a passed proposal will write it (checked when the proposal opens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListingSpec {
    pub currency: CurrencyCode,
    /// Decimal places of the currency.
    pub scale: i16,
    /// The most of each foreign currency the org's clearing account may hold, in whole units.
    pub trustline: i64,
    /// The most of this currency that may leave the org in one round, as shown.
    pub max_out_per_round: String,
    /// The same, exactly (minor units).
    pub max_out_per_round_minor: i64,
}

/// A listed currency as everyone on the exchange sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Listing {
    pub currency: String,
    pub scale: i16,
    pub trustline: i64,
    pub max_out_per_round: i64,
    pub listed_at: DateTime<Utc>,
}

/// Checks a request to list the org's coin `currency`: it exists here, is money (not shares),
/// and the limits parse (`trustline` in whole units, `max_out_per_round` in the coin's scale).
pub(crate) async fn prepare_listing(
    tx: &mut TenantTx,
    currency: &str,
    trustline: &str,
    max_out_per_round: &str,
) -> Result<ListingSpec> {
    let coin = coin_by_code(tx, currency).await?;
    let units = Scale::new(0).map_err(|e| Error::Internal(anyhow::anyhow!("scale 0: {e}")))?;
    let trustline = parse_amount("trustline", trustline, units)?;
    let max_out = parse_amount("max_out_per_round", max_out_per_round, coin.scale)?;
    let spec = ListingSpec {
        currency: coin.code,
        scale: i16::from(coin.scale.places()),
        trustline: trustline.minor(),
        max_out_per_round: max_out.display(coin.scale),
        max_out_per_round_minor: max_out.minor(),
    };
    code_free(tx, TenantId(0), &spec.currency).await?;
    Ok(spec)
}

/// Refuses when another org (not `ours`) has a currency of this code listed: a code names one
/// currency on the whole exchange.
async fn code_free(tx: &mut TenantTx, ours: TenantId, code: &CurrencyCode) -> Result<()> {
    let taken: Option<(i64,)> = sqlx::query_as(
        "SELECT tenant_id FROM control.exchange_listings
          WHERE currency_code = $1 AND delisted_at IS NULL AND tenant_id <> $2",
    )
    .bind(code.as_str())
    .bind(ours)
    .fetch_optional(tx.conn())
    .await?;
    match taken {
        Some(_) => Err(Error::from(Refusal::ExchangeCodeTaken {
            currency: code.as_str().to_owned(),
        })),
        None => Ok(()),
    }
}

/// Writes the listing (a new one, or new limits for one already listed) as a passed proposal
/// does, inside its closing transaction.
pub(crate) async fn list(
    tx: &mut TenantTx,
    tenant: TenantId,
    spec: &ListingSpec,
    proposal: ProposalId,
    now: DateTime<Utc>,
) -> Result<()> {
    code_free(tx, tenant, &spec.currency).await?;
    sqlx::query(
        "INSERT INTO control.exchange_listings
             (tenant_id, currency_code, scale, trustline, max_out_per_round, proposal_id, listed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, currency_code) DO UPDATE
            SET scale = excluded.scale, trustline = excluded.trustline,
                max_out_per_round = excluded.max_out_per_round,
                proposal_id = excluded.proposal_id, listed_at = excluded.listed_at,
                delisted_at = NULL",
    )
    .bind(tenant)
    .bind(spec.currency.as_str())
    .bind(spec.scale)
    .bind(spec.trustline)
    .bind(spec.max_out_per_round_minor)
    .bind(proposal)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Checks a request to delist `currency`: it is this org's and listed now.
pub(crate) async fn prepare_delisting(
    tx: &mut TenantTx,
    tenant: TenantId,
    currency: &str,
) -> Result<CurrencyCode> {
    let code = CurrencyCode::parse(currency)?;
    if !is_listed(tx, tenant, &code).await? {
        return Err(Error::from(Refusal::CurrencyNotListed {
            field: "currency",
            currency: code.as_str().to_owned(),
        }));
    }
    Ok(code)
}

async fn is_listed(tx: &mut TenantTx, tenant: TenantId, code: &CurrencyCode) -> Result<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT 1::bigint FROM control.exchange_listings
          WHERE tenant_id = $1 AND currency_code = $2 AND delisted_at IS NULL FOR UPDATE",
    )
    .bind(tenant)
    .bind(code.as_str())
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

/// Ends the listing as a passed proposal does. New orders in the currency are refused from
/// now on; open orders are returned by the next round of each pair (their owners are in other
/// orgs' schemas, which this transaction must not touch).
pub(crate) async fn delist(
    tx: &mut TenantTx,
    tenant: TenantId,
    code: &CurrencyCode,
    now: DateTime<Utc>,
) -> Result<()> {
    if !is_listed(tx, tenant, code).await? {
        return Err(Error::from(Refusal::CurrencyNotListed {
            field: "currency",
            currency: code.as_str().to_owned(),
        }));
    }
    sqlx::query(
        "UPDATE control.exchange_listings SET delisted_at = $3
          WHERE tenant_id = $1 AND currency_code = $2 AND delisted_at IS NULL",
    )
    .bind(tenant)
    .bind(code.as_str())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every currency listed now, by code.
pub(crate) async fn listed(conn: &mut sqlx::PgConnection) -> Result<Vec<Listing>> {
    Ok(sqlx::query_as(
        "SELECT currency_code AS currency, scale, trustline, max_out_per_round, listed_at
           FROM control.exchange_listings WHERE delisted_at IS NULL ORDER BY currency_code",
    )
    .fetch_all(conn)
    .await?)
}

impl crate::core::Core {
    /// Every currency listed on the exchange now; public to the members of every org.
    pub async fn exchange_listings(&self) -> Result<Vec<Listing>> {
        let mut conn = self.pool.acquire().await?;
        listed(&mut conn).await
    }
}
