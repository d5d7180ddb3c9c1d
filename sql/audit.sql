-- 2.0's audit trail: every change to a token, who made it and from where.
-- vatoken's clock is frozen at 2026-06-17 12:00 UTC (test/regress.conf).
SET timezone = 'UTC';
SELECT token AS a_tok, token_id AS a_id
FROM vatoken_create('aud', 'audited', '2026-12-31 00:00+00', '{ops:*}', '{10.0.0.0/8}') \gset
BEGIN;
SET LOCAL vatoken.actor = E'staff 42\n(Jane)';
SELECT vatoken_update('aud', :a_id, name => 'renamed', scopes => '{*}', enabled => false);
COMMIT;
SELECT vatoken_update('aud', :a_id, enabled => true, expires_at => 'infinity',
                      allowed_clients => '{0.0.0.0/0,::/0}');
SELECT count(*) AS rotated FROM vatoken_rotate('aud', :a_id, '1 hour');
SELECT vatoken_report_leak(:'a_tok', 'secret scanner');
SELECT vatoken_delete('aud', :a_id);

-- Changes that do not happen leave no event: another owner's token, a
-- deleted one, a rolled-back create, a bad argument.
SELECT vatoken_update('aud', :a_id, name => 'gone');
SELECT vatoken_delete('aud', :a_id);
BEGIN;
SELECT count(*) FROM vatoken_create('aud', 'rolled back');
ROLLBACK;
SELECT vatoken_update('aud', :a_id, scopes => '{"bad scope"}');

-- The events, oldest first; the token is gone, its events stay.
SELECT event, token_id = :a_id AS same_token, name, actor, role = session_user AS session_role,
       client IS NULL AS local_client, application_name, detail
FROM vatoken_audit('aud');
SELECT count(*) AS other_owner_events FROM vatoken_audit('someone-else');
SELECT count(*) AS events_since_tomorrow FROM vatoken_audit('aud', '2026-06-18');
-- No event holds a secret or a hash.
SELECT count(*) AS events_with_secrets FROM vatoken.audit
WHERE detail::text ~ 'vat_' OR detail::text ~ '\\x';

-- Only vatoken_audit_prune removes events.
UPDATE vatoken.audit SET at = at - interval '10 days' WHERE event = 'create' AND owner = 'aud';
SELECT vatoken_audit_prune('7 days') AS pruned;
SELECT vatoken_audit_prune('7 days') AS pruned_again;
SELECT count(*) AS events_left FROM vatoken_audit('aud');
SELECT vatoken_audit_prune('-1 day');
SELECT vatoken_audit_prune(NULL);
SELECT vatoken_audit(NULL);
