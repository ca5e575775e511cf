# connectstatus: build, test and tooling. Everything is driven by pkg-config; override LUA_VERSION
# (5.1, 5.3, 5.4 or jit), PREFIX, DESTDIR, CC and CFLAGS on the command line.

LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= cc
CFLAGS      ?= -O2 -g
PKG_CONFIG  ?= pkg-config
FUZZ_SECONDS ?= 60

ifeq ($(LUA_VERSION),jit)
LUA_PC  ?= luajit
LUA     ?= luajit
ABI     := luajit
LUA_ABI_VERSION := 5.1
else
LUA_PC  ?= lua$(LUA_VERSION)
LUA     ?= lua$(LUA_VERSION)
ABI     := lua$(LUA_VERSION)
LUA_ABI_VERSION := $(LUA_VERSION)
endif

BUILD   := build/$(ABI)
MODULE  := $(BUILD)/connectstatus/core.so
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wcast-qual
CS_CFLAGS = -std=c99 -fPIC -fvisibility=hidden $(WARN) $(EXTRA_CFLAGS) \
            $(shell $(PKG_CONFIG) --cflags $(LUA_PC) libcurl)
CURL_LIBS = $(shell $(PKG_CONFIG) --libs libcurl)
CSRC    := $(wildcard csrc/*.c csrc/*.h)

INSTALL_LMOD ?= $(PREFIX)/share/lua/$(LUA_ABI_VERSION)
INSTALL_CMOD ?= $(PREFIX)/lib/lua/$(LUA_ABI_VERSION)
INSTALL_BIN  ?= $(PREFIX)/bin
INSTALL_MAN  ?= $(PREFIX)/share/man/man1
INSTALL_BASH ?= $(PREFIX)/share/bash-completion/completions
INSTALL_ZSH  ?= $(PREFIX)/share/zsh/site-functions
# The interpreter the installed command runs under: the one this build is for, by absolute path.
LUA_BIN      ?= $(shell command -v $(LUA))

LUA_SOURCES := $(wildcard lua/connectstatus/*.lua)
FAKE_SOURCES := $(wildcard lua/connectstatus/fake/*.lua)
CLI_SOURCES := $(wildcard lua/connectstatus/cli/*.lua)

.PHONY: all test bench bench-json demo lint format valgrind fuzz install clean deps

all: $(MODULE)

# One translation unit: every function but luaopen_connectstatus_core is static.
$(MODULE): $(CSRC)
	@mkdir -p $(dir $@)
	$(CC) $(CS_CFLAGS) $(CFLAGS) -shared -o $@ csrc/cs_core.c $(LDFLAGS) $(CURL_LIBS)

deps:
	@sh tools/deps.sh test

test: deps
	@$(MAKE) --no-print-directory all LUA_VERSION=5.4
	@$(MAKE) --no-print-directory all LUA_VERSION=jit
	@$(MAKE) --no-print-directory all LUA_VERSION=5.1
	@$(MAKE) --no-print-directory all LUA_VERSION=5.3
	@sh tools/test.sh

bench-json: deps
	@$(MAKE) --no-print-directory all LUA_VERSION=5.4
	@$(MAKE) --no-print-directory all LUA_VERSION=jit
	lua5.4 bench/json_bench.lua build/lua5.4
	luajit bench/json_bench.lua build/luajit

bench: deps
	@sh tools/deps.sh bench
	@$(MAKE) --no-print-directory all LUA_VERSION=5.4
	@$(MAKE) --no-print-directory all LUA_VERSION=jit
	sh bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all LUA_VERSION=5.4
	lua5.4 tools/demo.lua

lint:
	luacheck -q lua spec examples bin bench tools
	clang-format --dry-run --Werror csrc/*.c csrc/*.h fuzz/*.c tools/*.c bench/*.c

format:
	clang-format -i csrc/*.c csrc/*.h fuzz/*.c tools/*.c bench/*.c

valgrind: deps all
	sh tools/valgrind.sh

fuzz: deps
	sh tools/fuzz.sh $(FUZZ_SECONDS)

# The man page comes from the CLI's own help texts.
$(BUILD)/connectstatus.1: $(MODULE) $(LUA_SOURCES) $(CLI_SOURCES)
	LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD)/?.so;;' $(LUA) tools/man.lua > $@

# The command gets the interpreter it was built for and this prefix's module folders, so it runs
# whatever /usr/bin/lua is and wherever PREFIX is.
install: $(MODULE) $(BUILD)/connectstatus.1
	@test -n "$(LUA_BIN)" || { echo "install: $(LUA) not found" >&2; exit 1; }
	install -d $(DESTDIR)$(INSTALL_CMOD)/connectstatus $(DESTDIR)$(INSTALL_LMOD)/connectstatus/cli \
	  $(DESTDIR)$(INSTALL_LMOD)/connectstatus/fake \
	  $(DESTDIR)$(INSTALL_BIN) $(DESTDIR)$(INSTALL_MAN) $(DESTDIR)$(INSTALL_BASH) $(DESTDIR)$(INSTALL_ZSH)
	install -m 0755 $(MODULE) $(DESTDIR)$(INSTALL_CMOD)/connectstatus/core.so
	install -m 0644 $(LUA_SOURCES) $(DESTDIR)$(INSTALL_LMOD)/connectstatus/
	install -m 0644 $(CLI_SOURCES) $(DESTDIR)$(INSTALL_LMOD)/connectstatus/cli/
	install -m 0644 $(FAKE_SOURCES) $(DESTDIR)$(INSTALL_LMOD)/connectstatus/fake/
	sed -e '1s|.*|#!$(LUA_BIN)|' \
	  -e 's|^-- (search paths: as the interpreter has them)$$|package.path = "$(INSTALL_LMOD)/?.lua;$(INSTALL_LMOD)/?/init.lua;" .. package.path package.cpath = "$(INSTALL_CMOD)/?.so;" .. package.cpath|' \
	  bin/connectstatus > $(DESTDIR)$(INSTALL_BIN)/connectstatus
	chmod 0755 $(DESTDIR)$(INSTALL_BIN)/connectstatus
	install -m 0644 $(BUILD)/connectstatus.1 $(DESTDIR)$(INSTALL_MAN)/connectstatus.1
	install -m 0644 completions/connectstatus.bash $(DESTDIR)$(INSTALL_BASH)/connectstatus
	install -m 0644 completions/_connectstatus $(DESTDIR)$(INSTALL_ZSH)/_connectstatus

clean:
	rm -rf build
