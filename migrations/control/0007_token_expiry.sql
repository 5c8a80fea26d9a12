-- Identity hardening: tokens expire, a chat identity is never found through an email address,
-- new orgs are counted per person and per address, mention-created members per room.

-- Tokens expire. The expiry slides: a token in use is extended (at most once a day, so the
-- lookup every request does stays a read). Tokens issued before this get the default term from
-- now, so upgrading logs nobody out. `last_used_at` is shown to the owner in their token list.
ALTER TABLE control.api_tokens
    ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '30 days',
    ADD COLUMN last_used_at timestamptz;

-- A person's live tokens, listed and revoked together.
CREATE INDEX api_tokens_user_live ON control.api_tokens (user_id) WHERE revoked_at IS NULL;

-- A payment is authorised again where it is written: the token must still be live, unexpired,
-- and stand for its user; the payer must still be a member of an active org. (As in 0004, with
-- the expiry.)
CREATE OR REPLACE FUNCTION control.check_payers(p_tenant bigint, p_token_hashes bytea[], p_users bigint[])
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(p_token_hashes) = 0 THEN
        RETURN true;
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(p_token_hashes, p_users) AS p(token_hash, user_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM control.api_tokens k
            WHERE k.token_hash = p.token_hash AND k.user_id = p.user_id
              AND k.revoked_at IS NULL AND k.expires_at > now()))
    THEN
        RAISE EXCEPTION 'a payer''s token is no longer valid' USING ERRCODE = 'CSP01';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM control.tenants t WHERE t.id = p_tenant AND t.status = 'active')
       OR EXISTS (
        SELECT 1 FROM unnest(p_users) AS p(user_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM control.memberships m
            WHERE m.tenant_id = p_tenant AND m.user_id = p.user_id))
    THEN
        RAISE EXCEPTION 'a payer is no longer a member of this org' USING ERRCODE = 'CSP02';
    END IF;
    RETURN true;
END
$$;

-- Who asked for an org and from where, so new orgs can be capped per person and per address
-- per day. Orgs created before this (and by the operator) have neither and count for no one.
ALTER TABLE control.tenants
    ADD COLUMN created_by bigint REFERENCES control.users (id) ON DELETE SET NULL,
    ADD COLUMN created_from inet;
CREATE INDEX tenants_created_by ON control.tenants (created_by, created_at)
    WHERE created_by IS NOT NULL;
CREATE INDEX tenants_created_from ON control.tenants (created_from, created_at)
    WHERE created_from IS NOT NULL;

-- Members an open org admitted because someone was paid by mention in a room: capped per room
-- and hour, so one room cannot fill an org with people nobody invited.
CREATE TABLE control.chat_mention_admissions (
    platform    text NOT NULL,
    room_id     text NOT NULL,
    tenant_id   bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_mention_admissions_room
    ON control.chat_mention_admissions (platform, room_id, created_at);

-- Chat users used to get an address derived from their public platform id, and signup accepted
-- such an address: anyone could register it first and be handed the chat person's identity. A
-- password on a reserved (.invalid) address can only have come that way; it is removed, and the
-- tokens that password gave are revoked. (The person keeps their chat identity and can log in
-- with /link.)
UPDATE control.api_tokens k SET revoked_at = now()
FROM control.users u
WHERE u.id = k.user_id AND u.email LIKE '%.invalid' AND u.password_hash IS NOT NULL
  AND k.revoked_at IS NULL AND k.label IN ('signup', 'login');
UPDATE control.users SET password_hash = NULL
WHERE email LIKE '%.invalid' AND password_hash IS NOT NULL;

-- The operator's connect codes (`coinsence org connect-code`) are made by nobody in particular.
ALTER TABLE control.chat_connect_codes ALTER COLUMN created_by DROP NOT NULL;
