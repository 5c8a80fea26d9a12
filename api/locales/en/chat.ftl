# chat (en): every sentence the chat bots say in answer to a person (replies, help, usage lines,
# mistakes). Outbox notices are in notices.ftl, refusals of the domain in refusals.ftl.
#
# Pieces written as { $name } that are amounts, names, titles or commands are placed by the bot
# as they are (bold, code, an amount in the reader's number format); counts choose plural forms.

## Help and the grammar: how to write each command (chat-usage-<command>) and what it does
## (chat-summary-<command>). The command words and yes|no|abstain|block stay as they are typed.

chat-usage-pay = /pay @who 10 [CUR] [for memo]
chat-summary-pay = pay someone from your account
chat-usage-balance = /balance
chat-summary-balance = your balances
chat-usage-history = /history
chat-summary-history = your latest payments
chat-usage-pledge = /pledge 10 [CUR] for the work
chat-summary-pledge = pledge work; the community votes to issue its worth to you
chat-usage-propose = /propose what should be decided
chat-summary-propose = open a proposal for everyone to vote on
chat-usage-vote = /vote <id> yes|no|abstain|block
chat-summary-vote = vote on a proposal (you can change it until it closes)
chat-usage-proposals = /proposals
chat-summary-proposals = proposals open for voting
chat-usage-post = /post your message
chat-summary-post = post to the community's feed
chat-usage-offer = /offer 5 [CUR] for what you offer
chat-summary-offer = offer something on the market
chat-usage-need = /need 5 [CUR] for what you need
chat-summary-need = ask the market for something
chat-usage-market = /market
chat-summary-market = open offers and needs
chat-usage-buy = /buy <listing id>
chat-summary-buy = buy an offer from the market
chat-usage-invest = /invest <project id> 10
chat-summary-invest = invest in a project for its shares
chat-usage-connect = /connect <code>
chat-summary-connect = connect this room to a community (an admin has the code)
chat-usage-link = /link
chat-summary-link = a one-time login for the web, sent to you privately
chat-usage-language = /language [de|en|auto]
chat-summary-language = which language I answer you in
chat-usage-help = /help [command]
chat-summary-help = this list, or how to use one command

chat-help = Commands (start them with / or !):
chat-help-entry = { $usage } — { $summary }
chat-help-one = { $usage }: { $summary }.
chat-help-unknown = I don't know the command "{ $command }". These are the ones I know:

## A line that looked like a command but could not be read: what is wrong, then the usage.

chat-parse-mistake = { $problem } Write it as: { $usage }
chat-parse-no-arguments = { $command } takes nothing after it.
chat-parse-pay-whom = Say whom to pay with a mention such as { $example }.
chat-parse-pay-how-much = Say how much, such as 10 or 2.50.
chat-parse-pay-whom-and-how-much = Say whom to pay and how much.
chat-parse-memo-place = Put the note after "for" or in quotes.
chat-parse-amount-first = Start with the amount, such as 10.
chat-parse-pledge-what = Write the work you pledge after "for".
chat-parse-offer-what = Write what you offer after "for".
chat-parse-need-what = Write what you need after "for".
chat-parse-propose-what = Say what should be decided.
chat-parse-post-what = Say what to post.
chat-parse-vote-both = Say the proposal's number and yes, no, abstain or block.
chat-parse-vote-number = Say the proposal's number, such as 3.
chat-parse-vote-choice = Vote yes, no, abstain or block.
chat-parse-buy-number = Say the listing's number, such as 4.
chat-parse-invest-project = Say the project's number, such as 2.
chat-parse-invest-how-much = Say how much, such as 10.
chat-parse-invest-both = Say the project's number and how much.
chat-parse-connect-code = Type the code an admin gave you.
chat-parse-connect-not-a-code = That is not a connect code.
chat-parse-language = Say de or en, or auto to let your app decide.

## Amounts as typed

chat-amount-unreadable = I cannot read "{ $amount }" as an amount; write it like 10, 2.50 or 1,234.50. Nothing was changed.
chat-amount-decimals = { $places ->
    [0] This currency has no decimal places: "{ $amount }" does not fit. Nothing was changed.
    [one] This currency has one decimal place: "{ $amount }" does not fit. Nothing was changed.
   *[other] This currency has { $places } decimal places: "{ $amount }" does not fit. Nothing was changed.
}
chat-amount-too-large = "{ $amount }" is too large. Nothing was changed.

## Rooms, communities and languages

chat-not-connected = This room is not connected to a community yet. An admin gets a code on the portal or with { $command } and types { $connect } here.
chat-several-orgs = You are a member of several communities; use a room of the one you mean.
chat-connect-in-room = Type { $connect } in the room you want to connect, not in a direct message.
chat-connect-code-invalid = That connect code is not valid. Ask an admin for a new one.
chat-connected = This room is now connected to { $org }. Type { $help } to see what you can do.

chat-language-name = { $lang ->
    [de] German (Deutsch)
   *[en] English
}
chat-language-current = I answer you in { $language }, { $why ->
    [own] as you chose.
    [platform] as your app is set to.
   *[org] the community's language.
}
chat-language-how = Choose another with { $set }; { $auto } lets your app or the community decide again.
chat-language-set = From now on I answer you in { $language }.
chat-language-auto = You have no language of your own any more; your app or the community decides. For now that is { $language }.

## Money

chat-no-currency = { $org } has no currency yet; an admin creates one first.
chat-unknown-currency = There is no currency { $currency } in { $org }; use { $count ->
    [one] { $known }
   *[other] one of { $known }
}. Nothing was changed.
chat-pay-yourself = You cannot pay yourself.
chat-payee-not-member = { $payee } is not a member of { $org }, so they cannot be paid here. Nothing was paid.
chat-pay-not-enough = You have { $balance }, not enough to pay { $amount }. Nothing was paid.
chat-not-enough-money = You do not have enough money for that. Nothing was paid.
chat-paid = Paid { $amount } to { $payee }.
chat-paid-for = Paid { $amount } to { $payee } for { $memo }.
chat-payee-account-opened = { $payee } had no account in { $org } yet: one was opened, and they will hear of it in a direct message.
chat-no-account = You have no account in { $org } yet.
chat-balance = { $name }, your balance in { $org }:
chat-history = Your latest payments:
chat-history-empty = No payments yet.
chat-history-entry = { $date } { $direction ->
    [out] −
   *[in] +
} { $amount } ({ $kind ->
    [payment] payment
    [issuance] issuance
    [investment] investment
    [refund] refund
    [purchase] purchase
    [cancellation] cancellation
    [demurrage] holding fee
   *[other] { $kind }
})
chat-history-entry-memo = { $date } { $direction ->
    [out] −
   *[in] +
} { $amount } ({ $kind ->
    [payment] payment
    [issuance] issuance
    [investment] investment
    [refund] refund
    [purchase] purchase
    [cancellation] cancellation
    [demurrage] holding fee
   *[other] { $kind }
}) { $memo }

## Pledges, proposals and votes

chat-pledged = Pledge #{ $pledge }: { $amount } for { $work }. Proposal #{ $proposal } asks { $org } to issue it to you; vote on it.
chat-proposal-opened = Proposal { $proposal } is open until { $closes }.
chat-proposals = Open proposals:
chat-proposals-entry = { $proposal } — { $tally }
chat-proposals-none = No proposals are open. Open one with { $propose }.
chat-proposals-vote-with = Vote with { $vote }
chat-voted = You voted { $choice } on { $proposal }. { $tally }.
chat-tally-votes = yes { $yes }, no { $no }, abstain { $abstain }, block { $block } of { $voters } { $voters ->
    [one] voter
   *[other] voters
}
chat-tally-open = { $votes }; open until { $closes }
chat-tally-passed = { $votes }; it passed
chat-tally-rejected = { $votes }; it was rejected
chat-tally-failed = { $votes }; it passed but could not be carried out: { $reason }
chat-unknown-reason = unknown reason
# Under a proposal: the command to vote with follows.
chat-vote-prompt = Vote:
# A vote button's caption.
chat-choice = { $choice ->
    [yes] yes
    [no] no
    [abstain] abstain
   *[block] block
}

## Feed and market

chat-posted = Posted to the feed of { $org } (post #{ $post }).
chat-listed-offer = Listed offer { $listing } for { $price }. Others can buy it with { $buy }.
chat-listed-need = Listed need { $listing } for { $price }. Whoever can help may answer with an { $offer }.
chat-market = On the market:
chat-market-entry = { $listing } ({ $kind ->
    [offer] offer
   *[need] need
} by { $owner }) { $price }
chat-market-empty = The market is empty. List something with { $offer } or { $need }.
chat-bought = You bought { $listing } from { $seller } for { $price }.
chat-invested = You invested { $amount } in project #{ $project } and received { $shares }.

## Logging in on the web

chat-login-link = Your one-time login, valid for 15 minutes:
chat-login-exchange = Exchange it for a token with { $command }

## What the adapters add

chat-sent-direct = I sent you a direct message.
chat-sent-private = I sent you a private message.
chat-direct-failed = I could not send you a direct message; allow direct messages from this server's members, or ask me in one.
chat-private-failed = I could not send you a private message; please ask again.
chat-private-start = I can't write to you privately yet: open a chat with @{ $bot } and press Start, then ask again.
chat-unknown-username = I don't know who @{ $name } is yet. Reply to one of their messages with /pay, or ask them to write here first. Nothing was paid.
chat-direct-open-failed = I could not open a direct message with you; start one with me and ask there.

## The way to the first payment (issue 14): joining grant, short names.
chat-welcome-grant = Welcome to { $org }! You got { $amount } to get started.
chat-help-grant = How newcomers get money: everyone who joins { $org } gets { $amount } once.
chat-help-no-grant = How newcomers get money: ask an admin of { $org }.
chat-nobody-called = Nobody called { $name } is here. Nothing was paid.
chat-which-one = Which { $name } do you mean: { $choices }? Write their full id. Nothing was paid.

# Chat adapters (away): commands that arrived while a bot was away, its first private message
# to someone, and where to vote on Matrix.
chat-away-send-again = I was away when you sent this, so I did nothing; please send it again.
chat-first-direct = { $name }: I sent you a private message. Receipts reach you there from now on; look in your direct messages.
chat-vote-on-announcement = To vote with a click, react to the proposal's announcement: { $link }
chat-vote-announcement-follows = To vote with a click, react to the proposal's announcement, which follows here shortly.

# Euro top-ups (issue 16)
chat-usage-topup = /topup 20
chat-summary-topup = buy coins with euros; the payment link is sent to you privately
chat-parse-topup = Say how many euros, such as /topup 20.
chat-topup-link = Pay { $euros } here to get { $coins } (the link is yours alone):

## The exchange (issue 17)
chat-usage-exchange = /exchange 10 COIN for BIKE at 0.8
chat-summary-exchange = offer one currency for another in the exchange's next round
chat-usage-orders = /orders
chat-summary-orders = your exchange orders
chat-usage-cancel = /cancel <order id>
chat-summary-cancel = cancel an exchange order and get back what it holds
chat-usage-quote = /quote COIN BIKE
chat-summary-quote = the price the exchange's round would clear at now
chat-parse-exchange = Write it as: /exchange 10 COIN for BIKE at 0.8 (sell 10 COIN for at least 0.8 BIKE each).
chat-parse-cancel-number = Say the order's number, such as /cancel 4.
chat-parse-quote-pair = Name the two currencies, such as /quote COIN BIKE.
chat-order-placed = Order #{ $order }: { $amount } for at least { $limit } { $buy } each, held until the next round. Cancel it with /cancel { $order }.
chat-orders = Your exchange orders:
chat-orders-entry = #{ $order }: { $amount } for { $buy } at { $limit } ({ $status ->
    [open] open
    [filled] filled
    [cancelled] cancelled
   *[returned] returned
}), bought so far { $bought }
chat-orders-empty = You have no exchange orders. Place one with /exchange 10 COIN for BIKE at 0.8.
chat-order-cancelled = Order #{ $order } is cancelled; what it still held of { $amount } is back in your account.
chat-quote = { $base }/{ $quote }: the round would clear now at { $price } { $quote } per { $base }, trading { $volume } (imbalance { $imbalance }).
chat-quote-none = { $base }/{ $quote }: nothing would trade in this round yet.

# /verify (issue 20): the member's check of the published history.
chat-usage-verify = /verify
chat-summary-verify = check that the org's published history includes your payments and was never rewritten
chat-verify-ok = The published history of { $org } checks out: { $heads } signed tree heads, each extending the one before, and { $entries ->
    [one] your { $entries } entry is
   *[other] all { $entries } of your entries are
} in the latest (size { $size }, root { $root }). Check it from your own machine: { $command }
chat-verify-nothing-sealed = Nothing of { $org } is sealed yet; the history is published at the next seal.
chat-verify-bad = The published history of { $org } does not check out: tree head { $size } contradicts what was published. Tell the other members and the operator.
chat-verify-failed = I could not check the history of { $org } just now; please try again later.

# Cash-outs (issue 16)
chat-usage-cashout = /cashout 30
chat-summary-cashout = treasurers: cash out coins to the org's bank (another treasurer or admin approves with /cashout approve ID)
chat-parse-cashout = Say how many coins, such as /cashout 30, or approve one with /cashout approve 12.
chat-cashout-asked = Cash-out #{ $cashout } of { $coins } ({ $euros }) is waiting for another treasurer or admin: /cashout approve { $cashout }
chat-cashout-proposed = Cash-out #{ $cashout } of { $coins } ({ $euros }) is at or above the org's threshold: proposal { $proposal } decides it.
chat-cashout-approved = Cash-out #{ $cashout } is approved: { $euros } are on their way to the org's bank.
