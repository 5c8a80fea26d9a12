-- Each org's Ed25519 key for signing its journal's tree heads (api/src/domain/ledger/tree_heads.rs),
-- made at the org's first seal. The private half lives here, in the control schema, and not in the
-- org's own schema: a copy of the org's tables alone cannot sign a rewritten history. An org
-- export carries the key (the org leaves with its history key; members pinned it).
CREATE TABLE control.org_signing_keys (
    tenant_id  bigint PRIMARY KEY REFERENCES control.tenants (id) ON DELETE CASCADE,
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    secret_key bytea NOT NULL CHECK (length(secret_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
