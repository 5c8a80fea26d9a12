# Meldungen der Kommandozeile `coinsence` für Menschen (keine Logs).

# Vom Test des Katalogs benutzt: die Anzahl wählt die Pluralform.
test-plural = { $count ->
    [one] { $count } Mitglied
   *[other] { $count } Mitglieder
}

# Billing (Issue 16)
cli-topups-on = Aufladen mit Euro: an (Stripe ist eingerichtet; sein Webhook ist /v1/billing/stripe/webhook)
cli-topups-off = Aufladen mit Euro: aus (setze COINSENCE_STRIPE_SECRET_KEY und COINSENCE_STRIPE_WEBHOOK_SECRETS, um es einzuschalten)

# Transparenz: die Prüfung des veröffentlichten Verlaufs durch ein Mitglied (Issue 20), `coinsence audit verify --url`
audit-head-bad-signature = seine Signatur passt nicht zum Schlüssel der Organisation
audit-head-does-not-extend = er setzt den Baumkopf der Größe { $earlier } nicht fort
audit-head-root-differs-from-witness = seine Wurzel weicht von einem Zeugen gleicher Größe ab
audit-head-root-differs-from-last-seen = seine Wurzel weicht von dem Baumkopf gleicher Größe ab, den du zuletzt gesehen hast
audit-head-does-not-extend-witness = er setzt einen Zeugen (Größe { $size }) nicht fort
audit-head-does-not-extend-last-seen = er setzt den Baumkopf, den du zuletzt gesehen hast (Größe { $size }), nicht fort
audit-head-witness-not-published = ein Zeuge dieser Größe ist nicht mehr veröffentlicht
audit-head-last-seen-not-published = der Baumkopf, den du zuletzt gesehen hast, ist nicht mehr veröffentlicht
audit-head-proof-for-another-entry = der Beweis für deinen Eintrag { $transfer } betrifft einen anderen Eintrag
audit-head-entry-not-included = dein Eintrag { $transfer }, wie das Journal ihn jetzt enthält, ist nicht darin (Blatt { $leaf })
audit-head-entry-missing = dein Eintrag { $transfer } fehlt darin
cli-audit-key-pinned-now = { $org }: Schlüssel der Organisation ed25519 { $key } (jetzt gemerkt)
cli-audit-key-as-pinned = { $org }: Schlüssel der Organisation ed25519 { $key } (wie gemerkt)
cli-audit-key-changed = { $org }: Schlüssel der Organisation ed25519 { $key } (GEÄNDERT, seit du ihn dir gemerkt hast)
cli-audit-heads-checked = { $heads } Baumköpfe: { $signatures } Signaturen geprüft, { $proofs } Konsistenzbeweise geprüft
cli-audit-last-seen-extended = der Baumkopf, den du zuletzt gesehen hast (Größe { $size }), wird fortgesetzt
cli-audit-witnesses-checked = { $count ->
    [one] { $count } Zeuge geprüft
   *[other] { $count } Zeugen geprüft
}
cli-audit-entries-included = { $included } deiner Einträge sind im neuesten Baumkopf enthalten (Größe { $size }, Wurzel { $root }); { $unsealed } noch nicht versiegelt
cli-audit-nothing-sealed = noch ist nichts versiegelt; { $unsealed } deiner Einträge sind noch nicht versiegelt
cli-audit-key-changed-warning = SCHLÜSSEL GEÄNDERT: der Schlüssel der Organisation ist nicht der, den du dir gemerkt hast
cli-audit-inconsistent = WIDERSPRÜCHLICHER Baumkopf { $size }: { $reason }
cli-audit-failed-head = Der Baumkopf { $size } von { $org } ist widersprüchlich
cli-audit-failed-key = Der Schlüssel von { $org } hat sich geändert
cli-audit-ok = ok: der veröffentlichte Verlauf ist widerspruchsfrei; gemerkt in { $file }
