//! The admin portal's people: browser sessions (server-side, in `control.portal_sessions`), the
//! logins that open them (password, or the one-time code `/link` gives in chat), the orgs a
//! person sees there, invite links to join an org, and the chat identities tied to a person.
//!
//! A session's secret lives only in the person's cookie; the table keeps its SHA-256, like API
//! tokens. The form token that guards the portal's POSTs (CSRF) is derived from the secret, so
//! it needs no storage and dies with the session.

use base64::Engine;
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};

use super::chat::OneTimeCode;
use super::identity::{self, Role, User};
use super::ids::UserId;
use super::orgs::{Member, admit_in};
use super::tenancy::{OrgSlug, Tenant, TenantTx};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// How long a portal session lives after login.
pub const SESSION_TTL: Duration = Duration::hours(12);
/// How long an invite link works.
pub const INVITE_TTL: Duration = Duration::days(7);

/// A session's secret as the cookie carries it. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(format!(
            "ps_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    pub fn from_cookie(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }

    /// The token every form of this session carries (hex; no secret can be recovered from it).
    pub fn form_token(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"coinsence portal form token\0");
        hasher.update(self.0.as_bytes());
        hex::encode(&hasher.finalize()[..20])
    }

    /// Whether a form's token is this session's, in constant time.
    pub fn accepts_form_token(&self, presented: &str) -> bool {
        let expected = self.form_token();
        expected.len() == presented.len()
            && expected
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

/// An org as its member sees it in the portal's list.
#[derive(Debug, Clone)]
pub struct MyOrg {
    pub tenant: Tenant,
    pub role: Role,
}

/// A chat account tied to a person.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedIdentity {
    pub platform: String,
    pub platform_user_id: String,
}

/// A room bound to an org.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BoundRoom {
    pub platform: String,
    pub room_id: String,
    pub created_at: chrono::DateTime<Utc>,
}

fn invite_hash(code: &str) -> Vec<u8> {
    Sha256::digest(code.trim().as_bytes()).to_vec()
}

fn login_code_hash(code: &str) -> Vec<u8> {
    // As `chat::create_login_link` stores it.
    Sha256::digest(code.trim().as_bytes()).to_vec()
}

const TENANT_COLUMNS: &str = "t.id, t.slug, t.name, t.status, t.open, t.created_at, t.language";

impl Core {
    /// A new session for a user who just proved who they are.
    pub async fn open_portal_session(&self, user: UserId) -> Result<SessionSecret> {
        let secret = SessionSecret::generate();
        sqlx::query(
            "INSERT INTO control.portal_sessions (secret_hash, user_id, expires_at)
             VALUES ($1, $2, $3)",
        )
        .bind(secret.hash())
        .bind(user)
        .bind(Utc::now() + SESSION_TTL)
        .execute(&self.pool)
        .await?;
        Ok(secret)
    }

    /// Email and password; the same [`Error::Unauthorized`] for an unknown email and a wrong
    /// password. A new session (a new id) every time.
    pub async fn portal_login(
        &self,
        email: &str,
        password: String,
    ) -> Result<(User, SessionSecret)> {
        let user = {
            let mut conn = self.pool.acquire().await?;
            identity::authenticate(&mut conn, email, password).await?
        };
        let secret = self.open_portal_session(user.id).await?;
        Ok((user, secret))
    }

    /// The one-time code `/link` gave in chat, used up, for a session. Unknown, used and expired
    /// codes are the same [`Error::Unauthorized`].
    pub async fn portal_login_with_code(&self, code: &str) -> Result<(User, SessionSecret)> {
        let secret = SessionSecret::generate();
        let mut tx = self.pool.begin().await?;
        let user = crate::domain::chat::use_login_link(&mut tx, code).await?;
        sqlx::query(
            "INSERT INTO control.portal_sessions (secret_hash, user_id, expires_at)
             VALUES ($1, $2, $3)",
        )
        .bind(secret.hash())
        .bind(user.id)
        .bind(Utc::now() + SESSION_TTL)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((user, secret))
    }

    /// The person behind a live session; [`Error::Unauthorized`] for anything else.
    pub async fn portal_user(&self, secret: &SessionSecret) -> Result<User> {
        sqlx::query_as(
            "SELECT u.id, u.email, u.display_name, u.language
             FROM control.portal_sessions s JOIN control.users u ON u.id = s.user_id
             WHERE s.secret_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
        )
        .bind(secret.hash())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::Unauthorized)
    }

    /// The session's person as a member of the org `slug`, in one round trip: 401 without a
    /// live session, 404 for an unknown org, 403 ([`Refusal::NotAMember`]) for someone else's.
    pub async fn portal_member(&self, secret: &SessionSecret, slug: &str) -> Result<Member> {
        let slug = OrgSlug::parse(slug).map_err(|_| Error::from(Refusal::OrgNotFound))?;
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            tenant_id: Option<i64>,
            role: Option<String>,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT u.id, u.email, u.display_name, u.language, t.id AS tenant_id, m.role
             FROM control.portal_sessions s
             JOIN control.users u ON u.id = s.user_id
             LEFT JOIN control.tenants t ON t.slug = $2
             LEFT JOIN control.memberships m ON m.tenant_id = t.id AND m.user_id = u.id
             WHERE s.secret_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
        )
        .bind(secret.hash())
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let row = row.ok_or(Error::Unauthorized)?;
        if row.tenant_id.is_none() {
            return Err(Error::from(Refusal::OrgNotFound));
        }
        let role = row.role.ok_or_else(|| Error::from(Refusal::NotAMember))?;
        let tenant = self.tenant(slug.as_str()).await?;
        Ok(Member {
            tenant,
            user: row.user,
            role: Role::try_from(role)?,
        })
    }

    /// Logout: the session is refused from now on, everywhere.
    pub async fn close_portal_session(&self, secret: &SessionSecret) -> Result<()> {
        sqlx::query(
            "UPDATE control.portal_sessions SET revoked_at = now()
             WHERE secret_hash = $1 AND revoked_at IS NULL",
        )
        .bind(secret.hash())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The orgs a person belongs to, with their role, by name.
    pub async fn my_orgs(&self, user: &User) -> Result<Vec<MyOrg>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            tenant: Tenant,
            role: String,
        }
        let sql = format!(
            "SELECT {TENANT_COLUMNS}, m.role FROM control.memberships m
             JOIN control.tenants t ON t.id = m.tenant_id
             WHERE m.user_id = $1 ORDER BY t.name, t.id"
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user.id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(MyOrg {
                    tenant: r.tenant,
                    role: Role::try_from(r.role)?,
                })
            })
            .collect()
    }

    /// An admin makes a link anyone may use to join the org as a member for
    /// [`INVITE_TTL`], open org or not.
    pub async fn create_invite(&self, admin: &Member) -> Result<OneTimeCode> {
        admin.require_admin()?;
        let bytes: [u8; 18] = rand::random();
        let code = format!(
            "inv_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let expires_at = Utc::now() + INVITE_TTL;
        sqlx::query(
            "INSERT INTO control.org_invites (code_hash, tenant_id, created_by, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(invite_hash(&code))
        .bind(admin.tenant.id)
        .bind(admin.user.id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(OneTimeCode { code, expires_at })
    }

    /// The org an invite link leads to ([`Refusal::InviteNotFound`] when it is unknown or
    /// expired).
    pub async fn invite_org(&self, code: &str) -> Result<Tenant> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM control.org_invites i
             JOIN control.tenants t ON t.id = i.tenant_id
             WHERE i.code_hash = $1 AND i.expires_at > now()"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(invite_hash(code))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::from(Refusal::InviteNotFound))
    }

    /// Joins the org of an invite link as a member (a member already keeps their role): the
    /// membership and the accounts in one transaction.
    pub async fn join_by_invite(&self, user: &User, code: &str) -> Result<Member> {
        let tenant = self.invite_org(code).await?;
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let role = admit_in(&mut tx, tenant.id, user, Role::Member).await?;
        tx.commit().await?;
        Ok(Member {
            tenant,
            user: user.clone(),
            role,
        })
    }

    /// The chat accounts tied to a person.
    pub async fn linked_identities(&self, user: &User) -> Result<Vec<LinkedIdentity>> {
        Ok(sqlx::query_as(
            "SELECT platform, platform_user_id FROM control.chat_identities
             WHERE user_id = $1 ORDER BY platform, platform_user_id",
        )
        .bind(user.id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ties the chat account that asked for a `/link` code to this person: the code (used up)
    /// proves the chat side, the session the portal side. Only a chat account that holds
    /// nothing yet (its own user is in no org) moves, so no money or vote is left behind.
    pub async fn link_identity_with_code(&self, user: &User, code: &str) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let from: Option<(UserId,)> = sqlx::query_as(
            "UPDATE control.login_links SET used_at = now()
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING user_id",
        )
        .bind(login_code_hash(code))
        .fetch_optional(&mut *tx)
        .await?;
        let (from,) =
            from.ok_or_else(|| Error::from(Refusal::LinkCodeNotValid { field: "code" }))?;
        if from == user.id {
            tx.commit().await?;
            return Ok(0);
        }
        let (orgs,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM control.memberships WHERE user_id = $1")
                .bind(from)
                .fetch_one(&mut *tx)
                .await?;
        if orgs > 0 {
            return Err(Error::from(Refusal::ChatAccountInUse));
        }
        let moved =
            sqlx::query("UPDATE control.chat_identities SET user_id = $2 WHERE user_id = $1")
                .bind(from)
                .bind(user.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(usize::try_from(moved).unwrap_or(usize::MAX))
    }

    /// The rooms bound to the admin's org, by platform.
    pub async fn bound_rooms(&self, admin: &Member) -> Result<Vec<BoundRoom>> {
        admin.require_admin()?;
        Ok(sqlx::query_as(
            "SELECT platform, room_id, created_at FROM control.chat_rooms
             WHERE tenant_id = $1 ORDER BY platform, room_id",
        )
        .bind(admin.tenant.id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Unbinds one of the org's rooms (another org's room is not found): the bots stop
    /// answering there until it is connected again.
    pub async fn unbind_room(&self, admin: &Member, platform: &str, room_id: &str) -> Result<()> {
        admin.require_admin()?;
        let gone = sqlx::query(
            "DELETE FROM control.chat_rooms WHERE tenant_id = $1 AND platform = $2 AND room_id = $3",
        )
        .bind(admin.tenant.id)
        .bind(platform)
        .bind(room_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if gone == 0 {
            return Err(Error::from(Refusal::RoomNotBound));
        }
        Ok(())
    }

    /// Unties one of the person's chat accounts (another person's is not found).
    pub async fn unlink_identity(&self, user: &User, platform: &str, id: &str) -> Result<()> {
        let gone = sqlx::query(
            "DELETE FROM control.chat_identities
             WHERE user_id = $1 AND platform = $2 AND platform_user_id = $3",
        )
        .bind(user.id)
        .bind(platform)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if gone == 0 {
            return Err(Error::from(Refusal::ChatIdentityNotFound));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tokens_belong_to_their_session() {
        let a = SessionSecret::generate();
        let b = SessionSecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.accepts_form_token(&a.form_token()));
        assert!(!a.accepts_form_token(&b.form_token()));
        assert!(!a.accepts_form_token(""));
        assert!(!a.form_token().contains(a.expose()));
        assert_eq!(format!("{a:?}"), "SessionSecret(..)");
    }
}
