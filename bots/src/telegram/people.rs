//! Who is who on Telegram, as far as the bot has seen.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use teloxide::types::User;

const PEOPLE_REMEMBERED: usize = 100_000;

/// Whom the bot has seen: username → user id (usernames change, ids do not), and names. Learnt
/// from every update; kept in memory, so after a restart a person is known again once they write
/// or are replied to.
#[derive(Default)]
pub struct People {
    inner: Mutex<PeopleInner>,
}

#[derive(Default)]
struct PeopleInner {
    by_username: HashMap<String, u64>,
    /// id → (username, full name).
    by_id: HashMap<u64, (Option<String>, String)>,
}

impl People {
    pub fn learn(&self, user: &User) {
        if user.is_bot {
            return;
        }
        let mut p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: past this many people, start over (they are learnt again as they speak).
        if p.by_id.len() >= PEOPLE_REMEMBERED {
            *p = PeopleInner::default();
        }
        let username = user.username.as_deref().map(str::to_lowercase);
        let id = user.id.0;
        // They dropped or changed their username: it no longer names them (unless someone else
        // has taken it since).
        if let Some((Some(old), _)) = p.by_id.get(&id)
            && Some(old) != username.as_ref()
        {
            let old = old.clone();
            if p.by_username.get(&old) == Some(&id) {
                p.by_username.remove(&old);
            }
        }
        if let Some(name) = &username {
            p.by_username.insert(name.clone(), id);
        }
        p.by_id.insert(id, (username, user.full_name()));
    }

    /// The id behind a username (without `@`, any case).
    pub fn id_of(&self, username: &str) -> Option<u64> {
        let p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        p.by_username.get(&username.to_lowercase()).copied()
    }

    pub fn name_of(&self, id: u64) -> Option<String> {
        let p = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        p.by_id.get(&id).map(|(_, name)| name.clone())
    }
}
