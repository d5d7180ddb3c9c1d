#!/usr/bin/env bash
# deps.sh — install the Debian 12 packages vatoken needs, if any are missing.
#
#   scripts/deps.sh build   what `make demo` needs: compiler, PostgreSQL 15 server and headers
#   scripts/deps.sh test    everything `make test` needs (unit, regression, TAP, PAM, nginx, sshd, fuzz, pgbouncer, examples)
#
# Runs apt-get as root, or through sudo for an ordinary user.  Does nothing
# (and needs no privileges) when everything is already installed.
set -euo pipefail

BUILD_PACKAGES=(
    build-essential pkg-config
    postgresql-15 postgresql-client-15 postgresql-server-dev-15 libpq-dev
    libpam0g-dev
)
TEST_PACKAGES=(
    "${BUILD_PACKAGES[@]}"
    check libipc-run-perl
    pamtester libpam-wrapper
    # sshd suite (test/pam/sshd.sh runs its own unprivileged sshd; on a machine
    # that starts services, openssh-server also enables the system's ssh service)
    openssh-server openssh-client sshpass libnss-wrapper libpam-modules perl
    nginx libnginx-mod-http-auth-pam curl openssl
    # pgbouncer suite and PAM through a pooler (each test starts its own,
    # on a Unix socket; on a machine that starts services, the package also
    # enables the system's pgbouncer service)
    pgbouncer
    clang libclang-rt-14-dev
    # examples suite: the example app (system Python) and the settings page
    # driven in headless Chromium
    python3 python3-psycopg python3-flask chromium chromium-driver python3-selenium
)

case "${1:-test}" in
    build) wanted=("${BUILD_PACKAGES[@]}") ;;
    test) wanted=("${TEST_PACKAGES[@]}") ;;
    *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#wanted[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    echo "deps: missing packages (${missing[*]}) and no sudo to install them; install them as root" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
