#!/usr/bin/env bash
# test/pam/run.sh -- every test of the PAM module pam_vatoken.
#
#   1. Check unit tests (argument parsing, result mapping, log lines).
#   2. Integration under pam_wrapper against a throwaway PostgreSQL cluster
#      with the vatoken extension: pamtester cases with exact PAM codes, the
#      usage counter, and a Check program reading the PAM environment.
#      The same checks through pgbouncer (transaction pooling, otherwise its
#      default settings), which refuses an "options" startup parameter.
#   3. End to end: nginx (auth_pam) with curl, and a second PostgreSQL
#      cluster whose pg_hba.conf uses "pam", with psql.  Their configuration
#      is generated from the files in examples/.
#
# Contract: run as a NON-root user (initdb refuses root); the vatoken
# extension is built and installed in the system PostgreSQL 15.  The script
# builds the module and its test programs itself (make -f mk/pam.mk), works
# only inside a mktemp directory, listens on unix sockets there (and on
# 127.0.0.1 only where TCP is the point: the "pam" cluster, retried on a bind
# failure, and a silent listener bound to port 0), and stops every server it
# started on exit.  Last line: "pam: N passed, M failed".
#
# Environment (all optional): PGBIN (default: pg_config --bindir, else
# /usr/lib/postgresql/15/bin),
# NGINX (default /usr/sbin/nginx), PGBOUNCER (default /usr/sbin/pgbouncer),
# VTP_KEEP=1 keeps the temp directory,
# VTP_PRELOAD=1 runs the token database with shared_preload_libraries=vatoken.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
NGINX=${NGINX:-/usr/sbin/nginx}
PGBOUNCER=${PGBOUNCER:-/usr/sbin/pgbouncer}
NGINX_AUTH_PAM=/usr/lib/nginx/modules/ngx_http_auth_pam_module.so
PWRAP_LIB=libpam_wrapper.so
NWRAP_LIB=libnss_wrapper.so
PAM_SECURITY=$(pkg-config --variable=libdir pam)/security
PWRAP_MODULES=$(pkg-config --variable=modules pam_wrapper 2>/dev/null || true)
[ -n "$PWRAP_MODULES" ] || PWRAP_MODULES=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/pam_wrapper
SO=$REPO/src/pam/pam_vatoken.so
EX=$REPO/examples

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
not_ok() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/     | /'; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
    die "run me as a non-root user (initdb refuses root), e.g. runuser -u postgres -- bash test/pam/run.sh"
fi
for tool in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/psql" pamtester curl openssl "$NGINX" "$PGBOUNCER" make gcc \
    perl readelf timeout; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
[ -f "$NGINX_AUTH_PAM" ] || die "missing $NGINX_AUTH_PAM (libnginx-mod-http-auth-pam)"

# Nothing from the caller's libpq environment may steer the tests.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGSERVICE \
      PGSERVICEFILE PGOPTIONS PGSSLMODE PGCONNECT_TIMEOUT PGAPPNAME 2>/dev/null || true

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pam_vatoken.XXXXXX")
SOCK=$TMP/sock
mkdir -p "$SOCK" "$TMP/pam.d" "$TMP/nginx"
MARKER="vt-run-${TMP##*/}"
echo "# marks pam_wrapper copies made by this run" >"$TMP/pam.d/$MARKER"
NGINX_PID=
SILENT_PID=
BOUNCER_PID=

cleanup() {
    local rc=$?
    set +e
    [ -z "$SILENT_PID" ] || kill "$SILENT_PID" 2>/dev/null
    if [ -n "$BOUNCER_PID" ]; then
        kill "$BOUNCER_PID" 2>/dev/null
        wait "$BOUNCER_PID" 2>/dev/null
    fi
    if [ -n "$NGINX_PID" ]; then
        kill "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
    fi
    for d in "$TMP/pg2" "$TMP/pg1"; do
        [ -f "$d/postmaster.pid" ] && "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
    done
    # pam_wrapper copies the service directory to /tmp/pam.?; a process that
    # ends without running its destructors (servers stopped by signal) leaves
    # its copy behind.  Ours are the ones holding this run's marker file.
    for d in /tmp/pam.?; do
        [ -f "$d/$MARKER" ] && [ -O "$d" ] && rm -rf "$d"
    done
    if [ "${VTP_KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Seconds since an arbitrary point, from CLOCK_MONOTONIC (for durations).
mono() { perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'printf "%.3f\n", clock_gettime(CLOCK_MONOTONIC)'; }
# within A B LIMIT: is B - A <= LIMIT (seconds, fractions allowed)?
within() { perl -e 'exit(($ARGV[1] - $ARGV[0] <= $ARGV[2]) ? 0 : 1)' "$@"; }

# ---------------------------------------------------------------- build
echo "# build (make -f mk/pam.mk pam pam-test-bins)"
make -s -C "$REPO" -f mk/pam.mk pam pam-test-bins >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log"; die "build failed"; }

# The distribution's hardening flags, as the binary shows them.
# (Output captured first: grep -q ending the pipe early would fail it under pipefail.)
hardening_check() {
    local label=$1 cmd=$2 pattern=$3 out
    out=$($cmd "$SO" 2>&1 || true)
    if grep -qE "$pattern" <<<"$out"; then ok "module built with $label"; else not_ok "module built with $label"; fi
}
hardening_check "-fstack-protector-strong (__stack_chk_fail)" "readelf --dyn-syms -W" '__stack_chk_fail'
hardening_check "_FORTIFY_SOURCE (__*_chk)" "readelf --dyn-syms -W" '__[a-z]+_chk@'
hardening_check "-z relro (GNU_RELRO)" "readelf -l -W" 'GNU_RELRO'
hardening_check "-z now (BIND_NOW)" "readelf -d -W" 'BIND_NOW|FLAGS.*NOW'

# Run a Check program; its per-test lines are shown, its summary counted.
run_check() {
    local label=$1 out rc=0 summary n f e
    shift
    out=$("$@" 2>"$TMP/check.err") || rc=$?
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL) ' | sed "s/^PASS /ok   $label: /; s/^FAIL /FAIL $label: /" || true
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' | tail -n1 || true)
    if [ -z "$summary" ]; then
        not_ok "$label: no Check summary (exit $rc)" "$(cat "$TMP/check.err")$out"
        return
    fi
    echo "     $summary"
    n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$summary")
    f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$summary")
    e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$summary")
    passed=$((passed + n - f - e))
    failed=$((failed + f + e))
    if [ "$((f + e))" -gt 0 ]; then
        printf '%s\n' "$out" | grep -vE '^(PASS|FAIL) ' | sed 's/^/     | /'
    elif [ "$rc" -ne 0 ]; then
        not_ok "$label: exit $rc" "$(cat "$TMP/check.err")"
    fi
}

echo "# unit tests (Check)"
run_check unit "$REPO/test/pam/build/test_pam_unit"

# ---------------------------------------------------------------- cluster 1
echo "# token database (throwaway cluster)"
# Unix socket only, in a private directory: the port is just a socket name.
PORT1=5432
"$PGBIN/initdb" -D "$TMP/pg1" -U vtadmin -A trust --no-sync >"$TMP/initdb1.log" 2>&1 \
    || { cat "$TMP/initdb1.log"; die "initdb failed"; }
cat >>"$TMP/pg1/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $PORT1
fsync = off
log_connections = off
EOF
# VTP_PRELOAD=1: count calls in shared memory (the extension's fast path).
if [ "${VTP_PRELOAD:-0}" = 1 ]; then
    echo "shared_preload_libraries = 'vatoken'" >>"$TMP/pg1/postgresql.conf"
fi
"$PGBIN/pg_ctl" -D "$TMP/pg1" -w -t 60 -l "$TMP/pg1.log" start >/dev/null \
    || { cat "$TMP/pg1.log"; die "cannot start the token database"; }

sql() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT1" -U vtadmin -d vatoken "$@"; }
"$PGBIN/createdb" -h "$SOCK" -p "$PORT1" -U vtadmin vatoken
sql >/dev/null <<'EOF'
CREATE EXTENSION vatoken;
-- The module's role: may run vatoken_validate, nothing else.
CREATE ROLE vatoken_pam LOGIN;
GRANT EXECUTE ON FUNCTION public.vatoken_validate(text) TO vatoken_pam;
-- 2.0: scope= and PAM_RHOST need vatoken_verify.
GRANT EXECUTE ON FUNCTION public.vatoken_verify(text, text[], inet) TO vatoken_pam;
CREATE ROLE nobody_pam LOGIN;
-- Stand-ins with the same signature, to test schema=, statement_timeout and a
-- reply that breaks the contract.
CREATE SCHEMA fake;
CREATE FUNCTION fake.vatoken_validate(token text)
  RETURNS TABLE(valid boolean, status text, token_id bigint, owner text, name text)
  LANGUAGE sql AS $$ SELECT true, 'valid', 7::bigint, 'alice', 'stand-in' $$;
CREATE SCHEMA slow;
CREATE FUNCTION slow.vatoken_validate(token text)
  RETURNS TABLE(valid boolean, status text, token_id bigint, owner text, name text)
  LANGUAGE sql AS $$ SELECT pg_sleep(10); SELECT true, 'valid', 7::bigint, 'alice', 'slow' $$;
CREATE SCHEMA broken;
CREATE FUNCTION broken.vatoken_validate(token text)
  RETURNS TABLE(valid boolean, status text, token_id bigint, owner text, name text)
  LANGUAGE sql AS $$ SELECT true, 'unknown', NULL::bigint, NULL, NULL $$;
-- Sleeps long enough for the test to stop its backend with SIGSTOP.
CREATE SCHEMA stall;
CREATE FUNCTION stall.vatoken_validate(token text)
  RETURNS TABLE(valid boolean, status text, token_id bigint, owner text, name text)
  LANGUAGE sql AS $$ SELECT pg_sleep(30); SELECT true, 'valid', 7::bigint, 'alice', 'stall' $$;
-- Terminates its own backend in the middle of the check.
CREATE SCHEMA suicide;
CREATE FUNCTION suicide.vatoken_validate(token text)
  RETURNS TABLE(valid boolean, status text, token_id bigint, owner text, name text)
  LANGUAGE sql AS $$ SELECT pg_terminate_backend(pg_backend_pid()); SELECT true, 'valid', 7::bigint, 'alice', 'suicide' $$;
GRANT USAGE ON SCHEMA fake, slow, broken, stall, suicide TO vatoken_pam;
EOF
# A database where every token is "valid": where a rogue service file or PG*
# variable would send the module.
"$PGBIN/createdb" -h "$SOCK" -p "$PORT1" -U vtadmin rogue
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT1" -U vtadmin -d rogue >/dev/null <<'EOF'
CREATE FUNCTION public.vatoken_validate(token text)
  RETURNS TABLE(valid boolean, status text, token_id bigint, owner text, name text)
  LANGUAGE sql AS $$ SELECT true, 'valid', 99::bigint, 'alice', 'rogue' $$;
GRANT EXECUTE ON FUNCTION public.vatoken_validate(text) TO vatoken_pam;
EOF

# mint OWNER NAME -> "id token"
mint() { sql -c "SELECT token_id || ' ' || token FROM vatoken_create('$1', '$2')"; }
read -r A_ID A_TOK <<<"$(mint alice ci)"
read -r B_ID B_TOK <<<"$(mint bob deploy)"
read -r D_ID D_TOK <<<"$(mint alice retired)"
read -r R_ID R_TOK <<<"$(mint root ops)"
[ "$(sql -c "SELECT vatoken_delete('alice', $D_ID)")" = t ] || die "cannot delete token $D_ID"
U_TOK=$("$REPO/test/pam/build/vt_mktoken")       # well formed, never issued
M_TOK="${A_TOK%?}x"                          # alice's token with a typo: bad checksum
[ "$M_TOK" != "$A_TOK" ] || M_TOK="${A_TOK%?}y"
# Tokens with a policy (2.0).  mintp OWNER NAME SQL-ARGS -> "id token"
mintp() { sql -c "SELECT token_id || ' ' || token FROM vatoken_create('$1', '$2', $3)"; }
read -r S_ID S_TOK <<<"$(mintp alice scoped "scopes => '{api:read,deploy}'")"
read -r S2_ID S2_TOK <<<"$(mintp alice deploy-only "scopes => '{deploy}'")"
read -r O_ID O_TOK <<<"$(mintp alice ops "scopes => '{ops:*}'")"
read -r C_ID C_TOK <<<"$(mintp alice netlimited "allowed_clients => '{203.0.113.0/24,2001:db8::/32}'")"
read -r X_ID X_TOK <<<"$(mintp alice expiring "expires_at => now() + interval '1 hour'")"
read -r DIS_ID DIS_TOK <<<"$(mint alice disabled)"
read -r RL_ID RL_TOK <<<"$(mintp alice limited "rate_limit => 1, rate_window => '1 day'")"
read -r REV_ID REV_TOK <<<"$(mint alice leaked)"
sql >/dev/null <<EOF
UPDATE vatoken.tokens SET expires_at = now() - interval '1 second' WHERE token_id = $X_ID;
SELECT vatoken_update('alice', $DIS_ID, enabled => false);
SELECT vatoken_report_leak('$REV_TOK', 'run.sh');
EOF
for t in "$S_TOK" "$S2_TOK" "$O_TOK" "$C_TOK" "$X_TOK" "$DIS_TOK" "$REV_TOK"; do
    [ -n "$t" ] || die "cannot mint the policy tokens"
done
[ "$(sql -c "SELECT string_agg(status, ',' ORDER BY t) FROM unnest(ARRAY['$X_TOK', '$DIS_TOK', '$REV_TOK'])
             WITH ORDINALITY AS u(tok, t), vatoken_validate(tok)")" = expired,disabled,revoked ] \
    || die "policy tokens are not expired, disabled, revoked"
# Total calls of a token, robust against a day or month boundary mid-run.
calls() { sql -c "SELECT calls_this_month + calls_last_month FROM vatoken_usage('$1', $2)"; }

# libpq service file, as in examples/postgresql/pg_service-vatoken.conf.
sed -e "s|^host=.*|host=$SOCK|" -e "s|^port=.*|port=$PORT1|" \
    "$EX/postgresql/pg_service-vatoken.conf" >"$TMP/pg_service.conf"
SF="servicefile=$TMP/pg_service.conf"

# The host user's home and environment, as an attacker would leave them: a
# service file and PG* variables that name the rogue database.  nss_wrapper
# makes $TMP/home the home that getpwuid reports, where libpq looks.
mkdir -p "$TMP/home"
printf '[vatoken]\nhost=%s\nport=%s\ndbname=rogue\nuser=vatoken_pam\n' "$SOCK" "$PORT1" \
    >"$TMP/home/.pg_service.conf"
cp "$TMP/home/.pg_service.conf" "$TMP/home/pg_service.conf"
{
    echo "$(id -un):x:$(id -u):$(id -g):test user:$TMP/home:/bin/sh"
    echo "alice:x:2001:2001:alice:$TMP/home:/bin/sh"
    echo "root:x:0:0:root:/root:/bin/sh"
} >"$TMP/passwd"
{
    echo "$(id -gn):x:$(id -g):"
    echo "api_users:x:2100:alice"
    echo "root:x:0:"
} >"$TMP/group"
NSS_ENV=(LD_PRELOAD="$PWRAP_LIB $NWRAP_LIB" NSS_WRAPPER_PASSWD="$TMP/passwd" NSS_WRAPPER_GROUP="$TMP/group")
ROGUE_ENV=("${NSS_ENV[@]}" HOME="$TMP/home" PGSERVICEFILE="$TMP/home/.pg_service.conf"
    PGSYSCONFDIR="$TMP/home" PGDATABASE=rogue PGHOST="$SOCK" PGPORT="$PORT1"
    PGUSER=vatoken_pam PGCLIENTENCODING=LATIN1)

# ---------------------------------------------------------------- PAM services
KV="[conninfo=host=$SOCK port=$PORT1 dbname=vatoken user=vatoken_pam]"
svc() { # name, lines...
    local name=$1
    shift
    printf '%s\n' "$@" >"$TMP/pam.d/$name"
}
svc vt-owner "auth required $SO $KV debug" "account required $SO $KV"
# "Token or password": a token, or else pam_matrix's password; either may
# then pass the account phase.
printf 'alice:s3cret:vt-or-password\n' >"$TMP/passdb"
svc vt-or-password "auth sufficient $SO $KV" "auth required $PWRAP_MODULES/pam_matrix.so passdb=$TMP/passdb" \
    "account required $SO $KV" "account required $PWRAP_MODULES/pam_matrix.so passdb=$TMP/passdb"
# authenticate goes on past a failed token, so acct_mgmt is reached.
svc vt-optional "auth optional $SO $KV" "auth required $PAM_SECURITY/pam_permit.so" \
    "account required $SO $KV debug"
# A second, broken pam_vatoken line after a success: its configuration
# error must drop the success that the first line left on the handle.
svc vt-cfgclear "auth required $SO $KV" "auth optional $SO $KV nullok" "account required $SO $KV"
svc vt-nodb "auth required $SO [conninfo=host=$SOCK port=$PORT1 user=vatoken_pam]" "account required $SO"
svc vt-sslpassword "auth required $SO [conninfo=host=$SOCK port=$PORT1 dbname=vatoken user=vatoken_pam sslpassword=hunter2]" \
    "account required $SO"
svc vt-tcp "auth required $SO [conninfo=host=127.0.0.1 port=1 dbname=vatoken user=vatoken_pam]" "account required $SO"
svc vt-tcp-prefer "auth required $SO [conninfo=host=$SOCK,localhost port=$PORT1 dbname=vatoken user=vatoken_pam sslmode=require]" \
    "account required $SO"
svc vt-tcp-noroot "auth required $SO [conninfo=hostaddr=127.0.0.1 port=1 dbname=vatoken user=vatoken_pam sslmode=verify-full]" \
    "account required $SO"
svc vt-tcp-insecure "auth required $SO [conninfo=host=127.0.0.1 port=1 dbname=vatoken user=vatoken_pam] insecure_tcp" \
    "account required $SO"
svc vt-any "auth required $SO $KV match=any" "account required $SO $KV match=any"
svc vt-uri "auth required $SO conninfo=postgresql://vatoken_pam@/vatoken?host=$SOCK&port=$PORT1" \
    "account required $SO"
svc vt-down "auth required $SO [conninfo=host=$TMP/nowhere port=$PORT1 dbname=vatoken user=vatoken_pam]" \
    "account required $SO"
svc vt-noschema "auth required $SO $KV schema=nosuch" "account required $SO"
svc vt-fake "auth required $SO $KV schema=fake" "account required $SO"
svc vt-slow "auth required $SO $KV schema=slow timeout=1" "account required $SO"
svc vt-suicide "auth required $SO $KV schema=suicide timeout=30" "account required $SO"
svc vt-stall "auth required $SO $KV schema=stall timeout=2" "account required $SO"
svc vt-broken "auth required $SO $KV schema=broken" "account required $SO"
svc vt-noright "auth required $SO [conninfo=host=$SOCK port=$PORT1 dbname=vatoken user=nobody_pam]" \
    "account required $SO"
svc vt-badarg "auth required $SO $KV nullok" "account required $SO nullok"
svc vt-badmatch "auth required $SO $KV match=everyone" "account required $SO"
svc vt-password "auth required $SO [conninfo=host=$SOCK port=$PORT1 user=vatoken_pam password=hunter2]" \
    "account required $SO"
svc vt-password-uri "auth required $SO conninfo=postgresql://vatoken_pam:hunter2@/vatoken?host=$SOCK" \
    "account required $SO"
svc vt-first "auth required $PWRAP_MODULES/pam_set_items.so" "auth required $SO $KV use_first_pass" \
    "account required $SO"
svc vt-try "auth required $PWRAP_MODULES/pam_set_items.so" "auth required $SO $KV try_first_pass" \
    "account required $SO"
# What libpam falls back to for a service without a file: refuse.
svc other "auth required $(pkg-config --variable=libdir pam)/security/pam_deny.so" \
    "account required $(pkg-config --variable=libdir pam)/security/pam_deny.so"
# The example services, verbatim but for the modules' paths and the service
# file of this run.
example_svc() {
    sed -e "s|^\([a-z]*[[:space:]].*\)pam_vatoken.so\(.*\)$|\1$SO\2 $SF|" \
        -e "s|pam_succeed_if.so|$PAM_SECURITY/pam_succeed_if.so|" "$EX/pam.d/$1" >"$TMP/pam.d/$1"
}
example_svc nginx-vatoken
example_svc postgresql-vatoken
example_svc sshd-vatoken

PWRAP_ENV=(LD_PRELOAD="$PWRAP_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$TMP/pam.d")

# What pamtester prints for each PAM code (pam_strerror).
pam_message() {
    case "$1" in
        PAM_SUCCESS) echo "successfully authenticated" ;;
        PAM_AUTH_ERR) echo "Authentication failure" ;;
        PAM_AUTHINFO_UNAVAIL) echo "Authentication service cannot retrieve authentication info" ;;
        PAM_SERVICE_ERR) echo "Error in service module" ;;
        PAM_USER_UNKNOWN) echo "User not known to the underlying authentication module" ;;
        PAM_PERM_DENIED) echo "Permission denied" ;;
        *) echo "?" ;;
    esac
}

# case_pt LABEL EXPECTED_CODE SERVICE USER TOKEN [OPS...]
# Feeds TOKEN to pamtester on stdin (extra env: PT_ENV array); checks the code.
PT_ENV=()
PT_OPTS=()   # pamtester options before the service, e.g. (-I rhost=203.0.113.7)
case_pt() {
    local label=$1 code=$2 service=$3 user=$4 token=$5 out rc=0 want
    shift 5
    [ $# -gt 0 ] || set -- authenticate
    out=$(printf '%s\n' "$token" | env "${PWRAP_ENV[@]}" PAM_WRAPPER_DEBUGLEVEL=2 ${PT_ENV[@]+"${PT_ENV[@]}"} \
        timeout 60 pamtester ${PT_OPTS[@]+"${PT_OPTS[@]}"} "$service" "$user" "$@" 2>"$TMP/pt.err") || rc=$?
    want="pamtester: $(pam_message "$code")"
    if [ "$code" = PAM_SUCCESS ]; then
        if [ "$rc" -eq 0 ] && grep -qxF "$want" <<<"$out"; then ok "$label -> $code"; return 0; fi
    # (a module's own prompt may share the line)
    elif [ "$rc" -ne 0 ] && grep -qE "(^|: )$want\$" "$TMP/pt.err"; then
        ok "$label -> $code"
        return 0
    fi
    not_ok "$label -> expected $code (exit $rc)" "$out$(cat "$TMP/pt.err")"
    return 0
}

# expect_calls LABEL OWNER ID BEFORE DELTA
expect_calls() {
    local now
    now=$(calls "$2" "$3")
    if [ "$now" -eq "$(($4 + $5))" ]; then
        ok "$1: usage counter of token $3 moved by $5"
    else
        not_ok "$1: usage counter of token $3 moved by $(($now - $4)), expected $5"
    fi
}

# log_check LABEL TEXT SECRET: the log of the last case_pt (pam_wrapper sends
# pam_syslog to stderr; level 2 shows LOG_DEBUG lines but not its own traces
# of PAM_AUTHTOK) has TEXT and not SECRET.
log_check() {
    if grep -qF -- "$2" "$TMP/pt.err" && ! grep -qF -- "$3" "$TMP/pt.err"; then
        ok "$1"
    else
        not_ok "$1" "$(cat "$TMP/pt.err")"
    fi
}

echo "# pamtester under pam_wrapper"
c0=$(calls alice "$A_ID")
case_pt "valid token, user = owner" PAM_SUCCESS vt-owner alice "$A_TOK" authenticate acct_mgmt
log_check "debug log names the token id, never the token" \
    "token $A_ID (\"ci\") of owner \"alice\" accepted" "$A_TOK"
expect_calls "valid token" alice "$A_ID" "$c0" 1
c0=$(calls alice "$A_ID")
case_pt "valid token, acct_mgmt agrees" PAM_SUCCESS vt-owner alice "$A_TOK" authenticate acct_mgmt setcred
case_pt "valid token, URI conninfo" PAM_SUCCESS vt-uri alice "$A_TOK"
case_pt "valid token, service= conninfo (example file)" PAM_SUCCESS nginx-vatoken alice "$A_TOK" authenticate acct_mgmt
expect_calls "three more successes" alice "$A_ID" "$c0" 3

c0=$(calls bob "$B_ID")
case_pt "owner mismatch (bob's token, user alice)" PAM_AUTH_ERR vt-owner alice "$B_TOK"
expect_calls "owner mismatch (validate still counts the presented token)" bob "$B_ID" "$c0" 1
c0=$(calls bob "$B_ID")
case_pt "match=any accepts bob's token for alice" PAM_SUCCESS vt-any alice "$B_TOK" authenticate acct_mgmt
case_pt "match=any, unknown user name" PAM_SUCCESS vt-any nosuchuser "$B_TOK"
expect_calls "match=any" bob "$B_ID" "$c0" 2

c0=$(calls alice "$A_ID")
case_pt "wrong token (well formed, never issued)" PAM_AUTH_ERR vt-owner alice "$U_TOK"
log_check "refusal is logged, without the token" \
    'user "alice": token refused: unknown token' "$U_TOK"
case_pt "wrong token, match=any" PAM_AUTH_ERR vt-any alice "$U_TOK"
case_pt "empty token" PAM_AUTH_ERR vt-owner alice ""
case_pt "malformed token (garbage)" PAM_AUTH_ERR vt-owner alice "hunter2"
case_pt "malformed token (bad checksum)" PAM_AUTH_ERR vt-owner alice "$M_TOK"
case_pt "malformed token (too long)" PAM_AUTH_ERR vt-owner alice "${A_TOK}x"
case_pt "deleted token" PAM_AUTH_ERR vt-owner alice "$D_TOK"
# pamtester stops at the first failure: these stacks let authenticate pass.
case_pt "acct_mgmt after a failed token: no opinion, a stack of only pam_vatoken fails" \
    PAM_PERM_DENIED vt-optional alice "$U_TOK" authenticate acct_mgmt
log_check "... and acct_mgmt was reached (it says why)" "no successful token authentication" "$U_TOK"
case_pt "acct_mgmt without authenticate: a stack of only pam_vatoken fails" PAM_PERM_DENIED vt-owner alice "" acct_mgmt
expect_calls "failures" alice "$A_ID" "$c0" 0
case_pt "token or password: password login passes account" PAM_SUCCESS vt-or-password alice $'s3cret\ns3cret' \
    authenticate acct_mgmt
case_pt "token or password: token login passes account" PAM_SUCCESS vt-or-password alice "$A_TOK" \
    authenticate acct_mgmt
case_pt "token or password: wrong password" PAM_AUTH_ERR vt-or-password alice $'wrong\nwrong' authenticate
case_pt "a broken second pam_vatoken line drops the first one's success" PAM_PERM_DENIED vt-cfgclear alice "$A_TOK" \
    authenticate acct_mgmt

case_pt "database unreachable" PAM_AUTHINFO_UNAVAIL vt-down alice "$A_TOK"
case_pt "query fails (schema=nosuch)" PAM_AUTHINFO_UNAVAIL vt-noschema alice "$A_TOK"
case_pt "query fails (role without EXECUTE)" PAM_AUTHINFO_UNAVAIL vt-noright alice "$A_TOK"
case_pt "schema= is honoured (stand-in function)" PAM_SUCCESS vt-fake alice "$A_TOK"
t0=$SECONDS
case_pt "statement_timeout (timeout=1, function sleeps 10 s)" PAM_AUTHINFO_UNAVAIL vt-slow alice "$A_TOK"
if [ $((SECONDS - t0)) -le 5 ] && grep -q "query failed (SQLSTATE 57014)" "$TMP/pt.err"; then
    ok "timeout=1 cancels the query (57014) within 5 s"
else
    not_ok "timeout=1 cancels the query (57014) within 5 s (took $((SECONDS - t0)) s)" "$(cat "$TMP/pt.err")"
fi

echo "# one deadline for the whole check (timeout=2: back within 3 s)"
# A listener that accepts and never answers, on a unix socket and on
# 127.0.0.1 port 0 (the kernel picks a free port; no guessing).
mkdir -p "$TMP/silent"
perl -MIO::Socket::INET -MIO::Socket::UNIX -MIO::Select -e '
    my $u = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 16) or die "unix: $!";
    my $t = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 16, ReuseAddr => 1) or die "tcp: $!";
    open(my $f, ">", "$ARGV[1].tmp") or die; print $f $t->sockport, "\n"; close $f; rename("$ARGV[1].tmp", $ARGV[1]);
    my $sel = IO::Select->new($u, $t); my @held;
    while (1) { for my $l ($sel->can_read) { push @held, scalar $l->accept } }
' "$TMP/silent/.s.PGSQL.5432" "$TMP/silent.port" 2>"$TMP/silent.log" &
SILENT_PID=$!
for _ in $(seq 1 100); do [ -s "$TMP/silent.port" ] && break; sleep 0.05; done
SPORT=$(cat "$TMP/silent.port" 2>/dev/null || echo 0)
svc vt-silent "auth required $SO [conninfo=host=$TMP/silent,$TMP/silent dbname=vatoken user=vatoken_pam connect_timeout=0] timeout=2" \
    "account required $SO"
svc vt-silent-tcp "auth required $SO [conninfo=host=127.0.0.1,127.0.0.1 port=$SPORT,$SPORT dbname=vatoken user=vatoken_pam connect_timeout=1] timeout=2 insecure_tcp" \
    "account required $SO"
# bounded LABEL SERVICE: PAM_AUTHINFO_UNAVAIL within timeout + 1 s, by the deadline.
bounded() {
    local t0 t1
    t0=$(mono)
    case_pt "$1" PAM_AUTHINFO_UNAVAIL "$2" alice "$A_TOK"
    t1=$(mono)
    if within "$t0" "$t1" 3 && grep -q "no answer within timeout=2 s" "$TMP/pt.err"; then
        ok "$1: back within timeout + 1 s"
    else
        not_ok "$1: back within timeout + 1 s (took $(perl -e 'printf "%.1f", $ARGV[1] - $ARGV[0]' "$t0" "$t1") s)" "$(cat "$TMP/pt.err")"
    fi
}
bounded "silent listener, two socket hosts, connect_timeout=0" vt-silent
bounded "silent listener, two TCP hosts, connect_timeout=1 each" vt-silent-tcp
kill "$SILENT_PID" 2>/dev/null || true
wait "$SILENT_PID" 2>/dev/null || true
SILENT_PID=

# The backend stops (SIGSTOP) in the middle of the query.
t0=$(mono)
printf '%s\n' "$A_TOK" | env "${PWRAP_ENV[@]}" PAM_WRAPPER_DEBUGLEVEL=2 timeout 60 \
    pamtester vt-stall alice authenticate >/dev/null 2>"$TMP/stall.err" &
PT_PID=$!
STALL_PID=
for _ in $(seq 1 200); do
    STALL_PID=$(sql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pam_vatoken'
                        AND state = 'active' AND query LIKE '%stall%'")
    [ -n "$STALL_PID" ] && break
    sleep 0.02
done
if [ -n "$STALL_PID" ]; then
    kill -STOP "$STALL_PID"
    # Old code waits as long as the backend is stopped: resume it after 15 s.
    ( sleep 15; kill -CONT "$STALL_PID" 2>/dev/null ) &
    WATCH_PID=$!
fi
rc=0
wait "$PT_PID" || rc=$?
t1=$(mono)
if [ -n "$STALL_PID" ]; then
    # Either may be gone already (the watchdog after 15 s, the backend after it).
    kill "$WATCH_PID" 2>/dev/null || true
    wait "$WATCH_PID" 2>/dev/null || true
    kill -CONT "$STALL_PID" 2>/dev/null || true
    sql -c "SELECT pg_terminate_backend($STALL_PID)" >/dev/null 2>&1 || true
fi
if [ -z "$STALL_PID" ]; then
    not_ok "backend stopped mid-query: backend not found" "$(cat "$TMP/stall.err")"
elif [ "$rc" -ne 0 ] && within "$t0" "$t1" 3 && grep -q "query failed: no answer within timeout=2 s" "$TMP/stall.err" \
    && grep -qxF "pamtester: $(pam_message PAM_AUTHINFO_UNAVAIL)" "$TMP/stall.err"; then
    ok "backend stopped mid-query -> PAM_AUTHINFO_UNAVAIL within timeout + 1 s"
else
    not_ok "backend stopped mid-query -> PAM_AUTHINFO_UNAVAIL within timeout + 1 s (took $(perl -e 'printf "%.1f", $ARGV[1] - $ARGV[0]' "$t0" "$t1") s)" \
        "$(cat "$TMP/stall.err")"
fi

case_pt "backend terminated during the check" PAM_AUTHINFO_UNAVAIL vt-suicide alice "$A_TOK"
if grep -q "query failed" "$TMP/pt.err" && ! grep -q "no answer within timeout" "$TMP/pt.err"; then
    ok "backend terminated during the check: reported at once as a failed query, not at the deadline"
else
    not_ok "backend terminated during the check: reported at once as a failed query, not at the deadline" \
        "$(cat "$TMP/pt.err")"
fi
case_pt "reply breaks the contract (valid but status unknown)" PAM_AUTHINFO_UNAVAIL vt-broken alice "$A_TOK"
case_pt "unknown argument" PAM_SERVICE_ERR vt-badarg alice "$A_TOK"
case_pt "unknown argument (acct_mgmt)" PAM_PERM_DENIED vt-badarg alice "" acct_mgmt
case_pt "bad match= value" PAM_SERVICE_ERR vt-badmatch alice "$A_TOK"
case_pt "password in conninfo (keyword form)" PAM_SERVICE_ERR vt-password alice "$A_TOK"
case_pt "password in conninfo (URI form)" PAM_SERVICE_ERR vt-password-uri alice "$A_TOK"
log_check "password refusal is logged, without the password" \
    "conninfo must not contain a password" hunter2
case_pt "sslpassword in conninfo (every secret libpq knows)" PAM_SERVICE_ERR vt-sslpassword alice "$A_TOK"
log_check "sslpassword refusal is logged, without the value" "secret (sslpassword" hunter2

echo "# TCP needs a verified server"
case_pt "TCP without sslmode" PAM_SERVICE_ERR vt-tcp alice "$A_TOK"
log_check "TCP refusal says what to do" "sslmode=verify-full (or verify-ca), or the argument insecure_tcp" "$A_TOK"
case_pt "one TCP host among sockets, sslmode=require" PAM_SERVICE_ERR vt-tcp-prefer alice "$A_TOK"
case_pt "hostaddr, verify-full without sslrootcert" PAM_SERVICE_ERR vt-tcp-noroot alice "$A_TOK"
case_pt "TCP with insecure_tcp is tried" PAM_AUTHINFO_UNAVAIL vt-tcp-insecure alice "$A_TOK"

echo "# user names"
case_pt "match=any, user name with CR/LF" PAM_AUTH_ERR vt-any $'bob\r\nX-Injected: 1' "$B_TOK"
case_pt "match=owner, user name with a tab" PAM_AUTH_ERR vt-owner $'alice\t' "$A_TOK"

echo "# the host user's home and environment change nothing"
PT_ENV=("${ROGUE_ENV[@]}")
case_pt "rogue ~/.pg_service.conf, PGSERVICEFILE, PG*: never-issued token refused" PAM_AUTH_ERR \
    nginx-vatoken alice "$U_TOK"
case_pt "rogue home and environment: a real token still accepted" PAM_SUCCESS nginx-vatoken alice "$A_TOK"
case_pt "PGDATABASE does not fill a missing dbname" PAM_AUTHINFO_UNAVAIL vt-nodb alice "$U_TOK"
PT_ENV=("${ROGUE_ENV[@]}" PGHOSTADDR=127.0.0.1)
case_pt "PGHOSTADDR (no default to pin) is refused" PAM_SERVICE_ERR nginx-vatoken alice "$U_TOK"
PT_ENV=("${ROGUE_ENV[@]}" PGOPTIONS="-c statement_timeout=0")
case_pt "PGOPTIONS (the module sets no options of its own) is refused" PAM_SERVICE_ERR nginx-vatoken alice "$U_TOK"
PT_ENV=("${ROGUE_ENV[@]}" PGSERVICE=vatoken)
case_pt "PGSERVICE is refused" PAM_SERVICE_ERR vt-owner alice "$U_TOK"
PT_ENV=()

echo "# match=owner under an sshd-like stack: examples/pam.d/sshd-vatoken"
PT_ENV=("${NSS_ENV[@]}")
case_pt "root's token for root, root not in api_users" PAM_AUTH_ERR sshd-vatoken root "$R_TOK"
case_pt "alice (in api_users) with her token" PAM_SUCCESS sshd-vatoken alice "$A_TOK" authenticate acct_mgmt
PT_ENV=()

PT_ENV=(PAM_AUTHTOK="$A_TOK")
case_pt "use_first_pass takes the stacked token" PAM_SUCCESS vt-first alice "not-read"
case_pt "try_first_pass takes the stacked token" PAM_SUCCESS vt-try alice "not-read"
PT_ENV=()
case_pt "use_first_pass without a stacked token" PAM_AUTH_ERR vt-first alice "$A_TOK"
case_pt "try_first_pass without a stacked token prompts" PAM_SUCCESS vt-try alice "$A_TOK"

echo "# token policy (2.0): scope=, PAM_RHOST, expired/disabled/revoked"
svc vt-scope "auth required $SO $KV scope=api:read debug" "account required $SO $KV scope=api:read"
svc vt-scope2 "auth required $SO $KV scope=api:read scope=deploy" "account required $SO $KV"
svc vt-scope-ops "auth required $SO $KV scope=ops:read" "account required $SO $KV"
svc vt-scope-opsbare "auth required $SO $KV scope=ops" "account required $SO $KV"
svc vt-scope-wild "auth required $SO $KV scope=ops:*" "account required $SO $KV scope=ops:*"
svc vt-scope-char "auth required $SO $KV scope=api/read" "account required $SO $KV"
svc vt-scope-empty "auth required $SO $KV scope=" "account required $SO $KV"
svc vt-scope-long "auth required $SO $KV scope=$(printf 'a%.0s' $(seq 1 101))" "account required $SO $KV"
svc vt-scope-optional "auth optional $SO $KV scope=ops:read" "auth required $PAM_SECURITY/pam_permit.so" \
    "account required $SO $KV debug"

c0=$(calls alice "$S_ID")
case_pt "scope=: a token granted that scope" PAM_SUCCESS vt-scope alice "$S_TOK" authenticate acct_mgmt
case_pt "scope= twice: a token granted both" PAM_SUCCESS vt-scope2 alice "$S_TOK" authenticate acct_mgmt
expect_calls "scope= successes" alice "$S_ID" "$c0" 2
c0=$(calls alice "$S_ID")
case_pt "scope=: a token without that scope" PAM_AUTH_ERR vt-scope-ops alice "$S_TOK"
log_check "scope refusal names the status forbidden_scope, never the token" "forbidden_scope" "$S_TOK"
expect_calls "forbidden_scope is not an API call" alice "$S_ID" "$c0" 0
case_pt "scope= twice: a token granted only one of them" PAM_AUTH_ERR vt-scope2 alice "$S2_TOK"
log_check "... refused as forbidden_scope" "forbidden_scope" "$S2_TOK"
case_pt "scope=: a token without a scope list (every scope)" PAM_SUCCESS vt-scope alice "$A_TOK"
case_pt "scope=ops:read: a token granted ops:*" PAM_SUCCESS vt-scope-ops alice "$O_TOK" authenticate acct_mgmt
case_pt "scope=ops: ops:* does not grant the bare prefix" PAM_AUTH_ERR vt-scope-opsbare alice "$O_TOK"
log_check "... refused as forbidden_scope" "forbidden_scope" "$O_TOK"
case_pt "acct_mgmt after forbidden_scope: no opinion, a stack of only pam_vatoken fails" PAM_PERM_DENIED \
    vt-scope-optional alice "$S_TOK" authenticate acct_mgmt
log_check "... and acct_mgmt was reached" "no successful token authentication" "$S_TOK"
case_pt "scope=ops:* (a wildcard is not a required scope)" PAM_SERVICE_ERR vt-scope-wild alice "$O_TOK"
log_check "bad scope= is a configuration error naming the argument" \
    "configuration error: bad value (expected 1 to 100 characters of A-Za-z0-9_.:-, no *): scope" "$O_TOK"
case_pt "scope=ops:* in acct_mgmt" PAM_PERM_DENIED vt-scope-wild alice "" acct_mgmt
case_pt "scope=api/read (bad character)" PAM_SERVICE_ERR vt-scope-char alice "$S_TOK"
log_check "... a configuration error naming the argument" "bad value (expected 1 to 100 characters" "$S_TOK"
case_pt "scope= (empty)" PAM_SERVICE_ERR vt-scope-empty alice "$S_TOK"
log_check "... a configuration error naming the argument" "bad value (expected 1 to 100 characters" "$S_TOK"
case_pt "scope= of 101 characters" PAM_SERVICE_ERR vt-scope-long alice "$S_TOK"
log_check "... a configuration error naming the argument" "bad value (expected 1 to 100 characters" "$S_TOK"

# PAM_RHOST: the client of a token with an allow-list (203.0.113.0/24, 2001:db8::/32).
c0=$(calls alice "$C_ID")
PT_OPTS=(-I rhost=203.0.113.7)
case_pt "allow-list, PAM_RHOST an IPv4 address in it" PAM_SUCCESS vt-owner alice "$C_TOK" authenticate acct_mgmt
PT_OPTS=(-I rhost=2001:db8::5)
case_pt "allow-list, PAM_RHOST an IPv6 address in it" PAM_SUCCESS vt-owner alice "$C_TOK"
PT_OPTS=(-I rhost=::ffff:203.0.113.9)
case_pt "allow-list, PAM_RHOST an IPv4-mapped IPv6 address in it" PAM_SUCCESS vt-owner alice "$C_TOK"
expect_calls "allow-list successes" alice "$C_ID" "$c0" 3
c0=$(calls alice "$C_ID")
PT_OPTS=(-I rhost=198.51.100.1)
case_pt "allow-list, PAM_RHOST an address outside it" PAM_AUTH_ERR vt-owner alice "$C_TOK"
log_check "client refusal names the status forbidden_client and the client, never the token" \
    "forbidden_client (client 198.51.100.1)" "$C_TOK"
PT_OPTS=(-I rhost=client.example.org)
case_pt "allow-list, PAM_RHOST a host name (fails closed)" PAM_AUTH_ERR vt-owner alice "$C_TOK"
log_check "... refused as forbidden_client, no client address" "forbidden_client (no client address" "$C_TOK"
PT_OPTS=(-I "rhost=203.0.113.7 ")
case_pt "allow-list, PAM_RHOST an address with a trailing space (not an address)" PAM_AUTH_ERR vt-owner alice "$C_TOK"
log_check "... refused as forbidden_client, no client address" "forbidden_client (no client address" "$C_TOK"
PT_OPTS=()
case_pt "allow-list, no PAM_RHOST (fails closed)" PAM_AUTH_ERR vt-owner alice "$C_TOK"
log_check "... refused as forbidden_client, no client address" "forbidden_client (no client address" "$C_TOK"
expect_calls "allow-list refusals are not API calls" alice "$C_ID" "$c0" 0
PT_OPTS=(-I rhost=client.example.org)
case_pt "no allow-list: a host name in PAM_RHOST changes nothing" PAM_SUCCESS vt-owner alice "$A_TOK"
PT_OPTS=(-I rhost=203.0.113.7)
case_pt "allow-list and scope= together" PAM_SUCCESS vt-scope alice "$C_TOK"
PT_OPTS=()

case_pt "expired token" PAM_AUTH_ERR vt-owner alice "$X_TOK"
log_check "... refused as expired, never the token" "token refused: expired" "$X_TOK"
case_pt "disabled token" PAM_AUTH_ERR vt-owner alice "$DIS_TOK"
log_check "... refused as disabled, never the token" "token refused: disabled" "$DIS_TOK"
case_pt "revoked (leaked) token" PAM_AUTH_ERR vt-owner alice "$REV_TOK"
log_check "... refused as revoked, never the token" "token refused: revoked" "$REV_TOK"
# A token whose window (a UTC day) is full: its one call is taken here, at
# least a minute before the window ends (else after it), so that the PAM
# check below falls in the same window whatever the time of day.
left=$(sql -c "SELECT pg_catalog.ceil(extract(epoch FROM rate_reset - clock_timestamp()))::int
               FROM vatoken_verify('$RL_TOK')")
if [ "$left" -lt 60 ]; then
    sleep $((left + 1))
    sql -c "SELECT status FROM vatoken_verify('$RL_TOK')" >/dev/null
fi
c0=$(calls alice "$RL_ID")
case_pt "rate-limited token (its window is full)" PAM_AUTH_ERR vt-owner alice "$RL_TOK"
log_check "... refused as rate_limited, never the token" "token refused: rate_limited" "$RL_TOK"
expect_calls "a rate-limited refusal is not an API call" alice "$RL_ID" "$c0" 0
case_pt "expired token, match=any" PAM_AUTH_ERR vt-any alice "$X_TOK"
case_pt "acct_mgmt after an expired token: no opinion, a stack of only pam_vatoken fails" PAM_PERM_DENIED \
    vt-optional alice "$X_TOK" authenticate acct_mgmt

echo "# a database still at schema 1.2 (no vatoken_verify)"
"$PGBIN/createdb" -h "$SOCK" -p "$PORT1" -U vtadmin vt1
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT1" -U vtadmin -d vt1 >/dev/null <<'EOF'
CREATE EXTENSION vatoken VERSION '1.2';
GRANT EXECUTE ON FUNCTION public.vatoken_validate(text) TO vatoken_pam;
EOF
read -r V1_ID V1_TOK <<<"$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT1" -U vtadmin -d vt1 \
    -c "SELECT token_id || ' ' || token FROM vatoken_create('alice', 'v1')")"
[ -n "$V1_TOK" ] || die "cannot mint a token in the 1.2 database"
V1KV="[conninfo=host=$SOCK port=$PORT1 dbname=vt1 user=vatoken_pam]"
svc vt-v1 "auth required $SO $V1KV debug" "account required $SO $V1KV"
svc vt-v1-scope "auth required $SO $V1KV scope=api:read" "account required $SO $V1KV"
case_pt "schema 1.2, no scope=: falls back to vatoken_validate" PAM_SUCCESS vt-v1 alice "$V1_TOK" authenticate acct_mgmt
log_check "... and says so with debug" "vatoken_verify unavailable (SQLSTATE 42883); checked with vatoken_validate" \
    "$V1_TOK"
PT_OPTS=(-I rhost=203.0.113.7)
case_pt "schema 1.2, no scope=, PAM_RHOST set: still vatoken_validate" PAM_SUCCESS vt-v1 alice "$V1_TOK"
PT_OPTS=()
case_pt "schema 1.2, no scope=: unknown token refused" PAM_AUTH_ERR vt-v1 alice "$U_TOK"
case_pt "schema 1.2, scope= given: fails closed" PAM_AUTHINFO_UNAVAIL vt-v1-scope alice "$V1_TOK"
log_check "... saying why" "scope= needs vatoken_verify (vatoken 2.0)" "$V1_TOK"
# The 2.0 database, a role that may run vatoken_validate but not vatoken_verify
# (a 1.x grant recipe after ALTER EXTENSION UPDATE).
sql >/dev/null <<'EOF'
CREATE ROLE validate_only_pam LOGIN;
GRANT EXECUTE ON FUNCTION public.vatoken_validate(text) TO validate_only_pam;
EOF
VOKV="[conninfo=host=$SOCK port=$PORT1 dbname=vatoken user=validate_only_pam]"
svc vt-validate-only "auth required $SO $VOKV debug" "account required $SO $VOKV"
svc vt-validate-only-scope "auth required $SO $VOKV scope=api:read" "account required $SO $VOKV"
case_pt "no EXECUTE on vatoken_verify, no scope=: falls back to vatoken_validate" PAM_SUCCESS \
    vt-validate-only alice "$A_TOK"
log_check "... and says so with debug" "vatoken_verify unavailable (SQLSTATE 42501)" "$A_TOK"
PT_OPTS=(-I rhost=203.0.113.7)
case_pt "no EXECUTE on vatoken_verify: an allow-list token fails closed (no client)" PAM_AUTH_ERR \
    vt-validate-only alice "$C_TOK"
PT_OPTS=()
case_pt "no EXECUTE on vatoken_verify, scope= given: fails closed" PAM_AUTHINFO_UNAVAIL \
    vt-validate-only-scope alice "$S_TOK"

echo "# through pgbouncer: transaction pooling, one server connection, its defaults otherwise"
# Listens on a Unix socket in $TMP only (listen_addr empty: no TCP port).
BDIR=$TMP/bouncer
mkdir -p "$BDIR"
printf '"vatoken_pam" ""\n' >"$BDIR/userlist.txt"
cat >"$BDIR/pgbouncer.ini" <<EOF
[databases]
vatoken = host=$SOCK port=$PORT1 dbname=vatoken
[pgbouncer]
listen_addr =
unix_socket_dir = $BDIR
listen_port = 6432
auth_type = trust
auth_file = $BDIR/userlist.txt
pool_mode = transaction
default_pool_size = 1
logfile = $BDIR/pgbouncer.log
pidfile = $BDIR/pgbouncer.pid
EOF
"$PGBOUNCER" "$BDIR/pgbouncer.ini" >"$BDIR/stdout.log" 2>&1 &
BOUNCER_PID=$!
bsql() { "$PGBIN/psql" -X -q -A -t -h "$BDIR" -p 6432 -U vatoken_pam -d vatoken "$@"; }
for _ in $(seq 1 300); do
    [ "$(bsql -c 'SELECT 1' 2>/dev/null)" = 1 ] && break
    kill -0 "$BOUNCER_PID" 2>/dev/null || break
    sleep 0.1
done
BKV="[conninfo=host=$BDIR port=6432 dbname=vatoken user=vatoken_pam]"
svc vt-bouncer "auth required $SO $BKV" "account required $SO $BKV"
svc vt-bouncer-slow "auth required $SO $BKV schema=slow timeout=1" "account required $SO"
svc vt-bouncer-scope "auth required $SO $BKV scope=api:read" "account required $SO $BKV"
svc vt-bouncer-fake "auth required $SO $BKV schema=fake" "account required $SO"
if [ "$(bsql -c 'SELECT 1' 2>/dev/null)" = 1 ]; then
    c0=$(calls alice "$A_ID")
    case_pt "through pgbouncer: valid token" PAM_SUCCESS vt-bouncer alice "$A_TOK" authenticate acct_mgmt
    case_pt "through pgbouncer: unknown token" PAM_AUTH_ERR vt-bouncer alice "$U_TOK"
    case_pt "through pgbouncer: deleted token" PAM_AUTH_ERR vt-bouncer alice "$D_TOK"
    expect_calls "through pgbouncer" alice "$A_ID" "$c0" 1
    PT_OPTS=(-I rhost=203.0.113.7)
    case_pt "through pgbouncer: scope= and PAM_RHOST" PAM_SUCCESS vt-bouncer-scope alice "$C_TOK" authenticate acct_mgmt
    case_pt "through pgbouncer: forbidden_scope" PAM_AUTH_ERR vt-bouncer-scope alice "$S2_TOK"
    PT_OPTS=()
    case_pt "through pgbouncer: fallback to vatoken_validate (stand-in schema)" PAM_SUCCESS vt-bouncer-fake alice "$A_TOK"
    t0=$SECONDS
    case_pt "through pgbouncer: statement_timeout (timeout=1, function sleeps 10 s)" PAM_AUTHINFO_UNAVAIL \
        vt-bouncer-slow alice "$A_TOK"
    if [ $((SECONDS - t0)) -le 5 ] && grep -q "query failed (SQLSTATE 57014)" "$TMP/pt.err"; then
        ok "through pgbouncer: timeout=1 cancels the query (57014) within 5 s"
    else
        not_ok "through pgbouncer: timeout=1 cancels the query (57014) within 5 s (took $((SECONDS - t0)) s)" \
            "$(cat "$TMP/pt.err")"
    fi
    # The only server connection serves the next client: the module's
    # statement_timeout ended with its transaction.
    out=$(bsql -c 'SHOW statement_timeout' 2>&1 || true)
    if [ "$out" = 0 ]; then
        ok "through pgbouncer: the next client does not inherit the module's statement_timeout"
    else
        not_ok "through pgbouncer: the next client does not inherit the module's statement_timeout" "$out"
    fi
else
    not_ok "pgbouncer starts" "$(cat "$BDIR/stdout.log" "$BDIR/pgbouncer.log" 2>/dev/null)"
fi
kill "$BOUNCER_PID" 2>/dev/null || true
wait "$BOUNCER_PID" 2>/dev/null || true
BOUNCER_PID=

echo "# PAM environment (Check, in-process under pam_wrapper)"
c0=$(calls alice "$A_ID")
run_check env env "${PWRAP_ENV[@]}" VTP_SERVICE=vt-owner VTP_USER=alice VTP_TOKEN="$A_TOK" \
    VTP_TOKEN_ID="$A_ID" VTP_TOKEN_NAME=ci VTP_UNKNOWN_TOKEN="$U_TOK" \
    "$REPO/test/pam/build/test_pam_env"
# 4 successes, plus the owner-mismatch re-authentication with the same token
expect_calls "Check environment test" alice "$A_ID" "$c0" 5

# ---------------------------------------------------------------- nginx
echo "# nginx + auth_pam + curl"
NSOCK=$TMP/nginx/front.sock
BSOCK=$TMP/nginx/back.sock
cat >"$TMP/nginx/nginx.conf" <<EOF
load_module $NGINX_AUTH_PAM;
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log notice;
# nginx empties the workers' environment but for these:
env LD_PRELOAD;
env PAM_WRAPPER;
env PAM_WRAPPER_SERVICE_DIR;
events { worker_connections 64; }
http {
    access_log $TMP/nginx/access.log;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    upstream vatoken_backend { server unix:$BSOCK; }
    include $EX/nginx/vatoken-map.conf;
    server {
        listen unix:$NSOCK;
        include $EX/nginx/vatoken-api.conf;
    }
    server {
        listen unix:$BSOCK;
        access_log $TMP/nginx/backend.log;
        location / { return 200 "hello \$http_x_remote_user auth=[\$http_authorization]\n"; }
    }
}
EOF
env "${PWRAP_ENV[@]}" "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
    >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null --unix-socket "$NSOCK" http://localhost/ && break
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
done

# case_http LABEL EXPECTED_STATUS USER TOKEN [BODY_SUBSTRING]
case_http() {
    local label=$1 want=$2 user=$3 token=$4 body=${5:-} code
    # credentials via curl's config on stdin, not on the command line
    code=$(printf 'user = "%s:%s"\n' "$user" "$token" | curl -s -K - -o "$TMP/body" -w '%{http_code}' \
        --max-time 20 --unix-socket "$NSOCK" "http://localhost/api/hello" || true)
    if [ "$code" = "$want" ] && { [ -z "$body" ] || grep -qF "$body" "$TMP/body"; }; then
        ok "$label -> HTTP $want"
    else
        not_ok "$label -> HTTP $code, expected $want" "$(cat "$TMP/body" 2>/dev/null; tail -n 5 "$TMP/nginx/error.log")"
    fi
}
if kill -0 "$NGINX_PID" 2>/dev/null; then
    c0=$(calls alice "$A_ID")
    case_http "curl, owner + valid token" 200 alice "$A_TOK" "hello alice auth=[]"
    case_http "curl, valid token again" 200 alice "$A_TOK"
    expect_calls "nginx successes" alice "$A_ID" "$c0" 2
    case_http "curl, wrong token" 401 alice "$U_TOK"
    case_http "curl, deleted token" 401 alice "$D_TOK"
    case_http "curl, malformed token" 401 alice "nope"
    case_http "curl, bob's token as alice" 401 alice "$B_TOK"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --unix-socket "$NSOCK" "http://localhost/api/hello" || true)
    if [ "$code" = 401 ]; then ok "curl, no credentials -> HTTP 401"; else not_ok "curl, no credentials -> HTTP $code, expected 401"; fi
    # A NUL in the Basic user: PAM sees "alice", $remote_user is "alice\0admin".
    # The front answers 400 and nothing reaches the upstream (whose own
    # header parser would also answer 400 to a NUL, so its log tells).
    for raw in 'alice\0admin' 'alice\r\nX-Injected: 1'; do
        n0=$(cat "$TMP/nginx/backend.log" 2>/dev/null | wc -l)
        code=$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 20 --unix-socket "$NSOCK" \
            -H "Authorization: Basic $(printf "$raw:%s" "$A_TOK" | base64 -w0)" "http://localhost/api/hello" || true)
        n1=$(cat "$TMP/nginx/backend.log" 2>/dev/null | wc -l)
        if [ "$code" = 400 ] && [ "$n0" = "$n1" ]; then
            ok "curl, control character in the Basic user ($raw) -> HTTP 400"
        else
            not_ok "curl, control character in the Basic user ($raw) -> HTTP $code, expected 400 before the upstream" \
                "upstream log lines: $n0 -> $n1; $(cat "$TMP/body")"
        fi
    done
else
    not_ok "nginx starts" "$(cat "$TMP/nginx/stdout.log" "$TMP/nginx/error.log" 2>/dev/null)"
fi

# ---------------------------------------------------------------- PostgreSQL pam
echo "# PostgreSQL 'pam' authentication + psql"
"$PGBIN/initdb" -D "$TMP/pg2" -U vtadmin -A trust --no-sync >"$TMP/initdb2.log" 2>&1 \
    || { cat "$TMP/initdb2.log"; die "initdb (pg2) failed"; }
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -keyout "$TMP/pg2/server.key" -out "$TMP/pg2/server.crt" >/dev/null 2>&1
chmod 600 "$TMP/pg2/server.key"
cat >>"$TMP/pg2/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
fsync = off
ssl = on
EOF
{
    echo "# generated by test/pam/run.sh: administration over the socket, then the example"
    echo "local all vtadmin trust"
    grep -v '^[[:space:]]*#' "$EX/postgresql/pg_hba-vatoken.conf" | grep -v '^[[:space:]]*$'
} >"$TMP/pg2/pg_hba.conf"
# TCP is the point here.  No port is guessed free in advance: one is tried,
# and another if the bind fails (a lost race shows as a failed start).
PORT2=
for _ in 1 2 3 4 5 6 7 8; do
    p=$((20000 + RANDOM % 40000))
    if env "${PWRAP_ENV[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg2" -w -t 60 -l "$TMP/pg2.log" -o "-p $p" start >/dev/null 2>&1; then
        PORT2=$p
        break
    fi
    grep -q "could not bind\|could not create any TCP/IP sockets\|lock file .* already exists" "$TMP/pg2.log" \
        || { cat "$TMP/pg2.log"; die "cannot start the pam cluster"; }
done
[ -n "$PORT2" ] || { cat "$TMP/pg2.log"; die "cannot start the pam cluster (no free port)"; }
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT2" -U vtadmin -d postgres >/dev/null <<'EOF'
CREATE ROLE api_users NOLOGIN;
CREATE ROLE alice LOGIN IN ROLE api_users;
CREATE ROLE bob LOGIN IN ROLE api_users;
EOF

# case_psql LABEL EXPECT(ok|fail) ROLE TOKEN
case_psql() {
    local label=$1 want=$2 role=$3 token=$4 out rc=0
    out=$(PGPASSWORD=$token PGCONNECT_TIMEOUT=20 "$PGBIN/psql" -X -A -t -w \
        "host=127.0.0.1 port=$PORT2 dbname=postgres user=$role sslmode=require" \
        -c "SELECT current_user" 2>&1) || rc=$?
    if [ "$want" = ok ] && [ "$rc" -eq 0 ] && [ "$out" = "$role" ]; then
        ok "$label -> logged in as $role"
    elif [ "$want" = fail ] && [ "$rc" -ne 0 ] && grep -q 'PAM authentication failed' <<<"$out"; then
        ok "$label -> refused"
    else
        not_ok "$label -> expected $want (exit $rc)" "$out"
    fi
}
c0=$(calls alice "$A_ID")
case_psql "psql, alice with her token" ok alice "$A_TOK"
expect_calls "psql success" alice "$A_ID" "$c0" 1
case_psql "psql, bob with his token" ok bob "$B_TOK"
case_psql "psql, alice with a wrong token" fail alice "$U_TOK"
case_psql "psql, alice with a deleted token" fail alice "$D_TOK"
case_psql "psql, alice with bob's token" fail alice "$B_TOK"
case_psql "psql, alice with a malformed token" fail alice "secret"

# ---------------------------------------------------------------- server log
echo "# the token in the token database's log (docs/pam.md: the recipe for the module's role)"
# Database-level settings apply at the next connection start: no reload race.
sql -c "ALTER DATABASE vatoken SET log_statement = 'all'"
# log_has_token LABEL WANT(yes|no): the log written by the last case_pt
log_has_token() {
    local found=no n
    # grep -c reads to the end: no early exit, no SIGPIPE for tail under pipefail.
    n=$(tail -c +"$((LOG0 + 1))" "$TMP/pg1.log" | grep -cF -- "$A_TOK" || true)
    [ "${n:-0}" -eq 0 ] || found=yes
    if [ "$found" = "$2" ]; then ok "$1"; else not_ok "$1 (token in log: $found)"; fi
}
LOG0=$(stat -c %s "$TMP/pg1.log")
case_pt "a check with log_statement=all" PAM_SUCCESS vt-owner alice "$A_TOK"
log_has_token "control: without the recipe the bind parameter (the token) is logged" yes
sql <<'EOF'
ALTER ROLE vatoken_pam SET log_statement = 'none';
ALTER ROLE vatoken_pam SET log_parameter_max_length = 0;
ALTER ROLE vatoken_pam SET log_parameter_max_length_on_error = 0;
EOF
LOG0=$(stat -c %s "$TMP/pg1.log")
case_pt "a check with log_statement=all and the recipe" PAM_SUCCESS vt-owner alice "$A_TOK"
case_pt "a failing query with the recipe" PAM_AUTHINFO_UNAVAIL vt-noschema alice "$A_TOK"
log_has_token "with the recipe the token is not in the server log" no
sql -c "ALTER DATABASE vatoken RESET log_statement"

# ---------------------------------------------------------------- database down
echo "# token database down"
"$PGBIN/pg_ctl" -D "$TMP/pg1" -m fast -w stop >/dev/null
case_pt "database stopped" PAM_AUTHINFO_UNAVAIL vt-owner alice "$A_TOK"
case_pt "database stopped, malformed token still refused locally" PAM_AUTH_ERR vt-owner alice "nope"
if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    case_http "curl, database stopped" 401 alice "$A_TOK"
else
    not_ok "curl, database stopped: nginx is not running" "$(tail -n 20 "$TMP/nginx/error.log" 2>/dev/null)"
fi
case_psql "psql, database stopped" fail alice "$A_TOK"

echo "pam: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
