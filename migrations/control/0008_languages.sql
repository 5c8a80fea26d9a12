-- Which language a person reads: their own choice (NULL: not chosen; their platform's locale,
-- else the org's default, decides), and each org's default, set at creation.
ALTER TABLE control.users
    ADD COLUMN language text CHECK (language IN ('en', 'de'));

ALTER TABLE control.tenants
    ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'de'));
