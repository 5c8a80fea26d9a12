-- The hosted admin portal (tenant-admin/): its browser sessions and the org invite links it
-- hands out.

-- A portal session: the cookie holds a random secret, the table only its SHA-256, so the table
-- alone lets nobody in. A login always makes a new row (a new id), and logout revokes it at once.
CREATE TABLE control.portal_sessions (
    id           bigserial PRIMARY KEY,
    secret_hash  bytea NOT NULL CONSTRAINT portal_sessions_secret_key UNIQUE,
    user_id      bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX portal_sessions_user_live ON control.portal_sessions (user_id) WHERE revoked_at IS NULL;

-- An invite link to join one org as a member, whether or not the org is open: anyone who has
-- it may join until it expires (it is shared, like a group chat's invite link). Only its hash is
-- kept.
CREATE TABLE control.org_invites (
    id          bigserial PRIMARY KEY,
    code_hash   bytea NOT NULL CONSTRAINT org_invites_hash_key UNIQUE,
    tenant_id   bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    created_by  bigint REFERENCES control.users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
