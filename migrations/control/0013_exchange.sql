-- The exchange between community currencies (issue 17), the shared part: which currencies are
-- listed, the pairs' schedule, and the rounds' published receipts. Every org's ledger postings
-- derive from a receipt; no row here names a member.

-- A currency an org listed by vote. Codes are unique among listed currencies, so a code names
-- one currency everywhere on the exchange.
CREATE TABLE control.exchange_listings (
    tenant_id     bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    currency_code text NOT NULL CHECK (currency_code ~ '^[A-Z]{2,8}$'),
    scale         smallint NOT NULL CHECK (scale BETWEEN 0 AND 6),
    -- the most of each foreign currency the org's clearing account may hold, in whole units
    trustline     bigint NOT NULL CHECK (trustline >= 0),
    -- the most of this currency that may leave the org per round, in its minor units
    max_out_per_round bigint NOT NULL CHECK (max_out_per_round > 0),
    proposal_id   bigint NOT NULL,
    listed_at     timestamptz NOT NULL DEFAULT now(),
    delisted_at   timestamptz,
    PRIMARY KEY (tenant_id, currency_code)
);
CREATE UNIQUE INDEX exchange_listings_code ON control.exchange_listings (currency_code)
    WHERE delisted_at IS NULL;

-- A pair trades in rounds; base < quote by code, the price is quote per base.
CREATE TABLE control.exchange_pairs (
    base          text NOT NULL,
    quote         text NOT NULL,
    interval_secs integer NOT NULL DEFAULT 3600 CHECK (interval_secs > 0),
    -- the last round's price (quote minor units per base minor unit), for ties
    last_num      bigint,
    last_den      bigint,
    PRIMARY KEY (base, quote),
    CHECK (base < quote),
    CHECK ((last_num IS NULL) = (last_den IS NULL))
);

-- One round's receipt per pair: written once, before any org settles, never changed.
CREATE TABLE control.exchange_rounds (
    id            bigserial PRIMARY KEY,
    base          text NOT NULL,
    quote         text NOT NULL,
    cut_at        timestamptz NOT NULL,
    -- NULL when nothing crossed
    price_num     bigint,
    price_den     bigint,
    base_offered  bigint NOT NULL,
    quote_offered bigint NOT NULL,
    base_traded   bigint NOT NULL,
    quote_traded  bigint NOT NULL,
    base_unfilled bigint NOT NULL,
    quote_unfilled bigint NOT NULL,
    -- SHA-256 over the orders as matched (tenant, order, side, amount, limit), in order
    orders_hash   bytea NOT NULL,
    -- every order's fill: [{tenant, order, side, sold, bought, why}], no member named
    fills         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (base, quote, cut_at)
);
CREATE FUNCTION control.exchange_receipts_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an exchange receipt is never changed';
END $$;
CREATE TRIGGER exchange_rounds_immutable BEFORE UPDATE OR DELETE ON control.exchange_rounds
    FOR EACH ROW EXECUTE FUNCTION control.exchange_receipts_are_immutable();

-- Which org has settled its side of which round (the worker's progress; the ledger's own
-- keys are what make a re-run harmless).
CREATE TABLE control.exchange_round_settlements (
    round_id   bigint NOT NULL REFERENCES control.exchange_rounds (id),
    tenant_id  bigint NOT NULL,
    settled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (round_id, tenant_id)
);

-- What crossed between two orgs per round and currency, from the receipt: `amount` of
-- `currency` went from `from_tenant`'s members to `to_tenant`'s.
CREATE TABLE control.exchange_flows (
    round_id    bigint NOT NULL REFERENCES control.exchange_rounds (id),
    currency    text NOT NULL,
    from_tenant bigint NOT NULL,
    to_tenant   bigint NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (round_id, currency, from_tenant, to_tenant)
);

-- Net positions per pair of orgs and currency: `net` of `currency` went from `org_a`'s members
-- to `org_b`'s (negative: the other way), over all rounds. For the currency's home org, that is
-- what its clearing account holds for the other; the other's clearing account mirrors it.
CREATE VIEW control.exchange_positions AS
    SELECT currency,
           least(from_tenant, to_tenant) AS org_a,
           greatest(from_tenant, to_tenant) AS org_b,
           sum(CASE WHEN from_tenant < to_tenant THEN amount ELSE -amount END)::bigint AS net
      FROM control.exchange_flows
     GROUP BY currency, least(from_tenant, to_tenant), greatest(from_tenant, to_tenant);
