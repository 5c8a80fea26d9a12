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
cli-audit-remote-inconsistent = INCONSISTENT tree head { $size }: { $reason }
cli-audit-failed-head = { $org }'s tree head { $size } is inconsistent
cli-audit-failed-key = { $org }'s key changed
cli-audit-remote-ok = ok: the published history is consistent; remembered in { $file }

# The binary (issue 13): `up`, `org`, `migrate`, `audit`, `chat`, and errors shown to people.
cli-error = Error: { $error }
cli-log-file = the log: { $path } (warnings show here too)
cli-no-database = no database: pass --database-url (or set DATABASE_URL), or run `coinsence up` once to create one under { $dir }
cli-cluster-elsewhere = PostgreSQL keeps its data in { $cluster } ({ $dir } links there: the postgres user cannot enter the data directory)
cli-up-stopping = stopping (Ctrl-C again stops at once)
cli-up-stopping-now = stopping now
cli-up-starting-postgres = starting PostgreSQL in { $dir }
cli-up-stopping-postgres = stopping PostgreSQL
cli-up-at = Coinsence is up at { $url }
cli-up-demo-org = demo org: { $org } (currency { $currency }), admin { $name } <{ $email }>
cli-up-admin-token = admin token: { $token }
cli-up-database = database: { $url }
cli-up-bots-beside = chat bots beside it: coinsence bots --data-dir { $dir } --matrix ... (or --database-url with the database above)
cli-up-portal = portal: { $url }
cli-up-portal-login = log in to the portal as { $name }: { $url }
cli-up-try = try:  curl -H 'Authorization: Bearer { $token }' { $url }
cli-up-console-chat = the console chat: type chat commands here as { $name } (try /help, /balance, /pay @ben 5 for lunch)
cli-up-chat-as-other = the console chat as someone else, in another terminal: coinsence chat --data-dir { $dir } --org { $org } --as Ben
cli-up-api-document = API document: { $url } — press Ctrl-C to stop
cli-up-stopping-citus = stopping Citus
cli-up-starting-citus = starting Citus (a coordinator and two workers) in { $dir }
cli-up-citus-nodes = Citus coordinator on 127.0.0.1:{ $coordinator }, workers on 127.0.0.1:{ $first } and 127.0.0.1:{ $second }
cli-up-citus-where = where each org is: { $command }
cli-demo-org-name = Demo Community
cli-demo-coin-name = Demo coin
cli-demo-welcome = welcome to the demo
cli-chat-welcome = { $name } in { $org }. Type /help for the commands; Ctrl-D leaves.
cli-org-created = created org { $org } (schema { $schema })
cli-org-owner-token = owner token (shown once): { $token }
cli-org-not-created = the org was not created
cli-org-connect-hint = type /connect { $code } in the room (where the bot is) within 24 hours; it works once
cli-org-exported = exported org { $org } to { $file }: { $parts } parts, { $rows } rows, { $bytes } bytes
cli-org-imported = imported org { $org } (schema { $schema }): { $rows } rows; { $matched } people matched here, { $created } new; { $identities } chat identities and { $rooms } rooms were already taken here and left as they are
cli-org-open = open
cli-org-closed = closed
cli-migrated = migrated control plane and { $orgs } orgs: { $updated } updated, { $current } already up to date, { $failed } failed
cli-migrate-failed = { $failed } orgs failed to migrate (see the log); run `coinsence migrate` again to retry them
cli-migrate-enqueued = control plane migrated; { $behind } orgs behind version { $target }: { $enqueued } migration jobs enqueued ({ $waiting } already waiting). Workers run them; see `coinsence migrate --status`.
cli-migrate-status = { $done }/{ $orgs } orgs at tenant version { $target } ({ $behind } behind)
cli-migrate-jobs = migration jobs: { $queued } queued, { $running } running, { $done } done, { $failed } failed, { $retrying } retrying
cli-migrate-current = current: control plane and { $orgs } orgs at tenant version { $target }
cli-migrate-control-behind = control plane behind: { $versions } pending
cli-migrate-org-behind = org { $org } (id { $id }) at version { $version }: { $versions } pending
cli-migrate-more-behind = ... and { $count } more orgs behind
cli-migrate-not-current = schema not current ({ $behind } of { $orgs } orgs behind); run `coinsence migrate`
cli-migrate-not-current-control = schema not current ({ $behind } of { $orgs } orgs behind, control plane behind); run `coinsence migrate`
cli-audit-needs-token = --url needs the member's --token (or COINSENCE_TOKEN)
cli-audit-seals = { $org }: { $seals } seals over { $entries } entries; { $unsealed } entries not sealed yet
cli-audit-tree = { $org }: { $heads } signed tree heads over { $leaves } leaves
cli-audit-mismatch = MISMATCH at seal { $seq }: { $reason }
cli-audit-published = {"  "}published  { $hash }
cli-audit-recomputed = {"  "}recomputed { $hash }
cli-audit-inconsistent = INCONSISTENT tree head { $size }: { $reason }
cli-audit-seal-failed = { $org }'s journal does not match seal { $seq }
cli-audit-tree-failed = { $org }'s journal does not match tree head { $size }
cli-audit-ok = ok: the journal matches every published seal and tree head

# The operator's audit (`coinsence audit verify` against the database): why a signed tree head
# disagrees with the journal as it is now.
audit-tree-bad-signature = its signature does not verify with the org's key
audit-tree-longer-than-tree = it covers more entries than the journal's tree has ({ $leaves })
audit-tree-root-differs = the journal's entries no longer hash to its root
audit-tree-entries-slipped-in = { $count ->
    [one] an entry was slipped in among the sealed ones
   *[other] { $count } entries were slipped in among the sealed ones
}
