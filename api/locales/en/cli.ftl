# Messages of the `coinsence` command line meant for people (not logs).

# Used by the catalog's own test: a count selects the plural form.
test-plural = { $count ->
    [one] { $count } member
   *[other] { $count } members
}

# Billing (issue 16)
cli-topups-on = euro top-ups: on (Stripe is configured; its webhook is /v1/billing/stripe/webhook)
cli-topups-off = euro top-ups: off (set COINSENCE_STRIPE_SECRET_KEY and COINSENCE_STRIPE_WEBHOOK_SECRETS to turn them on)

# Transparency: a member's check of the published history (issue 20), `coinsence audit verify --url`
audit-head-bad-signature = its signature does not verify with the org's key
audit-head-does-not-extend = it does not extend the head of size { $earlier }
audit-head-root-differs-from-witness = its root differs from a witness of the same size
audit-head-root-differs-from-last-seen = its root differs from the head of the same size you saw last time
audit-head-does-not-extend-witness = it does not extend a witness (size { $size })
audit-head-does-not-extend-last-seen = it does not extend the head you saw last time (size { $size })
audit-head-witness-not-published = a witness of this size is no longer published
audit-head-last-seen-not-published = the head you saw last time is no longer published
audit-head-proof-for-another-entry = the proof for your entry { $transfer } is about another entry
audit-head-entry-not-included = your entry { $transfer } as the journal holds it now is not in it (leaf { $leaf })
audit-head-entry-missing = your entry { $transfer } is missing from it
cli-audit-key-pinned-now = { $org }: org key ed25519 { $key } (pinned now)
cli-audit-key-as-pinned = { $org }: org key ed25519 { $key } (as pinned)
cli-audit-key-changed = { $org }: org key ed25519 { $key } (CHANGED since you pinned it)
cli-audit-heads-checked = { $heads } tree heads: { $signatures } signatures checked, { $proofs } consistency proofs checked
cli-audit-last-seen-extended = the last head you saw (size { $size }) is extended
cli-audit-witnesses-checked = { $count ->
    [one] { $count } witness head checked
   *[other] { $count } witness heads checked
}
cli-audit-entries-included = { $included } of your entries are included in the latest head (size { $size }, root { $root }); { $unsealed } not sealed yet
cli-audit-nothing-sealed = nothing is sealed yet; { $unsealed } of your entries are not sealed yet
cli-audit-key-changed-warning = KEY CHANGED: the org's key is not the one you pinned
cli-audit-inconsistent = INCONSISTENT tree head { $size }: { $reason }
cli-audit-failed-head = { $org }'s tree head { $size } is inconsistent
cli-audit-failed-key = { $org }'s key changed
cli-audit-ok = ok: the published history is consistent; remembered in { $file }
