//! Coinsence on a local Citus cluster (a coordinator and two workers, shared by these tests, one
//! database each): orgs placed on both workers, an org moved while its members pay, and no
//! request touching two orgs. Under `CI=true` they run (a missing Citus fails them); elsewhere
//! they skip, loudly, when Citus is not installed.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../it/helpers.rs"]
mod helpers;

mod cross_org;
mod merkle_backfill;
mod move_org;
mod placement;
mod pooling;

use coinsence_api::citus;
use coinsence_api::domain::tenancy::SchemaName;
use helpers::TestApp;

/// The app on a fresh Citus database, or None (the test skips) when Citus is not installed.
pub async fn citus_app() -> Option<TestApp> {
    let (pool, _url) = citus::test_database().await.expect("Citus test database")?;
    Some(TestApp::with_pool(pool))
}

/// The worker (`host:port`) an org's schema is on.
pub async fn placement_of(app: &TestApp, slug: &str) -> String {
    let schema = SchemaName::for_tenant(app.tenant(slug).await.id);
    citus::placement(&app.pool, &schema)
        .await
        .unwrap_or_else(|e| panic!("placement of {slug}: {e}"))
        .unwrap_or_else(|| panic!("{schema} is not a distributed schema"))
}
