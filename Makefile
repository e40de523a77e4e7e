# smtp-gateway: build, run, test and lint.
#
#   make            build build/smtp-gateway
#   make run        install what is missing, build, start maildev and the
#                   gateway pointed at it
#   make test       install what is missing, run every test
#   make test-container   build docker/Dockerfile and test the image
#   make lint       clang-format check, cppcheck, banned functions
#   make SANITIZE=1 test    the same tests on an ASan + UBSan build
#   make fuzz       build the libFuzzer harnesses and run each for
#                   FUZZ_SECONDS (60) from its kept corpus
#   make fuzz-merge minimise what the fuzz runs found into the kept
#                   corpora, tests/fuzz/corpus/

SHELL   := /bin/bash
CC      ?= cc
BUILD   ?= build
VERSION := 0.1.0

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 \
       -Wpointer-arith -Wcast-qual -Wvla -Wwrite-strings -Wundef \
       -Wimplicit-fallthrough -Wnull-dereference -Wdouble-promotion
# gcc's check of snprintf lengths; clang has none (`make CC=clang`).
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
WARN += -Wformat-truncation=2
endif
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) \
          -fstack-protector-strong -fPIE -MMD -MP \
          -I. -DGW_VERSION='"$(VERSION)"'
LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS  = -lmicrohttpd -ljansson -lidn2 -lmbedtls -lmbedx509 -lmbedcrypto \
          -lsodium -lpthread

ifeq ($(SANITIZE),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
BUILD   := $(BUILD)/sanitize
else
CFLAGS  += -D_FORTIFY_SOURCE=2
endif

# The modules, from the bottom up; each may include only those below it
# (scripts/lint.sh checks which).
MODULES    := base net mime smtp store core api server
# What the harnesses link: everything but the process itself.
LIBRARY_SRC := $(foreach m,$(filter-out server,$(MODULES)),$(wildcard $(m)/*.c))
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(LIBRARY_SRC) $(SERVER_SRC)) \
              $(BUILD)/gen/assets.o
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC))

BIN  := $(BUILD)/smtp-gateway
UNIT := $(BUILD)/unit-tests

.PHONY: all run test unit integration openapi-lint lint fuzz fuzz-merge \
        bench deps \
        test-container \
        deps-build deps-test clean

all: $(BIN)

# `make V=1` shows the whole compiler command lines.
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The documents the gateway serves, embedded: openapi.yaml, the /docs page
# and the Redoc bundle from node_modules or, without node_modules, the one
# scripts/fetch-redoc.sh fetches from the npm registry (the version and
# checksum package-lock.json pins).
REDOC_NPM := node_modules/redoc/bundles/redoc.standalone.js
REDOC_JS  ?= $(if $(wildcard $(REDOC_NPM)),$(REDOC_NPM),build/redoc.standalone.js)

build/redoc.standalone.js: package-lock.json
	scripts/fetch-redoc.sh $@

$(BUILD)/gen/assets.c: openapi.yaml api/docs.html $(REDOC_JS) scripts/embed.sh
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)scripts/embed.sh $@ asset_openapi_yaml openapi.yaml \
	    asset_docs_html api/docs.html asset_redoc_js $(REDOC_JS)

$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -I. -c -o $@ $<

$(BIN): $(LIB_OBJ) $(BUILD)/server/main.o
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT): $(LIB_OBJ) $(UNIT_OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Installs the Debian packages and npm modules that are missing; quick
# when everything is there already.
deps:
	@scripts/deps.sh build test

run:
	@scripts/deps.sh build run
	@$(MAKE) --no-print-directory all
	@scripts/run.sh $(BIN)

# The fuzzers run briefly here; `make fuzz` alone runs them longer.
test:
	@scripts/deps.sh build test fuzz
	@$(MAKE) --no-print-directory all $(UNIT)
	@$(MAKE) --no-print-directory openapi-lint fuzz FUZZ_SECONDS=5
	@$(MAKE) --no-print-directory unit integration test-container

unit: $(UNIT)
	$(UNIT)

integration: $(BIN)
	GATEWAY_BIN=$(abspath $(BIN)) node --test tests/integration/ tests/scripts/

# Builds docker/Dockerfile with buildah and runs the image's gateway
# (tests/container/run.sh says how, without a Docker engine). As root.
test-container:
	@scripts/deps.sh test container
	tests/container/run.sh

openapi-lint:
	node_modules/.bin/redocly lint --format=stylish openapi.yaml

# libFuzzer harnesses, tests/fuzz/fuzz_<name>.c, one per parser and one
# for each path that joins them. Each links every module but server/, built
# once with the fuzzer's instrumentation. A harness's inputs are found by
# its name:
#   tests/fuzz/seeds/fuzz_<name>/    hand-written seeds
#   tests/fuzz/fuzz_<name>.dict      its dictionary (libFuzzer's format)
#   tests/fuzz/corpus/fuzz_<name>/   the corpus kept in the tree, which
#                                    `make fuzz-merge` minimises
#   build/fuzz/found/fuzz_<name>/    what the runs found since
# and a crash goes to build/fuzz/crash/. A run fails on any crash, leak,
# timeout or sanitizer report.
FUZZ_CC      ?= clang
# Every sanitizer report stops the harness, so that `make fuzz` fails.
FUZZ_FLAGS   := -g -O1 -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -I. \
                -Werror=implicit-function-declaration \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIBS    := -ljansson -lmbedtls -lmbedx509 -lmbedcrypto -lidn2 -lsodium \
                -lpthread
FUZZ_SECONDS ?= 60
# Seconds one input may take before it counts as a hang.
FUZZ_TIMEOUT ?= 10
FUZZ_MAX_LEN ?= 4096
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_OBJ     := $(patsubst %.c,build/fuzz/obj/%.o,$(LIBRARY_SRC)) \
                build/fuzz/obj/gen/assets.o

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

build/fuzz/obj/gen/assets.o: $(BUILD)/gen/assets.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -I. -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -MF build/fuzz/obj/$(notdir $@).d \
	    -o $@ $< $(FUZZ_OBJ) $(FUZZ_LIBS)

-include $(shell find build/fuzz/obj -name '*.d' 2>/dev/null)

# The options of a run of harness $(1): its dictionary, if any, and the
# corpora, the directory that new inputs go to first.
fuzz_dict = $(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict)
fuzz_dirs = build/fuzz/found/$(1) $(wildcard tests/fuzz/corpus/$(1) \
              tests/fuzz/seeds/$(1))

# Runs each harness for FUZZ_SECONDS from its kept corpus and seeds, one
# after the other (FUZZ=fuzz_raw runs one).
FUZZ ?= $(FUZZ_NAMES)
fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(addprefix build/fuzz/,$(FUZZ))
	@for f in $(FUZZ); do \
	  echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
	  $(MAKE) --no-print-directory -s fuzz-run-$$f || exit 1; \
	done

fuzz-run-%: build/fuzz/%
	@mkdir -p build/fuzz/found/$* build/fuzz/crash
	@build/fuzz/$* -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=$(FUZZ_TIMEOUT) -max_len=$(FUZZ_MAX_LEN) \
	    -artifact_prefix=build/fuzz/crash/$*- -print_final_stats=0 \
	    $(call fuzz_dict,$*) $(call fuzz_dirs,$*) 2>&1 | \
	  { grep -E '^(Done|==[0-9]+==ERROR|SUMMARY|artifact_prefix)|runtime error' \
	    || true; }; \
	  test $${PIPESTATUS[0]} -eq 0

# Minimises what the runs found, with the kept corpus, back into
# tests/fuzz/corpus/<harness>/: the fewest inputs that reach every edge
# the seeds do not, the seeds left out. Edges, not hit counts, so that
# the tree keeps a few hundred small files per harness.
fuzz-merge:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(addprefix build/fuzz/,$(FUZZ))
	@for f in $(FUZZ); do $(MAKE) --no-print-directory -s fuzz-merge-$$f \
	  || exit 1; done

fuzz-merge-%: build/fuzz/%
	@rm -rf build/fuzz/merge/$* && mkdir -p build/fuzz/merge/$* \
	    build/fuzz/found/$* tests/fuzz/corpus/$*
	@seeds=$$(ls tests/fuzz/seeds/$* 2>/dev/null); \
	for s in $$seeds; do cp tests/fuzz/seeds/$*/$$s build/fuzz/merge/$*/; done; \
	build/fuzz/$* -merge=1 -use_counters=0 -timeout=$(FUZZ_TIMEOUT) \
	    -max_len=$(FUZZ_MAX_LEN) build/fuzz/merge/$* \
	    tests/fuzz/corpus/$* build/fuzz/found/$* \
	    >build/fuzz/merge/$*.log 2>&1 || \
	  { tail -20 build/fuzz/merge/$*.log; exit 1; }; \
	for s in $$seeds; do rm -f build/fuzz/merge/$*/$$s; done; \
	rm -rf tests/fuzz/corpus/$* build/fuzz/found/$*; \
	mv build/fuzz/merge/$* tests/fuzz/corpus/$*; \
	echo "fuzz-merge: $* keeps $$(ls tests/fuzz/corpus/$* | wc -l) inputs," \
	     "$$(cat tests/fuzz/corpus/$*/* </dev/null | wc -c) bytes"

lint:
	@scripts/deps.sh lint
	scripts/lint.sh

# Throughput, latency and memory against Postfix's smtp-sink (loopback).
bench:
	@scripts/deps.sh build test bench
	@$(MAKE) --no-print-directory all
	@scripts/bench.sh

clean:
	rm -rf build
