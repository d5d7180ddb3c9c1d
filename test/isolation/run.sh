#!/usr/bin/env bash
# run.sh — `make check-isolation`: every spec in test/isolation/specs against a
# temporary instance that pg_isolation_regress starts and stops itself.
#
#   bash test/isolation/run.sh [spec ...]       (default: every spec)
#
# ISOLATION_CONFIG  postgresql.conf lines for the instance (default
#                   test/isolation/isolation.conf; test/isolation/preload.conf
#                   runs the same specs with the library preloaded)
# ISOLATION_EXPECTED  a directory of expected outputs that replace those of
#                   test/isolation/expected for this run: where a mode answers
#                   differently (test/isolation/expected-preload: no validation
#                   waits, no serialization error with the fast path)
# ISOLATION_OUTPUT  where results, diffs and the instance go (default: a new
#                   directory under /tmp, removed when every spec passes)
#
# PostgreSQL refuses to run as root: as root, use `make check-isolation`,
# which runs this script as the "postgres" user from a copy of what it needs
# (mk/hardening.mk).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -eq 0 ]; then
    echo "check-isolation: run as a non-root user, or as root through make check-isolation" >&2
    exit 2
fi

export PATH="$(pg_config --bindir):$PATH"
config=${ISOLATION_CONFIG:-test/isolation/isolation.conf}
[ -f "$config" ] || { echo "check-isolation: no such config file: $config" >&2; exit 2; }
config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")

specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
    for f in test/isolation/specs/*.spec; do
        specs+=("$(basename "$f" .spec)")
    done
fi

out=${ISOLATION_OUTPUT:-$(mktemp -d /tmp/vatoken-isolation.XXXXXX)}
mkdir -p "$out"
echo "check-isolation: config $config, output in $out"

# The specs with this mode's expected outputs.
input=$out/input
rm -rf "$input"
mkdir -p "$input"
cp -r test/isolation/specs test/isolation/expected "$input/"
if [ -n "${ISOLATION_EXPECTED:-}" ]; then
    cp "$ISOLATION_EXPECTED"/*.out "$input/expected/"
    echo "check-isolation: expected outputs of $ISOLATION_EXPECTED replace the defaults"
fi

if "$(pg_config --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" \
        --temp-instance="$out/instance" \
        --temp-config="$config" \
        --encoding=UTF8 --no-locale \
        --bindir="$(pg_config --bindir)" \
        --inputdir="$input" \
        --outputdir="$out" \
        "${specs[@]}"; then
    [ -n "${ISOLATION_OUTPUT:-}" ] || rm -rf "$out"
else
    [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
    for f in "$out"/log/postmaster.log; do
        [ -f "$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; }
    done
    exit 1
fi
