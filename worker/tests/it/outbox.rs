//! Outbox delivery: retries with back-off, poison events parked with the reason.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use chrono::Duration;
use coinsence_api::domain::governance::outbox::{
    DeliveryError, DeliveryPolicy, OutboxEvent, OutboxSink,
};
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::tenancy::Tenant;

use crate::helpers::{db, now, org};

/// Fails the first `flaky` attempts of every event, and rejects events whose payload memo says
/// "poison". Records what it delivered.
struct FakeSink {
    flaky: usize,
    tries: Mutex<HashMap<String, usize>>,
    delivered: Mutex<Vec<String>>,
}

impl OutboxSink for FakeSink {
    fn deliver<'a>(
        &'a self,
        _: &'a Tenant,
        event: &'a OutboxEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move {
            if event.payload["memo"] == "poison" {
                return Err(DeliveryError::Reject("the room is gone".to_owned()));
            }
            let tries = {
                let mut all = self.tries.lock().unwrap_or_else(|p| p.into_inner());
                let n = all.entry(event.dedup_key.clone()).or_default();
                *n += 1;
                *n
            };
            if tries <= self.flaky {
                return Err(DeliveryError::Retry("the homeserver timed out".to_owned()));
            }
            self.delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(event.dedup_key.clone());
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_back_off_and_poison_events_are_parked_with_the_reason() {
    let db = db().await;
    let org = org(&db, "outbox", 2).await;
    // Two payments from the owner: one ordinary, one whose event the sink rejects.
    db.core
        .issue(
            &org.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(org.admin.user.id),
                amount: "10".into(),
                memo: String::new(),
            },
            IdempotencyKey::scoped("t", "t", "fund").unwrap(),
        )
        .await
        .unwrap();
    for (i, memo) in ["thanks", "poison"].into_iter().enumerate() {
        db.core
            .pay(
                &org.admin,
                MoveRequest {
                    currency: "COIN".into(),
                    to: AccountRef::Member(org.members[i + 1]),
                    amount: "1".into(),
                    memo: memo.into(),
                },
                IdempotencyKey::scoped("t", "t", memo).unwrap(),
            )
            .await
            .unwrap();
    }
    let sink = FakeSink {
        flaky: 2,
        tries: Mutex::default(),
        delivered: Mutex::default(),
    };
    let policy = DeliveryPolicy {
        max_attempts: 5,
        ..DeliveryPolicy::default()
    };
    let t = now();

    let first = db
        .core
        .deliver_outbox(&org.tenant, &sink, t, policy)
        .await
        .unwrap();
    assert_eq!((first.delivered, first.retrying, first.parked), (0, 1, 1));
    // Backing off: nothing is due a second later.
    let early = db
        .core
        .deliver_outbox(&org.tenant, &sink, t + Duration::seconds(1), policy)
        .await
        .unwrap();
    assert_eq!((early.delivered, early.retrying, early.parked), (0, 0, 0));
    let second = db
        .core
        .deliver_outbox(&org.tenant, &sink, t + Duration::seconds(10), policy)
        .await
        .unwrap();
    assert_eq!(
        second.retrying, 1,
        "the second try fails too; the next waits 20 s"
    );
    let early = db
        .core
        .deliver_outbox(&org.tenant, &sink, t + Duration::seconds(25), policy)
        .await
        .unwrap();
    assert_eq!(early.delivered, 0);
    let third = db
        .core
        .deliver_outbox(&org.tenant, &sink, t + Duration::seconds(31), policy)
        .await
        .unwrap();
    assert_eq!(third.delivered, 1);
    let done = db
        .core
        .deliver_outbox(&org.tenant, &sink, t + Duration::hours(2), policy)
        .await
        .unwrap();
    assert_eq!(
        (done.delivered, done.retrying, done.parked),
        (0, 0, 0),
        "delivered once, parked stays parked"
    );
    assert_eq!(
        sink.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len(),
        1
    );
    let parked = db.core.outbox_parked(&org.tenant, 10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].park_reason.contains("the room is gone"),
        "{:?}",
        parked[0]
    );
    assert!(
        db.core
            .outbox_pending(&org.tenant, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // An event that always fails is parked after its last attempt, not retried forever.
    db.core
        .pay(
            &org.admin,
            MoveRequest {
                currency: "COIN".into(),
                to: AccountRef::Member(org.members[1]),
                amount: "1".into(),
                memo: "again".into(),
            },
            IdempotencyKey::scoped("t", "t", "again").unwrap(),
        )
        .await
        .unwrap();
    let hopeless = FakeSink {
        flaky: usize::MAX,
        tries: Mutex::default(),
        delivered: Mutex::default(),
    };
    let mut at = t + Duration::hours(3);
    for _ in 0..5 {
        db.core
            .deliver_outbox(&org.tenant, &hopeless, at, policy)
            .await
            .unwrap();
        at += Duration::hours(2);
    }
    let parked = db.core.outbox_parked(&org.tenant, 10).await.unwrap();
    assert_eq!(parked.len(), 2);
    assert!(
        parked[0]
            .park_reason
            .starts_with("gave up after 5 attempts"),
        "{:?}",
        parked[0]
    );
    assert_eq!(parked[0].attempts, 5);
}
