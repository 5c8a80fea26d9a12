-- One community's currencies, accounts and journal. Applied with search_path = org_<id>.

-- Members as this org sees them (roles stay in control.memberships, next to the login).
CREATE TABLE members (
    user_id      bigint PRIMARY KEY,
    display_name text NOT NULL,
    joined_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE currencies (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL CONSTRAINT currencies_code_key UNIQUE CHECK (code ~ '^[A-Z]{2,8}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- decimal places; amounts are integers in minor units
    scale       smallint NOT NULL CHECK (scale BETWEEN 0 AND 6),
    -- mutual credit: how far below zero a new member account may go (minor units)
    default_credit_limit bigint NOT NULL DEFAULT 0 CHECK (default_credit_limit >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id            bigserial PRIMARY KEY,
    currency_id   bigint NOT NULL REFERENCES currencies (id),
    -- member: one per member and currency; issuance: its negative balance is the money in
    -- circulation; fund: the community fund
    kind          text NOT NULL CHECK (kind IN ('member', 'issuance', 'fund')),
    owner_user_id bigint REFERENCES members (user_id),
    balance       bigint NOT NULL DEFAULT 0,
    -- NULL only for the issuance account, the one account that may go below any floor
    floor         bigint,
    ceiling       bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'issuance') = (floor IS NULL)),
    CHECK ((kind = 'member') = (owner_user_id IS NOT NULL)),
    -- the last line of defence; the ledger checks these before it writes
    CONSTRAINT accounts_floor CHECK (floor IS NULL OR balance >= floor),
    CONSTRAINT accounts_ceiling CHECK (ceiling IS NULL OR balance <= ceiling)
);
CREATE UNIQUE INDEX accounts_member_currency ON accounts (owner_user_id, currency_id) WHERE kind = 'member';
CREATE UNIQUE INDEX accounts_system_currency ON accounts (currency_id, kind) WHERE kind <> 'member';

-- The journal: append-only; every movement from one account to another of the same currency.
CREATE TABLE transfers (
    id              bigserial PRIMARY KEY,
    currency_id     bigint NOT NULL,
    from_account    bigint NOT NULL REFERENCES accounts (id),
    to_account      bigint NOT NULL REFERENCES accounts (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    kind            text NOT NULL CHECK (kind IN ('payment', 'issuance')),
    memo            text NOT NULL DEFAULT '',
    actor_user_id   bigint,
    -- namespaced by its source ("http:<user>:<key>", a chat event id, ...)
    idempotency_key text NOT NULL CONSTRAINT transfers_idempotency_key UNIQUE,
    -- SHA-256 of the request's parameters: the same key with other parameters is a conflict
    fingerprint     bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (from_account <> to_account)
);
CREATE INDEX transfers_from ON transfers (from_account, id);
CREATE INDEX transfers_to ON transfers (to_account, id);

CREATE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only';
END $$;
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only();
