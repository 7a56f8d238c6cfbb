# tls: SSL_CTX from config (PEM or PKCS#12 identity, client CA, versions, ciphers, session cache, tickets),
# the reloadable holder, client identity from the peer certificate, the client-side context.
TLS_SRCS := tls/tls.c tls/identity.c tls/shcache.c
ALL_SRCS += $(TLS_SRCS)
$(BUILD)/libtls.a: $(patsubst %.c,$(BUILD)/%.o,$(TLS_SRCS))

# The test makes its certificates with etc/mkcerts.sh, run from the repository root.
ALL_SRCS += test/unit/test_tls.c
TEST_BINS += $(BUILD)/test/test_tls
$(BUILD)/test/test_tls: $(BUILD)/test/unit/test_tls.o $(BUILD)/libtestutil.a $(BUILD)/libtls.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Several processes sharing one struct tls_shared: no certificates, no handshakes.
ALL_SRCS += test/unit/test_shcache.c
TEST_BINS += $(BUILD)/test/test_shcache
$(BUILD)/test/test_shcache: $(BUILD)/test/unit/test_shcache.o $(BUILD)/libtestutil.a $(BUILD)/libtls.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)
