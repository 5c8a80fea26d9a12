//! The exchange between community currencies (issue 17): listing by vote.

use axum::http::StatusCode;
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
