-- The Merkle tree over entries sealed before it existed is built in Rust now, with the seal's own
-- leaf hash (api/src/domain/ledger/tree_heads.rs, `backfill`, run after the tenant migrations):
-- one leaf hash, not a second one in SQL to keep equal to it. 0012's functions go.
DROP FUNCTION IF EXISTS merkle_backfill();
DROP FUNCTION IF EXISTS journal_leaf_hash(bigint, bigint, bigint, bigint, bigint, text, bigint, timestamptz, text, text, bytea);
