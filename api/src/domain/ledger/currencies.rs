//! Currency lookups inside an org's transaction, for every area that names a currency by code.

use std::collections::HashMap;

use super::{Currency, CurrencyCode, CurrencyKind, store as ledger_store};
use crate::domain::ids::CurrencyId;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// The org's currencies by id, for showing amounts.
pub(crate) async fn currency_map(tx: &mut TenantTx) -> Result<HashMap<CurrencyId, Currency>> {
    Ok(ledger_store::currencies(tx)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}

/// A currency by code, read inside the transaction.
pub(crate) async fn currency_by_code(tx: &mut TenantTx, code: &str) -> Result<Currency> {
    let code = CurrencyCode::parse(code)?;
    ledger_store::currencies(tx)
        .await?
        .into_iter()
        .find(|c| c.code == code)
        .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))
}

/// A currency the community uses as money (not a project's shares).
pub(crate) async fn coin_by_code(tx: &mut TenantTx, code: &str) -> Result<Currency> {
    let currency = currency_by_code(tx, code).await?;
    match ledger_store::currency_kind(tx, currency.id).await? {
        Some(CurrencyKind::Coin) => Ok(currency),
        _ => Err(Error::from(Refusal::ShareCurrencyNotMoney {
            field: "currency",
        })),
    }
}
