//! The exchange's schedule (issue 17): a job per pair cuts the round at a random moment in the
//! last quarter of its window, settles it in both orgs, and finishes a settlement a dead worker
//! left half done.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use coinsence_api::domain::exchange::book::Pair;
use coinsence_api::domain::exchange::orders::{GoodFor, NewOrder};
use coinsence_api::domain::governance::outbox::DeliveryPolicy;
use coinsence_api::domain::ledger::CurrencyCode;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, NewCurrency};
use coinsence_api::domain::orgs::Member;
use coinsence_api::testing::{listed_on_exchange, many_members, org_with_coin, org_with_currency};
use coinsence_worker::ManualClock;
use coinsence_worker::enqueue::fan_out_pairs;
use coinsence_worker::jobs::{Context, ExchangeRound, Job};

use crate::helpers::db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pair_job_cuts_late_in_the_window_settles_and_resumes_a_half_settlement() {
    let db = db().await;
    coinsence_worker::setup(&db.pool).await.unwrap();
    let a = org_with_coin(&db.core, "ex-a", "ex-a", true).await.admin;
    let bike = NewCurrency {
        code: "BIKE".to_owned(),
        name: "Bike hours".to_owned(),
        scale: 1,
        credit_limit: None,
    };
    let b = org_with_currency(&db.core, "ex-b", "ex-b", true, bike)
        .await
        .admin;
    listed_on_exchange(&db.core, &a, "COIN", 2, 1000, 1_000_000).await;
    listed_on_exchange(&db.core, &b, "BIKE", 1, 1000, 100_000).await;
    let ana = many_members(&db.core, &a, "ana", 1, "COIN", "100")
        .await
        .remove(0);
    let bo = many_members(&db.core, &b, "bo", 1, "BIKE", "100")
        .await
        .remove(0);
    let order = |m: &Member, sell: &str, buy: &str, key: &str| {
        let (core, m) = (db.core.clone(), m.clone());
        let (sell, buy, key) = (sell.to_owned(), buy.to_owned(), key.to_owned());
        async move {
            core.place_order(
                &m,
                NewOrder {
                    sell,
                    amount: "5".to_owned(),
                    buy,
                    limit: "1".to_owned(),
                    good_for: Some(GoodFor::Round),
                },
                Some(IdempotencyKey::scoped("test", "order", &key).unwrap()),
            )
            .await
            .unwrap()
        }
    };
    order(&ana, "COIN", "BIKE", "a1").await;
    order(&bo, "BIKE", "COIN", "b1").await;

    // Windows of an hour; the clock stands at the start of one.
    let start = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
    let clock = ManualClock::new(start);
    let ctx = Context {
        core: db.core.clone(),
        clock: Arc::new(clock.clone()),
        sink: None,
        delivery: DeliveryPolicy::default(),
        exchange_interval: Duration::from_secs(3600),
        witness_every: None,
    };
    // The tick finds the pair and enqueues its job, once however many workers tick.
    assert_eq!(
        fan_out_pairs(&db.core, start, ctx.exchange_interval)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        fan_out_pairs(&db.core, start, ctx.exchange_interval)
            .await
            .unwrap(),
        0
    );
    let job = ExchangeRound {
        base: "BIKE".to_owned(),
        quote: "COIN".to_owned(),
    };
    // The first step only draws the cut: in the window's last quarter.
    job.clone().run(&ctx).await.unwrap();
    let next: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT next_cut_at FROM control.exchange_pairs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(
        next >= start + chrono::Duration::minutes(45) && next < start + chrono::Duration::hours(1),
        "{next}"
    );
    let rounds = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM control.exchange_rounds")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    clock.set(next - chrono::Duration::seconds(1));
    job.clone().run(&ctx).await.unwrap();
    assert_eq!(rounds().await, 0, "not yet");
    clock.set(next);
    job.clone().run(&ctx).await.unwrap();
    assert_eq!(rounds().await, 1);
    assert!(db.core.unsettled_rounds().await.unwrap().is_empty());
    let mine = db.core.my_orders(&ana).await.unwrap();
    assert_eq!(
        (mine[0].sold.as_str(), mine[0].bought.as_str()),
        ("5.00", "5.0")
    );
    let later: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT next_cut_at FROM control.exchange_pairs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(later >= start + chrono::Duration::minutes(105), "{later}");

    // A worker dies after settling org A's side of a round: the pair's next job finishes B.
    order(&ana, "COIN", "BIKE", "a2").await;
    order(&bo, "BIKE", "COIN", "b2").await;
    let pair = Pair::of(
        CurrencyCode::parse("COIN").unwrap(),
        CurrencyCode::parse("BIKE").unwrap(),
    );
    let r = db
        .core
        .cut_round(&pair, later - chrono::Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    db.core.settle_round_in(r.id, a.tenant.id).await.unwrap();
    assert_eq!(db.core.unsettled_rounds().await.unwrap(), vec![r.id]);
    job.run(&ctx).await.unwrap();
    assert!(db.core.unsettled_rounds().await.unwrap().is_empty());
    let bos = db.core.my_orders(&bo).await.unwrap();
    assert_eq!(
        (bos[0].sold.as_str(), bos[0].bought.as_str()),
        ("5.0", "5.00")
    );
}
