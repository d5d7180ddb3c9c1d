-- After CREATE EXTENSION nothing is executable by PUBLIC and no role but the
-- owner can read the extension's data.
CREATE ROLE vt_nobody;
SELECT p.oid::regprocedure AS function,
       has_function_privilege('vt_nobody', p.oid, 'EXECUTE') AS nobody_can_execute,
       EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS granted_to_public,
       p.prosecdef AS security_definer,
       p.proconfig
FROM pg_proc p
JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vatoken')
ORDER BY p.oid::regprocedure::text COLLATE "C";

SELECT c.oid::regclass AS relation,
       has_table_privilege('vt_nobody', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER') AS nobody_has_any,
       EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0) AS granted_to_public
FROM pg_class c WHERE c.relnamespace = 'vatoken'::regnamespace AND c.relkind IN ('r', 'S')
ORDER BY c.oid::regclass::text COLLATE "C";
SELECT has_schema_privilege('vt_nobody', 'vatoken', 'USAGE') AS nobody_uses_schema;
SELECT has_type_privilege('vt_nobody', 'vatoken_validate_result', 'USAGE') AS nobody_uses_result_type;

-- The README's recipes: an API-server role may only validate; a management
-- role (the permission "Can Manage API Settings") may create, list, see usage
-- and delete.
CREATE ROLE vt_api_server;
GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO vt_api_server;
CREATE ROLE vt_api_manager;
GRANT EXECUTE ON FUNCTION vatoken_create(text, text), vatoken_list(text),
    vatoken_usage(text, bigint), vatoken_delete(text, bigint) TO vt_api_manager;
GRANT EXECUTE ON FUNCTION vt_try(text) TO vt_api_server, vt_api_manager, vt_nobody;

SET ROLE vt_api_manager;
SELECT token AS m_tok, token_id AS m_id FROM vatoken_create('priv-owner', 'Managed') \gset
SELECT name, calls_today FROM vatoken_list('priv-owner');
SELECT vt_try($$SELECT vatoken_validate('x')$$) AS manager_validates;
SELECT vt_try('SELECT * FROM vatoken.tokens') AS manager_reads_tokens;
RESET ROLE;

SET ROLE vt_api_server;
SELECT valid, owner, name FROM vatoken_validate(:'m_tok');
SELECT vt_try($$SELECT vatoken_create('priv-owner', 'x')$$) AS server_creates;
SELECT vt_try($$SELECT vatoken_list('priv-owner')$$) AS server_lists;
SELECT vt_try(format('SELECT vatoken_usage(%L, %s)', 'priv-owner', :m_id)) AS server_usage;
SELECT vt_try(format('SELECT vatoken_delete(%L, %s)', 'priv-owner', :m_id)) AS server_deletes;
SELECT vt_try('SELECT * FROM vatoken.tokens') AS server_reads_tokens;
SELECT vt_try('SELECT * FROM vatoken.usage') AS server_reads_usage;
RESET ROLE;

SET ROLE vt_nobody;
SELECT vt_try($$SELECT vatoken_validate('x')$$) AS nobody_validates;
RESET ROLE;

-- A role that shadows functions and operators in its own schema, first in
-- its search_path (before pg_catalog), captures nothing: the functions pin
-- search_path and qualify every object.  The control queries show that the
-- shadows do capture unqualified calls made outside vatoken.
CREATE SCHEMA evil AUTHORIZATION vt_api_manager;
GRANT CREATE ON SCHEMA public TO vt_api_manager;
SET ROLE vt_api_manager;
CREATE TABLE evil.captured (what text);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS
  $$ INSERT INTO evil.captured VALUES ('now'); SELECT '1999-01-01'::timestamptz $$;
CREATE FUNCTION evil.bytea_eq_capture(bytea, bytea) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO evil.captured VALUES ('='); SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.bytea_eq_capture);
CREATE FUNCTION evil.text_eq_capture(text, text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO evil.captured VALUES ('text ='); SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq_capture);
SET search_path = evil, pg_catalog, public;
SELECT now() = '1999-01-01'::timestamptz AS control_now_is_shadowed;
SELECT count(*) AS control_captured FROM evil.captured;
TRUNCATE evil.captured;
SELECT created_at > '2000-01-01' AS real_now FROM vatoken_create('priv-owner', 'Shadowed');
SELECT count(*) FROM vatoken_list('priv-owner');
SELECT vatoken_delete('priv-owner', :m_id);
RESET search_path;
SELECT count(*) AS captured FROM evil.captured;
RESET ROLE;
SET search_path = evil, pg_catalog, public;
SELECT valid FROM vatoken_validate(:'m_tok');
RESET search_path;
SELECT count(*) AS captured_from_superuser FROM evil.captured;

DROP SCHEMA evil CASCADE;
REVOKE CREATE ON SCHEMA public FROM vt_api_manager;
REVOKE ALL ON FUNCTION vatoken_validate(text) FROM vt_api_server;
REVOKE ALL ON FUNCTION vatoken_create(text, text), vatoken_list(text),
    vatoken_usage(text, bigint), vatoken_delete(text, bigint) FROM vt_api_manager;
REVOKE ALL ON FUNCTION vt_try(text) FROM vt_api_server, vt_api_manager, vt_nobody;
DROP ROLE vt_nobody, vt_api_server, vt_api_manager;
