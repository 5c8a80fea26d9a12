-- Cash-outs (issue 16), the platform's side: the euros each org's pending cash-outs hold back
-- from its reserve. A new cash-out is checked against reserve minus these under the lock of the
-- org's reserve account, so two at once cannot both spend the same euros.
CREATE TABLE control.cashout_holds (
    tenant_id  bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    cashout_id bigint NOT NULL,
    cents      bigint NOT NULL CHECK (cents > 0),
    -- held: pending; paid: its payout entry is in the euro journal; released: failed or rejected
    status     text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'paid', 'released')),
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz,
    PRIMARY KEY (tenant_id, cashout_id)
);

-- A lost dispute takes euros out of the reserve too (widened in place: add to the list).
DO $$
DECLARE
    def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
    WHERE conname = 'euro_entries_kind_check' AND conrelid = 'control.euro_entries'::regclass;
    ALTER TABLE control.euro_entries DROP CONSTRAINT euro_entries_kind_check;
    EXECUTE format('ALTER TABLE control.euro_entries ADD CONSTRAINT euro_entries_kind_check %s',
                   replace(def, 'ARRAY[', 'ARRAY[''dispute''::text, '));
END $$;

-- Where the reconcile job stopped in the provider's event list: the newest event it has seen.
CREATE TABLE control.provider_event_cursor (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_event text,
    checked_at timestamptz NOT NULL DEFAULT now()
);
