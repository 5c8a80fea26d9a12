//! The Merkle log's backfill on Citus (issue 20): an org whose journal was sealed before the tree
//! existed gets its tree when migrated. The SQL backfill this replaces failed on the worker.

use std::collections::HashMap;

use coinsence_api::domain::ledger::merkle;

use crate::citus_app;

#[tokio::test]
async fn an_org_with_seals_before_the_tree_is_migrated_on_citus() {
    let Some(app) = citus_app().await else { return };
    let org = app.org("citus-backfill").await;
    let (_, ana) = app.member(&org, "ana").await;
    for _ in 0..5 {
        app.issue(&org, ana, "1.00").await;
    }
    let tenant = app.tenant("citus-backfill").await;
    app.core
        .seal_journal(&tenant, chrono::Utc::now())
        .await
        .unwrap();
    let nodes = || async {
        let mut tx = app.org_tx("citus-backfill").await;
        let rows: Vec<(i16, i64, Vec<u8>)> =
            sqlx::query_as("SELECT level, idx, hash FROM merkle_nodes ORDER BY level, idx")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        rows
    };
    let sealed = nodes().await;
    let (size, root): (i64, Vec<u8>) = {
        let mut tx = app.org_tx("citus-backfill").await;
        sqlx::query_as("SELECT tree_size, root FROM tree_heads")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(size, 5);

    coinsence_api::testing::sealed_before_the_merkle_log(&app.pool, &tenant)
        .await
        .unwrap();
    let summary = coinsence_api::migrate::migrate_all(&app.pool, |_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{summary:?}");
    let built = nodes().await;
    assert_eq!(built, sealed);
    let map: HashMap<(u32, u64), [u8; 32]> = built
        .iter()
        .map(|(l, x, h)| ((*l as u32, *x as u64), h.as_slice().try_into().unwrap()))
        .collect();
    assert_eq!(merkle::root(&map, 5).as_slice(), root.as_slice());

    app.issue(&org, ana, "1.00").await;
    let next = app
        .core
        .seal_journal(&tenant, chrono::Utc::now())
        .await
        .unwrap()
        .and_then(|s| s.tree_head)
        .expect("a head");
    assert_eq!(next.tree_size, 6);
    let audit = app.core.audit_tree(&tenant).await.unwrap();
    assert!(audit.ok, "{audit:?}");
}
