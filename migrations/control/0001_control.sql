-- The control plane: who exists, which orgs exist, who belongs where, and how they log in.
-- Everything belonging to one community lives in its own schema org_<id> instead.

CREATE TABLE control.tenants (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL CONSTRAINT tenants_slug_key UNIQUE
                CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- provisioning until the org schema is migrated; only active orgs serve requests
    status      text NOT NULL DEFAULT 'provisioning'
                CHECK (status IN ('provisioning', 'active', 'suspended')),
    -- open orgs let anyone with an account join
    open        boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control.users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL CONSTRAINT users_email_key UNIQUE CHECK (email = lower(email)),
    -- argon2 PHC string
    password_hash text NOT NULL,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control.memberships (
    tenant_id   bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'treasurer', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON control.memberships (user_id);

-- Bearer tokens; only their SHA-256 is stored, so a leaked table leaks no token.
CREATE TABLE control.api_tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON control.api_tokens (user_id);
