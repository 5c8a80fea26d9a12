//! The org's connected account at the payment provider: a treasurer starts onboarding (the
//! account is created on first use), the provider's `account updated` events keep its status.

use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::clawbacks::{self, ClawbackTotals};
use super::euros::{self, EuroCheck};
use super::{OnboardingRequest, ProviderEvent};
use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::domain::orgs::Member;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// The org's billing as a treasurer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BillingStatus {
    /// A payment provider is configured here at all.
    pub topups_on: bool,
    /// The org has a connected account.
    pub onboarded: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    /// What the provider still needs before it enables charges or payouts.
    pub requirements_due: Vec<String>,
    pub euros: EuroCheck,
    /// Coins taken back for refunds and lost disputes; `shortfall` is what members no longer
    /// had, recorded on the org's clawback account.
    pub clawbacks: ClawbackTotals,
}

/// A link to the provider's onboarding pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OnboardingLink {
    pub url: String,
}

/// The connected account of an org that may take payments, or why not.
pub(crate) async fn ready_account(pool: &PgPool, tenant: TenantId) -> Result<String> {
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT provider_account, charges_enabled FROM control.billing_accounts
         WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((account, true)) => Ok(account),
        _ => Err(Error::from(Refusal::BillingAccountNotReady)),
    }
}

/// Applies an `account updated` event; an account we do not know changes nothing.
pub(crate) async fn apply_update(conn: &mut PgConnection, event: &ProviderEvent) -> Result<bool> {
    let ProviderEvent::AccountUpdated {
        account,
        charges_enabled,
        payouts_enabled,
        requirements_due,
    } = event
    else {
        return Ok(false);
    };
    let changed = sqlx::query(
        "UPDATE control.billing_accounts
         SET charges_enabled = $2, payouts_enabled = $3, requirements_due = $4, updated_at = now()
         WHERE provider_account = $1",
    )
    .bind(account)
    .bind(charges_enabled)
    .bind(payouts_enabled)
    .bind(requirements_due)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

fn require_treasurer(member: &Member) -> Result<()> {
    if member.role.sees_all_accounts() {
        Ok(())
    } else {
        Err(Error::from(Refusal::NotTreasurer))
    }
}

impl Core {
    /// A treasurer or admin gets a link to onboard (or finish onboarding) the org's account.
    pub async fn billing_onboarding(&self, member: &Member) -> Result<OnboardingLink> {
        require_treasurer(member)?;
        let provider = self
            .payments
            .clone()
            .ok_or_else(|| Error::from(Refusal::TopupsOff))?;
        let tenant = member.tenant.id;
        let account: Option<(String,)> = sqlx::query_as(
            "SELECT provider_account FROM control.billing_accounts WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?;
        let request = OnboardingRequest {
            tenant,
            account: account.map(|(a,)| a),
            idempotency_key: format!("account:{tenant}"),
        };
        let onboarding = provider.onboarding(&request).await.map_err(|e| {
            tracing::warn!(tenant = %tenant, error = %e, "onboarding failed");
            Error::Unavailable {
                retry_after_secs: 30,
            }
        })?;
        sqlx::query(
            "INSERT INTO control.billing_accounts (tenant_id, provider_account) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant)
        .bind(&onboarding.account)
        .execute(&self.pool)
        .await?;
        Ok(OnboardingLink {
            url: onboarding.url,
        })
    }

    /// The org's billing: account status and the euro ledger's check. Treasurers and admins.
    pub async fn billing_status(&self, member: &Member) -> Result<BillingStatus> {
        require_treasurer(member)?;
        let row: Option<(bool, bool, Vec<String>)> = sqlx::query_as(
            "SELECT charges_enabled, payouts_enabled, requirements_due
             FROM control.billing_accounts WHERE tenant_id = $1",
        )
        .bind(member.tenant.id)
        .fetch_optional(&self.pool)
        .await?;
        let mut conn = self.pool.acquire().await?;
        let euros = euros::check(&mut conn, member.tenant.id).await?;
        drop(conn);
        let mut tx = crate::domain::tenancy::TenantTx::begin(&self.pool, &member.schema()).await?;
        let clawbacks = clawbacks::totals(&mut tx).await?;
        drop(tx);
        let onboarded = row.is_some();
        let (charges_enabled, payouts_enabled, requirements_due) = row.unwrap_or_default();
        Ok(BillingStatus {
            topups_on: self.topups_on(),
            onboarded,
            charges_enabled,
            payouts_enabled,
            requirements_due,
            euros,
            clawbacks,
        })
    }
}
