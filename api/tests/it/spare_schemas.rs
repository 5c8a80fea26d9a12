//! New orgs start on schemas prepared ahead (`spare_<n>`), renamed to `org_<id>` in the org's
//! creating transaction. Such an org must be exactly like one whose schema was created there.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use coinsence_api::Core;
use coinsence_api::domain::orgs::NewOrg;
use coinsence_api::domain::spare_schemas;
use coinsence_api::domain::tenancy::OrgSlug;
use coinsence_api::migrate;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{Org, TestApp};

async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

async fn spares(pool: &PgPool) -> (i64, i64) {
    (
        scalar(pool, "SELECT count(*) FROM control.spare_schemas").await,
        scalar(
            pool,
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'spare\\_%'",
        )
        .await,
    )
}

/// Signs up `slug`'s owner with the (open) org, on a core that prepares no spares by itself.
async fn sign_up(core: &Core, slug: &str) -> Org {
    let up = core
        .signup(
            &format!("owner@{slug}.example.org"),
            "correct horse".to_owned(),
            "Owner",
            Some(NewOrg {
                slug: OrgSlug::parse(slug).unwrap(),
                name: slug.to_owned(),
                open: true,
                language: Default::default(),
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("{slug}: {e}"));
    Org {
        slug: slug.to_owned(),
        owner_token: up.token.expose().to_owned(),
        owner_id: up.user.id.0,
    }
}

#[tokio::test]
async fn a_new_org_takes_a_prepared_schema_and_works_like_any_other() {
    let app = TestApp::new().await;
    let core = Core::new(app.pool.clone()).with_spare_orgs(0);
    assert_eq!(spare_schemas::top_up(&app.pool, 1).await.ok(), Some(1));
    assert_eq!(
        spare_schemas::top_up(&app.pool, 1).await.ok(),
        Some(0),
        "one is enough"
    );
    let (spare,): (String,) = sqlx::query_as("SELECT name FROM control.spare_schemas")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let org = sign_up(&core, "from-a-spare").await;
    assert_eq!(
        spares(&app.pool).await,
        (0, 0),
        "{spare} was taken and renamed"
    );
    let schema = app.tenant("from-a-spare").await.schema();
    let sql = format!("SELECT count(*) FROM {schema}.schema_migrations");
    let (versions,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(versions, migrate::TENANT.iter().count() as i64);
    // Nothing in the org still names the spare (a function pinned to its search_path would).
    let (pinned,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_proc
         WHERE pronamespace = $1::regnamespace AND array_to_string(proconfig, ',') LIKE '%spare%'",
    )
    .bind(schema.as_str())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(pinned, 0);

    // And it works: a currency, a member, issuance, a payment, a ledger that verifies.
    let c = app
        .post(
            "/v1/orgs/from-a-spare/currencies",
            &org.owner_token,
            json!({"code": "COIN", "name": "Coin", "scale": 2}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let (ana, ana_id) = app.member(&org, "ana").await;
    assert_eq!(
        app.issue(&org, ana_id, "10.00").await.status,
        StatusCode::CREATED
    );
    let r = app.pay(&org, &ana, org.owner_id, "2.50", "first").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.member_balance(&org, ana_id, "COIN").await, "7.50");
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_new_orgs_each_take_their_own_spare_or_none() {
    let app = TestApp::new().await;
    let core = Core::new(app.pool.clone()).with_spare_orgs(0);
    assert_eq!(spare_schemas::top_up(&app.pool, 2).await.ok(), Some(2));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let core = core.clone();
        tasks.push(tokio::spawn(async move {
            sign_up(&core, &format!("at-once-{i}")).await
        }));
    }
    let mut orgs = Vec::new();
    for t in tasks {
        orgs.push(t.await.unwrap());
    }
    assert_eq!(
        spares(&app.pool).await,
        (0, 0),
        "both spares taken, none twice"
    );
    for org in &orgs {
        let c = app
            .post(
                &format!("/v1/orgs/{}/currencies", org.slug),
                &org.owner_token,
                json!({"code": "COIN", "name": "Coin", "scale": 2}),
            )
            .await;
        assert_eq!(c.status, StatusCode::CREATED, "{}: {:?}", org.slug, c.body);
        assert_eq!(app.verify(org).await["ok"], json!(true));
    }
}

#[tokio::test]
async fn creating_an_org_prepares_the_next_spare_in_the_background() {
    let app = TestApp::new().await;
    let core = Core::new(app.pool.clone()).with_spare_orgs(2);
    sign_up(&core, "first-of-many").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while spares(&app.pool).await != (2, 2) {
        assert!(
            Instant::now() < deadline,
            "no spares prepared: {:?}",
            spares(&app.pool).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    sign_up(&core, "second-of-many").await;
    eprintln!("an org on a spare was ready in {:?}", started.elapsed());
    assert!(spares(&app.pool).await.0 <= 2);
}

/// `migrate` brings spares up to date like orgs, and passes over one that an org's creation
/// holds at that moment instead of waiting for it or migrating it under the creation's feet.
#[tokio::test]
async fn migrate_passes_over_a_spare_being_taken() {
    let app = TestApp::new().await;
    assert_eq!(spare_schemas::top_up(&app.pool, 2).await.ok(), Some(2));
    assert_eq!(
        spare_schemas::migrate(&app.pool).await.ok(),
        Some(0),
        "both are up to date"
    );

    // A creation holds one spare's row (as `take_or_create` does until it commits).
    let mut taking = app.pool.begin().await.unwrap();
    let (held,): (String,) =
        sqlx::query_as("SELECT name FROM control.spare_schemas ORDER BY name LIMIT 1 FOR UPDATE")
            .fetch_one(&mut *taking)
            .await
            .unwrap();
    let migrated = tokio::time::timeout(
        Duration::from_secs(10),
        migrate::migrate_all(&app.pool, |_, _| {}),
    )
    .await
    .unwrap_or_else(|_| panic!("migrate waited on {held}, which a creation holds"));
    assert!(migrated.is_ok(), "{migrated:?}");
    taking.rollback().await.unwrap();
    assert_eq!(spares(&app.pool).await, (2, 2));
}
