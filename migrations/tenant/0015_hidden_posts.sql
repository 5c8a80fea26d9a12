-- Moderation of the feed (the portal, issue 15): an admin hides a post; it leaves the feed for
-- everyone (chat and portal) and takes no more comments. Kept, not deleted: the community's
-- record stays whole, and an export carries it.
-- Applied with search_path = org_<id> (or a spare schema).

ALTER TABLE posts ADD COLUMN hidden_at timestamptz;
