//! Pledges back issuance; the market redeems them.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Org, TestApp, rand_key};

async fn org_of_three(app: &TestApp, slug: &str) -> (Org, (String, i64), (String, i64)) {
    let org = app.org(slug).await;
    let rules = json!({"method": "majority", "quorum_bp": 5000, "voting_period_secs": 3600, "proposers": "members"});
    assert_eq!(
        app.put(&format!("/v1/orgs/{slug}/rules"), &org.owner_token, rules)
            .await
            .status,
        StatusCode::OK
    );
    let ana = app.member(&org, "ana").await;
    let bo = app.member(&org, "bo").await;
    (org, ana, bo)
}

fn summary_of(body: &Value) -> Value {
    body.as_array()
        .and_then(|a| a.iter().find(|s| s["currency"] == "COIN"))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_passed_pledge_issues_exactly_n_and_buying_the_work_redeems_it() {
    let app = TestApp::new().await;
    let (org, (ana, ana_id), (bo, bo_id)) = org_of_three(&app, "bikes").await;
    let slug = "bikes";

    let pledged = app
        .post(&format!("/v1/orgs/{slug}/pledges"), &ana, json!({"currency": "COIN", "amount": "10.50", "description": "10 hours of bike repair"}))
        .await;
    assert_eq!(pledged.status, StatusCode::CREATED, "{:?}", pledged.body);
    assert_eq!(pledged.body["status"], "proposed");
    assert_eq!(pledged.body["amount"], "10.50");
    assert_eq!(pledged.body["outstanding"], "0.00");
    let pledge_id = pledged.body["id"].as_i64().unwrap_or_default();
    let proposal_id = pledged.body["proposal_id"].as_i64().unwrap_or_default();
    let proposal = app.proposal(slug, &bo, proposal_id).await;
    assert_eq!(proposal["kind"], "issue_for_pledge");
    assert_eq!(proposal["action"]["amount_minor"], 1050);
    assert_eq!(proposal["action"]["pledge_id"], pledge_id);
    let before = app.journal_rows(slug).await;

    app.vote(slug, &ana, proposal_id, "yes").await;
    let passed = app.vote(slug, &bo, proposal_id, "yes").await;
    assert_eq!(passed.body["status"], "passed", "{:?}", passed.body);
    assert_eq!(
        app.balance(&org, &ana, ana_id).await,
        "10.50",
        "exactly N was issued"
    );
    assert_eq!(app.journal_rows(slug).await, before + 1);
    let approved = app
        .get(&format!("/v1/orgs/{slug}/pledges/{pledge_id}"), &bo)
        .await
        .body;
    assert_eq!(
        (approved["status"].as_str(), approved["issued"].as_str()),
        (Some("approved"), Some("10.50")),
        "{approved}"
    );
    assert_eq!(
        approved["outstanding"], "10.50",
        "the obligation is recorded"
    );
    let summary = summary_of(
        &app.get(&format!("/v1/orgs/{slug}/pledges/summary"), &bo)
            .await
            .body,
    );
    assert_eq!(
        summary,
        json!({"currency": "COIN", "pledged": "10.50", "issued": "10.50", "redeemed": "0.00", "outstanding": "10.50"})
    );
    // Closing again issues nothing more.
    app.close_due_in(slug, Duration::hours(2)).await;
    assert_eq!(app.balance(&org, &ana, ana_id).await, "10.50");
    assert_eq!(
        app.count(slug, "outbox WHERE kind = 'pledge_approved'")
            .await,
        1
    );

    // Ana offers the pledged work; Bo (given money) buys it twice, the second time only 2.50 of
    // the obligation is left to redeem.
    let offer = app
        .post(&format!("/v1/orgs/{slug}/listings"), &ana,
              json!({"kind": "offer", "title": "Bike repair, 8 hours", "price": "8", "currency": "COIN", "pledge_id": pledge_id}))
        .await;
    assert_eq!(offer.status, StatusCode::CREATED, "{:?}", offer.body);
    let listing = offer.body["id"].as_i64().unwrap_or_default();
    app.issue(&org, bo_id, "20").await;
    let buy = async |key: &str| {
        app.call(
            Method::POST,
            &format!("/v1/orgs/{slug}/listings/{listing}/purchases"),
            Some(&bo),
            None,
            Some(key),
        )
        .await
    };
    let first = buy("buy-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(
        (
            first.body["price"].as_str(),
            first.body["redeemed"].as_str()
        ),
        (Some("8.00"), Some("8.00"))
    );
    let replay = buy("buy-1").await;
    assert_eq!(
        replay.body, first.body,
        "a retry answers the first purchase"
    );
    let second = buy("buy-2").await;
    assert_eq!(second.body["redeemed"], "2.50", "{:?}", second.body);
    assert_eq!(app.balance(&org, &bo, bo_id).await, "4.00");
    assert_eq!(app.balance(&org, &ana, ana_id).await, "26.50");
    let summary = summary_of(
        &app.get(&format!("/v1/orgs/{slug}/pledges/summary"), &bo)
            .await
            .body,
    );
    assert_eq!(
        summary,
        json!({"currency": "COIN", "pledged": "10.50", "issued": "10.50", "redeemed": "10.50", "outstanding": "0.00"})
    );
    let third = buy("buy-3").await;
    assert_eq!(third.code(), "insufficient_funds", "{:?}", third.body);
    assert_eq!(app.count(slug, "purchases").await, 2);
    assert_eq!(
        app.count(slug, "outbox WHERE kind = 'listing_bought'")
            .await,
        2
    );
    assert_eq!(
        app.count(slug, "outbox WHERE kind = 'payment_received'")
            .await,
        0,
        "a purchase is told as a purchase"
    );
    assert_eq!(app.verify(&org).await["ok"], json!(true));

    // The owner closes it; nobody can buy it then, and closing again is harmless.
    assert_eq!(
        app.post(
            &format!("/v1/orgs/{slug}/listings/{listing}/close"),
            &bo,
            json!({})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let closed = app
        .post(
            &format!("/v1/orgs/{slug}/listings/{listing}/close"),
            &ana,
            json!({}),
        )
        .await;
    assert_eq!(closed.body["status"], "closed", "{:?}", closed.body);
    assert_eq!(
        app.post(
            &format!("/v1/orgs/{slug}/listings/{listing}/close"),
            &ana,
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );
    let after = buy("buy-4").await;
    assert_eq!(
        (after.status, after.code()),
        (StatusCode::CONFLICT, "listing_closed")
    );
    assert_eq!(
        app.get(&format!("/v1/orgs/{slug}/listings"), &bo)
            .await
            .body,
        json!([])
    );
    assert_eq!(
        app.get(&format!("/v1/orgs/{slug}/listings?status=closed"), &bo)
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_rejected_pledge_issues_nothing() {
    let app = TestApp::new().await;
    let (org, (ana, ana_id), (bo, _)) = org_of_three(&app, "doubt").await;
    let pledged = app
        .post(
            "/v1/orgs/doubt/pledges",
            &ana,
            json!({"currency": "COIN", "amount": "5", "description": "singing"}),
        )
        .await;
    let proposal = pledged.body["proposal_id"].as_i64().unwrap_or_default();
    app.vote("doubt", &bo, proposal, "no").await;
    app.vote("doubt", &org.owner_token, proposal, "no").await;
    let pledge = app
        .get(
            &format!("/v1/orgs/doubt/pledges/{}", pledged.body["id"]),
            &ana,
        )
        .await
        .body;
    assert_eq!(pledge["status"], "rejected", "{pledge}");
    assert_eq!(app.balance(&org, &ana, ana_id).await, "0.00");
    let summary = summary_of(&app.get("/v1/orgs/doubt/pledges/summary", &ana).await.body);
    assert_eq!(summary["pledged"], "0.00");
    // A rejected pledge cannot back an offer.
    let offer = app
        .post("/v1/orgs/doubt/listings", &ana, json!({"kind": "offer", "title": "song", "price": "1", "currency": "COIN", "pledge_id": pledge["id"]}))
        .await;
    assert_eq!(
        (offer.status, offer.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pledge_id"))
    );
}

#[tokio::test]
async fn bad_pledges_and_listings_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let (org, (ana, _), (bo, _)) = org_of_three(&app, "careful").await;
    let p = |amount: Value| json!({"currency": "COIN", "amount": amount, "description": "work"});
    let past = (chrono::Utc::now() - Duration::hours(1)).to_rfc3339();
    for (body, status, field) in [
        (
            p(json!("-10")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("amount"),
        ),
        (
            p(json!("0")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("amount"),
        ),
        (
            p(json!("1.234")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("amount"),
        ),
        (p(json!(-10)), StatusCode::UNPROCESSABLE_ENTITY, None),
        (
            json!({"currency": "COIN", "amount": "1", "description": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("description"),
        ),
        (
            json!({"currency": "COIN", "amount": "1", "description": "x", "closes_at": past}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("closes_at"),
        ),
        (
            json!({"currency": "NOPE", "amount": "1", "description": "x"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            json!({"currency": "COIN", "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
    ] {
        let r = app
            .post("/v1/orgs/careful/pledges", &ana, body.clone())
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (status, field),
            "{body}: {:?}",
            r.body
        );
    }
    let l = |kind: &str, price: &str| json!({"kind": kind, "title": "thing", "price": price, "currency": "COIN"});
    for (body, status) in [
        (l("offer", "-1"), StatusCode::UNPROCESSABLE_ENTITY),
        (l("gift", "1"), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"kind": "need", "title": "x", "price": "1", "currency": "COIN", "pledge_id": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "offer", "title": "x", "price": "1", "currency": "COIN", "pledge_id": 999}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"kind": "offer", "title": "", "price": "1", "currency": "COIN"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = app
            .post("/v1/orgs/careful/listings", &ana, body.clone())
            .await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
    }
    assert_eq!(app.count("careful", "pledges").await, 0);
    assert_eq!(app.count("careful", "proposals").await, 0);
    assert_eq!(app.count("careful", "listings").await, 0);

    // Buying: a need, one's own offer, an unknown listing, no key.
    let need = app
        .post("/v1/orgs/careful/listings", &ana, l("need", "3"))
        .await;
    let need_id = need.body["id"].as_i64().unwrap_or_default();
    let offer = app
        .post("/v1/orgs/careful/listings", &ana, l("offer", "3"))
        .await;
    let offer_id = offer.body["id"].as_i64().unwrap_or_default();
    let buy = async |token: &str, id: i64, key: Option<&str>| {
        app.call(
            Method::POST,
            &format!("/v1/orgs/careful/listings/{id}/purchases"),
            Some(token),
            None,
            key,
        )
        .await
    };
    assert_eq!(
        buy(&bo, need_id, Some("k1")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        buy(&ana, offer_id, Some("k2")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        buy(&bo, 999, Some("k3")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        buy(&bo, offer_id, None).await.code(),
        "missing_idempotency_key"
    );
    assert_eq!(
        buy(&bo, offer_id, Some(&rand_key())).await.code(),
        "insufficient_funds"
    );
    assert_eq!(app.count("careful", "purchases").await, 0);
    assert_eq!(app.journal_rows("careful").await, 0);
    let _ = org;
}

#[tokio::test]
async fn pledge_totals_never_overflow() {
    let app = TestApp::new().await;
    let (_org, (ana, _), (bo, _)) = org_of_three(&app, "huge").await;
    for token in [&ana, &bo] {
        let r = app
            .post("/v1/orgs/huge/pledges", token, json!({"currency": "COIN", "amount": "92233720368547758.07", "description": "a lifetime"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let summary = app.get("/v1/orgs/huge/pledges/summary", &ana).await;
    assert_eq!(summary.status, StatusCode::OK, "{:?}", summary.body);
    assert_eq!(
        summary_of(&summary.body)["pledged"],
        "184467440737095516.14"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_pledge_or_proposal_is_made_once() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let (_org, (ana, _), _) = org_of_three(&app, "retries").await;
    let ana = std::sync::Arc::new(ana);
    let body = json!({"currency": "COIN", "amount": "4", "description": "gardening"});
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, ana, body) = (app.clone(), ana.clone(), body.clone());
            tokio::spawn(async move {
                app.call(
                    Method::POST,
                    "/v1/orgs/retries/pledges",
                    Some(&ana),
                    Some(body),
                    Some("pledge-1"),
                )
                .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answers the one pledge");
    assert_eq!(app.count("retries", "pledges").await, 1);
    assert_eq!(app.count("retries", "proposals").await, 1);
    let other = app
        .call(
            Method::POST,
            "/v1/orgs/retries/pledges",
            Some(&ana),
            Some(json!({"currency": "COIN", "amount": "5", "description": "gardening"})),
            Some("pledge-1"),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::CONFLICT, "idempotency_conflict")
    );
    // The same key for another kind of thing is a conflict too; without a key, each call creates.
    let proposal = json!({"title": "t", "action": {"kind": "free_text"}});
    let clash = app
        .call(
            Method::POST,
            "/v1/orgs/retries/proposals",
            Some(&ana),
            Some(proposal.clone()),
            Some("pledge-1"),
        )
        .await;
    assert_eq!(clash.code(), "idempotency_conflict");
    let first = app
        .call(
            Method::POST,
            "/v1/orgs/retries/proposals",
            Some(&ana),
            Some(proposal.clone()),
            Some("p-1"),
        )
        .await;
    let again = app
        .call(
            Method::POST,
            "/v1/orgs/retries/proposals",
            Some(&ana),
            Some(proposal.clone()),
            Some("p-1"),
        )
        .await;
    assert_eq!(first.body["id"], again.body["id"]);
    app.post("/v1/orgs/retries/proposals", &ana, proposal.clone())
        .await;
    app.post("/v1/orgs/retries/proposals", &ana, proposal).await;
    assert_eq!(app.count("retries", "proposals").await, 4);
    assert_eq!(
        app.count("retries", "outbox WHERE kind = 'proposal_opened'")
            .await,
        4
    );
}
