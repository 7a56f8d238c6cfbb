# Tests that span modules, fuzz targets and benchmarks. Unit tests are listed in their module's module.mk.

ALL_SRCS += test/fuzz/fuzz_ttlv.c test/bench/bench_ttlv.c

# Fuzz targets: built by `make fuzz` with clang into build-fuzz (SAN carries -fsanitize=fuzzer-no-link).
FUZZ_BINS := $(BUILD)/fuzz/fuzz_ttlv
$(BUILD)/fuzz/fuzz_ttlv: $(BUILD)/test/fuzz/fuzz_ttlv.o $(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^

BENCH_BINS += $(BUILD)/bench/bench_ttlv
$(BUILD)/bench/bench_ttlv: $(BUILD)/test/bench/bench_ttlv.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^

# The JSON parser and etcd decoder (proto/jstream.h), with the seeds in test/fuzz/seeds-fuzz_jstream.
ALL_SRCS += test/fuzz/fuzz_jstream.c
FUZZ_BINS += $(BUILD)/fuzz/fuzz_jstream
$(BUILD)/fuzz/fuzz_jstream: $(BUILD)/test/fuzz/fuzz_jstream.o $(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^

# The etcd decoder against a real etcd through its HTTP/JSON gateway, with libevent's HTTP client, and a
# three-member cluster (test/etcd/cluster.sh): etcd from install-deps.sh, its data on /dev/shm.
ALL_SRCS += test/etcd/test_etcd.c
TEST_BINS += $(BUILD)/test/test_etcd
$(BUILD)/test/test_etcd: $(BUILD)/test/etcd/test_etcd.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs libevent_extra) $(CMOCKA_LIBS)

# The etcd client (core/etcd.h) against real etcd clusters (test/etcd/cluster.sh): requests, watches,
# failover, a stopped member, authentication and TLS.
ALL_SRCS += test/etcd/test_etcd_client.c
TEST_BINS += $(BUILD)/test/test_etcd_client
$(BUILD)/test/test_etcd_client: $(BUILD)/test/etcd/test_etcd_client.o $(BUILD)/libetcd.a $(BUILD)/libtestutil.a \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ETCD_LIBS) $(CMOCKA_LIBS)

# Integration tests: the real kmipd over mutual TLS on loopback (KMIPD_BIN, set by test/run-tests.sh).
HARNESS_SRCS := test/integration/harness.c
# What every integration test links besides its own object: the harness and the shared test helpers.
HARNESS_OBJS := $(BUILD)/test/integration/harness.o $(BUILD)/libtestutil.a
ALL_SRCS += $(HARNESS_SRCS) test/integration/test_server.c
TEST_BINS += $(BUILD)/test/test_server
$(BUILD)/test/test_server: $(BUILD)/test/integration/test_server.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The server's certificates: the ECDSA one beside the RSA one, bad pairs, a reload that adds it.
ALL_SRCS += test/integration/test_tlscert.c
TEST_BINS += $(BUILD)/test/test_tlscert
$(BUILD)/test/test_tlscert: $(BUILD)/test/integration/test_tlscert.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# TLS resumption: the shared session cache, ticket keys, tls.ticket_key_file across servers and reloads.
ALL_SRCS += test/integration/test_resume.c
TEST_BINS += $(BUILD)/test/test_resume
$(BUILD)/test/test_resume: $(BUILD)/test/integration/test_resume.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_revoke.c
TEST_BINS += $(BUILD)/test/test_revoke
$(BUILD)/test/test_revoke: $(BUILD)/test/integration/test_revoke.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_veeam.c
TEST_BINS += $(BUILD)/test/test_veeam
$(BUILD)/test/test_veeam: $(BUILD)/test/integration/test_veeam.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_keys.c
TEST_BINS += $(BUILD)/test/test_keys
$(BUILD)/test/test_keys: $(BUILD)/test/integration/test_keys.o $(HARNESS_OBJS) $(BUILD)/libproto.a \
		$(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_durability.c
TEST_BINS += $(BUILD)/test/test_durability
$(BUILD)/test/test_durability: $(BUILD)/test/integration/test_durability.o \
		$(HARNESS_OBJS) $(BUILD)/libstore.a $(BUILD)/libproto.a $(BUILD)/libtls.a \
		| $(BUILD)/kmipd $(BUILD)/kmipctl $(BUILD)/test/shim_sync.so
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The LD_PRELOAD shim test_durability loads into kmipd to see its syncs and socket writes in order
# (test/integration/shim_sync.c). Built without $(SAN): it runs inside whichever kmipd the tests run.
$(BUILD)/test/shim_sync.so: test/integration/shim_sync.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -fPIC -shared -o $@ $< -ldl

# Backup, verify and restore with the real kmipctl against a real kmipd's store.
ALL_SRCS += test/integration/test_backup.c
TEST_BINS += $(BUILD)/test/test_backup
$(BUILD)/test/test_backup: $(BUILD)/test/integration/test_backup.o $(HARNESS_OBJS) $(BUILD)/libproto.a \
		$(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/bench/bench_latency.c
BENCH_BINS += $(BUILD)/bench/bench_latency
$(BUILD)/bench/bench_latency: $(BUILD)/test/bench/bench_latency.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a \
		$(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Interoperability with PyKMIP's client (Debian python3-pykmip under /usr/bin/python3): a Python script that
# starts its own kmipd per KMIP version and prints cmocka's summary lines, installed where run-tests.sh looks.
TEST_BINS += $(BUILD)/test/test_pykmip
$(BUILD)/test/test_pykmip: test/integration/test_pykmip.py | $(BUILD)/kmipd
	@mkdir -p $(@D)
	install -m 755 $< $@

# make install into a scratch root and the Debian package built from a copy of the source: a shell script
# with cmocka's summary lines, installed where run-tests.sh looks.
TEST_BINS += $(BUILD)/test/test_package
$(BUILD)/test/test_package: test/integration/test_package.sh | $(BUILD)/kmipd $(BUILD)/kmipctl
	@mkdir -p $(@D)
	install -m 755 $< $@

ALL_SRCS += test/integration/test_ops.c
TEST_BINS += $(BUILD)/test/test_ops
$(BUILD)/test/test_ops: $(BUILD)/test/integration/test_ops.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Create of every random-bytes algorithm and of Secret Data, Register's length check, Sensitive and
# Extractable on Get, Key Value Location: at KMIP 1.4 and 2.1.
ALL_SRCS += test/integration/test_objects.c
TEST_BINS += $(BUILD)/test/test_objects
$(BUILD)/test/test_objects: $(BUILD)/test/integration/test_objects.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_register.c
TEST_BINS += $(BUILD)/test/test_register
$(BUILD)/test/test_register: $(BUILD)/test/integration/test_register.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_query.c
TEST_BINS += $(BUILD)/test/test_query
$(BUILD)/test/test_query: $(BUILD)/test/integration/test_query.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_multipart.c
TEST_BINS += $(BUILD)/test/test_multipart
$(BUILD)/test/test_multipart: $(BUILD)/test/integration/test_multipart.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/integration/test_derive.c
TEST_BINS += $(BUILD)/test/test_derive
$(BUILD)/test/test_derive: $(BUILD)/test/integration/test_derive.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Split keys (Create Split Key, Join Split Key, the Split Key object) and Get as PKCS#12, at 1.4 and 2.1.
ALL_SRCS += test/integration/test_split.c
TEST_BINS += $(BUILD)/test/test_split
$(BUILD)/test/test_split: $(BUILD)/test/integration/test_split.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# kmipctl as the operator's KMIP client (list, show, create, import, export, ...) against the real kmipd.
ALL_SRCS += test/integration/test_kmipctl.c
TEST_BINS += $(BUILD)/test/test_kmipctl
$(BUILD)/test/test_kmipctl: $(BUILD)/test/integration/test_kmipctl.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# kmipctl status on admin.socket, the Prometheus endpoint (checked by promtool, from install-deps.sh),
# /ready, and systemd's notify protocol.
ALL_SRCS += test/integration/test_status.c
TEST_BINS += $(BUILD)/test/test_status
$(BUILD)/test/test_status: $(BUILD)/test/integration/test_status.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Fuzz target for the whole request path (decode, engine, encode, group commit) against a temporary store:
# the engine library and what it needs, no transport.
ALL_SRCS += test/fuzz/fuzz_request.c
FUZZ_BINS += $(BUILD)/fuzz/fuzz_request
$(BUILD)/fuzz/fuzz_request: $(BUILD)/test/fuzz/fuzz_request.o $(BUILD)/libengine.a $(ENGINE_DEPS) \
		$(BUILD)/libstore.a $(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

ALL_SRCS += test/integration/test_access.c
TEST_BINS += $(BUILD)/test/test_access
$(BUILD)/test/test_access: $(BUILD)/test/integration/test_access.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# kmip-bench, the event-driven load generator (test/bench/README.md), linked where the issue names it, and its
# smoke test: a few seconds against a private kmipd, checking responses only (no figures in make test).
ALL_SRCS += test/bench/kmip-bench.c
BENCH_BINS += $(BUILD)/bench/kmip-bench test/bench/kmip-bench
$(BUILD)/bench/kmip-bench: $(BUILD)/test/bench/kmip-bench.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a $(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
test/bench/kmip-bench: $(BUILD)/bench/kmip-bench
	ln -sf $(abspath $<) $@

TEST_BINS += $(BUILD)/test/test_bench_smoke
$(BUILD)/test/test_bench_smoke: test/bench/smoke.sh | $(BUILD)/bench/kmip-bench $(BUILD)/kmipd
	@mkdir -p $(@D)
	install -m 755 $< $@

# The hostile-client and fault suite against the real kmipd.
ALL_SRCS += test/integration/test_hostile.c
TEST_BINS += $(BUILD)/test/test_hostile
$(BUILD)/test/test_hostile: $(BUILD)/test/integration/test_hostile.o $(HARNESS_OBJS) \
		$(BUILD)/libproto.a $(BUILD)/libtls.a | $(BUILD)/kmipd
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The OASIS conformance runner (test/conformance/README.md), run by `make conformance` against a private
# kmipd; the link at test/conformance/kmip-conformance is what the README's commands use.
ALL_SRCS += test/conformance/kmip-conformance.c
CONFORMANCE_BIN := $(BUILD)/conformance/kmip-conformance
$(CONFORMANCE_BIN): $(BUILD)/test/conformance/kmip-conformance.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a \
		$(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
test/conformance/kmip-conformance: $(CONFORMANCE_BIN)
	ln -sf $(abspath $<) $@

# Helpers the test programs share (test/util.h): an archive, so that a program links only the objects it uses
# and a benchmark without cmocka can take the plain helpers.
TESTUTIL_SRCS := test/util.c test/util_cmocka.c test/util_store.c
ALL_SRCS += $(TESTUTIL_SRCS)
$(BUILD)/libtestutil.a: $(patsubst %.c,$(BUILD)/%.o,$(TESTUTIL_SRCS))

# kmip-attack, the honest client and the attackers of test/bench/attack.sh (issue 14).
ALL_SRCS += test/bench/kmip-attack.c
BENCH_BINS += $(BUILD)/bench/kmip-attack
$(BUILD)/bench/kmip-attack: $(BUILD)/test/bench/kmip-attack.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a \
		$(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# server.workers = 2: the master and its workers (counts, a worker SIGKILLed under writes, SIGHUP all or
# none, SIGTERM leaving no process).
ALL_SRCS += test/integration/test_workers.c
TEST_BINS += $(BUILD)/test/test_workers
$(BUILD)/test/test_workers: $(BUILD)/test/integration/test_workers.o $(HARNESS_OBJS) $(BUILD)/libproto.a \
		$(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Issue 19's cluster suite (test/cluster/test_cluster.c): etcd members from test/etcd/cluster.sh (data on
# /dev/shm) and kmipd nodes with store.backend = etcd: replication, faults under load, conflicting writes,
# the restore guard, the cluster in kmipctl status. In make test, and alone in `make test-cluster`.
ALL_SRCS += test/cluster/test_cluster.c
TEST_BINS += $(BUILD)/test/test_cluster
$(BUILD)/test/test_cluster: $(BUILD)/test/cluster/test_cluster.o $(HARNESS_OBJS) $(BUILD)/libproto.a \
		$(BUILD)/libtls.a | $(BUILD)/kmipd $(BUILD)/kmipctl
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
