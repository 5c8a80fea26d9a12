//! Telegram's flood limits, kept before sending rather than learnt from 429s: about one message
//! a second per chat, twenty a minute per group, thirty a second overall. A send reserves the
//! next free slot at once, so concurrent senders queue instead of all waking together. Tests turn
//! it off ([`Limits::OFF`]); a 429 that comes anyway is still honoured by the senders.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
/// Chats idle for a minute are forgotten once this many are tracked.
const TRACKED_CHATS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The least time between two messages to one chat.
    pub per_chat: Duration,
    /// At most this many messages per minute to one group (negative chat ids).
    pub group_per_minute: usize,
    /// At most this many messages in any one second, to all chats together.
    pub per_second: usize,
}

impl Limits {
    /// What Telegram documents for bots.
    pub const TELEGRAM: Self = Self {
        per_chat: Duration::from_secs(1),
        group_per_minute: 20,
        per_second: 30,
    };
    /// No waiting at all (tests).
    pub const OFF: Self = Self {
        per_chat: Duration::ZERO,
        group_per_minute: usize::MAX,
        per_second: usize::MAX,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::TELEGRAM
    }
}

#[derive(Default)]
struct Slots {
    /// Per chat, the send times of the last minute (some in the future: reserved).
    chats: HashMap<i64, VecDeque<Instant>>,
    /// Messages booked per whole second since `epoch`, for the overall limit. (Not one "next
    /// free moment": a group booked a minute ahead must not hold up every other chat.)
    seconds: BTreeMap<u64, usize>,
}

pub struct Limiter {
    limits: Limits,
    epoch: Instant,
    slots: Mutex<Slots>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            epoch: Instant::now(),
            slots: Mutex::default(),
        }
    }

    /// Waits until a message may go to `chat`.
    pub async fn wait(&self, chat: i64) {
        if self.limits == Limits::OFF {
            return;
        }
        let at = self.reserve(chat, Instant::now());
        tokio::time::sleep_until(at.into()).await;
    }

    /// Books the first moment at or after `now` when a message may go to `chat`.
    fn reserve(&self, chat: i64, now: Instant) -> Instant {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let Slots { chats, seconds } = &mut *slots;
        if chats.len() > TRACKED_CHATS {
            chats.retain(|_, q| q.back().is_some_and(|t| *t + MINUTE > now));
        }
        let sent = chats.entry(chat).or_default();
        while sent.front().is_some_and(|t| *t + MINUTE <= now) {
            sent.pop_front();
        }
        let mut at = now;
        if let Some(last) = sent.back() {
            at = at.max(*last + self.limits.per_chat);
        }
        let per_minute = self.limits.group_per_minute.max(1);
        if chat < 0 && sent.len() >= per_minute {
            at = at.max(sent[sent.len() - per_minute] + MINUTE);
        }
        let now_second = now.saturating_duration_since(self.epoch).as_secs();
        seconds.retain(|s, _| *s >= now_second);
        let mut second = at.saturating_duration_since(self.epoch).as_secs();
        loop {
            let booked = seconds.entry(second).or_default();
            if *booked < self.limits.per_second.max(1) {
                *booked += 1;
                break;
            }
            second += 1;
            at = at.max(self.epoch + Duration::from_secs(second));
        }
        sent.push_back(at);
        while sent.len() > per_minute.min(1024) {
            sent.pop_front();
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_a_second_per_chat_and_twenty_a_minute_per_group() {
        let l = Limiter::new(Limits::TELEGRAM);
        let t0 = Instant::now();
        assert_eq!(l.reserve(5, t0), t0);
        assert_eq!(l.reserve(5, t0), t0 + Duration::from_secs(1));
        // Another chat is not held up by the first.
        assert_eq!(l.reserve(6, t0), t0);

        let g = Limiter::new(Limits::TELEGRAM);
        let times: Vec<Instant> = (0..21).map(|_| g.reserve(-100, t0)).collect();
        assert_eq!(times[19], t0 + Duration::from_secs(19));
        // The 21st waits for the first of the minute to age out.
        assert_eq!(times[20], t0 + MINUTE);
        // A private chat has no per-minute cap, and the group's wait does not hold it up.
        let p: Vec<Instant> = (0..21).map(|_| g.reserve(7, t0)).collect();
        assert_eq!(p[0], t0);
        assert_eq!(p[20], t0 + Duration::from_secs(20));
    }

    #[test]
    fn thirty_a_second_overall() {
        let l = Limiter::new(Limits::TELEGRAM);
        let t0 = l.epoch;
        let times: Vec<Instant> = (0..31).map(|chat| l.reserve(chat, t0)).collect();
        assert!(times[..30].iter().all(|t| *t == t0));
        assert_eq!(times[30], t0 + Duration::from_secs(1));
    }

    #[test]
    fn off_never_waits() {
        let l = Limiter::new(Limits::OFF);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(l.reserve(-1, t0), t0);
        }
    }
}
