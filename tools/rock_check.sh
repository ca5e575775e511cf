#!/bin/sh
# `luarocks make` into a scratch tree (Debian provides the dependencies), then load the result.
set -eu
cd "$(dirname "$0")/.."
tree=build/rocktree
rm -rf "$tree"
luarocks --lua-version=5.4 make --deps-mode=none --tree="$tree" connectstatus-scm-1.rockspec
LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
LUA_CPATH="$tree/lib/lua/5.4/?.so;;" \
  lua5.4 -e 'local cs = require "connectstatus"
    assert(package.searchpath("connectstatus.core", package.cpath):find("rocktree", 1, true))
    assert(cs.json.decode("[0]")[1] == 0 and math.type(cs.json.decode("[0]")[1]) == "integer")
    print("loaded connectstatus " .. cs.version)'
test -x "$tree/bin/connectstatus"
# Every shipped Lua file is a module of the rock.
for f in lua/connectstatus/*.lua lua/connectstatus/cli/*.lua; do
  grep -q "\"$f\"" connectstatus-scm-1.rockspec || { echo "not in the rockspec: $f" >&2; exit 1; }
done
LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
LUA_CPATH="$tree/lib/lua/5.4/?.so;;" \
  lua5.4 -e 'for _, m in ipairs { "timefmt", "wait", "health", "cli", "fake" } do require("connectstatus." .. m) end'
