-- Exchange rounds (issue 17): two outbox events, an order filled in a round and an order that
-- did not fill (or only in part) with the reason. The check is widened by adding to whatever
-- list it holds now, so other areas' new values stay allowed.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT conrelid::regclass AS tab, conname, pg_get_constraintdef(oid) AS def
        FROM pg_constraint
        WHERE conname = 'outbox_kind_check' AND connamespace = current_schema()::regnamespace
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.tab, c.conname,
                       replace(c.def, 'ARRAY[',
                               'ARRAY[''exchange_filled''::text, ''exchange_unfilled''::text, '));
    END LOOP;
END $$;
