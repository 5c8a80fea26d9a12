//! Organizations and membership: creating an org (its schema and migrations, in one
//! transaction), joining, admitting, and resolving who is acting in which org.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::identity::{self, ApiToken, Email, Role, TokenTerms, User};
use super::ids::{TenantId, UserId};
use super::joining_grant::{self, JoiningGrant};
use super::ledger::Credential;
use super::ledger::store as ledger_store;
use super::money::Amount;
use super::spare_schemas;
use super::tenancy::{OrgSlug, SchemaName, Tenant, TenantTx};
use crate::core::Core;
use crate::error::{Error, Result, on_unique};
use crate::i18n::Lang;
use crate::migrate;
use crate::refusal::Refusal;

/// A member about to pay over HTTP, with the token that vouched for them (checked again where
/// the money moves).
#[derive(Debug, Clone)]
pub struct Payer {
    pub member: Member,
    pub credential: Credential,
    /// Taken from memory rather than looked up for this request: an answer the payment's write
    /// did not check (a refusal, a replay) must have the token checked first.
    pub remembered: bool,
}

/// Members recently resolved from (token hash, org slug), for payments only. An entry lives a
/// minute; a full memory is emptied rather than managed, since refilling costs one lookup each.
/// Revoking a token, logging out and leaving an org forget the entries they concern.
#[derive(Default)]
pub(crate) struct PayerMemory {
    entries: Mutex<HashMap<TokenInOrg, (Member, Instant)>>,
    /// Counts the forgettings: a lookup that began before one must not be remembered after it
    /// (it may have seen the token or membership just revoked).
    forgets: AtomicU64,
}

/// A token's hash and the slug of the org it is presented to.
pub(crate) type TokenInOrg = (Vec<u8>, String);

impl PayerMemory {
    const TTL: Duration = Duration::from_secs(60);
    const CAPACITY: usize = 100_000;

    fn recall(&self, key: &TokenInOrg) -> Option<Member> {
        let memory = self.entries.lock().ok()?;
        let (member, at) = memory.get(key)?;
        (at.elapsed() < Self::TTL).then(|| member.clone())
    }

    /// What to pass to [`Self::remember`], taken before the lookup starts.
    fn epoch(&self) -> u64 {
        self.forgets.load(Ordering::Acquire)
    }

    fn remember(&self, key: TokenInOrg, member: Member, epoch: u64) {
        if let Ok(mut memory) = self.entries.lock() {
            if self.forgets.load(Ordering::Acquire) != epoch {
                return;
            }
            if memory.len() >= Self::CAPACITY {
                memory.clear();
            }
            memory.insert(key, (member, Instant::now()));
        }
    }

    fn forget(&self, gone: impl Fn(&TokenInOrg, &Member) -> bool) {
        // A poisoned lock still holds the entries: forget them all the same.
        let mut memory = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.forgets.fetch_add(1, Ordering::AcqRel);
        memory.retain(|key, (member, _)| !gone(key, member));
    }

    pub(crate) fn forget_token(&self, hash: &[u8]) {
        self.forget(|(h, _), _| h.as_slice() == hash);
    }

    pub(crate) fn forget_user(&self, user: UserId) {
        self.forget(|_, m| m.user.id == user);
    }

    pub(crate) fn forget_member(&self, tenant: TenantId, user: UserId) {
        self.forget(|_, m| m.tenant.id == tenant && m.user.id == user);
    }

    pub(crate) fn forget_tenant(&self, tenant: TenantId) {
        self.forget(|_, m| m.tenant.id == tenant);
    }
}

/// Who asks for a new org: a person over the API (capped per day, counted by person and by the
/// address they came from, when known) or the operator (not capped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskedBy {
    Operator,
    Person(Option<IpAddr>),
}

impl AskedBy {
    pub(crate) fn address(self) -> Option<IpAddr> {
        match self {
            Self::Operator => None,
            Self::Person(from) => from,
        }
    }
}

/// How many orgs one person, and one address, may create a day over the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgCaps {
    /// 0: no cap.
    pub per_person: u32,
    /// 0: no cap.
    pub per_address: u32,
}

impl Default for OrgCaps {
    fn default() -> Self {
        Self {
            per_person: 5,
            per_address: 20,
        }
    }
}

impl OrgCaps {
    /// Refuses a new org when the person or the address already created their day's worth.
    /// Takes a transaction lock per person and per address (in that order, always), so
    /// concurrent requests are counted one after the other and cannot slip past the cap
    /// together; the locks are held until the new org is committed.
    pub(crate) async fn check(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        owner: &User,
        asked_by: AskedBy,
    ) -> Result<()> {
        let AskedBy::Person(from) = asked_by else {
            return Ok(());
        };
        if self.per_person > 0 {
            let key = format!("new orgs of user {}", owner.id);
            cap_in(
                tx,
                &key,
                "created_by = $1::bigint",
                &owner.id.0.to_string(),
                self.per_person,
            )
            .await?;
        }
        if let (Some(addr), true) = (from, self.per_address > 0) {
            let key = format!("new orgs from {addr}");
            cap_in(
                tx,
                &key,
                "created_from = $1::inet",
                &addr.to_string(),
                self.per_address,
            )
            .await?;
        }
        Ok(())
    }
}

/// Locks `key` for the transaction and counts the orgs created in the last day that match
/// `filter`; refuses with the time until the oldest of them leaves the window.
async fn cap_in(
    tx: &mut Transaction<'static, Postgres>,
    key: &str,
    filter: &'static str,
    value: &str,
    cap: u32,
) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    let sql = format!(
        "SELECT count(*), ceil(extract(epoch FROM min(created_at) + interval '1 day' - now()))::bigint
         FROM control.tenants WHERE {filter} AND created_at > now() - interval '1 day'"
    );
    let (count, wait): (i64, Option<i64>) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(value)
        .fetch_one(&mut **tx)
        .await?;
    if count >= i64::from(cap) {
        let retry_after_secs = wait.and_then(|w| u64::try_from(w).ok()).unwrap_or(1).max(1);
        return Err(Error::RateLimited { retry_after_secs });
    }
    Ok(())
}

/// A user acting inside one org, with their role there: the proof every org operation needs.
/// Only `Core` makes one (non-exhaustive: no edge can write one up to go around the checks).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Member {
    pub tenant: Tenant,
    pub user: User,
    pub role: Role,
}

impl Member {
    pub fn require_admin(&self) -> Result<()> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(Error::from(Refusal::NotAdmin))
        }
    }

    pub fn schema(&self) -> SchemaName {
        self.tenant.schema()
    }
}

/// A member as listed; on the wire as `http::orgs::MemberInfo`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MemberInfo {
    pub user_id: UserId,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

/// A new org's settings.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub slug: OrgSlug,
    pub name: String,
    pub open: bool,
    /// What the org's rooms read, and anyone whose own language is not known.
    pub language: Lang,
}

pub fn parse_org_name(text: &str) -> Result<String> {
    super::text::line("name", text, 1, 200)
}

const TENANT_COLUMNS: &str = "t.id, t.slug, t.name, t.status, t.open, t.created_at, t.language";

/// What signing up gives: the user, a first token, and the org when one was asked for.
pub struct SignedUp {
    pub user: User,
    pub token: ApiToken,
    pub org: Option<Tenant>,
}

impl Core {
    /// Creates a user (and optionally their org) and a first token, all or nothing. For the
    /// operator and in-process callers: the daily cap on new orgs does not apply (see
    /// [`Core::signup_from`] for people signing up over the API).
    pub async fn signup(
        &self,
        email: &str,
        password: String,
        display_name: &str,
        org: Option<NewOrg>,
    ) -> Result<SignedUp> {
        self.sign_up(email, password, display_name, org, AskedBy::Operator)
            .await
    }

    /// A person signing up over the API from `from` (when known): an org they ask for counts
    /// towards the daily cap on new orgs per address.
    pub async fn signup_from(
        &self,
        email: &str,
        password: String,
        display_name: &str,
        org: Option<NewOrg>,
        from: Option<IpAddr>,
    ) -> Result<SignedUp> {
        self.sign_up(email, password, display_name, org, AskedBy::Person(from))
            .await
    }

    async fn sign_up(
        &self,
        email: &str,
        password: String,
        display_name: &str,
        org: Option<NewOrg>,
        asked_by: AskedBy,
    ) -> Result<SignedUp> {
        let email = Email::parse_deliverable(email)?;
        let display_name = identity::parse_display_name(display_name)?;
        identity::check_password_rules(&password)?;
        let hash = identity::hash_password(password).await?;
        let mut tx = self.pool.begin().await?;
        if org.is_some() {
            // On Citus, an org's turn is taken before its first write to a reference table
            // (`citus::serialize_schema_changes`): activating the org then locks `users` too.
            crate::citus::serialize_schema_changes(&mut tx).await?;
        }
        let user = identity::create_user(&mut tx, &email, &hash, &display_name).await?;
        let token = identity::issue_token(&mut tx, user.id, "signup", self.tokens).await?;
        let org = match org {
            Some(new) => {
                self.org_caps.check(&mut tx, &user, asked_by).await?;
                let (tx, tenant) = create_org_in(tx, &user, new, asked_by.address()).await?;
                tx.commit().await?;
                self.spares.replenish(&self.pool);
                Some(tenant)
            }
            None => {
                tx.commit().await?;
                None
            }
        };
        Ok(SignedUp { user, token, org })
    }

    /// Creates the org, its schema at the latest migration, and makes `owner` its owner, all in
    /// one transaction: either the org is there and ready, or nothing is. For the operator: not
    /// capped (see [`Core::create_org_from`]).
    #[tracing::instrument(skip(self, owner), fields(slug = %org.slug))]
    pub async fn create_org(&self, owner: &User, org: NewOrg) -> Result<Tenant> {
        self.new_org(owner, org, AskedBy::Operator).await
    }

    /// A person asks for a new org over the API, from `from` (when known): refused with
    /// [`Error::RateLimited`] once they, or their address, created the day's cap ([`OrgCaps`]).
    #[tracing::instrument(skip(self, owner), fields(slug = %org.slug))]
    pub async fn create_org_from(
        &self,
        owner: &User,
        org: NewOrg,
        from: Option<IpAddr>,
    ) -> Result<Tenant> {
        self.new_org(owner, org, AskedBy::Person(from)).await
    }

    async fn new_org(&self, owner: &User, org: NewOrg, asked_by: AskedBy) -> Result<Tenant> {
        let mut tx = self.pool.begin().await?;
        self.org_caps.check(&mut tx, owner, asked_by).await?;
        let (tx, tenant) = create_org_in(tx, owner, org, asked_by.address()).await?;
        tx.commit().await?;
        self.spares.replenish(&self.pool);
        tracing::info!(tenant = %tenant.id, "org created");
        Ok(tenant)
    }

    pub async fn tenant(&self, slug: &str) -> Result<Tenant> {
        let slug = OrgSlug::parse(slug).map_err(|_| Error::from(Refusal::OrgNotFound))?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM control.tenants t WHERE t.slug = $1");
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::from(Refusal::OrgNotFound))
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM control.tenants t ORDER BY t.id");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Orgs by id (those that exist), for jobs that name their org by id.
    pub async fn tenants_by_id(&self, ids: &[TenantId]) -> Result<Vec<Tenant>> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM control.tenants t WHERE t.id = ANY($1) ORDER BY t.id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(&ids)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Resolves a bearer token and an org slug into a [`Member`] in one round trip.
    /// Unknown or revoked token: 401. Unknown org: 404. Not a member: 403.
    pub async fn member_for_token(&self, token: &ApiToken, slug: &str) -> Result<Member> {
        // Checked before it joins a batch: a malformed slug (a NUL byte, say) names no org, and
        // must not reach the query other callers share.
        let slug = OrgSlug::parse(slug).map_err(|_| Error::from(Refusal::OrgNotFound))?;
        self.access.call((token.hash(), slug.into())).await?
    }

    /// Resolves a bearer token and an org slug for a payment. A pair seen in the last minute is
    /// answered from memory without a query: the payment checks the token and the membership
    /// again in its own transaction (`control.check_payers`), so nothing revoked meanwhile pays.
    /// Answers the write does not check are confirmed by [`Core::pay_with_token`].
    pub async fn payer_for_token(&self, token: &ApiToken, slug: &str) -> Result<Payer> {
        let key = (token.hash(), slug.to_owned());
        let (member, remembered) = match self.payers.recall(&key) {
            Some(member) => (member, true),
            None => {
                let epoch = self.payers.epoch();
                let member = self.member_for_token(token, slug).await?;
                self.payers.remember(key.clone(), member.clone(), epoch);
                (member, false)
            }
        };
        let credential = Credential {
            tenant: member.tenant.id,
            token_hash: key.0,
        };
        Ok(Payer {
            member,
            credential,
            remembered,
        })
    }

    pub async fn user_for_token(&self, token: &ApiToken) -> Result<User> {
        let mut conn = self.pool.acquire().await?;
        identity::user_for_token(&mut conn, token, self.tokens)
            .await?
            .ok_or(Error::Unauthorized)
    }

    /// Joins an open org as a member. Joining twice is harmless.
    pub async fn join(&self, user: &User, slug: &str) -> Result<Member> {
        let tenant = self.tenant(slug).await?;
        let mut conn = self.pool.acquire().await?;
        if let Some(role) = identity::role_in(&mut conn, tenant.id, user.id).await? {
            return Ok(Member {
                tenant,
                user: user.clone(),
                role,
            });
        }
        drop(conn);
        if !tenant.open {
            return Err(Error::from(Refusal::InvitationOnly));
        }
        self.admit(tenant, user.clone(), Role::Member).await
    }

    /// An admin adds an existing user (by email) with a role.
    pub async fn add_member(&self, admin: &Member, email: &str, role: Role) -> Result<MemberInfo> {
        admin.require_admin()?;
        if role == Role::Owner && admin.role != Role::Owner {
            return Err(Error::from(Refusal::OnlyOwnerAddsOwner));
        }
        let email = Email::parse_deliverable(email)?;
        let user = {
            let mut conn = self.pool.acquire().await?;
            identity::find_user_by_email(&mut conn, &email).await?
        };
        let member = self.admit(admin.tenant.clone(), user, role).await?;
        Ok(MemberInfo {
            user_id: member.user.id,
            display_name: member.user.display_name,
            role: member.role,
        })
    }

    /// Membership (control) and the member's accounts (tenant) in one transaction.
    async fn admit(&self, tenant: Tenant, user: User, role: Role) -> Result<Member> {
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let role = admit_in(&mut tx, tenant.id, &user, role).await?;
        tx.commit().await?;
        Ok(Member { tenant, user, role })
    }

    /// An admin admits many existing users at once (an import): one transaction, idempotent.
    pub async fn admit_members(&self, admin: &Member, users: &[UserId]) -> Result<u64> {
        admin.require_admin()?;
        let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        let added = sqlx::query(
            "INSERT INTO control.memberships (tenant_id, user_id, role)
             SELECT $1, u.id, 'member' FROM control.users u WHERE u.id = ANY($2)
             ON CONFLICT DO NOTHING",
        )
        .bind(admin.tenant.id)
        .bind(&ids)
        .execute(tx.conn())
        .await?
        .rows_affected();
        ledger_store::insert_members(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// An admin sets the joining grant ([`super::joining_grant`]): `amount` in the org's
    /// default currency (its first coin), as decimal text; "0" turns it off. Setting it grants
    /// nothing to those who are members already.
    pub async fn set_joining_grant(
        &self,
        admin: &Member,
        amount: &str,
    ) -> Result<Option<JoiningGrant>> {
        admin.require_admin()?;
        let typed = amount.trim();
        let off = !typed.is_empty() && typed.chars().all(|c| matches!(c, '0' | '.' | ','));
        let grant = if off {
            None
        } else {
            let currency = self
                .coins(admin)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
            let amount = Amount::parse(typed, currency.scale)
                .map_err(|e| Error::from(Refusal::amount("joining_grant", e)))?
                .minor();
            Some(JoiningGrant { amount, currency })
        };
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        joining_grant::set_in(&mut tx, grant.as_ref().map(|g| (g.currency.id, g.amount))).await?;
        tx.commit().await?;
        Ok(grant)
    }

    pub async fn members(&self, member: &Member) -> Result<Vec<MemberInfo>> {
        Ok(sqlx::query_as(
            "SELECT m.user_id, u.display_name, m.role FROM control.memberships m
             JOIN control.users u ON u.id = m.user_id WHERE m.tenant_id = $1 ORDER BY m.user_id",
        )
        .bind(member.tenant.id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Makes `user` a member inside the caller's tenant transaction (a passed "admit" proposal runs
/// it atomically with its close). Admitting a member again keeps their role; the role they have
/// is returned.
pub async fn admit_in(
    tx: &mut TenantTx,
    tenant: TenantId,
    user: &User,
    role: Role,
) -> Result<Role> {
    Ok(admit_with_grant_in(tx, tenant, user, role).await?.0)
}

/// As [`admit_in`], with the org's joining grant if it was issued to them now.
pub(crate) async fn admit_with_grant_in(
    tx: &mut TenantTx,
    tenant: TenantId,
    user: &User,
    role: Role,
) -> Result<(Role, Option<JoiningGrant>)> {
    let (role,): (String,) = sqlx::query_as(
        "INSERT INTO control.memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = control.memberships.role
         RETURNING role",
    )
    .bind(tenant)
    .bind(user.id)
    .bind(role.as_str())
    .fetch_one(tx.conn())
    .await?;
    ledger_store::insert_member(tx, user.id, &user.display_name).await?;
    let granted = joining_grant::grant_in(tx, user.id).await?;
    Ok((Role::try_from(role)?, granted))
}

/// Creates an org inside the caller's transaction (signup creates the user and the org
/// together). Returns the transaction, now inside the new org's schema, for the caller to commit.
pub async fn create_org_in(
    mut tx: Transaction<'static, Postgres>,
    owner: &User,
    org: NewOrg,
    from: Option<IpAddr>,
) -> Result<(TenantTx, Tenant)> {
    // On Citus, before the org's first write to the control plane's reference tables, which
    // Citus locks per table across the cluster (see `citus::serialize_schema_changes`).
    crate::citus::serialize_schema_changes(&mut tx).await?;
    let (id,): (TenantId,) = sqlx::query_as(
        "INSERT INTO control.tenants (slug, name, open, created_by, created_from, language)
         VALUES ($1, $2, $3, $4, $5::inet, $6) RETURNING id",
    )
    .bind(org.slug.as_str())
    .bind(&org.name)
    .bind(org.open)
    .bind(owner.id)
    .bind(from.map(|a| a.to_string()))
    .bind(org.language)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| on_unique(e, "tenants_slug_key", Refusal::SlugTaken))?;
    let schema = SchemaName::for_tenant(id);
    spare_schemas::take_or_create(&mut tx, &schema).await?;
    let mut tx = TenantTx::enter(tx, &schema).await?;
    migrate::migrate_in(&mut tx, &migrate::TENANT).await?;
    sqlx::query(
        "INSERT INTO control.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')",
    )
    .bind(id)
    .bind(owner.id)
    .execute(tx.conn())
    .await?;
    ledger_store::insert_member(&mut tx, owner.id, &owner.display_name).await?;
    let sql = format!(
        "UPDATE control.tenants t SET status = 'active' WHERE t.id = $1 RETURNING {TENANT_COLUMNS}"
    );
    let tenant: Tenant = sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(tx.conn())
        .await?;
    Ok((tx, tenant))
}

/// Resolves many (token hash, org slug) pairs in one query: every request starts with this
/// lookup, so concurrent requests share it (see [`crate::batch`]). Nothing here is remembered:
/// a revoked token or a removed member is refused from the next request on. (Payments remember
/// members, see [`Core::payer_for_token`], because they check the token again themselves.)
pub(crate) async fn members_for_tokens(
    pool: &sqlx::PgPool,
    terms: TokenTerms,
    lookups: Vec<TokenInOrg>,
) -> Vec<Result<Member>> {
    let err = match lookup_members(pool, terms, &lookups).await {
        Ok(members) => return members,
        Err(err) => err,
    };
    // The database is down or out of connections: every lookup would fail alike.
    if lookups.len() == 1 || err.is_unavailable() {
        return lookups.iter().map(|_| Err(batch_failed(&err))).collect();
    }
    // Something in one lookup broke the shared query: each is looked up alone, so only the
    // one at fault fails.
    tracing::warn!(error = %err.for_log(), lookups = lookups.len(), "token lookup batch failed; looking each up alone");
    let mut out = Vec::with_capacity(lookups.len());
    for lookup in lookups {
        let one = std::slice::from_ref(&lookup);
        match lookup_members(pool, terms, one).await {
            Ok(found) => out.extend(found),
            Err(err) => out.push(Err(batch_failed(&err))),
        }
    }
    out
}

/// The error a lookup gets when its query failed (each caller gets its own).
fn batch_failed(err: &Error) -> Error {
    if err.is_unavailable() {
        Error::Unavailable {
            retry_after_secs: 1,
        }
    } else {
        Error::Internal(anyhow::anyhow!("token lookup failed: {}", err.for_log()))
    }
}

/// One query for all `lookups`, answering one result per lookup, in order.
async fn lookup_members(
    pool: &sqlx::PgPool,
    terms: TokenTerms,
    lookups: &[TokenInOrg],
) -> Result<Vec<Result<Member>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        n: i64,
        stale: bool,
        user_id: UserId,
        email: String,
        display_name: String,
        user_language: Option<Lang>,
        role: Option<String>,
        language: Option<Lang>,
        id: Option<TenantId>,
        slug: Option<String>,
        name: Option<String>,
        status: Option<String>,
        open: Option<bool>,
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    }
    let hashes: Vec<&[u8]> = lookups.iter().map(|(hash, _)| hash.as_slice()).collect();
    let slugs: Vec<&str> = lookups.iter().map(|(_, slug)| slug.as_str()).collect();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.n, u.id AS user_id, u.email, u.display_name, u.language AS user_language, m.role,
                t.id, t.slug, t.name, t.status, t.open, t.created_at, t.language,
                coalesce(k.last_used_at, k.created_at) < now() - $3::float8 * interval '1 second'
                    AS stale
         FROM unnest($1::bytea[], $2::text[]) WITH ORDINALITY AS r(hash, slug, n)
         JOIN control.api_tokens k
           ON k.token_hash = r.hash AND k.revoked_at IS NULL AND k.expires_at > now()
         JOIN control.users u ON u.id = k.user_id
         LEFT JOIN control.tenants t ON t.slug = r.slug AND t.status = 'active'
         LEFT JOIN control.memberships m ON m.tenant_id = t.id AND m.user_id = u.id",
    )
    .bind(&hashes)
    .bind(&slugs)
    .bind(terms.refresh_secs())
    .fetch_all(pool)
    .await?;
    touch_stale(
        pool,
        terms,
        &hashes,
        &rows.iter().map(|r| (r.n, r.stale)).collect::<Vec<_>>(),
    )
    .await;
    let mut out: Vec<Result<Member>> = hashes.iter().map(|_| Err(Error::Unauthorized)).collect();
    for row in rows {
        let Some(slot) = usize::try_from(row.n - 1).ok().and_then(|i| out.get_mut(i)) else {
            continue;
        };
        *slot = (|| {
            let tenant = match (
                row.id,
                row.slug,
                row.name,
                row.status,
                row.open,
                row.created_at,
            ) {
                (Some(id), Some(slug), Some(name), Some(status), Some(open), Some(created_at)) => {
                    Tenant {
                        id,
                        slug: OrgSlug::parse(&slug)?,
                        name,
                        status: status.try_into()?,
                        open,
                        created_at,
                        language: row.language.unwrap_or_default(),
                    }
                }
                _ => return Err(Error::from(Refusal::OrgNotFound)),
            };
            let role = row
                .role
                .ok_or_else(|| Error::from(Refusal::NotAMember))
                .and_then(Role::try_from)?;
            let user = User {
                id: row.user_id,
                email: row.email,
                display_name: row.display_name,
                language: row.user_language,
            };
            Ok(Member { tenant, user, role })
        })();
    }
    Ok(out)
}

/// Records the use of the tokens among `rows` (ordinal, stale) whose last record is old.
async fn touch_stale(
    pool: &sqlx::PgPool,
    terms: TokenTerms,
    hashes: &[&[u8]],
    rows: &[(i64, bool)],
) {
    let mut stale: Vec<Vec<u8>> = rows
        .iter()
        .filter(|(_, stale)| *stale)
        .filter_map(|(n, _)| {
            usize::try_from(n - 1)
                .ok()
                .and_then(|i| hashes.get(i))
                .map(|h| h.to_vec())
        })
        .collect();
    if stale.is_empty() {
        return;
    }
    stale.sort_unstable();
    stale.dedup();
    match pool.acquire().await {
        Ok(mut conn) => identity::touch_tokens(&mut conn, &stale, terms).await,
        Err(e) => tracing::warn!(error = %e, "recording token use failed"),
    }
}
