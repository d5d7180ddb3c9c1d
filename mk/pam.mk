# mk/pam.mk -- build, install and test the PAM module pam_vatoken.
#
# Included by the top-level PGXS Makefile; also usable alone:
#     make -f mk/pam.mk pam
# Paths are relative to the repository root.  All variables are prefixed
# PAM_ so that nothing here changes PGXS behaviour; the only PGXS variable
# touched is EXTRA_CLEAN (appended to).  This file does not change the
# default goal of the including Makefile.
#
# Targets: pam, install-pam, uninstall-pam, test-pam, pam-test-bins, clean-pam

PAM_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
PAM_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),1,0)

PG_CONFIG ?= pg_config
PAM_CC ?= gcc
PAM_PKG_CONFIG ?= pkg-config

PAM_SRC_DIR := src/pam
PAM_CORE_DIR := src/core
PAM_TEST_DIR := test/pam
PAM_SO := $(PAM_SRC_DIR)/pam_vatoken.so

# Everything but the PAM entry points (pam_vatoken.c): what the unit tests link.
PAM_LIB_SRCS := $(PAM_SRC_DIR)/pam_args.c $(PAM_SRC_DIR)/pam_check.c \
	$(PAM_SRC_DIR)/pam_client.c $(PAM_SRC_DIR)/pam_params.c $(PAM_SRC_DIR)/pam_result.c $(PAM_SRC_DIR)/pam_log.c
PAM_MODULE_SRCS := $(PAM_SRC_DIR)/pam_vatoken.c $(PAM_LIB_SRCS)
PAM_CORE_SRCS := $(PAM_CORE_DIR)/vt_token.c $(PAM_CORE_DIR)/vt_base62.c \
	$(PAM_CORE_DIR)/vt_crc32.c $(PAM_CORE_DIR)/vt_scope.c
PAM_HDRS := $(wildcard $(PAM_SRC_DIR)/*.h) $(PAM_CORE_DIR)/vt_token.h \
	$(PAM_CORE_DIR)/vt_base62.h $(PAM_CORE_DIR)/vt_crc32.h $(PAM_CORE_DIR)/vt_scope.h

PAM_PQ_INCLUDEDIR := $(shell $(PG_CONFIG) --includedir 2>/dev/null)
# The one service file service= is looked up in (servicefile= overrides it).
PAM_SYSCONFDIR := $(shell $(PG_CONFIG) --sysconfdir 2>/dev/null)
PAM_SERVICEFILE ?= $(if $(PAM_SYSCONFDIR),$(PAM_SYSCONFDIR),/etc/postgresql-common)/pg_service.conf
PAM_CFLAGS ?= -O2 -g
# Debian's hardening flags (dpkg-buildflags with hardening=+all); the module
# runs inside sshd, nginx and postgres.  test/pam/run.sh checks the binary.
PAM_HARDEN_CFLAGS := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security
# The module and its tests are compiled alike; the module also with -fPIC.
PAM_BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra $(VT_WERROR) $(PAM_CFLAGS) $(PAM_HARDEN_CFLAGS) \
	-I$(PAM_SRC_DIR) -I$(PAM_CORE_DIR) $(if $(PAM_PQ_INCLUDEDIR),-I$(PAM_PQ_INCLUDEDIR)) \
	-DVTP_DEFAULT_SERVICEFILE='"$(PAM_SERVICEFILE)"'
PAM_ALL_CFLAGS := $(PAM_BASE_CFLAGS) -fPIC
PAM_LDFLAGS ?=
PAM_SO_LDFLAGS := -shared -Wl,--no-undefined -Wl,-z,relro -Wl,-z,now \
	-Wl,--version-script=$(PAM_SRC_DIR)/pam_vatoken.map $(PAM_LDFLAGS)
PAM_LIBS := -lpam -lpq

# Where PAM modules live: /lib/x86_64-linux-gnu/security on Debian amd64.
PAM_LIBDIR := $(shell $(PAM_PKG_CONFIG) --variable=libdir pam 2>/dev/null)
ifeq ($(PAM_LIBDIR),)
PAM_LIBDIR := /lib/$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
endif
PAM_MODULE_DIR ?= $(PAM_LIBDIR)/security

# Check unit tests and integration helpers.
PAM_CHECK_CFLAGS := $(shell $(PAM_PKG_CONFIG) --cflags check 2>/dev/null)
PAM_CHECK_LIBS := $(shell $(PAM_PKG_CONFIG) --libs check 2>/dev/null)
PAM_TEST_CFLAGS := $(PAM_BASE_CFLAGS) $(PAM_CHECK_CFLAGS)
PAM_TEST_BUILD := $(PAM_TEST_DIR)/build
PAM_TEST_BINS := $(PAM_TEST_BUILD)/test_pam_unit $(PAM_TEST_BUILD)/test_pam_env \
	$(PAM_TEST_BUILD)/vt_mktoken

.PHONY: pam install-pam uninstall-pam test-pam pam-test-bins clean-pam

pam: $(PAM_SO)

$(PAM_SO): $(PAM_MODULE_SRCS) $(PAM_CORE_SRCS) $(PAM_HDRS) $(PAM_SRC_DIR)/pam_vatoken.map mk/pam.mk
	$(PAM_CC) $(PAM_ALL_CFLAGS) $(PAM_SO_LDFLAGS) -o $@ \
		$(PAM_MODULE_SRCS) $(PAM_CORE_SRCS) $(PAM_LIBS)

install-pam: $(PAM_SO)
	install -d '$(DESTDIR)$(PAM_MODULE_DIR)'
	install -m 0644 $(PAM_SO) '$(DESTDIR)$(PAM_MODULE_DIR)/pam_vatoken.so'

uninstall-pam:
	rm -f '$(DESTDIR)$(PAM_MODULE_DIR)/pam_vatoken.so'

pam-test-bins: $(PAM_TEST_BINS)

# The unit tests compile every part of the module but its PAM entry points.
$(PAM_TEST_BUILD):
	mkdir -p $@

$(PAM_TEST_BUILD)/test_pam_unit: $(PAM_TEST_DIR)/test_pam_unit.c $(PAM_LIB_SRCS) \
		$(PAM_CORE_SRCS) $(PAM_HDRS) $(PAM_TEST_DIR)/check_report.h | $(PAM_TEST_BUILD)
	$(PAM_CC) $(PAM_TEST_CFLAGS) -o $@ $< \
		$(PAM_LIB_SRCS) $(PAM_CORE_SRCS) $(PAM_CHECK_LIBS) $(PAM_LIBS)

# In-process PAM application for the integration tests (run under pam_wrapper).
$(PAM_TEST_BUILD)/test_pam_env: $(PAM_TEST_DIR)/test_pam_env.c \
		$(PAM_TEST_DIR)/check_report.h | $(PAM_TEST_BUILD)
	$(PAM_CC) $(PAM_TEST_CFLAGS) -o $@ $< $(PAM_CHECK_LIBS) -lpam

# Prints a random, well-formed token that no database has issued.
$(PAM_TEST_BUILD)/vt_mktoken: $(PAM_TEST_DIR)/vt_mktoken.c $(PAM_CORE_SRCS) $(PAM_HDRS) | $(PAM_TEST_BUILD)
	$(PAM_CC) $(PAM_TEST_CFLAGS) -o $@ $< $(PAM_CORE_SRCS)

test-pam: pam pam-test-bins
	bash $(PAM_TEST_DIR)/run.sh

clean-pam:
	rm -f $(PAM_SO)
	rm -rf $(PAM_TEST_BUILD)

EXTRA_CLEAN += $(PAM_SO) $(PAM_TEST_BUILD)

# Included: give the default goal back.  Alone (make -f mk/pam.mk): build.
ifeq ($(PAM_STANDALONE),1)
.DEFAULT_GOAL := pam
else
.DEFAULT_GOAL := $(PAM_SAVED_DEFAULT_GOAL)
endif
