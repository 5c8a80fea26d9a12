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

## Export (the org's archive)
portal-export-title = Take your data with you
portal-export-about = Download everything of this community as one file (members, ledger, sealed history, proposals, pledges, projects, market and feed), to import it into another Coinsence. It holds the key that signs your history: keep it as safe as a password.
portal-export-button = Download the archive

## Rules (governance)
portal-nav-governance = Rules
portal-col-proposal-kind = Kind of proposal
portal-col-method = Method
portal-col-quorum = Quorum
portal-col-threshold = Threshold
portal-rules-default = Every other kind
portal-rules-period = Voting period
portal-rules-days = { $days ->
    [one] one day
   *[other] { $days } days
}
portal-rules-proposers = Who may propose
portal-proposers-members = every member
portal-proposers-admins = admins only
portal-method-majority = majority
portal-method-supermajority = supermajority
portal-method-consensus = consensus
portal-method-consent = consent
portal-rules-change = Change the rules
portal-rules-change-about = While the community has fewer than three members, a change applies at once; after that it opens a proposal that everyone votes on.
portal-field-quorum-bp = Quorum, in basis points (5000 = 50 %)
portal-field-threshold-bp = Supermajority threshold, in basis points (6667 = two thirds)
portal-field-voting-days = Voting period, in days
portal-rules-override = A rule of its own for one kind of proposal
portal-rules-no-override = none
portal-rules-proposal = Change the decision rules
portal-proposal-kind-issue_for_pledge = Issue money for a pledge
portal-proposal-kind-issue_to_account = Issue money to an account
portal-proposal-kind-fund_project = Fund a project
portal-proposal-kind-change_rules = Change the rules
portal-proposal-kind-change_issuance = Change the issuance
portal-proposal-kind-admit_member = Admit a member
portal-proposal-kind-remove_member = Remove a member
portal-proposal-kind-set_role = Change a role
portal-proposal-kind-free_text = Anything else (free text)
portal-proposal-kind-change_topup_rate = Change the top-up rate
portal-proposal-kind-list_on_exchange = List on the exchange
portal-proposal-kind-delist_from_exchange = Take off the exchange

## Pledge totals on the overview
portal-dash-pledges = Pledged work
portal-col-pledged = Pledged
portal-col-issued = Issued
portal-col-redeemed = Redeemed
portal-col-outstanding = Outstanding
portal-no-pledges = No pledges yet.

## Journal filters
portal-all-kinds = All kinds
portal-filter-from = From
portal-filter-until = Until

## Pledges, projects, market, feed, and a member's own view
portal-nav-pledges = Pledges
portal-nav-projects = Projects
portal-nav-market = Market
portal-nav-feed = Feed
portal-nav-mine = My page
portal-col-member = Member
portal-col-work = Work
portal-col-owner = By
portal-col-raised-goal = Raised / goal
portal-col-investors = Investors
portal-col-price = Price
portal-col-purchases = Bought
portal-col-post = Post
portal-col-author = By
portal-col-comments = Comments
portal-pledge-create = Pledge work
portal-pledge-about = Say what work you will do and what it is worth; the community votes on issuing that amount to you.
portal-pledge-submit = Pledge and open the vote
portal-pledge-proposed = waiting for the vote
portal-pledge-approved = approved
portal-pledge-rejected = rejected
portal-project-open = raising money
portal-project-funded = funded
portal-project-refunded = refunded
portal-project-investors = { $count ->
    [one] one investor
   *[other] { $count } investors
}
portal-listing-open = open
portal-listing-closed = closed
portal-listing-purchases = { $count ->
    [one] bought once
   *[other] bought { $count } times
}
portal-post-comments = { $count ->
    [one] one comment
   *[other] { $count } comments
}
portal-no-projects = No projects yet.
portal-no-listings = Nothing on the market yet.
portal-no-posts = No posts yet.
portal-no-votes = You have not voted yet.
portal-mine-votes = Your votes
portal-mine-history = Your history

## Charts on the overview
portal-chart-circulation = Money in circulation over time ({ $currency })
portal-chart-pledges = Pledged work: issued versus redeemed ({ $currency })

## Issuance preview
portal-policy-preview = Next period, from { $date }: { $issued } to { $members ->
    [one] one member
   *[other] { $members } members
}; holding fees { $fees } from { $payers ->
    [one] one member
   *[other] { $payers } members
}.

## Feed moderation
portal-feed-hide = Hide this post

# Cash-outs and clawbacks (issue 16): ledger names
portal-kind-cashout = cash-out
portal-kind-clawback = clawback
portal-account-cashout_escrow = Cash-outs under way
portal-account-clawback = Clawbacks not recovered

## A member's own check of the published history ("verify now"; issue 20)
portal-history-ok = Your own check of the published history: { $heads ->
    [one] one signed tree head
   *[other] { $heads } signed tree heads, each extending the one before
}; { $entries ->
    [0] none of your entries is
    [one] your one entry is
   *[other] { $entries } of your entries are
} in the latest (size { $size }, root { $root }…). From your own machine: coinsence audit verify --url <this address> --org { $org }
portal-history-nothing-sealed = Nothing is sealed yet: the history is published, signed, at the next seal.
portal-history-bad = The published history does not check out: tree head { $size } contradicts what was published before. Tell the other members and the operator.
portal-history-failed = The published history could not be checked just now; try again later.
