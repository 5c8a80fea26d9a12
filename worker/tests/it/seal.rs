//! Journal sealing: the chain grows with the journal, and a row changed behind the ledger's back
//! is found.

use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};

use crate::helpers::{Org, TestDb, create_policy, db, now, org, policy};

async fn pay_some(db: &TestDb, org: &Org, tag: &str, n: usize) {
    for i in 0..n {
        db.core
            .issue(
                &org.admin,
                MoveRequest {
                    currency: "COIN".to_owned(),
                    to: AccountRef::Member(org.members[i % org.members.len()]),
                    amount: "1.25".to_owned(),
                    memo: format!("gift {i} — für Ünïcode"),
                },
                IdempotencyKey::scoped("test", tag, &i.to_string()).unwrap(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_chain_over_new_entries_and_a_rewritten_row_is_found() {
    let db = db().await;
    let org = org(&db, "sealed", 5).await;
    let t = now();
    assert!(
        db.core
            .seal_journal(&org.tenant, t)
            .await
            .unwrap()
            .is_none(),
        "an empty journal has nothing to seal"
    );
    pay_some(&db, &org, "a", 7).await;
    create_policy(&db, &org, policy(Some("3.00"), None, None)).await;
    db.core
        .run_scheduled_issuance(&org.tenant, t)
        .await
        .unwrap();
    let first = db.core.seal_journal(&org.tenant, t).await.unwrap();
    let first = first.expect("a seal");
    assert_eq!((first.seq, first.entries), (1, 7 + 6));
    assert!(
        db.core
            .seal_journal(&org.tenant, t)
            .await
            .unwrap()
            .is_none(),
        "nothing new, no seal"
    );
    pay_some(&db, &org, "b", 3).await;
    // Two sealers at once: one seal.
    let (a, b) = tokio::join!(
        db.core.seal_journal(&org.tenant, t),
        db.core.seal_journal(&org.tenant, t)
    );
    let made: Vec<_> = [a, b].into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(made.len(), 1);
    assert_eq!((made[0].seq, made[0].entries), (2, 3));
    assert_eq!(made[0].prev_hash, first.hash);

    let published = db.core.journal_seals(&org.admin).await.unwrap();
    assert_eq!(published.len(), 2);
    let audit = db.core.audit_seals(&org.tenant).await.unwrap();
    assert!(audit.ok, "{audit:?}");
    assert_eq!(
        (audit.seals, audit.sealed_entries, audit.unsealed_entries),
        (2, 16, 0)
    );

    // Rewrite history directly in SQL, past the append-only trigger.
    let schema = org.tenant.schema();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {schema}.transfers DISABLE TRIGGER transfers_append_only;
         UPDATE {schema}.transfers SET memo = 'nothing to see' WHERE id = (SELECT min(id) + 2 FROM {schema}.transfers);
         ALTER TABLE {schema}.transfers ENABLE TRIGGER transfers_append_only;"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let audit = db.core.audit_seals(&org.tenant).await.unwrap();
    assert!(!audit.ok);
    let mismatch = audit.first_mismatch.expect("a mismatch");
    assert_eq!(mismatch.seq, 1);
    assert_ne!(mismatch.published, mismatch.recomputed);
}
