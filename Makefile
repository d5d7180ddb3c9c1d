# vatoken: API tokens for PostgreSQL.
#
#   make            build the extension (and the PAM module)
#   make install    install the extension into the PostgreSQL that pg_config names
#   make demo       fresh machine: install packages, build, install, run a
#                   throwaway cluster and walk through the main job
#   make test       everything CI runs (installs what it needs, starts its own servers)
#   make bench      the side-by-side benchmark (bench/)

EXTENSION   = vatoken
MODULE_big  = vatoken

CORE_SRCS   = $(wildcard src/core/*.c)
CORE_HDRS   = $(wildcard src/core/*.h)
EXT_SRCS    = $(wildcard src/ext/*.c)
OBJS        = $(CORE_SRCS:.c=.o) $(EXT_SRCS:.c=.o)
DATA        = $(wildcard sql/vatoken--*.sql)

# Warnings are errors only where WERROR=1 (CI sets it, .ci/run): a user's
# newer compiler with new warnings must not break their build.
WERROR     ?=
VT_WERROR   = $(if $(filter 1 yes true,$(WERROR)),-Werror)

PG_CPPFLAGS = -Isrc/core -Isrc/ext -I$(shell $(PG_CONFIG) --includedir)
# libpq: a hot standby's forwarder delivers its counts to the primary.
SHLIB_LINK  = -lpq
PG_CFLAGS   = -std=gnu11 -Wall -Wextra $(VT_WERROR) -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-sign-compare

# Regression tests: sql/<name>.sql against expected/<name>.out, run in a
# throwaway instance that pg_regress starts itself.
# mode_plain / mode_preload prove which mode each run is in.
REGRESS_BASE = setup create validate list_usage delete bad_input privileges deliver policy \
               audit ratelimit history \
               pgcrypto_hash timezone multi_db schema catalogue
REGRESS_MODE ?= mode_plain
REGRESS      = $(REGRESS_BASE) $(REGRESS_MODE)
REGRESS_CONF ?= test/regress.conf
# The instance's encoding and collation are pinned, whatever the caller's locale.
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=$(REGRESS_CONF) \
               --encoding=UTF8 --no-locale


EXTRA_CLEAN = tmp_check tmp_check_* results regression.diffs regression.out \
              log output_iso test/check_core

PG_CONFIG ?= pg_config
# Without pg_config only the targets that install it can run (they call
# scripts/deps.sh first); anything else says what to install.
ifeq ($(shell command -v $(PG_CONFIG) 2>/dev/null),)
ifneq ($(filter-out demo test bench deps,$(or $(MAKECMDGOALS),all)),)
$(error $(PG_CONFIG) not found. Install PostgreSQL 15's development files \
  (apt-get install postgresql-server-dev-15), or run "make demo" or "make test", \
  which install everything they need)
endif
else
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
endif

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(CORE_HDRS) $(wildcard src/ext/*.h)

# The PAM module (src/pam), the core's sanitizer and fuzzing targets, and the
# hardening checks (isolation specs, upgrade and security TAP tests, soak).
include mk/pam.mk
include mk/fuzz.mk
include mk/hardening.mk

# `make` builds the PAM module next to the extension.
all: pam

.PHONY: demo test bench check-unit installcheck-preload deps

# Unit tests of the pure core, with Check; no server involved.
CHECK_CFLAGS = -std=c11 -Wall -Wextra $(VT_WERROR) -pedantic -g -O1 -Isrc/core \
               $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

test/check_core: test/check_core.c $(CORE_SRCS) $(CORE_HDRS)
	$(CC) $(CHECK_CFLAGS) -o $@ test/check_core.c $(CORE_SRCS) $(CHECK_LIBS)

check-unit: test/check_core
	./test/check_core

# The same suite with the library preloaded: the shared-memory fast path.
installcheck-preload:
	$(MAKE) installcheck REGRESS_CONF=test/regress-preload.conf REGRESS_MODE="mode_preload token_cache stats"

deps:
	bash scripts/deps.sh

demo:
	bash scripts/demo.sh

test:
	bash test/run.sh

# The side-by-side benchmark (not part of `make test`): bench/run.sh.
bench:
	bash scripts/install-and-run.sh build bash bench/run.sh
