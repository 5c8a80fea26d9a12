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

# Why a vote rejected a proposal (its `reason_code`; issue 13).
reason-quorum_not_met = too few members voted to reach the quorum
reason-not_enough_support = not enough members voted yes
reason-blocked = a member blocked it
reason-objected = a member objected
