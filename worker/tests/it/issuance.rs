//! Scheduled issuance and demurrage with a clock the test controls: run, run again, skip periods,
//! kill mid-run, race.

use std::time::Duration;

use crate::helpers::{
    assert_verifies, balances, count, create_policy, db, now, org, policy, weeks,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_gets_each_period_once_however_often_it_runs_and_missed_periods_catch_up() {
    let db = db().await;
    let org = org(&db, "basic", 3).await;
    create_policy(&db, &org, policy(Some("10.00"), None, None)).await;
    let t0 = now();

    // Run: the current period is due at once.
    let first = db
        .core
        .run_scheduled_issuance(&org.tenant, t0)
        .await
        .unwrap();
    assert_eq!(
        (first.periods, first.issued_count, first.issued_total),
        (1, 4, 4000)
    );
    // Run again in the same period: nothing.
    let again = db
        .core
        .run_scheduled_issuance(&org.tenant, t0 + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(again.periods, 0);
    assert!(balances(&db, &org).await.iter().all(|(_, b)| *b == 1000));

    // The worker was down for two more periods and comes back in the third: three periods, once each.
    let caught_up = db
        .core
        .run_scheduled_issuance(&org.tenant, t0 + weeks(3))
        .await
        .unwrap();
    assert_eq!((caught_up.periods, caught_up.issued_count), (3, 12));
    let again = db
        .core
        .run_scheduled_issuance(&org.tenant, t0 + weeks(3))
        .await
        .unwrap();
    assert_eq!(again.periods, 0);
    assert!(
        balances(&db, &org).await.iter().all(|(_, b)| *b == 4000),
        "{:?}",
        balances(&db, &org).await
    );
    assert_eq!(
        count(&db, &org, "transfers WHERE kind = 'issuance'").await,
        16
    );
    assert_eq!(count(&db, &org, "issuance_runs").await, 4);
    assert_verifies(&db, &org).await;

    // The policy shows its last period; members who left get nothing more.
    let views = db.core.issuance_policies(&org.admin).await.unwrap();
    assert!(views[0].last_period.is_some());
    sqlx::query("DELETE FROM control.memberships WHERE user_id = $1")
        .bind(org.members[1])
        .execute(&db.pool)
        .await
        .unwrap();
    let next = db
        .core
        .run_scheduled_issuance(&org.tenant, t0 + weeks(4))
        .await
        .unwrap();
    assert_eq!((next.periods, next.issued_count), (1, 3));
    assert_verifies(&db, &org).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_up_and_demurrage_move_money_through_the_journal_and_keep_the_floors() {
    let db = db().await;
    let org = org(&db, "topup", 3).await;
    // Member 1 already holds 100.00, member 2 has 3.00.
    for (i, amount) in [(1, "100.00"), (2, "3.00")] {
        db.core
            .issue(
                &org.admin,
                coinsence_api::domain::ledger::ops::MoveRequest {
                    currency: "COIN".to_owned(),
                    to: coinsence_api::domain::ledger::AccountRef::Member(org.members[i]),
                    amount: amount.to_owned(),
                    memo: String::new(),
                },
                coinsence_api::domain::ledger::ops::IdempotencyKey::scoped(
                    "test",
                    "seed",
                    &i.to_string(),
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
    // Top up to 20.00, with a 10 % holding fee taken first.
    create_policy(&db, &org, policy(None, Some("20.00"), Some(1000))).await;
    let t0 = now();
    let run = db
        .core
        .run_scheduled_issuance(&org.tenant, t0)
        .await
        .unwrap();
    // Fees: 10.00 from member 1, 0.30 from member 2; top-ups: 20.00, 20.00, (90.00 needs none), 17.30.
    assert_eq!((run.demurrage_count, run.demurrage_total), (2, 1030));
    assert_eq!(
        (run.issued_count, run.issued_total),
        (3, 2000 + 2000 + 1730)
    );
    let b = balances(&db, &org).await;
    assert_eq!(
        b.iter().map(|(_, b)| *b).collect::<Vec<_>>(),
        vec![2000, 9000, 2000, 2000]
    );
    // The fund holds the fees.
    assert_eq!(
        count(&db, &org, "accounts WHERE kind = 'fund' AND balance = 1030").await,
        1
    );
    // Caught up over two more periods: each period takes its fee and tops up again.
    let later = db
        .core
        .run_scheduled_issuance(&org.tenant, t0 + weeks(2))
        .await
        .unwrap();
    assert_eq!(later.periods, 2);
    assert_eq!(
        count(&db, &org, "transfers WHERE kind = 'demurrage'").await,
        2 + 4 + 4
    );
    assert_verifies(&db, &org).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_midway_and_restarted_pays_each_period_exactly_once() {
    let db = db().await;
    let org = org(&db, "killed", 2000).await;
    create_policy(&db, &org, policy(Some("1.50"), None, Some(100))).await;
    let at = now() + weeks(3);
    // Periods of 2001 members in transactions of 300. Kill the run as soon as a period is paid
    // to some members but not all (between two of its transactions), twice.
    let core = db.core.clone().with_issuance_chunk(300);
    let mut partial_kills = 0;
    for _ in 0..2 {
        let run = {
            let (core, tenant) = (core.clone(), org.tenant.clone());
            tokio::spawn(async move { core.run_scheduled_issuance(&tenant, at).await })
        };
        loop {
            let paid = count(&db, &org, "transfers WHERE kind = 'issuance'").await;
            if paid % 2001 != 0 || run.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        run.abort();
        let _ = run.await;
        let paid = count(&db, &org, "transfers WHERE kind = 'issuance'").await;
        if paid % 2001 != 0 {
            partial_kills += 1;
        }
    }
    assert!(partial_kills > 0, "no kill landed inside a period");
    let before = count(&db, &org, "issuance_runs").await;
    let paid_before = count(&db, &org, "transfers WHERE kind = 'issuance'").await;
    let rest = core.run_scheduled_issuance(&org.tenant, at).await.unwrap();
    eprintln!(
        "the kills left {before} periods complete and {paid_before} incomes paid; the restart ran {} periods",
        rest.periods
    );
    assert_eq!(before + rest.periods, 4);
    assert_eq!(count(&db, &org, "issuance_runs").await, 4);
    assert_eq!(
        count(&db, &org, "transfers WHERE kind = 'issuance'").await,
        4 * 2001
    );
    assert_eq!(
        count(&db, &org, "(SELECT to_account FROM transfers WHERE kind = 'issuance' GROUP BY to_account HAVING count(*) <> 4) x").await,
        0
    );
    assert_verifies(&db, &org).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_at_once_write_the_same_ledger_as_one() {
    let alone = db().await;
    let racing = db().await;
    let at = now() + weeks(2);
    let mut results = Vec::new();
    for (db, concurrent) in [(&alone, 1usize), (&racing, 4)] {
        let org = org(db, "race", 300).await;
        create_policy(db, &org, policy(Some("2.00"), None, Some(250))).await;
        let mut runs = Vec::new();
        for _ in 0..concurrent {
            // Separate cores: as separate worker processes would be.
            let core = coinsence_api::Core::new(db.pool.clone());
            let tenant = org.tenant.clone();
            runs.push(tokio::spawn(async move {
                core.run_scheduled_issuance(&tenant, at).await
            }));
        }
        let mut periods = 0;
        for run in runs {
            periods += run.await.unwrap().unwrap().periods;
        }
        assert_eq!(
            periods, 3,
            "three periods, each applied by exactly one of the workers"
        );
        assert_verifies(db, &org).await;
        let journal: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT kind, count(*), sum(amount)::bigint FROM {}.transfers GROUP BY kind ORDER BY kind",
            org.tenant.schema()
        )))
        .fetch_all(&db.pool)
        .await
        .unwrap();
        results.push((
            balances(db, &org)
                .await
                .into_iter()
                .map(|(_, b)| b)
                .collect::<Vec<_>>(),
            journal,
        ));
    }
    assert_eq!(results[0], results[1]);
}
