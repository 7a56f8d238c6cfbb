# core/engine: the KMIP engine (dispatch, operations, attributes, key formats, access, audit). It never
# sees the transport: conn.c hands it requests through a session (engine.h). A library of its own, so
# that the engine's unit tests and the request fuzz target link exactly what the server runs.
ENGINE_SRCS := core/engine/engine.c core/engine/dispatch.c core/engine/ops_common.c core/engine/ops_create.c \
	core/engine/ops_objects.c core/engine/ops_lifecycle.c core/engine/ops_locate.c core/engine/ops_server.c \
	core/engine/ops_crypto.c core/engine/versions.c core/engine/attrs.c core/engine/keyfmt.c core/engine/access.c \
	core/engine/audit.c core/engine/algs.c core/engine/ops_derive.c core/engine/splitkey.c core/engine/ops_split.c \
	core/engine/ops_pkcs12.c
ALL_SRCS += $(ENGINE_SRCS)
$(BUILD)/libengine.a: $(patsubst %.c,$(BUILD)/%.o,$(ENGINE_SRCS))

# What the engine needs of the rest of core: key-generation workers, logging, JSON text, the config
# structure, SipHash.
ENGINE_DEPS := $(BUILD)/core/keygen.o $(BUILD)/core/sandbox.o $(BUILD)/core/log.o $(BUILD)/core/json.o \
	$(BUILD)/core/config.o $(BUILD)/core/siphash.o

ALL_SRCS += test/unit/test_keyfmt.c
TEST_BINS += $(BUILD)/test/test_keyfmt
$(BUILD)/test/test_keyfmt: $(BUILD)/test/unit/test_keyfmt.o $(BUILD)/libtestutil.a $(BUILD)/core/engine/keyfmt.o \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The table of random-bytes algorithms and their key lengths (algs.c).
ALL_SRCS += test/unit/test_algs.c
TEST_BINS += $(BUILD)/test/test_algs
$(BUILD)/test/test_algs: $(BUILD)/test/unit/test_algs.o $(BUILD)/libtestutil.a $(BUILD)/core/engine/algs.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)

# The secret sharing of Split Keys (splitkey.c): known answers per field, round trips, refusals, cost.
ALL_SRCS += test/unit/test_splitkey.c
TEST_BINS += $(BUILD)/test/test_splitkey
$(BUILD)/test/test_splitkey: $(BUILD)/test/unit/test_splitkey.o $(BUILD)/libtestutil.a \
		$(BUILD)/core/engine/splitkey.o $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The engine driven through its API (engine.h) on a temporary store, with the real access policy, audit trail
# and key-generation workers (which exec the test binary itself): every operation, batches, Credentials.
ALL_SRCS += test/unit/test_engine.c
TEST_BINS += $(BUILD)/test/test_engine
$(BUILD)/test/test_engine: $(BUILD)/test/unit/test_engine.o $(BUILD)/libtestutil.a $(BUILD)/libengine.a \
		$(ENGINE_DEPS) $(BUILD)/libstore.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The engine's version edges (versions.c): request normaliser, rules, Result Reason table.
ALL_SRCS += test/unit/test_versions.c
TEST_BINS += $(BUILD)/test/test_versions
$(BUILD)/test/test_versions: $(BUILD)/test/unit/test_versions.o $(BUILD)/libtestutil.a $(BUILD)/libengine.a \
		$(ENGINE_DEPS) $(BUILD)/libstore.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
