# Meldungen der Kommandozeile `coinsence` für Menschen (keine Logs).

# Vom Test des Katalogs benutzt: die Anzahl wählt die Pluralform.
test-plural = { $count ->
    [one] { $count } Mitglied
   *[other] { $count } Mitglieder
}

# Billing (Issue 16)
cli-topups-on = Aufladen mit Euro: an (Stripe ist eingerichtet; sein Webhook ist /v1/billing/stripe/webhook)
cli-topups-off = Aufladen mit Euro: aus (setze COINSENCE_STRIPE_SECRET_KEY und COINSENCE_STRIPE_WEBHOOK_SECRETS, um es einzuschalten)
