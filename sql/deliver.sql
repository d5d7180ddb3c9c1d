-- vatoken_deliver, the primary's side of counting on hot standbys: nobody
-- may call it until granted (not the validate-only role), and whatever bytes
-- a caller sends are checked before anything is written.
CREATE ROLE vt_deliverer;
CREATE ROLE vt_validate_only;
GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO vt_validate_only;
GRANT EXECUTE ON FUNCTION vt_try(text) TO vt_deliverer, vt_validate_only;
-- vt_try, with the error's detail.
CREATE FUNCTION vt_try_detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END
$$;
GRANT EXECUTE ON FUNCTION vt_try_detail(text) TO vt_deliverer;

SET ROLE vt_validate_only;
SELECT vt_try($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, '\x00')$$) AS validate_only;
RESET ROLE;

-- The README's recipe for the delivery role.
GRANT EXECUTE ON FUNCTION vatoken_deliver(uuid, bigint, bytea) TO vt_deliverer;
SET ROLE vt_deliverer;
-- A header: magic "vtb1", item size 40, then node, seq, nonce, dbid, relid,
-- number of items and CRC, here all zero (the CRC does not match).
SELECT '\x3162747628000000' || repeat('00', 48) AS zero_header \gset
SELECT stmt, vt_try_detail(stmt) AS outcome FROM (VALUES
    ($$SELECT vatoken_deliver(NULL, 1, '\x00')$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', NULL, '\x00')$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, NULL)$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, '\x')$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, '\x00')$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, decode(repeat('00', 56), 'hex'))$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, decode(repeat('ff', 4096), 'hex'))$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, '$$ || :'zero_header' || $$')$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, '$$ || :'zero_header' || $$00')$$),
    ($$SELECT vatoken_deliver('6b1b0b5e-2a1c-4f7e-9a55-0b7c1c1e2d01', 1, '$$
        || overlay(:'zero_header' placing 'ffffffff' from 99 for 8) || $$')$$)
) AS t(stmt);
-- The tables stay out of reach.
SELECT vt_try('SELECT count(*) FROM vatoken.forward_nodes') AS read_forward_nodes;
RESET ROLE;
SELECT count(*) AS nodes_recorded FROM vatoken.forward_nodes;

REVOKE ALL ON FUNCTION vt_try(text) FROM vt_deliverer, vt_validate_only;
DROP FUNCTION vt_try_detail(text);
REVOKE ALL ON FUNCTION vatoken_validate(text) FROM vt_validate_only;
REVOKE ALL ON FUNCTION vatoken_deliver(uuid, bigint, bytea) FROM vt_deliverer;
DROP ROLE vt_deliverer;
DROP ROLE vt_validate_only;
