//! What the chat adapters remember across restarts: where they stopped reading each room (to
//! catch up on what arrived while they were away), and whom a room was told about a first
//! private message.

use super::chat::{ChatIdentity, ChatPlatform};
use crate::core::Core;
use crate::error::Result;

impl Core {
    /// The rooms bound to any org on a platform: the ones an adapter catches up on.
    pub async fn chat_bound_rooms(&self, platform: ChatPlatform) -> Result<Vec<String>> {
        let rooms: Vec<(String,)> = sqlx::query_as(
            "SELECT room_id FROM control.chat_rooms WHERE platform = $1 ORDER BY room_id",
        )
        .bind(platform.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rooms.into_iter().map(|(r,)| r).collect())
    }

    /// The newest message id handled in a room, if any.
    pub async fn chat_cursor(&self, platform: ChatPlatform, room_id: &str) -> Result<Option<i64>> {
        let last: Option<(i64,)> = sqlx::query_as(
            "SELECT last_message FROM control.chat_cursors WHERE platform = $1 AND room_id = $2",
        )
        .bind(platform.as_str())
        .bind(room_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(last.map(|(m,)| m))
    }

    /// Records that `message` was handled in a room, if the room is bound (an unbound one is
    /// never caught up on, so nothing is kept for it). The cursor only moves forward: messages
    /// handled out of order (live ones beside a catch-up) never move it back.
    pub async fn advance_chat_cursor(
        &self,
        platform: ChatPlatform,
        room_id: &str,
        message: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO control.chat_cursors (platform, room_id, last_message)
             SELECT $1, $2, $3 WHERE EXISTS (
               SELECT 1 FROM control.chat_rooms WHERE platform = $1 AND room_id = $2)
             ON CONFLICT (platform, room_id) DO UPDATE
               SET last_message = EXCLUDED.last_message, updated_at = now()
               WHERE control.chat_cursors.last_message < EXCLUDED.last_message",
        )
        .bind(platform.as_str())
        .bind(room_id)
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks that a room is being told about this person's first private message: true the
    /// first time only (per person and platform), so the room hears it once, whatever restarts.
    pub async fn first_direct_told(&self, who: &ChatIdentity) -> Result<bool> {
        let told = sqlx::query(
            "UPDATE control.chat_identities SET direct_told_at = now()
             WHERE platform = $1 AND platform_user_id = $2 AND direct_told_at IS NULL",
        )
        .bind(who.platform.as_str())
        .bind(&who.platform_user_id)
        .execute(&self.pool)
        .await?;
        Ok(told.rows_affected() == 1)
    }
}
