# core: the kmipd program (main, server, connections: the transport) and the kmipctl tool. The KMIP engine
# is core/engine, a library of its own.
include core/engine/module.mk

KMIPD_SRCS := core/main.c core/log.c core/json.c core/server.c core/conn.c core/sources.c core/siphash.c core/budget.c core/config.c core/keygen.c core/sandbox.c \
	core/masterkey.c core/metrics.c core/status.c core/notify.c core/workers.c core/cluster.c
KMIPCTL_SRCS := core/kmipctl.c core/kmipctl_keys.c core/kmipctl_backup.c core/kmipctl_usage.c core/config.c \
	core/masterkey.c core/log.c core/json.c core/kmipctl_status.c
# kmipctl's KMIP client commands (list, show, create, ...): over mutual TLS, so it links libtls too.
KMIPCTL_SRCS += core/kmipctl_client.c core/kmipctl_objects.c
ALL_SRCS += $(KMIPD_SRCS) core/kmipctl.c core/kmipctl_keys.c core/kmipctl_backup.c core/kmipctl_usage.c \
	core/kmipctl_status.c
ALL_SRCS += core/kmipctl_client.c core/kmipctl_objects.c

$(BUILD)/kmipd: $(patsubst %.c,$(BUILD)/%.o,$(KMIPD_SRCS)) $(BUILD)/libengine.a $(BUILD)/libstore.a \
		$(BUILD)/libetcd.a $(BUILD)/libtls.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ETCD_LIBS)

$(BUILD)/kmipctl: $(patsubst %.c,$(BUILD)/%.o,$(KMIPCTL_SRCS)) $(BUILD)/core/engine/access.o \
		$(BUILD)/core/engine/audit.o $(BUILD)/libstore.a \
		$(BUILD)/libtls.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

ALL_SRCS += test/unit/test_config.c
TEST_BINS += $(BUILD)/test/test_config
$(BUILD)/test/test_config: $(BUILD)/test/unit/test_config.o $(BUILD)/libtestutil.a $(BUILD)/core/config.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/unit/test_log.c
TEST_BINS += $(BUILD)/test/test_log
$(BUILD)/test/test_log: $(BUILD)/test/unit/test_log.o $(BUILD)/libtestutil.a $(BUILD)/core/log.o $(BUILD)/core/json.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/unit/test_sources.c
TEST_BINS += $(BUILD)/test/test_sources
$(BUILD)/test/test_sources: $(BUILD)/test/unit/test_sources.o $(BUILD)/libtestutil.a $(BUILD)/core/sources.o \
		$(BUILD)/core/siphash.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

ALL_SRCS += test/unit/test_keygen.c
TEST_BINS += $(BUILD)/test/test_keygen
$(BUILD)/test/test_keygen: $(BUILD)/test/unit/test_keygen.o $(BUILD)/libtestutil.a $(BUILD)/core/keygen.o \
		$(BUILD)/core/sandbox.o $(BUILD)/core/log.o $(BUILD)/core/json.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)


ALL_SRCS += test/unit/test_sandbox.c
TEST_BINS += $(BUILD)/test/test_sandbox
$(BUILD)/test/test_sandbox: $(BUILD)/test/unit/test_sandbox.o $(BUILD)/libtestutil.a $(BUILD)/core/sandbox.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# The etcd client (issue 19, core/etcd.h), which the clustered store (core/cluster.c) links into kmipd;
# libevent's HTTP client is in libevent_extra, which whatever links it adds with ETCD_LIBS.
ETCD_SRCS := core/etcd.c
ALL_SRCS += $(ETCD_SRCS)
ETCD_LIBS = $(shell $(PKG_CONFIG) --libs libevent_extra)
$(BUILD)/libetcd.a: $(patsubst %.c,$(BUILD)/%.o,$(ETCD_SRCS))
