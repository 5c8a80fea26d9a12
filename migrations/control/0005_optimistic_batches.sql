-- A transfer lane may decide a batch on balances it read without locks and write it in one
-- statement that is its own transaction. That statement moves each balance only where the row
-- is still the version that was read, and calls this with how many it moved: any fewer means a
-- concurrent change got in between, and the whole statement (journal, balances, notices) is
-- undone by raising CSB01. The lane then decides the batch again under row locks.
-- `control.check_payers` (0004) is now called by that same writing statement, on either path,
-- rather than by the statement that locks the accounts.
CREATE FUNCTION control.expect_moved(p_moved bigint, p_expected bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_moved <> p_expected THEN
        RAISE EXCEPTION 'an account changed since the batch read it (% of % rows current)',
            p_moved, p_expected USING ERRCODE = 'CSB01';
    END IF;
    RETURN true;
END
$$;
