//! A transfer lane first decides a batch on balances read without locks and writes it in one
//! statement of its own. That statement must write nothing when any account it read changed
//! meanwhile, even one whose balance the batch left as it was; the lane then decides again
//! under locks. These tests drive the store directly, with a concurrent payment in between.

use axum::http::StatusCode;
use coinsence_api::domain::ids::{CurrencyId, UserId};
use coinsence_api::domain::ledger::ops::IdempotencyKey;
use coinsence_api::domain::ledger::store::{self, Locked, NewBalance, NewEntry, Read};
use coinsence_api::domain::ledger::{AccountRef, Authority, TransferKind, TransferOrder};
use coinsence_api::domain::money::Amount;
use coinsence_api::domain::tenancy::{TenantConn, TenantSession};
use serde_json::json;

use crate::helpers::{Org, TestApp, rand_key};

struct Setup {
    app: TestApp,
    org: Org,
    session: TenantSession,
    currency: CurrencyId,
    /// (token, user id) of ana (holding 100.00), bo and cy.
    ana: (String, i64),
    bo: (String, i64),
    cy: (String, i64),
}

async fn setup(slug: &str) -> Setup {
    let app = TestApp::new().await;
    let org = app.org(slug).await;
    let ana = app.member(&org, "ana").await;
    let bo = app.member(&org, "bo").await;
    let cy = app.member(&org, "cy").await;
    assert_eq!(
        app.issue(&org, ana.1, "100.00").await.status,
        StatusCode::CREATED
    );
    let schema = app.tenant(slug).await.schema();
    let mut session = TenantSession::open(&app.pool, &schema)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (currency,): (CurrencyId,) =
        sqlx::query_as("SELECT id FROM currencies WHERE code = 'COIN'")
            .fetch_one(session.conn())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    Setup {
        app,
        org,
        session,
        currency,
        ana,
        bo,
        cy,
    }
}

fn order(currency: CurrencyId, from: i64, to: i64, cents: i64, key: &str) -> TransferOrder {
    TransferOrder {
        key: key.to_owned(),
        currency,
        from: AccountRef::Member(UserId(from)),
        to: AccountRef::Member(UserId(to)),
        amount: Amount::from_minor(cents).unwrap_or_else(|e| panic!("{e}")),
        kind: TransferKind::Payment,
        memo: String::new(),
        actor: UserId(from),
        authority: Authority::Owner(UserId(from)),
        credential: None,
    }
}

/// The entries for `orders` (member to member) and every read account's balance after them.
fn decided<'a>(read: &Locked, orders: &'a [TransferOrder]) -> (Vec<NewEntry<'a>>, Vec<NewBalance>) {
    let account_of = |user: &AccountRef| {
        let AccountRef::Member(user) = user else {
            panic!("member accounts only")
        };
        read.accounts
            .iter()
            .find(|a| a.owner_user_id == Some(*user))
            .unwrap_or_else(|| panic!("{user:?} was not read"))
    };
    let mut balances: Vec<NewBalance> = read
        .accounts
        .iter()
        .map(|a| NewBalance {
            account: a.id,
            balance: a.balance,
            version: read.versions[&a.id],
        })
        .collect();
    let mut entries = Vec::new();
    for o in orders {
        let (from, to) = (account_of(&o.from).id, account_of(&o.to).id);
        for b in &mut balances {
            if b.account == from {
                b.balance -= o.amount.minor();
            }
            if b.account == to {
                b.balance += o.amount.minor();
            }
        }
        entries.push(NewEntry {
            order: o,
            from,
            to,
            notice: None,
        });
    }
    (entries, balances)
}

#[tokio::test]
async fn a_batch_whose_payer_changed_since_it_read_writes_nothing() {
    let Setup {
        app,
        org,
        mut session,
        currency,
        ana,
        bo,
        cy,
    } = setup("optimistic-payer").await;
    let orders = [order(currency, ana.1, bo.1, 10_00, &rand_key())];
    let read = store::read_accounts(&mut session, &orders, Read::Optimistic)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (entries, balances) = decided(&read, &orders);

    // Meanwhile Ana pays Cy 5.00 through the API: her row is no longer the version read.
    let r = app.pay(&org, &ana.0, cy.1, "5.00", &rand_key()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let err = store::write_entries(&mut session, &entries, &balances)
        .await
        .err()
        .unwrap_or_else(|| panic!("a stale batch was written"));
    assert!(store::is_stale(&err), "{err}");
    // Nothing of the stale batch landed: the issuance and the payment to Cy only.
    assert_eq!(app.journal_rows(&org.slug).await, 2);
    assert_eq!(app.member_balance(&org, ana.1, "COIN").await, "95.00");
    assert_eq!(app.member_balance(&org, bo.1, "COIN").await, "0.00");

    // Decided again on what is there now, the same batch goes through.
    let read = store::read_accounts(&mut session, &orders, Read::Optimistic)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (entries, balances) = decided(&read, &orders);
    let written = store::write_entries(&mut session, &entries, &balances)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the key was new"));
    assert_eq!(written.len(), 1);
    assert_eq!(app.member_balance(&org, ana.1, "COIN").await, "85.00");
    assert_eq!(app.member_balance(&org, bo.1, "COIN").await, "10.00");
    assert_eq!(app.verify(&org).await["ok"], json!(true));
    session.release().await;
}

/// Ana pays Bo and Bo pays Ana back in one batch: neither balance changes, but the batch's
/// decisions rested on both. A payment into Bo's account in between must still stop it.
#[tokio::test]
async fn a_batch_is_checked_on_every_account_it_read_not_only_those_it_changed() {
    let Setup {
        app,
        org,
        mut session,
        currency,
        ana,
        bo,
        cy,
    } = setup("optimistic-unchanged").await;
    let orders = [
        order(currency, ana.1, bo.1, 30_00, &rand_key()),
        order(currency, bo.1, ana.1, 30_00, &rand_key()),
    ];
    let read = store::read_accounts(&mut session, &orders, Read::Optimistic)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (entries, balances) = decided(&read, &orders);
    assert!(
        balances.iter().all(|b| read
            .accounts
            .iter()
            .any(|a| a.id == b.account && a.balance == b.balance)),
        "the batch leaves every balance as it was"
    );

    // Cy (with nothing) is paid into by Ana, then pays Bo: Bo's row changes, Ana's too.
    assert_eq!(
        app.pay(&org, &ana.0, cy.1, "1.00", &rand_key())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.pay(&org, &cy.0, bo.1, "1.00", &rand_key()).await.status,
        StatusCode::CREATED
    );

    let err = store::write_entries(&mut session, &entries, &balances)
        .await
        .err()
        .unwrap_or_else(|| panic!("a stale batch was written"));
    assert!(store::is_stale(&err), "{err}");
    assert_eq!(app.journal_rows(&org.slug).await, 3);
    assert_eq!(app.verify(&org).await["ok"], json!(true));
    session.release().await;
}

/// A key already in the journal (the optimistic batch assumes none is, and does not look)
/// makes the write return `None` and write nothing, so the lane decides again under locks and
/// answers with the earlier entry.
#[tokio::test]
async fn a_key_already_written_makes_the_optimistic_write_step_aside() {
    let Setup {
        app,
        org,
        mut session,
        currency,
        ana,
        bo,
        ..
    } = setup("optimistic-key").await;
    let key = rand_key();
    let first = app.pay(&org, &ana.0, bo.1, "10.00", &key).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);

    // As the API stores it: scoped to the payer.
    let stored = IdempotencyKey::http(UserId(ana.1), &key).unwrap_or_else(|e| panic!("{e}"));
    let orders = [order(currency, ana.1, bo.1, 10_00, stored.as_str())];
    let read = store::read_accounts(&mut session, &orders, Read::Optimistic)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (entries, balances) = decided(&read, &orders);

    let written = store::write_entries(&mut session, &entries, &balances)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(written.is_none(), "the repeated key was written twice");
    assert_eq!(app.journal_rows(&org.slug).await, 2);
    assert_eq!(app.member_balance(&org, ana.1, "COIN").await, "90.00");

    // Through the API the same key and body answer with the same entry.
    let again = app.pay(&org, &ana.0, bo.1, "10.00", &key).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(app.journal_rows(&org.slug).await, 2);
    session.release().await;
}
