//! An entry's canonical encoding, shared by the hash chain (`seal`) and the Merkle log
//! (`tree_heads`, whose leaf data it is); its format is documented in `seal`.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};

/// A 32-byte hash, shown as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(into = "String", try_from = "String")]
#[schema(value_type = String)]
pub struct HexHash(pub [u8; 32]);

impl TryFrom<Vec<u8>> for HexHash {
    type Error = Error;
    fn try_from(bytes: Vec<u8>) -> Result<Self> {
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self)
            .map_err(|_| Error::Internal(anyhow::anyhow!("a stored hash is not 32 bytes")))
    }
}

impl TryFrom<String> for HexHash {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        hex::decode(&s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(Self)
            .ok_or_else(|| format!("not a hex SHA-256 hash: {s:?}"))
    }
}

impl From<HexHash> for String {
    fn from(h: HexHash) -> Self {
        hex::encode(h.0)
    }
}

/// Journal rows in their canonical form.
#[derive(sqlx::FromRow)]
pub(crate) struct Entry {
    pub(crate) id: i64,
    pub(crate) currency_id: i64,
    pub(crate) from_account: i64,
    pub(crate) to_account: i64,
    pub(crate) amount: i64,
    pub(crate) kind: String,
    pub(crate) actor_user_id: Option<i64>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) memo: String,
    pub(crate) idempotency_key: String,
    pub(crate) fingerprint: Vec<u8>,
}

impl Entry {
    /// Also the Merkle log's leaf data (`merkle::leaf_hash` of these bytes).
    pub(crate) fn canonical(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            self.id,
            self.currency_id,
            self.from_account,
            self.to_account,
            self.amount,
            self.kind,
            self.actor_user_id
                .map(|a| a.to_string())
                .unwrap_or_default(),
            self.created_at.timestamp_micros(),
            hex::encode(Sha256::digest(self.memo.as_bytes())),
            hex::encode(Sha256::digest(self.idempotency_key.as_bytes())),
            hex::encode(&self.fingerprint),
        )
    }
}

pub(crate) const ENTRY_COLUMNS: &str = "id, currency_id, from_account, to_account, amount, kind, actor_user_id, \
     created_at, memo, idempotency_key, fingerprint";

/// Entries with ids in `(after, up_to]`, in id order, streamed.
pub(crate) fn entries<'c>(
    tx: &'c mut TenantTx,
    after: i64,
    up_to: i64,
) -> BoxStream<'c, sqlx::Result<Entry>> {
    let sql =
        format!("SELECT {ENTRY_COLUMNS} FROM transfers WHERE id > $1 AND id <= $2 ORDER BY id");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(up_to)
        .fetch(tx.conn())
}
