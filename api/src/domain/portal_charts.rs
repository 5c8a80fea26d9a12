//! Figures the admin portal draws: payments per day. (How balances are spread comes from the
//! accounts themselves.)

use chrono::NaiveDate;

use super::orgs::Member;
use super::tenancy::TenantTx;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// Payments made on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayCount {
    pub day: NaiveDate,
    pub payments: i64,
}

impl Core {
    /// Payments per day over the last `days` days (days without any are left out), for those
    /// who see the whole ledger.
    pub async fn payments_per_day(&self, member: &Member, days: i64) -> Result<Vec<DayCount>> {
        if !member.role.sees_all_accounts() {
            return Err(Error::from(Refusal::NotYourHistory));
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        Ok(sqlx::query_as(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS payments
             FROM transfers
             WHERE kind = 'payment' AND created_at >= now() - make_interval(days => $1::int)
             GROUP BY 1 ORDER BY 1",
        )
        .bind(days.clamp(1, 366))
        .fetch_all(tx.conn())
        .await?)
    }
}
