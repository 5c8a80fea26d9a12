//! Scheduled issuance policies and the journal's seals, through the HTTP API.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn admins_set_up_issuance_policies_and_members_read_them() {
    let app = TestApp::new().await;
    let org = app.org("policies").await;
    let (member, _) = app.member(&org, "mia").await;
    let path = "/v1/orgs/policies/issuance-policies";
    let body = json!({"currency": "COIN", "period": "weekly", "time_zone": "Europe/Berlin",
                      "fixed_amount": "10.00", "demurrage_bp": 50});

    let r = app.post(path, &member, body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app
        .post(
            path,
            &org.owner_token,
            json!({"currency": "COIN", "period": "weekly",
        "time_zone": "Mars/Olympus", "fixed_amount": "1"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("time_zone"))
    );
    let r = app
        .post(
            path,
            &org.owner_token,
            json!({"currency": "COIN", "period": "monthly",
        "fixed_amount": "1", "top_up_to": "5"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let r = app
        .post(
            path,
            &org.owner_token,
            json!({"currency": "COIN", "period": "monthly",
        "fixed_amount": "1.001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);

    let created = app.post(path, &org.owner_token, body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["amount"], "10.00");
    assert_eq!(created.body["income"], "fixed");
    assert_eq!(created.body["demurrage_bp"], 50);
    let again = app.post(path, &org.owner_token, body).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "already_taken")
    );

    let listed = app.get(path, &member).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));

    let id = created.body["id"].as_i64().unwrap_or_default();
    let ended = app
        .call(
            Method::DELETE,
            &format!("{path}/{id}"),
            Some(&org.owner_token),
            None,
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{:?}", ended.body);
    assert_eq!(ended.body["active"], false);
    let twice = app
        .call(
            Method::DELETE,
            &format!("{path}/{id}"),
            Some(&org.owner_token),
            None,
            None,
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    // Ended, so a new one may start.
    let r = app
        .post(
            path,
            &org.owner_token,
            json!({"currency": "COIN", "period": "monthly", "top_up_to": "20"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn the_seal_chain_is_published_and_verifiable_by_any_member() {
    let app = TestApp::new().await;
    let org = app.org("chain").await;
    let (member, member_id) = app.member(&org, "max").await;
    let seals = app.get("/v1/orgs/chain/ledger/seals", &member).await;
    assert_eq!(
        (seals.status, seals.body.clone()),
        (StatusCode::OK, json!([]))
    );
    for _ in 0..3 {
        assert_eq!(
            app.issue(&org, member_id, "2.50").await.status,
            StatusCode::CREATED
        );
    }
    let tenant = app.tenant("chain").await;
    app.core
        .seal_journal(&tenant, chrono::Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seals = app.get("/v1/orgs/chain/ledger/seals", &member).await;
    let first = &seals.body[0];
    assert_eq!(
        (first["seq"].as_i64(), first["entries"].as_i64()),
        (Some(1), Some(3))
    );
    assert_eq!(first["hash"].as_str().map(str::len), Some(64));
    assert_eq!(first["prev_hash"], "0".repeat(64));
    let verified = app.get("/v1/orgs/chain/ledger/seals/verify", &member).await;
    assert_eq!(verified.body["ok"], true, "{:?}", verified.body);
    assert_eq!(verified.body["sealed_entries"], 3);
}
