//! Chat in the control plane: who a person is on a chat platform, which room speaks for which
//! org, the one-time codes that bind a room (`/connect`) or log a chat member in elsewhere
//! (`/link`), and the record of outbox events delivered to chat.
//!
//! A chat identity (platform, the platform's user id) is a [`User`] without a password. It is
//! created the first time the person is seen (speaking, or being paid by mention) and becomes a
//! member of an open org on first use; a closed org refuses until an admin admits them. Codes are
//! random, stored as SHA-256 only, expire, and are used once.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgConnection};

use super::governance::feed::Platform;
use super::idempotency::IdempotencyKey;
use super::identity::{self, ApiToken, Role, User};
use super::ids::{OutboxId, TenantId, UserId};
use super::joining_grant::JoiningGrant;
use super::ledger::AccountRef;
use super::ledger::ops::{MoveRequest, Receipt};
use super::ledger::queue::post_all;
use super::ledger::{Currency, CurrencyKind, store as ledger_store};
use super::orgs::{Member, admit_in, admit_with_grant_in};
use super::tenancy::{OrgSlug, Tenant, TenantTx};
use super::text_enum::text_enum;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::refusal::Refusal;

text_enum!(
    /// A chat platform the bots speak on.
    ChatPlatform {
        Matrix => "matrix",
        Discord => "discord",
        Telegram => "telegram",
        Console => "console",
    }
);

impl From<ChatPlatform> for Platform {
    fn from(value: ChatPlatform) -> Self {
        match value {
            ChatPlatform::Matrix => Self::Matrix,
            ChatPlatform::Discord => Self::Discord,
            ChatPlatform::Telegram => Self::Telegram,
            ChatPlatform::Console => Self::Console,
        }
    }
}

/// A person as a chat platform names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatIdentity {
    pub platform: ChatPlatform,
    /// The platform's stable id for them (a Matrix id, a snowflake, a console name).
    pub platform_user_id: String,
}

impl ChatIdentity {
    pub fn new(platform: ChatPlatform, platform_user_id: &str) -> Result<Self> {
        let id = platform_user_id.trim();
        if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
            return Err(Error::from(Refusal::TextLength {
                field: "platform_user_id",
                min: 1,
                max: 255,
            }));
        }
        Ok(Self {
            platform,
            platform_user_id: id.to_owned(),
        })
    }

    /// The placeholder address of a user who arrived from chat: under `.invalid` (RFC 2606, a
    /// mailbox nobody can have, and refused at signup) and random, so nobody can predict it.
    /// The identity is found by (platform, id), never by this address.
    fn placeholder_email(&self) -> String {
        let random: [u8; 16] = rand::random();
        format!(
            "{}.{}{PLACEHOLDER_DOMAIN}",
            self.platform,
            hex::encode(random)
        )
    }
}

/// Where the placeholder addresses of people who arrived from chat live.
const PLACEHOLDER_DOMAIN: &str = "@chat.coinsence.invalid";

/// A display name from a platform, made to fit `users.display_name` (1–100 characters).
/// The platform's name is not the person's input to us, so what a name may not have is dropped
/// rather than refused (direction overrides included: they would let it pass for another).
fn fit_display_name(name: &str, fallback: &str) -> String {
    [name, fallback]
        .into_iter()
        .map(|n| super::text::fit_line(n, 100))
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| "chat member".to_owned())
}

/// Whom a mention names, as far as the org knows them ([`Core::chat_payee`]).
#[derive(Debug, Clone)]
pub enum Payee {
    Member(User),
    /// Not a member (perhaps not even seen yet): paying them admits them.
    Newcomer,
}

/// Who speaks in a room, and as what, resolved in one round trip.
#[derive(Debug, Clone)]
pub struct ChatContext {
    /// The org the room is bound to.
    pub tenant: Option<Tenant>,
    /// The user behind the chat identity, if they were seen before.
    pub user: Option<User>,
    /// Their role in `tenant`, if they are a member.
    pub role: Option<Role>,
}

impl ChatContext {
    /// The speaker as a member of the room's org, when they already are one.
    pub fn member(&self) -> Option<Member> {
        Some(Member {
            tenant: self.tenant.clone()?,
            user: self.user.clone()?,
            role: self.role?,
        })
    }
}

/// A one-time code, shown once (on the wire as `http::chat::OneTimeCode`).
#[derive(Debug, Clone, Serialize)]
pub struct OneTimeCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// What `/connect` did.
#[derive(Debug, Clone)]
pub struct Connected {
    pub tenant: Tenant,
    /// The room was already bound to this org by this code (a redelivered `/connect`).
    pub again: bool,
}

/// Where an outbox event goes on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChatTarget {
    Room(String),
    /// A person's direct messages (the DM room, if the bot opened one before).
    Direct {
        user: UserId,
        platform_user_id: String,
        dm_room_id: Option<String>,
    },
}

impl ChatTarget {
    /// A stable name for deduplicating deliveries.
    pub fn key(&self) -> String {
        match self {
            Self::Room(id) => format!("room:{id}"),
            Self::Direct {
                platform_user_id, ..
            } => format!("dm:{platform_user_id}"),
        }
    }
}

const CONNECT_CODE_TTL: Duration = Duration::hours(24);
const LOGIN_LINK_TTL: Duration = Duration::minutes(15);
/// Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A connect code as people type it: 12 characters in groups of four ("K7QX-M2PD-9WTR"), about
/// 59 bits; it is short-lived and single-use, and only its hash is kept.
fn new_connect_code() -> String {
    let mut rng = rand::rng();
    let raw: String = (0..12)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect();
    format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..])
}

/// Case, spaces and dashes do not matter when a code is typed back.
fn connect_code_hash(code: &str) -> Vec<u8> {
    let canon: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(canon.as_bytes()).to_vec()
}

fn login_code_hash(code: &str) -> Vec<u8> {
    Sha256::digest(code.trim().as_bytes()).to_vec()
}

const TENANT_COLUMNS: &str = "t.id, t.slug, t.name, t.status, t.open, t.created_at, t.language";

impl Core {
    /// An admin asks for a code that binds a room to their org.
    pub async fn create_connect_code(&self, admin: &Member) -> Result<OneTimeCode> {
        admin.require_admin()?;
        self.insert_connect_code(admin.tenant.id, Some(admin.user.id))
            .await
    }

    /// The operator (`coinsence org connect-code`) asks for a code for any org.
    pub async fn create_connect_code_for(&self, slug: &OrgSlug) -> Result<OneTimeCode> {
        let tenant = self.tenant(slug.as_str()).await?;
        self.insert_connect_code(tenant.id, None).await
    }

    async fn insert_connect_code(
        &self,
        tenant: TenantId,
        by: Option<UserId>,
    ) -> Result<OneTimeCode> {
        let code = new_connect_code();
        let expires_at = Utc::now() + CONNECT_CODE_TTL;
        sqlx::query(
            "INSERT INTO control.chat_connect_codes (code_hash, tenant_id, created_by, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(connect_code_hash(&code))
        .bind(tenant)
        .bind(by)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(OneTimeCode { code, expires_at })
    }

    /// Binds a room to the org a connect code belongs to, using the code up. The same code typed
    /// again in the same room (a redelivered message) answers the same; anywhere else it is spent.
    pub async fn connect_room(
        &self,
        platform: ChatPlatform,
        room_id: &str,
        code: &str,
        by: Option<UserId>,
    ) -> Result<Connected> {
        let mut tx = self.pool.begin().await?;
        #[derive(sqlx::FromRow)]
        struct CodeRow {
            id: i64,
            tenant_id: TenantId,
            expires_at: DateTime<Utc>,
            used_platform: Option<String>,
            used_room_id: Option<String>,
        }
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT id, tenant_id, expires_at, used_platform, used_room_id
                 FROM control.chat_connect_codes WHERE code_hash = $1 FOR UPDATE",
        )
        .bind(connect_code_hash(code))
        .fetch_optional(&mut *tx)
        .await?;
        let CodeRow {
            id,
            tenant_id,
            expires_at,
            used_platform,
            used_room_id: used_room,
        } = row.ok_or_else(|| Error::from(Refusal::ConnectCodeNotFound))?;
        let tenant = tenant_by_id(&mut tx, tenant_id).await?;
        match (used_platform, used_room) {
            (Some(p), Some(r)) if p == platform.as_str() && r == room_id => {
                return Ok(Connected {
                    tenant,
                    again: true,
                });
            }
            (Some(_), _) => {
                return Err(Error::from(Refusal::ConnectCodeUsed));
            }
            _ => {}
        }
        if expires_at <= Utc::now() {
            return Err(Error::from(Refusal::ConnectCodeExpired));
        }
        let bound: Option<(TenantId,)> = sqlx::query_as(
            "SELECT tenant_id FROM control.chat_rooms WHERE platform = $1 AND room_id = $2 FOR UPDATE",
        )
        .bind(platform.as_str())
        .bind(room_id)
        .fetch_optional(&mut *tx)
        .await?;
        match bound {
            // Whoever holds this org's code need not be in the other org: its name stays unsaid.
            Some((other,)) if other != tenant.id => {
                return Err(Error::from(Refusal::RoomConnectedElsewhere));
            }
            Some(_) => {}
            None => {
                sqlx::query(
                    "INSERT INTO control.chat_rooms (platform, room_id, tenant_id, bound_by)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(platform.as_str())
                .bind(room_id)
                .bind(tenant.id)
                .bind(by)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "UPDATE control.chat_connect_codes
             SET used_at = now(), used_platform = $2, used_room_id = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(platform.as_str())
        .bind(room_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant.id, %platform, room_id, "room connected");
        Ok(Connected {
            tenant,
            again: false,
        })
    }

    /// The operator binds a room directly (the console's room of an org, which the person
    /// running `coinsence chat` with database access may use anyway). Binding it again to the
    /// same org is harmless; another org's room is refused.
    pub async fn bind_room(
        &self,
        platform: ChatPlatform,
        room_id: &str,
        tenant: &Tenant,
    ) -> Result<()> {
        let (bound,): (TenantId,) = sqlx::query_as(
            "INSERT INTO control.chat_rooms (platform, room_id, tenant_id) VALUES ($1, $2, $3)
             ON CONFLICT (platform, room_id) DO UPDATE SET platform = EXCLUDED.platform
             RETURNING tenant_id",
        )
        .bind(platform.as_str())
        .bind(room_id)
        .bind(tenant.id)
        .fetch_one(&self.pool)
        .await?;
        if bound != tenant.id {
            return Err(Error::from(Refusal::RoomConnectedElsewhere));
        }
        Ok(())
    }

    /// Ties a chat identity to an existing user: for the operator's demo set-up only, where the
    /// operator vouches for both. A person links their chat identity to a login only through
    /// the one-time code of `/link` ([`Core::create_login_link`]). An identity already tied to
    /// someone keeps its user.
    pub async fn link_chat_identity(&self, who: &ChatIdentity, user: UserId) -> Result<UserId> {
        let (linked,): (UserId,) = sqlx::query_as(
            "INSERT INTO control.chat_identities (platform, platform_user_id, user_id)
             VALUES ($1, $2, $3)
             ON CONFLICT (platform, platform_user_id) DO UPDATE SET platform = EXCLUDED.platform
             RETURNING user_id",
        )
        .bind(who.platform.as_str())
        .bind(&who.platform_user_id)
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(linked)
    }

    /// The room's org, the speaker's user and their role there, in one query: what every chat
    /// command needs first, so it costs one round trip.
    pub async fn chat_context(
        &self,
        platform: ChatPlatform,
        room_id: &str,
        speaker: &str,
    ) -> Result<ChatContext> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Option<TenantId>,
            slug: Option<String>,
            name: Option<String>,
            status: Option<String>,
            open: Option<bool>,
            created_at: Option<DateTime<Utc>>,
            user_id: Option<UserId>,
            email: Option<String>,
            display_name: Option<String>,
            user_language: Option<Lang>,
            role: Option<String>,
            language: Option<Lang>,
        }
        let sql = format!(
            "SELECT {TENANT_COLUMNS}, u.id AS user_id, u.email, u.display_name,
                    u.language AS user_language, m.role
             FROM (SELECT 1) one
             LEFT JOIN control.chat_rooms r ON r.platform = $1 AND r.room_id = $2
             LEFT JOIN control.tenants t ON t.id = r.tenant_id AND t.status = 'active'
             LEFT JOIN control.chat_identities i ON i.platform = $1 AND i.platform_user_id = $3
             LEFT JOIN control.users u ON u.id = i.user_id
             LEFT JOIN control.memberships m ON m.tenant_id = t.id AND m.user_id = u.id"
        );
        let row: Row = sqlx::query_as(AssertSqlSafe(sql))
            .bind(platform.as_str())
            .bind(room_id)
            .bind(speaker)
            .fetch_one(&self.pool)
            .await?;
        let tenant = match (
            row.id,
            row.slug,
            row.name,
            row.status,
            row.open,
            row.created_at,
        ) {
            (Some(id), Some(slug), Some(name), Some(status), Some(open), Some(created_at)) => {
                Some(Tenant {
                    id,
                    slug: OrgSlug::parse(&slug)?,
                    name,
                    status: status.try_into()?,
                    open,
                    created_at,
                    language: row.language.unwrap_or_default(),
                })
            }
            _ => None,
        };
        let user = match (row.user_id, row.email, row.display_name) {
            (Some(id), Some(email), Some(display_name)) => Some(User {
                id,
                email,
                display_name,
                language: row.user_language,
            }),
            _ => None,
        };
        let role = row.role.map(Role::try_from).transpose()?;
        Ok(ChatContext { tenant, user, role })
    }

    /// The orgs a chat identity belongs to (for direct messages, which are bound to no room).
    pub async fn chat_orgs(&self, who: &ChatIdentity) -> Result<Vec<Tenant>> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM control.chat_identities i
             JOIN control.memberships m ON m.user_id = i.user_id
             JOIN control.tenants t ON t.id = m.tenant_id AND t.status = 'active'
             WHERE i.platform = $1 AND i.platform_user_id = $2 ORDER BY t.id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(who.platform.as_str())
            .bind(&who.platform_user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The user behind a chat identity, created (without a password) the first time.
    pub async fn chat_user(&self, who: &ChatIdentity, display_name: &str) -> Result<User> {
        let mut conn = self.pool.acquire().await?;
        if let Some(user) = find_chat_user(&mut conn, who).await? {
            return Ok(user);
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let user = ensure_chat_user_in(&mut tx, who, display_name).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The speaker as a member of `tenant`: seen before, or created now, and admitted if the org
    /// is open. A closed org refuses with a sentence that says whom to ask.
    pub async fn chat_member(
        &self,
        tenant: &Tenant,
        who: &ChatIdentity,
        display_name: &str,
    ) -> Result<Member> {
        Ok(self.chat_join(tenant, who, display_name).await?.0)
    }

    /// As [`Core::chat_member`], with the joining grant they were given if they joined just now
    /// (the newcomer's first answer tells them).
    pub async fn chat_join(
        &self,
        tenant: &Tenant,
        who: &ChatIdentity,
        display_name: &str,
    ) -> Result<(Member, Option<JoiningGrant>)> {
        let user = self.chat_user(who, display_name).await?;
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let existing = identity::role_in(tx.conn(), tenant.id, user.id).await?;
        let (role, granted) = match existing {
            Some(role) => (role, None),
            None if tenant.open => {
                admit_with_grant_in(&mut tx, tenant.id, &user, Role::Member).await?
            }
            None => {
                return Err(Error::from(Refusal::InvitationOnly));
            }
        };
        tx.commit().await?;
        Ok((
            Member {
                tenant: tenant.clone(),
                user,
                role,
            },
            granted,
        ))
    }

    /// A chat member's display name follows what their platform calls them, once they speak
    /// (someone first seen as a mention may carry their raw id). Only for people who came from
    /// chat: a name chosen at signup or on the portal is theirs to keep.
    pub async fn follow_chat_name(&self, member: &Member, platform_name: &str) -> Result<()> {
        let name = super::text::fit_line(platform_name, 100);
        let from_chat = member.user.email.ends_with(PLACEHOLDER_DOMAIN);
        if !from_chat || name.is_empty() || name == member.user.display_name {
            return Ok(());
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let renamed = sqlx::query(
            "UPDATE control.users SET display_name = $2 WHERE id = $1 AND password_hash IS NULL",
        )
        .bind(member.user.id)
        .bind(&name)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if renamed > 0 {
            sqlx::query("UPDATE members SET display_name = $2 WHERE user_id = $1")
                .bind(member.user.id)
                .bind(&name)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whom the payment already made under this event's key paid, if it paid the person
    /// mentioned, and whether that payment admitted them (as [`Core::chat_payee`] answers). A
    /// redelivered payment asks this before the payee is looked up (and perhaps admitted), so
    /// it is answered with its receipt even if the payee has left the org since, and a replay
    /// admits no one.
    pub async fn chat_paid(
        &self,
        payer: &Member,
        key: &IdempotencyKey,
        payee: &ChatIdentity,
    ) -> Result<Option<(User, bool)>> {
        #[derive(sqlx::FromRow)]
        struct Paid {
            #[sqlx(flatten)]
            user: User,
            admitted: bool,
        }
        let mut tx = TenantTx::begin(&self.pool, &payer.schema()).await?;
        let paid: Option<Paid> = sqlx::query_as(
            "SELECT u.id, u.email, u.display_name, u.language,
                    EXISTS (SELECT 1 FROM requests r
                            WHERE r.idempotency_key = t.idempotency_key
                              AND r.resource = 'mention_admission' AND r.resource_id = u.id) AS admitted
             FROM transfers t
             JOIN accounts a ON a.id = t.to_account
             JOIN control.chat_identities i ON i.user_id = a.owner_user_id
             JOIN control.users u ON u.id = i.user_id
             WHERE t.idempotency_key = $1 AND t.actor_user_id = $2
               AND i.platform = $3 AND i.platform_user_id = $4",
        )
        .bind(key.as_str())
        .bind(payer.user.id)
        .bind(payee.platform.as_str())
        .bind(&payee.platform_user_id)
        .fetch_optional(tx.conn())
        .await?;
        Ok(paid.map(|p| (p.user, p.admitted)))
    }

    /// Whom a mention names in the room's org, changing nothing: a member, or someone an open
    /// org would admit with the payment ([`Core::chat_pay_newcomer`]). In a closed org only
    /// members can be paid.
    pub async fn chat_payee(&self, tenant: &Tenant, who: &ChatIdentity) -> Result<Payee> {
        #[derive(sqlx::FromRow)]
        struct Found {
            #[sqlx(flatten)]
            user: User,
            role: Option<String>,
        }
        let found: Option<Found> = sqlx::query_as(
            "SELECT u.id, u.email, u.display_name, u.language, m.role FROM control.chat_identities i
             JOIN control.users u ON u.id = i.user_id
             LEFT JOIN control.memberships m ON m.tenant_id = $3 AND m.user_id = u.id
             WHERE i.platform = $1 AND i.platform_user_id = $2",
        )
        .bind(who.platform.as_str())
        .bind(&who.platform_user_id)
        .bind(tenant.id)
        .fetch_optional(&self.pool)
        .await?;
        match found {
            Some(Found {
                user,
                role: Some(_),
            }) => Ok(Payee::Member(user)),
            _ if tenant.open => Ok(Payee::Newcomer),
            _ => Err(Error::from(Refusal::MemberNotFound)),
        }
    }

    /// The members of `tenant` known on `platform` whom `name` may mean: their display name, or
    /// the local part of their platform id (`ben` of `@ben:example.org`), is `name` whatever the
    /// case. Platform id and display name, at most `limit`, ordered by id.
    pub async fn chat_members_named(
        &self,
        tenant: &Tenant,
        platform: ChatPlatform,
        name: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT i.platform_user_id, u.display_name FROM control.chat_identities i
             JOIN control.memberships m ON m.user_id = i.user_id AND m.tenant_id = $2
             JOIN control.users u ON u.id = i.user_id
             WHERE i.platform = $1
               AND (lower(u.display_name) = lower($3)
                    OR lower(split_part(ltrim(i.platform_user_id, '@'), ':', 1)) = lower($3))
             ORDER BY i.platform_user_id LIMIT $4",
        )
        .bind(platform.as_str())
        .bind(tenant.id)
        .bind(name)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Pays someone mentioned who is not a member yet, and admits them (with the org's joining
    /// grant), in one transaction: a refused payment leaves no user, no member and no account
    /// behind. An open org admits at most [`MENTION_ADMISSIONS_PER_HOUR`] people by mention per
    /// room and hour, so one room cannot fill it with people nobody invited. Returns the receipt,
    /// the payee and whether they were admitted by it, which is kept under the payment's `key` so
    /// that its redelivery answers the same ([`Core::chat_paid`]).
    pub async fn chat_pay_newcomer(
        &self,
        payer: &Member,
        room_id: &str,
        who: &ChatIdentity,
        display_name: &str,
        request: MoveRequest,
        key: IdempotencyKey,
    ) -> Result<(Receipt, User, bool)> {
        let tenant = &payer.tenant;
        if !tenant.open {
            return Err(Error::from(Refusal::MemberNotFound));
        }
        let key_text = key.as_str().to_owned();
        let (order, currency) = self.payment_order(payer, request, key).await?;
        // A duplicate key committed meanwhile (a concurrent redelivery): roll back, try again,
        // and the journal answers.
        for _ in 0..3 {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            let known = match find_chat_user(tx.conn(), who).await? {
                Some(user) => identity::role_in(tx.conn(), tenant.id, user.id)
                    .await?
                    .is_some(),
                None => false,
            };
            // Counted under a lock per room, before anyone is created, so concurrent mentions
            // cannot slip past the cap together. A member is paid whatever the room's count.
            if !known {
                mention_admissions_left(tx.conn(), who.platform, room_id).await?;
            }
            // Found or created under the identity's lock, which also orders concurrent
            // admissions of the same person (from several rooms) one after the other.
            let user = ensure_chat_user_in(tx.conn(), who, display_name).await?;
            // Admitted meanwhile (a concurrent mention in another room, or they spoke).
            let admitted = identity::role_in(tx.conn(), tenant.id, user.id)
                .await?
                .is_none();
            if admitted {
                admit_in(&mut tx, tenant.id, &user, Role::Member).await?;
                sqlx::query(
                    "INSERT INTO control.chat_mention_admissions (platform, room_id, tenant_id, user_id)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(who.platform.as_str())
                .bind(room_id)
                .bind(tenant.id)
                .bind(user.id)
                .execute(tx.conn())
                .await?;
                // Under the payment's key: a creation never holds it (one event is one command).
                sqlx::query(
                    "INSERT INTO requests (idempotency_key, resource, fingerprint, resource_id)
                     VALUES ($1, 'mention_admission', '', $2) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(&key_text)
                .bind(user.id)
                .execute(tx.conn())
                .await?;
            }
            let mut order = order.clone();
            order.to = AccountRef::Member(user.id);
            // A refusal returns here, and dropping `tx` undoes the admission with it.
            let Some(mut posted) = post_all(&mut tx, &[order]).await? else {
                continue;
            };
            tx.commit().await?;
            let transfer = posted
                .pop()
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("no transfer posted")))?;
            return Ok((
                Receipt {
                    transfer,
                    currency: currency.clone(),
                },
                user,
                admitted,
            ));
        }
        Err(Error::Busy)
    }

    /// The org's coin currencies (not project shares), oldest first: the first is the default
    /// when a chat command names none.
    pub async fn coins(&self, member: &Member) -> Result<Vec<Currency>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let all = ledger_store::currencies(&mut tx).await?;
        let mut coins = Vec::with_capacity(all.len());
        for c in all {
            if ledger_store::currency_kind(&mut tx, c.id).await? == Some(CurrencyKind::Coin) {
                coins.push(c);
            }
        }
        Ok(coins)
    }

    /// A one-time login for a chat member (`/link`): exchanged once, within 15 minutes, for an
    /// API token with [`Core::redeem_login_link`].
    pub async fn create_login_link(&self, user: UserId) -> Result<OneTimeCode> {
        let bytes: [u8; 24] = rand::random();
        let code = format!(
            "cl_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let expires_at = Utc::now() + LOGIN_LINK_TTL;
        sqlx::query(
            "INSERT INTO control.login_links (code_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(login_code_hash(&code))
        .bind(user)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(OneTimeCode { code, expires_at })
    }

    /// Exchanges a login link for a new token. Unknown, used and expired links are all the same
    /// 401, so a guess learns nothing.
    pub async fn redeem_login_link(&self, code: &str) -> Result<(User, ApiToken)> {
        let mut tx = self.pool.begin().await?;
        let user = use_login_link(&mut tx, code).await?;
        let token = identity::issue_token(&mut tx, user.id, "login link", self.tokens).await?;
        tx.commit().await?;
        Ok((user, token))
    }

    /// The org's rooms on a platform, and the direct-message targets of `users` there.
    pub async fn chat_targets(
        &self,
        tenant: TenantId,
        platform: ChatPlatform,
        to_rooms: bool,
        users: &[UserId],
    ) -> Result<Vec<ChatTarget>> {
        let mut targets = Vec::new();
        if to_rooms {
            let rooms: Vec<(String,)> = sqlx::query_as(
                "SELECT room_id FROM control.chat_rooms WHERE tenant_id = $1 AND platform = $2
                 ORDER BY created_at, room_id",
            )
            .bind(tenant)
            .bind(platform.as_str())
            .fetch_all(&self.pool)
            .await?;
            targets.extend(rooms.into_iter().map(|(r,)| ChatTarget::Room(r)));
        }
        if !users.is_empty() {
            let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
            let people: Vec<(UserId, String, Option<String>)> = sqlx::query_as(
                "SELECT user_id, platform_user_id, dm_room_id FROM control.chat_identities
                 WHERE platform = $1 AND user_id = ANY($2) ORDER BY user_id, platform_user_id",
            )
            .bind(platform.as_str())
            .bind(&ids)
            .fetch_all(&self.pool)
            .await?;
            targets.extend(
                people
                    .into_iter()
                    .map(|(user, platform_user_id, dm_room_id)| ChatTarget::Direct {
                        user,
                        platform_user_id,
                        dm_room_id,
                    }),
            );
        }
        Ok(targets)
    }

    /// Remembers the direct-message room the bot opened with someone.
    pub async fn set_dm_room(&self, who: &ChatIdentity, room_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE control.chat_identities SET dm_room_id = $3
             WHERE platform = $1 AND platform_user_id = $2",
        )
        .bind(who.platform.as_str())
        .bind(&who.platform_user_id)
        .bind(room_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The targets an event was already delivered to on a platform.
    pub async fn chat_delivered(
        &self,
        tenant: TenantId,
        event: OutboxId,
        platform: ChatPlatform,
    ) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT target FROM control.chat_deliveries
             WHERE tenant_id = $1 AND outbox_id = $2 AND platform = $3",
        )
        .bind(tenant)
        .bind(event)
        .bind(platform.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(t,)| t).collect())
    }

    /// Records that an event reached a target; recording it twice is harmless.
    pub async fn record_chat_delivery(
        &self,
        tenant: TenantId,
        event: OutboxId,
        platform: ChatPlatform,
        target: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO control.chat_deliveries (tenant_id, outbox_id, platform, target)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(event)
        .bind(platform.as_str())
        .bind(target)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Display names of an org's members, for telling who paid whom.
    pub async fn member_names(
        &self,
        tenant: &Tenant,
        users: &[UserId],
    ) -> Result<HashMap<UserId, String>> {
        let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let rows: Vec<(UserId, String)> =
            sqlx::query_as("SELECT user_id, display_name FROM members WHERE user_id = ANY($1)")
                .bind(&ids)
                .fetch_all(tx.conn())
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// Orgs that have chat rooms or chat members on a platform: the ones outbox delivery for
    /// that platform has to look at.
    pub async fn chat_tenants(&self, platform: ChatPlatform) -> Result<Vec<Tenant>> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM control.tenants t
             WHERE t.status = 'active' AND (
                 EXISTS (SELECT 1 FROM control.chat_rooms r WHERE r.tenant_id = t.id AND r.platform = $1)
                 OR EXISTS (SELECT 1 FROM control.memberships m
                            JOIN control.chat_identities i ON i.user_id = m.user_id AND i.platform = $1
                            WHERE m.tenant_id = t.id))
             ORDER BY t.id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(platform.as_str())
            .fetch_all(&self.pool)
            .await?)
    }
}

async fn tenant_by_id(conn: &mut PgConnection, id: TenantId) -> Result<Tenant> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM control.tenants t WHERE t.id = $1");
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::from(Refusal::OrgNotFound))
}

async fn find_chat_user(conn: &mut PgConnection, who: &ChatIdentity) -> Result<Option<User>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.language FROM control.chat_identities i
         JOIN control.users u ON u.id = i.user_id
         WHERE i.platform = $1 AND i.platform_user_id = $2",
    )
    .bind(who.platform.as_str())
    .bind(&who.platform_user_id)
    .fetch_optional(conn)
    .await?)
}

/// How many people an open org admits per room and hour because they were paid by mention.
pub const MENTION_ADMISSIONS_PER_HOUR: i64 = 20;

/// Refuses when a room's mentions admitted [`MENTION_ADMISSIONS_PER_HOUR`] people in the last
/// hour. Takes a lock per room held until the caller's transaction ends.
async fn mention_admissions_left(
    conn: &mut PgConnection,
    platform: ChatPlatform,
    room_id: &str,
) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("mention admissions {platform}:{room_id}"))
        .execute(&mut *conn)
        .await?;
    let (admitted,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM control.chat_mention_admissions
         WHERE platform = $1 AND room_id = $2 AND created_at > now() - interval '1 hour'",
    )
    .bind(platform.as_str())
    .bind(room_id)
    .fetch_one(&mut *conn)
    .await?;
    if admitted >= MENTION_ADMISSIONS_PER_HOUR {
        return Err(Error::from(Refusal::MentionLimitReached {
            limit: MENTION_ADMISSIONS_PER_HOUR,
        }));
    }
    Ok(())
}

/// Creates the user and identity if they are new, inside the caller's transaction. The identity
/// is found by (platform, id) only, never through an email address. A lock per identity, held
/// until the transaction ends, makes concurrent first sightings (two bots, two rooms) wait for
/// each other, so they end with one user.
async fn ensure_chat_user_in(
    conn: &mut PgConnection,
    who: &ChatIdentity,
    display_name: &str,
) -> Result<User> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!(
            "chat identity {}:{}",
            who.platform, who.platform_user_id
        ))
        .execute(&mut *conn)
        .await?;
    // Read after the lock: a transaction that held it and created them has committed.
    if let Some(user) = find_chat_user(conn, who).await? {
        return Ok(user);
    }
    let name = fit_display_name(display_name, &who.platform_user_id);
    let user: User = sqlx::query_as(
        "INSERT INTO control.users (email, password_hash, display_name) VALUES ($1, NULL, $2)
         RETURNING id, email, display_name, language",
    )
    .bind(who.placeholder_email())
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO control.chat_identities (platform, platform_user_id, user_id)
         VALUES ($1, $2, $3)",
    )
    .bind(who.platform.as_str())
    .bind(&who.platform_user_id)
    .bind(user.id)
    .execute(&mut *conn)
    .await?;
    Ok(user)
}

/// Uses up a login link (the one-time code `/link` gives) in the caller's transaction: its
/// person, or [`Error::Unauthorized`] for an unknown, used or expired code alike, so a guess
/// learns nothing. The API trades it for a token, the portal for a session.
pub(crate) async fn use_login_link(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    code: &str,
) -> Result<User> {
    let user: Option<User> = sqlx::query_as(
        "UPDATE control.login_links l SET used_at = now()
         FROM control.users u
         WHERE l.code_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.id = l.user_id
         RETURNING u.id, u.email, u.display_name, u.language",
    )
    .bind(login_code_hash(code))
    .fetch_optional(&mut **tx)
    .await?;
    user.ok_or(Error::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_codes_read_back_however_typed() {
        let code = new_connect_code();
        assert_eq!(code.len(), 14);
        assert_eq!(
            connect_code_hash(&code),
            connect_code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(
            connect_code_hash(&code),
            connect_code_hash("AAAA-AAAA-AAAA")
        );
    }

    #[test]
    fn placeholder_emails_are_valid_reserved_and_unpredictable() {
        let who = ChatIdentity::new(ChatPlatform::Matrix, "@ana:example.org").ok();
        let email = who.as_ref().map(ChatIdentity::placeholder_email);
        let parsed = email.as_deref().map(identity::Email::parse);
        assert!(
            matches!(parsed, Some(Ok(ref e)) if e.is_reserved()),
            "{email:?}"
        );
        assert_ne!(email, who.map(|w| w.placeholder_email()));
        assert_eq!(fit_display_name("  ", "@x:y"), "@x:y");
        assert_eq!(fit_display_name(&"a".repeat(300), "x").len(), 100);
    }
}
