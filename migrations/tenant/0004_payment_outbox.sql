-- "Payment received" events are now written by the journal's own write (one statement with
-- the entries and the balances), not by a trigger: a PL/pgSQL statement trigger over a
-- transition table cost a third of the hot path's database time.
DROP TRIGGER transfers_outbox ON transfers;
DROP FUNCTION outbox_payments();
