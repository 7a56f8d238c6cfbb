# proto: TTLV codec, name tables, message model.
PROTO_SRCS := proto/arena.c proto/ttlv.c proto/decode.c proto/encode.c proto/message.c proto/names.c \
	proto/print.c proto/client.c proto/xml.c proto/jstream.c
ALL_SRCS += $(PROTO_SRCS)
$(BUILD)/libproto.a: $(patsubst %.c,$(BUILD)/%.o,$(PROTO_SRCS))

ALL_SRCS += test/unit/test_ttlv.c test/unit/test_names.c
TEST_BINS += $(BUILD)/test/test_ttlv $(BUILD)/test/test_names
$(BUILD)/test/test_ttlv: $(BUILD)/test/unit/test_ttlv.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)
$(BUILD)/test/test_names: $(BUILD)/test/unit/test_names.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)

# The KMIP XML encoding against every OASIS test case (KMIP_VECTORS, set by test/run-tests.sh).
ALL_SRCS += test/unit/test_xml.c
TEST_BINS += $(BUILD)/test/test_xml
$(BUILD)/test/test_xml: $(BUILD)/test/unit/test_xml.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)

# The bounded incremental JSON parser and the etcd gateway's replies (proto/jstream.h).
ALL_SRCS += test/unit/test_jstream.c
TEST_BINS += $(BUILD)/test/test_jstream
$(BUILD)/test/test_jstream: $(BUILD)/test/unit/test_jstream.o $(BUILD)/libtestutil.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)
