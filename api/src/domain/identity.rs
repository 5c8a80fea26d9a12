//! People, their logins and their roles in orgs.
//!
//! Passwords are argon2 hashes; API tokens are random and stored as SHA-256, so the table alone
//! never lets anyone in. A token belongs to a user and works in every org the user belongs to,
//! with the role the user has there.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::ids::{TenantId, UserId};
use super::orgs::{NewOrg, create_org_in};
use super::tenancy::Tenant;
use super::text_enum::text_enum;
use crate::core::Core;
use crate::error::{Error, Result, on_unique};

text_enum!(
    /// What a member may do in an org.
    Role {
        Owner => "owner",
        Admin => "admin",
        Treasurer => "treasurer",
        Member => "member",
    }
);

impl Role {
    /// Owners and admins run the org: add members, create currencies, issue.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Those who may read the whole ledger.
    pub fn sees_all_accounts(self) -> bool {
        matches!(self, Self::Owner | Self::Admin | Self::Treasurer)
    }
}

/// A normalized email address (trimmed, lowercase, with one `@` and a dot after it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim().to_lowercase();
        let valid = text.len() <= 254
            && !text.chars().any(char::is_whitespace)
            && text.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(text))
        } else {
            Err(Error::invalid("email", "not an email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1–100 characters once trimmed.
pub fn parse_display_name(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 100 {
        return Err(Error::invalid("display_name", "use 1 to 100 characters"));
    }
    Ok(text.to_owned())
}

/// A password: at least 8 characters, at most 1024 bytes (so hashing stays cheap to refuse).
pub fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(Error::invalid("password", "use at least 8 characters"));
    }
    Ok(())
}

/// Hashing is deliberately slow: run it off the async threads.
pub async fn hash_password(password: String) -> Result<String> {
    // Held by the hashing itself, so a caller that goes away does not free its turn early.
    let turn = crate::hashing::turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let salt = SaltString::encode_b64(&random_bytes::<16>())
            .map_err(|e| Error::Internal(anyhow::anyhow!("salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

pub async fn verify_password(password: String, phc: String) -> Result<bool> {
    // Held by the hashing itself, so a caller that goes away does not free its turn early.
    let turn = crate::hashing::turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A bearer token as shown once to its owner: `cs_` and 43 characters of base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn generate() -> Self {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        Self(format!("cs_{body}"))
    }

    pub fn from_presented(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

/// Tokens never reach logs.
impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
}

pub async fn create_user(
    conn: &mut PgConnection,
    email: &Email,
    password_hash: &str,
    display_name: &str,
) -> Result<User> {
    sqlx::query_as(
        "INSERT INTO control.users (email, password_hash, display_name) VALUES ($1, $2, $3)
         RETURNING id, email, display_name",
    )
    .bind(email.as_str())
    .bind(password_hash)
    .bind(display_name)
    .fetch_one(conn)
    .await
    .map_err(|e| on_unique(e, "users_email_key", "email"))
}

pub async fn issue_token(conn: &mut PgConnection, user: UserId, label: &str) -> Result<ApiToken> {
    let token = ApiToken::generate();
    sqlx::query("INSERT INTO control.api_tokens (user_id, token_hash, label) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(token.hash())
        .bind(label)
        .execute(conn)
        .await?;
    Ok(token)
}

pub async fn revoke_token(conn: &mut PgConnection, user: UserId, token: &ApiToken) -> Result<()> {
    let done = sqlx::query(
        "UPDATE control.api_tokens SET revoked_at = now()
         WHERE user_id = $1 AND token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(user)
    .bind(token.hash())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("token"));
    }
    Ok(())
}

/// The user a token belongs to, unless it is unknown or revoked.
pub async fn user_for_token(conn: &mut PgConnection, token: &ApiToken) -> Result<Option<User>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email, u.display_name
         FROM control.api_tokens t JOIN control.users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(token.hash())
    .fetch_optional(conn)
    .await?)
}

/// Checks an email and password; the same error for an unknown email and a wrong password.
pub async fn authenticate(conn: &mut PgConnection, email: &str, password: String) -> Result<User> {
    let email = Email::parse(email).map_err(|_| Error::Unauthorized)?;
    // Chat members have no password (they log in with a one-time link): never a match.
    let row: Option<(UserId, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, email, display_name, password_hash FROM control.users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(conn)
    .await?;
    let Some((id, email, display_name, Some(phc))) = row else {
        return Err(Error::Unauthorized);
    };
    if verify_password(password, phc).await? {
        Ok(User {
            id,
            email,
            display_name,
        })
    } else {
        Err(Error::Unauthorized)
    }
}

pub async fn find_user_by_email(conn: &mut PgConnection, email: &Email) -> Result<User> {
    sqlx::query_as("SELECT id, email, display_name FROM control.users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::not_found("user with that email"))
}

pub async fn role_in(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
) -> Result<Option<Role>> {
    let role: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM control.memberships WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    role.map(|(r,)| Role::try_from(r)).transpose()
}

/// What signing up gives: the user, a first token, and the org when one was asked for.
pub struct SignedUp {
    pub user: User,
    pub token: ApiToken,
    pub org: Option<Tenant>,
}

impl Core {
    /// Creates a user (and optionally their org) and a first token, all or nothing.
    pub async fn signup(
        &self,
        email: &str,
        password: String,
        display_name: &str,
        org: Option<NewOrg>,
    ) -> Result<SignedUp> {
        let email = Email::parse(email)?;
        let display_name = parse_display_name(display_name)?;
        check_password_rules(&password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.pool.begin().await?;
        let user = create_user(&mut tx, &email, &hash, &display_name).await?;
        let token = issue_token(&mut tx, user.id, "signup").await?;
        let org = match org {
            Some(new) => {
                let (tx, tenant) = create_org_in(tx, &user, new).await?;
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

    /// Exchanges an email and password for a new token.
    pub async fn login(&self, email: &str, password: String) -> Result<(User, ApiToken)> {
        let mut conn = self.pool.acquire().await?;
        let user = authenticate(&mut conn, email, password).await?;
        let token = issue_token(&mut conn, user.id, "login").await?;
        Ok((user, token))
    }

    /// Revokes the presented token: every later request with it is 401 (tokens are looked up
    /// on every request, never cached).
    pub async fn logout(&self, token: &ApiToken) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let user = user_for_token(&mut conn, token)
            .await?
            .ok_or(Error::Unauthorized)?;
        revoke_token(&mut conn, user.id, token).await
    }

    /// A new token for a user, e.g. for `coinsence up` to print.
    pub async fn issue_token(&self, user: UserId, label: &str) -> Result<ApiToken> {
        let mut conn = self.pool.acquire().await?;
        issue_token(&mut conn, user, label).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Ana@Example.org ").map(|e| e.0).ok(),
            Some("ana@example.org".into())
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.org",
            "ana@x",
            "a b@x.org",
            "ana@.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_hash_stably_and_differ() {
        let a = ApiToken::generate();
        let b = ApiToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), ApiToken::from_presented(a.expose()).hash());
        assert!(a.expose().starts_with("cs_"));
        assert_eq!(format!("{a:?}"), "ApiToken(..)");
    }
}
