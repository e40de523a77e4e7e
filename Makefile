# smtp-gateway: build, run, test and lint.
#
#   make            build build/smtp-gateway
#   make run        install what is missing, build, start maildev and the
#                   gateway pointed at it
#   make test       install what is missing, run every test
#   make lint       clang-format check, cppcheck, banned functions
#   make SANITIZE=1 test    the same tests on an ASan + UBSan build
#   make fuzz       build the libFuzzer harnesses and run each briefly

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
LDLIBS  = -lmicrohttpd -ljansson -lmbedtls -lmbedx509 -lmbedcrypto \
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
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(SMTP_SRC) $(API_SRC) $(SERVER_SRC))
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC))

BIN  := $(BUILD)/smtp-gateway
UNIT := $(BUILD)/unit-tests

.PHONY: all run test unit integration openapi-lint lint fuzz deps \
        deps-build deps-test clean

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BIN): $(LIB_OBJ) $(BUILD)/server/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT): $(LIB_OBJ) $(UNIT_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Installs the Debian packages and npm modules that are missing; quick
# when everything is there already.
deps:
	@scripts/deps.sh build test

run:
	@scripts/deps.sh build run
	@$(MAKE) --no-print-directory all
	@scripts/run.sh $(BIN)

test:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory all $(UNIT)
	@$(MAKE) --no-print-directory unit integration openapi-lint

unit: $(UNIT)
	$(UNIT)

integration: $(BIN)
	GATEWAY_BIN=$(abspath $(BIN)) node --test tests/integration/

openapi-lint:
	node_modules/.bin/redocly lint --format=stylish openapi.yaml

lint:
	@scripts/deps.sh lint
	scripts/lint.sh

clean:
	rm -rf build
