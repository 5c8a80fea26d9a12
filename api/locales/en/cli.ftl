# Messages of the `coinsence` command line meant for people (not logs).

# Used by the catalog's own test: a count selects the plural form.
test-plural = { $count ->
    [one] { $count } member
   *[other] { $count } members
}

# Billing (issue 16)
cli-topups-on = euro top-ups: on (Stripe is configured; its webhook is /v1/billing/stripe/webhook)
cli-topups-off = euro top-ups: off (set COINSENCE_STRIPE_SECRET_KEY and COINSENCE_STRIPE_WEBHOOK_SECRETS to turn them on)
