//! Commands that arrived while the bot was away (stopped, restarting, disconnected).
//!
//! Every adapter catches up on what it missed when it starts (Matrix from its stored sync token,
//! Telegram from the confirmed `getUpdates` offset, Discord from the last message it handled in
//! each bound channel). A command sent within the [`AwayWindow`] is run as if it had just
//! arrived: its platform event id is its idempotency key, so a command that had acted before
//! the stop only gets its first answer again. An older one is not run (a payment an hour late
//! surprises more than it helps); its sender is asked, once, to send it again.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::command::parse;
use crate::engine::{Engine, Incoming};
use crate::reply::Reply;
use crate::say;

/// How old a missed command may be and still run: one hour unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwayWindow(Duration);

impl Default for AwayWindow {
    fn default() -> Self {
        Self(Duration::from_secs(3600))
    }
}

impl AwayWindow {
    pub fn new(window: Duration) -> Self {
        Self(window)
    }

    pub fn duration(&self) -> Duration {
        self.0
    }

    /// A message sent at `sent` is too old to run at `now`. A clock a little ahead on the
    /// platform's side (a date after `now`) is never too old.
    pub fn too_old(&self, sent: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        match (now - sent).to_std() {
            Ok(age) => age > self.0,
            Err(_) => false,
        }
    }
}

/// The answer to a command too old to run: `None` when the line is no command at all (chat
/// among people is not answered, however old).
pub async fn too_old_answer(engine: &Engine, msg: &Incoming, line: &str) -> Option<Reply> {
    match parse(line, engine.dialect()) {
        Ok(None) => None,
        Ok(Some(_)) | Err(_) => Some(send_again(engine.lang_of(msg).await)),
    }
}

/// "I was away when you sent this; please send it again."
pub fn send_again(lang: coinsence_api::i18n::Lang) -> Reply {
    Reply::text(say::plain(lang, "chat-away-send-again")).in_lang(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_older_than_the_window_is_too_old() {
        let window = AwayWindow::default();
        let now = Utc::now();
        let minute = chrono::Duration::minutes(1);
        assert!(!window.too_old(now - minute * 59, now));
        assert!(window.too_old(now - minute * 61, now));
        // A platform clock ahead of ours.
        assert!(!window.too_old(now + minute, now));
    }
}
