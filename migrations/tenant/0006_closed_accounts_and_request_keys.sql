-- Money reaches only current members, and a create-once request takes its key first.
-- Applied with search_path = org_<id> (or a spare schema, which has no rows yet).

-- A removed member's accounts are closed: they keep their balance (the money is still theirs,
-- and comes back to use if they are admitted again), but take no new money. The flag lives on
-- the account row itself so that the transfer batch reads it with the account (no extra query),
-- and a removal that closes an account changes the row version an optimistic batch checks.
ALTER TABLE accounts ADD COLUMN closed_at timestamptz;
ALTER TABLE accounts ADD CONSTRAINT accounts_closed_member CHECK (closed_at IS NULL OR kind = 'member');

-- The member row says so too, so that a currency created later opens their account closed.
ALTER TABLE members ADD COLUMN removed_at timestamptz;

-- Members removed before this migration (no membership left in the control plane). A spare
-- schema (not yet an org's) has no members, and no tenant id in its name.
DO $$
BEGIN
    IF current_schema() ~ '^org_[0-9]+$' THEN
        UPDATE members mb SET removed_at = now()
        WHERE NOT EXISTS (
            SELECT 1 FROM control.memberships m
            WHERE m.tenant_id = substring(current_schema() FROM 5)::bigint
              AND m.user_id = mb.user_id
        );
    END IF;
END $$;
UPDATE accounts a SET closed_at = mb.removed_at
FROM members mb
WHERE a.kind = 'member' AND a.owner_user_id = mb.user_id AND mb.removed_at IS NOT NULL;

-- A creation takes its idempotency key at the start of its transaction (a concurrent request
-- with the same key waits on that row, then replays), before it knows what it will create: the
-- id is filled in before the commit.
ALTER TABLE requests ALTER COLUMN resource_id DROP NOT NULL;
