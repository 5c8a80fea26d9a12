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
        (StatusCode::CONFLICT, "active_policy_exists")
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
        .unwrap();
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

#[tokio::test]
async fn a_community_changes_and_ends_its_issuance_by_vote_without_paying_a_period_twice() {
    let app = TestApp::new().await;
    let org = app.org("voted-income").await;
    let rules = json!({"method": "majority", "quorum_bp": 5000, "voting_period_secs": 3600, "proposers": "members"});
    let set = app
        .put("/v1/orgs/voted-income/rules", &org.owner_token, rules)
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (bo, _) = app.member(&org, "bo").await;
    let policies = "/v1/orgs/voted-income/issuance-policies";
    let first = app
        .post(
            policies,
            &org.owner_token,
            json!({"currency": "COIN", "period": "weekly", "fixed_amount": "10.00"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let tenant = app.tenant("voted-income").await;
    let run = |at: chrono::DateTime<chrono::Utc>| {
        let (core, tenant) = (app.core.clone(), tenant.clone());
        async move {
            core.run_scheduled_issuance(&tenant, at)
                .await
                .expect("issuance")
        }
    };
    let now = chrono::Utc::now();
    assert_eq!(run(now).await.issued_count, 3, "the week under way is paid");

    // The members vote a higher income.
    let raise = app
        .propose(
            "voted-income",
            &ana,
            "raise the basic income",
            json!({"kind": "set_issuance_policy",
            "policy": {"currency": "COIN", "period": "weekly", "fixed_amount": "25.00"}}),
        )
        .await;
    assert_eq!(raise.status, StatusCode::CREATED, "{:?}", raise.body);
    assert_eq!(raise.body["kind"], "change_issuance");
    assert_eq!(raise.body["action"]["policy"]["amount"], "25.00");
    let id = raise.body["id"].as_i64().unwrap_or_default();
    app.vote("voted-income", &ana, id, "yes").await;
    let passed = app.vote("voted-income", &bo, id, "yes").await;
    assert_eq!(passed.body["status"], "passed", "{:?}", passed.body);

    let listed = app.get(policies, &ana).await.body;
    let active: Vec<&serde_json::Value> = listed
        .as_array()
        .map(|a| a.iter().filter(|p| p["active"] == true).collect())
        .unwrap_or_default();
    assert_eq!(active.len(), 1, "{listed}");
    assert_eq!(active[0]["amount"], "25.00");
    // The week under way was the old policy's: the new one starts next Monday.
    let starts: chrono::DateTime<chrono::Utc> = active[0]["starts_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("starts_at in {listed}"));
    assert!(starts > now && starts <= now + chrono::Duration::days(7));
    assert_eq!(
        run(chrono::Utc::now()).await.issued_count,
        0,
        "nobody is paid twice this week"
    );
    assert_eq!(app.member_balance(&org, ana_id, "COIN").await, "10.00");
    let next_week = run(now + chrono::Duration::days(7)).await;
    assert_eq!((next_week.periods, next_week.issued_count), (1, 3));
    assert_eq!(app.member_balance(&org, ana_id, "COIN").await, "35.00");

    // And then they end it.
    let end = json!({"kind": "end_issuance_policy", "currency": "COIN"});
    let stop = app
        .propose("voted-income", &bo, "end the basic income", end.clone())
        .await;
    assert_eq!(stop.status, StatusCode::CREATED, "{:?}", stop.body);
    let id = stop.body["id"].as_i64().unwrap_or_default();
    app.vote("voted-income", &ana, id, "yes").await;
    let passed = app.vote("voted-income", &bo, id, "yes").await;
    assert_eq!(passed.body["status"], "passed", "{:?}", passed.body);
    let later = run(now + chrono::Duration::days(21)).await;
    assert_eq!(later.issued_count, 0, "{later:?}");
    assert_eq!(app.member_balance(&org, ana_id, "COIN").await, "35.00");
    // Nothing is left to end: such a proposal is refused when it opens.
    let again = app.propose("voted-income", &bo, "end it again", end).await;
    assert_eq!(
        (again.status, again.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("currency")),
        "{:?}",
        again.body
    );
    assert_eq!(app.verify(&org).await["ok"], true);
}
