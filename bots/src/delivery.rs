//! Outbox delivery to chat: events the domain wrote in its transactional outbox (a payment
//! received, a proposal opened or closed, a post) reach the org's bound rooms and its members'
//! direct messages, at least once and deduplicated.
//!
//! There is one delivery pipeline: the core's [`Core::deliver_outbox`] leases due events, hands
//! each to an [`OutboxSink`], and records it delivered, to be retried after a back-off, or parked
//! with the reason. [`ChatOutbox`] is that sink for chat: it renders the event once and sends it
//! through every platform's [`Sink`] to every target there.
//!
//! - Each (event, platform, target) is recorded in `control.chat_deliveries` once sent, so a
//!   delivery that stopped halfway resumes without sending a target twice; the send itself
//!   carries a transaction id derived from the same triple, which the platform deduplicates too
//!   (Matrix does, per device).
//! - An event counts as delivered only when every platform has sent it to all its targets;
//!   otherwise it is retried after the core's back-off and, after its last attempt, parked.
//! - An event is written in the reader's language: to a room in the org's, to a person in their
//!   own choice (else the org's); each language is rendered once per event.
//! - A rate-limited platform ([`SinkError::RateLimited`], e.g. Matrix `M_LIMIT_EXCEEDED` with
//!   `retry_after_ms`) is waited for, then retried, a few times within one delivery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatPlatform, ChatTarget};
use coinsence_api::domain::governance::outbox::{
    DeliveryError, DeliveryPolicy, EventKind, OutboxEvent, OutboxSink,
};
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::transparency::WITNESS_ROOT_BYTES;
use coinsence_api::domain::tenancy::Tenant;
use coinsence_api::i18n::{Args, Lang};
use futures::future::BoxFuture;
use serde_json::Value;

use crate::reply::{Reply, Span};
use crate::say::{self, code, strong, t};

/// Why a send did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The platform asks to wait this long before sending again.
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    /// The target can never be reached (the bot left the room, the person cannot be messaged):
    /// counted as done, and logged.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Anything else: the event stays pending and is tried again next round.
    #[error("{0}")]
    Failed(String),
}

/// What a successful send tells the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// Delivered in a direct-message room the sink opened now; remember it for next time.
    DirectRoom(String),
}

/// A chat platform that outbox events can be sent to.
pub trait Sink: Send + Sync {
    fn platform(&self) -> ChatPlatform;

    /// Sends `reply` to `target`. `txn_id` is stable for this event and target: a platform that
    /// deduplicates by transaction id will drop a second send.
    fn send<'a>(
        &'a self,
        target: &'a ChatTarget,
        reply: &'a Reply,
        txn_id: &'a str,
    ) -> BoxFuture<'a, Result<Sent, SinkError>>;
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: u64,
    pub events_done: u64,
    pub failed: u64,
}

/// Tries at most this many times per target and round when rate-limited.
const RATE_LIMIT_RETRIES: usize = 5;
/// Never sleeps longer than this for one rate limit, so shutdown stays prompt.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Delivers pending events until `stop` resolves, one round every `interval`.
pub async fn run(
    core: Core,
    sinks: Vec<Arc<dyn Sink>>,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        match deliver_once(&core, &sinks).await {
            Ok(round) if round.sent > 0 || round.failed > 0 => {
                tracing::debug!(?round, "outbox delivery round");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox delivery round failed"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Runs a bot's `work` with outbox delivery to its `sink` beside it; delivery stops when the
/// work ends, and the work's outcome is returned.
pub async fn alongside<T>(
    core: Core,
    sink: Arc<dyn Sink>,
    interval: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let (done, stop) = tokio::sync::oneshot::channel::<()>();
    let work = async move {
        let out = work.await;
        let _ = done.send(());
        out
    };
    let delivery = run(core, vec![sink], interval, async move {
        let _ = stop.await;
    });
    tokio::join!(work, delivery).0
}

/// One round over every org that has chat on one of the sinks' platforms.
pub async fn deliver_once(
    core: &Core,
    sinks: &[Arc<dyn Sink>],
) -> Result<Round, coinsence_api::Error> {
    let outbox = ChatOutbox::new(core.clone(), sinks.to_vec());
    let mut tenants: Vec<Tenant> = Vec::new();
    let mut seen = HashSet::new();
    for sink in sinks {
        for t in core.chat_tenants(sink.platform()).await? {
            if seen.insert(t.id) {
                tenants.push(t);
            }
        }
    }
    let mut events_done = 0;
    for tenant in &tenants {
        let summary = core
            .deliver_outbox(tenant, &outbox, Utc::now(), DeliveryPolicy::default())
            .await?;
        events_done += u64::try_from(summary.delivered).unwrap_or(0);
    }
    let mut round = outbox.round();
    round.events_done = events_done;
    Ok(round)
}

/// The chat side of outbox delivery: renders an event and sends it on every platform.
pub struct ChatOutbox {
    core: Core,
    sinks: Vec<Arc<dyn Sink>>,
    /// What the sends did, for the caller's log and tests.
    round: std::sync::Mutex<Round>,
}

impl ChatOutbox {
    pub fn new(core: Core, sinks: Vec<Arc<dyn Sink>>) -> Self {
        Self {
            core,
            sinks,
            round: std::sync::Mutex::default(),
        }
    }

    /// Sends and failures so far.
    pub fn round(&self) -> Round {
        self.round.lock().map(|r| *r).unwrap_or_default()
    }

    async fn deliver_event(
        &self,
        tenant: &Tenant,
        event: &OutboxEvent,
    ) -> Result<(), DeliveryError> {
        let retry = |e: coinsence_api::Error| DeliveryError::Retry(e.to_string());
        let mut renders = Renders::default();
        let mut round = Round::default();
        let mut complete = true;
        for sink in &self.sinks {
            complete &= deliver_event(
                &self.core,
                tenant,
                event,
                sink.as_ref(),
                &mut renders,
                &mut round,
            )
            .await
            .map_err(retry)?;
        }
        if let Ok(mut total) = self.round.lock() {
            total.sent += round.sent;
            total.failed += round.failed;
        }
        if complete {
            Ok(())
        } else {
            Err(DeliveryError::Retry(format!(
                "{} chat target(s) could not be reached yet",
                round.failed
            )))
        }
    }
}

impl OutboxSink for ChatOutbox {
    fn deliver<'a>(
        &'a self,
        tenant: &'a Tenant,
        event: &'a OutboxEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DeliveryError>> + Send + 'a>>
    {
        Box::pin(self.deliver_event(tenant, event))
    }
}

/// An event's message in each language asked for so far, rendered once.
#[derive(Default)]
struct Renders(Vec<(Lang, Option<Reply>)>);

impl Renders {
    async fn get(
        &mut self,
        core: &Core,
        tenant: &Tenant,
        event: &OutboxEvent,
        lang: Lang,
    ) -> Result<Option<Reply>, coinsence_api::Error> {
        if let Some((_, reply)) = self.0.iter().find(|(l, _)| *l == lang) {
            return Ok(reply.clone());
        }
        let reply = render_event(core, tenant, event, lang).await?;
        self.0.push((lang, reply.clone()));
        Ok(reply)
    }
}

/// The language a target reads: a room its org's, a person their own choice, else the org's.
async fn target_lang(
    core: &Core,
    tenant: &Tenant,
    platform: ChatPlatform,
    target: &ChatTarget,
) -> Result<Lang, coinsence_api::Error> {
    match target {
        ChatTarget::Room(_) => Ok(tenant.language),
        ChatTarget::Direct {
            platform_user_id, ..
        } => {
            // No room: the context is only the person, with their own language.
            let ctx = core.chat_context(platform, "", platform_user_id).await?;
            Ok(Lang::pick(
                ctx.user.and_then(|u| u.language),
                None,
                tenant.language,
            ))
        }
    }
}

/// Sends one event on one platform; `Ok(false)` if a target is still owed it.
async fn deliver_event(
    core: &Core,
    tenant: &Tenant,
    event: &OutboxEvent,
    sink: &dyn Sink,
    renders: &mut Renders,
    round: &mut Round,
) -> Result<bool, coinsence_api::Error> {
    // Events chat does not show need no targets.
    if renders
        .get(core, tenant, event, tenant.language)
        .await?
        .is_none()
    {
        return Ok(true);
    }
    let platform = sink.platform();
    let targets = core
        .chat_targets(tenant.id, platform, event.to_rooms, &event.to_users)
        .await?;
    if targets.is_empty() {
        return Ok(true);
    }
    let done: HashSet<String> = core
        .chat_delivered(tenant.id, event.id, platform)
        .await?
        .into_iter()
        .collect();
    let mut complete = true;
    for target in targets {
        let key = target.key();
        if done.contains(&key) {
            continue;
        }
        let lang = target_lang(core, tenant, platform, &target).await?;
        let Some(reply) = renders.get(core, tenant, event, lang).await? else {
            continue;
        };
        let reply = &reply;
        let txn_id = format!(
            "cs{}-{}-{}",
            tenant.id,
            event.id,
            stable_hash(&format!("{platform}|{key}"))
        );
        let mut attempts = 0;
        loop {
            attempts += 1;
            match sink.send(&target, reply, &txn_id).await {
                Ok(sent) => {
                    if let (
                        Sent::DirectRoom(room),
                        ChatTarget::Direct {
                            platform_user_id, ..
                        },
                    ) = (&sent, &target)
                        && let Ok(who) = coinsence_api::domain::chat::ChatIdentity::new(
                            platform,
                            platform_user_id,
                        )
                    {
                        core.set_dm_room(&who, room).await?;
                    }
                    core.record_chat_delivery(tenant.id, event.id, platform, &key)
                        .await?;
                    round.sent += 1;
                    crate::direct_notice::after_direct(core, tenant, sink, &target).await;
                    break;
                }
                Err(SinkError::RateLimited(wait)) if attempts < RATE_LIMIT_RETRIES => {
                    tracing::info!(?wait, %platform, "rate limited; waiting");
                    tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
                }
                Err(SinkError::Unreachable(why)) => {
                    tracing::warn!(%platform, target = %key, %why, "outbox target unreachable; skipped");
                    core.record_chat_delivery(tenant.id, event.id, platform, &key)
                        .await?;
                    break;
                }
                Err(e) => {
                    tracing::warn!(%platform, target = %key, error = %e, "outbox send failed; will retry");
                    round.failed += 1;
                    complete = false;
                    break;
                }
            }
        }
    }
    Ok(complete)
}

/// Why a closed proposal did not go through, in `lang`: from its code and arguments, or (an
/// event written before they were kept) the English sentence it carries.
fn closed_reason(payload: &Value, lang: Lang) -> String {
    let code = payload.get("reason_code").and_then(Value::as_str);
    let args = payload
        .get("reason_args")
        .filter(|args| !args.is_null())
        .and_then(|args| serde_json::from_value::<Args>(args.clone()).ok());
    match (code, args) {
        (Some(code), Some(args)) => coinsence_api::i18n::Reason::new(code, args).message(lang),
        _ => payload
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    }
}

/// The message an outbox event becomes in `lang`; `None` for events chat does not show.
pub async fn render_event(
    core: &Core,
    tenant: &Tenant,
    event: &OutboxEvent,
    lang: Lang,
) -> Result<Option<Reply>, coinsence_api::Error> {
    let p = &event.payload;
    let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let id = |k: &str| p.get(k).and_then(Value::as_i64).unwrap_or_default();
    let amount = |value: String, currency: String| say::decimal(&value, &currency, lang);
    let org = || t(tenant.name.clone());
    let proposal = || strong(format!("#{} {}", id("proposal_id"), text("title")));
    let line =
        |id: &str, args: Args, marks: Vec<(&'static str, Span)>| say::line(lang, id, args, marks);
    let reply = match event.kind {
        EventKind::PaymentReceived => {
            let from = UserId(id("from_user_id"));
            let names = core.member_names(tenant, &[from]).await?;
            let from = names
                .get(&from)
                .cloned()
                .unwrap_or_else(|| say::plain(lang, "notice-someone"));
            let memo = text("memo");
            let mut marks = vec![
                ("from", strong(from)),
                ("amount", amount(text("amount"), text("currency"))),
                ("org", org()),
                ("balance", code("/balance")),
            ];
            let id = if memo.is_empty() {
                "notice-payment-received"
            } else {
                marks.push(("memo", t(memo)));
                "notice-payment-received-for"
            };
            line(id, Args::new(), marks)
        }
        EventKind::ProposalOpened => line(
            "notice-proposal-opened",
            Args::new(),
            vec![("org", org()), ("proposal", proposal())],
        )
        .vote_buttons(id("proposal_id")),
        EventKind::VoteReminder => line(
            "notice-vote-reminder",
            Args::new(),
            vec![("org", org()), ("proposal", proposal())],
        )
        .vote_buttons(id("proposal_id")),
        EventKind::ProposalClosed => line(
            "notice-proposal-closed",
            Args::new().text("status", text("status")),
            vec![
                ("proposal", proposal()),
                ("reason", t(closed_reason(p, lang))),
            ],
        ),
        EventKind::PledgeApproved => line(
            "notice-pledge-approved",
            Args::new(),
            vec![
                ("description", t(text("description"))),
                ("org", org()),
                ("amount", amount(text("amount"), text("currency"))),
            ],
        ),
        EventKind::ProjectFunded => line(
            "notice-project-funded",
            Args::new().text("project", id("project_id").to_string()),
            vec![
                ("title", t(text("title"))),
                ("raised", t(say::decimal_in(&text("raised"), lang))),
            ],
        ),
        EventKind::ProjectRefunded => line(
            "notice-project-refunded",
            Args::new().text("project", id("project_id").to_string()),
            vec![("title", t(text("title")))],
        ),
        EventKind::ListingBought => line(
            "notice-listing-bought",
            Args::new(),
            vec![
                (
                    "listing",
                    t(format!("#{} {}", id("listing_id"), text("title"))),
                ),
                ("price", amount(text("price"), text("currency"))),
                ("org", org()),
            ],
        ),
        EventKind::PostCreated => line(
            "notice-post",
            Args::new(),
            vec![
                ("author", strong(text("author_name"))),
                ("org", org()),
                ("body", t(text("body"))),
            ],
        ),
        EventKind::TopupPaid => line(
            "notice-topup-paid",
            Args::new(),
            vec![
                ("euros", amount(text("euros"), "EUR".to_owned())),
                ("org", org()),
                ("amount", amount(text("amount"), text("currency"))),
            ],
        ),
        EventKind::TopupFailed => line(
            "notice-topup-failed",
            Args::new(),
            vec![
                ("euros", amount(text("euros"), "EUR".to_owned())),
                ("org", org()),
            ],
        ),
        EventKind::ExchangeFilled | EventKind::ExchangeUnfilled => {
            let id = if event.kind == EventKind::ExchangeFilled {
                "notice-exchange-filled"
            } else {
                "notice-exchange-unfilled"
            };
            let price = text("price");
            line(
                id,
                Args::new()
                    .text("order", id_of(p, "order_id").to_string())
                    .text("why", text("why"))
                    .text("status", text("status"))
                    .text("sell", text("sell"))
                    .text("buy", text("buy")),
                vec![
                    ("org", org()),
                    ("sold", amount(text("sold"), text("sell"))),
                    ("bought", amount(text("bought"), text("buy"))),
                    ("rest", amount(text("rest"), text("sell"))),
                    ("price", t(say::decimal_in(&price, lang))),
                    ("limit", t(say::decimal_in(&text("limit"), lang))),
                ],
            )
        }
        // The witness line `coinsence audit verify --witness` reads back (issue 20).
        EventKind::TreeHead => {
            let full = text("root");
            let root = full
                .get(..2 * WITNESS_ROOT_BYTES)
                .unwrap_or(&full)
                .to_owned();
            line(
                "notice-tree-head",
                Args::new().count("size", id("tree_size")),
                vec![
                    ("org", org()),
                    ("root", code(root)),
                    (
                        "command",
                        code("coinsence audit verify --witness".to_owned()),
                    ),
                ],
            )
        }
    };
    Ok(Some(reply))
}

/// An integer of an event's payload (0 when missing).
fn id_of(payload: &Value, key: &str) -> i64 {
    payload.get(key).and_then(Value::as_i64).unwrap_or_default()
}

/// A short digest that is the same in every run and build (unlike `DefaultHasher`), for
/// transaction ids: FNV-1a, 64 bits, as hex.
pub fn stable_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A closed proposal's reason reaches each reader in their language, from the code and
    /// arguments the event carries; an event written before carries its English sentence.
    #[test]
    fn a_closed_proposals_reason_reads_in_the_readers_language() {
        let event = json!({"reason_code": "receiving_member_left", "reason_args": []});
        assert_eq!(
            closed_reason(&event, Lang::De),
            "Das empfangende Mitglied hat die Organisation verlassen."
        );
        assert_eq!(
            closed_reason(&event, Lang::En),
            "The receiving member has left the org."
        );
        let rejected = json!({"reason_code": "quorum_not_met", "reason_args": []});
        assert_eq!(
            closed_reason(&rejected, Lang::De),
            "zu wenige Mitglieder haben abgestimmt, um das Quorum zu erreichen"
        );
        let before = json!({"reason_code": "blocked", "reason": "a member blocked it"});
        assert_eq!(closed_reason(&before, Lang::De), "a member blocked it");
    }
}
