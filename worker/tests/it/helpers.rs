use chrono::{DateTime, Utc};
use coinsence_api::Core;
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::issuance::{IssuancePolicyView, NewIssuancePolicy, Period};
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::tenancy::Tenant;
use sqlx::PgPool;

pub struct TestDb {
    pub core: Core,
    pub pool: PgPool,
    pub url: String,
}

pub async fn db() -> TestDb {
    let (pool, url) = coinsence_api::testing::test_database()
        .await
        .expect("test database");
    TestDb {
        core: Core::new(pool.clone()),
        pool,
        url,
    }
}

/// An org with an owner (admin), `members` more members and currency COIN (scale 2).
pub struct Org {
    pub tenant: Tenant,
    pub admin: Member,
    pub members: Vec<UserId>,
}

pub async fn org(db: &TestDb, slug: &str, members: usize) -> Org {
    let core = &db.core;
    let admin = coinsence_api::testing::org_with_coin(core, slug, slug, true)
        .await
        .admin;
    let ids: Vec<UserId> = sqlx::query_scalar(
        "INSERT INTO control.users (email, password_hash, display_name)
         SELECT $1 || '-' || i || '@members.test', '!', 'member ' || i FROM generate_series(1, $2) i
         RETURNING id",
    )
    .bind(slug)
    .bind(i64::try_from(members).unwrap_or(0))
    .fetch_all(&db.pool)
    .await
    .unwrap();
    core.admit_members(&admin, &ids).await.unwrap();
    let mut all = vec![admin.user.id];
    all.extend(ids);
    Org {
        tenant: admin.tenant.clone(),
        admin,
        members: all,
    }
}

pub fn policy(
    fixed: Option<&str>,
    top_up: Option<&str>,
    demurrage_bp: Option<i32>,
) -> NewIssuancePolicy {
    NewIssuancePolicy {
        currency: "COIN".to_owned(),
        period: Period::Weekly,
        time_zone: Some("Europe/Berlin".to_owned()),
        fixed_amount: fixed.map(str::to_owned),
        top_up_to: top_up.map(str::to_owned),
        demurrage_bp,
        starts_at: None,
    }
}

pub async fn create_policy(db: &TestDb, org: &Org, new: NewIssuancePolicy) -> IssuancePolicyView {
    db.core
        .create_issuance_policy(&org.admin, new)
        .await
        .expect("policy")
}

/// Every member account's balance of COIN (minor units), by owner.
pub async fn balances(db: &TestDb, org: &Org) -> Vec<(i64, i64)> {
    let sql = format!(
        "SELECT a.owner_user_id, a.balance FROM {}.accounts a JOIN {}.currencies c ON c.id = a.currency_id
         WHERE c.code = 'COIN' AND a.kind = 'member' ORDER BY a.owner_user_id",
        org.tenant.schema(),
        org.tenant.schema()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// `SELECT count(*) FROM <rest>` inside the org's schema.
pub async fn count(db: &TestDb, org: &Org, rest: &str) -> i64 {
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(org.tenant.schema().as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {rest}")))
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{rest}: {e}"))
}

/// The ledger verifies: balances sum to zero, the journal replays, no floor is broken.
pub async fn assert_verifies(db: &TestDb, org: &Org) {
    let checks = db.core.verify_ledger(&org.admin).await.unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

pub fn weeks(n: i64) -> chrono::Duration {
    chrono::Duration::days(7 * n)
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
