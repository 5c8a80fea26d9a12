//! Every way a domain operation refuses, as data: one stable machine code per refusal with named
//! arguments (ids, names, limits, amounts in minor units), never a sentence.
//!
//! A refusal becomes a sentence only when someone reads it, in their language: the message with
//! the code's id in `api/locales/<lang>/refusals.ftl`, given [`Refusal::args`]. Machines read the
//! code and the arguments ([`Refusal::fields`]): the API adds them to its problem documents.
//! `docs/errors.md` lists every code, generated from [`Refusal::ALL`] (a test keeps it in sync).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::money::{Scale, format_minor};
use crate::i18n::{self, Args, Lang};

/// What kind of refusal a code is; the API answers each kind with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The caller may not do this (403).
    Forbidden,
    /// What the request names does not exist here (404).
    NotFound,
    /// The state of what the request acts on does not allow it now, or a unique name is taken
    /// (409).
    Conflict,
    /// Bad input in one field (422); the refusal names the field.
    Invalid,
}

/// An amount of a currency, carried as minor units and the currency's scale; rendered per
/// language (`1,234.50` / `1.234,50`), given to machines as the API writes amounts (`1234.50`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub scale: Scale,
}

impl Money {
    pub fn new(minor: i64, scale: Scale) -> Self {
        Self { minor, scale }
    }
}

/// A value a refusal carries: how it reads in a sentence and how a machine gets it.
pub trait RefusalArg {
    fn put(&self, name: &'static str, lang: Lang, args: Args) -> Args;
    fn json(&self) -> serde_json::Value;
    /// A distinctive example value, for the documentation and the table test.
    fn sample() -> Self
    where
        Self: Sized;
    /// The value itself when it is static text (field names are).
    fn as_static(&self) -> Option<&'static str> {
        None
    }
}

impl RefusalArg for &'static str {
    fn put(&self, name: &'static str, _: Lang, args: Args) -> Args {
        args.text(name, *self)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::from(*self)
    }
    fn sample() -> Self {
        "sample_field"
    }
    fn as_static(&self) -> Option<&'static str> {
        Some(*self)
    }
}

impl RefusalArg for String {
    fn put(&self, name: &'static str, _: Lang, args: Args) -> Args {
        args.text(name, self.clone())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::from(self.as_str())
    }
    fn sample() -> Self {
        "Sample Name".to_owned()
    }
}

impl RefusalArg for i64 {
    fn put(&self, name: &'static str, _: Lang, args: Args) -> Args {
        args.count(name, *self)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::from(*self)
    }
    fn sample() -> Self {
        4217
    }
}

impl RefusalArg for Money {
    // Formatted when the message is rendered, for its language.
    fn put(&self, name: &'static str, _: Lang, args: Args) -> Args {
        args.money(name, self.minor, self.scale)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::from(format_minor(self.minor, self.scale))
    }
    fn sample() -> Self {
        let Ok(scale) = Scale::new(2) else {
            unreachable!("2 decimal places is a valid scale")
        };
        Money::new(123_456, scale)
    }
}

impl RefusalArg for DateTime<Utc> {
    fn put(&self, name: &'static str, _: Lang, args: Args) -> Args {
        args.text(name, self.format("%Y-%m-%d %H:%M UTC").to_string())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::from(self.to_rfc3339())
    }
    fn sample() -> Self {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }
}

/// One code as documented: its id, kind and argument names.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub code: &'static str,
    pub class: Class,
    pub args: &'static [&'static str],
}

macro_rules! refusals {
    ($(
        $(#[doc = $doc:literal])*
        $code:literal $class:ident $variant:ident $({ $($arg:ident : $ty:ty),* $(,)? })?;
    )*) => {
        /// A refused domain operation: its code and arguments. The variant docs are the codes'
        /// meanings; the sentences are in the catalogs.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Refusal {
            $( $(#[doc = $doc])* $variant $({ $($arg: $ty),* })?, )*
        }

        impl Refusal {
            /// Every code, in catalog order.
            pub const ALL: &'static [Spec] = &[
                $( Spec { code: $code, class: Class::$class, args: &[$($(stringify!($arg)),*)?] }, )*
            ];

            /// The stable machine code (also the message id in the catalogs).
            pub fn code(&self) -> &'static str {
                match self { $( Self::$variant { .. } => $code, )* }
            }

            pub fn class(&self) -> Class {
                match self { $( Self::$variant { .. } => Class::$class, )* }
            }

            /// The arguments as the sentence in `lang` reads them (amounts formatted for it).
            pub fn args(&self, lang: Lang) -> Args {
                match self {
                    $( Self::$variant $({ $($arg),* })? => {
                        let args = Args::new();
                        $($( let args = $arg.put(stringify!($arg), lang, args); )*)?
                        let _ = lang;
                        args
                    } )*
                }
            }

            /// The arguments for machines, by name.
            pub fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
                match self {
                    $( Self::$variant $({ $($arg),* })? => {
                        vec![$($( (stringify!($arg), $arg.json()) ),*)?]
                    } )*
                }
            }

            /// The JSON field at fault, for input errors (the argument named `field`).
            pub fn field(&self) -> Option<&'static str> {
                match self {
                    $( Self::$variant $({ $($arg),* })? => {
                        $($( if stringify!($arg) == "field" { return $arg.as_static(); } )*)?
                        None
                    } )*
                }
            }

            /// One example of every code, with distinctive argument values.
            pub fn samples() -> Vec<Refusal> {
                vec![ $( Self::$variant $({ $($arg: <$ty as RefusalArg>::sample()),* })?, )* ]
            }
        }
    };
}

refusals! {
    // --- Not found (404) ---
    "org_not_found" NotFound OrgNotFound;
    "user_not_found" NotFound UserNotFound;
    "token_not_found" NotFound TokenNotFound;
    "member_not_found" NotFound MemberNotFound;
    "currency_not_found" NotFound CurrencyNotFound;
    "account_not_found" NotFound AccountNotFound;
    "paying_account_not_found" NotFound PayingAccountNotFound;
    "receiving_account_not_found" NotFound ReceivingAccountNotFound;
    "issuance_policy_not_found" NotFound IssuancePolicyNotFound;
    "proposal_not_found" NotFound ProposalNotFound;
    "pledge_not_found" NotFound PledgeNotFound;
    "project_not_found" NotFound ProjectNotFound;
    "investment_not_found" NotFound InvestmentNotFound;
    "listing_not_found" NotFound ListingNotFound;
    "purchase_not_found" NotFound PurchaseNotFound;
    "post_not_found" NotFound PostNotFound;
    "comment_not_found" NotFound CommentNotFound;
    "connect_code_not_found" NotFound ConnectCodeNotFound;

    // --- Forbidden (403) ---
    /// The caller is not (or no longer) a member of the org.
    "not_a_member" Forbidden NotAMember;
    "not_admin" Forbidden NotAdmin;
    "only_owner_adds_owner" Forbidden OnlyOwnerAddsOwner;
    /// The org admits members by invitation only. (It does not name the org: over HTTP the
    /// caller may be no member of it, and its name is not theirs to learn.)
    "invitation_only" Forbidden InvitationOnly;
    /// A room added its hourly limit of members by mention.
    "mention_limit_reached" Forbidden MentionLimitReached { limit: i64 };
    /// Paying from an account that is not the caller's.
    "not_your_account" Forbidden NotYourAccount;
    "not_your_history" Forbidden NotYourHistory;
    "issuance_not_from_issuance_account" Forbidden IssuanceNotFromIssuanceAccount;
    /// The receiving account belongs to someone who left the org.
    "receiving_account_closed" Forbidden ReceivingAccountClosed;
    "not_project_owner" Forbidden NotProjectOwner;
    "not_listing_owner" Forbidden NotListingOwner;
    /// In an org of `members` or more, the rules change only by proposal.
    "rules_change_by_proposal" Forbidden RulesChangeByProposal { members: i64 };
    "proposals_by_admins_only" Forbidden ProposalsByAdminsOnly;
    /// Only those who were members when the proposal opened may vote on it.
    "not_in_electorate" Forbidden NotInElectorate;

    // --- Conflict (409) ---
    "slug_taken" Conflict SlugTaken;
    "org_exists_here" Conflict OrgExistsHere { slug: String };
    "org_already_imported" Conflict OrgAlreadyImported { slug: String };
    "email_taken" Conflict EmailTaken;
    "currency_code_taken" Conflict CurrencyCodeTaken;
    "share_code_taken" Conflict ShareCodeTaken;
    "active_policy_exists" Conflict ActivePolicyExists;
    "already_member" Conflict AlreadyMember;
    "no_longer_member" Conflict NoLongerMember;
    "user_gone" Conflict UserGone;
    "pledger_left" Conflict PledgerLeft;
    "receiving_member_left" Conflict ReceivingMemberLeft;
    "seller_left" Conflict SellerLeft;
    "last_owner" Conflict LastOwner;
    /// The currency's scheduled issuance ended before the proposal to end it passed.
    "schedule_gone" Conflict ScheduleGone;
    "issuance_policy_ended" Conflict IssuancePolicyEnded { policy: i64 };
    "voting_closed" Conflict VotingClosed { proposal: i64 };
    "voting_ended" Conflict VotingEnded { proposal: i64, closed_at: DateTime<Utc> };
    "project_not_raising" Conflict ProjectNotRaising;
    "project_deadline_passed" Conflict ProjectDeadlinePassed;
    "project_not_funded" Conflict ProjectNotFunded;
    "shares_locked_while_raising" Conflict SharesLockedWhileRaising;
    "listing_closed" Conflict ListingClosed;
    "connect_code_used" Conflict ConnectCodeUsed;
    "connect_code_expired" Conflict ConnectCodeExpired;
    "room_connected_elsewhere" Conflict RoomConnectedElsewhere;

    // --- Invalid input (422), each naming the JSON field at fault ---
    "text_length" Invalid TextLength { field: &'static str, min: i64, max: i64 };
    "text_too_long" Invalid TextTooLong { field: &'static str, max: i64 };
    /// A character a one-line text may not have (control, direction or invisible).
    "character_not_allowed_in_line" Invalid CharacterNotAllowedInLine { field: &'static str, character: String };
    /// A control character in a text of several lines (only line breaks and tabs are).
    "character_not_allowed_in_text" Invalid CharacterNotAllowedInText { field: &'static str, character: String };
    "email_malformed" Invalid EmailMalformed { field: &'static str };
    "email_reserved" Invalid EmailReserved { field: &'static str };
    "password_too_short" Invalid PasswordTooShort { field: &'static str, min: i64 };
    "slug_malformed" Invalid SlugMalformed { field: &'static str };
    "currency_code_malformed" Invalid CurrencyCodeMalformed { field: &'static str };
    "idempotency_key_malformed" Invalid IdempotencyKeyMalformed { field: &'static str, max: i64 };
    "limit_out_of_range" Invalid LimitOutOfRange { field: &'static str, min: i64, max: i64 };
    "amount_malformed" Invalid AmountMalformed { field: &'static str };
    "amount_not_positive" Invalid AmountNotPositive { field: &'static str };
    "amount_too_many_decimals" Invalid AmountTooManyDecimals { field: &'static str, places: i64 };
    "amount_too_large" Invalid AmountTooLarge { field: &'static str };
    "archive_rejected" Invalid ArchiveRejected { field: &'static str, problem: String };
    /// Above the largest amount the ledger takes for this setting.
    "amount_above_limit" Invalid AmountAboveLimit { field: &'static str, max: Money };
    "scale_out_of_range" Invalid ScaleOutOfRange { field: &'static str, max: i64 };
    "rate_malformed" Invalid RateMalformed { field: &'static str };
    "basis_points_out_of_range" Invalid BasisPointsOutOfRange { field: &'static str, min: i64, max: i64 };
    "voting_period_out_of_range" Invalid VotingPeriodOutOfRange { field: &'static str };
    /// A proposal's closing time must leave at least the org's voting period and at most 90 days.
    "vote_duration_out_of_range" Invalid VoteDurationOutOfRange { field: &'static str, min_secs: i64 };
    "duplicate_rule_override" Invalid DuplicateRuleOverride { field: &'static str };
    "time_zone_unknown" Invalid TimeZoneUnknown { field: &'static str };
    "policy_starts_too_early" Invalid PolicyStartsTooEarly { field: &'static str, days: i64 };
    "policy_starts_too_late" Invalid PolicyStartsTooLate { field: &'static str, years: i64 };
    "fixed_amount_and_top_up" Invalid FixedAmountAndTopUp { field: &'static str };
    "policy_without_income" Invalid PolicyWithoutIncome { field: &'static str };
    "exactly_one_recipient" Invalid ExactlyOneRecipient { field: &'static str };
    "recipient_left" Invalid RecipientLeft { field: &'static str };
    "not_to_issuance_account" Invalid NotToIssuanceAccount { field: &'static str };
    "project_account_not_payable" Invalid ProjectAccountNotPayable { field: &'static str };
    "issuance_account_not_payable" Invalid IssuanceAccountNotPayable { field: &'static str };
    /// A project's share currency where the community's money is meant.
    "share_currency_not_money" Invalid ShareCurrencyNotMoney { field: &'static str };
    "shares_only_by_investing" Invalid SharesOnlyByInvesting { field: &'static str };
    "no_schedule_to_end" Invalid NoScheduleToEnd { field: &'static str };
    "invitee_already_member" Invalid InviteeAlreadyMember { field: &'static str };
    "project_closes_before_vote" Invalid ProjectClosesBeforeVote { field: &'static str };
    "deadline_in_past" Invalid DeadlineInPast { field: &'static str };
    /// At the project's rate the amount buys a fraction of the smallest share unit.
    "fractional_shares" Invalid FractionalShares { field: &'static str };
    "project_goal_exceeded" Invalid ProjectGoalExceeded { field: &'static str };
    "investment_cap_exceeded" Invalid InvestmentCapExceeded { field: &'static str, cap: Money, invested: Money };
    "pledge_only_for_offers" Invalid PledgeOnlyForOffers { field: &'static str };
    "pledge_not_yours" Invalid PledgeNotYours { field: &'static str };
    "pledge_currency_mismatch" Invalid PledgeCurrencyMismatch { field: &'static str };
    "pledge_rejected" Invalid PledgeRejected { field: &'static str };
    "only_offers_can_be_bought" Invalid OnlyOffersCanBeBought { field: &'static str };
    "own_listing" Invalid OwnListing { field: &'static str };

    // --- The admin portal (tenant-admin/, domain/portal_sessions.rs) ---
    "invite_not_found" NotFound InviteNotFound;
    /// Unlinking a chat account the person does not have.
    "chat_identity_not_found" NotFound ChatIdentityNotFound;
    /// Unbinding a room that is not bound to this org.
    "room_not_bound" NotFound RoomNotBound;
    /// A form posted without this session's form token (an old page, or another site's form).
    "form_expired" Forbidden FormExpired;
    /// A form posted from a page of another site (its `Origin`).
    "cross_origin_form" Forbidden CrossOriginForm;
    /// The chat account asking to be linked already belongs to orgs on its own.
    "chat_account_in_use" Conflict ChatAccountInUse;
    /// A `/link` code that is unknown, used or expired.
    "link_code_not_valid" Invalid LinkCodeNotValid { field: &'static str };

    // --- Billing: euro top-ups (issue 16) ---
    /// Only treasurers and admins handle the org's euros.
    "not_treasurer" Forbidden NotTreasurer;
    /// In an org of `members` or more, the top-up rate changes only by proposal.
    "topup_rate_by_proposal" Forbidden TopupRateByProposal { members: i64 };
    /// No payment provider is configured on this server.
    "topups_off" Conflict TopupsOff;
    /// The org has not set its top-up terms (rate and limits).
    "topups_not_set_up" Conflict TopupsNotSetUp;
    /// The org's payment account is not onboarded, or cannot take payments yet.
    "billing_account_not_ready" Conflict BillingAccountNotReady;
    /// The member's top-ups this month would exceed the org's monthly limit.
    "topup_monthly_limit_reached" Conflict TopupMonthlyLimitReached { max: Money, left: Money };
    "topup_below_minimum" Invalid TopupBelowMinimum { field: &'static str, min: Money };
    "topup_above_maximum" Invalid TopupAboveMaximum { field: &'static str, max: Money };
    /// At the org's rate the amount buys a fraction of the coin's smallest unit.
    "topup_not_whole_coins" Invalid TopupNotWholeCoins { field: &'static str };
    /// The minimum, maximum and monthly maximum must grow in that order.
    "topup_limits_inconsistent" Invalid TopupLimitsInconsistent { field: &'static str };
    // --- Billing: cash-outs, refunds and disputes (issue 16) ---
    /// The cash-out would take more euros than the reserve has left after the cash-outs under
    /// way.
    "cashout_exceeds_reserve" Conflict CashoutExceedsReserve { available: Money };
    /// At the org's rate the coins (after the exit fee) are not a whole number of cents.
    "cashout_not_whole_cents" Invalid CashoutNotWholeCents { field: &'static str };
    "cashout_not_found" NotFound CashoutNotFound;
    /// A cash-out needs a second person: its requester cannot approve it.
    "cashout_own_approval" Forbidden CashoutOwnApproval;
    /// A cash-out at or above the threshold is decided by its proposal, not by one person.
    "cashout_by_proposal" Conflict CashoutByProposal { proposal: i64 };
    /// The cash-out was approved, paid, failed or rejected already.
    "cashout_not_pending" Conflict CashoutNotPending { cashout: i64 };
    /// The org's payment account cannot pay out yet.
    "payouts_not_enabled" Conflict PayoutsNotEnabled;
    // --- The exchange (issue 17) ---
    /// Another org's currency of this code is listed on the exchange: a code names one currency
    /// there.
    "exchange_code_taken" Conflict ExchangeCodeTaken { currency: String };
    /// The currency is not (or no longer) listed on the exchange.
    "currency_not_listed" Invalid CurrencyNotListed { field: &'static str, currency: String };
    "exchange_pair_with_itself" Invalid ExchangePairWithItself { field: &'static str };
    /// Listed, but this org's ledger has no such currency for its members to sell.
    "currency_not_held" Invalid CurrencyNotHeld { field: &'static str, currency: String };
    /// A limit price that is not a positive decimal number.
    "price_malformed" Invalid PriceMalformed { field: &'static str };
    "price_too_precise" Invalid PriceTooPrecise { field: &'static str, places: i64 };
    "exchange_order_not_found" NotFound ExchangeOrderNotFound;
    /// The order is filled, cancelled or returned already.
    "exchange_order_closed" Conflict ExchangeOrderClosed { order: i64 };
    /// A round's cut took the order; it can be cancelled once that round is settled.
    "exchange_order_in_round" Conflict ExchangeOrderInRound { order: i64 };
    // --- Member-verifiable history (issue 20: Merkle log, proofs) ---
    /// An inclusion proof for an entry the caller may not see (another member's, or none such:
    /// the two read alike, so proofs reveal no entry's existence).
    "entry_not_visible" Forbidden EntryNotVisible { transfer: i64 };
    /// The entry is not in the tree (head) asked about yet: it is sealed at the next seal.
    "entry_not_sealed" Conflict EntryNotSealed { transfer: i64 };
    /// No signed tree head of that size was published.
    "tree_head_not_found" NotFound TreeHeadNotFound { tree_size: i64 };
}

impl Refusal {
    /// A refused amount in a field, from the parser's reason.
    pub fn amount(field: &'static str, err: crate::domain::money::MoneyError) -> Self {
        use crate::domain::money::MoneyError;
        match err {
            MoneyError::Malformed => Self::AmountMalformed { field },
            MoneyError::NotPositive => Self::AmountNotPositive { field },
            MoneyError::TooManyDecimals(places) => Self::AmountTooManyDecimals {
                field,
                places: i64::from(places),
            },
            MoneyError::TooLarge => Self::AmountTooLarge { field },
            MoneyError::BadScale => Self::ScaleOutOfRange {
                field,
                max: i64::from(Scale::MAX),
            },
        }
    }

    /// This refusal as one sentence in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        i18n::message(lang, self.code(), &self.args(lang))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn spec_of(code: &str) -> &'static Spec {
        Refusal::ALL
            .iter()
            .find(|spec| spec.code == code)
            .unwrap_or_else(|| panic!("{code} is listed"))
    }

    #[test]
    fn every_code_is_listed_once_with_a_sample() {
        let codes: Vec<_> = Refusal::ALL.iter().map(|spec| spec.code).collect();
        let unique: BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len(), "a code is used twice");
        let sampled: Vec<_> = Refusal::samples().iter().map(Refusal::code).collect();
        assert_eq!(sampled, codes);
        for sample in Refusal::samples() {
            let spec = spec_of(sample.code());
            assert_eq!(sample.class(), spec.class);
            let names: Vec<_> = sample.fields().into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, spec.args, "{}", spec.code);
            // An input error names its field; no other kind carries one.
            assert_eq!(
                sample.field().is_some(),
                spec.class == Class::Invalid,
                "{}",
                spec.code
            );
        }
    }

    /// The table test of the catalogs: every refusal code renders in English and in German with
    /// its arguments: the message exists, asks only for arguments the code carries, leaves no
    /// placeable unrendered, and shows every argument it uses with the value given.
    #[test]
    fn every_code_renders_with_its_arguments_in_every_language() {
        for refusal in Refusal::samples() {
            let code = refusal.code();
            for lang in Lang::ALL {
                assert!(
                    i18n::message_ids(lang).contains(code),
                    "{lang} has no message {code}"
                );
                let used = i18n::referenced_args(lang, code)
                    .unwrap_or_else(|| panic!("{lang} {code} exists"));
                let args = refusal.args(lang);
                let carried: BTreeSet<_> =
                    args.iter(lang).map(|(name, _)| name.to_owned()).collect();
                for name in &used {
                    assert!(
                        carried.contains(*name),
                        "{lang} {code} asks for ${name}, which the code does not carry"
                    );
                }
                let text = refusal.message(lang);
                assert!(
                    !text.contains('{') && !text.contains('$') && !text.is_empty(),
                    "{lang} {code}: {text}"
                );
                assert_ne!(text, code, "{lang} {code} fell back to its id");
                for (name, value) in args.iter(lang) {
                    if used.contains(name) {
                        assert!(
                            text.contains(&value),
                            "{lang} {code}: {name} = {value} is not in {text:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn amounts_read_in_the_language_and_reach_machines_plain() {
        let refusal = Refusal::samples()
            .into_iter()
            .find(|r| r.code() == "investment_cap_exceeded")
            .expect("sampled");
        assert!(refusal.message(Lang::En).contains("1,234.56"));
        assert!(refusal.message(Lang::De).contains("1.234,56"));
        let fields = refusal.fields();
        assert!(fields.contains(&("cap", serde_json::Value::from("1234.56"))));
    }

    #[test]
    fn the_other_errors_render_in_every_language() {
        for (code, args) in crate::error::Error::OTHER_CODES {
            let mut given = Args::new();
            for name in *args {
                given = given.count(*name, 7);
            }
            for lang in Lang::ALL {
                assert!(i18n::message_ids(lang).contains(code), "{lang} {code}");
                let text = i18n::message(lang, code, &given);
                assert!(!text.contains('{'), "{lang} {code}: {text}");
                if !args.is_empty() {
                    assert!(text.contains('7'), "{lang} {code}: {text}");
                }
            }
        }
    }
}
