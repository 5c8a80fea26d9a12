//! The exchange between community currencies (issue 17): listing by vote, orders with escrow.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Org, TestApp};

/// Opens a proposal as the org's owner (its only member) and votes it through.
async fn decide(
    app: &TestApp,
    org: &Org,
    title: &str,
    action: serde_json::Value,
) -> crate::helpers::Response {
    let opened = app
        .propose(&org.slug, &org.owner_token, title, action)
        .await;
    if opened.status != StatusCode::CREATED {
        return opened;
    }
    let id = opened.body["id"].as_i64().unwrap_or_default();
    let voted = app.vote(&org.slug, &org.owner_token, id, "yes").await;
    assert_eq!(voted.body["status"], "passed", "{:?}", voted.body);
    voted
}

/// Opens a proposal as the org's owner; the owner and then `others` vote yes until it passes.
async fn decide_with(
    app: &TestApp,
    org: &Org,
    others: &[&str],
    title: &str,
    action: serde_json::Value,
) -> crate::helpers::Response {
    let opened = app
        .propose(&org.slug, &org.owner_token, title, action)
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{:?}", opened.body);
    let id = opened.body["id"].as_i64().unwrap_or_default();
    let mut voted = app.vote(&org.slug, &org.owner_token, id, "yes").await;
    for token in others {
        if voted.body["status"] == "passed" {
            break;
        }
        voted = app.vote(&org.slug, token, id, "yes").await;
    }
    assert_eq!(voted.body["status"], "passed", "{:?}", voted.body);
    voted
}

async fn listed(app: &TestApp) -> Vec<(String, i64, i64)> {
    app.core
        .exchange_listings()
        .await
        .expect("listings")
        .into_iter()
        .map(|l| (l.currency, l.trustline, l.max_out_per_round))
        .collect()
}

#[tokio::test]
async fn a_community_lists_and_delists_its_currency_by_vote_and_a_code_names_one_currency() {
    let app = TestApp::new().await;
    let a = app.org("ex-list-a").await;
    let b = app.org("ex-list-b").await;
    let list = |currency: &str, trustline: &str, max_out: &str| {
        json!({"kind": "list_on_exchange", "currency": currency, "trustline": trustline,
               "max_out_per_round": max_out})
    };

    let passed = decide(&app, &a, "trade COIN", list("COIN", "1000", "500.00")).await;
    assert_eq!(passed.status, StatusCode::OK, "{:?}", passed.body);
    assert_eq!(passed.body["kind"], "list_on_exchange");
    assert_eq!(listed(&app).await, vec![("COIN".to_owned(), 1000, 50_000)]);

    // Org B's currency is also called COIN: while A's is listed, the code is taken.
    let taken = app
        .propose(
            &b.slug,
            &b.owner_token,
            "trade our COIN",
            list("COIN", "10", "1"),
        )
        .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "exchange_code_taken")
    );
    // Limits that do not parse are refused when the proposal opens, naming the field.
    let bike = app
        .post(
            "/v1/orgs/ex-list-b/currencies",
            &b.owner_token,
            json!({"code": "BIKE", "name": "Bike hours", "scale": 1}),
        )
        .await;
    assert_eq!(bike.status, StatusCode::CREATED, "{:?}", bike.body);
    for (trustline, max_out, field) in [
        ("ten", "1", "trustline"),
        ("1.5", "1", "trustline"),
        ("10", "0", "max_out_per_round"),
        ("10", "0.05", "max_out_per_round"),
    ] {
        let bad = app
            .propose(
                &b.slug,
                &b.owner_token,
                "trade BIKE",
                list("BIKE", trustline, max_out),
            )
            .await;
        assert_eq!(
            (bad.status, bad.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{trustline} {max_out}: {:?}",
            bad.body
        );
    }
    decide(&app, &b, "trade BIKE", list("BIKE", "200", "12.5")).await;
    assert_eq!(
        listed(&app).await,
        vec![
            ("BIKE".to_owned(), 200, 125),
            ("COIN".to_owned(), 1000, 50_000)
        ]
    );

    // Only the org whose currency it is can delist it.
    let not_theirs = app
        .propose(
            &b.slug,
            &b.owner_token,
            "stop COIN",
            json!({"kind": "delist_from_exchange", "currency": "COIN"}),
        )
        .await;
    assert_eq!(
        (not_theirs.status, not_theirs.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "currency_not_listed")
    );
    let delisted = decide(
        &app,
        &a,
        "stop COIN",
        json!({"kind": "delist_from_exchange", "currency": "COIN"}),
    )
    .await;
    assert_eq!(delisted.body["kind"], "delist_from_exchange");
    assert_eq!(listed(&app).await, vec![("BIKE".to_owned(), 200, 125)]);
    // Now the code is free for B's COIN.
    decide(&app, &b, "trade our COIN", list("COIN", "10", "1")).await;
    assert_eq!(
        listed(&app).await,
        vec![("BIKE".to_owned(), 200, 125), ("COIN".to_owned(), 10, 100)]
    );
}

fn list(currency: &str, trustline: &str, max_out: &str) -> serde_json::Value {
    json!({"kind": "list_on_exchange", "currency": currency, "trustline": trustline,
           "max_out_per_round": max_out})
}

async fn order(
    app: &TestApp,
    org: &Org,
    token: &str,
    key: &str,
    body: serde_json::Value,
) -> crate::helpers::Response {
    app.call(
        Method::POST,
        &format!("/v1/orgs/{}/exchange/orders", org.slug),
        Some(token),
        Some(body),
        Some(key),
    )
    .await
}

fn sell(amount: &str, what: &str, for_what: &str, limit: &str) -> serde_json::Value {
    json!({"sell": what, "amount": amount, "buy": for_what, "limit": limit})
}

#[tokio::test]
async fn an_order_escrows_its_amount_once_and_cancelling_or_delisting_returns_it() {
    let app = TestApp::new().await;
    let a = app.org("ex-ord-a").await;
    let b = app.org("ex-ord-b").await;
    let bike = app
        .post(
            "/v1/orgs/ex-ord-b/currencies",
            &b.owner_token,
            json!({"code": "BIKE", "name": "Bike hours", "scale": 1}),
        )
        .await;
    assert_eq!(bike.status, StatusCode::CREATED, "{:?}", bike.body);
    decide(&app, &a, "trade COIN", list("COIN", "1000", "500.00")).await;
    decide(&app, &b, "trade BIKE", list("BIKE", "1000", "500")).await;
    let (ana, ana_id) = app.member(&a, "ana").await;
    let (bo, _) = app.member(&a, "bo").await;
    assert_eq!(
        app.issue(&a, ana_id, "100.00").await.status,
        StatusCode::CREATED
    );

    // Placing escrows the amount; a retry with the same key is the same order, escrowed once.
    let placed = order(&app, &a, &ana, "o-1", sell("10.00", "COIN", "BIKE", "0.8")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{:?}", placed.body);
    assert_eq!(
        (
            &placed.body["status"],
            &placed.body["escrowed"],
            &placed.body["limit"]
        ),
        (&json!("open"), &json!("10.00"), &json!("0.8"))
    );
    let again = order(&app, &a, &ana, "o-1", sell("10.00", "COIN", "BIKE", "0.8")).await;
    assert_eq!(again.body["id"], placed.body["id"], "{:?}", again.body);
    assert_eq!(app.balance(&a, &ana, ana_id).await, "90.00");
    assert_eq!(
        app.account_balance(&a, app.system_account(&a, "escrow", "COIN").await)
            .await,
        "10.00"
    );
    let other = order(&app, &a, &ana, "o-1", sell("11.00", "COIN", "BIKE", "0.8")).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{:?}", other.body);

    // Bad input: one refusal each, nothing escrowed, no order.
    let journal = app.journal_rows("ex-ord-a").await;
    for (n, (body, code, field)) in [
        (sell("1", "XYZ", "BIKE", "1"), "currency_not_listed", "sell"),
        (sell("1", "COIN", "XYZ", "1"), "currency_not_listed", "buy"),
        (
            sell("1", "COIN", "C0IN!", "1"),
            "currency_not_listed",
            "buy",
        ),
        (sell("1", "BIKE", "COIN", "1"), "currency_not_held", "sell"),
        (
            sell("1", "COIN", "coin", "1"),
            "exchange_pair_with_itself",
            "buy",
        ),
        (
            sell("0", "COIN", "BIKE", "1"),
            "amount_not_positive",
            "amount",
        ),
        (
            sell("-5", "COIN", "BIKE", "1"),
            "amount_not_positive",
            "amount",
        ),
        (
            sell("1.001", "COIN", "BIKE", "1"),
            "amount_too_many_decimals",
            "amount",
        ),
        (sell("1", "COIN", "BIKE", "0"), "price_malformed", "limit"),
        (
            sell("1", "COIN", "BIKE", "-0.8"),
            "price_malformed",
            "limit",
        ),
        (sell("1", "COIN", "BIKE", "abc"), "price_malformed", "limit"),
        (
            sell("1", "COIN", "BIKE", "0.1234567"),
            "price_too_precise",
            "limit",
        ),
        (
            sell("1000.00", "COIN", "BIKE", "1"),
            "insufficient_funds",
            "",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let r = order(&app, &a, &ana, &format!("bad-{n}"), body.clone()).await;
        assert!(r.status.is_client_error(), "{body}: {:?}", r.body);
        if !field.is_empty() {
            assert_eq!(
                (r.code(), r.body["field"].as_str()),
                (code, Some(field)),
                "{body}: {:?}",
                r.body
            );
        }
    }
    assert_eq!(app.journal_rows("ex-ord-a").await, journal);
    assert_eq!(app.balance(&a, &ana, ana_id).await, "90.00");
    let mine = app.get("/v1/orgs/ex-ord-a/exchange/orders", &ana).await;
    assert_eq!(
        mine.body.as_array().map(Vec::len),
        Some(1),
        "{:?}",
        mine.body
    );
    // Nobody else sees or cancels it.
    let theirs = app.get("/v1/orgs/ex-ord-a/exchange/orders", &bo).await;
    assert_eq!(theirs.body, json!([]));
    let id = placed.body["id"].as_i64().unwrap_or_default();
    let cancel = format!("/v1/orgs/ex-ord-a/exchange/orders/{id}/cancel");
    let not_yours = app.post(&cancel, &bo, json!({})).await;
    assert_eq!(
        (not_yours.status, not_yours.code()),
        (StatusCode::NOT_FOUND, "exchange_order_not_found")
    );

    // Cancelling returns the escrow, once.
    let cancelled = app.post(&cancel, &ana, json!({})).await;
    assert_eq!(
        cancelled.body["status"], "cancelled",
        "{:?}",
        cancelled.body
    );
    assert_eq!(app.balance(&a, &ana, ana_id).await, "100.00");
    let twice = app.post(&cancel, &ana, json!({})).await;
    assert_eq!(
        (twice.status, twice.code()),
        (StatusCode::CONFLICT, "exchange_order_closed")
    );
    assert_eq!(app.balance(&a, &ana, ana_id).await, "100.00");

    // Delisting stops new orders and returns the open ones.
    let open = order(&app, &a, &ana, "o-2", sell("5.00", "COIN", "BIKE", "1.5")).await;
    assert_eq!(open.status, StatusCode::CREATED, "{:?}", open.body);
    assert_eq!(app.balance(&a, &ana, ana_id).await, "95.00");
    decide_with(
        &app,
        &a,
        &[&ana, &bo],
        "stop COIN",
        json!({"kind": "delist_from_exchange", "currency": "COIN"}),
    )
    .await;
    let mine = app.get("/v1/orgs/ex-ord-a/exchange/orders", &ana).await;
    assert_eq!(mine.body[0]["status"], "returned", "{:?}", mine.body);
    assert_eq!(app.balance(&a, &ana, ana_id).await, "100.00");
    let refused = order(&app, &a, &ana, "o-3", sell("5.00", "COIN", "BIKE", "1.5")).await;
    assert_eq!(
        (refused.code(), refused.body["field"].as_str()),
        ("currency_not_listed", Some("sell"))
    );
    assert_eq!(app.verify(&a).await["ok"], true);
}

#[tokio::test]
async fn the_public_book_shows_totals_per_price_and_the_price_the_round_would_clear_at() {
    let app = TestApp::new().await;
    let a = app.org("ex-book-a").await;
    let b = app.org("ex-book-b").await;
    let bike = app
        .post(
            "/v1/orgs/ex-book-b/currencies",
            &b.owner_token,
            json!({"code": "BIKE", "name": "Bike hours", "scale": 1}),
        )
        .await;
    assert_eq!(bike.status, StatusCode::CREATED, "{:?}", bike.body);
    decide(&app, &a, "trade COIN", list("COIN", "1000", "500.00")).await;
    decide(&app, &b, "trade BIKE", list("BIKE", "1000", "500")).await;
    let (ana, ana_id) = app.member(&a, "ana").await;
    assert_eq!(
        app.issue(&a, ana_id, "100.00").await.status,
        StatusCode::CREATED
    );
    let bikes = app
        .call(
            Method::POST,
            "/v1/orgs/ex-book-b/issuance",
            Some(&b.owner_token),
            Some(json!({"currency": "BIKE", "to_member": b.owner_id, "amount": "50"})),
            Some("bikes"),
        )
        .await;
    assert_eq!(bikes.status, StatusCode::CREATED, "{:?}", bikes.body);
    // B's COIN is not A's COIN: B's members cannot sell theirs as the listed one.
    let not_held = order(
        &app,
        &b,
        &b.owner_token,
        "b-coin",
        sell("1.00", "COIN", "BIKE", "1"),
    )
    .await;
    assert_eq!(
        (not_held.code(), not_held.body["field"].as_str()),
        ("currency_not_held", Some("sell"))
    );

    let placed = order(&app, &a, &ana, "a-1", sell("10.00", "COIN", "BIKE", "0.8")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{:?}", placed.body);
    let placed = order(
        &app,
        &b,
        &b.owner_token,
        "b-1",
        sell("10", "BIKE", "COIN", "1"),
    )
    .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{:?}", placed.body);

    // Anyone in either org sees the same quote: prices are COIN per BIKE (the pair by code).
    for (org, token) in [(&a, &ana), (&b, &b.owner_token)] {
        let q = app
            .get(
                &format!("/v1/orgs/{}/exchange/quote?sell=COIN&buy=BIKE", org.slug),
                token,
            )
            .await;
        assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
        // At 1 COIN per BIKE 10 BIKE meet 10.00 COIN; at 1.25 only 8 BIKE would trade.
        assert_eq!(
            q.body,
            json!({"base": "BIKE", "quote": "COIN", "price": "1", "volume": "10.0",
                   "imbalance": "0.0", "levels": [
                       {"price": "1", "selling_base": "10.0", "selling_quote": "0.00"},
                       {"price": "1.25", "selling_base": "0.0", "selling_quote": "10.00"}]})
        );
    }
    let same = app
        .get("/v1/orgs/ex-book-a/exchange/quote?sell=COIN&buy=COIN", &ana)
        .await;
    assert_eq!(same.code(), "exchange_pair_with_itself");
}
