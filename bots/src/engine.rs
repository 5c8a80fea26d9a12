//! The engine: runs a [`Command`] for a person in a room against the core's domain operations and
//! answers a platform-neutral [`Reply`]. Adapters only translate messages to [`Incoming`] and
//! replies to their platform; every rule lives in the domain, and every sentence a person reads
//! is a message of the catalog (`api/locales/<lang>/chat.ftl`), put together here once.
//!
//! Which language a person reads: their own choice (`/language`), else what their platform says
//! ([`Incoming::locale`]), else the org's default. Amounts they type are read, and amounts they
//! read are written, the way that language writes numbers.
//!
//! The platform's event id is the idempotency key of everything that moves money or creates
//! something (`<platform>:<room>:<event id>`), so a redelivered or replayed event never acts twice:
//! it gets the first answer again.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use coinsence_api::Core;
use coinsence_api::Error;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform, Payee};
use coinsence_api::domain::exchange::orders::NewOrder;
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::feed::NewPost;
use coinsence_api::domain::governance::market::{ListingKind, ListingStatus, NewListing};
use coinsence_api::domain::governance::pledges::NewPledge;
use coinsence_api::domain::governance::proposals::{NewProposal, ProposalStatus, ProposalView};
use coinsence_api::domain::identity::User;
use coinsence_api::domain::ids::{AccountId, ListingId, ProjectId, ProposalId, TenantId};
use coinsence_api::domain::joining_grant::JoiningGrant;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::ledger::{AccountKind, AccountRef, Currency};
use coinsence_api::domain::money::{Amount, MoneyError, Scale, format_minor};
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::tenancy::Tenant;
use coinsence_api::i18n::{Args, Lang};
use coinsence_api::refusal::Refusal;

use crate::command::{
    AmountText, Command, Dialect, LanguageChoice, Mention, ParseError, Verb, help_lines, parse,
};
use crate::reply::{Block, Reply, Span, Tone};
use crate::say::{self, code, strong, t};

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
    /// The language the platform says the sender uses (Discord's interaction `locale`,
    /// Telegram's `language_code`); `None` where it says none we speak, or nothing (Matrix).
    pub locale: Option<Lang>,
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

/// Who is speaking where, as far as the room and the platform tell before anything runs.
struct Context {
    tenant: Option<Tenant>,
    member: Option<Member>,
    user: Option<User>,
    lang: Lang,
}

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
            Err(e) => Some(self.mistake(msg, &e).await),
        }
    }

    /// A line the grammar could not read, told in the sender's language.
    pub async fn mistake(&self, msg: &Incoming, e: &ParseError) -> Reply {
        let lang = self.lang_of(msg).await;
        Reply::error(e.sentence(lang)).in_lang(lang)
    }

    /// The language the sender of `msg` reads: their own choice, else their platform's, else
    /// the room's org's (English where none is known).
    pub async fn lang_of(&self, msg: &Incoming) -> Lang {
        match self.context(msg).await {
            Ok(ctx) => ctx.lang,
            Err(_) => msg.locale.unwrap_or_default(),
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
        let ctx = self.context(msg).await?;
        match command {
            Command::Help { verb, unknown } => {
                let mut reply = help(ctx.lang, verb, unknown.as_deref());
                // The full help of a connected room also says how a newcomer gets money.
                if let (None, None, Some(tenant)) = (verb, &unknown, &ctx.tenant) {
                    reply = reply.line(self.how_to_get_money(ctx.lang, tenant).await);
                }
                return Ok(reply);
            }
            Command::Connect { code } => return self.connect(msg, ctx.lang, &code).await,
            Command::Language { choice } => return self.language(msg, ctx, choice).await,
            _ => {}
        }
        let (member, granted) = self.member(msg, ctx).await?;
        let lang = Lang::pick(member.user.language, msg.locale, member.tenant.language);
        let answer = self.run_as(msg, lang, &member, command).await;
        // A newcomer's first answer says what they were given on joining.
        let Some(grant) = granted else {
            return answer;
        };
        let welcome = Block::Line(say::spans(
            lang,
            "chat-welcome-grant",
            Args::new(),
            vec![
                ("org", strong(member.tenant.name.clone())),
                (
                    "amount",
                    say::amount(
                        grant.amount,
                        grant.currency.scale,
                        grant.currency.code.as_str(),
                        lang,
                    ),
                ),
            ],
        ));
        let first = |mut reply: Reply| {
            reply.blocks.insert(0, welcome.clone());
            reply
        };
        answer.map(first).map_err(first)
    }

    /// Runs a command of a member of the room's org.
    async fn run_as(
        &self,
        msg: &Incoming,
        lang: Lang,
        member: &Member,
        command: Command,
    ) -> Said<Reply> {
        let member = member.clone();
        let refused = |e: Error| refusal(lang, &e);
        match command {
            Command::Pay {
                to,
                amount,
                currency,
                memo,
            } => {
                self.pay(msg, lang, &member, &to, &amount, currency, memo)
                    .await
            }
            Command::Balance => self.balance(lang, &member).await,
            Command::History => self.history(lang, &member).await,
            Command::Pledge {
                amount,
                currency,
                work,
            } => {
                self.pledge(msg, lang, &member, &amount, currency, work)
                    .await
            }
            Command::Propose { title } => self.propose(msg, lang, &member, title).await,
            Command::Vote { proposal, choice } => {
                let key = self.key(msg, lang)?;
                let view = self
                    .core
                    .vote_keyed(&member, ProposalId(proposal), choice, key)
                    .await
                    .map_err(refused)?;
                Ok(say::line(
                    lang,
                    "chat-voted",
                    Args::new()
                        .text("choice", choice.to_string())
                        .text("tally", capitalize(&tally_text(lang, &view))),
                    vec![("proposal", strong(format!("#{} {}", view.id, view.title)))],
                ))
            }
            Command::Proposals => self.proposals(lang, &member).await,
            Command::Post { body } => {
                let key = self.key(msg, lang)?;
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
                    .map_err(refused)?;
                Ok(say::line(
                    lang,
                    "chat-posted",
                    Args::new().text("post", post.id.to_string()),
                    vec![("org", t(member.tenant.name.clone()))],
                ))
            }
            Command::Offer {
                price,
                currency,
                title,
            } => {
                self.list(
                    msg,
                    lang,
                    &member,
                    ListingKind::Offer,
                    &price,
                    currency,
                    title,
                )
                .await
            }
            Command::Need {
                price,
                currency,
                title,
            } => {
                self.list(
                    msg,
                    lang,
                    &member,
                    ListingKind::Need,
                    &price,
                    currency,
                    title,
                )
                .await
            }
            Command::Market => self.market(lang, &member).await,
            Command::Exchange {
                amount,
                sell,
                buy,
                limit,
            } => {
                let new = NewOrder {
                    sell,
                    amount: decimal_text(lang, &amount)?,
                    buy,
                    limit: decimal_text(lang, &limit)?,
                    good_for: None,
                };
                let key = self.key(msg, lang)?;
                let order = self
                    .core
                    .place_order(&member, new, Some(key))
                    .await
                    .map_err(|e| money_refusal(lang, &e))?;
                Ok(say::line(
                    lang,
                    "chat-order-placed",
                    Args::new()
                        .text("order", order.id.to_string())
                        .text("limit", say::decimal_in(&order.limit, lang))
                        .text("buy", order.buy.clone()),
                    vec![("amount", say::decimal(&order.amount, &order.sell, lang))],
                ))
            }
            Command::Verify => Ok(self.verify(&member, lang).await),
            Command::Cashout { amount } => {
                let typed = decimal_text(lang, &amount)?;
                let key = self.key(msg, lang)?;
                let cashout = self
                    .core
                    .request_cashout(&member, &typed, key)
                    .await
                    .map_err(|e| money_refusal(lang, &e))?;
                let message = match cashout.proposal {
                    Some(_) => "chat-cashout-proposed",
                    None => "chat-cashout-asked",
                };
                Ok(say::line(
                    lang,
                    message,
                    Args::new()
                        .text("cashout", cashout.id.to_string())
                        .text("proposal", cashout.proposal.unwrap_or(0).to_string()),
                    vec![
                        (
                            "coins",
                            say::decimal(&cashout.coins, cashout.currency.as_str(), lang),
                        ),
                        (
                            "euros",
                            say::decimal(&format_cents(cashout.cents), "EUR", lang),
                        ),
                    ],
                ))
            }
            Command::ApproveCashout { cashout } => {
                let cashout = self
                    .core
                    .approve_cashout(&member, cashout)
                    .await
                    .map_err(|e| money_refusal(lang, &e))?;
                Ok(say::line(
                    lang,
                    "chat-cashout-approved",
                    Args::new().text("cashout", cashout.id.to_string()),
                    vec![(
                        "euros",
                        say::decimal(&format_cents(cashout.cents), "EUR", lang),
                    )],
                ))
            }
            Command::Orders => {
                let orders = self.core.my_orders(&member).await.map_err(refused)?;
                if orders.is_empty() {
                    return Ok(say::line(lang, "chat-orders-empty", Args::new(), vec![]));
                }
                let items = orders
                    .iter()
                    .take(20)
                    .map(|o| {
                        say::spans(
                            lang,
                            "chat-orders-entry",
                            Args::new()
                                .text("order", o.id.to_string())
                                .text("status", o.status.to_string())
                                .text("limit", say::decimal_in(&o.limit, lang))
                                .text("buy", o.buy.clone()),
                            vec![
                                ("amount", say::decimal(&o.amount, &o.sell, lang)),
                                ("bought", say::decimal(&o.bought, &o.buy, lang)),
                            ],
                        )
                    })
                    .collect();
                Ok(say::line(lang, "chat-orders", Args::new(), vec![]).list(items))
            }
            Command::Cancel { order } => {
                let order = self
                    .core
                    .cancel_order(&member, order)
                    .await
                    .map_err(refused)?;
                Ok(say::line(
                    lang,
                    "chat-order-cancelled",
                    Args::new().text("order", order.id.to_string()),
                    vec![("amount", say::decimal(&order.amount, &order.sell, lang))],
                ))
            }
            Command::Quote { sell, buy } => {
                let q = self
                    .core
                    .exchange_quote(&member, &sell, &buy)
                    .await
                    .map_err(refused)?;
                let args = Args::new()
                    .text("base", q.base.clone())
                    .text("quote", q.quote.clone());
                Ok(match &q.price {
                    None => say::line(lang, "chat-quote-none", args, vec![]),
                    Some(price) => say::line(
                        lang,
                        "chat-quote",
                        args.text("price", say::decimal_in(price, lang)),
                        vec![
                            ("volume", say::decimal(&q.volume, &q.base, lang)),
                            ("imbalance", say::decimal(&q.imbalance, &q.base, lang)),
                        ],
                    ),
                })
            }
            Command::Buy { listing } => {
                let key = self.key(msg, lang)?;
                let bought = self
                    .core
                    .buy(&member, ListingId(listing), key)
                    .await
                    .map_err(|e| money_refusal(lang, &e))?;
                let listing = self
                    .core
                    .listing(&member, ListingId(listing))
                    .await
                    .map_err(refused)?;
                Ok(say::line(
                    lang,
                    "chat-bought",
                    Args::new(),
                    vec![
                        (
                            "listing",
                            strong(format!("#{} {}", listing.id, listing.title)),
                        ),
                        ("seller", t(listing.owner_name.clone())),
                        (
                            "price",
                            say::decimal(&bought.price, bought.currency.as_str(), lang),
                        ),
                    ],
                ))
            }
            Command::Invest { project, amount: a } => {
                // The project's currency decides the scale; the domain checks it. Here the
                // typed number only becomes plain decimal text, as the speaker meant it.
                let typed = decimal_text(lang, &a)?;
                let key = self.key(msg, lang)?;
                let done = self
                    .core
                    .invest(&member, ProjectId(project), &typed, key)
                    .await
                    .map_err(|e| money_refusal(lang, &e))?;
                Ok(say::line(
                    lang,
                    "chat-invested",
                    Args::new().text("project", project.to_string()),
                    vec![
                        (
                            "amount",
                            say::decimal(&done.amount, done.currency.as_str(), lang),
                        ),
                        (
                            "shares",
                            say::decimal(&done.shares, done.share_currency.as_str(), lang),
                        ),
                    ],
                ))
            }
            Command::Link => {
                let link = self
                    .core
                    .create_login_link(member.user.id)
                    .await
                    .map_err(refused)?;
                let curl = format!(
                    "curl -X POST -H 'Content-Type: application/json' {}/v1/login/link -d '{{\"code\": \"{}\"}}'",
                    self.config.public_url.trim_end_matches('/'),
                    link.code
                );
                Ok(Reply::new(Tone::Ok)
                    .in_lang(lang)
                    .line(say::spans(lang, "chat-login-link", Args::new(), vec![]))
                    .line(vec![Span::Code(link.code.clone())])
                    .line(say::spans(
                        lang,
                        "chat-login-exchange",
                        Args::new(),
                        vec![("command", code(curl))],
                    ))
                    .to_sender())
            }
            Command::Topup { amount: a } => {
                let typed = decimal_text(lang, &a)?;
                let key = self.key(msg, lang)?;
                let link = self
                    .core
                    .start_topup(&member, &typed, key)
                    .await
                    .map_err(|e| money_refusal(lang, &e))?;
                Ok(Reply::new(Tone::Ok)
                    .in_lang(lang)
                    .line(say::spans(
                        lang,
                        "chat-topup-link",
                        Args::new(),
                        vec![
                            (
                                "euros",
                                say::decimal(&format_cents(link.amount_cents), "EUR", lang),
                            ),
                            (
                                "coins",
                                say::decimal(&link.coins, link.currency.as_str(), lang),
                            ),
                        ],
                    ))
                    .line(vec![Span::Code(link.url)])
                    .to_sender())
            }
            Command::Help { .. } | Command::Connect { .. } | Command::Language { .. } => {
                Ok(help(lang, None, None))
            }
        }
    }

    /// The idempotency key of a command that moves money or creates something.
    fn key(&self, msg: &Incoming, lang: Lang) -> Said<IdempotencyKey> {
        let event = match &msg.event_id {
            Some(id) => id.clone(),
            // A console line is a new event every time.
            None => format!("local-{:032x}", rand::random::<u128>()),
        };
        IdempotencyKey::scoped(self.config.platform.as_str(), &msg.room, &event)
            .map_err(|e| refusal(lang, &e))
    }

    /// The room's org (or, in a direct message, the one org the sender is in), the sender as
    /// far as known, and the language they read: one query for most commands.
    async fn context(&self, msg: &Incoming) -> Said<Context> {
        let early = msg.locale.unwrap_or_default();
        let ctx = self
            .core
            .chat_context(self.config.platform, &msg.room, &msg.sender)
            .await
            .map_err(|e| refusal(early, &e))?;
        let member = ctx.member();
        let own = ctx.user.as_ref().and_then(|u| u.language);
        let mut tenant = ctx.tenant;
        if tenant.is_none() && msg.direct && ctx.user.is_some() {
            let who = self.identity(&msg.sender, early)?;
            let mut orgs = self
                .core
                .chat_orgs(&who)
                .await
                .map_err(|e| refusal(early, &e))?;
            if orgs.len() == 1 {
                tenant = orgs.pop();
            }
        }
        let org = tenant.as_ref().map(|t| t.language).unwrap_or_default();
        Ok(Context {
            tenant,
            member,
            user: ctx.user,
            lang: Lang::pick(own, msg.locale, org),
        })
    }

    /// How newcomers to `tenant` get money: its joining grant, or an admin.
    async fn how_to_get_money(&self, lang: Lang, tenant: &Tenant) -> Vec<Span> {
        let org = ("org", strong(tenant.name.clone()));
        match self.core.joining_grant(tenant).await {
            Ok(Some(grant)) => say::spans(
                lang,
                "chat-help-grant",
                Args::new(),
                vec![
                    org,
                    (
                        "amount",
                        say::amount(
                            grant.amount,
                            grant.currency.scale,
                            grant.currency.code.as_str(),
                            lang,
                        ),
                    ),
                ],
            ),
            Ok(None) => say::spans(lang, "chat-help-no-grant", Args::new(), vec![org]),
            Err(e) => {
                tracing::warn!(error = %e.for_log(), "could not read the joining grant");
                say::spans(lang, "chat-help-no-grant", Args::new(), vec![org])
            }
        }
    }

    /// The sender as a member of the room's org: known, or joined now (open orgs).
    async fn member(&self, msg: &Incoming, ctx: Context) -> Said<(Member, Option<JoiningGrant>)> {
        let lang = ctx.lang;
        if let Some(member) = ctx.member {
            // Their name as their platform says it now (they may have been paid by mention,
            // under their raw id, before they ever spoke). A failure here costs only the name.
            if msg.sender_name != msg.sender
                && let Err(e) = self.core.follow_chat_name(&member, &msg.sender_name).await
            {
                tracing::warn!(error = %e.for_log(), "could not update a chat member's name");
            }
            return Ok((member, None));
        }
        let Some(tenant) = ctx.tenant else {
            if msg.direct {
                let who = self.identity(&msg.sender, lang)?;
                let orgs = self
                    .core
                    .chat_orgs(&who)
                    .await
                    .map_err(|e| refusal(lang, &e))?;
                if orgs.len() > 1 {
                    return Err(say::error(lang, "chat-several-orgs", Args::new(), vec![]));
                }
            }
            return Err(not_connected(lang));
        };
        let who = self.identity(&msg.sender, lang)?;
        self.core
            .chat_join(&tenant, &who, &msg.sender_name)
            .await
            .map_err(|e| refusal(lang, &e))
    }

    fn identity(&self, id: &str, lang: Lang) -> Said<ChatIdentity> {
        ChatIdentity::new(self.config.platform, id).map_err(|e| refusal(lang, &e))
    }

    async fn connect(&self, msg: &Incoming, lang: Lang, code_text: &str) -> Said<Reply> {
        if msg.direct {
            return Err(say::error(
                lang,
                "chat-connect-in-room",
                Args::new(),
                vec![("connect", code("/connect"))],
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
            .connect_room(self.config.platform, &msg.room, code_text, by)
            .await
            .map_err(|e| match e {
                e if e.is_not_found() => {
                    say::error(lang, "chat-connect-code-invalid", Args::new(), vec![])
                }
                e => refusal(lang, &e),
            })?;
        // The room now speaks its org's language to whoever has no language of their own.
        let lang = Lang::pick(
            self.own_language(msg).await,
            msg.locale,
            done.tenant.language,
        );
        Ok(say::line(
            lang,
            "chat-connected",
            Args::new(),
            vec![
                ("org", strong(done.tenant.name.clone())),
                ("help", code("/help")),
            ],
        ))
    }

    /// The sender's own choice of language, if they made one.
    async fn own_language(&self, msg: &Incoming) -> Option<Lang> {
        self.core
            .chat_context(self.config.platform, &msg.room, &msg.sender)
            .await
            .ok()
            .and_then(|c| c.user)
            .and_then(|u| u.language)
    }

    /// `/language`: tells which language the person reads and why, or sets their own choice
    /// (`auto` clears it, so their platform or the org decide again).
    async fn language(
        &self,
        msg: &Incoming,
        ctx: Context,
        choice: Option<LanguageChoice>,
    ) -> Said<Reply> {
        let lang = ctx.lang;
        let org = ctx.tenant.as_ref().map(|t| t.language).unwrap_or_default();
        let Some(choice) = choice else {
            let why = match (ctx.user.as_ref().and_then(|u| u.language), msg.locale) {
                (Some(_), _) => "own",
                (None, Some(_)) => "platform",
                (None, None) => "org",
            };
            return Ok(Reply::new(Tone::Ok)
                .in_lang(lang)
                .line(say::spans(
                    lang,
                    "chat-language-current",
                    Args::new().text("why", why),
                    vec![("language", strong(say::language_name(lang, lang)))],
                ))
                .line(say::spans(
                    lang,
                    "chat-language-how",
                    Args::new(),
                    vec![
                        ("set", code("/language de|en")),
                        ("auto", code("/language auto")),
                    ],
                )));
        };
        // A person who never wrote before has no user yet: choosing a language makes one.
        let user = match ctx.user {
            Some(user) => user,
            None => {
                let who = self.identity(&msg.sender, lang)?;
                self.core
                    .chat_user(&who, &msg.sender_name)
                    .await
                    .map_err(|e| refusal(lang, &e))?
            }
        };
        let own = match choice {
            LanguageChoice::Set(chosen) => Some(chosen),
            LanguageChoice::Auto => None,
        };
        self.core
            .set_user_language(user.id, own)
            .await
            .map_err(|e| refusal(lang, &e))?;
        let now = Lang::pick(own, msg.locale, org);
        let id = match own {
            Some(_) => "chat-language-set",
            None => "chat-language-auto",
        };
        Ok(say::line(
            now,
            id,
            Args::new(),
            vec![("language", strong(say::language_name(now, now)))],
        ))
    }

    /// The org's coin currencies, from the cache when fresh.
    async fn coins(&self, lang: Lang, member: &Member, refresh: bool) -> Said<Vec<Currency>> {
        if !refresh
            && let Ok(cache) = self.coins.read()
            && let Some((at, coins)) = cache.get(&member.tenant.id)
            && at.elapsed() < COIN_CACHE_TTL
        {
            return Ok(coins.clone());
        }
        let coins = self
            .core
            .coins(member)
            .await
            .map_err(|e| refusal(lang, &e))?;
        if let Ok(mut cache) = self.coins.write() {
            cache.insert(member.tenant.id, (Instant::now(), coins.clone()));
        }
        Ok(coins)
    }

    /// The currency a command means: the one it names (which must exist here), or the org's
    /// first coin.
    async fn currency(&self, lang: Lang, member: &Member, named: Option<String>) -> Said<Currency> {
        let coins = self.coins(lang, member, false).await?;
        let find = |coins: &[Currency], code: &str| {
            coins.iter().find(|c| c.code.as_str() == code).cloned()
        };
        let org = || t(member.tenant.name.clone());
        match named {
            None => coins.first().cloned().ok_or_else(|| {
                say::error(lang, "chat-no-currency", Args::new(), vec![("org", org())])
            }),
            Some(wanted) => {
                if let Some(c) = find(&coins, &wanted) {
                    return Ok(c);
                }
                let coins = self.coins(lang, member, true).await?;
                find(&coins, &wanted).ok_or_else(|| {
                    let known: Vec<&str> = coins.iter().map(|c| c.code.as_str()).collect();
                    if known.is_empty() {
                        say::error(lang, "chat-no-currency", Args::new(), vec![("org", org())])
                    } else {
                        say::error(
                            lang,
                            "chat-unknown-currency",
                            Args::new()
                                .text("known", known.join(" | "))
                                .count("count", i64::try_from(known.len()).unwrap_or(i64::MAX)),
                            vec![("currency", t(wanted.clone())), ("org", org())],
                        )
                    }
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn pay(
        &self,
        msg: &Incoming,
        lang: Lang,
        member: &Member,
        to: &Mention,
        amount_text: &AmountText,
        currency: Option<String>,
        memo: String,
    ) -> Said<Reply> {
        let currency = self.currency(lang, member, currency).await?;
        let typed = read_amount(lang, amount_text, currency.scale)?;
        let to = &self.named(lang, member, to).await?;
        let who = self.identity(&to.id, lang)?;
        if who.platform_user_id == msg.sender {
            return Err(say::error(lang, "chat-pay-yourself", Args::new(), vec![]));
        }
        let key = self.key(msg, lang)?;
        let request = |to: AccountRef| MoveRequest {
            currency: currency.code.as_str().to_owned(),
            to,
            amount: format_minor(typed.minor(), currency.scale),
            memo: memo.clone(),
        };
        // A redelivered payment is answered from the journal, whoever the payee is now.
        let earlier = self
            .core
            .chat_paid(member, &key, &who)
            .await
            .map_err(|e| refusal(lang, &e))?;
        let payee = match earlier {
            Some((user, admitted)) => Ok((Payee::Member(user), admitted)),
            None => self
                .core
                .chat_payee(&member.tenant, &who)
                .await
                .map(|payee| (payee, false)),
        }
        .map_err(|e| match e {
            e if e.is_not_found() => say::error(
                lang,
                "chat-payee-not-member",
                Args::new(),
                vec![
                    ("payee", t(to.display.clone())),
                    ("org", t(member.tenant.name.clone())),
                ],
            ),
            e => refusal(lang, &e),
        })?;
        // Someone new is admitted only by the payment's own transaction: a refused payment
        // leaves the member list as it was.
        let paid = match payee {
            (Payee::Member(user), admitted) => self
                .core
                .pay(member, request(AccountRef::Member(user.id)), key)
                .await
                .map(|receipt| (receipt, user, admitted)),
            (Payee::Newcomer, _) => {
                self.core
                    .chat_pay_newcomer(
                        member,
                        &msg.room,
                        &who,
                        &to.display,
                        request(AccountRef::Issuance),
                        key,
                    )
                    .await
            }
        };
        let code_text = currency.code.as_str();
        let (receipt, payee, new_member) = match paid {
            Ok(paid) => paid,
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
                return Err(say::error(
                    lang,
                    "chat-pay-not-enough",
                    Args::new(),
                    vec![
                        ("balance", say::decimal(&balance, code_text, lang)),
                        (
                            "amount",
                            say::amount(typed.minor(), currency.scale, code_text, lang),
                        ),
                    ],
                ));
            }
            Err(e) => return Err(money_refusal(lang, &e)),
        };
        let shown = say::amount(
            receipt.transfer.amount,
            receipt.currency.scale,
            receipt.currency.code.as_str(),
            lang,
        );
        let mut marks = vec![
            ("amount", shown),
            ("payee", strong(payee.display_name.clone())),
        ];
        let id = if memo.is_empty() {
            "chat-paid"
        } else {
            marks.push(("memo", t(memo)));
            "chat-paid-for"
        };
        let mut reply = say::line(lang, id, Args::new(), marks);
        if new_member {
            reply = reply.line(say::spans(
                lang,
                "chat-payee-account-opened",
                Args::new(),
                vec![
                    ("payee", t(payee.display_name.clone())),
                    ("org", t(member.tenant.name.clone())),
                ],
            ));
        }
        Ok(reply)
    }

    /// The person a mention names: itself, or for a short name (`@ben` on Matrix) the one
    /// member of the room's org it matches; several or none are answered with who they could be.
    async fn named(&self, lang: Lang, member: &Member, to: &Mention) -> Said<Mention> {
        if !to.is_short(self.config.platform) {
            return Ok(to.clone());
        }
        // Enough to tell several apart without listing a crowd.
        const SHOWN: i64 = 5;
        let mut found = self
            .core
            .chat_members_named(&member.tenant, self.config.platform, &to.id, SHOWN)
            .await
            .map_err(|e| refusal(lang, &e))?;
        match found.len() {
            0 => Err(say::error(
                lang,
                "chat-nobody-called",
                Args::new(),
                vec![("name", t(to.id.clone()))],
            )),
            1 => {
                let (id, display) = found.remove(0);
                Ok(Mention { id, display })
            }
            n => Err(say::error(
                lang,
                "chat-which-one",
                Args::new()
                    .text(
                        "choices",
                        found
                            .into_iter()
                            .map(|(id, _)| id)
                            .collect::<Vec<_>>()
                            .join(" | "),
                    )
                    .count("count", i64::try_from(n).unwrap_or(i64::MAX)),
                vec![("name", t(to.id.clone()))],
            )),
        }
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

    async fn balance(&self, lang: Lang, member: &Member) -> Said<Reply> {
        let accounts = self
            .own_accounts(member)
            .await
            .map_err(|e| refusal(lang, &e))?;
        if accounts.is_empty() {
            return Ok(say::line(
                lang,
                "chat-no-account",
                Args::new(),
                vec![("org", t(member.tenant.name.clone()))],
            ));
        }
        let items = accounts
            .iter()
            .map(|(_, c, balance)| vec![say::decimal(balance, c.code.as_str(), lang)])
            .collect();
        Ok(say::line(
            lang,
            "chat-balance",
            Args::new(),
            vec![
                ("name", t(member.user.display_name.clone())),
                ("org", t(member.tenant.name.clone())),
            ],
        )
        .list(items))
    }

    async fn history(&self, lang: Lang, member: &Member) -> Said<Reply> {
        let refused = |e: Error| refusal(lang, &e);
        let own = self.own_accounts(member).await.map_err(refused)?;
        let own_ids: Vec<AccountId> = own.iter().map(|(id, _, _)| *id).collect();
        let mut entries = Vec::new();
        if member.role.sees_all_accounts() {
            // Admins see every entry of the org; in chat they asked for their own.
            for id in &own_ids {
                entries.extend(
                    self.core
                        .history(member, Some(*id), None, 10)
                        .await
                        .map_err(refused)?,
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
                .map_err(refused)?;
        }
        if entries.is_empty() {
            return Ok(say::line(lang, "chat-history-empty", Args::new(), vec![]));
        }
        let items = entries
            .iter()
            .map(|r| {
                let out = own_ids.contains(&r.transfer.from_account);
                let mut marks = vec![
                    ("date", t(say::day(r.transfer.created_at, lang))),
                    (
                        "amount",
                        say::amount(
                            r.transfer.amount,
                            r.currency.scale,
                            r.currency.code.as_str(),
                            lang,
                        ),
                    ),
                ];
                let args = Args::new()
                    .text("direction", if out { "out" } else { "in" })
                    .text("kind", r.transfer.kind.to_string());
                let id = if r.transfer.memo.is_empty() {
                    "chat-history-entry"
                } else {
                    marks.push(("memo", t(r.transfer.memo.clone())));
                    "chat-history-entry-memo"
                };
                say::spans(lang, id, args, marks)
            })
            .collect();
        Ok(say::line(lang, "chat-history", Args::new(), vec![]).list(items))
    }

    async fn pledge(
        &self,
        msg: &Incoming,
        lang: Lang,
        member: &Member,
        amount_text: &AmountText,
        currency: Option<String>,
        work: String,
    ) -> Said<Reply> {
        let currency = self.currency(lang, member, currency).await?;
        let typed = read_amount(lang, amount_text, currency.scale)?;
        let key = self.key(msg, lang)?;
        let pledge = self
            .core
            .pledge(
                member,
                NewPledge {
                    currency: currency.code.as_str().to_owned(),
                    amount: format_minor(typed.minor(), currency.scale),
                    description: work,
                    closes_at: None,
                },
                Some(key),
            )
            .await
            .map_err(|e| refusal(lang, &e))?;
        Ok(say::line(
            lang,
            "chat-pledged",
            Args::new()
                .text("pledge", pledge.id.to_string())
                .text("proposal", pledge.proposal_id.to_string()),
            vec![
                (
                    "amount",
                    say::decimal(&pledge.amount, pledge.currency.as_str(), lang),
                ),
                ("work", t(pledge.description.clone())),
                ("org", t(member.tenant.name.clone())),
            ],
        )
        .vote_buttons(pledge.proposal_id.0))
    }

    async fn propose(
        &self,
        msg: &Incoming,
        lang: Lang,
        member: &Member,
        title: String,
    ) -> Said<Reply> {
        let key = self.key(msg, lang)?;
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
            .map_err(|e| refusal(lang, &e))?;
        Ok(say::line(
            lang,
            "chat-proposal-opened",
            Args::new().text("closes", say::when(view.closes_at, lang)),
            vec![("proposal", strong(format!("#{} {}", view.id, view.title)))],
        )
        .vote_buttons(view.id.0))
    }

    async fn proposals(&self, lang: Lang, member: &Member) -> Said<Reply> {
        let open = self
            .core
            .proposals(member, Some(ProposalStatus::Open), None, 20)
            .await
            .map_err(|e| refusal(lang, &e))?;
        if open.is_empty() {
            return Ok(say::line(
                lang,
                "chat-proposals-none",
                Args::new(),
                vec![("propose", code("/propose"))],
            ));
        }
        let items = open
            .iter()
            .map(|p| {
                say::spans(
                    lang,
                    "chat-proposals-entry",
                    Args::new().text("tally", tally_text(lang, p)),
                    vec![("proposal", strong(format!("#{} {}", p.id, p.title)))],
                )
            })
            .collect();
        let mut reply = say::line(lang, "chat-proposals", Args::new(), vec![])
            .list(items)
            .line(say::spans(
                lang,
                "chat-proposals-vote-with",
                Args::new(),
                vec![("vote", code("/vote <id> yes|no|abstain|block"))],
            ));
        if let [only] = open.as_slice() {
            reply = reply.vote_buttons(only.id.0);
        }
        Ok(reply)
    }

    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        msg: &Incoming,
        lang: Lang,
        member: &Member,
        kind: ListingKind,
        price: &AmountText,
        currency: Option<String>,
        title: String,
    ) -> Said<Reply> {
        let currency = self.currency(lang, member, currency).await?;
        let typed = read_amount(lang, price, currency.scale)?;
        let key = self.key(msg, lang)?;
        let listing = self
            .core
            .create_listing(
                member,
                NewListing {
                    kind,
                    title,
                    description: String::new(),
                    price: format_minor(typed.minor(), currency.scale),
                    currency: currency.code.as_str().to_owned(),
                    pledge_id: None,
                },
                Some(key),
            )
            .await
            .map_err(|e| refusal(lang, &e))?;
        let (id, marks) = match kind {
            ListingKind::Offer => (
                "chat-listed-offer",
                vec![("buy", code(format!("/buy {}", listing.id)))],
            ),
            ListingKind::Need => ("chat-listed-need", vec![("offer", code("/offer"))]),
        };
        let mut marks = marks;
        marks.push((
            "listing",
            strong(format!("#{} {}", listing.id, listing.title)),
        ));
        marks.push((
            "price",
            say::decimal(&listing.price, listing.currency.as_str(), lang),
        ));
        Ok(say::line(lang, id, Args::new(), marks))
    }

    async fn market(&self, lang: Lang, member: &Member) -> Said<Reply> {
        let open = self
            .core
            .listings(member, Some(ListingStatus::Open), None, 20)
            .await
            .map_err(|e| refusal(lang, &e))?;
        if open.is_empty() {
            return Ok(say::line(
                lang,
                "chat-market-empty",
                Args::new(),
                vec![("offer", code("/offer")), ("need", code("/need"))],
            ));
        }
        let items = open
            .iter()
            .take(20)
            .map(|l| {
                say::spans(
                    lang,
                    "chat-market-entry",
                    Args::new().text("kind", l.kind.to_string()),
                    vec![
                        ("listing", strong(format!("#{} {}", l.id, l.title))),
                        ("owner", t(l.owner_name.clone())),
                        ("price", say::decimal(&l.price, l.currency.as_str(), lang)),
                    ],
                )
            })
            .collect();
        Ok(say::line(lang, "chat-market", Args::new(), vec![]).list(items))
    }
}

/// An amount as the speaker typed it, read the way their language writes numbers and checked
/// against the currency's scale.
fn read_amount(lang: Lang, typed: &AmountText, scale: Scale) -> Said<Amount> {
    Amount::parse_in(typed.as_str(), scale, lang).map_err(|e| {
        if e == MoneyError::NotPositive {
            return refusal(
                lang,
                &Error::from(Refusal::AmountNotPositive { field: "amount" }),
            );
        }
        let (id, args) = match e {
            MoneyError::TooManyDecimals(places) => (
                "chat-amount-decimals",
                Args::new().count("places", i64::from(places)),
            ),
            MoneyError::TooLarge => ("chat-amount-too-large", Args::new()),
            _ => ("chat-amount-unreadable", Args::new()),
        };
        say::error(lang, id, args, vec![("amount", t(typed.as_str()))])
    })
}

/// An amount typed for a currency not known yet (the domain finds it and checks the scale): read
/// in the speaker's language and written as plain decimal text ("1.234,5" → "1234.5").
fn decimal_text(lang: Lang, typed: &AmountText) -> Said<String> {
    // The finest scale a currency may have: every amount some currency accepts reads here.
    const FINEST: u8 = 6;
    let scale = Scale::new(FINEST)
        .map_err(|e| refusal(lang, &Error::from(Refusal::amount("amount", e))))?;
    let text = format_minor(read_amount(lang, typed, scale)?.minor(), scale);
    Ok(match text.split_once('.') {
        Some((whole, fraction)) if fraction.trim_end_matches('0').is_empty() => whole.to_owned(),
        Some((whole, fraction)) => format!("{whole}.{}", fraction.trim_end_matches('0')),
        None => text,
    })
}

fn tally_text(lang: Lang, p: &ProposalView) -> String {
    let votes = say::text(
        lang,
        "chat-tally-votes",
        &Args::new()
            .count("yes", p.votes.yes)
            .count("no", p.votes.no)
            .count("abstain", p.votes.abstain)
            .count("block", p.votes.block)
            .count("voters", p.voters),
    );
    let args = Args::new().text("votes", votes);
    match p.status {
        ProposalStatus::Open => say::text(
            lang,
            "chat-tally-open",
            &args.text("closes", say::when(p.closes_at, lang)),
        ),
        ProposalStatus::Passed => say::text(lang, "chat-tally-passed", &args),
        ProposalStatus::Rejected => say::text(lang, "chat-tally-rejected", &args),
        ProposalStatus::Failed => {
            let reason = p.reason.as_ref().map_or_else(
                || say::plain(lang, "chat-unknown-reason"),
                |reason| reason.message(lang),
            );
            say::text(lang, "chat-tally-failed", &args.text("reason", reason))
        }
    }
}

fn not_connected(lang: Lang) -> Reply {
    say::error(
        lang,
        "chat-not-connected",
        Args::new(),
        vec![
            ("command", code("coinsence org connect-code <org>")),
            ("connect", code("/connect <code>")),
        ],
    )
}

/// The full help of each language, written once: it is a sixth of what a room asks.
static FULL_HELP: LazyLock<[Reply; 2]> =
    LazyLock::new(|| Lang::ALL.map(|l| write_help(l, None, None)));

/// The help in `lang`: every command, or one; after an unknown command, says so first.
pub fn help(lang: Lang, verb: Option<Verb>, unknown: Option<&str>) -> Reply {
    match (verb, unknown) {
        (None, None) => FULL_HELP
            .iter()
            .find(|r| r.lang == lang)
            .cloned()
            .unwrap_or_else(|| write_help(lang, None, None)),
        _ => write_help(lang, verb, unknown),
    }
}

fn write_help(lang: Lang, verb: Option<Verb>, unknown: Option<&str>) -> Reply {
    let mut reply = Reply::new(Tone::Ok).in_lang(lang);
    if let Some(word) = unknown {
        reply = reply.line(say::spans(
            lang,
            "chat-help-unknown",
            Args::new(),
            vec![("command", t(word))],
        ));
    }
    match verb {
        Some(v) => {
            let spec = v.spec();
            reply.line(say::spans(
                lang,
                "chat-help-one",
                Args::new().text("summary", spec.summary(lang)),
                vec![("usage", code(spec.usage(lang)))],
            ))
        }
        None => {
            if unknown.is_none() {
                reply = reply.line(say::spans(lang, "chat-help", Args::new(), vec![]));
            }
            reply.list(
                help_lines(lang)
                    .into_iter()
                    .map(|(usage, summary)| {
                        say::spans(
                            lang,
                            "chat-help-entry",
                            Args::new().text("summary", summary),
                            vec![("usage", code(usage))],
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// A refused domain operation as one sentence for the person; faults of ours are logged and
/// told as such, never shown.
pub fn refusal(lang: Lang, e: &Error) -> Reply {
    Reply::error(sentence(lang, e)).in_lang(lang)
}

/// A refused payment, purchase or investment: not having enough money says so in money words.
fn money_refusal(lang: Lang, e: &Error) -> Reply {
    match e {
        Error::InsufficientFunds => say::error(lang, "chat-not-enough-money", Args::new(), vec![]),
        e => refusal(lang, e),
    }
}

/// The domain's refusal in `lang` (the catalog's `refusals.ftl`, through [`Error::message`]),
/// as a sentence: starting with a capital and ending with a full stop.
pub fn sentence(lang: Lang, e: &Error) -> String {
    if e.is_internal() {
        tracing::error!(error = %e, "chat command failed");
    }
    let text = capitalize(e.message(lang).trim());
    if text.ends_with(['.', '!', '?']) {
        text
    } else {
        format!("{text}.")
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Euro cents as the decimal text amounts are shown from.
fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

impl Engine {
    /// `/verify`: the member's check of the org's published history (issue 20), the same check
    /// `coinsence audit verify --url` runs from their own machine, here over the core's proofs.
    async fn verify(&self, member: &Member, lang: Lang) -> Reply {
        use coinsence_api::domain::ledger::transparency::{CoreSource, check};

        let org = ("org", strong(member.tenant.name.clone()));
        let source = CoreSource {
            core: &self.core,
            member,
        };
        let report = match check(&source, None, None, &[]).await {
            Ok(report) => report,
            Err(e) => {
                tracing::warn!(error = %e, "/verify could not run");
                return say::error(lang, "chat-verify-failed", Args::new(), vec![org]);
            }
        };
        let Some(latest) = report.latest else {
            return say::line(lang, "chat-verify-nothing-sealed", Args::new(), vec![org]);
        };
        if let Some(bad) = &report.first_bad {
            return say::error(
                lang,
                "chat-verify-bad",
                Args::new().count("size", bad.tree_size),
                vec![org],
            );
        }
        // The root's first bytes, as a room's witness line shows them.
        let root: String = latest.root[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let url = self.config.public_url.trim_end_matches('/').to_owned();
        say::line(
            lang,
            "chat-verify-ok",
            Args::new()
                .count("heads", i64::try_from(report.heads).unwrap_or(i64::MAX))
                .count(
                    "entries",
                    i64::try_from(report.entries_included).unwrap_or(i64::MAX),
                )
                .count("size", latest.tree_size),
            vec![
                org,
                ("root", code(root)),
                (
                    "command",
                    code(format!(
                        "coinsence audit verify --url {url} --org {}",
                        member.tenant.slug
                    )),
                ),
            ],
        )
    }
}
