# portal (en): every sentence of the hosted admin portal (tenant-admin/). Refusals come from
# refusals.ftl, as in the API and the chat.

## Header, navigation, common words
portal-login = Log in
portal-logout = Log out
portal-signup = Sign up
portal-nav-dashboard = Overview
portal-nav-ledger = Ledger
portal-nav-proposals = Proposals
portal-nav-currencies = Currencies
portal-nav-issuance = Issuance
portal-nav-members = Members
portal-nav-rooms = Chat rooms
portal-create = Create
portal-save = Save
portal-filter = Show
portal-older = Older entries
portal-error-title = That did not work
portal-back-home = Back to the start page

## Start, sign-up and login
portal-home-title = Coinsence
portal-home-intro = Your community's own money, decided together, used from the chat rooms you already have.
portal-my-orgs = Your communities
portal-no-orgs = You are not a member of any community yet.
portal-signup-title = Start a community
portal-signup-you = You
portal-signup-org = Your community
portal-signup-currency = Its first currency
portal-signup-submit = Create the community
portal-login-title = Log in
portal-login-password = With your email and password
portal-login-code = With a code from the chat
portal-login-code-help = Type /link in a chat room of your community; the bot sends you a one-time code.
portal-login-failed = That email and password do not match. Nothing was changed.
portal-field-display-name = Your name
portal-field-email = Email
portal-field-password = Password
portal-field-org-name = Name of the community
portal-field-slug = Short name for addresses (a-z, 0-9, -)
portal-field-language = Language
portal-field-currency-code = Currency code (e.g. COIN)
portal-field-currency-name = Currency name
portal-field-scale = Decimal places (0–6)
portal-field-credit-limit = Credit limit per member (empty: none)
portal-field-code = Code
portal-field-description = Description
portal-field-fixed-amount = Amount per member and period
portal-field-time-zone = Time zone

## A person's own page
portal-me-title = Your account
portal-me-language = Language
portal-language-auto = As my chat or browser says
portal-me-identities = Your chat accounts
portal-me-no-identities = No chat account is linked to you yet.
portal-me-link = Link another chat account
portal-me-link-help = Type /link in a chat room with the bot and enter the code it sends you here.
portal-me-linked = The chat account is linked to you now.
portal-link = Link
portal-unlink = Unlink

## Joining
portal-join-title = Join a community
portal-join-heading = You are invited to { $org }
portal-join-submit = Join
portal-join-login-first = Log in or sign up first, then open this link again.

## Overview
portal-dash-members = Members
portal-dash-member-count = { $count ->
    [one] one member
   *[other] { $count } members
}
portal-dash-circulation = Money in circulation
portal-dash-my-balances = Your balances
portal-dash-open-proposals = Open proposals
portal-dash-latest = Latest entries
portal-dash-seal = Sealed history
portal-seal-state = { $seals ->
    [one] One seal covers the journal.
   *[other] { $seals } seals cover the journal.
}
portal-seal-unsealed = { $entries ->
    [0] Every entry is sealed.
    [one] One entry is not sealed yet.
   *[other] { $entries } entries are not sealed yet.
}
portal-verify-now = Verify now
portal-verify-ok = Verified just now: the seals match the journal and every balance adds up.
portal-verify-bad = Verification found a mismatch. Please tell the operator.
portal-no-currencies = No currency yet.
portal-no-open-proposals = No proposal is open.
portal-no-entries = No entries yet.
portal-chart-payments = Payments per day, last 30 days
portal-chart-spread = How { $currency } is spread across members (number of members per balance range)
portal-tally = yes { $yes }, no { $no }, abstain { $abstain }, block { $block } (of { $voters })

## Tables
portal-col-id = Number
portal-col-date = Date
portal-col-kind = Kind
portal-col-from = From
portal-col-to = To
portal-col-amount = Amount
portal-col-currency = Currency
portal-col-memo = Memo
portal-col-account = Account
portal-col-balance = Balance
portal-col-circulation = In circulation
portal-col-code = Code
portal-col-name = Name
portal-col-scale = Decimal places
portal-col-credit-limit = Credit limit
portal-col-period = Period
portal-col-status = Status
portal-col-action = Action
portal-col-platform = Platform
portal-col-room = Room
portal-col-role = Role
portal-col-title = Title
portal-col-tally = Votes

## Currencies and issuance
portal-currency-create = New currency
portal-policy-create = New scheduled issuance
portal-policy-end = End
portal-policy-active = active
portal-policy-ended = ended
portal-no-policies = No scheduled issuance yet.
portal-period-weekly = weekly
portal-period-monthly = monthly

## Members and rooms
portal-invite = Invite people
portal-invite-help = Anyone with this link can join as a member for the next 7 days.
portal-invite-create = Make an invite link
portal-invite-made = Share this link:
portal-role-owner = owner
portal-role-admin = admin
portal-role-treasurer = treasurer
portal-role-member = member
portal-members-by-vote = Roles change and members leave by vote: these buttons open the proposal.
portal-new-role = New role
portal-propose = Propose
portal-propose-removal = Propose removal
portal-role-proposal = Make { $name } { $role }
portal-removal-proposal = Remove { $name } from the community
portal-rooms-connect = Connect a chat room
portal-rooms-connect-help = Make a code, then type it in the room with the bot. It works once, for 24 hours.
portal-rooms-code-create = Make a connect code
portal-rooms-code-made = Type this in the room:
portal-rooms-bound = Connected rooms
portal-rooms-none = No room is connected yet.
portal-rooms-unbind = Disconnect

## Proposals
portal-no-proposals = No proposals yet.
portal-proposal-open = Open a proposal
portal-proposal-submit = Open it for votes
portal-proposal-by = by { $name }
portal-proposal-closes = voting ends { $date }
portal-proposal-your-vote = Your vote: { $choice }
portal-status-open = open
portal-status-passed = passed
portal-status-rejected = rejected
portal-status-failed = failed
portal-choice-yes = Yes
portal-choice-no = No
portal-choice-abstain = Abstain
portal-choice-block = Block
portal-choice-unknown = Choose yes, no, abstain or block.

## Ledger
portal-ledger-balances = Balances
portal-ledger-journal = Journal
portal-all-accounts = All accounts
portal-csv-balances = Balances as CSV (spreadsheet)
portal-csv-journal = Journal as CSV (spreadsheet)
portal-kind-payment = payment
portal-kind-issuance = issuance
portal-kind-investment = investment
portal-kind-refund = refund
portal-kind-purchase = purchase
portal-kind-cancellation = cancellation
portal-kind-demurrage = holding fee
portal-account-member = member
portal-account-issuance = Issuance
portal-account-fund = Community fund
portal-account-project = Project

# Cash-outs and clawbacks (issue 16): ledger names
portal-kind-cashout = cash-out
portal-kind-clawback = clawback
portal-account-cashout_escrow = Cash-outs under way
portal-account-clawback = Clawbacks not recovered
