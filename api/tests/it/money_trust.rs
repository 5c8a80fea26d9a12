//! The money paths a community must be able to trust: a retry always gets the first answer,
//! create-once requests race safely on one key, money reaches only current members and never
//! gets stuck or destroyed by accident, and extreme input is refused instead of failing later.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Org, Response, TestApp};

/// Runs one statement inside an org's schema, bypassing the API (to build a state the API
/// refuses to build today, as older data may hold it).
async fn exec_in(app: &TestApp, slug: &str, sql: &str) {
    let mut tx = app.org_tx(slug).await;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.unwrap();
}

async fn issue_with_key(
    app: &TestApp,
    org: &Org,
    to_member: i64,
    amount: &str,
    key: &str,
) -> Response {
    app.call(
        Method::POST,
        &format!("/v1/orgs/{}/issuance", org.slug),
        Some(&org.owner_token),
        Some(json!({"currency": "COIN", "to_member": to_member, "amount": amount})),
        Some(key),
    )
    .await
}

async fn pay_to(app: &TestApp, org: &Org, token: &str, to: Value, key: &str) -> Response {
    let mut body = json!({"currency": "COIN", "amount": "1"});
    if let (Some(body), Some(to)) = (body.as_object_mut(), to.as_object()) {
        body.extend(to.clone());
    }
    app.call(
        Method::POST,
        &format!("/v1/orgs/{}/transfers", org.slug),
        Some(token),
        Some(body),
        Some(key),
    )
    .await
}

/// The id of a member's COIN account, as the owner reads it.
async fn account_of(app: &TestApp, org: &Org, user: i64) -> i64 {
    let r = app
        .get(&format!("/v1/orgs/{}/accounts", org.slug), &org.owner_token)
        .await;
    r.body
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|x| x["owner_user_id"] == json!(user) && x["currency"] == "COIN")
        })
        .and_then(|x| x["id"].as_i64())
        .unwrap_or_else(|| panic!("no account of {user}: {}", r.body))
}

#[tokio::test]
async fn a_retried_payment_that_emptied_the_account_gets_the_first_answer() {
    let app = TestApp::new().await;
    let org = app.org("retried").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, ana_id, "10").await;

    let first = app.pay(&org, &ana, bo_id, "10", "all-of-it").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = app.pay(&org, &ana, bo_id, "10", "all-of-it").await;
    assert_eq!(
        (again.status, &again.body),
        (StatusCode::CREATED, &first.body),
        "the retry of an applied payment answers what the first attempt answered"
    );
    // Whatever the balance is now.
    app.issue(&org, ana_id, "3").await;
    let later = app.pay(&org, &ana, bo_id, "10", "all-of-it").await;
    assert_eq!(
        (later.status, &later.body),
        (StatusCode::CREATED, &first.body)
    );
    assert_eq!(app.balance(&org, &ana, ana_id).await, "3.00");
    assert_eq!(app.journal_rows("retried").await, 3);
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}

#[tokio::test]
async fn a_retried_issuance_that_filled_the_account_to_its_ceiling_gets_the_first_answer() {
    let app = TestApp::new().await;
    let org = app.org("ceiled").await;
    let (_ana, ana_id) = app.member(&org, "ana").await;
    exec_in(
        &app,
        "ceiled",
        &format!("UPDATE accounts SET ceiling = 1000 WHERE owner_user_id = {ana_id}"),
    )
    .await;
    let first = issue_with_key(&app, &org, ana_id, "10", "fill-up").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = issue_with_key(&app, &org, ana_id, "10", "fill-up").await;
    assert_eq!(
        (again.status, &again.body),
        (StatusCode::CREATED, &first.body)
    );
    let other = issue_with_key(&app, &org, ana_id, "10", "more").await;
    assert_eq!(
        other.code(),
        "ceiling_exceeded",
        "a new issuance is refused"
    );
    assert_eq!(app.journal_rows("ceiled").await, 1);
}

/// The same request 50 times at once, then 50 times again after the balance changed: one
/// journal entry, and every answer is the first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_one_payment_lands_once_and_answers_alike() {
    let app = Arc::new(TestApp::new().await);
    let org = Arc::new(app.org("storm").await);
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, ana_id, "10").await;
    let ana = Arc::new(ana);
    let storm = || {
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (app, org, ana) = (app.clone(), org.clone(), ana.clone());
                tokio::spawn(async move { app.pay(&org, &ana, bo_id, "10", "storm-key").await })
            })
            .collect();
        async move {
            let mut answers = Vec::new();
            for t in tasks {
                let r = t.await.unwrap();
                answers.push((r.status, r.body));
            }
            answers
        }
    };
    let first = storm().await;
    let (status, body) = first[0].clone();
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    assert!(
        first.iter().all(|a| *a == (status, body.clone())),
        "{first:?}"
    );
    app.issue(&org, ana_id, "4").await;
    let second = storm().await;
    assert!(
        second.iter().all(|a| *a == (status, body.clone())),
        "{second:?}"
    );
    assert_eq!(
        app.journal_rows("storm").await,
        3,
        "two issuances, one payment"
    );
    assert_eq!(app.balance(&org, &ana, ana_id).await, "4.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_project_creation_answer_the_one_project() {
    let app = Arc::new(TestApp::new().await);
    let org = Arc::new(app.org("oneproj").await);
    // Open the pool's connections first, as a running server has them: otherwise opening them
    // spaces the requests out and they never meet.
    let warm: Vec<_> = (0..20)
        .map(|_| {
            let (app, org) = (app.clone(), org.clone());
            tokio::spawn(
                async move { app.get("/v1/orgs/oneproj/projects", &org.owner_token).await },
            )
        })
        .collect();
    for t in warm {
        t.await.unwrap();
    }
    for (round, code) in ["BIKE", "CART", "DOCK"].into_iter().enumerate() {
        let body = json!({"title": code, "currency": "COIN", "goal": "100",
            "deadline": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
            "share_code": code, "rate": "1"});
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (app, org, body) = (app.clone(), org.clone(), body.clone());
                tokio::spawn(async move {
                    app.call(
                        Method::POST,
                        "/v1/orgs/oneproj/projects",
                        Some(&org.owner_token),
                        Some(body),
                        Some(&format!("one-project-{round}")),
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
        assert_eq!(ids.len(), 1, "every retry answers the one project: {ids:?}");
    }
    assert_eq!(app.count("oneproj", "projects").await, 3);
    assert_eq!(
        app.count("oneproj", "currencies").await,
        4,
        "COIN and three shares"
    );
}

/// Majority without quorum, one hour to vote (set while the org is young).
async fn quick_rules(app: &TestApp, org: &Org) {
    let rules = json!({"method": "majority", "quorum_bp": 0, "voting_period_secs": 3600, "proposers": "members"});
    let set = app
        .put(
            &format!("/v1/orgs/{}/rules", org.slug),
            &org.owner_token,
            rules,
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
}

/// Removes a member by a proposal the owner and `voter` pass (see [`quick_rules`]).
async fn remove(app: &TestApp, org: &Org, voter: &str, user: i64) {
    let p = app
        .propose(
            &org.slug,
            &org.owner_token,
            "bye",
            json!({"kind": "remove_member", "user_id": user}),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    let id = p.body["id"].as_i64().unwrap_or_default();
    app.vote(&org.slug, &org.owner_token, id, "yes").await;
    app.vote(&org.slug, voter, id, "yes").await;
    app.close_due_in(&org.slug, chrono::Duration::hours(2))
        .await;
    assert_eq!(app.proposal(&org.slug, voter, id).await["status"], "passed");
}

#[tokio::test]
async fn money_never_reaches_a_removed_member() {
    let app = TestApp::new().await;
    let org = app.org("gone").await;
    quick_rules(&app, &org).await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    let (_cy, cy_id) = app.member(&org, "cy").await;
    app.issue(&org, ana_id, "20").await;
    let bo_account = account_of(&app, &org, bo_id).await;
    let before = app.pay(&org, &ana, bo_id, "2", "before-removal").await;
    assert_eq!(before.status, StatusCode::CREATED, "{:?}", before.body);

    remove(&app, &org, &ana, bo_id).await;
    let rows = app.journal_rows("gone").await;

    let by_member = pay_to(&app, &org, &ana, json!({"to_member": bo_id}), "k1").await;
    let by_account = pay_to(&app, &org, &ana, json!({"to_account": bo_account}), "k2").await;
    let issued = app.issue(&org, bo_id, "5").await;
    for r in [&by_member, &by_account, &issued] {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "receiving_account_closed"),
            "{:?}",
            r.body
        );
        assert!(
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("no longer a member")),
            "{:?}",
            r.body
        );
    }
    assert_eq!(app.journal_rows("gone").await, rows, "nothing was written");
    assert_eq!(app.member_balance(&org, bo_id, "COIN").await, "2.00");
    // A payment that reached them before they left still answers the same on a retry.
    let retry = app.pay(&org, &ana, bo_id, "2", "before-removal").await;
    assert_eq!(
        (retry.status, &retry.body),
        (StatusCode::CREATED, &before.body)
    );
    // Others are paid as before.
    let to_cy = app.pay(&org, &ana, cy_id, "1", "k3").await;
    assert_eq!(to_cy.status, StatusCode::CREATED, "{:?}", to_cy.body);

    // A currency created after they left opens their account in it closed too.
    let c = app
        .post(
            "/v1/orgs/gone/currencies",
            &org.owner_token,
            json!({"code": "LATE", "name": "Late", "scale": 0}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let late = app
        .call(
            Method::POST,
            "/v1/orgs/gone/issuance",
            Some(&org.owner_token),
            Some(json!({"currency": "LATE", "to_member": bo_id, "amount": "1"})),
            Some("late-1"),
        )
        .await;
    assert_eq!(late.status, StatusCode::FORBIDDEN, "{:?}", late.body);

    // Admitted again, they find their account open with what was in it.
    let p = app
        .propose(
            "gone",
            &org.owner_token,
            "welcome back",
            json!({"kind": "admit_member", "email": "bo.gone@example.org"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    let id = p.body["id"].as_i64().unwrap_or_default();
    app.vote("gone", &org.owner_token, id, "yes").await;
    app.vote("gone", &ana, id, "yes").await;
    app.close_due_in("gone", chrono::Duration::hours(2)).await;
    assert_eq!(app.proposal("gone", &ana, id).await["status"], "passed");
    let again = app.pay(&org, &ana, bo_id, "1", "k4").await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(app.member_balance(&org, bo_id, "COIN").await, "3.00");
    let late = app
        .call(
            Method::POST,
            "/v1/orgs/gone/issuance",
            Some(&org.owner_token),
            Some(json!({"currency": "LATE", "to_member": bo_id, "amount": "1"})),
            Some("late-2"),
        )
        .await;
    assert_eq!(late.status, StatusCode::CREATED, "{:?}", late.body);
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}

#[tokio::test]
async fn a_plain_payment_into_a_project_or_the_issuance_account_is_refused() {
    let app = TestApp::new().await;
    let org = app.org("stuck").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    app.issue(&org, ana_id, "20").await;
    let project = app
        .post(
            "/v1/orgs/stuck/projects",
            &org.owner_token,
            json!({"title": "Bikes", "currency": "COIN", "goal": "100",
                "deadline": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
                "share_code": "BIKE", "rate": "1"}),
        )
        .await;
    assert_eq!(project.status, StatusCode::CREATED, "{:?}", project.body);
    let project_account = project.body["account_id"].as_i64().unwrap_or_default();
    let issuance = app.system_account(&org, "issuance", "COIN").await;
    let fund = app.system_account(&org, "fund", "COIN").await;
    let rows = app.journal_rows("stuck").await;

    let into_project = pay_to(
        &app,
        &org,
        &ana,
        json!({"to_account": project_account}),
        "p1",
    )
    .await;
    assert_eq!(
        (into_project.status, into_project.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "project_account_not_payable"
        ),
        "{:?}",
        into_project.body
    );
    assert!(
        into_project.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("only by investing")),
        "{:?}",
        into_project.body
    );
    let into_issuance = pay_to(&app, &org, &ana, json!({"to_account": issuance}), "p2").await;
    assert_eq!(
        (into_issuance.status, into_issuance.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "issuance_account_not_payable"
        ),
        "{:?}",
        into_issuance.body
    );
    assert!(
        into_issuance.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("destroy")),
        "{:?}",
        into_issuance.body
    );
    assert_eq!(app.journal_rows("stuck").await, rows, "nothing was written");
    assert_eq!(app.balance(&org, &ana, ana_id).await, "20.00");

    // A donation to the community fund is still welcome.
    let donation = pay_to(&app, &org, &ana, json!({"to_account": fund}), "p3").await;
    assert_eq!(donation.status, StatusCode::CREATED, "{:?}", donation.body);
    assert_eq!(app.account_balance(&org, fund).await, "1.00");
}

#[tokio::test]
async fn limits_and_dates_that_would_overflow_are_refused_at_input() {
    let app = TestApp::new().await;
    let org = app.org("bounds").await;
    let currencies = "/v1/orgs/bounds/currencies";
    let r = app
        .post(
            currencies,
            &org.owner_token,
            json!({"code": "HUGE", "name": "Huge", "scale": 2, "credit_limit": "92233720368547758.07"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("credit_limit")),
        "{:?}",
        r.body
    );
    let r = app
        .post(
            currencies,
            &org.owner_token,
            json!({"code": "BIG", "name": "Big", "scale": 2, "credit_limit": "10000000000000"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the bound itself is allowed: {:?}",
        r.body
    );

    let policies = "/v1/orgs/bounds/issuance-policies";
    for (body, field) in [
        (
            json!({"currency": "COIN", "period": "weekly", "time_zone": "Pacific/Kiritimati",
                   "fixed_amount": "1", "starts_at": "9999-12-31T23:00:00Z"}),
            "starts_at",
        ),
        (
            json!({"currency": "COIN", "period": "weekly", "fixed_amount": "92233720368547758.07"}),
            "fixed_amount",
        ),
        (
            json!({"currency": "COIN", "period": "weekly", "top_up_to": "10000000000000.01"}),
            "top_up_to",
        ),
    ] {
        let r = app.post(policies, &org.owner_token, body).await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{:?}",
            r.body
        );
    }
    assert_eq!(app.count("bounds", "issuance_policies").await, 0);
}

#[tokio::test]
async fn one_account_that_would_overflow_does_not_stop_the_others_top_up() {
    let app = TestApp::new().await;
    let org = app.org("topped").await;
    let (_ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    // A credit limit from before limits were capped, nearly used up.
    exec_in(
        &app,
        "topped",
        &format!(
            "UPDATE accounts SET floor = -9223372036854775807, balance = -9223372036854775000
             WHERE owner_user_id = {ana_id}"
        ),
    )
    .await;
    let r = app
        .post(
            "/v1/orgs/topped/issuance-policies",
            &org.owner_token,
            json!({"currency": "COIN", "period": "weekly", "top_up_to": "100"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let tenant = app.tenant("topped").await;
    let done = app
        .core
        .run_scheduled_issuance(&tenant, chrono::Utc::now())
        .await
        .expect("the period failed for everyone");
    assert_eq!(done.periods, 1);
    assert_eq!(app.member_balance(&org, bo_id, "COIN").await, "100.00");
    assert_eq!(
        app.member_balance(&org, ana_id, "COIN").await,
        "-92233720368547750.00"
    );
    assert_eq!(app.count("topped", "issuance_runs").await, 1);
}

#[tokio::test]
async fn an_investment_that_would_overflow_what_a_project_raised_is_refused() {
    let app = TestApp::new().await;
    let org = app.org("raised").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let project = app
        .post(
            "/v1/orgs/raised/projects",
            &org.owner_token,
            json!({"title": "Moon", "currency": "COIN", "goal": "100",
                "deadline": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
                "share_code": "MOON", "rate": "1"}),
        )
        .await;
    assert_eq!(project.status, StatusCode::CREATED, "{:?}", project.body);
    let id = project.body["id"].as_i64().unwrap_or_default();
    // What it raised so far, as older data may hold it: at the top of the range.
    exec_in(
        &app,
        "raised",
        &format!("UPDATE projects SET raised = 9223372036854775000 WHERE id = {id}"),
    )
    .await;
    app.issue(&org, ana_id, "100").await;
    let rows = app.journal_rows("raised").await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/orgs/raised/projects/{id}/investments"),
            Some(&ana),
            Some(json!({"amount": "10"})),
            Some("too-much"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(
        app.journal_rows("raised").await,
        rows,
        "nothing was written"
    );
    assert_eq!(app.balance(&org, &ana, ana_id).await, "100.00");
}

/// Walks a list by its cursor (`before` = the last id of the previous page), `limit` at a time.
async fn walk(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<i64> {
    let mut all = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match before {
            Some(b) => format!("{path}{sep}limit={limit}&before={b}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = app.get(&url, token).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {:?}", r.body);
        let ids: Vec<i64> = r
            .body
            .as_array()
            .unwrap_or_else(|| panic!("{url}: {:?}", r.body))
            .iter()
            .filter_map(|x| x["id"].as_i64())
            .collect();
        assert!(ids.len() <= limit, "{url} gave {} rows", ids.len());
        all.extend(&ids);
        match ids.last() {
            Some(last) if ids.len() == limit => before = Some(*last),
            _ => return all,
        }
    }
}

#[tokio::test]
async fn projects_listings_and_pledges_are_paged_by_cursor() {
    let app = TestApp::new().await;
    let org = app.org("paged").await;
    let t = &org.owner_token;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    for code in ["PA", "PB", "PC", "PD", "PE"] {
        let r = app
            .post(
                "/v1/orgs/paged/projects",
                t,
                json!({"title": code, "currency": "COIN", "goal": "1", "deadline": deadline,
                       "share_code": code, "rate": "1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = app
            .post(
                "/v1/orgs/paged/listings",
                t,
                json!({"kind": "offer", "title": code, "price": "1", "currency": "COIN"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = app
            .post(
                "/v1/orgs/paged/pledges",
                t,
                json!({"currency": "COIN", "amount": "1", "description": code}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    for path in [
        "/v1/orgs/paged/projects",
        "/v1/orgs/paged/listings",
        "/v1/orgs/paged/listings?status=open",
        "/v1/orgs/paged/pledges",
    ] {
        let ids = walk(&app, t, path, 2).await;
        let mut expected = ids.clone();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        expected.dedup();
        assert_eq!(ids.len(), 5, "{path}: every row once: {ids:?}");
        assert_eq!(ids, expected, "{path}: newest first, none twice");
        let bad = app
            .get(
                &format!(
                    "{path}{}limit=0",
                    if path.contains('?') { '&' } else { '?' }
                ),
                t,
            )
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {:?}",
            bad.body
        );
    }
}

#[tokio::test]
async fn comments_are_paged_by_cursor() {
    let app = TestApp::new().await;
    let org = app.org("talky").await;
    let t = &org.owner_token;
    let post = app
        .post("/v1/orgs/talky/posts", t, json!({"body": "hello"}))
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{:?}", post.body);
    let id = post.body["id"].as_i64().unwrap_or_default();
    for n in 0..5 {
        let r = app
            .post(
                &format!("/v1/orgs/talky/posts/{id}/comments"),
                t,
                json!({"body": format!("comment {n}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let thread = app.get(&format!("/v1/orgs/talky/posts/{id}"), t).await;
    assert_eq!(thread.body["comments"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        thread.body["next_after"],
        Value::Null,
        "one page holds them all"
    );

    let mut seen: Vec<i64> = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let url = match after {
            Some(a) => format!("/v1/orgs/talky/posts/{id}/comments?limit=2&after={a}"),
            None => format!("/v1/orgs/talky/posts/{id}/comments?limit=2"),
        };
        let r = app.get(&url, t).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {:?}", r.body);
        let ids: Vec<i64> = r
            .body
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["id"].as_i64()).collect())
            .unwrap_or_default();
        seen.extend(&ids);
        match ids.last() {
            Some(last) if ids.len() == 2 => after = Some(*last),
            _ => break,
        }
    }
    let mut expected = seen.clone();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(
        (seen.len(), &seen),
        (5, &expected),
        "oldest first, each once"
    );
    let missing = app.get("/v1/orgs/talky/posts/999999/comments", t).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
