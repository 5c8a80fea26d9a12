//! The market: members list offers and needs in the community's currency. Buying an offer pays
//! its owner from the buyer's account; if the offer is backed by the owner's pledge, the purchase
//! also redeems that much of the pledge (never more than is outstanding). An offer can be bought
//! any number of times until its owner closes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::{self, EventKind, NewEvent};
use crate::core::Core;
use crate::domain::idempotency::{Creation, IdempotencyKey};
use crate::domain::ids::{CurrencyId, ListingId, PledgeId, PurchaseId, TransferId, UserId};
use crate::domain::ledger::currencies::{coin_by_code, currency_map};
use crate::domain::ledger::queue::{post_all, replayed};
use crate::domain::ledger::{AccountRef, Authority, CurrencyCode, TransferKind, TransferOrder};
use crate::domain::money::{Amount, format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{TenantTx, retrying};
use crate::domain::text;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

text_enum!(
    /// Something a member offers, or something they need.
    ListingKind {
        Offer => "offer",
        Need => "need",
    }
);

text_enum!(
    ListingStatus {
        Open => "open",
        Closed => "closed",
    }
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewListing {
    pub kind: ListingKind,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Decimal text in the currency's scale.
    #[schema(example = "4.50")]
    pub price: String,
    #[schema(example = "COIN")]
    pub currency: String,
    /// An offer of pledged work: one of the owner's own pledges, in the same currency.
    pub pledge_id: Option<PledgeId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingView {
    pub id: ListingId,
    pub kind: ListingKind,
    pub owner_user_id: UserId,
    pub owner_name: String,
    pub title: String,
    pub description: String,
    pub price: String,
    pub currency: CurrencyCode,
    pub pledge_id: Option<PledgeId>,
    pub status: ListingStatus,
    pub purchases: i64,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A purchase (on the wire as `http::market::PurchaseView`).
#[derive(Debug, Clone, Serialize)]
pub struct PurchaseView {
    pub id: PurchaseId,
    pub listing_id: ListingId,
    pub buyer_user_id: UserId,
    pub currency: CurrencyCode,
    pub price: String,
    /// How much of the listing's pledge this purchase redeemed.
    pub redeemed: String,
    pub transfer_id: TransferId,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    owner_user_id: UserId,
    kind: String,
    title: String,
    price: i64,
    currency_id: CurrencyId,
    pledge_id: Option<PledgeId>,
    status: String,
}

/// Listings newest first: one (`only`), or a page of those older than `before`.
async fn views(
    tx: &mut TenantTx,
    only: Option<ListingId>,
    status: Option<ListingStatus>,
    before: Option<ListingId>,
    limit: i64,
) -> Result<Vec<ListingView>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: ListingId,
        kind: String,
        owner_user_id: UserId,
        owner_name: String,
        title: String,
        description: String,
        price: i64,
        currency_id: CurrencyId,
        pledge_id: Option<PledgeId>,
        status: String,
        purchases: i64,
        created_at: DateTime<Utc>,
        closed_at: Option<DateTime<Utc>>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT l.id, l.kind, l.owner_user_id, m.display_name AS owner_name, l.title, l.description, l.price,
                l.currency_id, l.pledge_id, l.status, l.created_at, l.closed_at,
                (SELECT count(*) FROM purchases p WHERE p.listing_id = l.id) AS purchases
         FROM listings l JOIN members m ON m.user_id = l.owner_user_id
         WHERE ($1::bigint IS NULL OR l.id = $1) AND ($2::text IS NULL OR l.status = $2)
           AND ($3::bigint IS NULL OR l.id < $3)
         ORDER BY l.id DESC LIMIT $4",
    )
    .bind(only)
    .bind(status.map(ListingStatus::as_str))
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
            Ok(ListingView {
                id: r.id,
                kind: ListingKind::try_from(r.kind)?,
                owner_user_id: r.owner_user_id,
                owner_name: r.owner_name,
                title: r.title,
                description: r.description,
                price: format_minor(r.price, c.scale),
                currency: c.code.clone(),
                pledge_id: r.pledge_id,
                status: ListingStatus::try_from(r.status)?,
                purchases: r.purchases,
                created_at: r.created_at,
                closed_at: r.closed_at,
            })
        })
        .collect()
}

async fn one(tx: &mut TenantTx, id: ListingId) -> Result<ListingView> {
    views(tx, Some(id), None, None, 1)
        .await?
        .pop()
        .ok_or_else(|| Error::from(Refusal::ListingNotFound))
}

async fn purchase_view(tx: &mut TenantTx, transfer: TransferId) -> Result<PurchaseView> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: PurchaseId,
        listing_id: ListingId,
        buyer_user_id: UserId,
        price: i64,
        redeemed: i64,
        transfer_id: TransferId,
        created_at: DateTime<Utc>,
        currency_id: CurrencyId,
    }
    let r: Row = sqlx::query_as(
        "SELECT p.id, p.listing_id, p.buyer_user_id, p.price, p.redeemed, p.transfer_id, p.created_at, l.currency_id
         FROM purchases p JOIN listings l ON l.id = p.listing_id WHERE p.transfer_id = $1",
    )
    .bind(transfer)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::from(Refusal::PurchaseNotFound))?;
    let currencies = currency_map(tx).await?;
    let c = currencies
        .get(&r.currency_id)
        .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
    Ok(PurchaseView {
        id: r.id,
        listing_id: r.listing_id,
        buyer_user_id: r.buyer_user_id,
        currency: c.code.clone(),
        price: format_minor(r.price, c.scale),
        redeemed: format_minor(r.redeemed, c.scale),
        transfer_id: r.transfer_id,
        created_at: r.created_at,
    })
}

impl Core {
    /// A member lists an offer or a need. With a key, a retry answers the first listing.
    pub async fn create_listing(
        &self,
        member: &Member,
        new: NewListing,
        key: Option<IdempotencyKey>,
    ) -> Result<ListingView> {
        let title = text::line("title", &new.title, 1, 200)?;
        let description = text::body("description", &new.description, 0, 5_000)?;
        let creation = Creation::new(key.as_ref(), "listing", &new);
        let (new, creation, title, description) = (&new, &creation, &title, &description);
        retrying(move || async move {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let reread = async |tx: &mut TenantTx, id| one(tx, ListingId(id)).await;
        if let Some(first) = creation.take(&mut tx, reread).await? {
            return Ok(Some(first));
        }
        let currency = coin_by_code(&mut tx, &new.currency).await?;
        let price = parse_amount("price", &new.price, currency.scale)?;
        if let Some(pledge) = new.pledge_id {
            if new.kind != ListingKind::Offer {
                return Err(Error::from(Refusal::PledgeOnlyForOffers { field: "pledge_id" }));
            }
            let found: Option<(UserId, CurrencyId, String)> =
                sqlx::query_as("SELECT user_id, currency_id, status FROM pledges WHERE id = $1")
                    .bind(pledge)
                    .fetch_optional(tx.conn())
                    .await?;
            match found {
                None => return Err(Error::from(Refusal::PledgeNotFound)),
                Some((owner, _, _)) if owner != member.user.id => {
                    return Err(Error::from(Refusal::PledgeNotYours { field: "pledge_id" }));
                }
                Some((_, c, _)) if c != currency.id => {
                    return Err(Error::from(Refusal::PledgeCurrencyMismatch { field: "pledge_id" }));
                }
                Some((_, _, status)) if status == "rejected" => {
                    return Err(Error::from(Refusal::PledgeRejected { field: "pledge_id" }));
                }
                Some(_) => {}
            }
        }
        let (id,): (ListingId,) = sqlx::query_as(
            "INSERT INTO listings (owner_user_id, kind, title, description, price, currency_id, pledge_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(member.user.id)
        .bind(new.kind.as_str())
        .bind(title)
        .bind(description)
        .bind(price.minor())
        .bind(currency.id)
        .bind(new.pledge_id)
        .fetch_one(tx.conn())
        .await?;
        let view = one(&mut tx, id).await?;
        creation.remember(&mut tx, id.0, &view).await?;
        tx.commit().await?;
        Ok(Some(view))
        })
        .await
    }

    /// Listings, newest first, optionally only those with a status, paged by `before` (the
    /// last id of the previous page).
    pub async fn listings(
        &self,
        member: &Member,
        status: Option<ListingStatus>,
        before: Option<ListingId>,
        limit: i64,
    ) -> Result<Vec<ListingView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        views(&mut tx, None, status, before, limit.clamp(1, 200)).await
    }

    pub async fn listing(&self, member: &Member, id: ListingId) -> Result<ListingView> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        one(&mut tx, id).await
    }

    /// The owner closes their listing; closing it again is harmless.
    pub async fn close_listing(&self, member: &Member, id: ListingId) -> Result<ListingView> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let owner: Option<(UserId,)> =
            sqlx::query_as("SELECT owner_user_id FROM listings WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(tx.conn())
                .await?;
        let (owner,) = owner.ok_or_else(|| Error::from(Refusal::ListingNotFound))?;
        if owner != member.user.id {
            return Err(Error::from(Refusal::NotListingOwner));
        }
        sqlx::query("UPDATE listings SET status = 'closed', closed_at = now() WHERE id = $1 AND status = 'open'")
            .bind(id)
            .execute(tx.conn())
            .await?;
        let view = one(&mut tx, id).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Buys an offer: the buyer pays its price to the owner and, for pledged work, redeems that
    /// much of the pledge. A retry with the same key answers the first purchase.
    pub async fn buy(
        &self,
        member: &Member,
        id: ListingId,
        key: IdempotencyKey,
    ) -> Result<PurchaseView> {
        let (buyer, key) = (member.user.id, &key);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            // The listing's lock serializes purchases of it, and with them its pledge's redemption.
            let listing: ListingRow = sqlx::query_as(
                "SELECT owner_user_id, kind, title, price, currency_id, pledge_id, status FROM listings WHERE id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| Error::from(Refusal::ListingNotFound))?;
            let order = TransferOrder {
                key: key.as_str().to_owned(),
                currency: listing.currency_id,
                from: AccountRef::Member(buyer),
                to: AccountRef::Member(listing.owner_user_id),
                amount: Amount::from_minor(listing.price).map_err(|e| Error::Internal(anyhow::anyhow!("stored price: {e}")))?,
                kind: TransferKind::Purchase,
                memo: format!("listing {id}: {}", listing.title),
                actor: buyer,
                authority: Authority::Owner(buyer),
                credential: None,
            };
            if let Some(earlier) = replayed(&mut tx, &order).await? {
                return purchase_view(&mut tx, earlier.id).await.map(Some);
            }
            if listing.status != ListingStatus::Open.as_str() {
                return Err(Error::from(Refusal::ListingClosed));
            }
            if listing.kind != ListingKind::Offer.as_str() {
                return Err(Error::from(Refusal::OnlyOffersCanBeBought { field: "listing" }));
            }
            if listing.owner_user_id == buyer {
                return Err(Error::from(Refusal::OwnListing { field: "listing" }));
            }
            let seller_is_member: Option<(i64,)> =
                sqlx::query_as("SELECT 1::bigint FROM control.memberships WHERE tenant_id = $1 AND user_id = $2")
                    .bind(member.tenant.id)
                    .bind(listing.owner_user_id)
                    .fetch_optional(tx.conn())
                    .await?;
            if seller_is_member.is_none() {
                return Err(Error::from(Refusal::SellerLeft));
            }
            // The pledge is locked before the accounts, the order its approval takes them in.
            let redeemed: i64 = match listing.pledge_id {
                None => 0,
                Some(pledge) => {
                    let (outstanding,): (i64,) =
                        sqlx::query_as("SELECT issued - redeemed FROM pledges WHERE id = $1 FOR UPDATE")
                            .bind(pledge)
                            .fetch_one(tx.conn())
                            .await?;
                    outstanding.clamp(0, listing.price)
                }
            };
            let Some(transfers) = post_all(&mut tx, &[order]).await? else {
                return Ok(None);
            };
            let transfer = transfers
                .first()
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("purchase wrote no transfer")))?;
            if let Some(pledge) = listing.pledge_id {
                sqlx::query("UPDATE pledges SET redeemed = redeemed + $2 WHERE id = $1")
                    .bind(pledge)
                    .bind(redeemed)
                    .execute(tx.conn())
                    .await?;
            }
            sqlx::query(
                "INSERT INTO purchases (listing_id, buyer_user_id, price, redeemed, transfer_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(buyer)
            .bind(listing.price)
            .bind(redeemed)
            .bind(transfer.id)
            .execute(tx.conn())
            .await?;
            let view = purchase_view(&mut tx, transfer.id).await?;
            outbox::emit(
                &mut tx,
                NewEvent {
                    kind: EventKind::ListingBought,
                    payload: serde_json::json!({
                        "listing_id": id,
                        "title": listing.title,
                        "buyer_user_id": buyer,
                        "price": view.price,
                        "currency": view.currency,
                        "redeemed": view.redeemed,
                        "transfer_id": transfer.id,
                    }),
                    to_rooms: false,
                    to_users: vec![listing.owner_user_id],
                    dedup_key: format!("purchase:{}:bought", view.id),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }
}
