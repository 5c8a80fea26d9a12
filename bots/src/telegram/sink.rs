//! Outbox delivery over Telegram: a bound group is its chat id; a person is their user id, which
//! is also the id of their private chat with the bot (reachable once they pressed Start).

use std::sync::Arc;

use coinsence_api::domain::chat::{ChatPlatform, ChatTarget};
use futures::future::BoxFuture;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::types::ChatId;

use super::send::Sender;
use crate::delivery::{Sent, Sink, SinkError};
use crate::reply::Reply;

#[derive(Clone)]
pub struct TelegramSink {
    pub(super) sender: Arc<Sender>,
}

impl TelegramSink {
    async fn send_to(&self, target: &ChatTarget, reply: &Reply) -> Result<Sent, SinkError> {
        let id = match target {
            ChatTarget::Room(id) => id,
            ChatTarget::Direct {
                platform_user_id, ..
            } => platform_user_id,
        };
        let chat: i64 = id
            .parse()
            .map_err(|_| SinkError::Unreachable(format!("not a Telegram chat id: {id}")))?;
        // One attempt: the delivery loop waits out a rate limit and comes back.
        self.sender
            .send_once(ChatId(chat), reply, None)
            .await
            .map(|_| Sent::Delivered)
            .map_err(|e| classify(&e, &self.sender.redact(&e)))
    }
}

impl Sink for TelegramSink {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Telegram
    }

    /// Telegram has no transaction ids; the delivery loop's record keeps a target from getting
    /// an event twice.
    fn send<'a>(
        &'a self,
        target: &'a ChatTarget,
        reply: &'a Reply,
        _txn_id: &'a str,
    ) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(self.send_to(target, reply))
    }
}

/// Flood waits, chats we can never write to, and the rest; `text` is the error without the token.
pub fn classify(e: &RequestError, text: &str) -> SinkError {
    match e {
        RequestError::RetryAfter(wait) => SinkError::RateLimited(wait.duration()),
        RequestError::Api(api) if cannot_write(api) => SinkError::Unreachable(text.to_owned()),
        // The group became a supergroup with a new id; the old binding cannot be written to.
        RequestError::MigrateToChatId(to) => {
            SinkError::Unreachable(format!("the group moved to chat {to}"))
        }
        _ => SinkError::Failed(text.to_owned()),
    }
}

/// The bot may not write there: blocked, never started by the person, removed from the group.
pub fn cannot_write(e: &ApiError) -> bool {
    match e {
        ApiError::BotBlocked
        | ApiError::CantInitiateConversation
        | ApiError::UserDeactivated
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::ChatNotFound => true,
        // Today's wording ("Forbidden: bot can't initiate conversation with a user") is newer
        // than teloxide's table.
        ApiError::Unknown(text) => text.starts_with("Forbidden"),
        _ => false,
    }
}
