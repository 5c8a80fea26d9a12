-- The portal's charts count the journal by day over recent weeks: an index on the time keeps
-- that a range scan in orgs with a long history.
CREATE INDEX transfers_created_at ON transfers (created_at);
