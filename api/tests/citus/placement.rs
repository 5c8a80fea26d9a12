//! The must-hold flows with orgs on both workers: signup, concurrent payments, a passed
//! proposal, scheduled issuance, `ledger/verify`, `migrate` over every org.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::StatusCode;
use coinsence_api::domain::spare_schemas;
use serde_json::json;

use crate::helpers::Org;
use crate::{citus_app, placement_of};

/// Members per org, and payments each member makes (all at once, across both orgs).
const MEMBERS: usize = 6;
const PAYMENTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orgs_on_both_workers_sign_up_pay_vote_issue_and_verify() {
    let Some(app) = citus_app().await else { return };
    let app = Arc::new(app);

    // New orgs until both workers hold one (Citus places each new schema on the emptier
    // worker, so two orgs are usually enough).
    let mut orgs: Vec<(Org, String)> = Vec::new();
    for i in 0..6 {
        let slug = format!("citus-org-{i}");
        let org = app.org(&slug).await;
        let at = placement_of(&app, &slug).await;
        orgs.push((org, at));
        let workers: BTreeSet<&String> = orgs.iter().map(|(_, at)| at).collect();
        if workers.len() == 2 {
            break;
        }
    }
    let workers: BTreeSet<&String> = orgs.iter().map(|(_, at)| at).collect();
    assert_eq!(
        workers.len(),
        2,
        "orgs never reached both workers: {workers:?}"
    );
    let (first, second) = (&orgs[0].0, &orgs[orgs.len() - 1].0);

    for org in [first, second] {
        // Majority rules (they change without a vote only while the org is small).
        let rules = json!({"method": "majority", "quorum_bp": 5000, "voting_period_secs": 3600, "proposers": "members"});
        let set = app
            .put(
                &format!("/v1/orgs/{}/rules", org.slug),
                &org.owner_token,
                rules,
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);

        // Members join, are paid 100 each, and all pay each other at once.
        let mut members = Vec::new();
        for i in 0..MEMBERS {
            let (token, id) = app.member(org, &format!("m{i}")).await;
            let r = app.issue(org, id, "100.00").await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            members.push((token, id));
        }
        let members = Arc::new(members);
        let org = Arc::new(Org {
            slug: org.slug.clone(),
            owner_token: org.owner_token.clone(),
            owner_id: org.owner_id,
        });
        let mut tasks = Vec::new();
        for payer in 0..MEMBERS {
            let (app, org, members) = (app.clone(), org.clone(), members.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..PAYMENTS {
                    let payee = members[(payer + 1 + n % (MEMBERS - 1)) % MEMBERS].1;
                    let key = format!("p{payer}-{n}");
                    let r = app.pay(&org, &members[payer].0, payee, "1.25", &key).await;
                    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
                }
            }));
        }
        for t in tasks {
            t.await.expect("payer");
        }
        // Everyone paid 8 x 1.25 and was paid as much: balances are back where they were.
        for (token, id) in members.iter() {
            assert_eq!(app.balance(&org, token, *id).await, "100.00");
        }
        let paid = app
            .count(
                &org.slug,
                "transfers WHERE idempotency_key LIKE 'http:%:p%'",
            )
            .await;
        assert_eq!(paid, (MEMBERS * PAYMENTS) as i64);

        // A proposal passes and its issuance runs once.
        let fund = app.system_account(&org, "fund", "COIN").await;
        let p = app
            .propose(&org.slug, &members[0].0, "seed the fund",
                json!({"kind": "issue_to_account", "currency": "COIN", "to_account": fund, "amount": "50"}))
            .await;
        assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
        let id = p.body["id"].as_i64().unwrap_or_default();
        for (token, _) in members.iter().take(MEMBERS / 2 + 1) {
            app.vote(&org.slug, token, id, "yes").await;
        }
        let shown = app.proposal(&org.slug, &members[0].0, id).await;
        assert_eq!(shown["status"], "passed", "{shown}");
        assert_eq!(app.account_balance(&org, fund).await, "50.00");

        // Scheduled issuance pays every member once for the week, and not twice.
        let policy = app
            .post(
                &format!("/v1/orgs/{}/issuance-policies", org.slug),
                &org.owner_token,
                json!({"currency": "COIN", "period": "weekly", "fixed_amount": "10.00"}),
            )
            .await;
        assert_eq!(policy.status, StatusCode::CREATED, "{:?}", policy.body);
        let tenant = app.tenant(&org.slug).await;
        let now = chrono::Utc::now();
        let run = app
            .core
            .run_scheduled_issuance(&tenant, now)
            .await
            .expect("issuance");
        assert_eq!(run.issued_count, MEMBERS as i64 + 1, "{run:?}");
        let again = app
            .core
            .run_scheduled_issuance(&tenant, now)
            .await
            .expect("issuance");
        assert_eq!(again.issued_count, 0, "{again:?}");
        assert_eq!(
            app.balance(&org, &members[0].0, members[0].1).await,
            "110.00"
        );

        let verified = app.verify(&org).await;
        assert_eq!(verified["ok"], true, "{verified}");
    }

    // Placement is Citus's: each org's schema is a distributed schema of its own.
    let (distributed,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_dist_schema WHERE schemaid::regnamespace::text LIKE 'org\\_%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(distributed, orgs.len() as i64);

    // `migrate` over every org (and the spares) finds them up to date, and fails none.
    let summary = coinsence_api::migrate::migrate_all(&app.pool, |_, _| {})
        .await
        .expect("migrate");
    assert_eq!(
        (summary.orgs, summary.up_to_date, summary.failed),
        (orgs.len(), orgs.len(), 0)
    );
}

#[tokio::test]
async fn a_spare_schema_becomes_a_distributed_org() {
    let Some(mut app) = citus_app().await else {
        return;
    };
    app.core.spares = spare_schemas::Spares::new(0);
    let prepared = spare_schemas::top_up(&app.pool, 1).await.expect("spares");
    assert_eq!(prepared, 1);
    let (spare,): (String,) = sqlx::query_as("SELECT name FROM control.spare_schemas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (is_distributed,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_dist_schema WHERE schemaid = $1::regnamespace)",
    )
    .bind(&spare)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        is_distributed,
        "{spare} is prepared as a distributed schema"
    );

    let org = app.org("from-a-spare").await;
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM control.spare_schemas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the org took the spare");
    placement_of(&app, "from-a-spare").await;
    let (_, id) = app.member(&org, "ana").await;
    let r = app.issue(&org, id, "5.00").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.verify(&org).await["ok"], true);
}
