# refusals (en)
# One message per refusal code (the message id is the code; see docs/errors.md). Arguments are
# named as in the code; amounts arrive formatted for the language.

## Not found

org_not_found = There is no such org here.
user_not_found = There is no user with that email address.
token_not_found = There is no such token.
member_not_found = There is no such member here.
currency_not_found = There is no such currency here.
account_not_found = There is no such account here.
paying_account_not_found = The paying account does not exist here.
receiving_account_not_found = The receiving account does not exist here.
issuance_policy_not_found = There is no such issuance policy here.
proposal_not_found = There is no such proposal here.
pledge_not_found = There is no such pledge here.
project_not_found = There is no such project here.
investment_not_found = There is no such investment here.
listing_not_found = There is no such listing here.
purchase_not_found = There is no such purchase here.
post_not_found = There is no such post here.
comment_not_found = There is no such comment here.
connect_code_not_found = That connect code is not valid. Ask an admin for a new one.

## Not allowed

not_a_member = You are not a member of this org.
not_admin = Only an admin of this org can do that.
only_owner_adds_owner = Only an owner can add an owner.
invitation_only = This org admits members by invitation; ask an admin to admit you.
mention_limit_reached = This room already added { $limit } new members by mention in the last hour; they can join by speaking here, or try again later.
not_your_account = You can only pay from your own account. Nothing was paid.
not_your_history = You can only read the history of your own accounts.
issuance_not_from_issuance_account = Issuance comes from the issuance account. Nothing was issued.
receiving_account_closed = The receiving account belongs to someone who is no longer a member of this org. Nothing was moved.
not_project_owner = Only the project's owner can pay from it. Nothing was paid.
not_listing_owner = Only its owner can close a listing.
rules_change_by_proposal = With { $members } or more members, the rules change only through a passed change_rules proposal.
proposals_by_admins_only = In this org only admins may open proposals.
not_in_electorate = Only those who were members when the proposal opened may vote on it.

## Conflicts with the state of things

slug_taken = That slug is already taken.
org_exists_here = An org { $slug } exists here already; import a copy under another slug (--slug NEW).
org_already_imported = This org was imported here already (as { $slug }); import a copy under another slug (--slug NEW).
email_taken = That email address is already taken.
currency_code_taken = That currency code is already taken.
share_code_taken = That share code is already taken.
active_policy_exists = This currency already has an active issuance policy.
already_member = They are already a member.
no_longer_member = They are no longer a member.
user_gone = That user no longer exists.
pledger_left = The pledging member has left the org.
receiving_member_left = The receiving member has left the org.
seller_left = The seller is no longer a member. Nothing was paid.
last_owner = The org's last owner cannot be removed or demoted.
schedule_gone = The currency has no scheduled issuance to end.
issuance_policy_ended = Issuance policy { $policy } has already ended.
voting_closed = Voting on proposal { $proposal } has closed.
voting_ended = Voting on proposal { $proposal } ended at { $closed_at }.
project_not_raising = This project is no longer raising money. Nothing was paid.
project_deadline_passed = This project's deadline has passed. Nothing was paid.
project_not_funded = A project can be spent from once it is funded. Nothing was paid.
shares_locked_while_raising = Shares of a project that is still raising money can be transferred once it is funded. Nothing was moved.
listing_closed = This listing is closed. Nothing was paid.
connect_code_used = That connect code was already used; ask an admin for a new one.
connect_code_expired = That connect code has expired; ask an admin for a new one.
room_connected_elsewhere = This room is already connected to another community.

## Bad input in one field (the answer's `field` names the JSON field at fault; the sentence
## does not, so that it reads well in chat too)

text_length = Use { $min } to { $max } characters.
text_too_long = Use at most { $max } characters.
character_not_allowed_in_line = { $character } is not allowed here; use one line of visible text, without control, direction or invisible characters.
character_not_allowed_in_text = { $character } is not allowed here; line breaks and tabs are the only control characters a text may have.
email_malformed = That is not an email address.
email_reserved = That address is reserved; use an address that receives mail.
password_too_short = Use at least { $min } characters.
slug_malformed = Use 3 to 40 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
currency_code_malformed = A currency code is 2 to 8 capital letters.
idempotency_key_malformed = Use 1 to { $max } visible ASCII characters.
limit_out_of_range = Use { $min } to { $max }.
amount_malformed = That amount does not work: write a positive number such as "10" or "10.50".
amount_not_positive = That amount does not work: it must be greater than zero.
amount_too_many_decimals = That amount does not work: this currency has { $places ->
        [one] { $places } decimal place
       *[other] { $places } decimal places
    }; the amount has more.
amount_too_large = That amount does not work: it is too large.
archive_rejected = That archive cannot be imported: { $problem }. Nothing was changed.
amount_above_limit = That amount does not work: use at most { $max }.
scale_out_of_range = Use 0 to { $max } decimal places.
rate_malformed = Give shares per coin, a positive number with up to 6 decimals.
basis_points_out_of_range = Use { $min } to { $max } basis points.
voting_period_out_of_range = Use 60 seconds to 90 days.
vote_duration_out_of_range = The vote must stay open at least the org's voting period ({ $min_secs } seconds) and at most 90 days.
duplicate_rule_override = Give each kind of proposal at most one rule.
time_zone_unknown = Use an IANA time zone name such as "Europe/Berlin" or "UTC".
policy_starts_too_early = A policy may start at most { $days } days in the past.
policy_starts_too_late = A policy may start at most { $years } years from now.
fixed_amount_and_top_up = Give a fixed amount or a top-up target, not both.
policy_without_income = Give a fixed amount, a top-up target or a demurrage rate.
exactly_one_recipient = Give exactly one of to_account and to_member.
recipient_left = That account belongs to someone who is no longer a member of this org.
not_to_issuance_account = Issue to a member, the fund or a project, not to the issuance account.
project_account_not_payable = A project's account takes money only by investing in the project. Nothing was paid.
issuance_account_not_payable = A payment to the issuance account would destroy the money. Nothing was paid.
share_currency_not_money = This is a project's share currency; use the community's currency.
shares_only_by_investing = Shares are issued only by investing in their project.
no_schedule_to_end = This currency has no scheduled issuance to end.
invitee_already_member = They are already a member.
project_closes_before_vote = The project stops raising before this vote would close; propose a shorter vote.
deadline_in_past = The deadline must be in the future.
fractional_shares = At this project's rate that amount buys a fraction of the smallest share unit; invest a rounder amount.
project_goal_exceeded = The project cannot take that much more.
investment_cap_exceeded = This project takes at most { $cap } from each member; you have invested { $invested }.
pledge_only_for_offers = Only an offer can be backed by a pledge.
pledge_not_yours = You can only offer work you pledged yourself.
pledge_currency_mismatch = The pledge is in another currency than the offer.
pledge_rejected = That pledge was rejected.
only_offers_can_be_bought = Only offers can be bought; answer a need with an offer.
own_listing = You cannot buy your own listing.

## The admin portal
invite_not_found = That invite link is not valid (any more). Ask an admin for a new one.
chat_identity_not_found = That chat account is not linked to you.
room_not_bound = That room is not bound to this org.
form_expired = This form has expired; nothing was changed. Reload the page and try again.
cross_origin_form = This form was sent from another site; nothing was changed.
chat_account_in_use = That chat account already takes part in orgs on its own, so it cannot be moved to this login.
link_code_not_valid = That code is not valid (any more). Type /link in the chat for a new one.

# Billing: euro top-ups (issue 16)
not_treasurer = Only the org's treasurers and admins can do that with its euros.
topup_rate_by_proposal = With { $members } or more members, the top-up rate changes only through a passed change_topup_rate proposal.
topups_off = Top-ups are off here: no payment provider is configured.
topups_not_set_up = This org has not set up top-ups yet; a treasurer sets the rate and limits first.
billing_account_not_ready = This org's payment account is not ready to take payments yet; a treasurer finishes its onboarding first.
topup_monthly_limit_reached = You can top up at most €{ $max } a month here; €{ $left } is left this month. Nothing was charged.
topup_below_minimum = A top-up here is at least €{ $min }.
topup_above_maximum = A top-up here is at most €{ $max }.
topup_not_whole_coins = At this org's rate that amount buys a fraction of a coin's smallest unit; choose a rounder amount.
topup_limits_inconsistent = The minimum, the maximum and the monthly maximum must each be at least the one before.

## Member-verifiable history (issue 20)
entry_not_visible = You can only get proofs for your own entries (entry { $transfer } is not one of them).
entry_not_sealed = Entry { $transfer } is not in that tree head yet; it is sealed with the next seal.
tree_head_not_found = No tree head of size { $tree_size } has been published.

## Errors that are not refusals of one operation

unauthorized = You need to be signed in for that.
idempotency_conflict = That idempotency key was already used for a different request; nothing was changed.
insufficient_funds = There is not enough money for that. Nothing was paid.
ceiling_exceeded = That would take the receiving account over its limit. Nothing was paid.
currency_mismatch = Those accounts are in different currencies. Nothing was paid.
same_account = An account cannot pay itself. Nothing was paid.
busy = Busy right now; nothing was changed. Please try again.
rate_limited = Too many requests; nothing was changed. Please try again in { $retry_after_secs } s.
unavailable = The service is unavailable right now; nothing was changed. Please try again in { $retry_after_secs } s.
internal = Something went wrong on our side; it has been logged.

## The exchange (issue 17)
exchange_code_taken = Another community's currency called { $currency } is already on the exchange; a code names one currency there.
currency_not_listed = { $currency } is not listed on the exchange.
exchange_pair_with_itself = A currency cannot be exchanged for itself.
currency_not_held = There is no { $currency } in this community to sell.
price_malformed = The limit must be a positive number, such as 0.8.
price_too_precise = The limit may have at most { $places } decimal places.
exchange_order_not_found = There is no such order of yours.
exchange_order_closed = Order { $order } is no longer open.
exchange_order_in_round = Order { $order } is in the round being settled right now; cancel it once that round is done.

## Billing: cash-outs, refunds and disputes (issue 16)
cashout_exceeds_reserve = That cash-out needs more euros than the reserve has left after the cash-outs under way (€{ $available }). Nothing was taken.
cashout_not_whole_cents = At this org's rate those coins (after the exit fee) are not a whole number of cents; choose a rounder amount.
cashout_not_found = There is no such cash-out in this org.
cashout_own_approval = Someone else has to approve your own cash-out: another treasurer or an admin.
cashout_by_proposal = This cash-out is at or above the org's threshold, so proposal { $proposal } decides it.
cashout_not_pending = Cash-out { $cashout } was already approved, paid, failed or rejected.
payouts_not_enabled = This org's payment account cannot pay out yet; a treasurer finishes its onboarding first.
