# Meldungen der Kommandozeile `coinsence` für Menschen (keine Logs).

# Vom Test des Katalogs benutzt: die Anzahl wählt die Pluralform.
test-plural = { $count ->
    [one] { $count } Mitglied
   *[other] { $count } Mitglieder
}
