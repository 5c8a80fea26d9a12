//! Sending replies: within the flood limits (teloxide's `Throttle`), waiting out `retry_after`,
//! tokens kept out of error texts.

use std::time::Duration;

use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::{Limits, Settings};
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::{Request, Requester};
use teloxide::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageId, ParseMode,
    ReplyParameters,
};
use teloxide::{Bot, RequestError};

use super::text;
use crate::reply::Reply;

/// Sends replies within the flood limits.
pub(crate) struct Sender {
    /// For everything but messages (polling, callbacks, the webhook), which have no flood limit.
    pub(super) bot: Bot,
    /// Messages go through this, unless the limits are off.
    throttled: Option<Throttle<Bot>>,
}

/// An error's text without the token. teloxide strips it from request URLs only when they start
/// with `/bot<token>` and the secret has the usual length; a self-hosted API under a path, or an
/// unusual token, would show it.
pub(super) fn redact(text: &str, token: &str) -> String {
    let mut out = text.replace(token, "<token>");
    if let Some((_, secret)) = token.split_once(':')
        && secret.len() >= 8
    {
        out = out.replace(secret, "<token>");
    }
    out
}

/// How often a reply is retried after a `retry_after`; a longer wait than this is not waited.
const RETRIES: usize = 5;
const LONGEST_WAIT: Duration = Duration::from_secs(60);

impl Sender {
    /// Starts the throttle's queue (a task) when there are limits.
    pub(super) fn new(bot: Bot, limits: Option<Limits>) -> Self {
        // Not `bot.throttle(limits)`: that retries a 429 by itself, for ever, while a reply
        // here is retried a few times at most and the outbox sink makes one attempt and leaves
        // the wait to its delivery loop. Without retries the adaptor still holds the chat back
        // for the `retry_after` it saw.
        let throttled = limits.map(|limits| {
            Throttle::spawn_with_settings(
                bot.clone(),
                Settings::default().limits(limits).no_retry(),
            )
        });
        Self { bot, throttled }
    }

    pub(super) fn redact(&self, e: &RequestError) -> String {
        redact(&e.to_string(), self.bot.token())
    }

    /// One `sendMessage`, after the flood limiter lets it go.
    pub(super) async fn send_once(
        &self,
        chat: ChatId,
        reply: &Reply,
        reply_to: Option<MessageId>,
    ) -> Result<Message, RequestError> {
        match &self.throttled {
            Some(throttled) => message(throttled, chat, reply, reply_to).send().await,
            None => message(&self.bot, chat, reply, reply_to).send().await,
        }
    }

    /// A reply the person is waiting for: `retry_after` is waited out, a few times.
    pub(super) async fn send(
        &self,
        chat: ChatId,
        reply: &Reply,
        reply_to: Option<MessageId>,
    ) -> Result<Message, RequestError> {
        let mut attempt = 1;
        loop {
            match self.send_once(chat, reply, reply_to).await {
                Err(RequestError::RetryAfter(wait))
                    if attempt < RETRIES && wait.duration() <= LONGEST_WAIT =>
                {
                    tracing::info!(wait = ?wait.duration(), chat = chat.0, "Telegram flood wait");
                    tokio::time::sleep(wait.duration()).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// The `sendMessage` request for a reply, through `bot` (throttled or not).
fn message<B: Requester>(
    bot: &B,
    chat: ChatId,
    reply: &Reply,
    reply_to: Option<MessageId>,
) -> B::SendMessage {
    let mut request = bot
        .send_message(chat, text::html(reply))
        .parse_mode(ParseMode::Html);
    if let Some(id) = reply_to {
        request = request.reply_parameters(ReplyParameters {
            allow_sending_without_reply: Some(true),
            ..ReplyParameters::new(id)
        });
    }
    let buttons = text::vote_buttons(reply);
    if !buttons.is_empty() {
        let row: Vec<InlineKeyboardButton> = buttons
            .into_iter()
            .map(|(label, data)| InlineKeyboardButton::callback(label, data))
            .collect();
        request = request.reply_markup(InlineKeyboardMarkup::new([row]));
    }
    request
}
