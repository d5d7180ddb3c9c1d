#!/usr/bin/env bash
# run.sh — `make test`: everything CI runs, from a fresh Debian 12 machine.
#
# Installs missing packages, builds and installs the extension, then runs
# every suite (test/suites.sh) as an unprivileged user; each suite starts the
# servers it needs itself and stops them when done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh test

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

make -s
"${SUDO[@]}" make -s install

exec bash scripts/as-test-user.sh bash test/suites.sh "$@"
