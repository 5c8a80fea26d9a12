//! `citus_schema_move` of a busy org to the other worker: its members keep paying through the
//! move, retrying as a client does (same Idempotency-Key) until they get an answer; afterwards
//! every acknowledged payment is in the journal once, nothing else is, and the ledger verifies.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use coinsence_api::citus;
use coinsence_api::domain::tenancy::SchemaName;
use rand::Rng;
use tokio::sync::Mutex;

use crate::helpers::Org;
use crate::{citus_app, placement_of};

const MEMBERS: usize = 8;
const PAYERS: usize = 6;

/// What the payers were told, by Idempotency-Key: the amount in cents and whether it was paid.
type Answers = Arc<Mutex<HashMap<String, (i64, bool)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_moves_to_the_other_worker_while_its_members_pay() {
    let Some(app) = citus_app().await else { return };
    let app = Arc::new(app);
    let org = app.org("moving-org").await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let (token, id) = app.member(&org, &format!("m{i}")).await;
        let r = app.issue(&org, id, "20.00").await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        members.push((token, id));
    }
    let (members, org) = (Arc::new(members), Arc::new(org));
    let answers: Answers = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    let mut payers = Vec::new();
    for payer in 0..PAYERS {
        let (app, org, members) = (app.clone(), org.clone(), members.clone());
        let (answers, stop) = (answers.clone(), stop.clone());
        payers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let (payee, cents) = {
                    let mut rng = rand::rng();
                    let payee = (payer + rng.random_range(1..MEMBERS)) % MEMBERS;
                    (payee, rng.random_range(1..=300_i64))
                };
                let key = format!("move-{payer}-{n}");
                n += 1;
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                let paid = pay_until_answered(
                    &app,
                    &org,
                    &members[payer].0,
                    members[payee].1,
                    &amount,
                    &key,
                )
                .await;
                answers.lock().await.insert(key, (cents, paid));
            }
        }));
    }

    // Let the payments get going, then move the org to the worker it is not on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = placement_of(&app, "moving-org").await;
    let cluster = citus::test_cluster()
        .await
        .unwrap()
        .expect("a Citus app without a Citus cluster");
    let (host, port) = (0..2)
        .map(|i| cluster.worker_address(i))
        .find(|(h, p)| format!("{h}:{p}") != from)
        .unwrap_or_else(|| panic!("no other worker than {from}"));
    let schema = SchemaName::for_tenant(app.tenant("moving-org").await.id);
    let before = answers.lock().await.len();
    citus::move_schema(&app.pool, &schema, host, port)
        .await
        .expect("citus_schema_move");
    let during = answers.lock().await.len() - before;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for p in payers {
        p.await.expect("payer");
    }
    let to = placement_of(&app, "moving-org").await;
    assert_eq!(to, format!("{host}:{port}"), "the org moved");
    assert_ne!(to, from);

    let answers = answers.lock().await;
    let paid: Vec<(&String, i64)> = answers
        .iter()
        .filter(|(_, (_, paid))| *paid)
        .map(|(k, (c, _))| (k, *c))
        .collect();
    assert!(
        during > 0,
        "payments were answered while the org was moving"
    );
    // Every acknowledged payment is in the journal once, with its amount; nothing else is.
    let mut tx = app.org_tx("moving-org").await;
    let journal: Vec<(String, i64)> = sqlx::query_as(
        "SELECT split_part(idempotency_key, ':', 3), amount FROM transfers
         WHERE idempotency_key LIKE 'http:%:move-%'",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let mut in_journal: HashMap<&str, (usize, i64)> = HashMap::new();
    for (key, amount) in &journal {
        let e = in_journal.entry(key.as_str()).or_default();
        e.0 += 1;
        e.1 = *amount;
    }
    for (key, cents) in &paid {
        assert_eq!(in_journal.get(key.as_str()), Some(&(1, *cents)), "{key}");
    }
    assert_eq!(
        journal.len(),
        paid.len(),
        "nothing but acknowledged payments"
    );
    let verified = app.verify(&org).await;
    assert_eq!(verified["ok"], true, "{verified}");
    eprintln!(
        "moved {from} -> {to}: {} payments answered, {during} while moving, {} paid",
        answers.len(),
        paid.len()
    );
}

/// Pays, retrying with the same key after anything but an answer (a 5xx while the org is being
/// switched over); true when paid, false when refused for want of funds.
async fn pay_until_answered(
    app: &crate::helpers::TestApp,
    org: &Org,
    token: &str,
    to: i64,
    amount: &str,
    key: &str,
) -> bool {
    for _ in 0..200 {
        let r = app.pay(org, token, to, amount, key).await;
        match r.status {
            StatusCode::CREATED => return true,
            StatusCode::UNPROCESSABLE_ENTITY if r.code() == "insufficient_funds" => return false,
            s if s.is_server_error() => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("{key}: unexpected {other}: {:?}", r.body),
        }
    }
    panic!("{key}: no answer after 200 tries")
}
