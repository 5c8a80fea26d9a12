//! The engine: runs a [`Command`] for a person in a room against the core's domain operations and
//! answers a platform-neutral [`Reply`]. Adapters only translate messages to [`Incoming`] and
//! replies to their platform; every rule lives in the domain, and every sentence a person reads
//! is written here once.
//!
//! The platform's event id is the idempotency key of everything that moves money or creates
//! something (`<platform>:<room>:<event id>`), so a redelivered or replayed event never acts twice:
//! it gets the first answer again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use coinsence_api::Core;
use coinsence_api::Error;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform};
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::feed::NewPost;
use coinsence_api::domain::governance::market::{ListingKind, ListingStatus, NewListing};
use coinsence_api::domain::governance::pledges::NewPledge;
use coinsence_api::domain::governance::proposals::{NewProposal, ProposalStatus, ProposalView};
use coinsence_api::domain::ids::{AccountId, ListingId, ProjectId, ProposalId, TenantId};
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::ledger::{AccountKind, AccountRef, Currency};
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::tenancy::Tenant;

use crate::command::{AmountText, Command, Dialect, Mention, Verb, help_lines, parse};
use crate::reply::{Reply, Span, Tone};

/// A chat message as the engine needs it, whatever platform it came from.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The platform's room (channel, group) id; for a direct message, that conversation's id.
    pub room: String,
    /// The sender's platform user id.
    pub sender: String,
    /// How the sender is called, for a new member's display name.
    pub sender_name: String,
    /// The platform's id of this message: the idempotency key. `None` (the console) makes every
    /// message new.
    pub event_id: Option<String>,
    /// A one-to-one conversation with the bot rather than a shared room.
    pub direct: bool,
}

/// Settings an engine needs besides the core.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub platform: ChatPlatform,
    /// Where the API is reachable, for the login link's instructions.
    pub public_url: String,
}

/// The currencies of an org, cached briefly: most commands name none and use the first.
type CoinCache = Arc<RwLock<HashMap<TenantId, (Instant, Vec<Currency>)>>>;
const COIN_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Engine {
    core: Core,
    config: EngineConfig,
    dialect: Dialect,
    coins: CoinCache,
}

/// A reply that ends a command early (a person's mistake, or a refusal).
type Said<T> = Result<T, Reply>;

impl Engine {
    pub fn new(core: Core, config: EngineConfig) -> Self {
        Self {
            dialect: Dialect::new(config.platform),
            core,
            config,
            coins: CoinCache::default(),
        }
    }

    /// Sets the grammar's dialect (e.g. the bot's name for `/pay@botname`).
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    pub fn platform(&self) -> ChatPlatform {
        self.config.platform
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// A line of chat: `None` when it is not a command (or is meant for another bot).
    pub async fn handle_text(&self, msg: &Incoming, text: &str) -> Option<Reply> {
        match parse(text, &self.dialect) {
            Ok(None) => None,
            Ok(Some(command)) => Some(self.execute(msg, command).await),
            Err(e) => Some(Reply::error(e.to_string())),
        }
    }

    /// Runs a command and answers. Never fails: a mistake or a fault is a sentence.
    #[tracing::instrument(skip_all, fields(platform = %self.config.platform, room = %msg.room))]
    pub async fn execute(&self, msg: &Incoming, command: Command) -> Reply {
        match self.run(msg, command).await {
            Ok(reply) | Err(reply) => reply,
        }
    }

    async fn run(&self, msg: &Incoming, command: Command) -> Said<Reply> {
        match command {
            Command::Help { verb, unknown } => return Ok(help(verb, unknown.as_deref())),
            Command::Connect { code } => return self.connect(msg, &code).await,
            _ => {}
        }
        let member = self.member(msg).await?;
        match command {
            Command::Pay {
                to,
                amount,
                currency,
                memo,
            } => self.pay(msg, &member, &to, &amount, currency, memo).await,
            Command::Balance => self.balance(&member).await,
            Command::History => self.history(&member).await,
            Command::Pledge {
                amount,
                currency,
                work,
            } => self.pledge(msg, &member, &amount, currency, work).await,
            Command::Propose { title } => self.propose(msg, &member, title).await,
            Command::Vote { proposal, choice } => {
                let key = self.key(msg)?;
                let view = self
                    .core
                    .vote_keyed(&member, ProposalId(proposal), choice, key)
                    .await
                    .map_err(|e| refusal(&e))?;
                Ok(Reply::new(Tone::Ok).line(vec![
                    Span::Text(format!("You voted {choice} on ")),
                    Span::Strong(format!("#{} {}", view.id, view.title)),
                    Span::Text(format!(". {}.", capitalize(&tally_text(&view)))),
                ]))
            }
            Command::Proposals => self.proposals(&member).await,
            Command::Post { body } => {
                let key = self.key(msg)?;
                let post = self
                    .core
                    .post(
                        &member,
                        NewPost {
                            body,
                            platform: self.config.platform.into(),
                        },
                        Some(key),
                    )
                    .await
                    .map_err(|e| refusal(&e))?;
                Ok(Reply::text(format!(
                    "Posted to the feed of {} (post #{}).",
                    member.tenant.name, post.id
                )))
            }
            Command::Offer {
                price,
                currency,
                title,
            } => {
                self.list(msg, &member, ListingKind::Offer, &price, currency, title)
                    .await
            }
            Command::Need {
                price,
                currency,
                title,
            } => {
                self.list(msg, &member, ListingKind::Need, &price, currency, title)
                    .await
            }
            Command::Market => self.market(&member).await,
            Command::Buy { listing } => {
                let key = self.key(msg)?;
                let bought = self
                    .core
                    .buy(&member, ListingId(listing), key)
                    .await
                    .map_err(|e| self.money_refusal(&e))?;
                let listing = self
                    .core
                    .listing(&member, ListingId(listing))
                    .await
                    .map_err(|e| refusal(&e))?;
                Ok(Reply::new(Tone::Ok).line(vec![
                    Span::Text("You bought ".to_owned()),
                    Span::Strong(format!("#{} {}", listing.id, listing.title)),
                    Span::Text(format!(" from {} for ", listing.owner_name)),
                    amount(&bought.price, bought.currency.as_str()),
                    Span::Text(".".to_owned()),
                ]))
            }
            Command::Invest { project, amount: a } => {
                let key = self.key(msg)?;
                let done = self
                    .core
                    .invest(&member, ProjectId(project), a.as_str(), key)
                    .await
                    .map_err(|e| self.money_refusal(&e))?;
                Ok(Reply::new(Tone::Ok).line(vec![
                    Span::Text("You invested ".to_owned()),
                    amount(&done.amount, done.currency.as_str()),
                    Span::Text(format!(" in project #{project} and received ")),
                    amount(&done.shares, done.share_currency.as_str()),
                    Span::Text(".".to_owned()),
                ]))
            }
            Command::Link => {
                let link = self
                    .core
                    .create_login_link(member.user.id)
                    .await
                    .map_err(|e| refusal(&e))?;
                Ok(Reply::text("Your one-time login, valid for 15 minutes: ")
                    .line(vec![Span::Code(link.code.clone())])
                    .line(vec![
                        Span::Text("Exchange it for a token with ".to_owned()),
                        Span::Code(format!(
                            "curl -X POST -H 'Content-Type: application/json' {}/v1/login/link -d '{{\"code\": \"{}\"}}'",
                            self.config.public_url.trim_end_matches('/'),
                            link.code
                        )),
                    ])
                    .to_sender())
            }
            Command::Help { .. } | Command::Connect { .. } => Ok(help(None, None)),
        }
    }

    /// The idempotency key of a command that moves money or creates something.
    fn key(&self, msg: &Incoming) -> Said<IdempotencyKey> {
        let event = match &msg.event_id {
            Some(id) => id.clone(),
            // A console line is a new event every time.
            None => format!("local-{:032x}", rand::random::<u128>()),
        };
        IdempotencyKey::scoped(self.config.platform.as_str(), &msg.room, &event)
            .map_err(|e| refusal(&e))
    }

    /// The org of the room (or, in a direct message, the one org the sender is in).
    async fn tenant_of(&self, msg: &Incoming) -> Said<(Tenant, Option<Member>)> {
        let ctx = self
            .core
            .chat_context(self.config.platform, &msg.room, &msg.sender)
            .await
            .map_err(|e| refusal(&e))?;
        if let Some(tenant) = ctx.tenant.clone() {
            return Ok((tenant, ctx.member()));
        }
        if msg.direct {
            let who = self.identity(&msg.sender)?;
            let mut orgs = self.core.chat_orgs(&who).await.map_err(|e| refusal(&e))?;
            if orgs.len() > 1 {
                return Err(Reply::error(
                    "You are a member of several communities; use a room of the one you mean.",
                ));
            }
            if let Some(tenant) = orgs.pop() {
                return Ok((tenant, None));
            }
        }
        Err(not_connected())
    }

    /// The sender as a member of the room's org: known, or joined now (open orgs).
    async fn member(&self, msg: &Incoming) -> Said<Member> {
        let (tenant, member) = self.tenant_of(msg).await?;
        if let Some(member) = member {
            return Ok(member);
        }
        let who = self.identity(&msg.sender)?;
        self.core
            .chat_member(&tenant, &who, &msg.sender_name)
            .await
            .map_err(|e| refusal(&e))
    }

    fn identity(&self, id: &str) -> Said<ChatIdentity> {
        ChatIdentity::new(self.config.platform, id).map_err(|e| refusal(&e))
    }

    async fn connect(&self, msg: &Incoming, code: &str) -> Said<Reply> {
        if msg.direct {
            return Err(Reply::error(
                "Type /connect in the room you want to connect, not in a direct message.",
            ));
        }
        let by = self
            .core
            .chat_context(self.config.platform, &msg.room, &msg.sender)
            .await
            .ok()
            .and_then(|c| c.user.map(|u| u.id));
        let done = self
            .core
            .connect_room(self.config.platform, &msg.room, code, by)
            .await
            .map_err(|e| match e {
                e if e.is_not_found() => {
                    Reply::error("That connect code is not valid. Ask an admin for a new one.")
                }
                e => refusal(&e),
            })?;
        Ok(Reply::new(Tone::Ok).line(vec![
            Span::Text("This room is now connected to ".to_owned()),
            Span::Strong(done.tenant.name.clone()),
            Span::Text(". ".to_owned()),
            Span::Text("Type ".to_owned()),
            Span::Code("/help".to_owned()),
            Span::Text(" to see what you can do.".to_owned()),
        ]))
    }

    /// The org's coin currencies, from the cache when fresh.
    async fn coins(&self, member: &Member, refresh: bool) -> Said<Vec<Currency>> {
        if !refresh
            && let Ok(cache) = self.coins.read()
            && let Some((at, coins)) = cache.get(&member.tenant.id)
            && at.elapsed() < COIN_CACHE_TTL
        {
            return Ok(coins.clone());
        }
        let coins = self.core.coins(member).await.map_err(|e| refusal(&e))?;
        if let Ok(mut cache) = self.coins.write() {
            cache.insert(member.tenant.id, (Instant::now(), coins.clone()));
        }
        Ok(coins)
    }

    /// The currency a command means: the one it names (which must exist here), or the org's
    /// first coin.
    async fn currency(&self, member: &Member, named: Option<String>) -> Said<Currency> {
        let coins = self.coins(member, false).await?;
        let find = |coins: &[Currency], code: &str| {
            coins.iter().find(|c| c.code.as_str() == code).cloned()
        };
        match named {
            None => coins.first().cloned().ok_or_else(|| {
                Reply::error(format!(
                    "{} has no currency yet; an admin creates one first.",
                    member.tenant.name
                ))
            }),
            Some(code) => {
                if let Some(c) = find(&coins, &code) {
                    return Ok(c);
                }
                let coins = self.coins(member, true).await?;
                find(&coins, &code).ok_or_else(|| {
                    let known: Vec<&str> = coins.iter().map(|c| c.code.as_str()).collect();
                    Reply::error(if known.is_empty() {
                        format!("{} has no currency yet.", member.tenant.name)
                    } else {
                        format!(
                            "There is no currency {code} in {}; use {}. Nothing was changed.",
                            member.tenant.name,
                            known.join(" or ")
                        )
                    })
                })
            }
        }
    }

    async fn pay(
        &self,
        msg: &Incoming,
        member: &Member,
        to: &Mention,
        amount_text: &AmountText,
        currency: Option<String>,
        memo: String,
    ) -> Said<Reply> {
        let currency = self.currency(member, currency).await?;
        let who = self.identity(&to.id)?;
        if who.platform_user_id == msg.sender {
            return Err(Reply::error("You cannot pay yourself."));
        }
        let key = self.key(msg)?;
        // A redelivered payment is answered from the journal, whoever the payee is now.
        let earlier = self
            .core
            .chat_paid(member, &key, &who)
            .await
            .map_err(|e| refusal(&e))?;
        let (payee, new_member) = match earlier {
            Some(paid) => paid,
            None => self
                .core
                .chat_payee(&member.tenant, &msg.room, &who, &to.display, &key)
                .await
                .map_err(|e| match e {
                    e if e.is_not_found() => Reply::error(format!(
                        "{} is not a member of {}, so they cannot be paid here. Nothing was paid.",
                        to.display, member.tenant.name
                    )),
                    e => refusal(&e),
                })?,
        };
        let request = MoveRequest {
            currency: currency.code.as_str().to_owned(),
            to: AccountRef::Member(payee.id),
            amount: amount_text.as_str().to_owned(),
            memo: memo.clone(),
        };
        let receipt = match self.core.pay(member, request, key).await {
            Ok(r) => r,
            Err(Error::InsufficientFunds) => {
                let balance = self
                    .own_accounts(member)
                    .await
                    .ok()
                    .and_then(|a| {
                        a.into_iter()
                            .find(|(_, c, _)| c.id == currency.id)
                            .map(|(_, _, b)| b)
                    })
                    .unwrap_or_else(|| "0".to_owned());
                return Err(Reply::new(Tone::Error).line(vec![
                    Span::Text("You have ".to_owned()),
                    amount(&balance, currency.code.as_str()),
                    Span::Text(", not enough to pay ".to_owned()),
                    amount(amount_text.as_str(), currency.code.as_str()),
                    Span::Text(". Nothing was paid.".to_owned()),
                ]));
            }
            Err(e) => return Err(self.money_refusal(&e)),
        };
        let shown = coinsence_api::domain::money::format_minor(
            receipt.transfer.amount,
            receipt.currency.scale,
        );
        let mut line = vec![
            Span::Text("Paid ".to_owned()),
            amount(&shown, receipt.currency.code.as_str()),
            Span::Text(" to ".to_owned()),
            Span::Strong(payee.display_name.clone()),
        ];
        if !memo.is_empty() {
            line.push(Span::Text(format!(" for {memo}")));
        }
        line.push(Span::Text(".".to_owned()));
        let mut reply = Reply::new(Tone::Ok).line(line);
        if new_member {
            reply = reply.line(vec![Span::Text(format!(
                "{} had no account in {} yet: one was opened, and they will hear of it in a direct message.",
                payee.display_name, member.tenant.name
            ))]);
        }
        Ok(reply)
    }

    /// The member's own accounts: (account, currency, balance text).
    async fn own_accounts(
        &self,
        member: &Member,
    ) -> Result<Vec<(AccountId, Currency, String)>, Error> {
        Ok(self
            .core
            .accounts(member)
            .await?
            .into_iter()
            .filter(|v| {
                v.account.kind == AccountKind::Member
                    && v.account.owner_user_id == Some(member.user.id)
            })
            .map(|v| {
                let balance = v.balance();
                (v.account.id, v.currency, balance)
            })
            .collect())
    }

    async fn balance(&self, member: &Member) -> Said<Reply> {
        let accounts = self.own_accounts(member).await.map_err(|e| refusal(&e))?;
        if accounts.is_empty() {
            return Ok(Reply::text(format!(
                "You have no account in {} yet.",
                member.tenant.name
            )));
        }
        let items = accounts
            .iter()
            .map(|(_, c, balance)| vec![amount(balance, c.code.as_str())])
            .collect();
        Ok(Reply::new(Tone::Ok)
            .line(vec![Span::Text(format!(
                "{}, your balance in {}:",
                member.user.display_name, member.tenant.name
            ))])
            .list(items))
    }

    async fn history(&self, member: &Member) -> Said<Reply> {
        let own = self.own_accounts(member).await.map_err(|e| refusal(&e))?;
        let own_ids: Vec<AccountId> = own.iter().map(|(id, _, _)| *id).collect();
        let mut entries = Vec::new();
        if member.role.sees_all_accounts() {
            // Admins see every entry of the org; in chat they asked for their own.
            for id in &own_ids {
                entries.extend(
                    self.core
                        .history(member, Some(*id), None, 10)
                        .await
                        .map_err(|e| refusal(&e))?,
                );
            }
            entries.sort_by_key(|r| std::cmp::Reverse(r.transfer.id));
            entries.dedup_by(|a, b| a.transfer.id == b.transfer.id);
            entries.truncate(10);
        } else {
            entries = self
                .core
                .history(member, None, None, 10)
                .await
                .map_err(|e| refusal(&e))?;
        }
        if entries.is_empty() {
            return Ok(Reply::text("No payments yet."));
        }
        let items = entries
            .iter()
            .map(|r| {
                let out = own_ids.contains(&r.transfer.from_account);
                let value =
                    coinsence_api::domain::money::format_minor(r.transfer.amount, r.currency.scale);
                let mut spans = vec![
                    Span::Text(format!(
                        "{} {} ",
                        r.transfer.created_at.format("%Y-%m-%d"),
                        if out { "−" } else { "+" }
                    )),
                    amount(&value, r.currency.code.as_str()),
                    Span::Text(format!(" ({})", r.transfer.kind)),
                ];
                if !r.transfer.memo.is_empty() {
                    spans.push(Span::Text(format!(" {}", r.transfer.memo)));
                }
                spans
            })
            .collect();
        Ok(Reply::text("Your latest payments:").list(items))
    }

    async fn pledge(
        &self,
        msg: &Incoming,
        member: &Member,
        amount_text: &AmountText,
        currency: Option<String>,
        work: String,
    ) -> Said<Reply> {
        let currency = self.currency(member, currency).await?;
        let key = self.key(msg)?;
        let pledge = self
            .core
            .pledge(
                member,
                NewPledge {
                    currency: currency.code.as_str().to_owned(),
                    amount: amount_text.as_str().to_owned(),
                    description: work,
                    closes_at: None,
                },
                Some(key),
            )
            .await
            .map_err(|e| refusal(&e))?;
        Ok(Reply::new(Tone::Ok)
            .line(vec![
                Span::Text(format!("Pledge #{}: ", pledge.id)),
                amount(&pledge.amount, pledge.currency.as_str()),
                Span::Text(format!(" for {}. ", pledge.description)),
                Span::Text(format!(
                    "Proposal #{} asks {} to issue it to you; vote on it.",
                    pledge.proposal_id, member.tenant.name
                )),
            ])
            .vote_buttons(pledge.proposal_id.0))
    }

    async fn propose(&self, msg: &Incoming, member: &Member, title: String) -> Said<Reply> {
        let key = self.key(msg)?;
        let view = self
            .core
            .propose(
                member,
                NewProposal {
                    title,
                    description: String::new(),
                    closes_at: None,
                    action: ActionRequest::FreeText,
                },
                Some(key),
            )
            .await
            .map_err(|e| refusal(&e))?;
        Ok(Reply::new(Tone::Ok)
            .line(vec![
                Span::Text("Proposal ".to_owned()),
                Span::Strong(format!("#{} {}", view.id, view.title)),
                Span::Text(format!(
                    " is open until {}.",
                    view.closes_at.format("%Y-%m-%d %H:%M UTC")
                )),
            ])
            .vote_buttons(view.id.0))
    }

    async fn proposals(&self, member: &Member) -> Said<Reply> {
        let open = self
            .core
            .proposals(member, Some(ProposalStatus::Open), None, 20)
            .await
            .map_err(|e| refusal(&e))?;
        if open.is_empty() {
            return Ok(Reply::text(
                "No proposals are open. Open one with /propose.",
            ));
        }
        let items = open
            .iter()
            .map(|p| {
                vec![
                    Span::Strong(format!("#{} {}", p.id, p.title)),
                    Span::Text(format!(" — {}", tally_text(p))),
                ]
            })
            .collect();
        let mut reply = Reply::text("Open proposals:").list(items);
        reply = reply.line(vec![
            Span::Text("Vote with ".to_owned()),
            Span::Code("/vote <id> yes|no|abstain|block".to_owned()),
        ]);
        if let [only] = open.as_slice() {
            reply = reply.vote_buttons(only.id.0);
        }
        Ok(reply)
    }

    async fn list(
        &self,
        msg: &Incoming,
        member: &Member,
        kind: ListingKind,
        price: &AmountText,
        currency: Option<String>,
        title: String,
    ) -> Said<Reply> {
        let currency = self.currency(member, currency).await?;
        let key = self.key(msg)?;
        let listing = self
            .core
            .create_listing(
                member,
                NewListing {
                    kind,
                    title,
                    description: String::new(),
                    price: price.as_str().to_owned(),
                    currency: currency.code.as_str().to_owned(),
                    pledge_id: None,
                },
                Some(key),
            )
            .await
            .map_err(|e| refusal(&e))?;
        let after = match kind {
            ListingKind::Offer => format!(" Others can buy it with /buy {}.", listing.id),
            ListingKind::Need => " Whoever can help may answer with an /offer.".to_owned(),
        };
        Ok(Reply::new(Tone::Ok).line(vec![
            Span::Text(format!("Listed {} ", kind)),
            Span::Strong(format!("#{} {}", listing.id, listing.title)),
            Span::Text(" for ".to_owned()),
            amount(&listing.price, listing.currency.as_str()),
            Span::Text(format!(".{after}")),
        ]))
    }

    async fn market(&self, member: &Member) -> Said<Reply> {
        let open = self
            .core
            .listings(member, Some(ListingStatus::Open), None, 20)
            .await
            .map_err(|e| refusal(&e))?;
        if open.is_empty() {
            return Ok(Reply::text(
                "The market is empty. List something with /offer or /need.",
            ));
        }
        let items = open
            .iter()
            .take(20)
            .map(|l| {
                vec![
                    Span::Strong(format!("#{} {}", l.id, l.title)),
                    Span::Text(format!(" ({} by {}) ", l.kind, l.owner_name)),
                    amount(&l.price, l.currency.as_str()),
                ]
            })
            .collect();
        Ok(Reply::text("On the market:").list(items))
    }

    /// A refused payment, purchase or investment as one sentence.
    fn money_refusal(&self, e: &Error) -> Reply {
        match e {
            Error::InsufficientFunds => {
                Reply::error("You do not have enough money for that. Nothing was paid.")
            }
            e => refusal(e),
        }
    }
}

fn amount(value: &str, currency: &str) -> Span {
    Span::Amount {
        value: value.to_owned(),
        currency: currency.to_owned(),
    }
}

fn tally_text(p: &ProposalView) -> String {
    let votes = format!(
        "yes {}, no {}, abstain {}, block {} of {} voters",
        p.votes.yes, p.votes.no, p.votes.abstain, p.votes.block, p.voters
    );
    match p.status {
        ProposalStatus::Open => format!(
            "{votes}; open until {}",
            p.closes_at.format("%Y-%m-%d %H:%M UTC")
        ),
        ProposalStatus::Passed => format!("{votes}; it passed"),
        ProposalStatus::Rejected => format!("{votes}; it was rejected"),
        ProposalStatus::Failed => format!(
            "{votes}; it passed but could not be carried out: {}",
            p.reason.as_deref().unwrap_or("unknown reason")
        ),
    }
}

fn not_connected() -> Reply {
    Reply::error(
        "This room is not connected to a community yet. An admin gets a code on the portal or \
         with `coinsence org connect-code <org>` and types /connect <code> here.",
    )
}

/// The help: every command, or one; after an unknown command, says so first.
pub fn help(verb: Option<Verb>, unknown: Option<&str>) -> Reply {
    let mut reply = Reply::new(Tone::Ok);
    if let Some(word) = unknown {
        reply = reply.line(vec![Span::Text(format!(
            "I don't know the command \"{word}\". These are the ones I know:"
        ))]);
    }
    match verb {
        Some(v) => {
            let spec = v.spec();
            reply.line(vec![
                Span::Code(spec.usage.to_owned()),
                Span::Text(format!(": {}.", spec.summary)),
            ])
        }
        None => {
            if unknown.is_none() {
                reply = reply.line(vec![Span::Text(
                    "Commands (start them with / or !):".to_owned(),
                )]);
            }
            reply.list(
                help_lines()
                    .into_iter()
                    .map(|(usage, summary)| {
                        vec![
                            Span::Code(usage.to_owned()),
                            Span::Text(format!(" — {summary}")),
                        ]
                    })
                    .collect(),
            )
        }
    }
}

/// A refused domain operation as one sentence for the person; faults of ours are logged and
/// told as such, never shown.
pub fn refusal(e: &Error) -> Reply {
    Reply::error(sentence(e))
}

pub fn sentence(e: &Error) -> String {
    match e {
        Error::Unauthorized => "You need to be signed in for that.".to_owned(),
        // The refusal's sentence from the catalog (`refusals.ftl`).
        Error::Refused(refusal) => refusal.message(coinsence_api::i18n::Lang::En),
        Error::IdempotencyConflict => {
            "That message was already used for something else; nothing was changed.".to_owned()
        }
        Error::InsufficientFunds => {
            "There is not enough money for that. Nothing was paid.".to_owned()
        }
        Error::CeilingExceeded => {
            "That would take the receiving account over its limit. Nothing was paid.".to_owned()
        }
        Error::CurrencyMismatch => "Those accounts are in different currencies.".to_owned(),
        Error::SameAccount => "You cannot pay yourself.".to_owned(),
        Error::Busy | Error::Unavailable { .. } => {
            "Busy right now; nothing was changed. Please try again.".to_owned()
        }
        Error::RateLimited { retry_after_secs } => format!(
            "Too many requests; nothing was changed. Please try again in {retry_after_secs} s."
        ),
        Error::Database(_) | Error::Internal(_) => {
            tracing::error!(error = %e, "chat command failed");
            "Something went wrong on our side; nothing was changed. Please try again.".to_owned()
        }
    }
}

fn capitalize(text: &str) -> String {
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
