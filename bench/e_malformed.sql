-- (e) the call alone: vatoken_validate on a malformed token (no hash, no
-- lookup, no count), to show what the SRF, SECURITY DEFINER and the pinned
-- search_path cost by themselves
SELECT valid FROM fixture, vatoken_validate(left(fixture.token, 5)) WHERE i = :i;
