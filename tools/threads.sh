#!/bin/sh
# Builds tools/threads.c against Lua 5.4 (the module is not linked in: each state requires
# build/lua5.4/connectstatus/core.so) and runs it against the fake API via tools/threads.lua.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
# shellcheck disable=SC2046
${CC:-cc} -std=c99 -O2 -g -Wall -Wextra -Werror -pthread $(pkg-config --cflags lua5.4) tools/threads.c \
  -o build/threads -Wl,-E $(pkg-config --libs lua5.4)
LUA_PATH_5_4='lua/?.lua;lua/?/init.lua;;' LUA_CPATH_5_4='build/lua5.4/?.so;;' lua5.4 tools/threads.lua
