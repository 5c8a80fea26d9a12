-- The exchange between community currencies (issue 17), one org's side. Applied with
-- search_path = org_<id>. Nothing here refers to another org: each org settles its side of a
-- round in its own transaction, so the schemas may live on different database nodes.

-- Listing and delisting the org's currency are decided by vote. (The lists restate every kind,
-- billing's `change_topup_rate` from 0010 included.)
ALTER TABLE proposals DROP CONSTRAINT proposals_kind_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_kind_check
    CHECK (kind IN ('issue_for_pledge', 'issue_to_account', 'fund_project', 'change_rules',
                    'change_issuance', 'admit_member', 'remove_member', 'set_role', 'free_text',
                    'change_topup_rate', 'list_on_exchange', 'delist_from_exchange'));
ALTER TABLE rule_overrides DROP CONSTRAINT rule_overrides_proposal_kind_check;
ALTER TABLE rule_overrides ADD CONSTRAINT rule_overrides_proposal_kind_check
    CHECK (proposal_kind IN ('issue_for_pledge', 'issue_to_account', 'fund_project', 'change_rules',
                             'change_issuance', 'admit_member', 'remove_member', 'set_role',
                             'free_text', 'change_topup_rate', 'list_on_exchange',
                             'delist_from_exchange'));

-- Another org's currency as this org holds it: its members' balances of it are backed by what
-- this org's clearing account holds in the other org's ledger (the mirror).
ALTER TABLE currencies DROP CONSTRAINT currencies_kind;
ALTER TABLE currencies ADD CONSTRAINT currencies_kind CHECK (kind IN ('coin', 'share', 'foreign'));

-- escrow: one per currency, what open orders hold; clearing: one per currency, the exchange's
-- side of every fill. For the org's own coin the clearing account holds what other orgs'
-- members bought (floor 0); for a foreign currency it issues what this org's members bought,
-- and its floor is minus the trustline.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind
    CHECK (kind IN ('member', 'issuance', 'fund', 'project', 'escrow', 'clearing'));
CREATE UNIQUE INDEX accounts_exchange_currency ON accounts (currency_id, kind)
    WHERE kind IN ('escrow', 'clearing');

-- Money moves into escrow, back out of it, and through the clearing account.
ALTER TABLE transfers DROP CONSTRAINT transfers_kind;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind
    CHECK (kind IN ('payment', 'issuance', 'investment', 'refund', 'purchase', 'cancellation',
                    'demurrage', 'escrow', 'exchange'));

-- A limit order: sell `amount` minor units of `sell_currency` for at least `limit_num /
-- limit_den` minor units of `buy_currency` per minor unit sold. Codes, not ids: the pair is
-- named the same way in every org and in the control schema's receipts.
CREATE TABLE exchange_orders (
    id              bigserial PRIMARY KEY,
    owner_user_id   bigint NOT NULL REFERENCES members (user_id),
    sell_currency   text NOT NULL,
    buy_currency    text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    limit_num       bigint NOT NULL CHECK (limit_num > 0),
    limit_den       bigint NOT NULL CHECK (limit_den > 0),
    -- the limit as the member wrote it ("0.8"), units of buy per unit of sell
    limit_text      text NOT NULL,
    -- 'round': what does not fill in the next round goes back; 'cancel': open until cancelled
    good_for        text NOT NULL CHECK (good_for IN ('round', 'cancel')),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'filled', 'cancelled', 'returned')),
    -- sold and bought so far, over all rounds
    sold            bigint NOT NULL DEFAULT 0 CHECK (sold >= 0),
    bought          bigint NOT NULL DEFAULT 0 CHECK (bought >= 0),
    -- set by a round's cut, cleared when that round is settled here: while set, the order
    -- belongs to the round and cannot be cancelled
    cut_at          timestamptz,
    idempotency_key text NOT NULL CONSTRAINT exchange_orders_idempotency_key UNIQUE,
    fingerprint     bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    CHECK (sell_currency <> buy_currency),
    CHECK (sold <= amount),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX exchange_orders_open ON exchange_orders (sell_currency, buy_currency) WHERE status = 'open';
CREATE INDEX exchange_orders_owner ON exchange_orders (owner_user_id, id);

-- One row per (round, order) settled here: written in the same transaction as the postings,
-- so a settlement that runs again finds it and posts nothing twice.
CREATE TABLE exchange_settlements (
    round_id   bigint NOT NULL,
    order_id   bigint NOT NULL REFERENCES exchange_orders (id),
    sold       bigint NOT NULL CHECK (sold >= 0),
    bought     bigint NOT NULL CHECK (bought >= 0),
    -- the matcher's reason when it sold less than was open ('filled', 'rationed', ...)
    why        text NOT NULL,
    settled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (round_id, order_id)
);
