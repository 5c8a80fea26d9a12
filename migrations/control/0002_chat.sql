-- Chat: who people are on each chat platform, which rooms speak for which org, and the one-time
-- codes that bind a room (connect codes) or log a chat member in elsewhere (login links).

-- A person who arrives from chat has no password: they log in with a one-time link (/link).
ALTER TABLE control.users ALTER COLUMN password_hash DROP NOT NULL;

-- One person on one platform. The platform's own user id (a Matrix id, a Discord snowflake, a
-- Telegram user id, a console name) is stable; the display name is whatever they were called
-- when last seen. `dm_room_id` remembers the direct-message room the bot opened with them.
CREATE TABLE control.chat_identities (
    platform          text NOT NULL CHECK (platform IN ('matrix', 'discord', 'telegram', 'console')),
    platform_user_id  text NOT NULL CHECK (length(platform_user_id) BETWEEN 1 AND 255),
    user_id           bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    dm_room_id        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, platform_user_id)
);
CREATE INDEX chat_identities_user ON control.chat_identities (user_id);

-- A room (a Matrix room, a Discord channel, a Telegram group) bound to one org by /connect.
CREATE TABLE control.chat_rooms (
    platform      text NOT NULL CHECK (platform IN ('matrix', 'discord', 'telegram', 'console')),
    room_id       text NOT NULL CHECK (length(room_id) BETWEEN 1 AND 255),
    tenant_id     bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    bound_by      bigint REFERENCES control.users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, room_id)
);
CREATE INDEX chat_rooms_tenant ON control.chat_rooms (tenant_id, platform);

-- One-time codes an admin hands to a room. Only the SHA-256 is stored; a code expires, and is
-- used once: the room it bound is kept, so a redelivered /connect in that room answers again.
CREATE TABLE control.chat_connect_codes (
    id            bigserial PRIMARY KEY,
    code_hash     bytea NOT NULL CONSTRAINT chat_connect_codes_hash_key UNIQUE,
    tenant_id     bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    created_by    bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    used_platform text,
    used_room_id  text
);

-- One-time logins handed out by /link: exchanged once, before they expire, for an API token.
CREATE TABLE control.login_links (
    id          bigserial PRIMARY KEY,
    code_hash   bytea NOT NULL CONSTRAINT login_links_hash_key UNIQUE,
    user_id     bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Outbox delivery to chat: one row per event, platform and target (a room, or a person's direct
-- messages) once it was sent, so a delivery run that stopped halfway never sends a target twice.
CREATE TABLE control.chat_deliveries (
    tenant_id     bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    outbox_id     bigint NOT NULL,
    platform      text NOT NULL,
    target        text NOT NULL,
    delivered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outbox_id, platform, target)
);
