-- describe.sql: a description of everything the vatoken extension owns, one
-- line per fact, sorted, free of OIDs and of data, so that two databases can
-- be compared with a plain diff: a fresh install of the latest version
-- against an older version brought up to date with ALTER EXTENSION UPDATE,
-- or against a database restored from a dump (test/t/102_upgrade.pl).
--
-- It covers the extension itself (version, schema, relocatable, the
-- relations registered for pg_dump), every member object by its identity,
-- functions (signature, result, language, symbol, volatility, strictness,
-- parallel safety, cost, rows, SECURITY DEFINER, configuration, ACL),
-- tables (columns with types, defaults, collations, NOT NULL; constraints;
-- indexes; triggers; policies; options; ACLs, also of columns), sequences
-- (parameters, owning column, ACL), composite types (columns, ACL), schemas
-- (owner, ACL) and comments.
WITH ext AS (
    SELECT * FROM pg_extension WHERE extname = 'vatoken'
),
member AS (
    SELECT d.classid, d.objid
    FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
      AND d.deptype = 'e'
),
rel AS (
    SELECT c.* FROM pg_class c JOIN member m
      ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
),
fn AS (
    SELECT p.* FROM pg_proc p JOIN member m
      ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
),
facts(fact) AS (
    -- The extension.
    SELECT format('extension version=%s schema=%s relocatable=%s owner_is_superuser=%s',
                  extversion, extnamespace::regnamespace, extrelocatable,
                  (SELECT rolsuper FROM pg_roles WHERE oid = extowner))
    FROM ext
    UNION ALL
    SELECT format('extension config_dump %s condition=%L',
                  cfg.rel::regclass, coalesce(cond.c, ''))
    FROM ext,
         LATERAL unnest(ext.extconfig) WITH ORDINALITY AS cfg(rel, n)
         LEFT JOIN LATERAL unnest(ext.extcondition) WITH ORDINALITY AS cond(c, n2)
           ON cond.n2 = cfg.n
    UNION ALL
    -- Every member, by kind and name: catches objects of any kind.
    SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM member
    UNION ALL
    -- Comments on members.
    SELECT format('comment %s: %s', pg_describe_object(m.classid, m.objid, 0), d.description)
    FROM member m JOIN pg_description d ON d.classoid = m.classid AND d.objoid = m.objid
    UNION ALL
    -- Functions.
    SELECT format('function %s returns %s kind=%s lang=%s symbol=%s file=%s volatile=%s '
                  'strict=%s parallel=%s cost=%s rows=%s leakproof=%s secdef=%s config=%s acl=%s',
                  p.oid::regprocedure, pg_get_function_result(p.oid), p.prokind,
                  (SELECT lanname FROM pg_language WHERE oid = p.prolang),
                  p.prosrc, p.probin, p.provolatile, p.proisstrict, p.proparallel,
                  p.procost, p.prorows, p.proleakproof, p.prosecdef, p.proconfig,
                  p.proacl)
    FROM fn p
    UNION ALL
    SELECT format('function %s argument %s %s %s default=%s',
                  p.oid::regprocedure, a.n, coalesce(p.proargnames[a.n], '?'),
                  coalesce(p.proargmodes[a.n], 'i'),
                  CASE WHEN a.n = p.pronargs THEN pg_get_expr(p.proargdefaults, 0) END)
    FROM fn p, LATERAL generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) AS a(n)
    UNION ALL
    -- Relations.
    SELECT format('relation %s kind=%s persistence=%s owner_is_superuser=%s options=%s '
                  'rls=%s/%s acl=%s',
                  c.oid::regclass, c.relkind, c.relpersistence,
                  (SELECT rolsuper FROM pg_roles WHERE oid = c.relowner),
                  c.reloptions, c.relrowsecurity, c.relforcerowsecurity, c.relacl)
    FROM rel c
    UNION ALL
    SELECT format('column %s.%s %s notnull=%s default=%s identity=%s generated=%s collation=%s acl=%s',
                  a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
                  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity,
                  a.attgenerated,
                  (SELECT collname FROM pg_collation WHERE oid = a.attcollation), a.attacl)
    FROM rel c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT format('constraint %s %s: %s deferrable=%s/%s',
                  co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid),
                  co.condeferrable, co.condeferred)
    FROM rel c JOIN pg_constraint co ON co.conrelid = c.oid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM rel c JOIN pg_index i ON i.indrelid = c.oid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid))
    FROM rel c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s %s cmd=%s permissive=%s roles=%s using=%s check=%s',
                  po.polrelid::regclass, po.polname, po.polcmd, po.polpermissive,
                  po.polroles::regrole[], pg_get_expr(po.polqual, po.polrelid),
                  pg_get_expr(po.polwithcheck, po.polrelid))
    FROM rel c JOIN pg_policy po ON po.polrelid = c.oid
    UNION ALL
    SELECT format('sequence %s type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
                  s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement,
                  s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                  (SELECT format('%s.%s', d.refobjid::regclass, a.attname)
                   FROM pg_depend d
                   JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                     AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'))
    FROM rel c JOIN pg_sequence s ON s.seqrelid = c.oid
    UNION ALL
    -- Composite types: their columns and ACL.
    SELECT format('type %s columns=(%s) acl=%s', t.oid::regtype,
                  (SELECT string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)),
                                     ', ' ORDER BY a.attnum)
                   FROM pg_attribute a
                   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
                  t.typacl)
    FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    WHERE t.typtype = 'c'
    UNION ALL
    -- Schemas the extension created.
    SELECT format('schema %s owner_is_superuser=%s acl=%s', n.nspname,
                  (SELECT rolsuper FROM pg_roles WHERE oid = n.nspowner), n.nspacl)
    FROM pg_namespace n JOIN member m
      ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
)
SELECT fact FROM facts ORDER BY fact COLLATE "C";
