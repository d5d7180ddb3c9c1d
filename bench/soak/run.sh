#!/usr/bin/env bash
# run.sh — `make soak`: 64 pgbench clients mixing vatoken_create,
# vatoken_validate, vatoken_list/vatoken_usage and vatoken_delete for
# SOAK_SECONDS against a throwaway cluster, then checks that
#   1. the calls counted (vatoken_list) equal the valid validations made,
#      exactly, token by token;
#   2. no deleted token was accepted by a validation that started after its
#      delete had committed;
#   3. exactly one of concurrent deletes of a token returned true;
#   4. the extension holds exactly the live tokens, and deleted ones are
#      unknown.
#
# SOAK_SECONDS (180)  SOAK_CLIENTS (64)  SOAK_THREADS (2)  SOAK_SEED_TOKENS (1000)
# SOAK_CONFIG         a file of postgresql.conf lines to add, e.g. one with
#                     shared_preload_libraries = 'vatoken'
# SOAK_KEEP=1         keep the output directory (pgbench log, check output)
#
# Runs as a non-root user (as root: `make soak`, see mk/hardening.mk).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/soak

if [ "$(id -u)" -eq 0 ]; then
    echo "soak: run as a non-root user, or as root through make soak" >&2
    exit 2
fi

seconds=${SOAK_SECONDS:-180}
clients=${SOAK_CLIENTS:-64}
threads=${SOAK_THREADS:-2}
seed=${SOAK_SEED_TOKENS:-1000}
extra=()
if [ -n "${SOAK_CONFIG:-}" ]; then
    mapfile -t extra < <(grep -v '^\s*#' "$SOAK_CONFIG" | grep -v '^\s*$')
fi

out=$(mktemp -d /tmp/vatoken-soak.XXXXXX)
source scripts/cluster.sh
vt_cluster_start "max_connections = $((clients + 20))" "vatoken.timezone = 'UTC'" \
    "log_min_messages = warning" "${extra[@]}"
echo "soak: cluster in $VT_DIR (port $VT_PORT), output in $out"
echo "soak: $clients clients, $threads threads, $seconds s, $seed seed tokens${extra:+, config: ${extra[*]}}"

psql "$VT_CONNINFO" -X -q -v ON_ERROR_STOP=1 -v seed_tokens="$seed" -f "$here/setup.sql"

# Simple query protocol on purpose: statement_timestamp() then precedes the
# statement's snapshots (see validate.sql).
set +e
pgbench -n -M simple -c "$clients" -j "$threads" -T "$seconds" -P 30 \
    -f "$here/validate.sql@70" -f "$here/create.sql@10" \
    -f "$here/delete.sql@10" -f "$here/list.sql@10" \
    "$VT_CONNINFO" >"$out/pgbench.out" 2>"$out/pgbench.err"
pgbench_rc=$?
set -e
grep -v '^progress' "$out/pgbench.out" | grep -E 'transaction type|clients|duration|processed|failed|latency average|^tps|SQL script|weight|- [0-9]+ transactions' || true
grep '^progress' "$out/pgbench.err" | tail -n 3 || true
if [ $pgbench_rc -ne 0 ] || grep -qiE 'error|aborted' "$out/pgbench.err"; then
    echo "soak: pgbench reported errors (exit $pgbench_rc):"
    grep -iE 'error|aborted' "$out/pgbench.err" | sort | uniq -c | sort -rn | head -n 20
    pgbench_ok=0
else
    pgbench_ok=1
fi

psql "$VT_CONNINFO" -X -v ON_ERROR_STOP=1 -f "$here/check.sql" | tee "$out/check.out"
grep -q '^soak_ok= t$' "$out/check.out" && check_ok=1 || check_ok=0

if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: output kept in $out"; else rm -rf "$out"; fi
if [ $pgbench_ok = 1 ] && [ $check_ok = 1 ]; then
    echo "soak: PASSED"
else
    echo "soak: FAILED"
    exit 1
fi
