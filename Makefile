# hostca — one C file, one dependency (BearSSL).
CC      ?= cc
# -Oz (gcc 12, clang) where the compiler has it; -Os elsewhere.
OPT     := $(shell $(CC) -Oz -x c -c -o /dev/null /dev/null >/dev/null 2>&1 && echo -Oz || echo -Os)
CFLAGS  ?= $(OPT) -g
FUZZ_SECONDS ?= 600
# Small: no unwind tables (C), unused functions dropped, no page padding.
SMALL    = -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections -fno-plt
LDBASE   = -Wl,--gc-sections -Wl,-z,noseparate-code
LDSMALL  = $(LDBASE) $(RELR)
# Relative relocations packed (DT_RELR, binutils 2.38 and glibc 2.36 on):
# 8 bytes of a PIE's pointer tables instead of 24 each, when the toolchain can.
# (Not for the arm64 cross build: its binutils 2.40 ignores the option.)
RELR    := $(shell printf 'int main(void){return 0;}\n' >/tmp/.hostca-relr.c && \
	$(CC) -Wl,-z,pack-relative-relocs -o /tmp/.hostca-relr /tmp/.hostca-relr.c >/dev/null 2>&1 \
	&& /tmp/.hostca-relr && echo -Wl,-z,pack-relative-relocs; rm -f /tmp/.hostca-relr /tmp/.hostca-relr.c)
WARN     = -std=c99 -Wall -Wextra -pedantic
LDLIBS   = -lbearssl -lpthread
PREFIX  ?= /usr/local
DESTDIR ?=
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Packages: the build needs libbearssl-dev; the tests use the peers.
BUILD_PKGS = gcc libc6-dev make libbearssl-dev
TEST_PKGS  = openssl gnutls-bin python3-cryptography python3-jsonschema faketime
# tests/t_package.sh: the Debian package (make deb), its manual page, the
# systemd units (systemd-analyze verify), lintian.
DEB_PKGS   = dpkg-dev binutils
TEST_PKGS += $(DEB_PKGS) man-db systemd lintian

.PHONY: all deps deps-build test demo install clean bench fuzz static cross-deps cross-test deb

all: hostca

hostca: hostca.c hostca.h
	$(CC) $(WARN) $(CFLAGS) $(SMALL) $(LDSMALL) -o $@ hostca.c $(LDLIBS)

# Static (Debian's libbearssl.a is built with fortify: glibc, not musl).
hostca-static: hostca.c hostca.h
	$(CC) $(WARN) $(CFLAGS) $(SMALL) $(LDSMALL) -static -o $@ hostca.c $(LDLIBS)

static: hostca-static

# Same program with the test hooks (fixed clock, seeded RNG, fault points).
hostca-test: hostca.c hostca.h
	$(CC) $(WARN) $(CFLAGS) -DHOSTCA_TEST_HOOKS -o $@ hostca.c $(LDLIBS)

hostca-asan: hostca.c hostca.h
	$(CC) $(WARN) -O1 -g $(SAN) -DHOSTCA_TEST_HOOKS -o $@ hostca.c $(LDLIBS)

hostca.o: hostca.c hostca.h
	$(CC) $(WARN) $(CFLAGS) $(SMALL) -DHOSTCA_NO_MAIN -c -o $@ hostca.c

# arm64, cross-built, for the test run under qemu-user (make cross-test).
CROSS_CC = aarch64-linux-gnu-gcc
hostca-arm64: hostca.c hostca.h
	$(CROSS_CC) $(WARN) $(CFLAGS) $(SMALL) $(LDBASE) -o $@ hostca.c $(LDLIBS)

hostca-test-arm64: hostca.c hostca.h
	$(CROSS_CC) $(WARN) $(CFLAGS) -DHOSTCA_TEST_HOOKS -o $@ hostca.c $(LDLIBS)

tests/p256check-arm64: tests/p256check.c hostca.c hostca.h
	$(CROSS_CC) $(WARN) $(CFLAGS) -o $@ tests/p256check.c $(LDLIBS)

cross-deps:
	@sh tests/deps-cross.sh

cross-test: cross-deps
	$(MAKE) hostca-arm64 hostca-test-arm64 tests/p256check-arm64
	@T_CROSS=1 sh tests/run.sh t_core t_csr t_enroll t_revoke t_golden t_index t_p256

tests/example: tests/example.c hostca.o
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ tests/example.c hostca.o $(LDLIBS)

# hostca's P-256 verifier against BearSSL's (tests/t_p256.sh).
tests/p256check: tests/p256check.c hostca.c hostca.h
	$(CC) $(WARN) $(CFLAGS) -o $@ tests/p256check.c $(LDLIBS)

tests/p256check-asan: tests/p256check.c hostca.c hostca.h
	$(CC) $(WARN) -O1 -g $(SAN) -o $@ tests/p256check.c $(LDLIBS)

# Install only what is missing (apt-get, as root on Debian).
deps:
	@sh tests/deps.sh $(BUILD_PKGS) $(TEST_PKGS)

deps-build:
	@sh tests/deps.sh $(BUILD_PKGS)

test: deps
	$(MAKE) hostca hostca-test hostca-asan tests/example tests/p256check tests/p256check-asan
	@if sh tests/deps-cross.sh; then $(MAKE) -s hostca-arm64 hostca-test-arm64 tests/p256check-arm64; \
	else echo "# arm64 cross build skipped: its packages did not install"; fi
	@sh tests/run.sh

demo: deps
	$(MAKE) hostca
	@sh tests/demo.sh ./hostca

bench: deps
	$(MAKE) hostca
	@sh tests/bench.sh

# libFuzzer harnesses (clang): each parser that reads media, 10 minutes each.
fuzz:
	@sh tests/fuzz/run.sh long $(FUZZ_SECONDS)

install: hostca
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 hostca $(DESTDIR)$(PREFIX)/bin/hostca
	install -m 0644 hostca.h $(DESTDIR)$(PREFIX)/include/hostca.h
	install -m 0644 hostca.1 $(DESTDIR)$(PREFIX)/share/man/man1/hostca.1
	install -m 0644 contrib/hostca.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hostca

# Debian package hostca_<version>-$(DEB_REVISION)_<arch>.deb, from a staging
# tree in build-deb/ (contrib/mkdeb.sh says what it holds). DEB_MAINTAINER
# (default: the last commit's author) and SOURCE_DATE_EPOCH may be set.
DEB_REVISION ?= 1
deb: hostca hostca.o
	@sh tests/deps.sh $(DEB_PKGS)
	DEB_REVISION=$(DEB_REVISION) sh contrib/mkdeb.sh ./hostca hostca.o .

clean:
	rm -f hostca hostca-test hostca-asan hostca-static hostca-arm64 hostca-test-arm64 hostca.o tests/example tests/p256check tests/p256check-asan tests/p256check-arm64
	rm -rf tests/out build-deb
	rm -f hostca_*.deb

# The model-based policy test (tests/t_model.sh, tests/model.py), long:
# MODEL_STEPS steps (20000), MODEL_SEED=N replays a run. `make test` runs
# it too, shorter. Run directly, not by tests/run.sh (its 600 s limit).
.PHONY: model
model: deps
	$(MAKE) hostca hostca-test
	@MODEL_STEPS=$${MODEL_STEPS:-20000} sh tests/t_model.sh
	@ROLLSEQ_STEPS=$${ROLLSEQ_STEPS:-600} sh tests/t_rollseq.sh
