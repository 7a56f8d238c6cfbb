# Tests that span modules, fuzz targets and benchmarks. Unit tests are listed in their module's module.mk.

ALL_SRCS += test/fuzz/fuzz_ttlv.c test/bench/bench_ttlv.c

# Fuzz targets: built by `make fuzz` with clang into build-fuzz (SAN carries -fsanitize=fuzzer-no-link).
FUZZ_BINS := $(BUILD)/fuzz/fuzz_ttlv
$(BUILD)/fuzz/fuzz_ttlv: $(BUILD)/test/fuzz/fuzz_ttlv.o $(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^

BENCH_BINS += $(BUILD)/bench/bench_ttlv
$(BUILD)/bench/bench_ttlv: $(BUILD)/test/bench/bench_ttlv.o $(BUILD)/libproto.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^
