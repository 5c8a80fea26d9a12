# refusals (de)
# Eine Meldung je Ablehnungscode (die Meldungs-ID ist der Code; siehe docs/errors.md). Die
# Argumente heißen wie im Code; Beträge kommen schon für die Sprache formatiert an. Anrede: du.

## Nicht gefunden

org_not_found = Diese Organisation gibt es hier nicht.
user_not_found = Es gibt niemanden mit dieser E-Mail-Adresse.
token_not_found = Diesen Token gibt es nicht.
member_not_found = Dieses Mitglied gibt es hier nicht.
currency_not_found = Diese Währung gibt es hier nicht.
account_not_found = Dieses Konto gibt es hier nicht.
paying_account_not_found = Das zahlende Konto gibt es hier nicht.
receiving_account_not_found = Das empfangende Konto gibt es hier nicht.
issuance_policy_not_found = Diese Ausgaberegel gibt es hier nicht.
proposal_not_found = Diesen Antrag gibt es hier nicht.
pledge_not_found = Diese Zusage gibt es hier nicht.
project_not_found = Dieses Projekt gibt es hier nicht.
investment_not_found = Diese Investition gibt es hier nicht.
listing_not_found = Dieses Inserat gibt es hier nicht.
purchase_not_found = Diesen Kauf gibt es hier nicht.
post_not_found = Diesen Beitrag gibt es hier nicht.
comment_not_found = Diesen Kommentar gibt es hier nicht.
connect_code_not_found = Dieser Verbindungscode ist ungültig. Bitte eine Admin-Person um einen neuen.

## Nicht erlaubt

not_a_member = Du bist kein Mitglied dieser Organisation.
not_admin = Das kann nur eine Admin-Person dieser Organisation.
only_owner_adds_owner = Nur eine Eigentümerin oder ein Eigentümer kann weitere Eigentümer hinzufügen.
invitation_only = Diese Organisation nimmt Mitglieder nur auf Einladung auf; bitte eine Admin-Person, dich aufzunehmen.
mention_limit_reached = Dieser Raum hat in der letzten Stunde schon { $limit } neue Mitglieder per Erwähnung aufgenommen; sie können beitreten, indem sie hier schreiben, oder es später noch einmal versuchen.
not_your_account = Du kannst nur von deinem eigenen Konto zahlen. Es wurde nichts gezahlt.
not_your_history = Du kannst nur den Verlauf deiner eigenen Konten lesen.
issuance_not_from_issuance_account = Geld wird nur vom Ausgabekonto ausgegeben. Es wurde nichts ausgegeben.
receiving_account_closed = Das empfangende Konto gehört jemandem, der kein Mitglied dieser Organisation mehr ist. Es wurde nichts bewegt.
not_project_owner = Nur wer das Projekt verantwortet, kann davon zahlen. Es wurde nichts gezahlt.
not_listing_owner = Nur wer das Inserat erstellt hat, kann es schließen.
rules_change_by_proposal = Ab { $members } Mitgliedern ändern sich die Regeln nur durch einen angenommenen change_rules-Antrag.
proposals_by_admins_only = In dieser Organisation dürfen nur Admins Anträge stellen.
not_in_electorate = Abstimmen darf nur, wer bei Eröffnung des Antrags Mitglied war.

## Widerspricht dem aktuellen Stand

slug_taken = Dieser Kurzname ist schon vergeben.
org_exists_here = Hier gibt es schon eine Organisation { $slug }; importiere eine Kopie unter einem anderen Kurznamen (--slug NEU).
org_already_imported = Diese Organisation wurde hier schon importiert (als { $slug }); importiere eine Kopie unter einem anderen Kurznamen (--slug NEU).
email_taken = Diese E-Mail-Adresse ist schon vergeben.
currency_code_taken = Dieser Währungscode ist schon vergeben.
share_code_taken = Dieser Anteilscode ist schon vergeben.
active_policy_exists = Für diese Währung gibt es schon eine aktive Ausgaberegel.
already_member = Die Person ist schon Mitglied.
no_longer_member = Die Person ist kein Mitglied mehr.
user_gone = Diese Person gibt es nicht mehr.
pledger_left = Das Mitglied, das die Zusage gemacht hat, hat die Organisation verlassen.
receiving_member_left = Das empfangende Mitglied hat die Organisation verlassen.
seller_left = Die verkaufende Person ist kein Mitglied mehr. Es wurde nichts gezahlt.
last_owner = Die letzte Eigentümerin oder der letzte Eigentümer der Organisation kann nicht entfernt oder herabgestuft werden.
schedule_gone = Diese Währung hat keine geplante Ausgabe, die beendet werden könnte.
issuance_policy_ended = Die Ausgaberegel { $policy } ist schon beendet.
voting_closed = Die Abstimmung über Antrag { $proposal } ist geschlossen.
voting_ended = Die Abstimmung über Antrag { $proposal } endete am { $closed_at }.
project_not_raising = Dieses Projekt sammelt kein Geld mehr. Es wurde nichts gezahlt.
project_deadline_passed = Die Frist dieses Projekts ist abgelaufen. Es wurde nichts gezahlt.
project_not_funded = Von einem Projekt kann erst gezahlt werden, wenn es finanziert ist. Es wurde nichts gezahlt.
shares_locked_while_raising = Anteile eines Projekts, das noch Geld sammelt, können erst übertragen werden, wenn es finanziert ist. Es wurde nichts bewegt.
listing_closed = Dieses Inserat ist geschlossen. Es wurde nichts gezahlt.
connect_code_used = Dieser Verbindungscode wurde schon benutzt; bitte eine Admin-Person um einen neuen.
connect_code_expired = Dieser Verbindungscode ist abgelaufen; bitte eine Admin-Person um einen neuen.
room_connected_elsewhere = Dieser Raum ist schon mit einer anderen Gemeinschaft verbunden.

## Falsche Eingabe in einem Feld (das Feld `field` der Antwort nennt das JSON-Feld; der Satz
## nennt es nicht, damit er auch im Chat gut klingt)

text_length = Verwende { $min } bis { $max } Zeichen.
text_too_long = Verwende höchstens { $max } Zeichen.
character_not_allowed_in_line = { $character } ist hier nicht erlaubt; verwende eine Zeile sichtbaren Text ohne Steuer-, Richtungs- oder unsichtbare Zeichen.
character_not_allowed_in_text = { $character } ist hier nicht erlaubt; Zeilenumbrüche und Tabulatoren sind die einzigen Steuerzeichen, die ein Text haben darf.
email_malformed = Das ist keine E-Mail-Adresse.
email_reserved = Diese Adresse ist reserviert; verwende eine Adresse, die E-Mails empfängt.
password_too_short = Verwende mindestens { $min } Zeichen.
slug_malformed = Verwende 3 bis 40 Kleinbuchstaben, Ziffern und Bindestriche, nicht mit einem Bindestrich am Anfang oder Ende.
currency_code_malformed = Ein Währungscode besteht aus 2 bis 8 Großbuchstaben.
idempotency_key_malformed = Verwende 1 bis { $max } sichtbare ASCII-Zeichen.
limit_out_of_range = Verwende { $min } bis { $max }.
amount_malformed = Dieser Betrag passt nicht: Schreib eine positive Zahl wie „10“ oder „10,50“.
amount_not_positive = Dieser Betrag passt nicht: Er muss größer als null sein.
amount_too_many_decimals = Dieser Betrag passt nicht: Diese Währung hat { $places ->
        [one] { $places } Nachkommastelle
       *[other] { $places } Nachkommastellen
    }; der Betrag hat mehr.
amount_too_large = Dieser Betrag passt nicht: Er ist zu groß.
archive_rejected = Dieses Archiv kann nicht importiert werden: { $problem }. Es wurde nichts geändert.
amount_above_limit = Dieser Betrag passt nicht: Verwende höchstens { $max }.
scale_out_of_range = Verwende 0 bis { $max } Nachkommastellen.
rate_malformed = Gib Anteile je Münze an, eine positive Zahl mit bis zu 6 Nachkommastellen.
basis_points_out_of_range = Verwende { $min } bis { $max } Basispunkte.
voting_period_out_of_range = Verwende 60 Sekunden bis 90 Tage.
vote_duration_out_of_range = Die Abstimmung muss mindestens die Abstimmungsdauer der Organisation ({ $min_secs } Sekunden) und höchstens 90 Tage offen bleiben.
duplicate_rule_override = Gib für jede Art von Antrag höchstens eine Regel an.
time_zone_unknown = Verwende den Namen einer IANA-Zeitzone wie „Europe/Berlin“ oder „UTC“.
policy_starts_too_early = Eine Ausgaberegel darf höchstens { $days } Tage in der Vergangenheit beginnen.
policy_starts_too_late = Eine Ausgaberegel darf höchstens { $years } Jahre in der Zukunft beginnen.
fixed_amount_and_top_up = Gib einen festen Betrag oder ein Auffüllziel an, nicht beides.
policy_without_income = Gib einen festen Betrag, ein Auffüllziel oder einen Schwundsatz an.
exactly_one_recipient = Gib genau eines von to_account und to_member an.
recipient_left = Dieses Konto gehört jemandem, der kein Mitglied dieser Organisation mehr ist.
not_to_issuance_account = Gib an ein Mitglied, den Fonds oder ein Projekt aus, nicht an das Ausgabekonto.
project_account_not_payable = Das Konto eines Projekts nimmt Geld nur durch Investitionen in das Projekt an. Es wurde nichts gezahlt.
issuance_account_not_payable = Eine Zahlung an das Ausgabekonto würde das Geld vernichten. Es wurde nichts gezahlt.
share_currency_not_money = Das ist die Anteilswährung eines Projekts; verwende die Währung der Gemeinschaft.
shares_only_by_investing = Anteile entstehen nur durch Investitionen in ihr Projekt.
no_schedule_to_end = Diese Währung hat keine geplante Ausgabe, die beendet werden könnte.
invitee_already_member = Die Person ist schon Mitglied.
project_closes_before_vote = Das Projekt hört auf zu sammeln, bevor diese Abstimmung schließen würde; schlage eine kürzere Abstimmung vor.
deadline_in_past = Die Frist muss in der Zukunft liegen.
fractional_shares = Zum Kurs dieses Projekts ergibt dieser Betrag einen Bruchteil der kleinsten Anteilseinheit; investiere einen runderen Betrag.
project_goal_exceeded = So viel kann das Projekt nicht mehr aufnehmen.
investment_cap_exceeded = Dieses Projekt nimmt höchstens { $cap } je Mitglied an; du hast schon { $invested } investiert.
pledge_only_for_offers = Nur ein Angebot kann durch eine Zusage gedeckt werden.
pledge_not_yours = Du kannst nur Arbeit anbieten, die du selbst zugesagt hast.
pledge_currency_mismatch = Die Zusage ist in einer anderen Währung als das Angebot.
pledge_rejected = Diese Zusage wurde abgelehnt.
only_offers_can_be_bought = Nur Angebote können gekauft werden; beantworte ein Gesuch mit einem Angebot.
own_listing = Du kannst dein eigenes Inserat nicht kaufen.

## Das Admin-Portal
invite_not_found = Dieser Einladungslink gilt nicht (mehr). Bitte eine Admin-Person um einen neuen.
chat_identity_not_found = Dieses Chat-Konto ist nicht mit dir verknüpft.
room_not_bound = Dieser Raum ist nicht mit dieser Organisation verbunden.
form_expired = Dieses Formular ist abgelaufen; es wurde nichts geändert. Lade die Seite neu und versuch es noch einmal.
cross_origin_form = Dieses Formular kam von einer anderen Website; es wurde nichts geändert.
chat_account_in_use = Dieses Chat-Konto ist schon selbst Mitglied in Organisationen und kann deshalb nicht zu diesem Login verschoben werden.
link_code_not_valid = Dieser Code gilt nicht (mehr). Schreib /link im Chat, um einen neuen zu bekommen.

# Billing: Aufladen mit Euro (Issue 16)
not_treasurer = Das können bei den Euro dieser Organisation nur ihre Kassenwarte und Admins.
topup_rate_by_proposal = Ab { $members } Mitgliedern ändert sich der Aufladekurs nur durch einen angenommenen change_topup_rate-Antrag.
topups_off = Aufladen ist hier ausgeschaltet: Es ist kein Zahlungsanbieter eingerichtet.
topups_not_set_up = Diese Organisation hat das Aufladen noch nicht eingerichtet; zuerst legt eine Kassenwartin oder ein Kassenwart Kurs und Grenzen fest.
billing_account_not_ready = Das Zahlungskonto dieser Organisation kann noch keine Zahlungen annehmen; zuerst muss die Einrichtung abgeschlossen werden.
topup_monthly_limit_reached = Du kannst hier höchstens { $max } € im Monat aufladen; diesen Monat bleiben dir noch { $left } €. Es wurde nichts abgebucht.
topup_below_minimum = Eine Aufladung beträgt hier mindestens { $min } €.
topup_above_maximum = Eine Aufladung beträgt hier höchstens { $max } €.
topup_not_whole_coins = Zu diesem Kurs ergibt der Betrag einen Bruchteil der kleinsten Münzeinheit; wähle einen runderen Betrag.
topup_limits_inconsistent = Minimum, Maximum und Monatsmaximum müssen jeweils mindestens so groß sein wie der Wert davor.

## Nachprüfbarer Verlauf (Issue 20)
entry_not_visible = Du bekommst Nachweise nur für deine eigenen Buchungen (Buchung { $transfer } gehört nicht dazu).
entry_not_sealed = Buchung { $transfer } ist noch nicht in diesem Baumkopf; sie wird mit dem nächsten Siegel versiegelt.
tree_head_not_found = Es wurde kein Baumkopf der Größe { $tree_size } veröffentlicht.

## Fehler, die keine Ablehnung einer einzelnen Aktion sind

unauthorized = Dafür musst du angemeldet sein.
idempotency_conflict = Dieser Idempotenzschlüssel wurde schon für eine andere Anfrage benutzt; es wurde nichts geändert.
insufficient_funds = Dafür reicht das Geld nicht. Es wurde nichts gezahlt.
ceiling_exceeded = Damit würde das empfangende Konto sein Limit überschreiten. Es wurde nichts gezahlt.
currency_mismatch = Diese Konten sind in verschiedenen Währungen. Es wurde nichts gezahlt.
same_account = Ein Konto kann nicht an sich selbst zahlen. Es wurde nichts gezahlt.
busy = Gerade ist viel los; es wurde nichts geändert. Bitte versuch es noch einmal.
rate_limited = Zu viele Anfragen; es wurde nichts geändert. Bitte versuch es in { $retry_after_secs } s noch einmal.
unavailable = Der Dienst ist gerade nicht erreichbar; es wurde nichts geändert. Bitte versuch es in { $retry_after_secs } s noch einmal.
internal = Bei uns ist etwas schiefgegangen; es wurde protokolliert.

## Die Börse (Issue 17)
exchange_code_taken = Eine andere Gemeinschaft hat schon eine Währung namens { $currency } an der Börse; dort steht ein Code für genau eine Währung.
currency_not_listed = { $currency } ist nicht an der Börse gelistet.
exchange_pair_with_itself = Eine Währung lässt sich nicht gegen sich selbst tauschen.
currency_not_held = In dieser Gemeinschaft gibt es kein { $currency } zum Verkaufen.
price_malformed = Das Limit muss eine positive Zahl sein, zum Beispiel 0,8.
price_too_precise = Das Limit darf höchstens { $places } Nachkommastellen haben.
exchange_order_not_found = Eine solche Order von dir gibt es nicht.
exchange_order_closed = Order { $order } ist nicht mehr offen.
exchange_order_in_round = Order { $order } steckt in der Runde, die gerade abgerechnet wird; storniere sie, wenn diese Runde vorbei ist.

## Billing: Auszahlungen, Erstattungen und Rückbuchungen (issue 16)
cashout_exceeds_reserve = Für diese Auszahlung reicht die Reserve nicht: nach den laufenden Auszahlungen sind noch { $available } € übrig. Es wurde nichts abgebucht.
cashout_not_whole_cents = Zum Kurs dieser Organisation ergeben diese Coins (nach der Ausstiegsgebühr) keinen glatten Cent-Betrag; nimm einen runderen Betrag.
cashout_not_found = Diese Auszahlung gibt es in dieser Organisation nicht.
cashout_own_approval = Deine eigene Auszahlung muss jemand anderes freigeben: eine andere Kassenwartin, ein anderer Kassenwart oder ein Admin.
cashout_by_proposal = Diese Auszahlung liegt auf oder über der Schwelle der Organisation; darüber entscheidet Vorschlag { $proposal }.
cashout_not_pending = Auszahlung { $cashout } ist schon freigegeben, ausgezahlt, gescheitert oder abgelehnt.
payouts_not_enabled = Das Zahlungskonto dieser Organisation kann noch nicht auszahlen; zuerst muss die Einrichtung abgeschlossen werden.
