use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_same_key_and_body_is_applied_once_and_answers_the_same() {
    let app = TestApp::new().await;
    let org = app.org("idem").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, ana_id, "50").await;

    let first = app.pay(&org, &ana, bo_id, "10.00", "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = app.pay(&org, &ana, bo_id, "10.00", "k-1").await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(
        first.body, again.body,
        "a retry answers exactly what the first call answered"
    );
    assert_eq!(app.balance(&org, &ana, ana_id).await, "40.00");
    assert_eq!(app.journal_rows("idem").await, 2);

    let other = app.pay(&org, &ana, bo_id, "11.00", "k-1").await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.code(), "idempotency_conflict");
    assert_eq!(app.balance(&org, &ana, ana_id).await, "40.00");

    // Keys are per caller: Bo may use "k-1" for his own payment.
    let (bo, _) = (
        app.call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": "bo.idem@example.org", "password": "correct horse"})),
            None,
        )
        .await,
        (),
    );
    let bo_token = bo.body["token"].as_str().unwrap_or_default().to_owned();
    let bo_pays = app.pay(&org, &bo_token, ana_id, "1", "k-1").await;
    assert_eq!(bo_pays.status, StatusCode::CREATED, "{:?}", bo_pays.body);
    assert_eq!(app.journal_rows("idem").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_apply_once() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let org = std::sync::Arc::new(app.org("dupes").await);
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, ana_id, "100").await;
    let ana = std::sync::Arc::new(ana);
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let (app, org, ana) = (app.clone(), org.clone(), ana.clone());
            tokio::spawn(async move { app.pay(&org, &ana, bo_id, "7.00", "same-key").await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["id"].clone());
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "every duplicate answers with the one transfer"
    );
    assert_eq!(app.balance(&org, &ana, ana_id).await, "93.00");
    assert_eq!(app.journal_rows("dupes").await, 2);
}

#[tokio::test]
async fn a_refused_transfer_records_nothing_so_its_key_can_be_retried() {
    let app = TestApp::new().await;
    let org = app.org("retry").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    let refused = app.pay(&org, &ana, bo_id, "5", "k").await;
    assert_eq!(refused.code(), "insufficient_funds");
    assert_eq!(app.journal_rows("retry").await, 0);
    app.issue(&org, ana_id, "5").await;
    let ok = app.pay(&org, &ana, bo_id, "5", "k").await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    assert_eq!(app.balance(&org, &ana, ana_id).await, "0.00");
}

#[tokio::test]
async fn a_transfer_without_a_key_is_refused() {
    let app = TestApp::new().await;
    let org = app.org("nokey").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    let r = app
        .call(
            Method::POST,
            "/v1/orgs/nokey/transfers",
            Some(&org.owner_token),
            Some(json!({"currency": "COIN", "to_member": bo_id, "amount": "1"})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "missing_idempotency_key");
}
