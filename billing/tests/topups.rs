//! Euro top-ups end to end against real PostgreSQL and a fake Stripe: the member starts a
//! top-up (a Checkout Session on the org's connected account), Stripe's events arrive at the
//! webhook signed the real way, the applier issues coins exactly once. After every test the
//! invariants hold: the euro reserve is euros in minus euros out, the platform euro ledger
//! balances, the coins from top-ups match the euros at the rates used, the coin ledger verifies.

// Helpers outside `#[test]` functions unwrap too (clippy.toml allows it only inside them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_stripe;
mod world;

use coinsence_api::Core;
use coinsence_api::domain::billing::topups::NewTopupTerms;
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::outbox::EventKind;
use coinsence_api::domain::governance::proposals::NewProposal;
use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::domain::identity::Role;
use coinsence_api::domain::ledger::ops::IdempotencyKey;
use coinsence_api::testing::org_with_coin;
use coinsence_billing::{Secret, signature::sign};
use fake_stripe::{deliver, post};
use futures::future::join_all;
use world::{code, world};

#[tokio::test]
async fn a_topup_delivered_five_times_concurrently_and_out_of_order_issues_once() {
    let w = world("topup-once").await;
    let ada = w.member("ada").await;
    let key = IdempotencyKey::scoped("test", "ada", "topup-1").expect("key");
    let link = w
        .core
        .start_topup(&ada, "20", key.clone())
        .await
        .expect("topup");
    assert_eq!(link.coins, "30.00", "20 euros at 3 coins per 2 euros");
    assert!(link.url.starts_with("https://checkout.stripe.test/"));

    // A direct charge on the org's account, the fee as application fee, our own key.
    let created = w.fake.requests_to("/v1/checkout/sessions");
    assert_eq!(created.len(), 1);
    let request = &created[0];
    assert_eq!(request.account.as_deref(), Some(w.account.as_str()));
    let topup_key = format!("topup:{}:{}", ada.tenant.id, link.topup);
    assert_eq!(request.idempotency_key.as_deref(), Some(topup_key.as_str()));
    assert_eq!(
        request.form["line_items[0][price_data][unit_amount]"],
        "2000"
    );
    assert_eq!(request.form["line_items[0][price_data][currency]"], "eur");
    assert_eq!(
        request.form["payment_intent_data[application_fee_amount]"],
        "30"
    );
    assert_eq!(request.form["mode"], "payment");

    // A retry of the same request gets the same page and asks Stripe nothing new.
    let again = w.core.start_topup(&ada, "20", key).await.expect("retry");
    assert_eq!(again, link);
    assert_eq!(w.fake.requests_to("/v1/checkout/sessions").len(), 1);

    let session = link.url.rsplit('/').next().expect("session").to_owned();
    let completed = w.fake.event(
        "evt_completed_1",
        "checkout.session.completed",
        Some(&w.account),
        w.fake.session(&session, "paid"),
    );
    let succeeded = w.fake.event(
        "evt_async_ok_1",
        "checkout.session.async_payment_succeeded",
        Some(&w.account),
        w.fake.session(&session, "paid"),
    );
    // The later event first, each five times, all at once, with appliers running meanwhile.
    let mut deliveries = Vec::new();
    for i in 0..10 {
        let event = if i % 2 == 0 { &succeeded } else { &completed };
        let secret = if i % 3 == 0 { &w.new } else { &w.old };
        deliveries.push(deliver(&w.webhook, secret, event));
    }
    let appliers = (0..3).map(|_| w.core.apply_provider_events(50));
    let (statuses, applied) = tokio::join!(join_all(deliveries), join_all(appliers));
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    for done in applied {
        done.expect("apply");
    }
    w.core
        .apply_provider_events(50)
        .await
        .expect("apply the rest");

    assert_eq!(w.coins(&ada).await, 3000, "30.00 coins, once");
    assert_eq!(
        w.stored_events().await,
        3,
        "two events (and the account's), stored once each"
    );
    assert_eq!(w.core.pending_provider_events().await.expect("pending"), 0);
    let status = w.core.billing_status(&w.org.admin).await.expect("status");
    assert_eq!(status.euros.reserve_cents, 2000);
    let receipts: Vec<_> = w
        .core
        .outbox_pending(&ada.tenant, 100)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|e| e.kind == EventKind::TopupPaid)
        .collect();
    assert_eq!(receipts.len(), 1, "one receipt");
    assert_eq!(receipts[0].to_users, vec![ada.user.id]);
    w.check().await;
}

#[tokio::test]
async fn a_failed_sepa_topup_issues_nothing_and_tells_the_member() {
    let w = world("topup-sepa").await;
    let ben = w.member("ben").await;
    let key = IdempotencyKey::scoped("test", "ben", "sepa").expect("key");
    let link = w.core.start_topup(&ben, "10.00", key).await.expect("topup");
    let session = link.url.rsplit('/').next().expect("session").to_owned();
    // SEPA: completed while the money is still on its way, then the bank says no.
    let pending = w.fake.event(
        "evt_sepa_completed",
        "checkout.session.completed",
        Some(&w.account),
        w.fake.session(&session, "unpaid"),
    );
    let failed = w.fake.event(
        "evt_sepa_failed",
        "checkout.session.async_payment_failed",
        Some(&w.account),
        w.fake.session(&session, "unpaid"),
    );
    assert_eq!(deliver(&w.webhook, &w.old, &pending).await, 200);
    w.core.apply_provider_events(10).await.expect("apply");
    assert_eq!(w.coins(&ben).await, 0, "nothing before the money is final");
    assert_eq!(deliver(&w.webhook, &w.old, &failed).await, 200);
    assert_eq!(deliver(&w.webhook, &w.new, &failed).await, 200);
    let done = w.core.apply_provider_events(10).await.expect("apply");
    assert_eq!(done.failed, 0, "{done:?}");
    assert_eq!(w.coins(&ben).await, 0, "a failed payment issues nothing");
    let notices: Vec<_> = w
        .core
        .outbox_pending(&ben.tenant, 100)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|e| e.kind == EventKind::TopupFailed)
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to_users, vec![ben.user.id]);
    let status = w.core.billing_status(&w.org.admin).await.expect("status");
    assert_eq!(status.euros.reserve_cents, 0);
    w.check().await;
}

#[tokio::test]
async fn forged_late_or_changed_deliveries_are_refused_and_nothing_is_stored() {
    let w = world("topup-forged").await;
    let before = w.stored_events().await;
    let event = w.fake.account_updated("evt_forged", &w.account, false);
    let body = serde_json::to_vec(&event).expect("json");
    let now = chrono::Utc::now().timestamp();

    let forger = Secret::new("whsec_forger");
    assert_eq!(
        post(&w.webhook, &sign(&[&forger], now, &body), &body).await,
        400
    );
    let late = sign(&[&w.old], now - 301, &body);
    assert_eq!(
        post(&w.webhook, &late, &body).await,
        400,
        "older than 300 s"
    );
    let signed = sign(&[&w.old], now, &body);
    let mut changed = body.clone();
    let at = changed
        .iter()
        .position(|b| *b == b'f')
        .expect("a false to change");
    changed[at] = b'F';
    assert_eq!(
        post(&w.webhook, &signed, &changed).await,
        400,
        "body changed after signing"
    );
    assert_eq!(post(&w.webhook, "", &body).await, 400, "no signature");
    assert_eq!(w.stored_events().await, before, "nothing stored");

    // Stripe rolling its secret: the header carries a v1 for an unknown secret and one for the
    // second of ours.
    let rolling = sign(&[&forger, &w.new], now, &body);
    assert_eq!(post(&w.webhook, &rolling, &body).await, 200);
    assert_eq!(w.stored_events().await, before + 1);
    w.core.apply_provider_events(10).await.expect("apply");
    let status = w.core.billing_status(&w.org.admin).await.expect("status");
    assert!(!status.charges_enabled, "the account update applied");
    assert_eq!(status.requirements_due, vec!["external_account".to_owned()]);
    w.check().await;
}

#[tokio::test]
async fn limits_and_terms_are_kept_and_a_refusal_changes_nothing() {
    let w = world("topup-limits").await;
    let cleo = w.member("cleo").await;
    let start = |amount: &'static str, key: &'static str| {
        let core = w.core.clone();
        let cleo = cleo.clone();
        async move {
            core.start_topup(
                &cleo,
                amount,
                IdempotencyKey::scoped("test", "cleo", key).expect("key"),
            )
            .await
        }
    };
    assert_eq!(code(start("4.99", "a").await), Some("topup_below_minimum"));
    assert_eq!(
        code(start("100.01", "b").await),
        Some("topup_above_maximum")
    );
    assert_eq!(code(start("0.01", "c").await), Some("topup_below_minimum"));
    assert_eq!(
        code(start("5.001", "d").await),
        Some("amount_too_many_decimals")
    );
    start("100", "e").await.expect("100 fits");
    assert_eq!(
        code(start("60", "f").await),
        Some("topup_monthly_limit_reached"),
        "100 + 60 > 150"
    );
    start("50", "g").await.expect("100 + 50 fits");
    assert_eq!(
        w.fake.requests_to("/v1/checkout/sessions").len(),
        2,
        "refusals asked Stripe nothing"
    );

    // A member may read the terms but not set them; the rate changes by proposal from three
    // members on (the org has three now), while the limits still change directly.
    let terms = w
        .core
        .topup_terms(&cleo)
        .await
        .expect("terms")
        .expect("set");
    assert_eq!((terms.rate_coins, terms.rate_euros), (3, 2));
    let new_terms = |rate_coins| NewTopupTerms {
        currency: "COIN".to_owned(),
        rate_coins,
        rate_euros: 2,
        min: "1".to_owned(),
        max: "100".to_owned(),
        monthly_max: "150".to_owned(),
    };
    assert_eq!(
        code(w.core.set_topup_terms(&cleo, new_terms(3)).await),
        Some("not_treasurer")
    );
    w.member("dan").await;
    assert_eq!(
        code(w.core.set_topup_terms(&w.org.admin, new_terms(5)).await),
        Some("topup_rate_by_proposal")
    );
    let kept = w
        .core
        .set_topup_terms(&w.org.admin, new_terms(3))
        .await
        .expect("limits");
    assert_eq!(kept.min_cents, 100);

    // The new rate by proposal: everyone votes yes, it passes at its close, the rate is set.
    let proposal = w
        .core
        .propose(
            &w.org.admin,
            NewProposal {
                title: "5 coins for 2 euros".to_owned(),
                description: String::new(),
                closes_at: None,
                action: ActionRequest::ChangeTopupRate {
                    rate_coins: 5,
                    rate_euros: 2,
                },
            },
            None,
        )
        .await
        .expect("propose");
    // Two of three say yes: decided (it may close at once; the close below is then a no-op).
    for voter in [&w.org.admin, &cleo] {
        w.core
            .vote(voter, proposal.id, Choice::Yes)
            .await
            .expect("vote");
    }
    w.core
        .close_due(
            &w.org.admin.tenant,
            chrono::Utc::now() + chrono::Duration::days(8),
        )
        .await
        .expect("close");
    let terms = w
        .core
        .topup_terms(&cleo)
        .await
        .expect("terms")
        .expect("set");
    assert_eq!(
        (terms.rate_coins, terms.rate_euros),
        (5, 2),
        "the proposal set the rate"
    );

    // Without a provider top-ups are off and say so.
    let off = Core::new(w.core.pool.clone());
    assert_eq!(
        code(
            off.start_topup(
                &cleo,
                "10",
                IdempotencyKey::scoped("test", "cleo", "off").expect("key")
            )
            .await
        ),
        Some("topups_off")
    );
    w.check().await;
}

#[tokio::test]
async fn only_treasurers_see_billing_and_other_orgs_cannot_reach_it() {
    let w = world("topup-walls").await;
    let eve = w.member("eve").await;
    assert_eq!(
        code(w.core.billing_status(&eve).await),
        Some("not_treasurer")
    );
    assert_eq!(
        code(w.core.billing_onboarding(&eve).await),
        Some("not_treasurer")
    );
    assert_eq!(code(w.core.topup_totals(&eve).await), Some("not_treasurer"));

    // Over HTTP, another org's owner gets nothing of this org's billing.
    let other = org_with_coin(&w.core, "other-town", "Other Town", false).await;
    let app = coinsence_api::http::router(w.core.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("serve")
    });
    let http = reqwest::Client::new();
    let slug = w.org.admin.tenant.slug.as_str();
    let bearer = format!("Bearer {}", other.token.expose());
    for (method, path) in [
        ("GET", "billing"),
        ("GET", "billing/topup-terms"),
        ("PUT", "billing/topup-terms"),
        ("POST", "billing/topups"),
        ("POST", "billing/onboarding"),
    ] {
        let url = format!("{base}/v1/orgs/{slug}/{path}");
        let request = match method {
            "GET" => http.get(&url),
            "PUT" => http.put(&url),
            _ => http.post(&url),
        };
        let answer = request
            .header("authorization", &bearer)
            .header("idempotency-key", "walls")
            .json(&serde_json::json!({ "amount": "10" }))
            .send()
            .await
            .expect("send");
        assert!(
            [403, 404].contains(&answer.status().as_u16()),
            "{method} {path}: {}",
            answer.status()
        );
    }
    // The org's own treasurer does see it.
    let treasurer = w.member_as("tess", Some(Role::Treasurer)).await;
    assert_eq!(treasurer.role, Role::Treasurer);
    let status = w
        .core
        .billing_status(&treasurer)
        .await
        .expect("a treasurer sees it");
    assert!(status.onboarded);
    w.check().await;
}

/// The org's issuance and the platform's euro entry are two transactions (the org's schema may
/// live on another node). A crash between them leaves the event pending; applying it again
/// issues nothing more and writes the missing euro entry.
#[tokio::test]
async fn a_crash_between_the_issuance_and_the_euro_entry_is_resumed_once() {
    let w = world("topup-crash").await;
    let fay = w.member("fay").await;
    let key = IdempotencyKey::scoped("test", "fay", "crash").expect("key");
    let link = w.core.start_topup(&fay, "40", key).await.expect("topup");
    let session = link.url.rsplit('/').next().expect("session").to_owned();
    let paid = w.fake.event(
        "evt_crash_paid",
        "checkout.session.completed",
        Some(&w.account),
        w.fake.session(&session, "paid"),
    );
    assert_eq!(deliver(&w.webhook, &w.old, &paid).await, 200);

    // The euro side fails after the org's transaction committed: the process "dies" there.
    sqlx::raw_sql(
        "CREATE FUNCTION control.crash() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'crash between the two sides'; END $$;
         CREATE TRIGGER crash BEFORE INSERT ON control.euro_entries
             FOR EACH ROW EXECUTE FUNCTION control.crash();",
    )
    .execute(&w.core.pool)
    .await
    .expect("crash trigger");
    let done = w.core.apply_provider_events(10).await.expect("apply");
    assert_eq!(done.failed, 1, "{done:?}");
    assert_eq!(
        w.coins(&fay).await,
        6000,
        "the org's side committed: 60.00 coins"
    );
    assert_eq!(w.core.pending_provider_events().await.expect("pending"), 1);
    let status = w.core.billing_status(&w.org.admin).await.expect("status");
    assert_eq!(status.euros.reserve_cents, 0, "the euro side did not");

    // Restarted: the event is applied again, the issuance is found done, the euros written.
    sqlx::raw_sql("DROP TRIGGER crash ON control.euro_entries; DROP FUNCTION control.crash();")
        .execute(&w.core.pool)
        .await
        .expect("no more crashes");
    let done = w.core.apply_provider_events(10).await.expect("apply");
    assert_eq!(done.applied, 1, "{done:?}");
    assert_eq!(w.coins(&fay).await, 6000, "still once");
    let status = w.core.billing_status(&w.org.admin).await.expect("status");
    assert_eq!(status.euros.reserve_cents, 4000);
    w.check().await;
}
