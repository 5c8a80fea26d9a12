//! Handling updates: a message becomes an engine call (mentions resolved to user ids first), a
//! button press a vote; the reply goes back to the chat, or privately.

use coinsence_api::domain::chat::ChatPlatform;
use teloxide::RequestError;
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::{Request, Requester};
use teloxide::types::{CallbackQuery, Chat, ChatId, Message, MessageEntityKind, MessageId, User};

use super::{TelegramBot, sink, text};
use crate::away;
use crate::command::{Command, parse};
use crate::engine::Incoming;
use crate::reply::{Audience, Reply, Tone};
use crate::say;
use coinsence_api::i18n::{Args, Lang};

impl TelegramBot {
    /// A message in a chat with the bot. Public so a test can hand it one directly.
    pub async fn handle_message(&self, msg: &Message) {
        let Some(from) = msg.from.as_ref() else {
            return;
        };
        let people = &self.inner.people;
        people.learn(from);
        if let Some(users) = msg.new_chat_members() {
            users.iter().for_each(|u| people.learn(u));
        }
        let replied_to = msg
            .reply_to_message()
            .and_then(|m| m.from.as_ref())
            .filter(|u| !u.is_bot && u.id != from.id);
        if let Some(u) = replied_to {
            people.learn(u);
        }
        if from.is_bot {
            return;
        }
        // Telegram tells both chats: the old group whereto, the new supergroup wherefrom.
        if let Some(to) = msg.migrate_to_chat_id() {
            self.follow_migration(msg.chat.id, *to, from).await;
            return;
        }
        if let Some(old) = msg.migrate_from_chat_id() {
            self.follow_migration(*old, msg.chat.id, from).await;
            return;
        }
        let Some(line) = msg.text() else {
            return;
        };
        let line = self.with_ids(msg, line);
        let parsed = parse(&line, self.inner.engine.dialect());
        let parsed = match (parsed, replied_to) {
            // A payment without a payee, sent as a reply: the payee is whom it replies to.
            (Err(_), Some(u)) => {
                let with = text::with_payee(&line, &text::id_mention(u.id.0));
                match parse(&with, self.inner.engine.dialect()) {
                    Ok(Some(pay @ Command::Pay { .. })) => Ok(Some(pay)),
                    _ => parse(&line, self.inner.engine.dialect()),
                }
            }
            (parsed, _) => parsed,
        };
        let incoming = Incoming {
            room: msg.chat.id.0.to_string(),
            sender: from.id.0.to_string(),
            sender_name: from.full_name(),
            event_id: Some(format!("tg:{}:{}", msg.chat.id.0, msg.id.0)),
            direct: msg.chat.is_private(),
            locale: locale(from),
        };
        let engine = &self.inner.engine;
        // A command that waited too long while the bot was away is not run.
        if self.inner.away.too_old(msg.date, chrono::Utc::now()) {
            if let Some(reply) = away::too_old_answer(engine, &incoming, &line).await {
                self.answer(&msg.chat, msg.id, from, &reply).await;
            }
            return;
        }
        let reply = match parsed {
            Ok(None) => return,
            Err(e) => engine.mistake(&incoming, &e).await,
            Ok(Some(command)) => match self.named(command) {
                Ok(command) => engine.execute(&incoming, command).await,
                Err(unknown) => {
                    let lang = engine.lang_of(&incoming).await;
                    say::error(
                        lang,
                        "chat-unknown-username",
                        Args::new(),
                        vec![("name", say::t(unknown))],
                    )
                }
            },
        };
        self.answer(&msg.chat, msg.id, from, &reply).await;
    }

    /// A group that became a supergroup has a new chat id: its org goes with it.
    async fn follow_migration(&self, old: ChatId, new: ChatId, from: &User) {
        let core = self.inner.engine.core();
        let ctx = core
            .chat_context(
                ChatPlatform::Telegram,
                &old.0.to_string(),
                &from.id.0.to_string(),
            )
            .await;
        let tenant = match ctx {
            Ok(ctx) => ctx.tenant,
            Err(e) => {
                tracing::warn!(error = %e, "group migration: binding not read");
                return;
            }
        };
        if let Some(tenant) = tenant {
            match core
                .bind_room(ChatPlatform::Telegram, &new.0.to_string(), &tenant)
                .await
            {
                Ok(()) => tracing::info!(old = old.0, new = new.0, "group moved; binding follows"),
                Err(e) => tracing::warn!(error = %e, "group migration: binding not moved"),
            }
        }
    }

    /// The line with its first mention (the payee's place in the grammar) written as
    /// `@<user id>` when the bot can resolve it. Later ones, in a memo, stay as typed.
    fn with_ids(&self, msg: &Message, line: &str) -> String {
        let Some(entities) = msg.parse_entities() else {
            return line.to_owned();
        };
        let mut edits = Vec::new();
        for entity in entities {
            match entity.kind() {
                MessageEntityKind::Mention => {
                    let name = entity.text().trim_start_matches('@');
                    if name.eq_ignore_ascii_case(&self.inner.username) {
                        continue;
                    }
                    if let Some(id) = self.inner.people.id_of(name) {
                        edits.push((entity.range(), text::id_mention(id)));
                    }
                    break;
                }
                MessageEntityKind::TextMention { user } => {
                    self.inner.people.learn(user);
                    edits.push((entity.range(), text::id_mention(user.id.0)));
                    break;
                }
                _ => {}
            }
        }
        text::rewrite(line, edits)
    }

    /// A payee must be a user id by now: an `@username` nobody was seen with is refused (the
    /// error is that name), since paying the name would pay no one the person could ever be. A
    /// known one gets their name.
    fn named(&self, mut command: Command) -> Result<Command, String> {
        if let Command::Pay { to, .. } = &mut command {
            if !text::is_user_id(&to.id) {
                return Err(to.display.clone());
            }
            if let Some(name) = to
                .id
                .parse()
                .ok()
                .and_then(|id| self.inner.people.name_of(id))
            {
                to.display = name;
            }
        }
        Ok(command)
    }

    /// A press on a vote button: answered at once (the spinner stops), run as `/vote` for the
    /// presser, and a successful vote is shown in the chat.
    pub async fn handle_callback(&self, q: &CallbackQuery) {
        self.inner.people.learn(&q.from);
        let bot = &self.inner.sender.bot;
        let Some((proposal, choice)) = q.data.as_deref().and_then(text::vote_data) else {
            if let Err(e) = bot.answer_callback_query(q.id.clone()).send().await {
                tracing::debug!(error = %self.inner.sender.redact(&e), "callback not answered");
            }
            return;
        };
        // A press without its message (too old) can only be answered privately.
        let (chat, direct, message) = match &q.message {
            Some(m) => (m.chat().id, m.chat().is_private(), Some(m.id())),
            None => (ChatId::from(q.from.id), true, None),
        };
        let incoming = Incoming {
            room: chat.0.to_string(),
            sender: q.from.id.0.to_string(),
            sender_name: q.from.full_name(),
            event_id: Some(format!("tg-cb:{}", q.id.0)),
            direct,
            locale: locale(&q.from),
        };
        let reply = self
            .inner
            .engine
            .execute(&incoming, Command::Vote { proposal, choice })
            .await;
        let toast: String = reply.plain().chars().take(200).collect();
        if let Err(e) = bot
            .answer_callback_query(q.id.clone())
            .text(toast)
            .show_alert(reply.tone == Tone::Error)
            .send()
            .await
        {
            tracing::debug!(error = %self.inner.sender.redact(&e), "callback not answered");
        }
        if reply.tone == Tone::Ok
            && let Err(e) = self.inner.sender.send(chat, &reply, message).await
        {
            tracing::warn!(error = %self.inner.sender.redact(&e), chat = chat.0, "vote reply not sent");
        }
    }

    /// Sends a reply in the chat, or for the sender alone, in their private chat; the group then
    /// hears whether that worked. Failures are logged: the person can ask again.
    async fn answer(&self, chat: &Chat, cause: MessageId, from: &User, reply: &Reply) {
        let sender = &self.inner.sender;
        if reply.audience == Audience::Sender && !chat.is_private() {
            let lang = reply.lang;
            let notice = match sender.send(ChatId::from(from.id), reply, None).await {
                Ok(_) => say::line(lang, "chat-sent-private", Args::new(), vec![]),
                Err(RequestError::Api(e)) if sink::cannot_write(&e) => {
                    let bot = self
                        .inner
                        .me
                        .user
                        .username
                        .as_deref()
                        .unwrap_or(&self.inner.username);
                    say::error(
                        lang,
                        "chat-private-start",
                        Args::new(),
                        vec![("bot", say::t(bot))],
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %sender.redact(&e), "private reply not sent");
                    say::error(lang, "chat-private-failed", Args::new(), vec![])
                }
            };
            if let Err(e) = sender.send(chat.id, &notice, Some(cause)).await {
                tracing::warn!(error = %sender.redact(&e), chat = chat.id.0, "reply not sent");
            }
            return;
        }
        if let Err(e) = sender.send(chat.id, reply, Some(cause)).await {
            tracing::warn!(error = %sender.redact(&e), chat = chat.id.0, "reply not sent");
        }
    }
}

/// The language a Telegram user's app is set to (`language_code`, an IETF tag such as `de`).
fn locale(user: &User) -> Option<Lang> {
    user.language_code.as_deref().and_then(Lang::from_tag)
}
