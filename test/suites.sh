#!/usr/bin/env bash
# suites.sh — run every test suite and report them together.
#
# Expects the extension to be built and installed, and runs as an ordinary
# (non-root) user.  Names of suites may be given to run only those, e.g.
# `bash test/suites.sh unit regress`.
set -uo pipefail
cd "$(dirname "$0")/.."

export PATH="$(pg_config --bindir):$PATH"

# Every cluster the suites make gets UTF-8 and the C collation, whatever the
# caller's locale (initdb and pg_regress take them from the environment).
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE

ALL_SUITES=(unit sanitize fuzz regress regress_preload isolation isolation_preload tap tap_preload
            pam pam_preload pam_sshd pgbouncer examples)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${ALL_SUITES[@]}")

show_diffs() {
    [ -f regression.diffs ] && { echo "--- regression.diffs"; cat regression.diffs; }
    return 0
}

suite_unit() { make -s check-unit; }
suite_sanitize() { make -s check-sanitize; }
suite_fuzz() { make -s fuzz-ci; }
suite_regress() { make -s installcheck || { show_diffs; return 1; }; }
suite_regress_preload() { make -s installcheck-preload || { show_diffs; return 1; }; }
# prove_tap FILES...: the TAP tests, with the server logs of a failure.
prove_tap() {
    rm -rf tmp_check
    PERL5LIB="$(pg_config --pkglibdir)/pgxs/src/test/perl${PERL5LIB:+:$PERL5LIB}" \
    PG_REGRESS="$(pg_config --pkglibdir)/pgxs/src/test/regress/pg_regress" \
    TESTDIR="$PWD" TEMP_CONFIG="$PWD/test/t/frozen-clock.conf" \
        prove --timer "$@" || {
        for f in tmp_check/log/*; do [ -f "$f" ] && { echo "--- $f"; tail -n 50 "$f"; }; done
        return 1
    }
}
suite_tap() { prove_tap test/t/*.pl; }
# The security test once more with the fast path (its search-path, privilege
# and no-token-in-the-log checks then cover the shared-memory code too).
suite_tap_preload() { VATOKEN_TEST_PRELOAD=1 prove_tap test/t/101_security.pl; }
# Validation behind pgbouncer in transaction pooling (primary and standby).
suite_pgbouncer() { prove_tap test/pgbouncer/*.pl; }
suite_isolation() { bash test/isolation/run.sh; }
suite_isolation_preload() {
    ISOLATION_CONFIG=test/isolation/preload.conf ISOLATION_EXPECTED=test/isolation/expected-preload \
        bash test/isolation/run.sh
}
suite_pam() { bash test/pam/run.sh; }
suite_pam_preload() { VTP_PRELOAD=1 bash test/pam/run.sh; }
suite_pam_sshd() { bash test/pam/sshd.sh; }
# The examples (API server with curl, settings page in headless Chromium).
suite_examples() { bash test/examples/run.sh; }

passed=0
failed=0
failed_names=()
for s in "${suites[@]}"; do
    echo "=== suite: $s"
    start=$(date +%s)
    if "suite_$s"; then
        passed=$((passed + 1))
        echo "=== suite $s: ok ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1))
        failed_names+=("$s")
        echo "=== suite $s: FAILED ($(( $(date +%s) - start ))s)"
    fi
done

[ $failed -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
