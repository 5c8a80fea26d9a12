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
    let mut session = TenantSession::open(&app.pool, &schema).await.unwrap();
    let (currency,): (CurrencyId,) =
        sqlx::query_as("SELECT id FROM currencies WHERE code = 'COIN'")
            .fetch_one(session.conn())
            .await
            .unwrap();
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
        amount: Amount::from_minor(cents).unwrap(),
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

/// The accounts `orders` name, read without locks.
async fn read_unlocked(session: &mut TenantSession, orders: &[TransferOrder]) -> Locked {
    store::read_accounts(session, orders, Read::Optimistic)
        .await
        .unwrap()
}

/// Writing what was decided fails as stale (and so writes nothing).
async fn assert_stale(
    session: &mut TenantSession,
    entries: &[NewEntry<'_>],
    balances: &[NewBalance],
) {
    let err = store::write_entries(session, entries, balances)
        .await
        .expect_err("a stale batch was written");
    assert!(store::is_stale(&err), "{err}");
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
    let read = read_unlocked(&mut session, &orders).await;
    let (entries, balances) = decided(&read, &orders);

    // Meanwhile Ana pays Cy 5.00 through the API: her row is no longer the version read.
    let r = app.pay(&org, &ana.0, cy.1, "5.00", &rand_key()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    assert_stale(&mut session, &entries, &balances).await;
    // Nothing of the stale batch landed: the issuance and the payment to Cy only.
    assert_eq!(app.journal_rows(&org.slug).await, 2);
    assert_eq!(app.member_balance(&org, ana.1, "COIN").await, "95.00");
    assert_eq!(app.member_balance(&org, bo.1, "COIN").await, "0.00");

    // Decided again on what is there now, the same batch goes through.
    let read = read_unlocked(&mut session, &orders).await;
    let (entries, balances) = decided(&read, &orders);
    let written = store::write_entries(&mut session, &entries, &balances)
        .await
        .unwrap()
        .expect("the key was new");
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
    let read = read_unlocked(&mut session, &orders).await;
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

    assert_stale(&mut session, &entries, &balances).await;
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
    let stored = IdempotencyKey::http(UserId(ana.1), &key).unwrap();
    let orders = [order(currency, ana.1, bo.1, 10_00, stored.as_str())];
    let read = read_unlocked(&mut session, &orders).await;
    let (entries, balances) = decided(&read, &orders);

    let written = store::write_entries(&mut session, &entries, &balances)
        .await
        .unwrap();
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

/// Everyone pays one shop at once: lanes split orders by payer, so batches of both lanes credit
/// the shop's row and optimistic batches keep going stale and are decided again under locks.
/// Every accepted payment must land exactly once, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn everyone_paying_one_shop_at_once_lands_every_payment_once() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let org = std::sync::Arc::new(app.org("one-shop").await);
    let shop = app.member(&org, "shop").await;
    let mut payers = Vec::new();
    for i in 0..24 {
        let (token, id) = app.member(&org, &format!("p{i}")).await;
        assert_eq!(
            app.issue(&org, id, "10.00").await.status,
            StatusCode::CREATED
        );
        payers.push(token);
    }
    let payers = std::sync::Arc::new(payers);
    let mut tasks = Vec::new();
    for task in 0..16 {
        let (app, org, payers) = (app.clone(), org.clone(), payers.clone());
        tasks.push(tokio::spawn(async move {
            let (mut paid, mut refused) = (0_i64, 0_i64);
            for n in 0..150 {
                let (payer, cents) = {
                    use rand::Rng;
                    let mut rng = rand::rng();
                    (
                        rng.random_range(0..payers.len()),
                        rng.random_range(1..=150_i64),
                    )
                };
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                let r = app
                    .pay(
                        &org,
                        &payers[payer],
                        shop.1,
                        &amount,
                        &format!("s{task}-{n}"),
                    )
                    .await;
                match r.status {
                    StatusCode::CREATED => paid += cents,
                    StatusCode::UNPROCESSABLE_ENTITY if r.code() == "insufficient_funds" => {
                        refused += 1
                    }
                    other => panic!("unexpected {other}: {:?}", r.body),
                }
            }
            (paid, refused)
        }));
    }
    let (mut paid, mut refused) = (0, 0);
    for t in tasks {
        let (p, r) = t.await.unwrap();
        paid += p;
        refused += r;
    }
    assert!(
        refused > 0,
        "the payers must run dry, so refusals are tested too"
    );
    let shop_balance = app.member_balance(&org, shop.1, "COIN").await;
    assert_eq!(shop_balance, format!("{}.{:02}", paid / 100, paid % 100));
    assert_eq!(
        app.journal_rows(&org.slug).await,
        24 + (16 * 150 - refused),
        "24 issuances and every accepted payment, once"
    );
    let report = app.verify(&org).await;
    assert_eq!(report["ok"], json!(true), "{report}");
}

/// A lane's session sets its org's `search_path` on a pooled connection. Given back, the
/// connection has the server's default path again; dropped without being given back, it is
/// closed. Either way the next user of the pool cannot reach the org's tables unqualified.
#[tokio::test]
async fn a_session_never_hands_its_org_to_the_next_user_of_the_connection() {
    let app = TestApp::new().await;
    app.org("session-walls").await;
    let schema = app.tenant("session-walls").await.schema();
    // One connection, so the next checkout gets the session's connection if it is pooled.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*app.pool.connect_options()).clone())
        .await
        .unwrap();
    let mut session = TenantSession::open(&pool, &schema).await.unwrap();
    let (session_pid, path) = backend(session.conn()).await;
    assert_eq!(path, schema.as_str());
    session.release().await;

    let mut conn = pool.acquire().await.unwrap();
    let (next_pid, path) = backend(&mut conn).await;
    assert_eq!(
        next_pid, session_pid,
        "a released session's connection is pooled again"
    );
    assert_eq!(path, "\"$user\", public");
    let unqualified = sqlx::query("SELECT count(*) FROM accounts")
        .execute(&mut *conn)
        .await;
    assert!(
        unqualified.is_err(),
        "the org's tables were reachable after release"
    );
    drop(conn);

    let mut session = TenantSession::open(&pool, &schema).await.unwrap();
    let (session_pid, _) = backend(session.conn()).await;
    drop(session);
    let mut conn = pool.acquire().await.unwrap();
    let (next_pid, path) = backend(&mut conn).await;
    assert_ne!(
        next_pid, session_pid,
        "a dropped session's connection must be closed"
    );
    assert_eq!(path, "\"$user\", public");
}

/// The backend's process id and `search_path` of a connection.
async fn backend(conn: &mut sqlx::PgConnection) -> (i32, String) {
    sqlx::query_as("SELECT pg_backend_pid(), current_setting('search_path')")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Lanes hold a connection while their org keeps paying. With more busy orgs than connections,
/// every org must still get its payments through in the same stretch of time: a lane gives its
/// connection back when the pool has none to spare.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_busy_orgs_than_connections_all_get_paid() {
    let base = TestApp::new().await;
    let small = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(std::time::Duration::from_secs(60))
        .connect_with((*base.pool.connect_options()).clone())
        .await
        .unwrap();
    let core = coinsence_api::Core::new(small.clone()).with_spare_orgs(0);
    let app = std::sync::Arc::new(TestApp {
        router: coinsence_api::http::router(core.clone()),
        core,
        pool: small,
    });
    let mut payers = Vec::new();
    for i in 0..6 {
        let org = app.org(&format!("busy-{i}")).await;
        let (token, id) = app.member(&org, "payer").await;
        assert_eq!(
            app.issue(&org, id, "1000.00").await.status,
            StatusCode::CREATED
        );
        payers.push((org, token));
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut tasks = Vec::new();
    for (org, token) in payers {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut paid = 0;
            while std::time::Instant::now() < until {
                let r = app
                    .pay(&org, &token, org.owner_id, "0.01", &rand_key())
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
                paid += 1;
            }
            (org.slug, paid)
        }));
    }
    for t in tasks {
        let (slug, paid) = t.await.unwrap();
        assert!(paid >= 10, "{slug} got only {paid} payments through in 3 s");
    }
}
