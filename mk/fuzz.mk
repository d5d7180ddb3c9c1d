# mk/fuzz.mk: sanitizer build of the unit tests, and libFuzzer targets for the
# pure core (src/core).  Included from the top-level Makefile, after PGXS and
# after CORE_SRCS/CORE_HDRS are defined.
#
#   make check-sanitize       test/check_core built with gcc's ASan + UBSan, run
#   make fuzz                 build each target in test/fuzz/ and run it for
#                             FUZZ_SECONDS (default 60) seconds
#   make fuzz-ci              the same for 15 seconds each
#   make fuzz-build           only build the fuzz targets
#   make clean-fuzz           remove test/fuzz/build/ (make clean does too)
#
# The fuzzers start from the committed seeds in test/fuzz/corpus/<target>/ but
# write what they find into a scratch copy under test/fuzz/build/, so a run
# never changes the committed corpus.  A crashing input is saved as
# test/fuzz/build/artifacts/<target>/crash-* and, because `make test` runs
# from a temporary copy of the tree as root, also copied to
# $(FUZZ_KEEP)/<target>.<time>/ (default /tmp/vatoken-fuzz-artifacts); replay it with
#   test/fuzz/build/<target> <crash file>
# Each run prints libFuzzer's seed; FUZZ_SEED=<n> repeats a run.

FUZZ_SECONDS  ?= 60
FUZZ_SEED     ?=
FUZZ_KEEP     ?= /tmp/vatoken-fuzz-artifacts
FUZZ_CC       ?= clang
SANITIZE_CC   ?= gcc

FUZZ_DIR      = test/fuzz
FUZZ_BUILD    = $(FUZZ_DIR)/build
FUZZ_TARGETS  = fuzz_token fuzz_period
FUZZ_BINS     = $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

FUZZ_CFLAGS   = -std=c11 -Wall -Wextra $(VT_WERROR) -g -O1 -Isrc/core \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
# Bounded inputs and memory; -timeout is per input.
FUZZ_RUN_OPTS = -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer

EXTRA_CLEAN += $(FUZZ_BUILD)

.PHONY: fuzz fuzz-ci fuzz-build check-sanitize clean-fuzz

$(FUZZ_BINS): $(FUZZ_BUILD)/%: $(FUZZ_DIR)/%.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRCS)

fuzz-build: $(FUZZ_BINS)

# $(call fuzz_run,SECONDS): run every target in turn, stop at the first failure.
define fuzz_run
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_BUILD)/corpus/$$t; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
		cp $(FUZZ_DIR)/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/; \
		dict=; if [ -f $(FUZZ_DIR)/$$t.dict ]; then dict=-dict=$(FUZZ_DIR)/$$t.dict; fi; \
		echo "== $$t: $(1) s"; \
		rc=0; $(FUZZ_BUILD)/$$t $(FUZZ_RUN_OPTS) -max_total_time=$(1) $$dict \
			$(if $(FUZZ_SEED),-seed=$(FUZZ_SEED)) \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
			$(FUZZ_BUILD)/corpus/$$t \
			> $(FUZZ_BUILD)/$$t.log 2>&1 || rc=$$?; \
		seed=$$(sed -n 's/^INFO: Seed: \([0-9]*\).*/\1/p' $(FUZZ_BUILD)/$$t.log | head -n 1); \
		echo "$$t: seed $$seed (repeat with FUZZ_SEED=$$seed)"; \
		if [ $$rc -ne 0 ]; then \
			tail -n 60 $(FUZZ_BUILD)/$$t.log; \
			keep=$(FUZZ_KEEP)/$$t.$$(date +%Y%m%d%H%M%S); \
			mkdir -p $$keep && cp $(FUZZ_BUILD)/artifacts/$$t/* $(FUZZ_BUILD)/$$t.log $$keep/ 2>/dev/null; \
			chmod -R a+rX $(FUZZ_KEEP) 2>/dev/null; \
			echo "$$t FAILED: input saved in $(FUZZ_BUILD)/artifacts/$$t/ and $$keep/"; exit 1; \
		fi; \
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' $(FUZZ_BUILD)/$$t.log; \
		echo "$$t: no failure in $(1) s"; \
	done
endef

fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-ci: $(FUZZ_BINS)
	$(call fuzz_run,15)

# The unit tests under ASan + UBSan, with the Makefile's CORE_SRCS,
# CHECK_CFLAGS and CHECK_LIBS (expanded when the recipe runs).  Check forks a child per test by default,
# which hides leaks and some reports from ASan: run them in-process.
$(FUZZ_BUILD)/check_core_sanitize: test/check_core.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(FUZZ_BUILD)
	$(SANITIZE_CC) $(CHECK_CFLAGS) $(SANITIZE_FLAGS) \
		-o $@ test/check_core.c $(CORE_SRCS) $(CHECK_LIBS)

check-sanitize: $(FUZZ_BUILD)/check_core_sanitize
	CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./$(FUZZ_BUILD)/check_core_sanitize

clean-fuzz:
	rm -rf $(FUZZ_BUILD)
