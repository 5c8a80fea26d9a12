-- New orgs start on schemas prepared ahead: creating a tenant schema's twenty-odd tables takes
-- about 150 ms, renaming a prepared one about a millisecond. A spare is `spare_<n>`, migrated
-- when it was prepared; taking one renames it to `org_<id>` and applies whatever migrations came
-- since, in the org's creating transaction. So tenant migrations must never write their own
-- schema's name (no `SET search_path FROM CURRENT`, no self-qualified names).
CREATE TABLE control.spare_schemas (
    name        text PRIMARY KEY CHECK (name ~ '^spare_[0-9]{1,19}$'),
    prepared_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE control.spare_schema_numbers;
