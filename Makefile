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
#                   FUZZ_SECONDS (10)

SHELL   := /bin/bash
CC      ?= cc
BUILD   ?= build
VERSION := 0.1.0

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wformat-truncation=2 \
       -Wpointer-arith -Wcast-qual -Wvla -Wwrite-strings -Wundef \
       -Wimplicit-fallthrough -Wnull-dereference -Wdouble-promotion
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) \
          -fstack-protector-strong -fPIE -MMD -MP \
          -DGW_VERSION='"$(VERSION)"'
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

SMTP_SRC   := $(wildcard smtp/*.c)
API_SRC    := $(wildcard api/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(SMTP_SRC) $(API_SRC) $(SERVER_SRC)) \
              $(BUILD)/gen/assets.o
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC))

BIN  := $(BUILD)/smtp-gateway
UNIT := $(BUILD)/unit-tests

.PHONY: all run test unit integration openapi-lint lint fuzz bench deps \
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
	GATEWAY_BIN=$(abspath $(BIN)) node --test tests/integration/

# Builds docker/Dockerfile with buildah and runs the image's gateway
# (tests/container/run.sh says how, without a Docker engine). As root.
test-container:
	@scripts/deps.sh test container
	tests/container/run.sh

openapi-lint:
	node_modules/.bin/redocly lint --format=stylish openapi.yaml

# libFuzzer harnesses, one per parser; each links the smtp/ library;
# fuzz_compose, which drives the API's request path, api/request.c too,
# and fuzz_records, for the credential and token files, all of api/.
FUZZ_CC      ?= clang
# Every sanitizer report stops the harness, so that `make fuzz` fails.
FUZZ_FLAGS   := -g -O1 -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 10
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

build/fuzz/%: tests/fuzz/%.c $(SMTP_SRC)
	@mkdir -p build/fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< \
	    $(SMTP_SRC) $(FUZZ_LIBS)

FUZZ_API_SRC := api/request.c
FUZZ_LIBS    := -lmbedtls -lmbedx509 -lmbedcrypto -lidn2 -lpthread

build/fuzz/fuzz_compose: tests/fuzz/fuzz_compose.c $(SMTP_SRC) $(FUZZ_API_SRC)
	@mkdir -p build/fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< \
	    $(SMTP_SRC) $(FUZZ_API_SRC) $(FUZZ_LIBS) -ljansson

# All of api/, so the documents it serves too.
build/fuzz/fuzz_records: tests/fuzz/fuzz_records.c $(SMTP_SRC) $(API_SRC) \
                         $(BUILD)/gen/assets.c
	@mkdir -p build/fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -I. -o $@ $< \
	    $(SMTP_SRC) $(API_SRC) $(BUILD)/gen/assets.c $(FUZZ_LIBS) -ljansson

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  corpus=tests/fuzz/corpus-$$(basename $$f); mkdir -p $$corpus; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	      -print_final_stats=0 $$corpus tests/fuzz/seeds 2>&1 | \
	      grep -E '^(Done|==[0-9]+==ERROR|SUMMARY)' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

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
