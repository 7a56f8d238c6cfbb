# kmipd: a KMIP server. GNU make.
#
#   make            build ./kmipd and ./kmipctl
#   make test       install missing Debian packages, build, run every test (unit and integration)
#   make test-vectors  the unit cases that read the OASIS files in VECTORS (../shared/kmip-vectors)
#   make test-etcd  the JSON parser and the etcd tests alone (a real etcd on loopback; also in make test)
#   make test-cluster  the cluster suite alone: etcd members and kmipd nodes on loopback (also in make test)
#   make run        install missing packages, make development certificates, run kmipd in the foreground
#   make asan       the whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer (clang)
#   make fuzz       build and run the libFuzzer targets for FUZZ_TIME seconds each
#   make bench      micro-benchmarks and load figures (never part of make test)
#   make install    PREFIX=/usr/local DESTDIR=: binaries, man pages, unit, sysusers/tmpfiles, logrotate, config
#   make uninstall  removes them (never the configuration, certificates, store or logs)
#   make static     statically linked kmipd and kmipctl in build-static/, for appliance images
#   make conformance  the OASIS KMIP 1.4 and 2.1 mandatory test cases against a private kmipd: prints the
#                   count; fails only when the runner breaks, not when kmipd fails cases
#
# Each module lists its sources in its own module.mk; objects and test binaries go under $(BUILD).

BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config
SHARED ?= ../shared
VECTORS ?= $(SHARED)/kmip-vectors
FUZZ_TIME ?= 60
STATE ?= state
# The commit make bench measures this tree against (test/bench/versus.sh): the last before issue 18
# (worker processes, cheaper Gets). 069346f was the last before the engine's reshaping.
BENCH_BASE ?= aba05a5
# Objects of the large stores test/bench/keys.sh fills (0 skips that part; each fill takes about 40 s).
BENCH_KEYS_OBJECTS ?= 1000000
# Seconds of each measured run of test/bench/attack.sh (an idle and an attacked run per case, eight cases).
BENCH_ATTACK_SECONDS ?= 10

PKGS := libevent_core libevent_openssl openssl libconfig lmdb
# Recursive (=) so that pkg-config runs only when a recipe needs it, after the dependency installer.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka)

OPT ?= -O2
SAN ?=
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wformat=2 -Wno-format-nonliteral -Werror
DEFS ?=
override CFLAGS += -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) $(SAN) $(DEFS) -I. -MMD -MP $(PKG_CFLAGS)
override LDFLAGS += $(SAN)

.DEFAULT_GOAL := all
.PHONY: all test test-vectors test-etcd test-cluster check install uninstall static run asan asan-tests fuzz fuzz-bins bench conformance deps clean

include proto/module.mk
include tls/module.mk
include store/module.mk
include core/module.mk
include test/module.mk

OBJS = $(patsubst %.c,$(BUILD)/%.o,$(ALL_SRCS))

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.a:
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

all: kmipd kmipctl

kmipd: $(BUILD)/kmipd
	cp $< $@
kmipctl: $(BUILD)/kmipctl
	cp $< $@

deps:
	@etc/install-deps.sh

test: deps
	$(MAKE) --no-print-directory check

check: all $(TEST_BINS)
	@test/run-tests.sh $(BUILD) $(VECTORS)

# The cases that read the OASIS files in $(VECTORS) (../shared/kmip-vectors): their own target, so that make
# test passes in a source tree alone (a package build); .ci/run runs both.
VECTOR_TEST_BINS := $(BUILD)/test/test_ttlv $(BUILD)/test/test_names $(BUILD)/test/test_xml \
	$(BUILD)/test/test_keyfmt
test-vectors: deps
	$(MAKE) --no-print-directory $(VECTOR_TEST_BINS)
	@[ -d $(VECTORS) ] || { echo "test-vectors: no OASIS files at $(VECTORS) (set VECTORS)" >&2; exit 1; }
	@KMIPD_TEST_VECTORS=1 test/run-tests.sh $(BUILD) $(VECTORS) "$(notdir $(VECTOR_TEST_BINS))"

# The etcd tests of issue 19 alone (they are part of make test too): the JSON parser and etcd decoder, then
# the decoder and the etcd client (core/etcd.h) against real etcd clusters on loopback (test/etcd/README.md).
test-etcd: deps
	$(MAKE) --no-print-directory $(BUILD)/test/test_jstream $(BUILD)/test/test_etcd $(BUILD)/test/test_etcd_client
	@test/run-tests.sh $(BUILD) $(VECTORS) "test_jstream test_etcd test_etcd_client"

# The cluster suite of issue 19 alone (also part of make test): three etcd members (their data on /dev/shm)
# and two kmipd nodes with store.backend = etcd on loopback (test/cluster/test_cluster.c).
test-cluster: deps
	$(MAKE) --no-print-directory $(BUILD)/kmipd $(BUILD)/kmipctl $(BUILD)/test/test_cluster
	@test/run-tests.sh $(BUILD) $(VECTORS) "test_cluster"

asan: deps
	$(MAKE) --no-print-directory BUILD=build-asan CC=clang OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		build-asan/kmipd build-asan/kmipctl asan-tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		test/run-tests.sh build-asan $(VECTORS)

asan-tests: $(TEST_BINS)

# Each target runs FUZZ_TIME seconds from the seed corpus plus what earlier runs found (build-fuzz/corpus),
# with its own seeds (test/fuzz/seeds-TARGET) and dictionary (test/fuzz/TARGET.dict) where it has them.
fuzz: deps
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" fuzz-bins
	@test/fuzz/seed-corpus.py build-fuzz/seeds $(VECTORS)
	@for f in $(notdir $(FUZZ_BINS)); do \
		mkdir -p build-fuzz/corpus/$$f build-fuzz/artifacts; \
		echo "fuzz: $$f for $(FUZZ_TIME) s"; \
		build-fuzz/fuzz/$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			$$([ -f test/fuzz/$$f.dict ] && echo -dict=test/fuzz/$$f.dict) \
			-artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus/$$f build-fuzz/seeds \
			$$([ -d test/fuzz/seeds-$$f ] && echo test/fuzz/seeds-$$f) \
			2>build-fuzz/$$f.log || { tail -50 build-fuzz/$$f.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|stat::new_units_added' build-fuzz/$$f.log; \
	done

fuzz-bins: $(FUZZ_BINS)

bench: deps
	$(MAKE) --no-print-directory all $(BENCH_BINS)
	@echo "== TTLV codec"; $(BUILD)/bench/bench_ttlv
	@echo "== The store written and read by several processes at once"; \
		$(BUILD)/bench/bench_store_mp -t 3 && $(BUILD)/bench/bench_store_mp -t 3 -g 16 -n 1000
	@echo "== Creates and Gets through two kmipd processes sharing one store"; test/bench/store-procs.sh $(BUILD) 5 16
	@echo "== Get latency during a CreateKeyPair storm"; test/bench/run-latency.sh $(BUILD) 5 4
	@echo "== OpenSSL alone on this machine"; test/bench/openssl-limits.sh $(BUILD) 3 10
	@echo "== kmipd and PyKMIP's server side by side"; test/bench/compare.sh $(BUILD) 5
	@echo "== Idle mutual-TLS connections held by kmipd"; test/bench/scale.sh $(BUILD) 5 0 10000
	@echo "== Full handshakes with the RSA-2048 and the ECDSA P-256 server certificate"; \
		test/bench/handshakes.sh $(BUILD)/kmipd 1 5 3 16
	@echo "== One worker process against two: CPU per operation, resumption, the writer lock, both cores"; \
		test/bench/workers.sh $(BUILD) 5 3
	@echo "== 100,000 idle connections held by seven worker processes"; \
		test/bench/scale-workers.sh $(BUILD) 5 100000 7
	@echo "== A clustered node (three etcd members) against a single-machine kmipd: Get, durable Create"; \
		test/bench/cluster.sh $(BUILD) 5 3
	@echo "== This tree against kmipd at $(BENCH_BASE)"; test/bench/versus.sh $(BUILD) $(BENCH_BASE) 5 5
	@echo "== Keys at rest: Get encrypted against clear, a large store's start and encryption"; \
		test/bench/keys.sh $(BUILD) 5 3 $(BENCH_KEYS_OBJECTS) 5
	@echo "== An honest client's latency while another tenant attacks (issue 14)"; \
		test/bench/attack.sh $(BUILD) $(BENCH_ATTACK_SECONDS) 1 20

# VECTORS is the folder of the test cases; CONFORMANCE_FLAGS=--verbose shows every message.
conformance: deps
	$(MAKE) --no-print-directory $(BUILD)/kmipd $(CONFORMANCE_BIN) test/conformance/kmip-conformance
	@CONFORMANCE_FLAGS="$(CONFORMANCE_FLAGS)" test/conformance/run-kmipd.sh $(BUILD) $(VECTORS)

run: deps
	$(MAKE) --no-print-directory all
	@etc/mkcerts.sh $(STATE)/certs >/dev/null
	@[ -f $(STATE)/master.key ] || ./kmipctl master-key create $(STATE)/master.key
	./kmipd -f -o store.path=\"$(STATE)/store\" -o store.master_key_file=\"$(STATE)/master.key\" \
		-o tls.cert_file=\"$(STATE)/certs/server.crt\" -o tls.key_file=\"$(STATE)/certs/server.key\" \
		-o tls.ecdsa_cert_file=\"$(STATE)/certs/server-ec.crt\" -o tls.ecdsa_key_file=\"$(STATE)/certs/server-ec.key\" \
		-o tls.clients_ca_cert_file=\"$(STATE)/certs/ca.crt\" $(RUNFLAGS)

# Statically linked kmipd and kmipctl for appliance images (build-static/): every library from Debian's
# .a archives, nothing to install beside them. glibc's own parts stay dynamic at run time where glibc says so:
# user lookups (server.user) through NSS, so run them on the glibc they were linked with. A static kmipd
# cannot load PKCS#11 modules (they link the shared C library): store.pkcs11_module is refused with a reason.
static: deps
	$(MAKE) --no-print-directory BUILD=build-static LDFLAGS="-static" DEFS=-DKMIPD_STATIC \
		PKG_LIBS="$$($(PKG_CONFIG) --static --libs $(PKGS))" build-static/kmipd build-static/kmipctl
	@ls -l build-static/kmipd build-static/kmipctl | awk '{ print $$5, $$9 }'

# Installation. PREFIX/sbin gets kmipd and kmipctl, the man pages go under PREFIX/share/man, the unit, the
# sysusers.d and tmpfiles.d entries under PREFIX/lib (UNITDIR: Debian packages use /lib/systemd/system),
# the logrotate snippet and the configuration under SYSCONFDIR. An existing kmipd.conf is never replaced:
# the sample goes beside it as kmipd.conf.sample. kmipctl's example settings go to PREFIX/share/kmipd. DESTDIR stages it all into another root.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
MAN_PAGES = $(wildcard etc/*.8) $(wildcard etc/*.5)
INSTALLED = $(PREFIX)/sbin/kmipd $(PREFIX)/sbin/kmipctl $(UNITDIR)/kmipd.service \
	$(PREFIX)/lib/sysusers.d/kmipd.conf $(PREFIX)/lib/tmpfiles.d/kmipd.conf $(SYSCONFDIR)/logrotate.d/kmipd \
	$(PREFIX)/share/kmipd/mkcerts.sh $(PREFIX)/share/kmipd/kmipd.conf $(PREFIX)/share/kmipd/kmipctl.conf \
	$(foreach m,$(MAN_PAGES),$(PREFIX)/share/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

install: $(BUILD)/kmipd $(BUILD)/kmipctl
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(PREFIX)/share/kmipd \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(SYSCONFDIR)/kmipd
	install -m 0755 $(BUILD)/kmipd $(BUILD)/kmipctl $(DESTDIR)$(PREFIX)/sbin/
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|g; s|/etc/kmipd/|$(SYSCONFDIR)/kmipd/|g' etc/kmipd.service \
		>$(DESTDIR)$(UNITDIR)/kmipd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/kmipd.service
	install -m 0644 etc/kmipd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/kmipd.conf
	install -m 0644 etc/kmipd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/kmipd.conf
	install -m 0644 etc/kmipd.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/kmipd
	install -m 0755 etc/mkcerts.sh $(DESTDIR)$(PREFIX)/share/kmipd/mkcerts.sh
	install -m 0644 etc/kmipd.conf $(DESTDIR)$(PREFIX)/share/kmipd/kmipd.conf
	install -m 0644 etc/kmipctl.conf $(DESTDIR)$(PREFIX)/share/kmipd/kmipctl.conf
	for m in $(MAN_PAGES); do \
		install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/; \
	done
	if [ -e $(DESTDIR)$(SYSCONFDIR)/kmipd/kmipd.conf ]; then \
		install -m 0640 etc/kmipd.conf $(DESTDIR)$(SYSCONFDIR)/kmipd/kmipd.conf.sample; \
		echo "install: kept $(DESTDIR)$(SYSCONFDIR)/kmipd/kmipd.conf; the new sample is kmipd.conf.sample"; \
	else \
		install -m 0640 etc/kmipd.conf $(DESTDIR)$(SYSCONFDIR)/kmipd/kmipd.conf; \
	fi

# Removes what install put there, except the configuration, the certificates, the store and the logs.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED)) $(DESTDIR)$(SYSCONFDIR)/kmipd/kmipd.conf.sample
	-rmdir $(DESTDIR)$(PREFIX)/share/kmipd 2>/dev/null

clean:
	rm -rf build build-asan build-fuzz build-static kmipd kmipctl

-include $(OBJS:.o=.d)
