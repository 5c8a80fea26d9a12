//! Exchange rounds (issue 17): the cut, the published receipt, settlement in each org's own
//! ledger (exactly once, resumable), the owners' notices, and the fault test: two orgs of 200
//! members trading over 20 rounds with settlement interrupted between the two orgs.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use coinsence_api::Core;
use coinsence_api::domain::exchange::book::Pair;
use coinsence_api::domain::exchange::orders::{GoodFor, NewOrder, OrderStatus};
use coinsence_api::domain::idempotency::IdempotencyKey;
use coinsence_api::domain::ledger::CurrencyCode;
use coinsence_api::domain::ledger::ops::NewCurrency;
use coinsence_api::domain::orgs::Member;
use coinsence_api::error::Error;
use coinsence_api::refusal::Refusal;
use coinsence_api::testing::{listed_on_exchange, many_members, org_with_coin, org_with_currency};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::helpers::TestApp;

/// Org A trades its COIN (scale 2), org B its BIKE (scale 1); the pair is (BIKE, COIN).
struct Two {
    a: Member,
    a_token: String,
    b: Member,
    b_token: String,
    pair: Pair,
}

async fn two_orgs(app: &TestApp, a: &str, b: &str, trustline: i64, max_out: i64) -> Two {
    let oa = org_with_coin(&app.core, a, a, true).await;
    let bike = NewCurrency {
        code: "BIKE".to_owned(),
        name: "Bike hours".to_owned(),
        scale: 1,
        credit_limit: None,
    };
    let ob = org_with_currency(&app.core, b, b, true, bike).await;
    listed_on_exchange(&app.core, &oa.admin, "COIN", 2, trustline, max_out * 10).await;
    listed_on_exchange(&app.core, &ob.admin, "BIKE", 1, trustline, max_out).await;
    Two {
        a: oa.admin,
        a_token: oa.token.expose().to_owned(),
        b: ob.admin,
        b_token: ob.token.expose().to_owned(),
        pair: Pair::of(code("COIN"), code("BIKE")),
    }
}

fn code(c: &str) -> CurrencyCode {
    CurrencyCode::parse(c).expect("code")
}

fn new_order(sell: &str, amount: &str, buy: &str, limit: &str, good_for: GoodFor) -> NewOrder {
    NewOrder {
        sell: sell.to_owned(),
        amount: amount.to_owned(),
        buy: buy.to_owned(),
        limit: limit.to_owned(),
        good_for: Some(good_for),
    }
}

async fn place(core: &Core, m: &Member, order: NewOrder, key: &str) -> i64 {
    core.place_order(
        m,
        order,
        Some(IdempotencyKey::scoped("test", "order", key).expect("key")),
    )
    .await
    .unwrap_or_else(|e| panic!("order {key}: {e}"))
    .id
}

/// `SELECT <what>` in an org's schema, as one bigint.
async fn scalar(app: &TestApp, m: &Member, sql: &str) -> i64 {
    let mut tx = app.pool.begin().await.expect("tx");
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(format!("org_{}", m.tenant.id.0))
        .execute(&mut *tx)
        .await
        .expect("path");
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT ({sql})::bigint")))
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

/// An account's balance by kind (and owner) and currency code, in minor units (0 if none).
async fn balance(app: &TestApp, m: &Member, kind: &str, owner: Option<i64>, currency: &str) -> i64 {
    let owner = owner.map_or("IS NULL".to_owned(), |o| format!("= {o}"));
    scalar(
        app,
        m,
        &format!(
            "SELECT coalesce(sum(a.balance), 0) FROM accounts a JOIN currencies c ON c.id = a.currency_id
              WHERE a.kind = '{kind}' AND a.owner_user_id {owner} AND c.code = '{currency}'"
        ),
    )
    .await
}

async fn ledger_ok(app: &TestApp, admin: &Member) {
    let checks = app.core.verify_ledger(admin).await.expect("verify");
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

async fn journal(app: &TestApp, m: &Member) -> i64 {
    scalar(app, m, "SELECT count(*) FROM transfers").await
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minute)
}

#[tokio::test]
async fn a_round_clears_one_price_publishes_its_receipt_and_settles_each_org_once() {
    let app = TestApp::new().await;
    let t = two_orgs(&app, "rnd-a", "rnd-b", 1000, 100_000).await;
    let ana = many_members(&app.core, &t.a, "ana", 1, "COIN", "100")
        .await
        .remove(0);
    let bo = many_members(&app.core, &t.b, "bo", 1, "BIKE", "50")
        .await
        .remove(0);

    // Ana sells 10.00 COIN for at least 0.5 BIKE each; Bo sells 8.0 BIKE for at least 1 COIN
    // each. Clearing at 1 COIN per BIKE trades the most (8 BIKE); Ana's side is rationed.
    let ana_order = place(
        &app.core,
        &ana,
        new_order("COIN", "10", "BIKE", "0.5", GoodFor::Cancel),
        "ana-1",
    )
    .await;
    let bo_order = place(
        &app.core,
        &bo,
        new_order("BIKE", "8", "COIN", "1", GoodFor::Round),
        "bo-1",
    )
    .await;

    let r = app
        .core
        .cut_round(&t.pair, at(1))
        .await
        .expect("cut")
        .expect("a round");
    assert_eq!(r.price.map(|p| (p.num(), p.den())), Some((10, 1)));
    assert_eq!((r.base_traded, r.quote_traded), (80, 800));
    assert_eq!((r.base_unfilled, r.quote_unfilled), (0, 200));
    // Held by the round: cancelling is refused until the round is settled.
    let held = app
        .core
        .cancel_order(&ana, ana_order)
        .await
        .expect_err("held");
    assert!(
        matches!(held, Error::Refused(Refusal::ExchangeOrderInRound { order }) if order == ana_order),
        "{held}"
    );
    // Cutting the same moment again answers the same receipt.
    let again = app
        .core
        .cut_round(&t.pair, at(1))
        .await
        .expect("cut")
        .expect("a round");
    assert_eq!(again, r);

    // Only A settles (the runner dies before B): A's side is done, B's is not.
    app.core
        .settle_round_in(r.id, t.a.tenant.id)
        .await
        .expect("A settles");
    assert_eq!(
        app.core.unsettled_orgs(r.id).await.expect("orgs"),
        vec![t.b.tenant.id]
    );
    assert_eq!(
        balance(&app, &t.a, "member", Some(ana.user.id.0), "BIKE").await,
        80
    );
    assert_eq!(balance(&app, &t.a, "escrow", None, "COIN").await, 200);
    assert_eq!(balance(&app, &t.a, "clearing", None, "COIN").await, 800);
    assert_eq!(balance(&app, &t.a, "clearing", None, "BIKE").await, -80);
    // A crash after A's ledger committed but before its progress was recorded: A is visited
    // again and posts nothing twice.
    sqlx::query("DELETE FROM control.exchange_round_settlements WHERE round_id = $1")
        .bind(r.id)
        .execute(&app.pool)
        .await
        .expect("forget");
    let (ja, jb) = (journal(&app, &t.a).await, journal(&app, &t.b).await);
    app.core.settle_round(r.id).await.expect("resume");
    app.core.settle_round(r.id).await.expect("again");
    assert_eq!(journal(&app, &t.a).await, ja);
    // B: Bo's sale and what Bo bought (Bo's order was for one round and filled fully).
    assert_eq!(journal(&app, &t.b).await, jb + 2);
    assert_eq!(
        balance(&app, &t.b, "member", Some(bo.user.id.0), "BIKE").await,
        420
    );
    assert_eq!(
        balance(&app, &t.b, "member", Some(bo.user.id.0), "COIN").await,
        800
    );
    // The clearing accounts mirror each other.
    assert_eq!(balance(&app, &t.b, "clearing", None, "BIKE").await, 80);
    assert_eq!(balance(&app, &t.b, "clearing", None, "COIN").await, -800);
    assert!(
        app.core
            .unsettled_rounds()
            .await
            .expect("rounds")
            .is_empty()
    );
    ledger_ok(&app, &t.a).await;
    ledger_ok(&app, &t.b).await;

    // The owners were told: Bo filled; Ana filled in part, the rest stays in the book.
    let notice = |m: &Member| {
        let m = m.clone();
        let app = &app;
        async move {
            let tenant = app
                .core
                .tenants_by_id(&[m.tenant.id])
                .await
                .expect("tenant")
                .remove(0);
            app.core
                .outbox_pending(&tenant, 1000)
                .await
                .expect("outbox")
                .into_iter()
                .filter(|e| {
                    e.to_users == vec![m.user.id] && e.kind.as_str().starts_with("exchange_")
                })
                .map(|e| (e.kind.as_str().to_owned(), e.payload))
                .collect::<Vec<(String, Value)>>()
        }
    };
    let ana_told = notice(&ana).await;
    assert_eq!(ana_told.len(), 1, "{ana_told:?}");
    assert_eq!(ana_told[0].0, "exchange_unfilled");
    assert_eq!(
        (
            &ana_told[0].1["why"],
            &ana_told[0].1["status"],
            &ana_told[0].1["sold"],
            &ana_told[0].1["bought"],
            &ana_told[0].1["price"]
        ),
        (
            &Value::from("rationed"),
            &Value::from("open"),
            &Value::from("8.00"),
            &Value::from("8.0"),
            &Value::from("1")
        )
    );
    let bo_told = notice(&bo).await;
    assert_eq!(bo_told.len(), 1, "{bo_told:?}");
    assert_eq!(bo_told[0].0, "exchange_filled");
    assert_eq!(bo_told[0].1["price"], "1");

    // The receipt is published; Ana finds her fill in it by her order's reference, and it
    // names no org, member or order.
    let receipts = app
        .get(
            "/v1/orgs/rnd-b/exchange/receipts?base=COIN&quote=BIKE",
            &t.b_token,
        )
        .await;
    assert_eq!(receipts.status, StatusCode::OK, "{:?}", receipts.body);
    let receipt = &receipts.body[0];
    assert_eq!(
        (
            &receipt["round"],
            &receipt["price"],
            &receipt["base_traded"],
            &receipt["quote_traded"],
            &receipt["quote_unfilled"]
        ),
        (
            &Value::from(r.id),
            &Value::from("1"),
            &Value::from("8.0"),
            &Value::from("8.00"),
            &Value::from("2.00")
        )
    );
    let text = receipt.to_string();
    for hidden in [
        "\"tenant\"".to_owned(),
        "\"order\"".to_owned(),
        ana.user.display_name.clone(),
    ] {
        assert!(!text.contains(&hidden), "{hidden} in {text}");
    }
    let mine = app
        .get(
            &format!("/v1/orgs/rnd-a/exchange/orders/{ana_order}/fills"),
            &t.a_token,
        )
        .await;
    // The owner of the org is not Ana: her order is hers alone.
    assert_eq!(mine.status, StatusCode::NOT_FOUND, "{:?}", mine.body);
    let (fills, _) = app
        .core
        .my_order_fills(&ana, ana_order)
        .await
        .expect("fills");
    assert_eq!(fills.len(), 1);
    let found: Vec<&Value> = receipt["fills"]
        .as_array()
        .expect("fills")
        .iter()
        .filter(|f| f["reference"] == fills[0].reference.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{text}");
    assert_eq!(
        (&found[0]["sold"], &found[0]["bought"], &found[0]["why"]),
        (
            &Value::from("8.00"),
            &Value::from("8.0"),
            &Value::from("rationed")
        )
    );

    // Settled: Ana's order is hers to cancel again, and the rest comes back.
    let cancelled = app
        .core
        .cancel_order(&ana, ana_order)
        .await
        .expect("cancel");
    assert_eq!(
        (
            cancelled.status,
            cancelled.sold.as_str(),
            cancelled.bought.as_str()
        ),
        (OrderStatus::Cancelled, "8.00", "8.0")
    );
    assert_eq!(
        balance(&app, &t.a, "member", Some(ana.user.id.0), "COIN").await,
        9200
    );
    let bo_view = app.core.my_orders(&bo).await.expect("orders");
    assert_eq!(
        (bo_view[0].id, bo_view[0].status),
        (bo_order, OrderStatus::Filled)
    );
    ledger_ok(&app, &t.a).await;
}

#[tokio::test]
async fn a_used_up_trustline_stops_that_direction_and_the_trader_is_told() {
    let app = TestApp::new().await;
    // A may hold at most 5 BIKE; B at most 5 COIN.
    let t = two_orgs(&app, "trl-a", "trl-b", 5, 100_000).await;
    let ana = many_members(&app.core, &t.a, "ana", 1, "COIN", "100")
        .await
        .remove(0);
    let bo = many_members(&app.core, &t.b, "bo", 1, "BIKE", "50")
        .await
        .remove(0);
    let ana_order = place(
        &app.core,
        &ana,
        new_order("COIN", "10", "BIKE", "0.5", GoodFor::Round),
        "ana-1",
    )
    .await;
    place(
        &app.core,
        &bo,
        new_order("BIKE", "8", "COIN", "1", GoodFor::Cancel),
        "bo-1",
    )
    .await;
    let r = app
        .core
        .cut_round(&t.pair, at(1))
        .await
        .expect("cut")
        .expect("a round");
    // 8 BIKE into A (over its 5) and 8 COIN into B (over its 5): both directions stop.
    assert_eq!((r.base_traded, r.quote_traded, r.price), (0, 0, None));
    assert!(
        r.fills.iter().all(|f| f.why == "trustline"),
        "{:?}",
        r.fills
    );
    app.core.settle_round(r.id).await.expect("settle");
    // Ana's one-round order went back whole; Bo's stays open.
    assert_eq!(
        balance(&app, &t.a, "member", Some(ana.user.id.0), "COIN").await,
        10_000
    );
    assert_eq!(balance(&app, &t.a, "escrow", None, "COIN").await, 0);
    let orders = app.core.my_orders(&ana).await.expect("orders");
    assert_eq!(
        (orders[0].id, orders[0].status),
        (ana_order, OrderStatus::Returned)
    );
    assert_eq!(
        app.core.my_orders(&bo).await.expect("orders")[0].status,
        OrderStatus::Open
    );
    let tenant = app
        .core
        .tenants_by_id(&[t.a.tenant.id])
        .await
        .expect("tenant")
        .remove(0);
    let told: Vec<Value> = app
        .core
        .outbox_pending(&tenant, 100)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|e| e.kind.as_str() == "exchange_unfilled")
        .map(|e| e.payload)
        .collect();
    assert_eq!(told.len(), 1);
    assert_eq!(
        (&told[0]["why"], &told[0]["status"]),
        (&Value::from("trustline"), &Value::from("returned"))
    );
    ledger_ok(&app, &t.a).await;
    ledger_ok(&app, &t.b).await;
}

/// Per currency code: the sum of every non-issuance balance over both orgs (members, escrow,
/// clearing, fund), and the two clearing accounts' sum.
async fn totals(app: &TestApp, t: &Two, currency: &str) -> (i64, i64) {
    let mut all = 0;
    let mut clearing = 0;
    for m in [&t.a, &t.b] {
        all += scalar(
            app,
            m,
            &format!(
                "SELECT coalesce(sum(a.balance), 0) FROM accounts a JOIN currencies c ON c.id = a.currency_id
                  WHERE a.kind <> 'issuance' AND c.code = '{currency}'"
            ),
        )
        .await;
        clearing += balance(app, m, "clearing", None, currency).await;
    }
    (all, clearing)
}

#[tokio::test]
async fn settlement_interrupted_between_the_orgs_never_loses_or_doubles_money() {
    let app = TestApp::new().await;
    let t = two_orgs(&app, "flt-a", "flt-b", 1_000_000, 1_000_000_000).await;
    let a_members = many_members(&app.core, &t.a, "a", 200, "COIN", "100").await;
    let b_members = many_members(&app.core, &t.b, "b", 200, "BIKE", "100").await;
    let coin_issued = 200 * 100 * 100;
    let bike_issued = 200 * 100 * 10;
    let mut rng = StdRng::seed_from_u64(17);
    let mut placed: Vec<(Member, i64)> = Vec::new();
    let mut receipts = Vec::new();
    let mut interrupted = 0;
    for round in 0..20i64 {
        // Some members of each org place orders around a price of 1 COIN per BIKE.
        for (members, sell, buy) in [(&a_members, "COIN", "BIKE"), (&b_members, "BIKE", "COIN")] {
            for _ in 0..25 {
                let m = &members[rng.random_range(0..members.len())];
                let amount = format!("{}", rng.random_range(1..=6));
                let limit = format!("{:.2}", rng.random_range(70..=130) as f64 / 100.0);
                let good_for = if rng.random_bool(0.5) {
                    GoodFor::Round
                } else {
                    GoodFor::Cancel
                };
                let key = format!("r{round}-{}-{}", m.user.id.0, rng.random::<u32>());
                match app
                    .core
                    .place_order(
                        m,
                        new_order(sell, &amount, buy, &limit, good_for),
                        Some(IdempotencyKey::scoped("test", "order", &key).expect("key")),
                    )
                    .await
                {
                    Ok(o) => placed.push((m.clone(), o.id)),
                    // Not enough left: refused, nothing escrowed.
                    Err(e) => assert!(matches!(e, Error::Refused(_)), "{e}"),
                }
            }
        }
        // A runner died between the hold and the receipt once: those holds are void.
        if round == 7 {
            let mut tx = app.pool.begin().await.expect("tx");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE org_{}.exchange_orders SET cut_at = '2020-01-01' WHERE status = 'open' AND cut_at IS NULL",
                t.a.tenant.id.0
            )))
            .execute(&mut *tx)
            .await
            .expect("stale hold");
            tx.commit().await.expect("commit");
        }
        // Some members cancel an order of theirs (refused while a round holds it).
        for _ in 0..5 {
            let (m, id) = &placed[rng.random_range(0..placed.len())];
            let _ = app.core.cancel_order(m, *id).await;
        }
        let r = app
            .core
            .cut_round(&t.pair, at(round))
            .await
            .expect("cut")
            .expect("round");
        receipts.push(r.clone());
        // Settlement: whole, or cut short after the first org (several times), resumed later
        // (sometimes only after the next round was cut, which leaves the held orders out).
        if rng.random_bool(0.4) {
            interrupted += 1;
            let first = app.core.unsettled_orgs(r.id).await.expect("orgs");
            if let Some(first) = first.first() {
                app.core
                    .settle_round_in(r.id, *first)
                    .await
                    .expect("first org");
            }
            if rng.random_bool(0.5) {
                // The crash came after the org's ledger committed, before its progress was kept.
                sqlx::query("DELETE FROM control.exchange_round_settlements WHERE round_id = $1")
                    .bind(r.id)
                    .execute(&app.pool)
                    .await
                    .expect("forget");
            }
        } else {
            for id in app.core.unsettled_rounds().await.expect("rounds") {
                app.core.settle_round(id).await.expect("settle");
            }
        }
        ledger_ok(&app, &t.a).await;
        ledger_ok(&app, &t.b).await;
    }
    for id in app.core.unsettled_rounds().await.expect("rounds") {
        app.core.settle_round(id).await.expect("settle");
    }
    // Running every settlement once more posts nothing.
    let (ja, jb) = (journal(&app, &t.a).await, journal(&app, &t.b).await);
    for r in &receipts {
        app.core
            .settle_round_in(r.id, t.a.tenant.id)
            .await
            .expect("again");
        app.core
            .settle_round_in(r.id, t.b.tenant.id)
            .await
            .expect("again");
    }
    assert_eq!(
        (journal(&app, &t.a).await, journal(&app, &t.b).await),
        (ja, jb)
    );
    assert!(interrupted >= 3, "interrupted only {interrupted} times");
    let traded: i64 = receipts.iter().map(|r| r.base_traded).sum();
    assert!(traded > 0, "nothing traded in 20 rounds");

    // Per currency the sum over both orgs, clearing and escrow included, is what was issued,
    // and the clearing accounts mirror each other.
    assert_eq!(totals(&app, &t, "COIN").await, (coin_issued, 0));
    assert_eq!(totals(&app, &t, "BIKE").await, (bike_issued, 0));
    ledger_ok(&app, &t.a).await;
    ledger_ok(&app, &t.b).await;

    // Every order is filled, returned, cancelled or open, and an open one has exactly its
    // unsold rest in escrow, held by no round.
    for (m, sell) in [(&t.a, "COIN"), (&t.b, "BIKE")] {
        assert_eq!(
            scalar(
                &app,
                m,
                "SELECT count(*) FROM exchange_orders WHERE cut_at IS NOT NULL"
            )
            .await,
            0
        );
        assert_eq!(
            scalar(&app, m, "SELECT count(*) FROM exchange_orders WHERE status NOT IN ('open', 'filled', 'returned', 'cancelled')").await,
            0
        );
        assert_eq!(
            scalar(
                &app,
                m,
                "SELECT coalesce(sum(amount - sold), 0) FROM exchange_orders WHERE status = 'open'"
            )
            .await,
            balance(&app, m, "escrow", None, sell).await
        );
        assert_eq!(
            scalar(
                &app,
                m,
                "SELECT count(*) FROM exchange_orders WHERE status = 'filled' AND sold <> amount"
            )
            .await,
            0
        );
        // What each order sold and bought is the sum of its settlements.
        assert_eq!(
            scalar(&app, m, "SELECT count(*) FROM exchange_orders o WHERE (o.sold, o.bought) <> (SELECT coalesce(sum(s.sold), 0), coalesce(sum(s.bought), 0) FROM exchange_settlements s WHERE s.order_id = o.id)").await,
            0
        );
    }

    // Receipts match the postings: each fill is one settlement row of its org with the same
    // amounts, and the exchange transfers add up to the receipts' totals.
    let mut sold_by: HashMap<i64, i64> = HashMap::new();
    let mut bought_by: HashMap<i64, i64> = HashMap::new();
    let mut rows: BTreeMap<(i64, i64, i64), (i64, i64)> = BTreeMap::new();
    for r in &receipts {
        let fills: i64 = r.fills.iter().map(|f| f.sold).sum();
        assert_eq!(fills, r.base_traded + r.quote_traded);
        for f in &r.fills {
            *sold_by.entry(f.tenant.0).or_default() += f.sold;
            *bought_by.entry(f.tenant.0).or_default() += f.bought;
            rows.insert((f.tenant.0, r.id, f.order), (f.sold, f.bought));
        }
    }
    for m in [&t.a, &t.b] {
        let tenant = m.tenant.id.0;
        assert_eq!(
            scalar(&app, m, "SELECT coalesce(sum(amount), 0) FROM transfers WHERE kind = 'exchange' AND idempotency_key LIKE '%:sold'").await,
            sold_by[&tenant]
        );
        assert_eq!(
            scalar(&app, m, "SELECT coalesce(sum(amount), 0) FROM transfers WHERE kind = 'exchange' AND idempotency_key LIKE '%:bought'").await,
            bought_by[&tenant]
        );
        let mut tx = app.pool.begin().await.expect("tx");
        let settled: Vec<(i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT round_id, order_id, sold, bought FROM org_{tenant}.exchange_settlements"
        )))
        .fetch_all(&mut *tx)
        .await
        .expect("settlements");
        let expected: Vec<(i64, i64, i64, i64)> = rows
            .iter()
            .filter(|((t, _, _), _)| *t == tenant)
            .map(|((_, r, o), (s, b))| (*r, *o, *s, *b))
            .collect();
        let mut settled = settled;
        settled.sort();
        assert_eq!(settled, expected);
    }
    // The control plane's net positions are the clearing accounts' balances.
    let (net,): (i64,) = sqlx::query_as(
        "SELECT coalesce(sum(net), 0)::bigint FROM control.exchange_positions WHERE currency = 'COIN'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("positions");
    let a_first = t.a.tenant.id.0 < t.b.tenant.id.0;
    assert_eq!(
        net,
        if a_first { 1 } else { -1 } * balance(&app, &t.a, "clearing", None, "COIN").await
    );
}
