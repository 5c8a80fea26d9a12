//! The journal as the admin portal filters it: by account, kind of entry and a range of days,
//! a page at a time. Who sees which entries is the ledger's rule (`history`).

use chrono::{Days, NaiveDate};

use super::ids::{AccountId, TransferId};
use super::ledger::ops::{Receipt, visible_accounts};
use super::ledger::store::{TRANSFER_COLUMNS, accounts, currencies};
use super::ledger::{Transfer, TransferKind};
use super::orgs::Member;
use super::tenancy::TenantTx;
use crate::core::Core;
use crate::error::Result;

/// Which entries: all `None` is the whole journal (as far as the reader may see it).
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    /// Only entries touching the reader's own accounts (their history, whatever their role).
    pub mine: bool,
    pub account: Option<AccountId>,
    pub kind: Option<TransferKind>,
    /// First day (UTC), inclusive.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), inclusive.
    pub until: Option<NaiveDate>,
    /// Entries older than this one (the next page).
    pub before: Option<TransferId>,
}

impl Core {
    /// Journal entries matching `filter`, newest first, at most `limit` (1 to 200).
    pub async fn journal(
        &self,
        member: &Member,
        filter: &JournalFilter,
        limit: i64,
    ) -> Result<Vec<Receipt>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let currencies = currencies(&mut tx).await?;
        let visible: Option<Vec<AccountId>> = if filter.mine {
            let own = accounts(&mut tx, Some(member.user.id)).await?;
            Some(own.into_iter().map(|a| a.id).collect())
        } else {
            visible_accounts(&mut tx, member, filter.account).await?
        };
        let ids: Option<Vec<i64>> = visible.map(|a| a.iter().map(|id| id.0).collect());
        // The day after the last one, as a bound that holds the whole last day.
        let end = filter
            .until
            .and_then(|d| d.checked_add_days(Days::new(1)))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        let start = filter
            .from
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers
             WHERE ($1::bigint[] IS NULL OR from_account = ANY($1) OR to_account = ANY($1))
               AND ($2::bigint IS NULL OR id < $2)
               AND ($3::text IS NULL OR kind = $3)
               AND ($4::timestamptz IS NULL OR created_at >= $4)
               AND ($5::timestamptz IS NULL OR created_at < $5)
             ORDER BY id DESC LIMIT $6"
        );
        let transfers: Vec<Transfer> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(ids)
            .bind(filter.before)
            .bind(filter.kind.map(TransferKind::as_str))
            .bind(start)
            .bind(end)
            .bind(limit.clamp(1, 200))
            .fetch_all(tx.conn())
            .await?;
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
}
