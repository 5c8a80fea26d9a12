//! Outbox delivery over Discord ([`DiscordSink`]) and the way a reply becomes a Discord message:
//! markdown content, vote buttons as components, and no pings.

use std::sync::Arc;
use std::time::Duration;

use coinsence_api::domain::chat::{ChatPlatform, ChatTarget};
use futures::future::BoxFuture;
use serenity::all::{
    ButtonStyle, ChannelId, CreateActionRow, CreateAllowedMentions, CreateButton, CreateMessage,
    Http, HttpError, MessageId, Nonce, UserId,
};

use crate::delivery::{Sent, Sink, SinkError};
use crate::reply::Reply;

/// Discord refuses longer message content.
const MAX_CONTENT: usize = 2000;

/// The reply's text as Discord markdown, cut to Discord's limit.
pub fn content(reply: &Reply) -> String {
    let text = reply.markdown();
    if text.chars().count() <= MAX_CONTENT {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CONTENT - 1).collect();
    cut.push('…');
    cut
}

/// The vote buttons of a reply, one row (Discord allows five buttons in a row).
pub fn components(reply: &Reply) -> Vec<CreateActionRow> {
    if reply.buttons.is_empty() {
        return Vec::new();
    }
    let buttons = reply
        .buttons
        .iter()
        .map(|b| {
            CreateButton::new(b.data())
                .label(b.caption(reply.lang))
                .emoji(b.emoji().chars().next().unwrap_or('?'))
                .style(match b.choice {
                    coinsence_api::domain::governance::tally::Choice::Yes => ButtonStyle::Success,
                    coinsence_api::domain::governance::tally::Choice::Block => ButtonStyle::Danger,
                    _ => ButtonStyle::Secondary,
                })
        })
        .collect();
    vec![CreateActionRow::Buttons(buttons)]
}

/// Nobody is pinged by the bot: a payee named in a receipt gets a direct message instead.
pub fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A message with the reply; `nonce` (at most 25 characters) lets Discord drop a second send of
/// the same message (`enforce_nonce`), so a retried send never shows twice.
pub fn message(reply: &Reply, nonce: &str) -> CreateMessage {
    CreateMessage::new()
        .content(content(reply))
        .components(components(reply))
        .allowed_mentions(no_pings())
        .nonce(Nonce::String(nonce.chars().take(25).collect()))
        .enforce_nonce(true)
}

/// A reply to a message of a person (shown as an answer to it).
pub fn answer(reply: &Reply, to: MessageId, channel: ChannelId, nonce: &str) -> CreateMessage {
    message(reply, nonce).reference_message((channel, to))
}

/// Rate limits, targets we cannot reach, and the rest.
pub fn classify(e: &serenity::Error) -> SinkError {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => match r.status_code.as_u16() {
            // Serenity's rate limiter waits out 429s itself; one only reaches us when the limiter
            // is off or gave up. Discord's `retry_after` is not kept by serenity: a second is
            // Discord's usual per-route window.
            429 => SinkError::RateLimited(Duration::from_secs(1)),
            // Missing access, unknown channel, a person who does not accept direct messages.
            403 | 404 => SinkError::Unreachable(format!("{}: {}", r.status_code, r.error.message)),
            _ => SinkError::Failed(format!("{}: {}", r.status_code, r.error.message)),
        },
        e => SinkError::Failed(e.to_string()),
    }
}

fn snowflake(id: &str, what: &str) -> Result<u64, SinkError> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| SinkError::Unreachable(format!("{what} {id} is not a Discord id")))
}

/// Outbox delivery over Discord: bound channels by id, people in their direct-message channel
/// (opened once, then remembered by the delivery loop).
#[derive(Clone)]
pub struct DiscordSink {
    http: Arc<Http>,
}

impl DiscordSink {
    pub fn new(http: Arc<Http>) -> Self {
        Self { http }
    }

    async fn send_to(
        &self,
        target: &ChatTarget,
        reply: &Reply,
        txn: &str,
    ) -> Result<Sent, SinkError> {
        let (channel, sent) = match target {
            ChatTarget::Room(id) => (ChannelId::new(snowflake(id, "channel")?), Sent::Delivered),
            ChatTarget::Direct {
                platform_user_id,
                dm_room_id,
                ..
            } => match dm_room_id.as_deref().and_then(|id| id.parse::<u64>().ok()) {
                Some(id) if id > 0 => (ChannelId::new(id), Sent::Delivered),
                _ => {
                    let user = UserId::new(snowflake(platform_user_id, "user")?);
                    let dm = user
                        .create_dm_channel(&self.http)
                        .await
                        .map_err(|e| classify(&e))?;
                    (dm.id, Sent::DirectRoom(dm.id.to_string()))
                }
            },
        };
        channel
            .send_message(&self.http, message(reply, &nonce(txn)))
            .await
            .map_err(|e| classify(&e))?;
        Ok(sent)
    }
}

/// A nonce from a transaction id, within Discord's 25 characters.
pub fn nonce(txn: &str) -> String {
    if txn.len() <= 25 {
        txn.to_owned()
    } else {
        format!("cs{}", crate::delivery::stable_hash(txn))
    }
}

impl Sink for DiscordSink {
    fn platform(&self) -> ChatPlatform {
        ChatPlatform::Discord
    }

    fn send<'a>(
        &'a self,
        target: &'a ChatTarget,
        reply: &'a Reply,
        txn_id: &'a str,
    ) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(self.send_to(target, reply, txn_id))
    }
}
