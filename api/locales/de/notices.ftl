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

# Warum eine Abstimmung einen Antrag abgelehnt hat (sein `reason_code`; Issue 13).
reason-quorum_not_met = zu wenige Mitglieder haben abgestimmt, um das Quorum zu erreichen
reason-not_enough_support = zu wenige Mitglieder haben mit Ja gestimmt
reason-blocked = ein Mitglied hat ihn blockiert
reason-objected = ein Mitglied hat Einspruch erhoben
