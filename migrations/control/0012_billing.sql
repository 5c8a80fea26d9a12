-- Billing (issue 16): each org's euros sit in its own connected account at the payment
-- provider; the platform only mirrors them here. Nothing in these tables is read inside an org's
-- transaction (they stay on the coordinator under Citus, like the rest of the control plane).

-- The org's connected account at the provider, as its last `account.updated` said.
CREATE TABLE control.billing_accounts (
    tenant_id        bigint PRIMARY KEY REFERENCES control.tenants (id) ON DELETE CASCADE,
    provider_account text NOT NULL CONSTRAINT billing_accounts_provider_key UNIQUE,
    charges_enabled  boolean NOT NULL DEFAULT false,
    payouts_enabled  boolean NOT NULL DEFAULT false,
    -- what the provider still wants to know before it enables charges or payouts
    requirements_due text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The platform euro ledger: double entry in euro cents, per org two accounts: its reserve (the
-- euros in its connected account that back coins; never below zero) and "outside" (where euros
-- come from and go to; its negative balance is the reserve's mirror). Per org the balances sum
-- to zero, and the reserve is euros in minus euros out.
CREATE TABLE control.euro_accounts (
    id        bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    kind      text NOT NULL CHECK (kind IN ('reserve', 'outside')),
    balance   bigint NOT NULL DEFAULT 0,
    CONSTRAINT euro_accounts_reserve_floor CHECK (kind <> 'reserve' OR balance >= 0),
    CONSTRAINT euro_accounts_tenant_kind UNIQUE (tenant_id, kind)
);

-- Append-only, like an org's journal. The key comes from the provider's object id (a top-up is
-- `topup:<checkout session>`), so applying the same payment twice writes one entry.
CREATE TABLE control.euro_entries (
    id              bigserial PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    from_account    bigint NOT NULL REFERENCES control.euro_accounts (id),
    to_account      bigint NOT NULL REFERENCES control.euro_accounts (id),
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    kind            text NOT NULL CHECK (kind IN ('topup', 'payout', 'refund')),
    -- the provider's object (checkout session, payout, refund) for the treasurer's books
    provider_ref    text NOT NULL,
    idempotency_key text NOT NULL CONSTRAINT euro_entries_idempotency_key UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (from_account <> to_account)
);
CREATE INDEX euro_entries_tenant ON control.euro_entries (tenant_id, id);

CREATE FUNCTION control.euro_journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the euro journal is append-only';
END $$;
CREATE TRIGGER euro_entries_append_only BEFORE UPDATE OR DELETE ON control.euro_entries
    FOR EACH ROW EXECUTE FUNCTION control.euro_journal_is_append_only();
CREATE TRIGGER euro_entries_no_truncate BEFORE TRUNCATE ON control.euro_entries
    FOR EACH STATEMENT EXECUTE FUNCTION control.euro_journal_is_append_only();

-- Webhook events as the provider sent them, stored under their unique id before the answer, and
-- applied later by the worker. A repeated delivery finds its id taken and changes nothing.
CREATE TABLE control.provider_events (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    payload     bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at  timestamptz,
    -- what applying it did: applied, ignored (a type we do not act on), or the reason it failed
    outcome     text,
    attempts    integer NOT NULL DEFAULT 0
);
CREATE INDEX provider_events_pending ON control.provider_events (received_at) WHERE applied_at IS NULL;
