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
cli-audit-remote-inconsistent = WIDERSPRÜCHLICHER Baumkopf { $size }: { $reason }
cli-audit-failed-head = Der Baumkopf { $size } von { $org } ist widersprüchlich
cli-audit-failed-key = Der Schlüssel von { $org } hat sich geändert
cli-audit-remote-ok = ok: der veröffentlichte Verlauf ist widerspruchsfrei; gemerkt in { $file }

# Das Programm (Issue 13): `up`, `org`, `migrate`, `audit`, `chat` und Fehler, die Menschen lesen.
cli-error = Fehler: { $error }
cli-log-file = das Log: { $path } (Warnungen erscheinen auch hier)
cli-no-database = keine Datenbank: gib --database-url an (oder setze DATABASE_URL), oder starte einmal `coinsence up`, um eine unter { $dir } anzulegen
cli-cluster-elsewhere = PostgreSQL legt seine Daten in { $cluster } ab ({ $dir } verweist dorthin: der Benutzer postgres kann das Datenverzeichnis nicht betreten)
cli-up-stopping = wird beendet (Strg-C noch einmal beendet sofort)
cli-up-stopping-now = wird sofort beendet
cli-up-starting-postgres = PostgreSQL startet in { $dir }
cli-up-stopping-postgres = PostgreSQL wird beendet
cli-up-at = Coinsence läuft unter { $url }
cli-up-demo-org = Demo-Organisation: { $org } (Währung { $currency }), Admin { $name } <{ $email }>
cli-up-admin-token = Admin-Token: { $token }
cli-up-database = Datenbank: { $url }
cli-up-bots-beside = Chat-Bots daneben: coinsence bots --data-dir { $dir } --matrix ... (oder --database-url mit der Datenbank oben)
cli-up-portal = Portal: { $url }
cli-up-portal-login = im Portal anmelden als { $name }: { $url }
cli-up-try = probier:  curl -H 'Authorization: Bearer { $token }' { $url }
cli-up-console-chat = der Konsolen-Chat: tippe hier Chat-Befehle als { $name } (probier /help, /balance, /pay @ben 5 für Mittagessen)
cli-up-chat-as-other = der Konsolen-Chat als jemand anderes, in einem zweiten Terminal: coinsence chat --data-dir { $dir } --org { $org } --as Ben
cli-up-api-document = API-Dokument: { $url } — Strg-C beendet
cli-up-stopping-citus = Citus wird beendet
cli-up-starting-citus = Citus startet (ein Koordinator und zwei Worker) in { $dir }
cli-up-citus-nodes = Citus-Koordinator auf 127.0.0.1:{ $coordinator }, Worker auf 127.0.0.1:{ $first } und 127.0.0.1:{ $second }
cli-up-citus-where = wo jede Organisation liegt: { $command }
cli-demo-org-name = Demo-Gemeinschaft
cli-demo-coin-name = Demo-Münze
cli-demo-welcome = willkommen in der Demo
cli-chat-welcome = { $name } in { $org }. Tippe /help für die Befehle; Strg-D verlässt den Chat.
cli-org-created = Organisation { $org } angelegt (Schema { $schema })
cli-org-owner-token = Token der Eigentümerin (nur jetzt zu sehen): { $token }
cli-org-not-created = die Organisation wurde nicht angelegt
cli-org-connect-hint = tippe /connect { $code } im Raum (wo der Bot ist) innerhalb von 24 Stunden; der Code gilt einmal
cli-org-exported = Organisation { $org } nach { $file } exportiert: { $parts } Teile, { $rows } Zeilen, { $bytes } Bytes
cli-org-imported = Organisation { $org } importiert (Schema { $schema }): { $rows } Zeilen; { $matched } Personen hier wiedererkannt, { $created } neu; { $identities } Chat-Identitäten und { $rooms } Räume waren hier schon vergeben und bleiben, wie sie sind
cli-org-open = offen
cli-org-closed = geschlossen
cli-migrated = Steuerebene und { $orgs } Organisationen migriert: { $updated } aktualisiert, { $current } schon aktuell, { $failed } fehlgeschlagen
cli-migrate-failed = { $failed } Organisationen ließen sich nicht migrieren (siehe Log); starte `coinsence migrate` noch einmal, um es erneut zu versuchen
cli-migrate-enqueued = Steuerebene migriert; { $behind } Organisationen unter Version { $target }: { $enqueued } Migrationsjobs eingereiht ({ $waiting } warteten schon). Die Worker führen sie aus; siehe `coinsence migrate --status`.
cli-migrate-status = { $done }/{ $orgs } Organisationen auf Mandantenversion { $target } ({ $behind } zurück)
cli-migrate-jobs = Migrationsjobs: { $queued } wartend, { $running } laufend, { $done } fertig, { $failed } fehlgeschlagen, { $retrying } im erneuten Versuch
cli-migrate-current = aktuell: Steuerebene und { $orgs } Organisationen auf Mandantenversion { $target }
cli-migrate-control-behind = Steuerebene zurück: { $versions } ausstehend
cli-migrate-org-behind = Organisation { $org } (ID { $id }) auf Version { $version }: { $versions } ausstehend
cli-migrate-more-behind = ... und { $count } weitere Organisationen zurück
cli-migrate-not-current = Schema nicht aktuell ({ $behind } von { $orgs } Organisationen zurück); starte `coinsence migrate`
cli-migrate-not-current-control = Schema nicht aktuell ({ $behind } von { $orgs } Organisationen zurück, Steuerebene zurück); starte `coinsence migrate`
cli-audit-needs-token = --url braucht das --token des Mitglieds (oder COINSENCE_TOKEN)
cli-audit-seals = { $org }: { $seals } Siegel über { $entries } Buchungen; { $unsealed } Buchungen noch nicht versiegelt
cli-audit-tree = { $org }: { $heads } signierte Baumköpfe über { $leaves } Blätter
cli-audit-mismatch = ABWEICHUNG bei Siegel { $seq }: { $reason }
cli-audit-published = {"  "}veröffentlicht { $hash }
cli-audit-recomputed = {"  "}nachgerechnet { $hash }
cli-audit-inconsistent = INKONSISTENTER Baumkopf { $size }: { $reason }
cli-audit-seal-failed = das Journal von { $org } stimmt nicht mit Siegel { $seq } überein
cli-audit-tree-failed = das Journal von { $org } stimmt nicht mit Baumkopf { $size } überein
cli-audit-ok = ok: das Journal stimmt mit jedem veröffentlichten Siegel und Baumkopf überein

# Die Prüfung des Betreibers (`coinsence audit verify` gegen die Datenbank): warum ein signierter
# Baumkopf nicht zum Journal passt, wie es jetzt ist.
audit-tree-bad-signature = seine Signatur passt nicht zum Schlüssel der Organisation
audit-tree-longer-than-tree = er umfasst mehr Einträge, als der Baum des Journals hat ({ $leaves })
audit-tree-root-differs = die Einträge des Journals ergeben nicht mehr seine Wurzel
audit-tree-entries-slipped-in = { $count ->
    [one] ein Eintrag wurde zwischen die versiegelten geschoben
   *[other] { $count } Einträge wurden zwischen die versiegelten geschoben
}
