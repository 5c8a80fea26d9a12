-- Orgs that arrived by `coinsence org import`, and where each came from: the origin is the org's
-- id and creation time in the instance it was first created in (carried along by later exports),
-- so importing the same org twice is refused unless the operator asks for a copy under a new
-- slug. Not unique for that reason.
CREATE TABLE control.org_imports (
    tenant_id      bigint PRIMARY KEY REFERENCES control.tenants (id) ON DELETE CASCADE,
    origin         text NOT NULL CHECK (length(origin) BETWEEN 1 AND 200),
    -- SHA-256 of the archive's manifest line, which holds every part's checksum
    manifest_sha256 bytea NOT NULL CHECK (length(manifest_sha256) = 32),
    imported_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX org_imports_origin ON control.org_imports (origin);
