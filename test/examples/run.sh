#!/usr/bin/env bash
# test/examples/run.sh -- the examples of examples/, run for real.
#
#   1. A throwaway cluster (Unix socket only, in a temp directory, vatoken
#      preloaded) with examples/api-server/setup.sql.
#   2. The app (examples/api-server/app.py, with the settings page) on a port
#      the operating system chooses (--port 0 --port-file).
#   3. The API with curl: 401/403/200/503, the owner as the tenant, the
#      rate-limit answer when vatoken has one, the token never in a log.
#   4. The settings page in headless Chromium (test/examples/browser.py).
#
# Contract: run as a NON-root user; vatoken built and installed in the
# PostgreSQL whose pg_config is first in PATH.  Output (logs, screenshot) in
# $EXAMPLES_OUT (default: tmp_check_examples/ in the tree).  Last line:
# "examples: N passed, M failed".
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-$(pg_config --bindir)}
# Debian's python3-psycopg, -flask and -selenium are for the system Python.
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${EXAMPLES_OUT:-$REPO/tmp_check_examples}

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
not_ok() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/     | /'; }
die() { printf 'examples: %s\n' "$*" >&2; exit 2; }
# check LABEL EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2"$'\n'"got:      $3"; fi; }

[ "$(id -u)" -ne 0 ] || die "run me as a non-root user (initdb refuses root)"
for tool in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/psql" curl "$PYTHON"; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
"$PYTHON" -c 'import psycopg, flask' 2>/dev/null || die "missing python3-psycopg or python3-flask"

unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGSERVICE \
      PGSERVICEFILE PGOPTIONS PGSSLMODE PGAPPNAME 2>/dev/null || true

rm -rf "$OUT"
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vatoken-examples.XXXXXX")
APP_PID=

cleanup() {
    local rc=$?
    set +e
    if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; fi
    [ -f "$TMP/data/postmaster.pid" ] && "$PGBIN/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null 2>&1
    cp "$TMP/server.log" "$OUT/server.log" 2>/dev/null
    if [ "${EXAMPLES_KEEP:-0}" = 1 ]; then echo "examples: kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- cluster
# No TCP at all: the socket in $TMP is the only way in, so no port is
# needed (5432 only names the socket file).
"$PGBIN/initdb" -D "$TMP/data" -A trust -U postgres --no-sync >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log"; die "initdb failed"; }
cat >>"$TMP/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$TMP'
port = 5432
fsync = off
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '200ms'
EOF
"$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w start >/dev/null \
    || { cat "$TMP/server.log"; die "the cluster did not start"; }
DB="host=$TMP port=5432 dbname=postgres"
psql() { "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -qAt "$@"; }
psql "$DB user=postgres" -f "$REPO/examples/api-server/setup.sql" >/dev/null || die "setup.sql failed"
echo "# cluster ready (socket in $TMP)"

# Tokens made directly in SQL, as the settings page would.
mk() { psql "$DB user=postgres" -c "SELECT token FROM vatoken_create($1)"; }
T42=$(mk "'airline-42', 'reader', scopes => '{flights:read}'")
T7=$(mk "'airline-7', 'all scopes'")
TPIREP=$(mk "'airline-42', 'pireps only', scopes => '{pireps:write}'")
TFAR=$(mk "'airline-42', 'elsewhere', allowed_clients => '{203.0.113.0/24}'")
TREV=$(mk "'airline-42', 'leaked'")
TDIS=$(mk "'airline-42', 'disabled'")
TEXP=$(mk "'airline-42', 'expiring', expires_at => now() + interval '1 hour'")
TDEL=$(mk "'airline-42', 'deleted'")
psql "$DB user=postgres" >/dev/null <<EOF
SELECT vatoken_report_leak('$TREV', 'test');
SELECT vatoken_update('airline-42', token_id, enabled => false) FROM vatoken_list('airline-42') WHERE name = 'disabled';
SELECT vatoken_delete('airline-42', token_id) FROM vatoken_list('airline-42') WHERE name = 'deleted';
UPDATE vatoken.tokens SET expires_at = now() - interval '1 minute' WHERE name = 'expiring';
EOF
ALL_TOKENS=("$T42" "$T7" "$TPIREP" "$TFAR" "$TREV" "$TDIS" "$TEXP" "$TDEL")

# ---------------------------------------------------------------- app
"$PYTHON" "$REPO/examples/api-server/app.py" \
    --api-db "$DB user=api_server" --settings-db "$DB user=webapp" \
    --staff "$REPO/examples/settings-page/staff.example.json" \
    --host 127.0.0.1 --port 0 --port-file "$TMP/port" >"$OUT/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 100); do
    [ -s "$TMP/port" ] && break
    kill -0 "$APP_PID" 2>/dev/null || { cat "$OUT/app.log"; die "the app exited"; }
    sleep 0.1
done
[ -s "$TMP/port" ] || { cat "$OUT/app.log"; die "the app did not say its port"; }
PORT=$(cat "$TMP/port")
BASE="http://127.0.0.1:$PORT"
echo "# app listening on $BASE"

# req METHOD PATH [curl args...]: prints "STATUS" and keeps headers and body.
req() {
    local method=$1 path=$2
    shift 2
    curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" "$@" "$BASE$path"
}
header() { grep -i "^$1:" "$TMP/headers" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
bearer() { printf 'Authorization: Bearer %s' "$1"; }

echo "# API"
check "GET /health without a token: 200" 200 "$(req GET /health)"

check "no Authorization header: 401" 401 "$(req GET /flights)"
check "... with WWW-Authenticate: Bearer" 'Bearer realm="api"' "$(header WWW-Authenticate)"
check "Basic credentials: 401" 401 "$(req GET /flights -u a:b)"
check "an empty bearer token: 401" 401 "$(req GET /flights -H 'Authorization: Bearer ')"

for case in "malformed:vat_nonsense" \
            "unknown:vat_$(printf 'A%.0s' $(seq 49))" \
            "revoked:$TREV" "disabled:$TDIS" "expired:$TEXP" "unknown (deleted):$TDEL"; do
    what=${case%%:*}
    tok=${case#*:}
    code=$(req GET /flights -H "$(bearer "$tok")")
    check "$what token: 401" 401 "$code"
    check "... WWW-Authenticate says invalid_token" 'Bearer realm="api", error="invalid_token"' "$(header WWW-Authenticate)"
    check "... and no flight data" 0 "$(grep -c VA042 "$TMP/body" || true)"
done
check "a 300-character token is refused before the database: 401" 401 \
    "$(req GET /flights -H "$(bearer "$(printf 'x%.0s' $(seq 300))")")"

# Raw bytes no HTTP client would send: NUL, a control character, 0xff.
raw() {
    "$PYTHON" - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /flights HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + bytes.fromhex(sys.argv[2])
          + b"\r\nConnection: close\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())
PY
}
for bytes in 7661745f00ff 7661745f01 7661745fff41; do
    code=$(raw "$bytes")
    case "$code" in 400|401) ok "token bytes $bytes: $code, no data, no error" ;; *) not_ok "token bytes $bytes: 400 or 401" "got $code" ;; esac
done
check "... and the app still answers" 200 "$(req GET /health)"
check "valid token, right scope: 200" 200 "$(req GET /flights -H "$(bearer "$T42")")"
check "... the owner is the tenant" airline-42 "$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["owner"])' <"$TMP/body")"
check "... only that owner's flights" "VA042 VA043" \
    "$("$PYTHON" -c 'import json,sys; print(" ".join(f["flight"] for f in json.load(sys.stdin)["flights"]))' <"$TMP/body")"
check "scheme is case-insensitive (bearer): 200" 200 "$(req GET /flights -H "authorization: bearer $T42")"
check "another owner's token: 200" 200 "$(req GET /flights -H "$(bearer "$T7")")"
check "... sees only its own flights" "airline-7 SE007" \
    "$("$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["owner"], " ".join(f["flight"] for f in d["flights"]))' <"$TMP/body")"

check "token without the route's scope: 403" 403 "$(req GET /flights -H "$(bearer "$TPIREP")")"
check "... error insufficient_scope naming the scope" 'Bearer realm="api", error="insufficient_scope", scope="flights:read"' \
    "$(header WWW-Authenticate)"
check "the same token on its own route: 202" 202 "$(req POST /pireps -H "$(bearer "$TPIREP")")"
check "read-only token on a write route: 403" 403 "$(req POST /pireps -H "$(bearer "$T42")")"
check "client outside the token's allow-list (we are 127.0.0.1): 403" 403 "$(req GET /flights -H "$(bearer "$TFAR")")"
check "... forbidden_client" '"forbidden_client"' "$("$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["error"]))' <"$TMP/body")"
check "X-Forwarded-For does not change the client: 403" 403 \
    "$(req GET /flights -H "$(bearer "$TFAR")" -H 'X-Forwarded-For: 203.0.113.9')"

# Twenty requests at once through a pool of four connections: all answered.
codes=$(for _ in $(seq 20); do echo "$T7"; done \
    | xargs -P 20 -I{} curl -sS -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer {}" "$BASE/flights/count" \
    | sort | uniq -c | sed 's/^ *//')
check "20 concurrent requests through the pool: all 200" "20 200" "$codes"

# Only valid calls count: the reader token made 2 (its 403 on /pireps is not one).
calls=$(psql "$DB user=postgres" -c "SELECT calls_today FROM vatoken_list('airline-42') WHERE name = 'reader'")
check "valid calls are counted (2 for the reader token)" 2 "$calls"

# Rate limits: two calls a day; the third is refused with the headers.  The
# three calls must fall in one window: never start them in the last 15
# seconds of a UTC day.
TRATE=$(mk "'airline-42', 'rate limited'")
psql "$DB user=postgres" -c "SELECT vatoken_update('airline-42', token_id, rate_limit => 2, rate_window => '1 day') FROM vatoken_list('airline-42') WHERE name = 'rate limited'" >/dev/null \
    || not_ok "set a rate limit of 2 per window"
left=$(( 86400 - $(date -u +%s) % 86400 ))
[ "$left" -ge 15 ] || sleep $(( left + 1 ))
req GET /flights -H "$(bearer "$TRATE")" >/dev/null
check "a call under the limit: RateLimit-Policy and RateLimit" '"token";q=2 "token";r=0' \
    "$(req GET /flights -H "$(bearer "$TRATE")" >/dev/null; header RateLimit-Policy) $(header RateLimit | sed 's/;t=.*//')"
check "past the rate limit: 429" 429 "$(req GET /flights -H "$(bearer "$TRATE")")"
for h in X-RateLimit-Limit X-RateLimit-Remaining X-RateLimit-Reset Retry-After RateLimit-Policy RateLimit; do
    [ -n "$(header "$h")" ] && ok "... with $h" || not_ok "... with $h"
done
[[ "$(header RateLimit)" =~ ^\"token\"\;r=0\;t=([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -le 86400 ] \
    && ok "... RateLimit resets within the day's window" || not_ok "... RateLimit: $(header RateLimit)"
ALL_TOKENS+=("$TRATE")

# The app's 429 and 503 answers for exact values, against a stand-in for
# vatoken_verify (its result's shape) reached through the search_path of a
# second API role, served by a second instance of the app.
psql "$DB user=postgres" >/dev/null <<'SQL'
CREATE SCHEMA shim;
CREATE TYPE shim.verify_result AS (valid boolean, status text, token_id bigint, owner text, name text,
    scopes text[], expires_at timestamptz, rate_limit integer, rate_remaining integer,
    rate_reset timestamptz, retry_after interval);
CREATE FUNCTION shim.vatoken_verify(text, text[], inet) RETURNS shim.verify_result LANGUAGE sql AS $$
    SELECT CASE $1
        WHEN 'shim_limited' THEN ROW(false, 'rate_limited', 1, 'airline-42', 'x', '{*}', NULL,
                                     100, 0, '2026-12-01 00:00:30+00', '29.2 s')::shim.verify_result
        WHEN 'shim_valid' THEN ROW(true, 'valid', 1, 'airline-42', 'x', '{*}', NULL,
                                   100, 99, '2026-12-01 00:00:30+00', NULL)::shim.verify_result
        WHEN 'shim_stale' THEN ROW(false, 'stale', NULL, NULL, NULL, NULL, NULL,
                                   NULL, NULL, NULL, NULL)::shim.verify_result
        ELSE ROW(false, 'some_future_status', 1, 'airline-42', 'x', '{*}', NULL,
                 NULL, NULL, NULL, NULL)::shim.verify_result END
$$;
CREATE ROLE api_server_shim LOGIN IN ROLE api_server;
GRANT USAGE ON SCHEMA shim TO api_server_shim;
ALTER ROLE api_server_shim SET search_path = shim, public;
SQL
"$PYTHON" "$REPO/examples/api-server/app.py" --api-db "$DB user=api_server_shim" \
    --host 127.0.0.1 --port 0 --port-file "$TMP/port2" >"$OUT/app-shim.log" 2>&1 &
SHIM_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port2" ] && break; sleep 0.1; done
if [ -s "$TMP/port2" ]; then
    MAIN_BASE=$BASE
    BASE="http://127.0.0.1:$(cat "$TMP/port2")"
    check "stand-in rate_limited: 429" 429 "$(req GET /flights -H "$(bearer shim_limited)")"
    check "... X-RateLimit-Limit/Remaining/Reset, Retry-After (rounded up)" "100 0 1796083230 30" \
        "$(header X-RateLimit-Limit) $(header X-RateLimit-Remaining) $(header X-RateLimit-Reset) $(header Retry-After)"
    check "stand-in valid with a limit: 200 with X-RateLimit-Remaining" "200 99" \
        "$(req GET /flights -H "$(bearer shim_valid)") $(header X-RateLimit-Remaining)"
    check "stand-in stale: 503 with Retry-After" "503 5" "$(req GET /flights -H "$(bearer shim_stale)") $(header Retry-After)"
    check "a status the app does not know: 401 (fails closed)" 401 "$(req GET /flights -H "$(bearer shim_other)")"
    BASE=$MAIN_BASE
else
    not_ok "the second app (stand-in) did not say its port" "$(cat "$OUT/app-shim.log")"
fi
kill "$SHIM_PID" 2>/dev/null; wait "$SHIM_PID" 2>/dev/null || true

# The settings page signed in with curl (the browser test below does the
# rest), so that its pool too holds a connection across the restart.
jar=(-b "$TMP/cookies" -c "$TMP/cookies")
req GET /settings/login "${jar[@]}" >/dev/null
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$TMP/body" | head -n1)
check "settings page: sign in with the form's CSRF token: 303" 303 \
    "$(req POST /settings/login "${jar[@]}" --data-urlencode "csrf=$csrf" -d user=alice -d password=alice-example-password)"
check "settings page: the token list: 200" 200 "$(req GET /settings/api "${jar[@]}")"
check "... no-store, a CSP and no framing" "no-store|default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'|DENY" \
    "$(header Cache-Control)|$(header Content-Security-Policy)|$(header X-Frame-Options)"

# A restart behind the app's back: every pooled connection is dead, and the
# next requests still succeed.
"$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -m fast -w restart >/dev/null || die "restart failed"
check "after a database restart: 200 at once (dead pooled connections replaced)" 200 "$(req GET /flights -H "$(bearer "$T42")")"
check "... the settings page too" 200 "$(req GET /settings/api "${jar[@]}")"

# A database that is gone: 503, and the app recovers when it is back.
"$PGBIN/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null
check "database down: 503" 503 "$(req GET /flights -H "$(bearer "$T42")")"
check "... with Retry-After" 5 "$(header Retry-After)"
check "... and the settings page says so: 503" 503 "$(req GET /settings/api "${jar[@]}")"
"$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w start >/dev/null || die "start failed"
check "database back: 200" 200 "$(req GET /flights -H "$(bearer "$T42")")"
check "... the settings page too" 200 "$(req GET /settings/api "${jar[@]}")"

# ---------------------------------------------------------------- browser
echo "# settings page (headless Chromium)"
if "$PYTHON" -c 'import selenium' 2>/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    set +e
    "$PYTHON" "$REPO/test/examples/browser.py" "$BASE" "$OUT" "$DB user=postgres" >"$TMP/browser.out" 2>&1
    brc=$?
    set -e
    cat "$TMP/browser.out"
    bp=$(grep -c '^ok ' "$TMP/browser.out" || true)
    bf=$(grep -c '^FAIL ' "$TMP/browser.out" || true)
    passed=$((passed + bp))
    failed=$((failed + bf))
    [ "$brc" -eq 0 ] || [ "$bf" -gt 0 ] || not_ok "browser.py exited with $brc"
    # Tokens the browser created, for the log check below.
    [ -f "$OUT/browser-tokens" ] && mapfile -t -O "${#ALL_TOKENS[@]}" ALL_TOKENS <"$OUT/browser-tokens"
else
    not_ok "the settings page test needs python3-selenium, chromium and chromium-driver"
fi

# ---------------------------------------------------------------- logs
kill "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null || true
APP_PID=
! grep -q Traceback "$OUT/app.log" && ok "no request raised an error in the app" \
    || not_ok "no request raised an error in the app" "$(grep -A 20 Traceback "$OUT/app.log" | head -40)"
grep -q "GET '/flights' 200" "$OUT/app.log" && ok "the app logged its requests" || not_ok "the app logged its requests" "$(tail -n 5 "$OUT/app.log")"
leaks=0
for tok in "${ALL_TOKENS[@]}"; do
    [ -n "$tok" ] || continue
    # The secret part only (a prefix vat_ appears legitimately nowhere either).
    if grep -qF -- "${tok#vat_}" "$OUT/app.log" "$OUT/app-shim.log" "$TMP/server.log"; then leaks=$((leaks + 1)); fi
done
check "no token in the app's log or the server log (${#ALL_TOKENS[@]} tokens)" 0 "$leaks"

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
