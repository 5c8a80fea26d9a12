-- The Merkle tree over entries sealed before it existed is built in Rust now, with the seal's own
-- leaf hash (api/src/domain/ledger/tree_heads.rs, `backfill`, run after the tenant migrations):
-- one leaf hash, not a second one in SQL to keep equal to it. 0012's functions go.
DROP FUNCTION IF EXISTS merkle_backfill();
DROP FUNCTION IF EXISTS journal_leaf_hash(bigint, bigint, bigint, bigint, bigint, text, bigint, timestamptz, text, text, bytea);

-- Witnesses (issue 20): the worker posts signed tree heads to the org's bound rooms through the
-- outbox. The kind check is widened by adding to whatever list it holds now, so another area's new
-- values stay allowed.
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
                       replace(c.def, 'ARRAY[', 'ARRAY[''tree_head''::text, '));
    END LOOP;
END $$;
