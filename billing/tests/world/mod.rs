//! The world every billing test starts from: a database, a fake Stripe, the webhook, an org
//! with its connected account onboarded and top-up terms, and the invariants every test ends
//! with.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use coinsence_api::Core;
use coinsence_api::domain::billing::topups::NewTopupTerms;
use coinsence_api::domain::identity::Role;
use coinsence_api::domain::ledger::ops::IdempotencyKey;
use coinsence_api::domain::orgs::Member;
use coinsence_api::testing::{TestOrg, org_with_coin, test_database};
use coinsence_billing::{BillingArgs, Secret, StripeProvider};
use tokio::sync::Notify;

use crate::fake_stripe::{FakeStripe, deliver};

pub const SECRET_KEY: &str = "sk_test_k3yThatMustNeverBeLogged";
pub const OLD_SECRET: &str = "whsec_oldSigningSecretNeverLogged";
pub const NEW_SECRET: &str = "whsec_newSigningSecretNeverLogged";

/// Every log line of this test binary, for the check that no secret is in any.
pub fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct World {
    pub core: Core,
    pub fake: FakeStripe,
    pub webhook: String,
    pub org: TestOrg,
    pub account: String,
    pub old: Secret,
    pub new: Secret,
}

pub fn args(fake: &FakeStripe) -> BillingArgs {
    BillingArgs {
        stripe_secret_key: Some(Secret::new(SECRET_KEY)),
        stripe_webhook_secrets: vec![Secret::new(OLD_SECRET), Secret::new(NEW_SECRET)],
        stripe_fee_bp: 150,
        stripe_api_base: fake.url.clone(),
        billing_return_url: "https://portal.test/billing".to_owned(),
    }
}

/// An org with its connected account onboarded and enabled, and terms of 3 coins per 2 euros
/// between 5 and 100 euros, at most 150 a month.
pub async fn world(slug: &str) -> World {
    captured();
    let (pool, _) = test_database().await.expect("database");
    let fake = FakeStripe::start().await;
    let args = args(&fake);
    let provider = StripeProvider::from_args(&args)
        .expect("provider")
        .expect("configured");
    let core = Core::new(pool).with_payment_provider(Arc::new(provider));
    let org = org_with_coin(&core, slug, "Top-up Town", true).await;

    let stored = Arc::new(Notify::new());
    let app = coinsence_billing::router(core.clone(), args.stripe_webhook_secrets.clone(), stored);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let webhook = format!(
        "http://{}{}",
        listener.local_addr().expect("addr"),
        coinsence_billing::WEBHOOK_PATH
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let link = core
        .billing_onboarding(&org.admin)
        .await
        .expect("onboarding");
    let account = fake.requests_to("/v1/accounts")[0].clone();
    assert_eq!(
        account.idempotency_key.as_deref(),
        Some(format!("account:{}", org.admin.tenant.id).as_str())
    );
    let account = link
        .url
        .rsplit('/')
        .next()
        .expect("the account in the link")
        .to_owned();
    let old = Secret::new(OLD_SECRET);
    let new = Secret::new(NEW_SECRET);
    let event = fake.account_updated(&format!("evt_acct_{slug}"), &account, true);
    assert_eq!(deliver(&webhook, &old, &event).await, 200);
    core.apply_provider_events(10).await.expect("apply");
    let status = core.billing_status(&org.admin).await.expect("status");
    assert!(status.charges_enabled && status.onboarded, "{status:?}");

    core.set_topup_terms(
        &org.admin,
        NewTopupTerms {
            currency: "COIN".to_owned(),
            rate_coins: 3,
            rate_euros: 2,
            min: "5".to_owned(),
            max: "100".to_owned(),
            monthly_max: "150".to_owned(),
        },
    )
    .await
    .expect("terms");
    World {
        core,
        fake,
        webhook,
        org,
        account,
        old,
        new,
    }
}

impl World {
    pub async fn member(&self, name: &str) -> Member {
        self.member_as(name, None).await
    }

    /// A new member; with a role, added by the admin in it.
    pub async fn member_as(&self, name: &str, role: Option<Role>) -> Member {
        let slug = self.org.admin.tenant.slug.as_str().to_owned();
        let email = format!("{name}@{slug}.test");
        let signed = self
            .core
            .signup(&email, "correct horse".to_owned(), name, None)
            .await
            .expect("signup");
        if let Some(role) = role {
            self.core
                .add_member(&self.org.admin, &email, role)
                .await
                .expect("add");
        }
        self.core.join(&signed.user, &slug).await.expect("join")
    }

    pub async fn coins(&self, member: &Member) -> i64 {
        self.core
            .accounts(member)
            .await
            .expect("accounts")
            .into_iter()
            .find(|a| {
                a.currency.code.as_str() == "COIN"
                    && a.account.owner_user_id == Some(member.user.id)
            })
            .map_or(0, |a| a.account.balance)
    }

    /// The invariants every test ends with.
    pub async fn check(&self) {
        let admin = &self.org.admin;
        let status = self.core.billing_status(admin).await.expect("status");
        let euros = status.euros;
        assert!(euros.balanced, "the euro ledger balances: {euros:?}");
        assert_eq!(euros.reserve_cents, euros.in_cents - euros.out_cents);
        let totals = self.core.topup_totals(admin).await.expect("totals");
        assert!(
            totals.matches_journal,
            "coins from top-ups match the journal: {totals:?}"
        );
        assert_eq!(
            totals.euros_cents, euros.in_cents,
            "every paid top-up is in the reserve"
        );
        // Cash-outs and clawbacks: every euro out is a paid cash-out or a clawback, their coins
        // are in the journal, and the coins euros still back match the reserve at the world's
        // rate (3 coins, scale 2, for 2 euros: coins * 2 == cents * 3).
        let cashouts = self.core.cashout_totals(admin).await.expect("cash-outs");
        assert!(
            cashouts.matches_journal,
            "cash-outs match the journal: {cashouts:?}"
        );
        let clawbacks = status.clawbacks;
        assert!(
            clawbacks.matches_journal,
            "clawbacks match the journal: {clawbacks:?}"
        );
        assert_eq!(
            euros.out_cents,
            cashouts.paid_cents + clawbacks.cents,
            "euros out are paid cash-outs and clawbacks"
        );
        let backed = totals.coins - clawbacks.coins - cashouts.burned_coins;
        assert_eq!(
            backed * 2,
            euros.reserve_cents * 3,
            "coins from top-ups minus clawbacks and cash-outs match the reserve"
        );
        let (held,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM control.cashout_holds WHERE tenant_id = $1 AND status = 'held'",
        )
        .bind(admin.tenant.id)
        .fetch_one(&self.core.pool)
        .await
        .expect("holds");
        assert_eq!(
            held,
            cashouts_under_way(&self.core, admin).await,
            "a hold for every cash-out under way, no other"
        );
        for check in self.core.verify_ledger(admin).await.expect("verify") {
            assert!(check.ok, "{check:?}");
        }
        self.no_secret_logged();
    }

    /// `member` tops up `euros` and Stripe says it is paid: returns the checkout session.
    pub async fn topped_up(&self, member: &Member, euros: &str) -> String {
        let key = IdempotencyKey::scoped("test", member.user.id.0.to_string().as_str(), euros)
            .expect("key");
        let link = self
            .core
            .start_topup(member, euros, key)
            .await
            .expect("topup");
        let session = link.url.rsplit('/').next().expect("session").to_owned();
        let paid = self.fake.event(
            &format!("evt_paid_{session}"),
            "checkout.session.completed",
            Some(&self.account),
            self.fake.session(&session, "paid"),
        );
        assert_eq!(deliver(&self.webhook, &self.old, &paid).await, 200);
        let done = self.core.apply_provider_events(10).await.expect("apply");
        assert_eq!(done.failed, 0, "{done:?}");
        session
    }

    /// Delivers `event` (signed now) and applies what is pending.
    pub async fn deliver_and_apply(&self, event: &serde_json::Value) {
        assert_eq!(deliver(&self.webhook, &self.old, event).await, 200);
        let done = self.core.apply_provider_events(20).await.expect("apply");
        assert_eq!(done.failed, 0, "{done:?}");
    }

    /// A `payout.<status>` event for the fake's payout `id`.
    pub fn payout_event(&self, event: &str, id: &str, status: &str) -> serde_json::Value {
        self.fake.event(
            event,
            &format!("payout.{status}"),
            Some(&self.account),
            self.fake.payout(id, status),
        )
    }

    pub fn no_secret_logged(&self) {
        let logs = String::from_utf8_lossy(&captured().lock().expect("logs")).into_owned();
        for secret in [
            SECRET_KEY,
            OLD_SECRET,
            NEW_SECRET,
            "k3yThatMustNever",
            "SigningSecretNever",
        ] {
            assert!(!logs.contains(secret), "a secret is in the log");
        }
    }

    pub async fn stored_events(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM control.provider_events")
            .fetch_one(&self.core.pool)
            .await
            .expect("count");
        n
    }
}

/// A refusal's code, or None for success.
pub fn code<T>(result: Result<T, coinsence_api::Error>) -> Option<&'static str> {
    result.err().map(|e| e.code())
}

/// Cash-outs of the org whose euros are held (pending, escrowed or requested).
pub async fn cashouts_under_way(core: &Core, member: &Member) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM org_{}.cashouts WHERE status IN ('pending', 'escrowed', 'requested')",
        member.tenant.id.0
    );
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(&core.pool)
        .await
        .expect("count");
    n
}
