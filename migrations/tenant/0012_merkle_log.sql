-- The journal as an RFC 9162 Merkle log (api/src/domain/ledger/merkle.rs and tree_heads.rs):
-- each sealed entry is a leaf, in id order; the hashes of complete subtrees are stored, keyed by
-- (level, idx) covering leaves [idx * 2^level, (idx + 1) * 2^level), so a proof over a million
-- entries reads a few dozen rows instead of rebuilding the tree. Each seal publishes a signed
-- tree head (size, root, time). The hash chain of journal_seals goes on beside it unchanged.
-- Applied with search_path = org_<id> (or a spare schema).

CREATE TABLE merkle_leaves (
    leaf_index  bigint PRIMARY KEY CHECK (leaf_index >= 0),
    transfer_id bigint NOT NULL UNIQUE
);

CREATE TABLE merkle_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    idx   bigint NOT NULL CHECK (idx >= 0),
    hash  bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed with the org's Ed25519 key (control.org_signing_keys) over
-- 'coinsence-tree-head-v1\n' || tree_size (8 bytes, big-endian) || signed_at (microseconds since
-- the Unix epoch, 8 bytes, big-endian) || root.
CREATE TABLE tree_heads (
    tree_size bigint PRIMARY KEY CHECK (tree_size > 0),
    root      bytea NOT NULL CHECK (length(root) = 32),
    signed_at timestamptz NOT NULL,
    signature bytea NOT NULL CHECK (length(signature) = 64),
    seal_seq  bigint NOT NULL UNIQUE REFERENCES journal_seals (seq)
);

CREATE TRIGGER merkle_leaves_append_only BEFORE UPDATE OR DELETE ON merkle_leaves
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER merkle_nodes_append_only BEFORE UPDATE OR DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER tree_heads_append_only BEFORE UPDATE OR DELETE ON tree_heads
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();

-- The leaf hash of an entry: SHA-256(0x00 || its canonical line), the line the hash chain uses
-- (api/src/domain/ledger/seal.rs); a test checks it equals the Rust one.
CREATE FUNCTION journal_leaf_hash(
    id transfers.id%TYPE, currency_id transfers.currency_id%TYPE,
    from_account transfers.from_account%TYPE, to_account transfers.to_account%TYPE,
    amount transfers.amount%TYPE, kind transfers.kind%TYPE,
    actor_user_id transfers.actor_user_id%TYPE, created_at transfers.created_at%TYPE,
    memo transfers.memo%TYPE, idempotency_key transfers.idempotency_key%TYPE,
    fingerprint transfers.fingerprint%TYPE
) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT sha256('\x00'::bytea || convert_to(concat_ws(E'\t',
        id, currency_id, from_account, to_account, amount, kind,
        coalesce(actor_user_id::text, ''),
        (extract(epoch FROM created_at) * 1000000)::bigint,
        encode(sha256(convert_to(memo, 'UTF8')), 'hex'),
        encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex'),
        encode(fingerprint, 'hex')) || E'\n', 'UTF8'))
$$;

-- Builds the tree over the entries the existing seals cover (an empty tree stays empty): leaves,
-- then each level from the one below while pairs remain. The next seal signs its first head.
CREATE FUNCTION merkle_backfill() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lvl smallint := 0;
    made bigint;
BEGIN
    -- A new org has nothing sealed. (On Citus the leaf insert below fails on the worker with a
    -- syntax error; a new org never reaches it. Backfilling an org with seals on Citus is open.)
    IF NOT EXISTS (SELECT 1 FROM journal_seals) THEN
        RETURN;
    END IF;
    INSERT INTO merkle_leaves (leaf_index, transfer_id)
        SELECT row_number() OVER (ORDER BY id) - 1, id FROM transfers
        WHERE id <= coalesce((SELECT max(last_transfer_id) FROM journal_seals), 0);
    INSERT INTO merkle_nodes (level, idx, hash)
        SELECT 0, l.leaf_index,
               journal_leaf_hash(t.id, t.currency_id, t.from_account, t.to_account, t.amount,
                                 t.kind, t.actor_user_id, t.created_at, t.memo,
                                 t.idempotency_key, t.fingerprint)
        FROM merkle_leaves l JOIN transfers t ON t.id = l.transfer_id;
    LOOP
        INSERT INTO merkle_nodes (level, idx, hash)
            SELECT lvl + 1, a.idx / 2, sha256('\x01'::bytea || a.hash || b.hash)
            FROM merkle_nodes a JOIN merkle_nodes b ON b.level = lvl AND b.idx = a.idx + 1
            WHERE a.level = lvl AND a.idx % 2 = 0;
        GET DIAGNOSTICS made = ROW_COUNT;
        EXIT WHEN made = 0;
        lvl := lvl + 1;
    END LOOP;
END
$$;

SELECT merkle_backfill();
