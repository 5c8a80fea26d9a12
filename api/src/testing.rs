//! Test fixtures shared by every crate's tests (the `testing` feature; never in the production
//! binary): a database of its own per test on a private cluster started once per test process,
//! an org with an owner and a coin, and a member as `Core` would resolve one.

use std::str::FromStr;

use anyhow::Context;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use tokio::sync::OnceCell;

use crate::Core;
use crate::cluster::{Cluster, ClusterOptions, connect};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::identity::{ApiToken, Role, User};
use crate::domain::ids::UserId;
use crate::domain::ledger::AccountRef;
use crate::domain::ledger::ops::MoveRequest;
use crate::domain::ledger::ops::NewCurrency;
use crate::domain::orgs::{Member, NewOrg};
use crate::domain::tenancy::{OrgSlug, Tenant};

/// A member as `Core` would resolve one, for tests that act as a bot or a job would.
pub fn member(tenant: Tenant, user: User, role: Role) -> Member {
    Member { tenant, user, role }
}

/// An org with its owner, who is its admin, and the owner's first token.
pub struct TestOrg {
    pub admin: Member,
    pub token: ApiToken,
}

/// Org `slug` named `name` (open to join or not), its owner "Owner" (`owner@<slug>.test`) and
/// its currency COIN (scale 2, no credit): what most tests start from.
pub async fn org_with_coin(core: &Core, slug: &str, name: &str, open: bool) -> TestOrg {
    let coin = NewCurrency {
        code: "COIN".to_owned(),
        name: "Coin".to_owned(),
        scale: 2,
        credit_limit: None,
    };
    org_with_currency(core, slug, name, open, coin).await
}

/// Like [`org_with_coin`], with `currency` instead (orgs that trade on the exchange need
/// currencies of different codes).
pub async fn org_with_currency(
    core: &Core,
    slug: &str,
    name: &str,
    open: bool,
    currency: NewCurrency,
) -> TestOrg {
    let owner = core
        .signup(
            &format!("owner@{slug}.test"),
            "correct horse".to_owned(),
            "Owner",
            Some(NewOrg {
                slug: OrgSlug::parse(slug).unwrap_or_else(|e| panic!("slug {slug}: {e}")),
                name: name.to_owned(),
                open,
                language: Default::default(),
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("signup: {e}"));
    let admin = core
        .member_for_token(&owner.token, slug)
        .await
        .unwrap_or_else(|e| panic!("the owner in {slug}: {e}"));
    core.create_currency(&admin, currency)
        .await
        .unwrap_or_else(|e| panic!("currency: {e}"));
    TestOrg {
        admin,
        token: owner.token,
    }
}

/// `n` new members of the admin's org named `<prefix>-<i>` (users written directly, without a
/// password: hundreds in one statement), each issued `grant` of `currency` when it is not "0".
pub async fn many_members(
    core: &Core,
    admin: &Member,
    prefix: &str,
    n: usize,
    currency: &str,
    grant: &str,
) -> Vec<Member> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "INSERT INTO control.users (email, password_hash, display_name)
         SELECT $1 || '-' || i || '@' || $2 || '.test', 'no password', $1 || '-' || i
           FROM generate_series(1, $3) AS i
         RETURNING id, email, display_name",
    )
    .bind(prefix)
    .bind(admin.tenant.slug.as_str())
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(&core.pool)
    .await
    .unwrap_or_else(|e| panic!("users {prefix}: {e}"));
    let ids: Vec<UserId> = rows.iter().map(|(id, _, _)| UserId(*id)).collect();
    core.admit_members(admin, &ids)
        .await
        .unwrap_or_else(|e| panic!("admitting {prefix}: {e}"));
    let mut members = Vec::with_capacity(rows.len());
    for (id, email, display_name) in rows {
        let user = User {
            id: UserId(id),
            email,
            display_name,
            language: None,
        };
        if grant != "0" {
            core.issue(
                admin,
                MoveRequest {
                    currency: currency.to_owned(),
                    to: AccountRef::Member(user.id),
                    amount: grant.to_owned(),
                    memo: "start".to_owned(),
                },
                IdempotencyKey::scoped("test", "grant", &format!("{prefix}-{id}"))
                    .unwrap_or_else(|e| panic!("key: {e}")),
            )
            .await
            .unwrap_or_else(|e| panic!("grant to {id}: {e}"));
        }
        members.push(member(admin.tenant.clone(), user, Role::Member));
    }
    members
}

/// Lists the admin's org's currency `code` (of `scale` places) on the exchange as a passed
/// `list_on_exchange` vote does: `trustline` in whole units of each foreign currency,
/// `max_out_per_round` in minor units of `code`.
pub async fn listed_on_exchange(
    core: &Core,
    admin: &Member,
    code: &str,
    scale: i16,
    trustline: i64,
    max_out_per_round: i64,
) {
    sqlx::query(
        "INSERT INTO control.exchange_listings
             (tenant_id, currency_code, scale, trustline, max_out_per_round, proposal_id)
         VALUES ($1, $2, $3, $4, $5, 0)",
    )
    .bind(admin.tenant.id)
    .bind(code)
    .bind(scale)
    .bind(trustline)
    .bind(max_out_per_round)
    .execute(&core.pool)
    .await
    .unwrap_or_else(|e| panic!("listing {code}: {e}"));
}

/// The server the tests use: `DATABASE_URL`, or a private cluster started once per process.
async fn test_server_url() -> anyhow::Result<&'static str> {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_try_init(|| async {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Ok(url);
        }
        let dir = std::env::temp_dir().join(format!("coinsence-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let cluster = tokio::task::spawn_blocking(move || {
            Cluster::start(
                &dir,
                ClusterOptions {
                    fsync: false,
                    remove_on_exit: true,
                },
            )
        })
        .await??;
        let url = cluster.url("postgres");
        // The watchdog stops it when the process ends.
        std::mem::forget(cluster);
        Ok(url)
    })
    .await
    .map(String::as_str)
}

/// A fresh, empty database with the control plane migrated, on the test server.
///
/// With `COINSENCE_TEST_CITUS=1` the database is on a local Citus cluster instead (one per test
/// process), so that any test suite can be run there.
pub async fn test_database() -> anyhow::Result<(PgPool, String)> {
    static N: AtomicU64 = AtomicU64::new(0);
    if std::env::var("COINSENCE_TEST_CITUS").is_ok_and(|v| v == "1") {
        return crate::citus::test_database()
            .await?
            .context("COINSENCE_TEST_CITUS=1 but Citus is not installed");
    }
    let server = test_server_url().await?;
    let admin = connect(server, 1).await?;
    let name = format!(
        "t{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    admin.close().await;
    let mut options = PgConnectOptions::from_str(server)?;
    options = options.database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    crate::migrate::migrate_control(&pool).await?;
    let url = replace_database(server, &name);
    Ok((pool, url))
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgresql://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// Puts an org back where an org sealed by the hash chain alone stood before the Merkle log
/// (issue 20): its seals stay; the tree, its heads and the migrations that made them
/// (tenant 0012, 0016) are undone, so the next `migrate` builds the tree over the old seals.
pub async fn sealed_before_the_merkle_log(pool: &PgPool, tenant: &Tenant) -> anyhow::Result<()> {
    let schema = tenant.schema();
    // One statement at a time: Citus refuses several DDL commands in one string.
    for statement in [
        format!("DROP TABLE {schema}.tree_heads, {schema}.merkle_nodes, {schema}.merkle_leaves"),
        format!("DROP FUNCTION IF EXISTS {schema}.merkle_backfill()"),
        format!("DROP FUNCTION IF EXISTS {schema}.journal_leaf_hash"),
        format!("DELETE FROM {schema}.schema_migrations WHERE version IN (12, 16)"),
    ] {
        sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
    }
    Ok(())
}
