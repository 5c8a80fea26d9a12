//! [`Core`]: the handle every edge (HTTP, CLI, chat, jobs) uses to run domain operations.
//! The operations themselves live with their area under `domain/`, each in an `impl Core`
//! block of the file below. Where to find `Core::something`:
//!
//! | Area | File | What its `impl Core` does |
//! |---|---|---|
//! | Orgs and membership | `domain/orgs.rs` | signup (with a new org), create orgs, find orgs, resolve a token in an org (`member_for_token`, `payer_for_token`), join, admit and list members |
//! | Identity | `domain/identity.rs` | login, logout, list and revoke tokens, issue a token |
//! | Ledger | `domain/ledger/ops.rs` | currencies, accounts, pay (`pay`, `pay_as`, `pay_with_token`), issue, history, `verify_ledger` |
//! | Issuance | `domain/ledger/issuance.rs` | scheduled issuance and demurrage policies, and running them |
//! | Seals | `domain/ledger/seal.rs` | seal the journal's hash chain, list and audit seals |
//! | Rules | `domain/governance/rules.rs` | the org's decision rules: read and set them |
//! | Proposals | `domain/governance/proposals.rs` | propose, list, vote, close what is due (runs `governance/actions.rs`) |
//! | Pledges | `domain/governance/pledges.rs` | pledge, list pledges and their sums |
//! | Projects | `domain/governance/projects.rs` | create projects, invest, pay from a project, settle, guard shares |
//! | Market | `domain/governance/market.rs` | listings: create, list, close, buy |
//! | Feed | `domain/governance/feed.rs` | posts and comments |
//! | Outbox | `domain/governance/outbox.rs` | pending events for the chat side, mark delivered, parked |
//! | Archive | `domain/archive/mod.rs` | an org's export (the CLI's `org export`, the portal's button for its admins) |
//! | Chat | `domain/chat.rs` | connect codes and rooms, chat identities and their member, login links, delivery |
//! | Billing | `domain/billing/` | euro top-ups: terms, start, provider events applied, account onboarding and status |
//! | Follow-ups | `domain/follow_up.rs` | where follow-up jobs go (`with_follow_ups`) |
//! | Construction | `core.rs` (here) | `new` (defaults), `with_config` (a [`CoreConfig`] from `config.rs`, built by the binary from its flags) and the `with_*` settings |
//!
//! Below the areas, without `impl Core`: `domain/tenancy.rs` (org schemas, [`TenantTx`],
//! `retrying`), `domain/idempotency.rs` (keys and create-once), `domain/money.rs` (amounts),
//! `domain/ledger/{store,posting,queue,currencies}.rs` (SQL, rules, the transfer lanes, currency
//! lookups), `domain/governance/{tally,kind}.rs`, `domain/text.rs`, `domain/ids.rs`.
//!
//! [`TenantTx`]: crate::domain::tenancy::TenantTx

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::PgPool;

use crate::batch::Batcher;
use crate::config::CoreConfig;
use crate::domain::identity::TokenTerms;
use crate::domain::ids::{CurrencyId, TenantId};
use crate::domain::ledger::queue::{QueueConfig, TransferQueue};
use crate::domain::ledger::{Currency, CurrencyCode, CurrencyKind};
use crate::domain::orgs::{Member, OrgCaps, PayerMemory, TokenInOrg, members_for_tokens};
use crate::domain::spare_schemas::Spares;
use crate::error::Result;

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub(crate) transfers: TransferQueue,
    /// Token and membership lookups, batched across concurrent requests.
    pub(crate) access: Batcher<TokenInOrg, Result<Member>>,
    /// Members recently resolved for payments (see [`Core::payer_for_token`]).
    pub(crate) payers: Arc<PayerMemory>,
    /// How long tokens live (see [`TokenTerms`]).
    pub(crate) tokens: TokenTerms,
    /// How many orgs a person and an address may create a day (see [`OrgCaps`]).
    pub(crate) org_caps: OrgCaps,
    /// Currencies never change once created (their scale above all), so they are cached.
    pub(crate) currencies: Arc<RwLock<HashMap<(TenantId, CurrencyCode), Currency>>>,
    /// A currency's kind never changes either; payments look it up to guard project shares.
    pub(crate) currency_kinds: Arc<RwLock<HashMap<(TenantId, CurrencyId), CurrencyKind>>>,
    /// Members per transaction when an issuance period is applied (see `ledger::issuance`).
    pub(crate) issuance_chunk: usize,
    /// Where follow-up jobs go (see `domain::follow_up`); none: the schedules do it all.
    pub(crate) follow_ups: Option<Arc<dyn crate::domain::follow_up::FollowUps>>,
    /// Schemas prepared ahead for new orgs (see `domain::spare_schemas`).
    pub spares: Spares,
    /// The payment provider for euro top-ups (see `domain::billing`); none: top-ups are off.
    pub(crate) payments: Option<Arc<dyn crate::domain::billing::PaymentProvider>>,
}

impl Core {
    /// With the defaults ([`CoreConfig::default`]): tests and tools. The binary's commands use
    /// [`Core::with_config`] with what their flags say. Needs a Tokio runtime: the batchers
    /// start their tasks here.
    pub fn new(pool: PgPool) -> Self {
        Self::with_config(pool, CoreConfig::default())
    }

    /// The defaults with other transfer lanes.
    pub fn with_queue(pool: PgPool, queue: QueueConfig) -> Self {
        Self::with_config(
            pool,
            CoreConfig {
                queue,
                ..CoreConfig::default()
            },
        )
    }

    /// `pool` serves everything but the payment hot path, which gets a pool of its own of
    /// `config.hot_pool_size` connections.
    pub fn with_config(pool: PgPool, config: CoreConfig) -> Self {
        crate::hashing::configure(config.hashing);
        let hot = hot_path_pool(&pool, config.hot_pool_size);
        let tokens = config.tokens;
        let limits = config.queue.limits;
        Self {
            transfers: TransferQueue::new(hot.clone(), config.queue),
            access: {
                let pool = hot;
                let workers = config.access_lookups.max(1);
                Batcher::spawn("access", workers, 256, limits, move |lookups| {
                    let pool = pool.clone();
                    async move { members_for_tokens(&pool, tokens, lookups).await }
                })
            },
            payers: Arc::default(),
            tokens,
            org_caps: config.org_caps,
            pool,
            currencies: Arc::default(),
            currency_kinds: Arc::default(),
            issuance_chunk: crate::domain::ledger::issuance::CHUNK,
            follow_ups: None,
            spares: Spares::new(config.spare_orgs),
            payments: None,
        }
    }

    /// Keeping another number of spare org schemas (0: none; tests that count schemas).
    pub fn with_spare_orgs(mut self, target: usize) -> Self {
        self.spares = Spares::new(target);
        self
    }

    /// With other caps on new orgs per person and address and day.
    pub fn with_org_caps(mut self, caps: OrgCaps) -> Self {
        self.org_caps = caps;
        self
    }

    /// With another number of members per issuance transaction (tests make periods span
    /// several transactions with small orgs).
    pub fn with_issuance_chunk(mut self, members: usize) -> Self {
        self.issuance_chunk = members.max(1);
        self
    }
}

/// Connections for the statements every payment runs (token lookup, account locks, journal
/// writes). Their arrays vary in length, so PostgreSQL would plan them anew on every execution
/// (a third of a millisecond for the token lookup); their generic plans are index lookups
/// whatever the arrays hold, so these connections always use them. Other queries keep custom
/// plans, which they need (optional filters written as `$1 IS NULL OR ...`).
fn hot_path_pool(pool: &PgPool, size: Option<u32>) -> PgPool {
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    crate::citus::custom_plans_on_citus(sqlx::postgres::PgPoolOptions::new())
        .max_connections(size.unwrap_or_else(|| pool.options().get_max_connections()))
        .acquire_timeout(pool.options().get_acquire_timeout())
        .test_before_acquire(false)
        .connect_lazy_with(options)
}
