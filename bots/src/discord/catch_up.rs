//! Reading back what was said in bound channels while the bot was away.
//!
//! Every message handled in a bound channel (and every interaction there) moves the channel's
//! cursor, kept in the database (`control.chat_cursors`). On READY (a start, or a new session
//! after a refused resume) and on RESUMED, each bound channel is asked through REST for the
//! messages after its cursor, oldest first, and they are handled like live ones: the message id
//! is the idempotency key, so one the gateway also delivers acts once; one older than the away
//! window is asked to be sent again. A channel without a cursor (bound before cursors were
//! kept) is not read back: nothing says which of its messages were answered already.

use coinsence_api::domain::chat::ChatPlatform;
use serenity::all::{ChannelId, GetMessages, Http, MessageId};

use super::State;

/// Discord's largest page of messages.
const PAGE: u8 = 100;

impl State {
    /// Remembers that `id` (a message or an interaction) was handled in `channel`.
    pub(super) async fn read(&self, channel: ChannelId, id: u64) {
        let Ok(id) = i64::try_from(id) else {
            return;
        };
        let core = self.engine.core();
        if let Err(e) = core
            .advance_chat_cursor(ChatPlatform::Discord, &channel.to_string(), id)
            .await
        {
            tracing::warn!(error = %e, %channel, "Discord read position not saved");
        }
    }

    /// Handles what every bound channel received after its cursor.
    pub(super) async fn catch_up(&self, http: &Http) {
        let _one = self.catching_up.lock().await;
        let core = self.engine.core();
        let rooms = match core.chat_bound_rooms(ChatPlatform::Discord).await {
            Ok(rooms) => rooms,
            Err(e) => {
                tracing::warn!(error = %e, "Discord catch-up: bound channels not read");
                return;
            }
        };
        let mut handled = 0usize;
        for room in rooms {
            let Some(channel) = room.parse::<u64>().ok().filter(|&c| c != 0) else {
                continue;
            };
            let channel = ChannelId::new(channel);
            let after = match core.chat_cursor(ChatPlatform::Discord, &room).await {
                Ok(Some(last)) => u64::try_from(last).ok().filter(|&l| l != 0),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, %channel, "Discord catch-up: cursor not read");
                    None
                }
            };
            let Some(mut after) = after else {
                continue;
            };
            loop {
                let page = GetMessages::new().after(MessageId::new(after)).limit(PAGE);
                let mut messages = match channel.messages(http, page).await {
                    Ok(messages) => messages,
                    Err(e) => {
                        tracing::warn!(error = %e, %channel, "Discord catch-up: messages not read");
                        break;
                    }
                };
                // Discord answers newest first.
                messages.sort_by_key(|m| m.id);
                let full = messages.len() >= usize::from(PAGE);
                for m in &messages {
                    // A bound channel is never a direct one (`/connect` refuses there).
                    self.on_message_in(http, m, false).await;
                    after = after.max(m.id.get());
                    handled += 1;
                }
                if !full {
                    break;
                }
            }
        }
        if handled > 0 {
            tracing::info!(
                messages = handled,
                "Discord bot caught up on what arrived while it was away"
            );
        }
    }
}
