//! The joining grant (issue 14): an admin sets an amount of the org's default currency, and each
//! new member is given it once when they join, in the joining's own transaction.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Org, Response, TestApp};

async fn patch(app: &TestApp, org: &Org, token: &str, body: serde_json::Value) -> Response {
    app.call(
        Method::PATCH,
        &format!("/v1/orgs/{}", org.slug),
        Some(token),
        Some(body),
        None,
    )
    .await
}

#[tokio::test]
async fn new_members_get_the_grant_once_and_only_admins_set_it() {
    let app = TestApp::new().await;
    let org = app.org("grants").await;
    let (before, before_id) = app.member(&org, "early").await;
    assert_eq!(app.balance(&org, &before, before_id).await, "0.00");

    let set = patch(&app, &org, &org.owner_token, json!({"joining_grant": "20"})).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(
        set.body["joining_grant"],
        json!({"amount": "20.00", "currency": "COIN"})
    );
    let read = app.get(&format!("/v1/orgs/{}", org.slug), &before).await;
    assert_eq!(read.body["joining_grant"]["amount"], "20.00");

    // Members already in get nothing; whoever joins now gets it.
    assert_eq!(app.balance(&org, &before, before_id).await, "0.00");
    let (token, id) = app.member(&org, "newcomer").await;
    assert_eq!(app.balance(&org, &token, id).await, "20.00");

    // Left and joined again: nothing twice, even with another amount set meanwhile.
    sqlx::query("DELETE FROM control.memberships WHERE user_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let set = patch(&app, &org, &org.owner_token, json!({"joining_grant": "5"})).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let again = app
        .call(
            Method::POST,
            &format!("/v1/orgs/{}/join", org.slug),
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(app.balance(&org, &token, id).await, "20.00");

    // Only admins set it, and only to a positive amount or 0.
    let refused = patch(&app, &org, &token, json!({"joining_grant": "100"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let negative = patch(&app, &org, &org.owner_token, json!({"joining_grant": "-5"})).await;
    assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(negative.code(), "amount_not_positive");

    let off = patch(&app, &org, &org.owner_token, json!({"joining_grant": "0"})).await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    assert_eq!(off.body["joining_grant"], serde_json::Value::Null);
    let (late, late_id) = app.member(&org, "late").await;
    assert_eq!(app.balance(&org, &late, late_id).await, "0.00");

    // Money was issued, not conjured: the ledger still adds up.
    let verified = app
        .get(
            &format!("/v1/orgs/{}/ledger/verify", org.slug),
            &org.owner_token,
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    let checks = verified.body["currencies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !checks.is_empty() && checks.iter().all(|c| c["ok"] == true),
        "{:?}",
        verified.body
    );
}
