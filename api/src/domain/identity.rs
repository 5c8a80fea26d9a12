//! People, their logins and their roles in orgs.
//!
//! Passwords are argon2 hashes; API tokens are random and stored as SHA-256, so the table alone
//! never lets anyone in. A token belongs to a user and works in every org the user belongs to,
//! with the role the user has there.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::ids::{TenantId, TokenId, UserId};
use super::text_enum::text_enum;
use crate::core::Core;
use crate::error::{Error, Result, on_unique};
use crate::i18n::Lang;
use crate::refusal::Refusal;

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
            && !super::text::has_refused_line_char(&text)
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
            Err(Error::from(Refusal::EmailMalformed { field: "email" }))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Addresses under `.invalid` (RFC 2606) can never be a mailbox; chat members get theirs
    /// there. Nobody may sign up with one or be added by one.
    pub fn is_reserved(&self) -> bool {
        self.0.ends_with(".invalid")
    }

    /// The address, unless it is reserved: for signing up and adding members.
    pub fn parse_deliverable(text: &str) -> Result<Self> {
        let email = Self::parse(text)?;
        if email.is_reserved() {
            return Err(Error::from(Refusal::EmailReserved { field: "email" }));
        }
        Ok(email)
    }
}

/// A display name: one line of 1–100 visible characters once trimmed.
pub fn parse_display_name(text: &str) -> Result<String> {
    super::text::line("display_name", text, 1, 100)
}

/// A password: at least 8 characters, at most 1024 bytes (so hashing stays cheap to refuse).
pub fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(Error::from(Refusal::PasswordTooShort {
            field: "password",
            min: 8,
        }));
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

/// Runs a password check that cannot succeed, costing what a real one costs: an unknown email
/// (or one without a password) then takes as long to refuse as a wrong password, so the
/// answer's timing does not tell which emails have an account.
async fn check_against_nothing(password: String) -> Result<()> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    // The same turn a real check waits for: under load the wait is most of the time, and
    // skipping it would tell unknown emails apart again.
    let turn = crate::hashing::turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let dummy = DUMMY.get_or_init(|| {
            // The same parameters as every stored hash (Argon2::default), made once.
            let salt = SaltString::encode_b64(b"coinsence: none.").ok()?;
            Argon2::default()
                .hash_password(b"no password is this one", &salt)
                .ok()
                .map(|h| h.to_string())
        });
        if let Some(parsed) = dummy.as_deref().and_then(|d| PasswordHash::new(d).ok()) {
            let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
        }
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
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
    /// The language the person chose (`None`: their platform's, else the org's).
    pub language: Option<Lang>,
}

pub async fn create_user(
    conn: &mut PgConnection,
    email: &Email,
    password_hash: &str,
    display_name: &str,
) -> Result<User> {
    sqlx::query_as(
        "INSERT INTO control.users (email, password_hash, display_name) VALUES ($1, $2, $3)
         RETURNING id, email, display_name, language",
    )
    .bind(email.as_str())
    .bind(password_hash)
    .bind(display_name)
    .fetch_one(conn)
    .await
    .map_err(|e| on_unique(e, "users_email_key", Refusal::EmailTaken))
}

/// How long a token lives unused. Use extends it, but the extension is written at most every
/// [`TokenTerms::refresh_after`], so the lookup every request makes stays a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTerms {
    pub ttl: std::time::Duration,
}

impl TokenTerms {
    pub const DEFAULT_DAYS: u64 = 30;

    /// Tokens that live `days` unused.
    pub fn days(days: u64) -> Self {
        Self::new(std::time::Duration::from_secs(days.saturating_mul(86_400)))
    }

    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl: ttl.max(std::time::Duration::from_secs(60)),
        }
    }

    /// A day, or half the term if that is shorter (a short term must still slide).
    pub fn refresh_after(&self) -> std::time::Duration {
        (self.ttl / 2).min(std::time::Duration::from_secs(86_400))
    }

    pub(crate) fn ttl_secs(&self) -> f64 {
        self.ttl.as_secs_f64()
    }

    pub(crate) fn refresh_secs(&self) -> f64 {
        self.refresh_after().as_secs_f64()
    }
}

impl Default for TokenTerms {
    fn default() -> Self {
        Self::new(std::time::Duration::from_secs(Self::DEFAULT_DAYS * 86_400))
    }
}

pub async fn issue_token(
    conn: &mut PgConnection,
    user: UserId,
    label: &str,
    terms: TokenTerms,
) -> Result<ApiToken> {
    let token = ApiToken::generate();
    sqlx::query(
        "INSERT INTO control.api_tokens (user_id, token_hash, label, expires_at)
         VALUES ($1, $2, $3, now() + $4::float8 * interval '1 second')",
    )
    .bind(user)
    .bind(token.hash())
    .bind(label)
    .bind(terms.ttl_secs())
    .execute(conn)
    .await?;
    Ok(token)
}

/// Revokes the presented token. Returns whether it was live.
pub async fn revoke_token(conn: &mut PgConnection, token: &ApiToken) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE control.api_tokens SET revoked_at = now()
         WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(token.hash())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The user a token belongs to, unless it is unknown, revoked or expired. Records the use
/// (extending the expiry) when the last record is older than the terms' refresh interval.
pub async fn user_for_token(
    conn: &mut PgConnection,
    token: &ApiToken,
    terms: TokenTerms,
) -> Result<Option<User>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: UserId,
        email: String,
        display_name: String,
        language: Option<Lang>,
        stale: bool,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.language,
                coalesce(t.last_used_at, t.created_at) < now() - $2::float8 * interval '1 second'
                    AS stale
         FROM control.api_tokens t JOIN control.users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()",
    )
    .bind(token.hash())
    .bind(terms.refresh_secs())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.stale {
        touch_tokens(conn, &[token.hash()], terms).await;
    }
    Ok(Some(User {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        language: row.language,
    }))
}

/// Records that tokens were used and extends them. A failure is logged, not passed on: the
/// request the token was presented with is valid either way.
pub(crate) async fn touch_tokens(conn: &mut PgConnection, hashes: &[Vec<u8>], terms: TokenTerms) {
    let done = sqlx::query(
        "UPDATE control.api_tokens
         SET last_used_at = now(), expires_at = now() + $2::float8 * interval '1 second'
         WHERE token_hash = ANY($1) AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(hashes)
    .bind(terms.ttl_secs())
    .execute(conn)
    .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "recording token use failed");
    }
}

/// One of a person's tokens as they see it in their list (never the secret); on the wire as
/// `http::orgs::TokenInfo`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: TokenId,
    /// How it was made: `signup`, `login`, `login link`, ...
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// When it was last seen in use (recorded at most once a day).
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// The token this request was made with.
    pub current: bool,
}

/// Checks an email and password; the same error for an unknown email and a wrong password.
pub async fn authenticate(conn: &mut PgConnection, email: &str, password: String) -> Result<User> {
    let email = Email::parse(email).map_err(|_| Error::Unauthorized)?;
    // Chat members have no password (they log in with a one-time link): never a match.
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        password_hash: Option<String>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, email, display_name, language, password_hash FROM control.users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(Row {
        user,
        password_hash: Some(phc),
    }) = row
    else {
        check_against_nothing(password).await?;
        return Err(Error::Unauthorized);
    };
    if verify_password(password, phc).await? {
        Ok(user)
    } else {
        Err(Error::Unauthorized)
    }
}

pub async fn find_user_by_email(conn: &mut PgConnection, email: &Email) -> Result<User> {
    sqlx::query_as("SELECT id, email, display_name, language FROM control.users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::from(Refusal::UserNotFound))
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

impl Core {
    /// Exchanges an email and password for a new token.
    pub async fn login(&self, email: &str, password: String) -> Result<(User, ApiToken)> {
        let mut conn = self.pool.acquire().await?;
        let user = authenticate(&mut conn, email, password).await?;
        let token = issue_token(&mut conn, user.id, "login", self.tokens).await?;
        Ok((user, token))
    }

    /// Revokes the presented token, or with `everywhere` every token of its owner: every later
    /// request with them is 401, payments included (their remembered payers are forgotten).
    pub async fn logout(&self, token: &ApiToken, everywhere: bool) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let user = user_for_token(&mut conn, token, self.tokens)
            .await?
            .ok_or(Error::Unauthorized)?;
        if everywhere {
            sqlx::query(
                "UPDATE control.api_tokens SET revoked_at = now()
                 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(user.id)
            .execute(&mut *conn)
            .await?;
            self.payers.forget_user(user.id);
        } else {
            revoke_token(&mut conn, token).await?;
            self.payers.forget_token(&token.hash());
        }
        Ok(())
    }

    /// The live tokens of the presented token's owner, newest first.
    pub async fn tokens(&self, token: &ApiToken) -> Result<Vec<TokenInfo>> {
        let mut conn = self.pool.acquire().await?;
        let user = user_for_token(&mut conn, token, self.tokens)
            .await?
            .ok_or(Error::Unauthorized)?;
        Ok(sqlx::query_as(
            "SELECT id, label, created_at, last_used_at, expires_at, token_hash = $2 AS current
             FROM control.api_tokens
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
             ORDER BY created_at DESC, id DESC",
        )
        .bind(user.id)
        .bind(token.hash())
        .fetch_all(&mut *conn)
        .await?)
    }

    /// Revokes one of the presented token's owner's tokens by id. Another person's token, or
    /// one already revoked or expired, is not found.
    pub async fn revoke_token(&self, token: &ApiToken, id: TokenId) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let user = user_for_token(&mut conn, token, self.tokens)
            .await?
            .ok_or(Error::Unauthorized)?;
        let revoked: Option<(Vec<u8>,)> = sqlx::query_as(
            "UPDATE control.api_tokens SET revoked_at = now()
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
             RETURNING token_hash",
        )
        .bind(id)
        .bind(user.id)
        .fetch_optional(&mut *conn)
        .await?;
        let (hash,) = revoked.ok_or_else(|| Error::from(Refusal::TokenNotFound))?;
        self.payers.forget_token(&hash);
        Ok(())
    }

    /// The user with this email (an operator's command names people by email).
    pub async fn user_by_email(&self, email: &Email) -> Result<User> {
        let mut conn = self.pool.acquire().await?;
        find_user_by_email(&mut conn, email).await
    }

    /// A new token for a user, e.g. for `coinsence up` to print.
    pub async fn issue_token(&self, user: UserId, label: &str) -> Result<ApiToken> {
        let mut conn = self.pool.acquire().await?;
        issue_token(&mut conn, user, label, self.tokens).await
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
    fn reserved_addresses_parse_but_are_not_deliverable() {
        for reserved in ["matrix.ab12@chat.coinsence.invalid", "X@Y.INVALID"] {
            assert!(
                Email::parse(reserved).is_ok_and(|e| e.is_reserved()),
                "{reserved}"
            );
            assert!(Email::parse_deliverable(reserved).is_err(), "{reserved}");
        }
        for fine in [
            "ana@example.org",
            "ana@invalid.example.org",
            "ana@x.notinvalid",
        ] {
            assert!(Email::parse_deliverable(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn token_terms_slide_at_most_daily() {
        let month = TokenTerms::default();
        assert_eq!(month.refresh_after().as_secs(), 86_400);
        let hour = TokenTerms::new(std::time::Duration::from_secs(3_600));
        assert_eq!(hour.refresh_after().as_secs(), 1_800);
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
