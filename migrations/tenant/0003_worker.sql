-- What the worker keeps for one community: scheduled issuance and demurrage policies and the
-- periods each has run, the seals over the journal, and the delivery state of the outbox.
-- Applied with search_path = org_<id>.

-- The worker moves money for two new reasons: basic income ('issuance', as before) and the
-- holding fee that demurrage takes to the community fund.
ALTER TABLE transfers DROP CONSTRAINT transfers_kind;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind
    CHECK (kind IN ('payment', 'issuance', 'investment', 'refund', 'purchase', 'cancellation',
                    'demurrage'));

-- Scheduled issuance of one currency: every period (a week from Monday, or a calendar month, in
-- the policy's time zone) each member receives a fixed amount or is topped up to a target, and
-- optionally pays a holding fee (basis points of a positive balance) to the community fund.
-- Amounts are minor units. At most one active policy per currency.
CREATE TABLE issuance_policies (
    id           bigserial PRIMARY KEY,
    currency_id  bigint NOT NULL REFERENCES currencies (id),
    period       text NOT NULL CHECK (period IN ('weekly', 'monthly')),
    -- an IANA name such as 'Europe/Berlin'; periods start at local midnight there
    time_zone    text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    -- fixed: `amount` to every member each period; top_up: each member up to `amount`
    income       text CHECK (income IN ('fixed', 'top_up')),
    amount       bigint CHECK (amount > 0),
    demurrage_bp integer NOT NULL DEFAULT 0 CHECK (demurrage_bp BETWEEN 0 AND 10000),
    -- the first period is the one containing this instant
    starts_at    timestamptz NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_by   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    CHECK ((income IS NULL) = (amount IS NULL)),
    CHECK (income IS NOT NULL OR demurrage_bp > 0),
    CHECK (active = (ended_at IS NULL))
);
CREATE UNIQUE INDEX issuance_policies_active_currency ON issuance_policies (currency_id) WHERE active;

-- One row per policy and period that ran, written in the transaction that moved its money: a
-- period runs exactly once however many workers try, and a restart resumes after the last row.
CREATE TABLE issuance_runs (
    policy_id       bigint NOT NULL REFERENCES issuance_policies (id),
    -- the period's first day in the policy's time zone
    period          date NOT NULL,
    issued_count    bigint NOT NULL,
    issued_total    bigint NOT NULL,
    demurrage_count bigint NOT NULL,
    demurrage_total bigint NOT NULL,
    ran_at          timestamptz NOT NULL,
    PRIMARY KEY (policy_id, period)
);

-- The journal's seals: each covers the entries after the previous seal (by id, contiguous up to
-- `last_transfer_id`) and chains to it: hash = SHA-256 over the previous hash and the canonical
-- form of every covered entry (see api/src/domain/ledger/seal.rs). Published, append-only.
CREATE TABLE journal_seals (
    seq               bigint PRIMARY KEY CHECK (seq >= 1),
    -- entries with id in (previous seal's last_transfer_id, last_transfer_id]
    last_transfer_id  bigint NOT NULL,
    entries           bigint NOT NULL CHECK (entries > 0),
    prev_hash         bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash              bytea NOT NULL CHECK (length(hash) = 32),
    sealed_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER journal_seals_append_only BEFORE UPDATE OR DELETE ON journal_seals
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();

-- Delivery of the outbox: failed attempts back off (`next_attempt_at`); an event that cannot be
-- delivered (refused for good, or out of attempts) is parked with the reason instead of being
-- retried forever. A worker leases the events it is sending so another leaves them alone.
ALTER TABLE outbox
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN leased_until    timestamptz,
    ADD COLUMN last_error      text,
    ADD COLUMN parked_at       timestamptz,
    ADD COLUMN park_reason     text;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL AND parked_at IS NULL;

-- Every period rewrites every member's balance, and payments rewrite balances all day: leave
-- room in each page so those updates stay on the page (HOT) and skip the indexes.
ALTER TABLE accounts SET (fillfactor = 50);
