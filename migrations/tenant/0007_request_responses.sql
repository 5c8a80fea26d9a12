-- A creation sent again with its idempotency key answers exactly what the first request answered
-- (a proposal's tally then, not now), so the first answer is kept with the key, written in the
-- creating transaction. Rows from before this migration have none: their replay reads the
-- resource as it is now.
-- Applied with search_path = org_<id> (or a spare schema).
ALTER TABLE requests ADD COLUMN response jsonb;
