# core: the kmipd program and the kmipctl tool.
KMIPD_SRCS := core/main.c core/log.c core/server.c core/conn.c core/dispatch.c core/config.c core/attrs.c \
	core/ops_common.c core/ops_create.c core/ops_objects.c core/ops_lifecycle.c core/keygen.c core/keyfmt.c \
	core/access.c core/audit.c core/ops_crypto.c
KMIPCTL_SRCS := core/kmipctl.c core/access.c
ALL_SRCS += $(KMIPD_SRCS) core/kmipctl.c

$(BUILD)/kmipd: $(patsubst %.c,$(BUILD)/%.o,$(KMIPD_SRCS)) $(BUILD)/libstore.a $(BUILD)/libtls.a \
		$(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/kmipctl: $(patsubst %.c,$(BUILD)/%.o,$(KMIPCTL_SRCS)) $(BUILD)/libstore.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

ALL_SRCS += test/unit/test_config.c
TEST_BINS += $(BUILD)/test/test_config
$(BUILD)/test/test_config: $(BUILD)/test/unit/test_config.o $(BUILD)/core/config.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += core/keygen.c test/unit/test_keygen.c
TEST_BINS += $(BUILD)/test/test_keygen
$(BUILD)/test/test_keygen: $(BUILD)/test/unit/test_keygen.o $(BUILD)/core/keygen.o $(BUILD)/core/log.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += core/keyfmt.c test/unit/test_keyfmt.c
TEST_BINS += $(BUILD)/test/test_keyfmt
$(BUILD)/test/test_keyfmt: $(BUILD)/test/unit/test_keyfmt.o $(BUILD)/core/keyfmt.o $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
