#!/usr/bin/env bash
# run.sh — `make test`: everything CI runs, from a fresh Debian 12 machine.
#
# Installs missing packages, builds and installs the extension, then runs
# every suite (test/suites.sh) as an unprivileged user; each suite starts the
# servers it needs itself and stops them when done.
set -euo pipefail
cd "$(dirname "$0")/.."

exec bash scripts/install-and-run.sh test bash test/suites.sh "$@"
