#!/bin/sh
# Builds tools/small_stack.c (the JSON decoder on a thread with a 64 KiB stack) and runs it.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
# shellcheck disable=SC2046
${CC:-cc} -std=c99 -O2 -g -Wall -Wextra -pthread $(pkg-config --cflags lua5.4) tools/small_stack.c \
  -o build/small_stack $(pkg-config --libs lua5.4)
build/small_stack
