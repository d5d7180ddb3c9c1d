#!/usr/bin/env bash
# as-test-user.sh — run a command from a copy of this tree as an unprivileged
# user when called as root (initdb and PostgreSQL refuse to run as root), or
# in place when called as an ordinary user.
#
#   scripts/as-test-user.sh <command> [args...]
#
# As root, the tree is copied to a fresh directory owned by the "postgres"
# user (which the postgresql-15 package creates) and the command runs there
# as that user; the copy is removed afterwards unless VATOKEN_KEEP_COPY=1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
    cd "$here"
    exec "$@"
fi

user=${VATOKEN_TEST_USER:-postgres}
copy=$(mktemp -d /tmp/vatoken-test.XXXXXX)
cleanup() { [ "${VATOKEN_KEEP_COPY:-0}" = 1 ] || rm -rf "$copy"; }
trap cleanup EXIT
chmod 755 "$copy"
tar -C "$here" --exclude=.git --exclude=tmp_check --exclude='tmp_check_*' -cf - . | tar -C "$copy" -xf -
chown -R "$user" "$copy"
cd "$copy"
# runuser keeps our environment minus the login-specific variables.
runuser -u "$user" -- env HOME="$copy" "$@"
