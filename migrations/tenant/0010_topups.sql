-- Euro top-ups (issue 16): members buy coins with euros at the org's rate.

-- The org's terms, one row once a treasurer or admin set them. The rate is exact: `rate_coins`
-- whole coins for every `rate_euros` euros (3 coins for 2 euros: 3/2).
CREATE TABLE topup_settings (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    currency_id         bigint NOT NULL REFERENCES currencies (id),
    rate_coins          bigint NOT NULL CHECK (rate_coins > 0),
    rate_euros          bigint NOT NULL CHECK (rate_euros > 0),
    min_cents           bigint NOT NULL CHECK (min_cents > 0),
    max_cents           bigint NOT NULL CHECK (max_cents >= min_cents),
    monthly_max_cents   bigint NOT NULL CHECK (monthly_max_cents >= max_cents),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One row per top-up a member started; its state machine runs under this row's lock:
-- open -> paid (coins issued, exactly once) | failed (nothing issued).
CREATE TABLE topups (
    id               bigserial PRIMARY KEY,
    member_user_id   bigint NOT NULL REFERENCES members (user_id),
    currency_id      bigint NOT NULL REFERENCES currencies (id),
    amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
    -- the rate when it started, and what it buys in the currency's minor units
    rate_coins       bigint NOT NULL,
    rate_euros       bigint NOT NULL,
    coins            bigint NOT NULL CHECK (coins > 0),
    idempotency_key  text NOT NULL CONSTRAINT topups_idempotency_key UNIQUE,
    -- the provider's checkout session; unique, so one session pays at most one top-up
    checkout_session text CONSTRAINT topups_checkout_session UNIQUE,
    checkout_url     text,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'failed')),
    transfer_id      bigint REFERENCES transfers (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    settled_at       timestamptz,
    CHECK ((status = 'paid') = (transfer_id IS NOT NULL))
);
CREATE INDEX topups_member_month ON topups (member_user_id, created_at);

-- A new proposal kind (changing the top-up rate once the org has three members) and two outbox
-- events (a top-up paid, a delayed payment failed). The checks are widened by adding to whatever
-- list they hold now, so another area's new values (in migrations numbered before this one) stay
-- allowed.
DO $$
DECLARE
    c record;
    added text;
BEGIN
    FOR c IN
        SELECT conrelid::regclass AS tab, conname, pg_get_constraintdef(oid) AS def
        FROM pg_constraint
        WHERE conname IN ('proposals_kind_check', 'rule_overrides_proposal_kind_check',
                          'outbox_kind_check')
          AND connamespace = current_schema()::regnamespace
    LOOP
        added := CASE c.conname
            WHEN 'outbox_kind_check' THEN '''topup_paid''::text, ''topup_failed''::text, '
            ELSE '''change_topup_rate''::text, '
        END;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.tab, c.conname,
                       replace(c.def, 'ARRAY[', 'ARRAY[' || added));
    END LOOP;
END $$;
