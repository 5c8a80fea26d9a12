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

/// Money in circulation in one currency at the end of a day (UTC): what its issuance account
/// has put out, less what came back to it, up to that day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Circulation {
    pub currency: String,
    pub day: NaiveDate,
    /// Minor units of the currency.
    pub minor: i64,
}

impl Core {
    /// Circulation per currency at the end of each day that changed it, for those who see the
    /// whole ledger: the days within the last `days`, each with the running total since the start.
    pub async fn circulation_per_day(
        &self,
        member: &Member,
        days: i64,
    ) -> Result<Vec<Circulation>> {
        if !member.role.sees_all_accounts() {
            return Err(Error::from(Refusal::NotYourHistory));
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        Ok(sqlx::query_as(
            "WITH moves AS (
                 SELECT t.currency_id, (t.created_at AT TIME ZONE 'UTC')::date AS day,
                        sum(CASE WHEN f.kind = 'issuance' THEN t.amount::numeric ELSE 0 END)
                          - sum(CASE WHEN o.kind = 'issuance' THEN t.amount::numeric ELSE 0 END)
                          AS delta
                 FROM transfers t
                 JOIN accounts f ON f.id = t.from_account
                 JOIN accounts o ON o.id = t.to_account
                 WHERE f.kind = 'issuance' OR o.kind = 'issuance'
                 GROUP BY 1, 2
             ), running AS (
                 SELECT currency_id, day,
                        sum(delta) OVER (PARTITION BY currency_id ORDER BY day) AS total
                 FROM moves
             )
             SELECT c.code AS currency, r.day, r.total::bigint AS minor
             FROM running r JOIN currencies c ON c.id = r.currency_id
             WHERE r.day >= (now() AT TIME ZONE 'UTC')::date - $1::int
             ORDER BY c.code, r.day",
        )
        .bind(days.clamp(1, 366))
        .fetch_all(tx.conn())
        .await?)
    }
}
