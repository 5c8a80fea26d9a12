//! The console adapter: the chat grammar in a terminal, one line in and the reply out. It works
//! with a pipe too, so scripts can drive an org (`echo /balance | coinsence chat ...`).
//!
//! The console speaks as a named member of one org: its "room" is `org:<slug>`, bound to that org
//! by the operator who runs it (who has the database), so it needs no `/connect`.

use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::i18n::Lang;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::{Engine, Incoming};
use crate::reply::{Audience, Reply};

/// One person at a terminal, in one room.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub room: String,
    pub name: String,
    /// The language the terminal says its user reads (the console's "platform" language);
    /// `None` leaves it to the person's own choice and the org.
    pub locale: Option<Lang>,
}

impl ConsoleSession {
    /// The console room of an org, as `coinsence chat --org` uses it.
    pub fn for_org(slug: &str, name: &str) -> Self {
        Self {
            room: room_for_org(slug),
            name: name.trim().to_owned(),
            locale: None,
        }
    }

    /// The terminal's language, as a locale tag (`de_DE.UTF-8`, `en`); one we do not speak
    /// counts as none.
    pub fn with_locale(mut self, tag: Option<&str>) -> Self {
        self.locale = tag.and_then(Lang::from_tag);
        self
    }

    /// The message a typed line is, from this person. Console names are case-insensitive.
    pub fn incoming(&self, event_id: Option<String>) -> Incoming {
        Incoming {
            room: self.room.clone(),
            sender: self.name.to_lowercase(),
            sender_name: self.name.clone(),
            event_id,
            direct: false,
            locale: self.locale,
        }
    }
}

/// The console room id of an org.
pub fn room_for_org(slug: &str) -> String {
    format!("org:{slug}")
}

/// Answers one typed line; a line without `/` or `!` is read as a command anyway (there is no
/// one else to talk to at a console). `None` for a blank line.
pub async fn answer(engine: &Engine, session: &ConsoleSession, line: &str) -> Option<Reply> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let text = if line.starts_with('/') || line.starts_with('!') {
        line.to_owned()
    } else {
        format!("/{line}")
    };
    let msg = session.incoming(None);
    match engine.handle_text(&msg, &text).await {
        Some(reply) => Some(reply),
        None => Some(crate::engine::help(engine.lang_of(&msg).await, None, None)),
    }
}

/// The console's rendering: plain text; a private reply is shown as is (nobody else is here).
pub fn render(reply: &Reply) -> String {
    match reply.audience {
        Audience::Room | Audience::Sender => reply.plain(),
    }
}

/// Reads lines until the input ends, writing each reply followed by a blank line. `prompt` is
/// shown before each line (for a terminal; empty for a pipe).
pub async fn run<R, W>(
    engine: &Engine,
    session: &ConsoleSession,
    input: R,
    mut output: W,
    prompt: &str,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    debug_assert_eq!(engine.platform(), ChatPlatform::Console);
    let mut lines = input.lines();
    output.write_all(prompt.as_bytes()).await?;
    output.flush().await?;
    while let Some(line) = lines.next_line().await? {
        if let Some(reply) = answer(engine, session, &line).await {
            output.write_all(render(&reply).as_bytes()).await?;
            output.write_all(b"\n\n").await?;
        }
        output.write_all(prompt.as_bytes()).await?;
        output.flush().await?;
    }
    Ok(())
}
