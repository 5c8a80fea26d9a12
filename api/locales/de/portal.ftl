# portal (de): jeder Satz des Admin-Portals (tenant-admin/). Ablehnungen kommen aus
# refusals.ftl, wie in der API und im Chat.

## Kopfzeile, Navigation, allgemeine Wörter
portal-login = Anmelden
portal-logout = Abmelden
portal-signup = Registrieren
portal-nav-dashboard = Übersicht
portal-nav-ledger = Kassenbuch
portal-nav-proposals = Vorschläge
portal-nav-currencies = Währungen
portal-nav-issuance = Ausgabe
portal-nav-members = Mitglieder
portal-nav-rooms = Chaträume
portal-create = Anlegen
portal-save = Speichern
portal-filter = Anzeigen
portal-older = Ältere Einträge
portal-error-title = Das hat nicht geklappt
portal-back-home = Zurück zur Startseite

## Start, Registrierung und Anmeldung
portal-home-title = Coinsence
portal-home-intro = Das eigene Geld deiner Gemeinschaft, gemeinsam entschieden, genutzt in den Chaträumen, die ihr schon habt.
portal-my-orgs = Deine Gemeinschaften
portal-no-orgs = Du bist noch in keiner Gemeinschaft Mitglied.
portal-signup-title = Eine Gemeinschaft gründen
portal-signup-you = Du
portal-signup-org = Deine Gemeinschaft
portal-signup-currency = Ihre erste Währung
portal-signup-submit = Gemeinschaft anlegen
portal-login-title = Anmelden
portal-login-password = Mit E-Mail und Passwort
portal-login-code = Mit einem Code aus dem Chat
portal-login-code-help = Schreib /link in einem Chatraum deiner Gemeinschaft; der Bot schickt dir einen Einmal-Code.
portal-login-failed = E-Mail und Passwort passen nicht zusammen. Es wurde nichts geändert.
portal-field-display-name = Dein Name
portal-field-email = E-Mail
portal-field-password = Passwort
portal-field-org-name = Name der Gemeinschaft
portal-field-slug = Kurzname für Adressen (a–z, 0–9, -)
portal-field-language = Sprache
portal-field-currency-code = Währungskürzel (z. B. COIN)
portal-field-currency-name = Name der Währung
portal-field-scale = Nachkommastellen (0–6)
portal-field-credit-limit = Kreditrahmen pro Mitglied (leer: keiner)
portal-field-code = Code
portal-field-description = Beschreibung
portal-field-fixed-amount = Betrag pro Mitglied und Zeitraum
portal-field-time-zone = Zeitzone

## Die eigene Seite
portal-me-title = Dein Konto
portal-me-language = Sprache
portal-language-auto = Wie mein Chat oder Browser sagt
portal-me-identities = Deine Chat-Konten
portal-me-no-identities = Noch ist kein Chat-Konto mit dir verknüpft.
portal-me-link = Ein weiteres Chat-Konto verknüpfen
portal-me-link-help = Schreib /link in einem Chatraum mit dem Bot und gib den Code, den er dir schickt, hier ein.
portal-me-linked = Das Chat-Konto ist jetzt mit dir verknüpft.
portal-link = Verknüpfen
portal-unlink = Trennen

## Beitreten
portal-join-title = Einer Gemeinschaft beitreten
portal-join-heading = Du bist zu { $org } eingeladen
portal-join-submit = Beitreten
portal-join-login-first = Melde dich zuerst an oder registriere dich, dann öffne diesen Link noch einmal.

## Übersicht
portal-dash-members = Mitglieder
portal-dash-member-count = { $count ->
    [one] ein Mitglied
   *[other] { $count } Mitglieder
}
portal-dash-circulation = Geld im Umlauf
portal-dash-my-balances = Deine Guthaben
portal-dash-open-proposals = Offene Vorschläge
portal-dash-latest = Neueste Einträge
portal-dash-seal = Versiegelte Geschichte
portal-seal-state = { $seals ->
    [one] Ein Siegel sichert das Kassenbuch.
   *[other] { $seals } Siegel sichern das Kassenbuch.
}
portal-seal-unsealed = { $entries ->
    [0] Jeder Eintrag ist versiegelt.
    [one] Ein Eintrag ist noch nicht versiegelt.
   *[other] { $entries } Einträge sind noch nicht versiegelt.
}
portal-verify-now = Jetzt prüfen
portal-verify-ok = Gerade geprüft: Die Siegel passen zum Kassenbuch und jedes Guthaben geht auf.
portal-verify-bad = Die Prüfung hat eine Abweichung gefunden. Bitte sag dem Betreiber Bescheid.
portal-no-currencies = Noch keine Währung.
portal-no-open-proposals = Kein Vorschlag ist offen.
portal-no-entries = Noch keine Einträge.
portal-chart-payments = Zahlungen pro Tag, letzte 30 Tage
portal-chart-spread = Wie sich { $currency } auf die Mitglieder verteilt (Mitglieder je Guthabenbereich)
portal-tally = ja { $yes }, nein { $no }, Enthaltung { $abstain }, Veto { $block } (von { $voters })

## Tabellen
portal-col-id = Nummer
portal-col-date = Datum
portal-col-kind = Art
portal-col-from = Von
portal-col-to = An
portal-col-amount = Betrag
portal-col-currency = Währung
portal-col-memo = Verwendungszweck
portal-col-account = Konto
portal-col-balance = Guthaben
portal-col-circulation = Im Umlauf
portal-col-code = Kürzel
portal-col-name = Name
portal-col-scale = Nachkommastellen
portal-col-credit-limit = Kreditrahmen
portal-col-period = Zeitraum
portal-col-status = Stand
portal-col-action = Aktion
portal-col-platform = Plattform
portal-col-room = Raum
portal-col-role = Rolle
portal-col-title = Titel
portal-col-tally = Stimmen

## Währungen und Ausgabe
portal-currency-create = Neue Währung
portal-policy-create = Neue regelmäßige Ausgabe
portal-policy-end = Beenden
portal-policy-active = aktiv
portal-policy-ended = beendet
portal-no-policies = Noch keine regelmäßige Ausgabe.
portal-period-weekly = wöchentlich
portal-period-monthly = monatlich

## Mitglieder und Räume
portal-invite = Leute einladen
portal-invite-help = Wer diesen Link hat, kann in den nächsten 7 Tagen als Mitglied beitreten.
portal-invite-create = Einladungslink erstellen
portal-invite-made = Teile diesen Link:
portal-role-owner = Inhaber
portal-role-admin = Admin
portal-role-treasurer = Kassenwart
portal-role-member = Mitglied
portal-members-by-vote = Rollen ändern sich und Mitglieder gehen per Abstimmung: diese Knöpfe stellen den Vorschlag zur Abstimmung.
portal-new-role = Neue Rolle
portal-propose = Vorschlagen
portal-propose-removal = Ausschluss vorschlagen
portal-role-proposal = { $name } wird { $role }
portal-removal-proposal = { $name } aus der Gemeinschaft ausschließen
portal-rooms-connect = Einen Chatraum verbinden
portal-rooms-connect-help = Erstelle einen Code und schreib ihn in den Raum mit dem Bot. Er gilt einmal, 24 Stunden lang.
portal-rooms-code-create = Verbindungscode erstellen
portal-rooms-code-made = Schreib das in den Raum:
portal-rooms-bound = Verbundene Räume
portal-rooms-none = Noch ist kein Raum verbunden.
portal-rooms-unbind = Trennen

## Vorschläge
portal-no-proposals = Noch keine Vorschläge.
portal-proposal-open = Einen Vorschlag machen
portal-proposal-submit = Zur Abstimmung stellen
portal-proposal-by = von { $name }
portal-proposal-closes = Abstimmung endet { $date }
portal-proposal-your-vote = Deine Stimme: { $choice }
portal-status-open = offen
portal-status-passed = angenommen
portal-status-rejected = abgelehnt
portal-status-failed = gescheitert
portal-choice-yes = Ja
portal-choice-no = Nein
portal-choice-abstain = Enthaltung
portal-choice-block = Veto
portal-choice-unknown = Wähle ja, nein, Enthaltung oder Veto.

## Kassenbuch
portal-ledger-balances = Guthaben
portal-ledger-journal = Buchungen
portal-all-accounts = Alle Konten
portal-csv-balances = Guthaben als CSV (Tabelle)
portal-csv-journal = Buchungen als CSV (Tabelle)
portal-kind-payment = Zahlung
portal-kind-issuance = Ausgabe
portal-kind-investment = Investition
portal-kind-refund = Erstattung
portal-kind-purchase = Kauf
portal-kind-cancellation = Stornierung
portal-kind-demurrage = Haltegebühr
portal-account-member = Mitglied
portal-account-issuance = Ausgabe
portal-account-fund = Gemeinschaftskasse
portal-account-project = Projekt

## Export (das Archiv der Gemeinschaft)
portal-export-title = Nimm deine Daten mit
portal-export-about = Lade alles dieser Gemeinschaft als eine Datei herunter (Mitglieder, Kassenbuch, versiegelte Geschichte, Vorschläge, Zusagen, Projekte, Marktplatz und Pinnwand), um es in ein anderes Coinsence zu importieren. Sie enthält den Schlüssel, der eure Geschichte signiert: Bewahre sie so sicher auf wie ein Passwort.
portal-export-button = Archiv herunterladen

## Regeln (Entscheidungen)
portal-nav-governance = Regeln
portal-col-proposal-kind = Art des Vorschlags
portal-col-method = Verfahren
portal-col-quorum = Quorum
portal-col-threshold = Schwelle
portal-rules-default = Alle anderen Arten
portal-rules-period = Abstimmungsdauer
portal-rules-days = { $days ->
    [one] ein Tag
   *[other] { $days } Tage
}
portal-rules-proposers = Wer Vorschläge machen darf
portal-proposers-members = jedes Mitglied
portal-proposers-admins = nur Admins
portal-method-majority = Mehrheit
portal-method-supermajority = qualifizierte Mehrheit
portal-method-consensus = Konsens
portal-method-consent = Konsent
portal-rules-change = Regeln ändern
portal-rules-change-about = Solange die Gemeinschaft weniger als drei Mitglieder hat, gilt eine Änderung sofort; danach öffnet sie einen Vorschlag, über den alle abstimmen.
portal-field-quorum-bp = Quorum in Basispunkten (5000 = 50 %)
portal-field-threshold-bp = Schwelle der qualifizierten Mehrheit in Basispunkten (6667 = zwei Drittel)
portal-field-voting-days = Abstimmungsdauer in Tagen
portal-rules-override = Eine eigene Regel für eine Art von Vorschlag
portal-rules-no-override = keine
portal-rules-proposal = Die Entscheidungsregeln ändern
portal-proposal-kind-issue_for_pledge = Geld für eine Zusage ausgeben
portal-proposal-kind-issue_to_account = Geld an ein Konto ausgeben
portal-proposal-kind-fund_project = Ein Projekt finanzieren
portal-proposal-kind-change_rules = Die Regeln ändern
portal-proposal-kind-change_issuance = Die Ausgabe ändern
portal-proposal-kind-admit_member = Ein Mitglied aufnehmen
portal-proposal-kind-remove_member = Ein Mitglied entfernen
portal-proposal-kind-set_role = Eine Rolle ändern
portal-proposal-kind-free_text = Alles andere (freier Text)
portal-proposal-kind-change_topup_rate = Den Aufladekurs ändern
portal-proposal-kind-list_on_exchange = An der Börse listen
portal-proposal-kind-delist_from_exchange = Von der Börse nehmen

## Zusagen in der Übersicht
portal-dash-pledges = Zugesagte Arbeit
portal-col-pledged = Zugesagt
portal-col-issued = Ausgegeben
portal-col-redeemed = Eingelöst
portal-col-outstanding = Offen
portal-no-pledges = Noch keine Zusagen.

## Filter des Kassenbuchs
portal-all-kinds = Alle Arten
portal-filter-from = Von
portal-filter-until = Bis

## Zusagen, Projekte, Marktplatz, Pinnwand und die eigene Sicht eines Mitglieds
portal-nav-pledges = Zusagen
portal-nav-projects = Projekte
portal-nav-market = Marktplatz
portal-nav-feed = Pinnwand
portal-nav-mine = Meine Seite
portal-col-member = Mitglied
portal-col-work = Arbeit
portal-col-owner = Von
portal-col-raised-goal = Gesammelt / Ziel
portal-col-investors = Beteiligte
portal-col-price = Preis
portal-col-purchases = Gekauft
portal-col-post = Beitrag
portal-col-author = Von
portal-col-comments = Kommentare
portal-pledge-create = Arbeit zusagen
portal-pledge-about = Sag, welche Arbeit du leistest und was sie wert ist; die Gemeinschaft stimmt ab, ob dieser Betrag an dich ausgegeben wird.
portal-pledge-submit = Zusagen und Abstimmung öffnen
portal-pledge-proposed = wartet auf die Abstimmung
portal-pledge-approved = angenommen
portal-pledge-rejected = abgelehnt
portal-project-open = sammelt Geld
portal-project-funded = finanziert
portal-project-refunded = zurückerstattet
portal-project-investors = { $count ->
    [one] eine Beteiligung
   *[other] { $count } Beteiligungen
}
portal-listing-open = offen
portal-listing-closed = geschlossen
portal-listing-purchases = { $count ->
    [one] einmal gekauft
   *[other] { $count }-mal gekauft
}
portal-post-comments = { $count ->
    [one] ein Kommentar
   *[other] { $count } Kommentare
}
portal-no-projects = Noch keine Projekte.
portal-no-listings = Noch nichts auf dem Marktplatz.
portal-no-posts = Noch keine Beiträge.
portal-no-votes = Du hast noch nicht abgestimmt.
portal-mine-votes = Deine Stimmen
portal-mine-history = Dein Verlauf

## Diagramme in der Übersicht
portal-chart-circulation = Geld im Umlauf im Lauf der Zeit ({ $currency })
portal-chart-pledges = Zugesagte Arbeit: ausgegeben und eingelöst ({ $currency })

## Vorschau der Ausgabe
portal-policy-preview = Nächster Zeitraum, ab { $date }: { $issued } an { $members ->
    [one] ein Mitglied
   *[other] { $members } Mitglieder
}; Haltegebühren { $fees } von { $payers ->
    [one] einem Mitglied
   *[other] { $payers } Mitgliedern
}.

## Moderation der Pinnwand
portal-feed-hide = Diesen Beitrag ausblenden

# Auszahlungen und Rückbuchungen (Issue 16): Namen im Kassenbuch
portal-kind-cashout = Auszahlung
portal-kind-clawback = Rückbuchung
portal-account-cashout_escrow = Laufende Auszahlungen
portal-account-clawback = Offene Rückbuchungen

## Die eigene Prüfung des veröffentlichten Verlaufs durch ein Mitglied („Jetzt prüfen“; Issue 20)
portal-history-ok = Deine eigene Prüfung des veröffentlichten Verlaufs: { $heads ->
    [one] ein signierter Baumkopf
   *[other] { $heads } signierte Baumköpfe, jeder setzt den vorigen fort
}; { $entries ->
    [0] keiner deiner Einträge ist
    [one] dein einer Eintrag ist
   *[other] { $entries } deiner Einträge sind
} im neuesten enthalten (Größe { $size }, Wurzel { $root }…). Von deinem eigenen Rechner aus: coinsence audit verify --url <diese Adresse> --org { $org }
portal-history-nothing-sealed = Noch ist nichts versiegelt: Der Verlauf wird beim nächsten Siegel signiert veröffentlicht.
portal-history-bad = Der veröffentlichte Verlauf ist nicht stimmig: Baumkopf { $size } widerspricht dem, was vorher veröffentlicht wurde. Sag es den anderen Mitgliedern und dem Betreiber.
portal-history-failed = Der veröffentlichte Verlauf ließ sich gerade nicht prüfen; versuch es später noch einmal.
