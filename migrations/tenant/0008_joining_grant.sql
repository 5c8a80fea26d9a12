-- The joining grant (issue 14): money an org issues once to each new member when they join, so a
-- newcomer from chat can pay at once. At most one row; no row means no grant. The amount is in
-- minor units of the currency that was the org's default when an admin set it.
-- Applied with search_path = org_<id> (or a spare schema).
CREATE TABLE joining_grant (
    only_one    boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    currency_id bigint NOT NULL REFERENCES currencies (id),
    amount      bigint NOT NULL CHECK (amount > 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
