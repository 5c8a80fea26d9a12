//! Organizations and membership: creating an org (its schema and migrations, in one
//! transaction), joining, admitting, and resolving who is acting in which org.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::identity::{self, ApiToken, Email, Role, User};
use super::ids::{TenantId, UserId};
use super::ledger::Credential;
use super::ledger::store as ledger_store;
use super::spare_schemas;
use super::tenancy::{OrgSlug, SchemaName, Tenant, TenantTx};
use crate::core::Core;
use crate::error::{Error, Result, on_unique};
use crate::migrate;

/// A member about to pay over HTTP, with the token that vouched for them (checked again where
/// the money moves).
#[derive(Debug, Clone)]
pub struct Payer {
    pub member: Member,
    pub credential: Credential,
}

/// Members recently resolved from (token hash, org slug), for payments only. An entry lives a
/// minute; a full memory is emptied rather than managed, since refilling costs one lookup each.
#[derive(Default)]
pub(crate) struct PayerMemory(Mutex<HashMap<TokenInOrg, (Member, Instant)>>);

/// A token's hash and the slug of the org it is presented to.
pub(crate) type TokenInOrg = (Vec<u8>, String);

impl PayerMemory {
    const TTL: Duration = Duration::from_secs(60);
    const CAPACITY: usize = 100_000;

    fn recall(&self, key: &TokenInOrg) -> Option<Member> {
        let memory = self.0.lock().ok()?;
        let (member, at) = memory.get(key)?;
        (at.elapsed() < Self::TTL).then(|| member.clone())
    }

    fn remember(&self, key: TokenInOrg, member: Member) {
        if let Ok(mut memory) = self.0.lock() {
            if memory.len() >= Self::CAPACITY {
                memory.clear();
            }
            memory.insert(key, (member, Instant::now()));
        }
    }
}

/// A user acting inside one org, with their role there: the proof every org operation needs.
#[derive(Debug, Clone)]
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
            Err(Error::forbidden("only an admin of this org can do that"))
        }
    }

    pub fn schema(&self) -> SchemaName {
        self.tenant.schema()
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
}

pub fn parse_org_name(text: &str) -> Result<String> {
    super::text::line("name", text, 1, 200)
}

const TENANT_COLUMNS: &str = "t.id, t.slug, t.name, t.status, t.open, t.created_at";

impl Core {
    /// Creates the org, its schema at the latest migration, and makes `owner` its owner, all in
    /// one transaction: either the org is there and ready, or nothing is.
    #[tracing::instrument(skip(self, owner), fields(slug = %org.slug))]
    pub async fn create_org(&self, owner: &User, org: NewOrg) -> Result<Tenant> {
        let tx = self.pool.begin().await?;
        let (tx, tenant) = create_org_in(tx, owner, org).await?;
        tx.commit().await?;
        self.spares.replenish(&self.pool);
        tracing::info!(tenant = %tenant.id, "org created");
        Ok(tenant)
    }

    pub async fn tenant(&self, slug: &str) -> Result<Tenant> {
        let slug = OrgSlug::parse(slug).map_err(|_| Error::not_found("org"))?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM control.tenants t WHERE t.slug = $1");
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("org"))
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
        // A slug that cannot be one (a NUL from a path's `%00`) never reaches the shared lookup.
        let slug = OrgSlug::parse(slug).map_err(|_| Error::not_found("org"))?;
        self.access
            .call((token.hash(), slug.as_str().to_owned()))
            .await?
    }

    /// Resolves a bearer token and an org slug for a payment. A pair seen in the last minute is
    /// answered from memory without a query: the payment checks the token and the membership
    /// again in its own transaction (`control.check_payers`), so nothing revoked meanwhile pays.
    pub async fn payer_for_token(&self, token: &ApiToken, slug: &str) -> Result<Payer> {
        let key = (token.hash(), slug.to_owned());
        let member = match self.payers.recall(&key) {
            Some(member) => member,
            None => {
                let member = self.member_for_token(token, slug).await?;
                self.payers.remember(key.clone(), member.clone());
                member
            }
        };
        let credential = Credential {
            tenant: member.tenant.id,
            token_hash: key.0,
        };
        Ok(Payer { member, credential })
    }

    pub async fn user_for_token(&self, token: &ApiToken) -> Result<User> {
        let mut conn = self.pool.acquire().await?;
        identity::user_for_token(&mut conn, token)
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
            return Err(Error::forbidden(
                "this org admits members by invitation; ask an admin",
            ));
        }
        self.admit(tenant, user.clone(), Role::Member).await
    }

    /// An admin adds an existing user (by email) with a role.
    pub async fn add_member(&self, admin: &Member, email: &str, role: Role) -> Result<MemberInfo> {
        admin.require_admin()?;
        if role == Role::Owner && admin.role != Role::Owner {
            return Err(Error::forbidden("only an owner can add an owner"));
        }
        let email = Email::parse(email)?;
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
    Role::try_from(role)
}

/// Creates an org inside the caller's transaction (signup creates the user and the org
/// together). Returns the transaction, now inside the new org's schema, for the caller to commit.
pub async fn create_org_in(
    mut tx: Transaction<'static, Postgres>,
    owner: &User,
    org: NewOrg,
) -> Result<(TenantTx, Tenant)> {
    let (id,): (TenantId,) = sqlx::query_as(
        "INSERT INTO control.tenants (slug, name, open) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(org.slug.as_str())
    .bind(&org.name)
    .bind(org.open)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| on_unique(e, "tenants_slug_key", "slug"))?;
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
    lookups: Vec<TokenInOrg>,
) -> Vec<Result<Member>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        n: i64,
        user_id: UserId,
        email: String,
        display_name: String,
        role: Option<String>,
        id: Option<TenantId>,
        slug: Option<String>,
        name: Option<String>,
        status: Option<String>,
        open: Option<bool>,
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    }
    let (hashes, slugs): (Vec<Vec<u8>>, Vec<String>) = lookups.into_iter().unzip();
    let rows: Vec<Row> = match sqlx::query_as(
        "SELECT r.n, u.id AS user_id, u.email, u.display_name, m.role,
                t.id, t.slug, t.name, t.status, t.open, t.created_at
         FROM unnest($1::bytea[], $2::text[]) WITH ORDINALITY AS r(hash, slug, n)
         JOIN control.api_tokens k ON k.token_hash = r.hash AND k.revoked_at IS NULL
         JOIN control.users u ON u.id = k.user_id
         LEFT JOIN control.tenants t ON t.slug = r.slug AND t.status = 'active'
         LEFT JOIN control.memberships m ON m.tenant_id = t.id AND m.user_id = u.id",
    )
    .bind(&hashes)
    .bind(&slugs)
    .fetch_all(pool)
    .await
    {
        Ok(rows) => rows,
        Err(e) => {
            let e = std::sync::Arc::new(e);
            return hashes
                .iter()
                .map(|_| Err(Error::Internal(anyhow::anyhow!("token lookup failed: {e}"))))
                .collect();
        }
    };
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
                    }
                }
                _ => return Err(Error::not_found("org")),
            };
            let role = row
                .role
                .ok_or_else(|| Error::forbidden("you are not a member of this org"))
                .and_then(Role::try_from)?;
            let user = User {
                id: row.user_id,
                email: row.email,
                display_name: row.display_name,
            };
            Ok(Member { tenant, user, role })
        })();
    }
    out
}
