-- Governance (rules, proposals, votes), pledges, projects, the market, the feed and the outbox
-- of one community. Applied with search_path = org_<id>.

-- A currency is a coin (the community's money) or a project's participation shares.
ALTER TABLE currencies ADD COLUMN kind text NOT NULL DEFAULT 'coin'
    CONSTRAINT currencies_kind CHECK (kind IN ('coin', 'share'));

-- A project holds what it raised in an account of its own; there are many per currency, so only
-- the issuance account and the fund stay unique per currency.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind
    CHECK (kind IN ('member', 'issuance', 'fund', 'project'));
DROP INDEX accounts_system_currency;
CREATE UNIQUE INDEX accounts_system_currency ON accounts (currency_id, kind)
    WHERE kind IN ('issuance', 'fund');

-- Why money moved, for the history and for deciding whom to tell.
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind
    CHECK (kind IN ('payment', 'issuance', 'investment', 'refund', 'purchase', 'cancellation'));

-- The org's decision rules: exactly one row, created here with the defaults, so every org has
-- rules from its first moment. Shares are in basis points (5000 = 50 %).
CREATE TABLE rules (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    method             text NOT NULL DEFAULT 'majority'
                       CHECK (method IN ('majority', 'supermajority', 'consensus', 'consent')),
    -- share of the eligible voters who must vote (ignored by consent: silence is consent)
    quorum_bp          integer NOT NULL DEFAULT 5000 CHECK (quorum_bp BETWEEN 0 AND 10000),
    -- share of yes among yes, no and block that a supermajority needs
    threshold_bp       integer NOT NULL DEFAULT 6667 CHECK (threshold_bp BETWEEN 5001 AND 10000),
    voting_period_secs integer NOT NULL DEFAULT 604800
                       CHECK (voting_period_secs BETWEEN 60 AND 7776000),
    -- who may open proposals other than pledges: every member, or admins only
    proposers          text NOT NULL DEFAULT 'members' CHECK (proposers IN ('members', 'admins')),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rules DEFAULT VALUES;

-- A decision rule for one kind of proposal, instead of the org's.
CREATE TABLE rule_overrides (
    proposal_kind text PRIMARY KEY CHECK (proposal_kind IN ('issue_for_pledge', 'issue_to_account',
                  'fund_project', 'change_rules', 'admit_member', 'remove_member', 'set_role',
                  'free_text')),
    method        text NOT NULL CHECK (method IN ('majority', 'supermajority', 'consensus', 'consent')),
    quorum_bp     integer NOT NULL CHECK (quorum_bp BETWEEN 0 AND 10000),
    threshold_bp  integer NOT NULL CHECK (threshold_bp BETWEEN 5001 AND 10000)
);

CREATE TABLE proposals (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('issue_for_pledge', 'issue_to_account',
                   'fund_project', 'change_rules', 'admit_member', 'remove_member', 'set_role',
                   'free_text')),
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    author_user_id bigint NOT NULL REFERENCES members (user_id),
    -- what runs when it passes, validated when it opened (see governance/actions.rs)
    action         jsonb NOT NULL,
    -- the decision rule as it stood when the proposal opened
    method         text NOT NULL CHECK (method IN ('majority', 'supermajority', 'consensus', 'consent')),
    quorum_bp      integer NOT NULL CHECK (quorum_bp BETWEEN 0 AND 10000),
    threshold_bp   integer NOT NULL CHECK (threshold_bp BETWEEN 5001 AND 10000),
    -- how many members could vote (the rows of proposal_voters)
    voters         integer NOT NULL CHECK (voters >= 0),
    opened_at      timestamptz NOT NULL,
    closes_at      timestamptz NOT NULL,
    -- failed: it passed but its action could not run; nothing of the action was applied
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'passed', 'rejected', 'failed')),
    closed_at      timestamptz,
    -- why it was rejected or failed, in words and as a stable code
    reason         text,
    reason_code    text,
    CHECK (closes_at > opened_at),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX proposals_due ON proposals (closes_at) WHERE status = 'open';

-- The electorate: the members at the moment the proposal opened.
CREATE TABLE proposal_voters (
    proposal_id bigint NOT NULL REFERENCES proposals (id),
    user_id     bigint NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);

-- One vote per voter and proposal; changing it rewrites the row until the proposal closes.
CREATE TABLE votes (
    proposal_id bigint NOT NULL,
    user_id     bigint NOT NULL,
    choice      text NOT NULL CHECK (choice IN ('yes', 'no', 'abstain', 'block')),
    cast_at     timestamptz NOT NULL DEFAULT now(),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, user_id),
    FOREIGN KEY (proposal_id, user_id) REFERENCES proposal_voters (proposal_id, user_id)
);

-- A member's promise of work worth `amount`. Approved by its proposal, the amount is issued to
-- the member and becomes their obligation, redeemed as the community buys the work.
CREATE TABLE pledges (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES members (user_id),
    currency_id bigint NOT NULL REFERENCES currencies (id),
    amount      bigint NOT NULL CHECK (amount > 0),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    proposal_id bigint NOT NULL CONSTRAINT pledges_proposal_key UNIQUE REFERENCES proposals (id),
    status      text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected')),
    issued      bigint NOT NULL DEFAULT 0,
    redeemed    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (issued = 0 OR issued = amount),
    CHECK ((status = 'approved') = (issued > 0)),
    CHECK (redeemed BETWEEN 0 AND issued)
);

-- A project raises money in a coin currency into its own account and gives its investors
-- shares (a currency of kind 'share') at a fixed rate.
CREATE TABLE projects (
    id                bigserial PRIMARY KEY,
    owner_user_id     bigint NOT NULL REFERENCES members (user_id),
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description       text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    currency_id       bigint NOT NULL REFERENCES currencies (id),
    account_id        bigint NOT NULL CONSTRAINT projects_account_key UNIQUE REFERENCES accounts (id),
    share_currency_id bigint NOT NULL CONSTRAINT projects_share_currency_key UNIQUE
                      REFERENCES currencies (id),
    -- shares (minor units) per 1,000,000 coin minor units
    rate_micro        bigint NOT NULL CHECK (rate_micro > 0),
    goal              bigint NOT NULL CHECK (goal > 0),
    -- the most one member may invest in total; NULL: no cap
    cap               bigint CHECK (cap > 0),
    raised            bigint NOT NULL DEFAULT 0 CHECK (raised >= 0),
    deadline          timestamptz NOT NULL,
    -- open until the deadline, then funded (goal reached) or refunded (every investor repaid)
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'funded', 'refunded')),
    settled_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'open') = (settled_at IS NULL))
);
CREATE INDEX projects_due ON projects (deadline) WHERE status = 'open';

CREATE TABLE investments (
    id               bigserial PRIMARY KEY,
    project_id       bigint NOT NULL REFERENCES projects (id),
    -- NULL: the community fund, through a passed "fund a project" proposal
    investor_user_id bigint REFERENCES members (user_id),
    amount           bigint NOT NULL CHECK (amount > 0),
    shares           bigint NOT NULL CHECK (shares > 0),
    transfer_id      bigint NOT NULL CONSTRAINT investments_transfer_key UNIQUE REFERENCES transfers (id),
    proposal_id      bigint REFERENCES proposals (id),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX investments_project ON investments (project_id, investor_user_id);

-- The market: offers and needs. Buying an offer pays its owner; buying a pledge-backed offer
-- also redeems that much of the pledge.
CREATE TABLE listings (
    id            bigserial PRIMARY KEY,
    owner_user_id bigint NOT NULL REFERENCES members (user_id),
    kind          text NOT NULL CHECK (kind IN ('offer', 'need')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    price         bigint NOT NULL CHECK (price > 0),
    currency_id   bigint NOT NULL REFERENCES currencies (id),
    pledge_id     bigint REFERENCES pledges (id),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    CHECK (pledge_id IS NULL OR kind = 'offer'),
    CHECK ((status = 'open') = (closed_at IS NULL))
);

CREATE TABLE purchases (
    id            bigserial PRIMARY KEY,
    listing_id    bigint NOT NULL REFERENCES listings (id),
    buyer_user_id bigint NOT NULL REFERENCES members (user_id),
    price         bigint NOT NULL CHECK (price > 0),
    -- how much of the listing's pledge this purchase redeemed
    redeemed      bigint NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    transfer_id   bigint NOT NULL CONSTRAINT purchases_transfer_key UNIQUE REFERENCES transfers (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX purchases_listing ON purchases (listing_id);

-- The feed: posts and their comments, with the platform each came from.
CREATE TABLE posts (
    id             bigserial PRIMARY KEY,
    author_user_id bigint NOT NULL REFERENCES members (user_id),
    body           text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    platform       text NOT NULL CHECK (platform IN ('web', 'matrix', 'discord', 'telegram', 'console')),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE comments (
    id             bigserial PRIMARY KEY,
    post_id        bigint NOT NULL REFERENCES posts (id),
    author_user_id bigint NOT NULL REFERENCES members (user_id),
    body           text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    platform       text NOT NULL CHECK (platform IN ('web', 'matrix', 'discord', 'telegram', 'console')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_post ON comments (post_id, id);

-- Creations (proposals, pledges, projects, listings, posts, comments) sent again with the same
-- idempotency key answer what the first request created. Money movements are deduplicated by
-- the journal's own keys.
CREATE TABLE requests (
    idempotency_key text PRIMARY KEY,
    resource        text NOT NULL,
    -- SHA-256 of the request: the same key with another request is a conflict
    fingerprint     bytea NOT NULL,
    resource_id     bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Events members want to hear about, written in the transaction of the change that caused them
-- and delivered (at least once) by the chat side. The dedup key makes writing one twice a no-op
-- and lets receivers drop a redelivery.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('payment_received', 'proposal_opened', 'vote_reminder',
                 'proposal_closed', 'pledge_approved', 'project_funded', 'project_refunded',
                 'listing_bought', 'post_created')),
    payload      jsonb NOT NULL,
    -- tell the org's bound rooms, and/or these members directly
    to_rooms     boolean NOT NULL DEFAULT false,
    to_users     bigint[] NOT NULL DEFAULT '{}',
    dedup_key    text NOT NULL CONSTRAINT outbox_dedup_key UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;

-- "Payment received" is written by the journal itself: every batch of payments, however it was
-- posted, tells each receiving member in the same transaction. One statement per batch, not one
-- per row. The search_path is pinned to this schema so the event can only land in this org.
CREATE FUNCTION outbox_payments() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO outbox (kind, payload, to_users, dedup_key)
    SELECT 'payment_received',
           jsonb_build_object(
               'transfer_id', n.id,
               'currency', c.code,
               'amount', round(n.amount::numeric / (10::numeric ^ c.scale), c.scale)::text,
               'from_user_id', f.owner_user_id,
               'to_user_id', t.owner_user_id,
               'memo', n.memo),
           ARRAY[t.owner_user_id],
           'transfer:' || n.id || ':received'
    FROM new_transfers n
    JOIN accounts t ON t.id = n.to_account AND t.kind = 'member'
    JOIN accounts f ON f.id = n.from_account
    JOIN currencies c ON c.id = n.currency_id
    WHERE n.kind = 'payment'
    ON CONFLICT (dedup_key) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER transfers_outbox AFTER INSERT ON transfers
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_payments();
