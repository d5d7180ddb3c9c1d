-- Install the extension and a helper that reports an error's SQLSTATE and
-- message, so that every bad-input case shows exactly what a client sees.
CREATE EXTENSION vatoken;

CREATE FUNCTION vt_try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Every object the extension owns, for a look at what it installs.
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vatoken')
  AND deptype = 'e'
ORDER BY 1;
