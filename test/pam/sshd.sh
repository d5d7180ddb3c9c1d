#!/usr/bin/env bash
# test/pam/sshd.sh -- OpenSSH end to end with pam_vatoken.
#
# What it proves: an unmodified OpenSSH sshd (UsePAM yes), configured from
# examples/ssh/sshd_config-vatoken.conf and examples/pam.d/sshd-vatoken, lets
# a client (ssh driven by sshpass) log in to a local account with an API
# token, by password and by keyboard-interactive authentication; the session
# gets VATOKEN_OWNER/VATOKEN_ID/VATOKEN_NAME and each login counts one call;
# a wrong, a malformed, an empty, a deleted token and another owner's token
# are refused (each for the reason the module logs), and so is any token while
# the database is down; no token appears in any log; PAM_RHOST on the handle that
# runs pam_vatoken is the client's address; and the guard of the example
# (pam_succeed_if ... ingroup api_users) refuses a valid token whose owner is
# an account outside that group, which the same stack without the guard
# accepts (the control that shows the guard is what refuses).
#
# How it runs unprivileged, touching no system file:
#   - sshd runs as the calling user, without root: privilege separation then
#     neither chroots nor changes uid, and it can only start sessions as that
#     uid.  Its host key, sshd_config, PidFile and log are in the temp dir.
#   - pam_wrapper (libpam-wrapper) makes libpam read the service file "sshd"
#     from our directory instead of /etc/pam.d.
#   - nss_wrapper (libnss-wrapper) gives sshd and the PAM modules a passwd and
#     a group file of our own: accounts alice and mallory, both with the
#     caller's uid, and a group api_users with alice only.
#   - Real TCP on loopback: sshd listens on 127.0.0.1, ssh binds its end to
#     127.0.0.10 (BindAddress), so the PAM_RHOST check cannot pass by
#     confusing the client's address with the server's.  Ports without a
#     check-then-bind race: sshd binds a random port itself; when that fails
#     ("Address already in use" in its log, and it exits) the script starts
#     it again on another.  socket_wrapper was tried and dropped: sshd hands
#     each connection to a re-executed copy of itself, which loses
#     socket_wrapper's bookkeeping, so sshd saw the peer as a unix socket path
#     instead of an IP (and "sshd -r", no re-exec, is gone from OpenSSH 9.8).
#   - The token database is a throwaway PostgreSQL cluster (initdb into the
#     temp dir, unix socket only, extension vatoken).  Its setup duplicates
#     the few lines of test/pam/run.sh it needs, on purpose: run.sh belongs to
#     the PAM module's own suite and is not sourced.
#   - PAM_RHOST is observed with pam_exec, stacked right after pam_vatoken in
#     the same auth phase: pam_exec hands the program PAM_RHOST from the same
#     handle, and the PAM environment, in which VATOKEN_OWNER shows that
#     pam_vatoken ran on that handle and accepted.
#
# Contract: run as a NON-root user (initdb refuses root); the vatoken
# extension is installed in the PostgreSQL of PGBIN.  Builds the module and
# its test helper (make -f mk/pam.mk), works only inside a mktemp directory,
# and stops every server it started on exit.  Nothing depends on the time of
# day, the locale or the machine's speed (timeouts are generous, readiness is
# polled).  Last line: "sshd: N passed, M failed"; exit 0 only if M is 0.
#
# Environment (all optional): PGBIN (default: pg_config --bindir), SSHD
# (default /usr/sbin/sshd), VTS_KEEP=1 keeps the temp directory.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-$(pg_config --bindir)}
SSHD=${SSHD:-/usr/sbin/sshd}
SO=$REPO/src/pam/pam_vatoken.so
EX=$REPO/examples
PAM_MODDIR=$(pkg-config --variable=libdir pam 2>/dev/null || true)
[ -n "$PAM_MODDIR" ] || PAM_MODDIR=/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
PAM_MODDIR=$PAM_MODDIR/security
TIMEOUT=60                      # seconds for one ssh login, start-up waits

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
not_ok() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/     | /'; }
die() { printf 'sshd.sh: %s\n' "$*" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
    die "run me as a non-root user (initdb refuses root), e.g. runuser -u postgres -- bash test/pam/sshd.sh"
fi
for tool in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/psql" "$SSHD" ssh ssh-keygen sshpass timeout make gcc; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
for lib in libpam_wrapper.so libnss_wrapper.so; do
    ldconfig -p 2>/dev/null | grep -qF "$lib" || [ -e "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)/$lib" ] \
        || die "missing $lib (libpam-wrapper, libnss-wrapper)"
done
for mod in pam_succeed_if.so pam_exec.so pam_permit.so pam_deny.so; do
    [ -f "$PAM_MODDIR/$mod" ] || die "missing $PAM_MODDIR/$mod (libpam-modules)"
done

# Nothing from the caller's environment may steer libpq, ssh or the wrappers.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGSERVICE \
      PGSERVICEFILE PGOPTIONS PGSSLMODE PGCONNECT_TIMEOUT PGAPPNAME \
      SSH_AUTH_SOCK SSH_AGENT_PID SSHPASS LD_PRELOAD \
      NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP PAM_WRAPPER 2>/dev/null || true
export LC_ALL=C

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vt_sshd.XXXXXX")
SOCK=$TMP/pgsock
HOMEDIR=$TMP/home
mkdir -p "$SOCK" "$HOMEDIR"
chmod 700 "$TMP"
MARKER="vt-sshd-${TMP##*/}"
SSHD_PIDS=()

cleanup() {
    local rc=$? pid d
    set +e
    for pid in ${SSHD_PIDS[@]+"${SSHD_PIDS[@]}"}; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -f "$TMP/pg/postmaster.pid" ] && "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate -w stop >/dev/null 2>&1
    # pam_wrapper copies the service directory to /tmp/pam.?; a process ended
    # by a signal leaves its copy behind.  Ours hold this run's marker file.
    for d in /tmp/pam.?; do
        [ -f "$d/$MARKER" ] && [ -O "$d" ] && rm -rf "$d"
    done
    if [ "${VTS_KEEP:-0}" = 1 ]; then
        echo "sshd.sh: kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
echo "# build (make -f mk/pam.mk pam pam-test-bins)"
make -s -C "$REPO" -f mk/pam.mk pam pam-test-bins >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log"; die "build failed"; }

# ---------------------------------------------------------------- token database
echo "# token database (throwaway cluster, unix socket only)"
"$PGBIN/initdb" -D "$TMP/pg" -U vtadmin -A trust --no-sync -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log"; die "initdb failed"; }
# The socket directory is ours alone, so any port number will do: no race.
PGPORT_=5432
cat >>"$TMP/pg/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $PGPORT_
fsync = off
EOF
"$PGBIN/pg_ctl" -D "$TMP/pg" -w -t "$TIMEOUT" -l "$TMP/pg.log" start >/dev/null \
    || { cat "$TMP/pg.log"; die "cannot start the token database"; }
sql() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT_" -U vtadmin -d vatoken "$@"; }
"$PGBIN/createdb" -h "$SOCK" -p "$PGPORT_" -U vtadmin vatoken
sql >/dev/null <<'EOF'
CREATE EXTENSION vatoken;
CREATE ROLE vatoken_pam LOGIN;
GRANT EXECUTE ON FUNCTION public.vatoken_validate(text) TO vatoken_pam;
EOF
# mint OWNER NAME -> "id token"
mint() { sql -c "SELECT token_id || ' ' || token FROM vatoken_create('$1', '$2')"; }
read -r A_ID A_TOK <<<"$(mint alice laptop)"
read -r K_ID K_TOK <<<"$(mint alice kbd)"
read -r D_ID D_TOK <<<"$(mint alice retiring)"
read -r B_ID B_TOK <<<"$(mint bob deploy)"
read -r M_ID M_TOK <<<"$(mint mallory sneaky)"
U_TOK=$("$REPO/test/pam/build/vt_mktoken")      # well formed, never issued
# Total calls of a token, robust against a day or month boundary mid-run.
calls() { sql -c "SELECT calls_this_month + calls_last_month FROM vatoken_usage('$1', $2)"; }
CONNINFO="[conninfo=host=$SOCK port=$PGPORT_ dbname=vatoken user=vatoken_pam]"

# ---------------------------------------------------------------- accounts (nss_wrapper)
ME_UID=$(id -u)
ME_GID=$(id -g)
cat >"$TMP/passwd" <<EOF
alice:x:$ME_UID:$ME_GID:token user:$HOMEDIR:/bin/sh
mallory:x:$ME_UID:$ME_GID:not in api_users:$HOMEDIR:/bin/sh
EOF
cat >"$TMP/group" <<EOF
vtusers:x:$ME_GID:
api_users:x:$((ME_GID + 1)):alice
EOF

# ---------------------------------------------------------------- PAM services
# The example, verbatim but for the module's path and the connection string
# (explicit here, so that nothing but this file says where the database is),
# with pam_exec recording PAM_RHOST and VATOKEN_OWNER right after the
# module's auth line, and a session phase (the example leaves it to the host).
cat >"$TMP/record" <<EOF
#!/bin/sh
# run by pam_exec with the PAM items and the PAM environment only
printf 'rhost=%s owner=%s\n' "\${PAM_RHOST-}" "\${VATOKEN_OWNER-}" >>"$TMP/rhost.log"
exit 0
EOF
chmod 755 "$TMP/record"
: >"$TMP/rhost.log"
make_service() { # DIR KEEP_GUARD(yes|no)
    local dir=$1 guard=$2
    mkdir -p "$dir"
    echo "# marks pam_wrapper copies made by this run" >"$dir/$MARKER"
    {
        echo "# generated by test/pam/sshd.sh from examples/pam.d/sshd-vatoken (guard: $guard)"
        grep -v '^[[:space:]]*#' "$EX/pam.d/sshd-vatoken" | grep -v '^[[:space:]]*$' |
            { if [ "$guard" = yes ]; then cat; else grep -v pam_succeed_if; fi; } |
            sed -e "s|pam_vatoken.so conninfo=service=vatoken|$SO $CONNINFO|" \
                -e "s|pam_succeed_if.so|$PAM_MODDIR/pam_succeed_if.so|" |
            sed -e "/^auth.*pam_vatoken/a auth     optional   $PAM_MODDIR/pam_exec.so quiet $TMP/record"
        echo "session  required   $PAM_MODDIR/pam_permit.so"
    } >"$dir/sshd"
    # What libpam falls back to for a service without a file: refuse.
    printf '%s\n' "auth required $PAM_MODDIR/pam_deny.so" "account required $PAM_MODDIR/pam_deny.so" \
        "session required $PAM_MODDIR/pam_deny.so" >"$dir/other"
}
make_service "$TMP/pam.guarded" yes
make_service "$TMP/pam.open" no
grep -q pam_succeed_if "$TMP/pam.guarded/sshd" || die "the example lost its guard line"
grep -q "$SO" "$TMP/pam.guarded/sshd" || die "the example has no pam_vatoken auth line"

# ---------------------------------------------------------------- sshd
ssh-keygen -q -t ed25519 -N '' -C vt-sshd-test -f "$TMP/host_key" >/dev/null
SERVER_IP=127.0.0.1
CLIENT_IP=127.0.0.10           # ssh binds here (BindAddress): PAM_RHOST must not be the server's
: >"$TMP/known_hosts"
# start_sshd NAME PAM_DIR -> sets STARTED_PORT.  Ports without a race: sshd
# binds a random port itself; if that fails ("Address already in use"), it
# exits and we try another.  No port is probed and then handed over.
start_sshd() {
    local name=$1 pamdir=$2 port pid try
    for try in $(seq 1 20); do
        port=$((20000 + RANDOM % 40000))
        cat >"$TMP/$name.conf" <<EOF
# generated by test/pam/sshd.sh: the test's own settings, then the example
ListenAddress $SERVER_IP:$port
AddressFamily inet
HostKey $TMP/host_key
PidFile $TMP/$name.pid
LogLevel VERBOSE
StrictModes no
UseDNS no
PubkeyAuthentication no
HostbasedAuthentication no
KerberosAuthentication no
GSSAPIAuthentication no
AuthorizedKeysFile none
PermitEmptyPasswords no
PermitUserEnvironment no
PermitUserRC no
PrintMotd no
PrintLastLog no
DisableForwarding yes
LoginGraceTime $TIMEOUT
MaxAuthTries 10
Include $EX/ssh/sshd_config-vatoken.conf
EOF
        "$SSHD" -t -f "$TMP/$name.conf" >"$TMP/$name.t" 2>&1 \
            || { cat "$TMP/$name.t"; die "sshd -t rejects $TMP/$name.conf"; }
        : >"$TMP/$name.log"
        # PAM_WRAPPER_DEBUGLEVEL=2: pam_syslog lines (notices too) go to
        # sshd's stderr, $name.out.
        env LD_PRELOAD="libnss_wrapper.so libpam_wrapper.so" \
            NSS_WRAPPER_PASSWD="$TMP/passwd" NSS_WRAPPER_GROUP="$TMP/group" \
            PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$pamdir" PAM_WRAPPER_DEBUGLEVEL=2 \
            "$SSHD" -D -f "$TMP/$name.conf" -E "$TMP/$name.log" </dev/null >>"$TMP/$name.out" 2>&1 &
        pid=$!
        for _ in $(seq 1 $((TIMEOUT * 10))); do
            grep -q "Server listening on $SERVER_IP port $port" "$TMP/$name.log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if grep -q "Server listening on $SERVER_IP port $port" "$TMP/$name.log" && kill -0 "$pid" 2>/dev/null; then
            SSHD_PIDS+=("$pid")
            echo "[$SERVER_IP]:$port $(cut -d' ' -f1,2 "$TMP/host_key.pub")" >>"$TMP/known_hosts"
            STARTED_PORT=$port
            ok "sshd $name listens on $SERVER_IP:$port (attempt $try)"
            return 0
        fi
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
        grep -q "Address already in use" "$TMP/$name.log" || break
    done
    not_ok "sshd $name starts" "$(cat "$TMP/$name.out" "$TMP/$name.log" 2>/dev/null)"
    return 1
}

cat >"$TMP/ssh_config" <<EOF
# generated by test/pam/sshd.sh: nothing from ~/.ssh or /etc/ssh
UserKnownHostsFile $TMP/known_hosts
GlobalKnownHostsFile /dev/null
StrictHostKeyChecking yes
CheckHostIP no
UpdateHostKeys no
PubkeyAuthentication no
HostbasedAuthentication no
GSSAPIAuthentication no
IdentityFile none
IdentitiesOnly yes
NumberOfPasswordPrompts 1
ConnectTimeout $TIMEOUT
ServerAliveInterval 15
ServerAliveCountMax 4
ControlMaster no
ControlPath none
BatchMode no
RequestTTY no
BindAddress $CLIENT_IP
LogLevel ERROR
EOF

# login PORT USER TOKEN METHOD -> sets OUT, ERR, RC.  The token goes through the
# environment (sshpass -e), never the command line; the remote command prints
# what the session got from PAM.
OUT=
ERR=
RC=0
login() {
    local port=$1 user=$2 token=$3 method=$4
    RC=0
    OUT=$(SSHPASS="$token" timeout "$((TIMEOUT * 2))" \
        sshpass -e ssh -F "$TMP/ssh_config" -o PreferredAuthentications="$method" -p "$port" \
        -l "$user" "$SERVER_IP" \
        'printf "owner=%s id=%s name=%s user=%s\n" "${VATOKEN_OWNER-}" "${VATOKEN_ID-}" "${VATOKEN_NAME-}" "$USER"' \
        </dev/null 2>"$TMP/ssh.err") || RC=$?
    ERR=$(cat "$TMP/ssh.err")
}

# case_ok LABEL PORT USER TOKEN METHOD EXPECTED_LINE
case_ok() {
    local label=$1 want=$6
    login "$2" "$3" "$4" "$5"
    if [ "$RC" -eq 0 ] && [ "$OUT" = "$want" ]; then
        ok "$label -> logged in, session has: $want"
    else
        not_ok "$label -> expected a login printing '$want' (exit $RC)" "$OUT$ERR"
    fi
}

# wait_count FILE TEXT N: how many lines of FILE have TEXT, once more than N
# do or TIMEOUT seconds have passed.
wait_count() {
    local n
    for _ in $(seq 1 $((TIMEOUT * 10))); do
        n=$(grep -cF -- "$2" "$1" || true)
        [ "$n" -le "$3" ] || break
        sleep 0.1
    done
    echo "$n"
}

# case_refused LABEL PORT USER TOKEN METHOD SERVER [WHY]
# Refused means: ssh fails with "Permission denied", the remote command never
# ran, and sshd logged a failed attempt for USER from the client's address (so
# the refusal came from the authentication, not from a connection that never
# happened).  WHY, if given, is the reason that a PAM module must have logged
# for this attempt (pam_syslog, which pam_wrapper sends to sshd's stderr,
# SERVER.out; only the password method's lines get there: sshd runs
# keyboard-interactive PAM in a child without that stderr).
case_refused() {
    local label=$1 user=$3 method=$5 log=$TMP/$6.log out=$TMP/$6.out why=${7:-} what b1 a1 b2=0 a2=0
    case "$method" in
        password) what="Failed password for $user from $CLIENT_IP" ;;
        *) what="Failed keyboard-interactive/pam for $user from $CLIENT_IP" ;;
    esac
    b1=$(grep -cF "$what" "$log" || true)
    [ -z "$why" ] || b2=$(grep -cF "$why" "$out" || true)
    login "$2" "$3" "$4" "$5"
    a1=$b1
    a2=$b2
    if [ "$RC" -ne 0 ] && [ -z "$OUT" ] && grep -q "Permission denied" <<<"$ERR"; then
        # sshd's monitor may write its log line after the client has gone: wait.
        a1=$(wait_count "$log" "$what" "$b1")
        [ -z "$why" ] || a2=$(wait_count "$out" "$why" "$b2")
    fi
    if [ "$RC" -ne 0 ] && [ -z "$OUT" ] && grep -q "Permission denied" <<<"$ERR" && [ "$a1" -gt "$b1" ] \
        && { [ -z "$why" ] || [ "$a2" -gt "$b2" ]; }; then
        ok "$label -> refused${why:+ ($why)}"
    else
        not_ok "$label -> expected a refusal (exit $RC, '$what' $b1 -> $a1${why:+, '$why' $b2 -> $a2})" \
            "$OUT$ERR$(printf '\n'; tail -n 6 "$log"; grep SYSLOG "$out" | tail -n 3)"
    fi
}

# expect_calls LABEL OWNER ID BEFORE DELTA
expect_calls() {
    local now
    now=$(calls "$2" "$3")
    if [ "$now" -eq "$(($4 + $5))" ]; then
        ok "$1: usage counter of token $3 moved by $5"
    else
        not_ok "$1: usage counter of token $3 moved by $((now - $4)), expected $5"
    fi
}

echo "# sshd with the example stack (guarded), and without its guard line (control)"
STARTED_PORT=
start_sshd guarded "$TMP/pam.guarded" || die "cannot start sshd (guarded)"
GUARDED=$STARTED_PORT
start_sshd open "$TMP/pam.open" || die "cannot start sshd (open)"
OPEN=$STARTED_PORT
GLOG=$TMP/guarded.log

echo "# tokens that log in"
c0=$(calls alice "$A_ID")
: >"$TMP/rhost.log"
case_ok "alice, her token, password auth" "$GUARDED" alice "$A_TOK" password \
    "owner=alice id=$A_ID name=laptop user=alice"
expect_calls "one ssh login is one call" alice "$A_ID" "$c0" 1
if [ "$(cat "$TMP/rhost.log")" = "rhost=$CLIENT_IP owner=alice" ]; then
    ok "PAM_RHOST on pam_vatoken's handle is the client's address ($CLIENT_IP)"
else
    not_ok "PAM_RHOST on pam_vatoken's handle is the client's address ($CLIENT_IP)" "$(cat "$TMP/rhost.log")"
fi
if grep -qF "Accepted password for alice from $CLIENT_IP" "$GLOG"; then
    ok "sshd logs the login as alice from $CLIENT_IP"
else
    not_ok "sshd logs the login as alice from $CLIENT_IP" "$(tail -n 8 "$GLOG")"
fi
case_ok "alice, another token, keyboard-interactive" "$GUARDED" alice "$K_TOK" keyboard-interactive \
    "owner=alice id=$K_ID name=kbd user=alice"
case_ok "alice, a token about to be deleted" "$GUARDED" alice "$D_TOK" password \
    "owner=alice id=$D_ID name=retiring user=alice"

echo "# tokens that are refused"
[ "$(sql -c "SELECT vatoken_delete('alice', $D_ID)")" = t ] || die "cannot delete token $D_ID"
c0=$(calls alice "$A_ID")
: >"$TMP/rhost.log"
case_refused "alice, wrong token (well formed, never issued)" "$GUARDED" alice "$U_TOK" password guarded \
    'user "alice": token refused: unknown token'
if [ "$(cat "$TMP/rhost.log")" = "rhost=$CLIENT_IP owner=" ]; then
    ok "refused: pam_vatoken exported no VATOKEN_OWNER (PAM_RHOST $CLIENT_IP)"
else
    not_ok "refused: pam_vatoken exported no VATOKEN_OWNER" "$(cat "$TMP/rhost.log")"
fi
case_refused "alice, wrong token, keyboard-interactive" "$GUARDED" alice "$U_TOK" keyboard-interactive guarded
case_refused "alice, malformed token" "$GUARDED" alice "hunter2" password guarded \
    'user "alice": token refused: malformed token'
case_refused "alice, her token with a typo (bad checksum)" "$GUARDED" alice "${A_TOK%?}$([ "${A_TOK: -1}" = x ] && echo y || echo x)" password guarded \
    'user "alice": token refused: malformed token'
case_refused "alice, her deleted token" "$GUARDED" alice "$D_TOK" password guarded \
    'user "alice": token refused: unknown token'
case_refused "alice, her deleted token, keyboard-interactive" "$GUARDED" alice "$D_TOK" keyboard-interactive guarded
case_refused "alice, bob's valid token (owner is another name)" "$GUARDED" alice "$B_TOK" password guarded \
    "token $B_ID (\"deploy\") of owner \"bob\" refused: token owner does not match user"
case_refused "alice, empty token" "$GUARDED" alice "" keyboard-interactive guarded
expect_calls "refusals never count alice's token" alice "$A_ID" "$c0" 0

echo "# match=owner guard: mallory is an account, but not in api_users"
c0=$(calls mallory "$M_ID")
case_ok "control: without the guard, mallory's token logs in as mallory" "$OPEN" mallory "$M_TOK" password \
    "owner=mallory id=$M_ID name=sneaky user=mallory"
expect_calls "control reached pam_vatoken" mallory "$M_ID" "$c0" 1
c0=$(calls mallory "$M_ID")
case_refused "with the example's guard, mallory's valid token is refused" "$GUARDED" mallory "$M_TOK" password guarded \
    'requirement "user ingroup api_users" not met by user "mallory"'
case_refused "with the guard, keyboard-interactive" "$GUARDED" mallory "$M_TOK" keyboard-interactive guarded
expect_calls "the guard refuses before the token is checked" mallory "$M_ID" "$c0" 0
case_ok "with the guard, alice (in api_users) still logs in" "$GUARDED" alice "$A_TOK" password \
    "owner=alice id=$A_ID name=laptop user=alice"
case_refused "without the guard, bob's token still cannot log in as mallory" "$OPEN" mallory "$B_TOK" password open \
    'of owner "bob" refused: token owner does not match user'

echo "# token database down"
"$PGBIN/pg_ctl" -D "$TMP/pg" -m fast -w -t "$TIMEOUT" stop >/dev/null
case_refused "database stopped, alice's valid token" "$GUARDED" alice "$A_TOK" password guarded \
    'user "alice": token database unavailable'

echo "# no token in any log"
leaks=
for t in "$A_TOK" "$K_TOK" "$D_TOK" "$B_TOK" "$M_TOK" "$U_TOK"; do
    ! grep -rqF -- "$t" "$TMP"/*.log "$TMP"/*.out || leaks="$leaks ${t:0:8}..."
done
if [ -z "$leaks" ]; then ok "no token appears in sshd's logs or PAM log lines"; else not_ok "tokens in logs:$leaks"; fi

echo "# servers still running"
for pid in "${SSHD_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then ok "sshd $pid still running"; else not_ok "sshd $pid died"; fi
done

echo "sshd: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
