//! Currencies, accounts, transfers, issuance, history and verification.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{OrgMember, OrgPayer};
use super::error::{ApiError, ApiResult, AppJson, Problem};
use super::page_limit;
use super::replays::Replay;
use crate::domain::ids::{AccountId, TransferId, UserId};
use crate::domain::ledger::ops::{AccountView, IdempotencyKey, MoveRequest, NewCurrency, Receipt};
use crate::domain::ledger::{AccountKind, AccountRef, Currency, CurrencyCheck, TransferKind};
use crate::domain::money::format_minor;
use crate::domain::orgs::Member;
use crate::error::Error;
use crate::refusal::Refusal;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCurrencyBody {
    /// 2–8 capital letters.
    #[schema(example = "BIKE")]
    pub code: String,
    pub name: String,
    /// Decimal places, 0–6.
    pub scale: i64,
    /// Mutual credit: how far below zero each member account may go, e.g. "50.00".
    pub credit_limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyView {
    pub code: String,
    pub name: String,
    pub scale: u8,
    pub credit_limit: String,
}

impl From<Currency> for CurrencyView {
    fn from(c: Currency) -> Self {
        Self {
            code: c.code.as_str().to_owned(),
            name: c.name,
            scale: c.scale.places(),
            credit_limit: format_minor(c.default_credit_limit, c.scale),
        }
    }
}

#[utoipa::path(post, path = "/v1/orgs/{org}/currencies", request_body = NewCurrencyBody, tag = "ledger",
    params(("org" = String, Path)),
    responses((status = 201, body = CurrencyView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_currency(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
    AppJson(body): AppJson<NewCurrencyBody>,
) -> ApiResult<(StatusCode, AppJson<CurrencyView>)> {
    let currency = state
        .core
        .create_currency(
            &admin,
            NewCurrency {
                code: body.code,
                name: body.name,
                scale: body.scale,
                credit_limit: body.credit_limit,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, AppJson(currency.into())))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/currencies", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = Vec<CurrencyView>)))]
pub async fn list_currencies(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<CurrencyView>>> {
    let all = state.core.currencies(&member).await?;
    Ok(AppJson(all.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDto {
    pub id: AccountId,
    pub currency: String,
    pub kind: AccountKind,
    pub owner_user_id: Option<UserId>,
    /// Decimal, in the currency's scale.
    pub balance: String,
    /// Lowest allowed balance; absent for the issuance account.
    pub floor: Option<String>,
    pub ceiling: Option<String>,
}

impl From<AccountView> for AccountDto {
    fn from(v: AccountView) -> Self {
        let scale = v.currency.scale;
        Self {
            balance: v.balance(),
            id: v.account.id,
            currency: v.currency.code.as_str().to_owned(),
            kind: v.account.kind,
            owner_user_id: v.account.owner_user_id,
            floor: v.account.floor.map(|f| format_minor(f, scale)),
            ceiling: v.account.ceiling.map(|c| format_minor(c, scale)),
        }
    }
}

#[utoipa::path(get, path = "/v1/orgs/{org}/accounts", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, description = "The caller's accounts (all accounts for admins and treasurers)", body = Vec<AccountDto>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<AccountDto>>> {
    let all = state.core.accounts(&member).await?;
    Ok(AppJson(all.into_iter().map(Into::into).collect()))
}

/// A payment (from the caller's own account) or an issuance (from the issuance account).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    #[schema(example = "BIKE")]
    pub currency: String,
    /// The receiving account; give this or `to_member`.
    pub to_account: Option<AccountId>,
    /// The receiving member (their account in this currency); give this or `to_account`.
    pub to_member: Option<UserId>,
    /// Decimal string in the currency's scale; more decimals than the scale is refused.
    #[schema(example = "10.50")]
    pub amount: String,
    #[serde(default)]
    pub memo: String,
}

impl MoveBody {
    fn into_request(self) -> Result<MoveRequest, Error> {
        let to = match (self.to_account, self.to_member) {
            (Some(id), None) => AccountRef::Id(id),
            (None, Some(user)) => AccountRef::Member(user),
            _ => {
                return Err(Error::from(Refusal::ExactlyOneRecipient {
                    field: "to_account",
                }));
            }
        };
        Ok(MoveRequest {
            currency: self.currency,
            to,
            amount: self.amount,
            memo: self.memo,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferDto {
    pub id: TransferId,
    pub currency: String,
    pub from_account: AccountId,
    pub to_account: AccountId,
    pub amount: String,
    pub kind: TransferKind,
    pub memo: String,
    pub actor_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl From<Receipt> for TransferDto {
    fn from(r: Receipt) -> Self {
        let t = r.transfer;
        Self {
            id: t.id,
            currency: r.currency.code.as_str().to_owned(),
            from_account: t.from_account,
            to_account: t.to_account,
            amount: format_minor(t.amount, r.currency.scale),
            kind: t.kind,
            memo: t.memo,
            actor_user_id: t.actor_user_id,
            created_at: t.created_at,
        }
    }
}

pub(crate) fn idempotency_key(
    headers: &HeaderMap,
    member: &Member,
) -> Result<IdempotencyKey, ApiError> {
    let raw = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_idempotency_key",
                "send an Idempotency-Key header: a retry with the same key is applied once",
            )
        })?
        .to_str()
        .map_err(|_| {
            Error::from(Refusal::IdempotencyKeyMalformed {
                field: "idempotency_key",
                max: 200,
            })
        })?;
    Ok(IdempotencyKey::http(member.user.id, raw)?)
}

/// The `Idempotency-Key` header where it is optional (creating a proposal, a listing, ...).
pub(crate) fn optional_idempotency_key(
    headers: &HeaderMap,
    member: &Member,
) -> Result<Option<IdempotencyKey>, ApiError> {
    if headers.contains_key("idempotency-key") {
        idempotency_key(headers, member).map(Some)
    } else {
        Ok(None)
    }
}

#[utoipa::path(post, path = "/v1/orgs/{org}/transfers", request_body = MoveBody, tag = "ledger",
    params(("org" = String, Path), ("Idempotency-Key" = String, Header, description = "A retry with the same key and body returns the first result")),
    responses((status = 201, body = TransferDto), (status = 403, body = Problem, description = "The receiver is no longer a member"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pay(
    State(state): State<AppState>,
    OrgPayer(payer): OrgPayer,
    headers: HeaderMap,
    AppJson(body): AppJson<MoveBody>,
) -> ApiResult<(StatusCode, AppJson<TransferDto>)> {
    let key = idempotency_key(&headers, &payer.member)?;
    let receipt = state
        .core
        .pay_with_token(&payer, body.into_request()?, key)
        .await?;
    Ok((StatusCode::CREATED, AppJson(receipt.into())))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/issuance", request_body = MoveBody, tag = "ledger",
    params(("org" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = TransferDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn issue(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<MoveBody>,
) -> ApiResult<(StatusCode, AppJson<TransferDto>)> {
    admin.require_admin()?;
    let key = idempotency_key(&headers, &admin)?;
    let receipt = state.core.issue(&admin, body.into_request()?, key).await?;
    Ok((StatusCode::CREATED, AppJson(receipt.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only entries touching this account.
    pub account: Option<AccountId>,
    /// Only entries older than this id (the previous page's `next_before`).
    pub before: Option<TransferId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub transfers: Vec<TransferDto>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<TransferId>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/transfers", tag = "ledger", params(("org" = String, Path), HistoryQuery),
    responses((status = 200, body = HistoryPage)))]
pub async fn history(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AppJson<HistoryPage>> {
    let Query(q) = query?;
    let limit = page_limit(q.limit)?;
    let page = state
        .core
        .history(&member, q.account, q.before, limit)
        .await?;
    let next_before = (page.len() as i64 == limit)
        .then(|| page.last().map(|r| r.transfer.id))
        .flatten();
    Ok(AppJson(HistoryPage {
        transfers: page.into_iter().map(Into::into).collect(),
        next_before,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    pub currencies: Vec<CurrencyCheck>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/verify", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = VerifyReport)))]
pub async fn verify(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<axum::response::Response> {
    // A full replay: shared, cached for members and limited (see `replays`).
    let fresh = member.role.is_admin();
    let report = state
        .replays
        .run(Replay::Ledger, member.tenant.id, fresh, || async {
            let currencies = state.core.verify_ledger(&member).await?;
            Ok(VerifyReport {
                ok: currencies.iter().all(|c| c.ok),
                currencies,
            })
        })
        .await?;
    Ok(report)
}
