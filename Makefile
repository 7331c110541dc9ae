# alliance: build, test, check and run. See README.md.
#   make          build build/alliance
#   make run      install missing Debian packages, build, run the main job
#   make test     install missing Debian packages, build, run the whole suite
#   make check    the unit and CLI tests under AddressSanitizer + UBSan
#   make lint     clang-format --dry-run, clang-tidy, cppcheck
#   make fuzz     build the libFuzzer targets (clang)

CC      ?= gcc
BUILD   ?= build
SHARED  ?= $(abspath ../shared)
PKGS    := jansson libsodium sqlite3 libpq gsl nlopt lapacke libmicrohttpd cairo libqrencode

# One fixed warning list; -Werror where CI runs (CI=true) or with WERROR=1.
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wformat=2 -Wvla -Wno-format-nonliteral
ifneq ($(filter true 1,$(CI) $(WERROR)),)
WARN += -Werror
endif

OPT     ?= -O2
SAN     ?=
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  := -std=c17 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) -g $(WARN) $(SAN) \
           -pthread -MMD -MP $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN) -pthread $(EXTRA_LDFLAGS)
LDLIBS  := $(PKG_LIBS) -lm

LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/src/cli/main.o
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)

.PHONY: all deps run test check lint fuzz clean tests-build man
.SECONDARY:
all: $(BUILD)/alliance

deps:
	@scripts/install-deps test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liballiance.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/alliance: $(MAIN_OBJ) $(BUILD)/liballiance.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_SUPPORT_OBJ) $(BUILD)/liballiance.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Fuzz targets linked with a plain driver that replays their corpora.
$(BUILD)/fuzz/replay_%: $(BUILD)/obj/fuzz/fuzz_%.o $(BUILD)/obj/fuzz/replay.o $(BUILD)/liballiance.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests-build: $(BUILD)/alliance $(TEST_BIN) $(REPLAY_BIN)

# The sample job: a small synthetic registry, scored. Later issues replace
# it with the web server.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-sample $(BUILD)/alliance "$(SHARED)"

test: deps
	@$(MAKE) -s --no-print-directory tests-build
	@tests/run.sh $(BUILD) "$(SHARED)"

check: deps
	@$(MAKE) -s --no-print-directory BUILD=build/san OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" tests-build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ALLIANCE_SANITIZED=1 tests/run.sh build/san "$(SHARED)"

lint:
	clang-format --dry-run --Werror $(wildcard src/*/*.c src/*/*.h tests/unit/*.c fuzz/*.c)
	clang-tidy --quiet $(LIB_SRC) src/cli/main.c -- $(CFLAGS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --std=c11 -D__GNUC__ --suppress=missingIncludeSystem src

# libFuzzer binaries in build/libfuzzer/: run e.g.
#   build/libfuzzer/fuzz_csv -max_total_time=60 fuzz/corpus/csv
# and add any crash input to the corpus once fixed.
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/libfuzzer OPT=-O1 SAN="$(FUZZ_SAN)" \
	  build/libfuzzer/liballiance.a $(FUZZ_NAMES:%=build/libfuzzer/obj/fuzz/fuzz_%.o)
	@for n in $(FUZZ_NAMES); do \
	  clang -fsanitize=fuzzer,address,undefined -o build/libfuzzer/fuzz_$$n \
	    build/libfuzzer/obj/fuzz/fuzz_$$n.o build/libfuzzer/liballiance.a $(LDLIBS) || exit 1; \
	  echo "built build/libfuzzer/fuzz_$$n"; done

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
