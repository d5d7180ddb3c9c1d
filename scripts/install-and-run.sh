#!/usr/bin/env bash
# install-and-run.sh — what `make demo`, `make test` and `make bench` do first
# on a fresh Debian 12 machine: install the packages of LEVEL (deps.sh),
# build, install the extension (with sudo unless root), then run COMMAND as
# an unprivileged user (as-test-user.sh).
#
#   scripts/install-and-run.sh build|test COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

level=$1
shift
bash scripts/deps.sh "$level"

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
make -s
"${SUDO[@]}" make -s install

exec bash scripts/as-test-user.sh "$@"
