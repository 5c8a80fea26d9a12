# chat (de): alles, was die Chat-Bots einer Person antworten (Antworten, Hilfe, Schreibweisen,
# Fehler). Benachrichtigungen stehen in notices.ftl, Ablehnungen der Domäne in refusals.ftl.
# Anrede: du.

## Hilfe und Grammatik. Befehlswörter und yes|no|abstain|block bleiben, wie sie getippt werden;
## statt "for" darf man "für" schreiben.

chat-usage-pay = /pay @wer 10 [WÄHRUNG] [für Notiz]
chat-summary-pay = jemanden von deinem Konto bezahlen
chat-usage-balance = /balance
chat-summary-balance = deine Kontostände
chat-usage-history = /history
chat-summary-history = deine letzten Zahlungen
chat-usage-pledge = /pledge 10 [WÄHRUNG] für die Arbeit
chat-summary-pledge = Arbeit zusagen; die Gemeinschaft stimmt ab, ob ihr Wert an dich ausgegeben wird
chat-usage-propose = /propose was entschieden werden soll
chat-summary-propose = einen Antrag stellen, über den alle abstimmen
chat-usage-vote = /vote <Nr> yes|no|abstain|block
chat-summary-vote = über einen Antrag abstimmen (bis zum Ende änderbar)
chat-usage-proposals = /proposals
chat-summary-proposals = offene Anträge
chat-usage-post = /post deine Nachricht
chat-summary-post = im Feed der Gemeinschaft veröffentlichen
chat-usage-offer = /offer 5 [WÄHRUNG] für dein Angebot
chat-summary-offer = etwas auf dem Marktplatz anbieten
chat-usage-need = /need 5 [WÄHRUNG] für das, was du brauchst
chat-summary-need = auf dem Marktplatz nach etwas fragen
chat-usage-market = /market
chat-summary-market = offene Angebote und Gesuche
chat-usage-buy = /buy <Nr des Angebots>
chat-summary-buy = ein Angebot vom Marktplatz kaufen
chat-usage-invest = /invest <Nr des Projekts> 10
chat-summary-invest = in ein Projekt investieren und Anteile erhalten
chat-usage-connect = /connect <Code>
chat-summary-connect = diesen Raum mit einer Gemeinschaft verbinden (den Code hat ein Admin)
chat-usage-link = /link
chat-summary-link = ein einmaliger Login fürs Web, privat an dich geschickt
chat-usage-language = /language [de|en|auto]
chat-summary-language = in welcher Sprache ich dir antworte
chat-usage-help = /help [Befehl]
chat-summary-help = diese Liste, oder wie ein Befehl geht

chat-help = Befehle (beginne sie mit / oder !):
chat-help-entry = { $usage } — { $summary }
chat-help-one = { $usage }: { $summary }.
chat-help-unknown = Den Befehl „{ $command }“ kenne ich nicht. Diese kenne ich:

## Eine Zeile, die wie ein Befehl aussah, aber nicht zu lesen war: was fehlt, dann die Schreibweise.

chat-parse-mistake = { $problem } Schreib es so: { $usage }
chat-parse-no-arguments = Nach { $command } kommt nichts mehr.
chat-parse-pay-whom = Sag, wen du bezahlst, mit einer Erwähnung wie { $example }.
chat-parse-pay-how-much = Sag, wie viel, zum Beispiel 10 oder 2,50.
chat-parse-pay-whom-and-how-much = Sag, wen du bezahlst und wie viel.
chat-parse-memo-place = Schreib die Notiz nach „für“ oder in Anführungszeichen.
chat-parse-amount-first = Fang mit dem Betrag an, zum Beispiel 10.
chat-parse-pledge-what = Schreib die Arbeit, die du zusagst, nach „für“.
chat-parse-offer-what = Schreib nach „für“, was du anbietest.
chat-parse-need-what = Schreib nach „für“, was du brauchst.
chat-parse-propose-what = Sag, was entschieden werden soll.
chat-parse-post-what = Sag, was du veröffentlichen willst.
chat-parse-vote-both = Sag die Nummer des Antrags und yes, no, abstain oder block.
chat-parse-vote-number = Sag die Nummer des Antrags, zum Beispiel 3.
chat-parse-vote-choice = Stimme mit yes, no, abstain oder block.
chat-parse-buy-number = Sag die Nummer des Angebots, zum Beispiel 4.
chat-parse-invest-project = Sag die Nummer des Projekts, zum Beispiel 2.
chat-parse-invest-how-much = Sag, wie viel, zum Beispiel 10.
chat-parse-invest-both = Sag die Nummer des Projekts und wie viel.
chat-parse-connect-code = Tippe den Code, den dir ein Admin gegeben hat.
chat-parse-connect-not-a-code = Das ist kein Verbindungscode.
chat-parse-language = Sag de oder en, oder auto, damit deine App entscheidet.

## Beträge, wie sie getippt werden

chat-amount-unreadable = „{ $amount }“ kann ich nicht als Betrag lesen; schreib ihn wie 10, 2,50 oder 1.234,50. Es wurde nichts geändert.
chat-amount-decimals = { $places ->
    [0] Diese Währung hat keine Nachkommastellen: „{ $amount }“ passt nicht. Es wurde nichts geändert.
    [one] Diese Währung hat eine Nachkommastelle: „{ $amount }“ passt nicht. Es wurde nichts geändert.
   *[other] Diese Währung hat { $places } Nachkommastellen: „{ $amount }“ passt nicht. Es wurde nichts geändert.
}
chat-amount-too-large = „{ $amount }“ ist zu groß. Es wurde nichts geändert.

## Räume, Gemeinschaften und Sprachen

chat-not-connected = Dieser Raum ist noch mit keiner Gemeinschaft verbunden. Ein Admin bekommt einen Code im Portal oder mit { $command } und tippt hier { $connect }.
chat-several-orgs = Du bist Mitglied in mehreren Gemeinschaften; nutze einen Raum der Gemeinschaft, die du meinst.
chat-connect-in-room = Tippe { $connect } in dem Raum, den du verbinden willst, nicht in einer Direktnachricht.
chat-connect-code-invalid = Dieser Verbindungscode gilt nicht. Frag einen Admin nach einem neuen.
chat-connected = Dieser Raum ist jetzt mit { $org } verbunden. Tippe { $help }, um zu sehen, was du tun kannst.

chat-language-name = { $lang ->
    [de] Deutsch
   *[en] Englisch (English)
}
chat-language-current = Ich antworte dir auf { $language }, { $why ->
    [own] wie du es gewählt hast.
    [platform] wie deine App eingestellt ist.
   *[org] in der Sprache der Gemeinschaft.
}
chat-language-how = Wähle eine andere mit { $set }; mit { $auto } entscheiden wieder deine App oder die Gemeinschaft.
chat-language-set = Ab jetzt antworte ich dir auf { $language }.
chat-language-auto = Du hast keine eigene Sprache mehr gewählt; deine App oder die Gemeinschaft entscheidet. Im Moment ist das { $language }.

## Geld

chat-no-currency = { $org } hat noch keine Währung; zuerst legt ein Admin eine an.
chat-unknown-currency = In { $org } gibt es keine Währung { $currency }; nimm { $count ->
    [one] { $known }
   *[other] eine von { $known }
}. Es wurde nichts geändert.
chat-pay-yourself = Du kannst dich nicht selbst bezahlen.
chat-payee-not-member = { $payee } ist kein Mitglied von { $org } und kann hier nicht bezahlt werden. Es wurde nichts gezahlt.
chat-pay-not-enough = Du hast { $balance }, nicht genug, um { $amount } zu zahlen. Es wurde nichts gezahlt.
chat-not-enough-money = Dafür hast du nicht genug Geld. Es wurde nichts gezahlt.
chat-paid = { $amount } an { $payee } gezahlt.
chat-paid-for = { $amount } an { $payee } gezahlt für { $memo }.
chat-payee-account-opened = { $payee } hatte noch kein Konto in { $org }: Es wurde eines eröffnet, und { $payee } erfährt es per Direktnachricht.
chat-no-account = Du hast noch kein Konto in { $org }.
chat-balance = { $name }, dein Kontostand in { $org }:
chat-history = Deine letzten Zahlungen:
chat-history-empty = Noch keine Zahlungen.
chat-history-entry = { $date } { $direction ->
    [out] −
   *[in] +
} { $amount } ({ $kind ->
    [payment] Zahlung
    [issuance] Ausgabe
    [investment] Investition
    [refund] Rückerstattung
    [purchase] Kauf
    [cancellation] Stornierung
    [demurrage] Haltegebühr
   *[other] { $kind }
})
chat-history-entry-memo = { $date } { $direction ->
    [out] −
   *[in] +
} { $amount } ({ $kind ->
    [payment] Zahlung
    [issuance] Ausgabe
    [investment] Investition
    [refund] Rückerstattung
    [purchase] Kauf
    [cancellation] Stornierung
    [demurrage] Haltegebühr
   *[other] { $kind }
}) { $memo }

## Zusagen, Anträge und Abstimmungen

chat-pledged = Zusage #{ $pledge }: { $amount } für { $work }. Antrag #{ $proposal } bittet { $org }, den Betrag an dich auszugeben; stimm darüber ab.
chat-proposal-opened = Antrag { $proposal } ist offen bis { $closes }.
chat-proposals = Offene Anträge:
chat-proposals-entry = { $proposal } — { $tally }
chat-proposals-none = Es sind keine Anträge offen. Stell einen mit { $propose }.
chat-proposals-vote-with = Abstimmen mit { $vote }
chat-voted = { $choice ->
    [yes] Du hast bei { $proposal } mit Ja gestimmt
    [no] Du hast bei { $proposal } mit Nein gestimmt
    [abstain] Du hast dich bei { $proposal } enthalten
   *[block] Du hast bei { $proposal } ein Veto eingelegt
}. { $tally }.
chat-tally-votes = ja { $yes }, nein { $no }, Enthaltung { $abstain }, Veto { $block } von { $voters } Stimmberechtigten
chat-tally-open = { $votes }; offen bis { $closes }
chat-tally-passed = { $votes }; angenommen
chat-tally-rejected = { $votes }; abgelehnt
chat-tally-failed = { $votes }; angenommen, konnte aber nicht ausgeführt werden: { $reason }
chat-unknown-reason = unbekannter Grund
# Unter einem Antrag: danach folgt der Befehl zum Abstimmen.
chat-vote-prompt = Abstimmen:
# Beschriftung eines Abstimmungsknopfs.
chat-choice = { $choice ->
    [yes] ja
    [no] nein
    [abstain] enthalten
   *[block] Veto
}

## Feed und Marktplatz

chat-posted = Im Feed von { $org } veröffentlicht (Beitrag #{ $post }).
chat-listed-offer = Angebot { $listing } für { $price } eingestellt. Andere können es mit { $buy } kaufen.
chat-listed-need = Gesuch { $listing } für { $price } eingestellt. Wer helfen kann, antwortet mit einem { $offer }.
chat-market = Auf dem Marktplatz:
chat-market-entry = { $listing } ({ $kind ->
    [offer] Angebot
   *[need] Gesuch
} von { $owner }) { $price }
chat-market-empty = Der Marktplatz ist leer. Stell etwas ein mit { $offer } oder { $need }.
chat-bought = Du hast { $listing } von { $seller } für { $price } gekauft.
chat-invested = Du hast { $amount } in Projekt #{ $project } investiert und { $shares } erhalten.

## Login im Web

chat-login-link = Dein einmaliger Login, 15 Minuten gültig:
chat-login-exchange = Tausch ihn gegen ein Token mit { $command }

## Was die Adapter ergänzen

chat-sent-direct = Ich habe dir eine Direktnachricht geschickt.
chat-sent-private = Ich habe dir eine private Nachricht geschickt.
chat-direct-failed = Ich konnte dir keine Direktnachricht schicken; erlaube Direktnachrichten von Mitgliedern dieses Servers, oder frag mich in einer.
chat-private-failed = Ich konnte dir keine private Nachricht schicken; bitte frag noch einmal.
chat-private-start = Ich kann dir noch nicht privat schreiben: Öffne einen Chat mit @{ $bot }, drück auf Start und frag dann noch einmal.
chat-unknown-username = Ich weiß noch nicht, wer @{ $name } ist. Antworte mit /pay auf eine Nachricht dieser Person, oder bitte sie, zuerst hier zu schreiben. Es wurde nichts gezahlt.
chat-direct-open-failed = Ich konnte keine Direktnachricht mit dir öffnen; schreib mir zuerst eine und frag dort.

## The way to the first payment (issue 14): joining grant, short names.
chat-welcome-grant = Willkommen bei { $org }! Du hast { $amount } zum Start bekommen.
chat-help-grant = So kommen Neue an Geld: Wer { $org } beitritt, bekommt einmalig { $amount }.
chat-help-no-grant = So kommen Neue an Geld: Frag einen Admin von { $org }.
chat-nobody-called = Hier heißt niemand { $name }. Es wurde nichts gezahlt.
chat-which-one = Wen meinst du mit { $name }: { $choices }? Schreib die volle ID. Es wurde nichts gezahlt.

# Chat adapters (away): commands that arrived while a bot was away, its first private message
# to someone, and where to vote on Matrix.
chat-away-send-again = Ich war nicht da, als du das geschickt hast, und habe nichts getan; bitte schick es noch einmal.
chat-first-direct = { $name }: Ich habe dir eine private Nachricht geschickt. Quittungen bekommst du ab jetzt dort; schau in deine Direktnachrichten.
chat-vote-on-announcement = Um per Klick abzustimmen, reagiere auf die Ankündigung des Vorschlags: { $link }
chat-vote-announcement-follows = Um per Klick abzustimmen, reagiere auf die Ankündigung des Vorschlags; sie folgt hier gleich.

# Aufladen mit Euro (Issue 16)
chat-usage-topup = /topup 20
chat-summary-topup = Münzen mit Euro kaufen; den Zahlungslink bekommst du privat
chat-parse-topup = Sag, wie viele Euro, zum Beispiel /topup 20.
chat-topup-link = Bezahle hier { $euros }, um { $coins } zu bekommen (der Link ist nur für dich):

## Die Börse (Issue 17)
chat-usage-exchange = /exchange 10 COIN für BIKE zu 0,8
chat-summary-exchange = eine Währung in der nächsten Börsenrunde gegen eine andere anbieten
chat-usage-orders = /orders
chat-summary-orders = deine Orders an der Börse
chat-usage-cancel = /cancel <Nr der Order>
chat-summary-cancel = eine Order stornieren und zurückbekommen, was sie hält
chat-usage-quote = /quote COIN BIKE
chat-summary-quote = der Preis, zu dem die Börsenrunde jetzt abschließen würde
chat-parse-exchange = Schreib es so: /exchange 10 COIN für BIKE zu 0,8 (10 COIN für mindestens 0,8 BIKE pro Stück verkaufen).
chat-parse-cancel-number = Sag die Nummer der Order, zum Beispiel /cancel 4.
chat-parse-quote-pair = Nenn die beiden Währungen, zum Beispiel /quote COIN BIKE.
chat-order-placed = Order #{ $order }: { $amount } für mindestens { $limit } { $buy } pro Stück, hinterlegt bis zur nächsten Runde. Stornieren kannst du sie mit /cancel { $order }.
chat-orders = Deine Orders an der Börse:
chat-orders-entry = #{ $order }: { $amount } für { $buy } zu { $limit } ({ $status ->
    [open] offen
    [filled] ausgeführt
    [cancelled] storniert
   *[returned] zurückgegeben
}), bisher bekommen: { $bought }
chat-orders-empty = Du hast keine Orders an der Börse. Gib eine auf mit /exchange 10 COIN für BIKE zu 0,8.
chat-order-cancelled = Order #{ $order } ist storniert; was sie von { $amount } noch hielt, ist wieder auf deinem Konto.
chat-quote = { $base }/{ $quote }: Die Runde würde jetzt bei { $price } { $quote } pro { $base } abschließen, mit { $volume } Umsatz (Überhang { $imbalance }).
chat-quote-none = { $base }/{ $quote }: In dieser Runde würde noch nichts gehandelt.

# /verify (issue 20): the member's check of the published history.
chat-usage-verify = /verify
chat-summary-verify = prüfen, dass der veröffentlichte Verlauf deine Zahlungen enthält und nie umgeschrieben wurde
chat-verify-ok = Der veröffentlichte Verlauf von { $org } stimmt: { $heads } signierte Baumköpfe, jeder setzt den vorigen fort, und { $entries ->
    [one] dein { $entries } Eintrag ist
   *[other] alle { $entries } deiner Einträge sind
} im neuesten enthalten (Größe { $size }, Wurzel { $root }). Prüf es selbst auf deinem Rechner: { $command }
chat-verify-nothing-sealed = Von { $org } ist noch nichts versiegelt; der Verlauf wird mit dem nächsten Siegel veröffentlicht.
chat-verify-bad = Der veröffentlichte Verlauf von { $org } stimmt nicht: Baumkopf { $size } widerspricht dem, was veröffentlicht wurde. Sag es den anderen Mitgliedern und dem Betreiber.
chat-verify-failed = Ich konnte den Verlauf von { $org } gerade nicht prüfen; bitte versuch es später noch einmal.

# Auszahlungen (Issue 16)
chat-usage-cashout = /cashout 30
chat-summary-cashout = für Kassenwarte: Coins auf das Bankkonto der Organisation auszahlen (eine andere Kassenwartin, ein anderer Kassenwart oder ein Admin gibt mit /auszahlen freigeben NUMMER frei)
chat-parse-cashout = Sag, wie viele Coins, etwa /auszahlen 30, oder gib eine Auszahlung mit /auszahlen freigeben 12 frei.
chat-cashout-asked = Auszahlung #{ $cashout } über { $coins } ({ $euros }) wartet auf eine andere Kassenwartin, einen anderen Kassenwart oder einen Admin: /auszahlen freigeben { $cashout }
chat-cashout-proposed = Auszahlung #{ $cashout } über { $coins } ({ $euros }) liegt auf oder über der Schwelle der Organisation: darüber entscheidet Vorschlag { $proposal }.
chat-cashout-approved = Auszahlung #{ $cashout } ist freigegeben: { $euros } sind auf dem Weg zum Bankkonto der Organisation.
