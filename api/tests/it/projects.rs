//! Projects raise money for shares; at the deadline they are funded or refund everyone.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Org, TestApp};

fn project(
    share_code: &str,
    goal: &str,
    rate: &str,
    cap: Option<&str>,
    deadline: Duration,
) -> Value {
    json!({"title": format!("Project {share_code}"), "description": "tools", "currency": "COIN", "goal": goal,
           "deadline": (chrono::Utc::now() + deadline).to_rfc3339(), "share_code": share_code, "rate": rate, "cap": cap})
}

async fn invest(
    app: &TestApp,
    org: &Org,
    token: &str,
    project: i64,
    amount: &str,
    key: &str,
) -> crate::helpers::Response {
    app.call(
        Method::POST,
        &format!("/v1/orgs/{}/projects/{project}/investments", org.slug),
        Some(token),
        Some(json!({"amount": amount})),
        Some(key),
    )
    .await
}

#[tokio::test]
async fn a_project_that_misses_its_goal_refunds_every_investor_exactly() {
    let app = TestApp::new().await;
    let org = app.org("missed").await;
    let mut investors = Vec::new();
    for (i, amount) in ["12.34", "0.02", "40"].iter().enumerate() {
        let (token, id) = app.member(&org, &format!("inv{i}")).await;
        app.issue(&org, id, "50").await;
        investors.push((token, id, *amount));
    }
    let created = app
        .post(
            "/v1/orgs/missed/projects",
            &org.owner_token,
            project("MISS", "100", "2.5", None, Duration::hours(1)),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        (
            created.body["rate"].as_str(),
            created.body["status"].as_str()
        ),
        (Some("2.5"), Some("open"))
    );
    let id = created.body["id"].as_i64().unwrap_or_default();
    let account = created.body["account_id"].as_i64().unwrap_or_default();
    for (n, (token, _, amount)) in investors.iter().enumerate() {
        let r = invest(&app, &org, token, id, amount, &format!("inv-{n}")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    // The first investor invests once more (12.34 + 2 = 14.34 in all).
    let more = invest(&app, &org, &investors[0].0, id, "2", "inv-more").await;
    assert_eq!(more.body["shares"], "5.00");
    assert_eq!(
        app.get("/v1/orgs/missed/projects", &investors[1].0)
            .await
            .body[0]["raised"],
        "54.36"
    );
    assert_eq!(app.account_balance(&org, account).await, "54.36");
    assert_eq!(
        app.member_balance(&org, investors[0].1, "MISS").await,
        "35.85",
        "14.34 at 2.5 shares per coin"
    );

    let summary = app.close_due_in("missed", Duration::hours(2)).await;
    assert_eq!(summary.projects_settled, 1);
    let settled = app
        .get(&format!("/v1/orgs/missed/projects/{id}"), &org.owner_token)
        .await
        .body;
    assert_eq!(settled["status"], "refunded", "{settled}");
    for (_, user, _) in &investors {
        assert_eq!(
            app.member_balance(&org, *user, "COIN").await,
            "50.00",
            "investor {user} got every cent back"
        );
        assert_eq!(
            app.member_balance(&org, *user, "MISS").await,
            "0.00",
            "their shares are cancelled"
        );
    }
    assert_eq!(app.account_balance(&org, account).await, "0.00");
    assert_eq!(
        app.count("missed", "transfers WHERE kind = 'refund'").await,
        3,
        "one refund per investor"
    );
    assert_eq!(
        app.count("missed", "outbox WHERE kind = 'project_refunded'")
            .await,
        1
    );
    let report = app.verify(&org).await;
    assert_eq!(report["ok"], json!(true), "{report}");
    // Settling again does nothing, and nobody can invest any more.
    assert_eq!(
        app.close_due_in("missed", Duration::hours(3))
            .await
            .projects_settled,
        0
    );
    let late = invest(&app, &org, &investors[2].0, id, "1", "late").await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::CONFLICT, "project_not_raising")
    );
    assert_eq!(
        app.count("missed", "transfers WHERE kind = 'refund'").await,
        3
    );
}

#[tokio::test]
async fn a_project_that_reaches_its_goal_is_funded_and_its_owner_spends() {
    let app = TestApp::new().await;
    let org = app.org("reached").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, ana_id, "100").await;
    app.issue(&org, bo_id, "100").await;
    let created = app
        .post(
            "/v1/orgs/reached/projects",
            &ana,
            project("TOOL", "60", "0.5", Some("40"), Duration::hours(1)),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_i64().unwrap_or_default();

    let first = invest(&app, &org, &bo, id, "30", "a").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(
        (first.body["amount"].as_str(), first.body["shares"].as_str()),
        (Some("30.00"), Some("15.00"))
    );
    let replay = invest(&app, &org, &bo, id, "30", "a").await;
    assert_eq!(
        replay.body, first.body,
        "a retry answers the first investment"
    );
    let over_cap = invest(&app, &org, &bo, id, "10.02", "b").await;
    assert_eq!(
        (over_cap.status, over_cap.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("amount")),
        "{:?}",
        over_cap.body
    );
    let fraction = invest(&app, &org, &bo, id, "0.01", "c").await;
    assert_eq!(
        fraction.body["field"], "amount",
        "0.01 at 0.5 is half a share unit: {:?}",
        fraction.body
    );
    let conflict = invest(&app, &org, &bo, id, "31", "a").await;
    assert_eq!(conflict.code(), "idempotency_conflict");
    assert_eq!(
        invest(&app, &org, &ana, id, "30", "d").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        invest(&app, &org, &bo, id, "10", "e").await.status,
        StatusCode::CREATED
    );

    // Shares cannot change hands while the project raises, nor be issued by hand.
    let transfer = app
        .call(
            Method::POST,
            "/v1/orgs/reached/transfers",
            Some(&bo),
            Some(json!({"currency": "TOOL", "to_member": ana_id, "amount": "1"})),
            Some("t1"),
        )
        .await;
    assert_eq!(
        (transfer.status, transfer.code()),
        (StatusCode::CONFLICT, "shares_locked_while_raising"),
        "{:?}",
        transfer.body
    );
    let mint = app
        .call(
            Method::POST,
            "/v1/orgs/reached/issuance",
            Some(&org.owner_token),
            Some(json!({"currency": "TOOL", "to_member": ana_id, "amount": "1"})),
            Some("m1"),
        )
        .await;
    assert_eq!(
        (mint.status, mint.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "shares_only_by_investing"),
        "{:?}",
        mint.body
    );
    // And the owner cannot spend before it is funded.
    let pay = async |amount: &str, key: &str| {
        app.call(
            Method::POST,
            &format!("/v1/orgs/reached/projects/{id}/payments"),
            Some(&ana),
            Some(json!({"to_member": bo_id, "amount": amount, "memo": "lumber"})),
            Some(key),
        )
        .await
    };
    assert_eq!(pay("25", "early").await.code(), "project_not_funded");

    assert_eq!(
        app.close_due_in("reached", Duration::hours(2))
            .await
            .projects_settled,
        1
    );
    let funded = app
        .get(&format!("/v1/orgs/reached/projects/{id}"), &bo)
        .await
        .body;
    assert_eq!(
        (
            funded["status"].as_str(),
            funded["raised"].as_str(),
            funded["investors"].as_i64()
        ),
        (Some("funded"), Some("70.00"), Some(2))
    );
    assert_eq!(
        app.member_balance(&org, bo_id, "TOOL").await,
        "20.00",
        "40 coins at 0.5"
    );
    assert_eq!(app.member_balance(&org, ana_id, "TOOL").await, "15.00");
    assert_eq!(app.member_balance(&org, bo_id, "COIN").await, "60.00");

    let spent = pay("25", "spend").await;
    assert_eq!(spent.status, StatusCode::CREATED, "{:?}", spent.body);
    assert_eq!(
        pay("25", "spend").await.body,
        spent.body,
        "a retry pays once"
    );
    let not_owner = app
        .call(
            Method::POST,
            &format!("/v1/orgs/reached/projects/{id}/payments"),
            Some(&bo),
            Some(json!({"to_member": bo_id, "amount": "1"})),
            Some("x"),
        )
        .await;
    assert_eq!(not_owner.status, StatusCode::FORBIDDEN);
    let too_much = pay("45.01", "too-much").await;
    assert_eq!(
        too_much.code(),
        "insufficient_funds",
        "only 45 left: {:?}",
        too_much.body
    );
    assert_eq!(
        app.account_balance(&org, funded["account_id"].as_i64().unwrap_or_default())
            .await,
        "45.00"
    );
    // Funded shares move freely.
    let transfer = app
        .call(
            Method::POST,
            "/v1/orgs/reached/transfers",
            Some(&bo),
            Some(json!({"currency": "TOOL", "to_member": ana_id, "amount": "1"})),
            Some("t2"),
        )
        .await;
    assert_eq!(transfer.status, StatusCode::CREATED, "{:?}", transfer.body);
    assert_eq!(
        app.count("reached", "outbox WHERE kind = 'project_funded'")
            .await,
        1
    );
    let report = app.verify(&org).await;
    assert_eq!(report["ok"], json!(true), "{report}");
}

#[tokio::test]
async fn bad_projects_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let org = app.org("sloppy").await;
    let t = &org.owner_token;
    let cases: Vec<(Value, StatusCode, Option<&str>)> = vec![
        (
            project("PAST", "10", "1", None, Duration::hours(-1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("deadline"),
        ),
        (
            project("NEG", "-10", "1", None, Duration::hours(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("goal"),
        ),
        (
            project("ZERO", "10", "0", None, Duration::hours(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("rate"),
        ),
        (
            project("FINE", "10", "0.0000001", None, Duration::hours(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("rate"),
        ),
        (
            project("CAP", "10", "1", Some("-1"), Duration::hours(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("cap"),
        ),
        (
            project("bad", "10", "1", None, Duration::hours(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("share_code"),
        ),
        (
            project("COIN", "10", "1", None, Duration::hours(1)),
            StatusCode::CONFLICT,
            None,
        ),
        (
            json!({"title": "x", "currency": "COIN", "goal": "1", "deadline": "soon", "share_code": "X", "rate": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
    ];
    for (body, status, field) in cases {
        let r = app.post("/v1/orgs/sloppy/projects", t, body.clone()).await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (status, field),
            "{body}: {:?}",
            r.body
        );
    }
    assert_eq!(app.count("sloppy", "projects").await, 0);
    assert_eq!(
        app.count("sloppy", "currencies").await,
        1,
        "no share currency was left behind"
    );
    let ok = app
        .post(
            "/v1/orgs/sloppy/projects",
            t,
            project("SHARE", "10", "1", None, Duration::hours(1)),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    // A share currency cannot back another project.
    let mut on_shares = project("META", "10", "1", None, Duration::hours(1));
    on_shares["currency"] = json!("SHARE");
    let r = app.post("/v1/orgs/sloppy/projects", t, on_shares).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("currency"))
    );
    let id = ok.body["id"].as_i64().unwrap_or_default();
    for (amount, status) in [
        ("-5", StatusCode::UNPROCESSABLE_ENTITY),
        ("abc", StatusCode::UNPROCESSABLE_ENTITY),
        ("5", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let r = invest(&app, &org, t, id, amount, &format!("k{amount}")).await;
        assert_eq!(r.status, status, "{amount}: {:?}", r.body);
    }
    assert_eq!(
        invest(&app, &org, t, 999, "1", "k").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("sloppy", "investments").await, 0);
    assert_eq!(app.journal_rows("sloppy").await, 0);
}
