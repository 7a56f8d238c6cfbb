# store: the LMDB object store (records, indexes, Locate, group commit, hot backup), encryption at rest
# (keys.c: the keyring and sealed records; kek.c: master and recovery keys; p11.c: a master key on a PKCS#11
# token).
STORE_SRCS := store/store.c store/group.c store/replica.c store/record.c store/locate.c store/backup.c store/kek.c store/keys.c \
	store/p11.c store/usage.c
ALL_SRCS += $(STORE_SRCS)
$(BUILD)/libstore.a: $(patsubst %.c,$(BUILD)/%.o,$(STORE_SRCS))

# p11-kit's pkcs11.h, a header only: modules are loaded with dlopen, nothing links libp11-kit.
P11_CFLAGS = $(shell $(PKG_CONFIG) --cflags p11-kit-1)
$(BUILD)/store/p11.o $(BUILD)/test/unit/test_p11.o: override CFLAGS += $(P11_CFLAGS)

ALL_SRCS += test/unit/test_store.c test/unit/test_store_crash.c test/unit/test_store_keys.c
TEST_BINS += $(BUILD)/test/test_store $(BUILD)/test/test_store_crash $(BUILD)/test/test_store_keys
$(BUILD)/test/test_store: $(BUILD)/test/unit/test_store.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
# Replication (store/replica.c): stores as cluster nodes, an in-memory model of etcd's Txn between them.
ALL_SRCS += test/unit/test_replica.c
TEST_BINS += $(BUILD)/test/test_replica
$(BUILD)/test/test_replica: $(BUILD)/test/unit/test_replica.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
$(BUILD)/test/test_store_crash: $(BUILD)/test/unit/test_store_crash.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Against a real SoftHSM2 token (Debian softhsm2), made afresh in a temporary folder for each test.
ALL_SRCS += test/unit/test_p11.c
TEST_BINS += $(BUILD)/test/test_p11
$(BUILD)/test/test_p11: $(BUILD)/test/unit/test_p11.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
# One store opened by several processes at once (kmipd's workers).
ALL_SRCS += test/unit/test_store_procs.c
TEST_BINS += $(BUILD)/test/test_store_procs
$(BUILD)/test/test_store_procs: $(BUILD)/test/unit/test_store_procs.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
$(BUILD)/test/test_store_keys: $(BUILD)/test/unit/test_store_keys.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Benchmark (not a test): make bench-store BENCH_STORE_ARGS="-n 100000"
ALL_SRCS += test/bench/bench_store.c
BENCH_STORE_ARGS ?=
BENCH_BINS += $(BUILD)/bench/bench_store
.PHONY: bench-store
$(BUILD)/bench/bench_store: $(BUILD)/test/bench/bench_store.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a \
		$(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
bench-store: $(BUILD)/bench/bench_store
	$(BUILD)/bench/bench_store $(BENCH_STORE_ARGS)

# Benchmark (not a test): the store written and read by several processes at once (make bench runs it).
ALL_SRCS += test/bench/bench_store_mp.c
BENCH_BINS += $(BUILD)/bench/bench_store_mp
$(BUILD)/bench/bench_store_mp: $(BUILD)/test/bench/bench_store_mp.o $(BUILD)/libtestutil.a $(BUILD)/libstore.a \
		$(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
