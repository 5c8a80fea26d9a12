//! No statement or transaction on a request path touches two org schemas.
//!
//! The coordinator logs every command it sends to a worker (`citus.log_remote_commands`, for
//! this test's database only), each under the virtual transaction id of the transaction that
//! sent it. Tenant tables are only ever reached through such commands, which name their shards
//! with the schema (`org_7.transfers_102008`): one transaction naming two `org_` schemas would
//! be one that touches two orgs. A scenario across two orgs, with a user who belongs to both,
//! must log none; a transaction written to read both orgs shows that the check sees it.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use axum::http::StatusCode;
use coinsence_api::citus;
use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{Org, TestApp, rand_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_transaction_touches_two_orgs() {
    let Some((setup, url)) = citus::test_database().await.expect("Citus test database") else {
        return;
    };
    let cluster = citus::test_cluster()
        .await
        .unwrap()
        .expect("a Citus database without a Citus cluster");
    let (db,): (String,) = sqlx::query_as("SELECT current_database()")
        .fetch_one(&setup)
        .await
        .unwrap();
    for setting in [
        "citus.log_remote_commands = on",
        "log_min_messages = notice",
    ] {
        sqlx::query(AssertSqlSafe(format!("ALTER DATABASE {db} SET {setting}")))
            .execute(&setup)
            .await
            .unwrap_or_else(|e| panic!("{setting}: {e}"));
    }
    setup.close().await;
    // The settings hold for connections opened from now on: the app's.
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect_with(PgConnectOptions::from_str(&url).unwrap())
        .await
        .unwrap();
    let app = TestApp::with_pool(pool);

    let a = app.org("cross-a").await;
    let b = app.org("cross-b").await;
    let (both, both_id) = app.user("both").await;
    for org in [&a, &b] {
        scenario(&app, org, &both, both_id).await;
    }
    let others = two_org_transactions(&cluster.coordinator_log(), &db);
    assert!(
        others.is_empty(),
        "transactions that touched two orgs: {others:#?}"
    );

    // The check sees a transaction that does read two orgs.
    let (sa, sb) = (
        app.tenant("cross-a").await.schema(),
        app.tenant("cross-b").await.schema(),
    );
    let mut tx = app.pool.begin().await.unwrap();
    for schema in [&sa, &sb] {
        let sql = format!("SELECT count(*) FROM {schema}.transfers");
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let seen = two_org_transactions(&cluster.coordinator_log(), &db);
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let names: BTreeSet<String> = [sa.to_string(), sb.to_string()].into();
    assert_eq!(seen.values().next(), Some(&names));
}

/// What members do in an org, through the API: join, get paid, pay, read, vote, post, offer.
async fn scenario(app: &TestApp, org: &Org, both: &str, both_id: i64) {
    let slug = &org.slug;
    let r = app
        .call(
            axum::http::Method::POST,
            &format!("/v1/orgs/{slug}/join"),
            Some(both),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (ana, ana_id) = app.member(org, "ana").await;
    for (id, amount) in [(both_id, "30.00"), (ana_id, "30.00")] {
        let r = app.issue(org, id, amount).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    for (payer, payee) in [(both, ana_id), (&ana, both_id), (both, ana_id)] {
        let r = app.pay(org, payer, payee, "2.50", &rand_key()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let refused = app.pay(org, &ana, both_id, "1000.00", &rand_key()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for path in [
        "accounts",
        "transfers",
        "members",
        "currencies",
        "ledger/seals",
    ] {
        let r = app.get(&format!("/v1/orgs/{slug}/{path}"), both).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    let fund = app.system_account(org, "fund", "COIN").await;
    let p = app
        .propose(slug, both, "seed the fund", json!({"kind": "issue_to_account", "currency": "COIN", "to_account": fund, "amount": "5"}))
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    let id = p.body["id"].as_i64().unwrap_or_default();
    for voter in [&org.owner_token, both, &ana] {
        app.vote(slug, voter, id, "yes").await;
    }
    app.close_due_in(slug, chrono::Duration::days(8)).await;
    let post = app
        .post(
            &format!("/v1/orgs/{slug}/posts"),
            both,
            json!({"body": "hello"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{:?}", post.body);
    let policy = app
        .post(
            &format!("/v1/orgs/{slug}/issuance-policies"),
            &org.owner_token,
            json!({"currency": "COIN", "period": "weekly", "fixed_amount": "1.00"}),
        )
        .await;
    assert_eq!(policy.status, StatusCode::CREATED, "{:?}", policy.body);
    let tenant = app.tenant(slug).await;
    app.core
        .run_scheduled_issuance(&tenant, chrono::Utc::now())
        .await
        .expect("issuance");
    assert_eq!(app.verify(org).await["ok"], true);
}

/// The transactions (by server process and virtual transaction id) of `db` whose commands to
/// the workers named more than one org schema, with the schemas they named.
fn two_org_transactions(log: &std::path::Path, db: &str) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    // A log entry starts with its timestamp; the lines of a multi-line command follow it.
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts = line.len() > 4 && line[..4].bytes().all(|b| b.is_ascii_digit());
        match entries.last_mut() {
            Some(last) if !starts => {
                last.push('\n');
                last.push_str(line);
            }
            _ => entries.push(line.to_owned()),
        }
    }
    let mut by_tx: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.contains(&format!("db={db} "))) {
        if !entry.contains("NOTICE:  issuing ") {
            continue;
        }
        let Some(pid) = entry.split('[').nth(1).and_then(|s| s.split(']').next()) else {
            continue;
        };
        let Some(vxid) = entry
            .split("vxid=")
            .nth(1)
            .and_then(|s| s.split(' ').next())
        else {
            continue;
        };
        by_tx
            .entry(format!("{pid} {vxid}"))
            .or_default()
            .extend(org_schemas(entry));
    }
    by_tx.retain(|_, schemas| schemas.len() > 1);
    by_tx
}

/// The `org_<digits>` names in a text.
fn org_schemas(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("org_") {
        let start = from + at;
        let digits = bytes[start + 4..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if digits > 0 && !preceded {
            found.insert(text[start..start + 4 + digits].to_owned());
        }
        from = start + 4;
    }
    found
}
