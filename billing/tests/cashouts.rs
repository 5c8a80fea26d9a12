//! Cash-outs, refunds, disputes and the reconcile job end to end against real PostgreSQL and a
//! fake Stripe. Every test ends with the world's invariants: the euro reserve is euros in minus
//! euros out (paid cash-outs and clawbacks), the coins euros still back match the reserve at
//! the rate used, a hold for every cash-out under way, the coin ledger verifies, no secret in
//! any log line.

// Helpers outside `#[test]` functions unwrap too (clippy.toml allows it only inside them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_stripe;
mod world;

use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::domain::identity::Role;
use coinsence_api::domain::ids::ProposalId;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::orgs::Member;
use coinsence_api::testing::org_with_coin;
use futures::future::join_all;
use world::{World, code, world};

fn key(name: &str) -> IdempotencyKey {
    IdempotencyKey::scoped("test", "cashout", name).expect("key")
}

/// A treasurer with 150.00 coins from a 100 euro top-up (the reserve is 100 euros).
async fn treasurer(w: &World, name: &str) -> Member {
    let tess = w.member_as(name, Some(Role::Treasurer)).await;
    w.topped_up(&tess, "100").await;
    assert_eq!(w.coins(&tess).await, 15_000);
    tess
}

async fn fund(w: &World) -> i64 {
    w.core
        .accounts(&w.org.admin)
        .await
        .expect("accounts")
        .into_iter()
        .find(|a| a.account.kind.as_str() == "fund" && a.currency.code.as_str() == "COIN")
        .map_or(0, |a| a.account.balance)
}

async fn reserve(w: &World) -> i64 {
    w.core
        .billing_status(&w.org.admin)
        .await
        .expect("status")
        .euros
        .reserve_cents
}

#[tokio::test]
async fn a_small_cashout_needs_a_second_person_and_is_paid_once() {
    let w = world("cashout-small").await;
    w.core
        .set_cashout_terms(&w.org.admin, "100", 200)
        .await
        .expect("terms: 2 % exit fee");
    let tess = treasurer(&w, "tess").await;

    // 30 coins: 0.60 to the fund, 29.40 paid out as 19.60 euros (3 coins per 2 euros).
    let asked = w
        .core
        .request_cashout(&tess, "30", key("small"))
        .await
        .expect("request");
    assert_eq!(
        (asked.status.as_str(), asked.approval.as_str()),
        ("pending", "person")
    );
    assert_eq!((asked.fee.as_str(), asked.cents), ("0.60", 1960));
    let again = w
        .core
        .request_cashout(&tess, "30", key("small"))
        .await
        .expect("a retry");
    assert_eq!(again.id, asked.id, "a retry gets the same cash-out");
    assert_eq!(
        w.coins(&tess).await,
        15_000,
        "nothing moves before approval"
    );

    assert_eq!(
        code(w.core.approve_cashout(&tess, asked.id).await),
        Some("cashout_own_approval")
    );
    let approved = w
        .core
        .approve_cashout(&w.org.admin, asked.id)
        .await
        .expect("the admin approves");
    assert_eq!(approved.status, "requested");
    assert_eq!(w.coins(&tess).await, 12_000, "30 coins into escrow");

    // One payout on the org's own account, for the euros, under our own key.
    let payouts = w.fake.requests_to("/v1/payouts");
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0].account.as_deref(), Some(w.account.as_str()));
    assert_eq!(
        payouts[0].idempotency_key.as_deref(),
        Some(format!("cashout:{}", asked.id).as_str())
    );
    assert_eq!(payouts[0].form["amount"], "1960");
    assert_eq!(payouts[0].form["currency"], "eur");
    let again = w
        .core
        .approve_cashout(&w.org.admin, asked.id)
        .await
        .expect("approving again answers as the first time");
    assert_eq!(again.payout, approved.payout);
    assert_eq!(w.fake.payouts().len(), 1, "and asks Stripe for nothing new");

    // Paid, told twice: the escrow is burned (the fee to the fund), the reserve debited once.
    let payout = approved.payout.clone().expect("payout id");
    let paid = w.payout_event("evt_po_paid", &payout, "paid");
    w.deliver_and_apply(&paid).await;
    w.deliver_and_apply(&paid).await;
    let done = w.core.cashout(&w.org.admin, asked.id).await.expect("read");
    assert_eq!(done.status, "paid");
    assert_eq!(reserve(&w).await, 10_000 - 1_960);
    assert_eq!(fund(&w).await, 60);
    assert_eq!(w.coins(&tess).await, 12_000);
    w.check().await;
}

#[tokio::test]
async fn a_large_cashout_is_decided_by_a_proposal_and_a_failed_payout_gives_the_coins_back() {
    let w = world("cashout-vote").await;
    w.core
        .set_cashout_terms(&w.org.admin, "50", 0)
        .await
        .expect("terms");
    let tess = treasurer(&w, "tess").await;
    // 120 coins are 80 euros: at or above the 50 euro threshold, a vote decides.
    let asked = w
        .core
        .request_cashout(&tess, "120", key("large"))
        .await
        .expect("request");
    assert_eq!(asked.approval, "proposal");
    let proposal = asked.proposal.expect("a proposal was opened");
    assert_eq!(
        code(w.core.approve_cashout(&w.org.admin, asked.id).await),
        Some("cashout_by_proposal"),
        "one person cannot approve it"
    );
    for voter in [&w.org.admin, &tess] {
        w.core
            .vote(voter, ProposalId(proposal), Choice::Yes)
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
    let escrowed = w.core.cashout(&tess, asked.id).await.expect("read");
    assert_eq!(
        escrowed.status, "escrowed",
        "the passed vote moved the coins"
    );
    assert_eq!(w.coins(&tess).await, 3_000);
    assert_eq!(w.core.resume_cashouts().await.expect("resume"), 1);
    let payouts = w.fake.payouts();
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0]["amount"], 8_000);

    // The bank refuses: the coins come back, the reserve is untouched and free again.
    let id = payouts[0]["id"].as_str().expect("id").to_owned();
    let failed = w.payout_event("evt_po_failed", &id, "failed");
    w.deliver_and_apply(&failed).await;
    w.deliver_and_apply(&failed).await;
    let done = w.core.cashout(&tess, asked.id).await.expect("read");
    assert_eq!(done.status, "failed");
    assert_eq!(w.coins(&tess).await, 15_000, "re-issued from escrow, once");
    assert_eq!(reserve(&w).await, 10_000);
    w.check().await;
    // The released euros can be cashed out again (below the threshold now: 45 euros).
    let next = w
        .core
        .request_cashout(&tess, "67.50", key("after-failure"))
        .await
        .expect("the hold was released");
    assert_eq!(next.cents, 4_500);
    w.check().await;
}

#[tokio::test]
async fn a_crash_between_the_escrow_and_the_payout_request_resumes_with_one_payout() {
    let w = world("cashout-crash").await;
    let tess = treasurer(&w, "tess").await;
    let asked = w
        .core
        .request_cashout(&tess, "15", key("crash"))
        .await
        .expect("request");
    // Stripe is down when the coins move: the cash-out stays escrowed.
    w.fake.fail_with(Some(500));
    let approved = w
        .core
        .approve_cashout(&w.org.admin, asked.id)
        .await
        .expect("approval does not wait for Stripe");
    assert_eq!(approved.status, "escrowed");
    assert_eq!(w.coins(&tess).await, 13_500);
    w.fake.fail_with(None);

    // Two workers resume at once, then the worker dies after Stripe answered and before it
    // recorded the payout (the row is put back as it was), and resumes again.
    let (a, b) = tokio::join!(w.core.resume_cashouts(), w.core.resume_cashouts());
    a.expect("resume");
    b.expect("resume");
    let first = w.core.cashout(&tess, asked.id).await.expect("read");
    assert_eq!(first.status, "requested");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE org_{}.cashouts SET status = 'escrowed', payout_id = NULL WHERE id = $1",
        tess.tenant.id.0
    )))
    .bind(asked.id)
    .execute(&w.core.pool)
    .await
    .expect("lose the answer");
    w.core.resume_cashouts().await.expect("resume");
    let resumed = w.core.cashout(&tess, asked.id).await.expect("read");
    assert_eq!(resumed.payout, first.payout, "the same payout");
    assert_eq!(w.fake.payouts().len(), 1, "Stripe created one payout");
    let keys: Vec<_> = w
        .fake
        .requests_to("/v1/payouts")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert!(keys.len() >= 3, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.as_deref() == Some(format!("cashout:{}", asked.id).as_str())),
        "every request under the same key: {keys:?}"
    );
    let paid = w.payout_event(
        "evt_po_crash_paid",
        resumed.payout.as_deref().expect("id"),
        "paid",
    );
    w.deliver_and_apply(&paid).await;
    assert_eq!(reserve(&w).await, 10_000 - 1_000);
    w.check().await;
}

#[tokio::test]
async fn two_concurrent_cashouts_that_together_exceed_the_reserve_one_is_refused() {
    let w = world("cashout-race").await;
    let tess = treasurer(&w, "tess").await;
    // The reserve is 100 euros. Tom, a second treasurer, got 150 coins by issuance (no euros
    // behind them). Both ask for 60 euros' worth (90 coins) at once: each has the coins, the
    // reserve is there for only one.
    let tom = w.member_as("tom", Some(Role::Treasurer)).await;
    w.core
        .issue(
            &w.org.admin,
            MoveRequest {
                currency: "COIN".to_owned(),
                to: AccountRef::Member(tom.user.id),
                amount: "150".to_owned(),
                memo: "issued".to_owned(),
            },
            key("issue-tom"),
        )
        .await
        .expect("issue");
    let results = join_all([
        w.core.request_cashout(&tess, "90", key("race-a")),
        w.core.request_cashout(&tom, "90", key("race-b")),
    ])
    .await;
    let codes: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| e.code()))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "one goes through: {codes:?}"
    );
    assert!(
        codes.contains(&Some("cashout_exceeds_reserve")),
        "the other is refused: {codes:?}"
    );
    assert_eq!(
        world::cashouts_under_way(&w.core, &tess).await,
        1,
        "the refusal left nothing behind"
    );
    // What is left (40 euros) still can be asked for.
    assert_eq!(
        code(w.core.request_cashout(&tess, "60.01", key("race-c")).await),
        Some("cashout_not_whole_cents")
    );
    assert_eq!(
        code(w.core.request_cashout(&tess, "61.50", key("race-d")).await),
        Some("cashout_exceeds_reserve")
    );
    w.core
        .request_cashout(&tess, "60", key("race-e"))
        .await
        .expect("the rest fits");
    w.check().await;
}

#[tokio::test]
async fn a_member_cannot_cash_out_and_another_org_cannot_reach_cashouts() {
    let w = world("cashout-walls").await;
    let eve = w.member("eve").await;
    w.topped_up(&eve, "20").await;
    assert_eq!(
        code(w.core.request_cashout(&eve, "10", key("eve")).await),
        Some("not_treasurer")
    );
    let tess = treasurer(&w, "tess").await;
    let asked = w
        .core
        .request_cashout(&tess, "15", key("walls"))
        .await
        .expect("request");
    assert_eq!(
        code(w.core.approve_cashout(&eve, asked.id).await),
        Some("not_treasurer")
    );
    assert_eq!(
        code(w.core.cashout(&eve, asked.id).await),
        Some("not_treasurer")
    );

    let other = org_with_coin(&w.core, "other-cashouts", "Other", false).await;
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
    let id = asked.id;
    for (method, path) in [
        ("GET", "billing/cashout-terms".to_owned()),
        ("PUT", "billing/cashout-terms".to_owned()),
        ("POST", "billing/cashouts".to_owned()),
        ("GET", format!("billing/cashouts/{id}")),
        ("POST", format!("billing/cashouts/{id}/approve")),
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
    let still = w.core.cashout(&tess, id).await.expect("read");
    assert_eq!(still.status, "pending", "nothing touched it");
    w.check().await;
}

#[tokio::test]
async fn a_dispute_after_the_coins_were_spent_leaves_the_member_at_the_floor_and_the_rest_on_clawback()
 {
    let w = world("cashout-dispute").await;
    let ada = w.member("ada").await;
    let session = w.topped_up(&ada, "20").await;
    // Ada spends 25 of her 30 coins.
    w.core
        .pay(
            &ada,
            MoveRequest {
                currency: "COIN".to_owned(),
                to: AccountRef::Member(w.org.admin.user.id),
                amount: "25".to_owned(),
                memo: "lunch".to_owned(),
            },
            key("spend"),
        )
        .await
        .expect("pay");
    let lost = w.fake.event(
        "evt_dispute_lost",
        "charge.dispute.closed",
        Some(&w.account),
        w.fake.dispute("du_1", &session, 2_000, "lost"),
    );
    w.deliver_and_apply(&lost).await;
    // The same dispute again under another event id (Stripe may send both): once per dispute.
    let mut again = lost.clone();
    again["id"] = serde_json::json!("evt_dispute_lost_again");
    w.deliver_and_apply(&again).await;
    assert_eq!(w.coins(&ada).await, 0, "the member ends at her floor");
    let status = w.core.billing_status(&w.org.admin).await.expect("status");
    assert_eq!(status.clawbacks.coins, 3_000);
    assert_eq!(
        status.clawbacks.shortfall, 2_500,
        "the rest is on the clawback account"
    );
    assert_eq!(status.euros.reserve_cents, 0);
    // A won dispute changes nothing.
    let won = w.fake.event(
        "evt_dispute_won",
        "charge.dispute.closed",
        Some(&w.account),
        w.fake.dispute("du_2", &session, 2_000, "won"),
    );
    w.deliver_and_apply(&won).await;
    assert_eq!(
        w.core
            .billing_status(&w.org.admin)
            .await
            .expect("status")
            .clawbacks
            .coins,
        3_000
    );
    w.check().await;
}

#[tokio::test]
async fn refunds_take_back_what_each_refund_added_once() {
    let w = world("cashout-refund").await;
    let ben = w.member("ben").await;
    let session = w.topped_up(&ben, "10").await;
    assert_eq!(w.coins(&ben).await, 1_500);
    // A part refund of 4 euros, delivered twice, then the rest (10 euros refunded in all).
    let part = w.fake.event(
        "evt_refund_part",
        "charge.refunded",
        Some(&w.account),
        w.fake.refunded_charge(&session, 1_000, 400),
    );
    w.deliver_and_apply(&part).await;
    w.deliver_and_apply(&part).await;
    assert_eq!(w.coins(&ben).await, 900, "4 euros are 6 coins");
    assert_eq!(reserve(&w).await, 600);
    let full = w.fake.event(
        "evt_refund_full",
        "charge.refunded",
        Some(&w.account),
        w.fake.refunded_charge(&session, 1_000, 1_000),
    );
    w.deliver_and_apply(&full).await;
    assert_eq!(w.coins(&ben).await, 0);
    assert_eq!(reserve(&w).await, 0);
    w.check().await;
}

#[tokio::test]
async fn reconcile_applies_an_event_the_webhook_never_delivered_once() {
    let w = world("cashout-reconcile").await;
    let cleo = w.member("cleo").await;
    let key = IdempotencyKey::scoped("test", "cleo", "lost").expect("key");
    let link = w.core.start_topup(&cleo, "20", key).await.expect("topup");
    let session = link.url.rsplit('/').next().expect("session").to_owned();
    let paid = w.fake.event(
        "evt_never_delivered",
        "checkout.session.completed",
        Some(&w.account),
        w.fake.session(&session, "paid"),
    );
    // Stripe has it in its list; the webhook never saw it.
    w.fake.publish(&paid);
    assert_eq!(
        w.core.reconcile_provider_events().await.expect("reconcile"),
        1
    );
    w.core.apply_provider_events(10).await.expect("apply");
    assert_eq!(w.coins(&cleo).await, 3_000);
    // Again (and the webhook delivering it late): nothing more.
    assert_eq!(
        w.core.reconcile_provider_events().await.expect("reconcile"),
        0
    );
    w.deliver_and_apply(&paid).await;
    assert_eq!(w.coins(&cleo).await, 3_000, "applied once");
    // A later event only in the list is found from the cursor on.
    let tess = w.member_as("tess", Some(Role::Treasurer)).await;
    let link = w
        .core
        .start_topup(
            &tess,
            "10",
            IdempotencyKey::scoped("test", "tess", "later").expect("key"),
        )
        .await
        .expect("topup");
    let session = link.url.rsplit('/').next().expect("session").to_owned();
    w.fake.publish(&w.fake.event(
        "evt_later",
        "checkout.session.completed",
        Some(&w.account),
        w.fake.session(&session, "paid"),
    ));
    assert_eq!(
        w.core.reconcile_provider_events().await.expect("reconcile"),
        1
    );
    w.core.apply_provider_events(10).await.expect("apply");
    assert_eq!(w.coins(&tess).await, 1_500);
    w.check().await;
}
