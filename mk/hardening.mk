# mk/hardening.mk: robustness checks of the extension beyond the regression
# suite.  Included from the top-level Makefile, after PGXS; defines no `all`.
#
#   make check-isolation   concurrency specs (test/isolation) against a
#                          temporary instance; ISOLATION_CONFIG=<file> adds
#                          postgresql.conf lines, e.g. test/isolation/preload.conf
#   make check-upgrade     ALTER EXTENSION UPDATE from every released version
#                          equals a fresh install, data intact (test/t/102_upgrade.pl)
#   make check-security    search-path capture, privileges, no token in the
#                          server log (test/t/101_security.pl)
#   make soak              64 pgbench clients mixing create/validate/list/delete
#                          for SOAK_SECONDS (default 180) against a throwaway
#                          cluster, then exact-count and no-resurrection checks
#                          (bench/soak); SOAK_CONFIG=<file> adds postgresql.conf
#                          lines; not part of `make test`
#
# Every target starts and stops its own servers and expects the extension to
# be installed (make && sudo make install).  PostgreSQL refuses to run as
# root, so as root each target runs from a copy of the tree under /tmp, owned
# by VATOKEN_TEST_USER (default postgres), as that user
# (scripts/as-test-user.sh); as an ordinary user it runs in place.
# `make test` runs the isolation specs and the TAP tests (101_security,
# 102_upgrade) through test/suites.sh.

ISOLATION_CONFIG ?= test/isolation/isolation.conf
SOAK_SECONDS     ?= 180
SOAK_CLIENTS     ?= 64
SOAK_THREADS     ?= 2
SOAK_CONFIG      ?=
VATOKEN_TEST_USER ?= postgres

HARDENING_PG_PERL = $(shell $(PG_CONFIG) --pkglibdir)/pgxs/src/test/perl
HARDENING_PG_REGRESS = $(shell $(PG_CONFIG) --pkglibdir)/pgxs/src/test/regress/pg_regress

# Everything these targets write goes under /tmp (or tmp_check/, which the
# Makefile already cleans, for TAP tests run in place).

.PHONY: check-isolation check-upgrade check-security soak

# $(call hardening_run,COMMAND): run COMMAND at the root of the tree through
# scripts/as-test-user.sh (in place, or as root from a copy owned by
# $(VATOKEN_TEST_USER)).
hardening_run = @VATOKEN_TEST_USER=$(VATOKEN_TEST_USER) bash scripts/as-test-user.sh $(1)

check-isolation:
	$(call hardening_run,env ISOLATION_CONFIG=$(ISOLATION_CONFIG) bash test/isolation/run.sh)

# $(call hardening_prove,TEST FILES)
define hardening_prove
	$(call hardening_run,env PERL5LIB=$(HARDENING_PG_PERL) PG_REGRESS=$(HARDENING_PG_REGRESS) \
		PATH=$(shell $(PG_CONFIG) --bindir):$$PATH \
		prove --timer $(1))
endef

check-upgrade:
	$(call hardening_prove,test/t/102_upgrade.pl)

check-security:
	$(call hardening_prove,test/t/101_security.pl)

soak:
	$(call hardening_run,env SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) \
		SOAK_THREADS=$(SOAK_THREADS) SOAK_CONFIG=$(SOAK_CONFIG) bash bench/soak/run.sh)

