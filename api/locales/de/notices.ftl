# notices (de): was die Bots Räumen (in der Sprache der Gemeinschaft) und Personen per
# Direktnachricht (in ihrer eigenen) mitteilen, wenn etwas geschehen ist. Anrede: du.

notice-someone = Jemand
notice-payment-received = { $from } hat dir { $amount } in { $org } gezahlt. Tippe { $balance } in einem ihrer Räume (oder hier), um deinen Kontostand zu sehen.
notice-payment-received-for = { $from } hat dir { $amount } für { $memo } in { $org } gezahlt. Tippe { $balance } in einem ihrer Räume (oder hier), um deinen Kontostand zu sehen.
notice-proposal-opened = Neuer Antrag in { $org }: { $proposal }.
notice-vote-reminder = Antrag { $proposal } in { $org } endet bald, und du hast noch nicht abgestimmt.
notice-proposal-closed = Antrag { $proposal } { $status ->
    [passed] wurde angenommen.
    [rejected] wurde abgelehnt.
    [failed] wurde angenommen, konnte aber nicht ausgeführt werden ({ $reason }).
   *[other] ist beendet ({ $status }).
}
notice-pledge-approved = Deine Zusage „{ $description }“ wurde in { $org } angenommen: { $amount } wurde an dich ausgegeben.
notice-project-funded = Projekt #{ $project } { $title } hat sein Ziel erreicht: { $raised } kamen zusammen.
notice-project-refunded = Projekt #{ $project } { $title } hat sein Ziel verfehlt; alle, die investiert haben, bekamen ihr Geld zurück.
notice-listing-bought = Jemand hat dein Angebot { $listing } für { $price } in { $org } gekauft.
notice-post = { $author } hat in { $org } veröffentlicht: { $body }
notice-topup-paid = Deine Aufladung über { $euros } in { $org } ist bezahlt: { $amount } wurde an dich ausgegeben.
notice-topup-failed = Deine Aufladung über { $euros } in { $org } ist fehlgeschlagen; deine Bank hat sie nicht bezahlt, und es wurde nichts ausgegeben.
# Börsenrunden (Issue 17): was der Auftrag eines Mitglieds in einer Runde bewirkt hat
notice-exchange-filled = Dein Tauschauftrag #{ $order } in { $org } ist ausgeführt: Du hast { $sold } für { $bought } verkauft, zu { $price } { $buy } je { $sell }.
notice-exchange-unfilled = Dein Tauschauftrag #{ $order } in { $org } { $why ->
    [rationed] ist nur zum Teil ausgeführt: Zu { $price } { $buy } je { $sell } wurde mehr { $sell } angeboten als gesucht, deshalb haben alle zu diesem Preis ihren Anteil bekommen.
    [odd_lot] ist so weit ausgeführt, wie es ganze Lose zu { $price } { $buy } je { $sell } erlauben.
    [limit_not_reached] ist nicht ausgeführt: Die Runde schloss bei { $price } { $buy } je { $sell }, unter deinem Limit { $limit }.
    [trustline] wurde nicht gehandelt: { $org } hält schon so viel { $buy }, wie seine Kreditlinie erlaubt.
    [outflow_limit] wurde nicht gehandelt: In dieser Runde hätte mehr { $sell } { $org } verlassen, als erlaubt ist.
   *[other] ist nicht ausgeführt: Niemand hat { $buy } zu einem Preis angeboten, den du annimmst.
} Du hast in dieser Runde { $sold } für { $bought } verkauft. { $status ->
    [returned] Der Rest, { $rest }, ist wieder auf deinem Konto.
   *[other] Der Rest, { $rest }, bleibt für die nächste Runde im Orderbuch.
}


# Zeugen (Issue 20): Größe und Anfang der Wurzel; `coinsence audit verify --witness` liest die
# letzte Zahl vor der Hex-Wurzel, also bleibt die Größe direkt davor.
notice-tree-head = Signierter Verlauf von { $org }: Baumkopf aus { $size } Einträgen, Wurzel { $root }. Bewahr diese Zeile auf: { $command } prüft den Verlauf damit.


# Warum eine Abstimmung einen Antrag abgelehnt hat (sein `reason_code`; Issue 13).
reason-quorum_not_met = zu wenige Mitglieder haben abgestimmt, um das Quorum zu erreichen
reason-not_enough_support = zu wenige Mitglieder haben mit Ja gestimmt
reason-blocked = ein Mitglied hat ihn blockiert
reason-objected = ein Mitglied hat Einspruch erhoben

# Der Titel des Vorschlags, den eine große Auszahlung eröffnet (Issue 16), in der Sprache der Organisation.
proposal-title-cashout = Auszahlung von { $coins } { $currency } ({ $euros } €)
