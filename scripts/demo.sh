#!/usr/bin/env bash
# demo.sh — `make demo`: on a fresh Debian 12 machine, install what is
# missing, build and install vatoken, start a throwaway cluster and walk
# through the main job: create -> validate -> list with usage -> delete ->
# validate fails.  The cluster is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh build

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
make -s
"${SUDO[@]}" make -s install

exec bash scripts/as-test-user.sh bash scripts/demo-walkthrough.sh
