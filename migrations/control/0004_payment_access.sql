-- A payment made with a bearer token is authorised again inside its own transaction, by the
-- statement that locks its accounts. The API may then take who a token is from memory: a token
-- revoked, a membership ended or an org suspended since then still moves no money.
-- Raises CSP01 when a token no longer stands for its user, CSP02 when a payer is no longer a
-- member of an active org (codes of our own, so no other error can be taken for these).
CREATE FUNCTION control.check_payers(p_tenant bigint, p_token_hashes bytea[], p_users bigint[])
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(p_token_hashes) = 0 THEN
        RETURN true;
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(p_token_hashes, p_users) AS p(token_hash, user_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM control.api_tokens k
            WHERE k.token_hash = p.token_hash AND k.user_id = p.user_id AND k.revoked_at IS NULL))
    THEN
        RAISE EXCEPTION 'a payer''s token is no longer valid' USING ERRCODE = 'CSP01';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM control.tenants t WHERE t.id = p_tenant AND t.status = 'active')
       OR EXISTS (
        SELECT 1 FROM unnest(p_users) AS p(user_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM control.memberships m
            WHERE m.tenant_id = p_tenant AND m.user_id = p.user_id))
    THEN
        RAISE EXCEPTION 'a payer is no longer a member of this org' USING ERRCODE = 'CSP02';
    END IF;
    RETURN true;
END
$$;
