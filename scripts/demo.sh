#!/usr/bin/env bash
# demo.sh — `make demo`: on a fresh Debian 12 machine, install what is
# missing, build and install vatoken, start a throwaway cluster and walk
# through the main job: create -> validate -> list with usage -> delete ->
# validate fails; then 2.0's policy: scopes and a client allow-list with
# vatoken_verify, expiry, rotation with grace, a leak report.  The cluster is
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

exec bash scripts/install-and-run.sh build bash scripts/demo-walkthrough.sh
