# notices (en): what the bots tell rooms (in the community's language) and people in direct
# messages (in their own) when something happened: outbox events.

notice-someone = Someone
notice-payment-received = { $from } paid you { $amount } in { $org }. Type { $balance } in one of its rooms (or here) to see your balance.
notice-payment-received-for = { $from } paid you { $amount } for { $memo } in { $org }. Type { $balance } in one of its rooms (or here) to see your balance.
notice-proposal-opened = New proposal in { $org }: { $proposal }.
notice-vote-reminder = Proposal { $proposal } in { $org } closes soon and you have not voted yet.
notice-proposal-closed = Proposal { $proposal } { $status ->
    [passed] passed.
    [rejected] was rejected.
    [failed] passed but could not be carried out ({ $reason }).
   *[other] closed ({ $status }).
}
notice-pledge-approved = Your pledge "{ $description }" was approved in { $org }: { $amount } was issued to you.
notice-project-funded = Project #{ $project } { $title } reached its goal with { $raised } raised.
notice-project-refunded = Project #{ $project } { $title } missed its goal; everyone who invested was refunded.
notice-listing-bought = Someone bought your listing { $listing } for { $price } in { $org }.
notice-post = { $author } posted in { $org }: { $body }
notice-topup-paid = Your top-up of { $euros } in { $org } is paid: { $amount } was issued to you.
notice-topup-failed = Your top-up of { $euros } in { $org } failed; your bank did not pay it, and nothing was issued.
# exchange rounds (issue 17): what a member's order did in a round
notice-exchange-filled = Your exchange order #{ $order } in { $org } filled: you sold { $sold } for { $bought }, at { $price } { $buy } per { $sell }.
notice-exchange-unfilled = Your exchange order #{ $order } in { $org } { $why ->
    [rationed] filled only in part: at { $price } { $buy } per { $sell } more { $sell } was offered than wanted, so everyone at that price got their share.
    [odd_lot] filled as far as whole lots at { $price } { $buy } per { $sell } allow.
    [limit_not_reached] did not fill: the round cleared at { $price } { $buy } per { $sell }, below your limit { $limit }.
    [trustline] did not trade: { $org } already holds as much { $buy } as its trustline allows.
    [outflow_limit] did not trade: more { $sell } would have left { $org } in this round than it allows.
   *[other] did not fill: nobody offered { $buy } at a price you accept.
} You sold { $sold } for { $bought } in this round. { $status ->
    [returned] The rest, { $rest }, is back in your account.
   *[other] The rest, { $rest }, stays in the book for the next round.
}


# Witnesses (issue 20): the size and the root's start; `coinsence audit verify --witness` reads
# the last number before the hex root, so keep the size right before it.
notice-tree-head = Signed history of { $org }: tree head of { $size } entries, root { $root }. Keep this line: { $command } checks the history against it.


# Why a vote rejected a proposal (its `reason_code`; issue 13).
reason-quorum_not_met = too few members voted to reach the quorum
reason-not_enough_support = not enough members voted yes
reason-blocked = a member blocked it
reason-objected = a member objected

# The title of the proposal a large cash-out opens (issue 16), in the org's language.
proposal-title-cashout = Cash out { $coins } { $currency } (€{ $euros })
