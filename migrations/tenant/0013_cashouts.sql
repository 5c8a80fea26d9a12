-- Cash-outs, refunds and disputes (issue 16): a treasurer turns coins back into euros from the
-- org's reserve; a refunded or lost top-up takes its coins back.

-- The org's cash-out terms, one row once an admin set them: below `threshold_cents` another
-- treasurer or admin approves a cash-out, at or above it a `cashout` proposal decides; the exit
-- fee is a share of each cash-out's coins that goes to the community fund.
CREATE TABLE cashout_settings (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    threshold_cents bigint NOT NULL CHECK (threshold_cents >= 0),
    exit_fee_bp     integer NOT NULL CHECK (exit_fee_bp BETWEEN 0 AND 5000),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per cash-out asked for; its state machine runs under this row's lock:
-- pending (waits for a person or a proposal) -> escrowed (coins moved into the cash-out escrow
-- account, the payout still to be asked for) -> requested (the provider has the payout) ->
-- paid (escrow burned) | failed (escrow back to the treasurer); pending -> rejected.
CREATE TABLE cashouts (
    id                bigserial PRIMARY KEY,
    requester_user_id bigint NOT NULL REFERENCES members (user_id),
    currency_id       bigint NOT NULL REFERENCES currencies (id),
    -- what leaves the treasurer's account, the fee's part of it (to the fund), and the euros the
    -- rest buys at the rate of the moment it was asked for
    coins             bigint NOT NULL CHECK (coins > 0),
    fee_coins         bigint NOT NULL CHECK (fee_coins >= 0 AND fee_coins < coins),
    cents             bigint NOT NULL CHECK (cents > 0),
    rate_coins        bigint NOT NULL,
    rate_euros        bigint NOT NULL,
    approval          text NOT NULL CHECK (approval IN ('person', 'proposal')),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'escrowed', 'requested', 'paid', 'failed',
                                        'rejected')),
    approver_user_id  bigint,
    proposal_id       bigint,
    payout_id         text CONSTRAINT cashouts_payout_key UNIQUE,
    idempotency_key   text NOT NULL CONSTRAINT cashouts_idempotency_key UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    approved_at       timestamptz,
    settled_at        timestamptz
);

-- A top-up's payment at the provider, to find it again from a refund or a dispute.
ALTER TABLE topups ADD COLUMN payment_intent text CONSTRAINT topups_payment_intent UNIQUE;

-- Coins taken back for a refund or a lost dispute, once per provider object: from the member
-- down to their floor (`taken`), the rest recorded on the clawback account (`shortfall`).
CREATE TABLE clawbacks (
    id           bigserial PRIMARY KEY,
    topup_id     bigint NOT NULL REFERENCES topups (id),
    kind         text NOT NULL CHECK (kind IN ('refund', 'dispute')),
    -- `refund:<charge>:<refunded so far>` or `dispute:<dispute>`
    provider_key text NOT NULL CONSTRAINT clawbacks_provider_key UNIQUE,
    cents        bigint NOT NULL CHECK (cents > 0),
    coins        bigint NOT NULL CHECK (coins > 0),
    taken        bigint NOT NULL CHECK (taken >= 0),
    shortfall    bigint NOT NULL CHECK (shortfall >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (taken + shortfall = coins)
);

-- cashout_escrow: one per currency, the coins of cash-outs whose payout is under way;
-- clawback: one per currency, its negative balance what refunds and lost disputes could not take
-- back from members (coins still in circulation that no euros back).
CREATE UNIQUE INDEX accounts_billing_currency ON accounts (currency_id, kind)
    WHERE kind IN ('cashout_escrow', 'clawback');

-- New account kinds, transfer kinds and a proposal kind. The checks are widened by adding to
-- whatever list they hold now, so another area's new values stay allowed.
DO $$
DECLARE
    c record;
    added text;
BEGIN
    FOR c IN
        SELECT conrelid::regclass AS tab, conname, pg_get_constraintdef(oid) AS def
        FROM pg_constraint
        WHERE conname IN ('proposals_kind_check', 'rule_overrides_proposal_kind_check',
                          'accounts_kind', 'transfers_kind')
          AND connamespace = current_schema()::regnamespace
    LOOP
        added := CASE c.conname
            WHEN 'accounts_kind' THEN '''cashout_escrow''::text, ''clawback''::text, '
            WHEN 'transfers_kind' THEN '''cashout''::text, ''clawback''::text, '
            ELSE '''cashout''::text, '
        END;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.tab, c.conname,
                       replace(c.def, 'ARRAY[', 'ARRAY[' || added));
    END LOOP;
END $$;
