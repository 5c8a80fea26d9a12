use std::time::Instant;

use axum::http::StatusCode;
use coinsence_api::migrate;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_twice_or_concurrently_is_harmless_and_every_schema_records_its_version() {
    let app = TestApp::new().await;
    for slug in ["one", "two", "three"] {
        app.org(slug).await;
    }
    let (a, b) = tokio::join!(
        migrate::migrate_all(&app.pool, |_, _| {}),
        migrate::migrate_all(&app.pool, |_, _| {})
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.orgs, a.failed, b.failed), (3, 0, 0));
    assert_eq!(
        a.up_to_date + b.up_to_date,
        6,
        "orgs are created at the latest version"
    );

    // A schema behind the release (here: emptied) is brought up to date; the others are left alone.
    sqlx::raw_sql("DROP SCHEMA org_1 CASCADE; CREATE SCHEMA org_1;")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = migrate::migrate_all(&app.pool, |_, _| {}).await.unwrap();
    assert_eq!((again.migrated, again.up_to_date), (1, 2));
    for schema in ["org_1", "org_2", "org_3", "control"] {
        let sql = format!("SELECT max(version) FROM {schema}.schema_migrations");
        let (v,): (Option<i64>,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(v.is_some(), "{schema} records its version");
    }
    let _ = migrate::tenant_target_version();
}

#[tokio::test]
async fn a_new_org_is_ready_at_once() {
    let app = TestApp::new().await;
    let start = Instant::now();
    let org = app.org("quick").await;
    eprintln!("signup + org + currency took {:?}", start.elapsed());
    let r = app.get("/v1/orgs/quick/currencies", &org.owner_token).await;
    assert_eq!(r.status, StatusCode::OK);
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM control.tenants WHERE slug = 'quick'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "active");
}
