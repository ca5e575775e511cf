#!/bin/sh
# Installs the Debian packages a make target needs, or, when not root, prints the one line to run.
set -eu
# OpenResty's Lua module for nginx-light (libnginx-mod-http-lua and friends) is never installed here: its
# LuaJIT conflicts with the luajit package. tools/nginx.sh downloads and unpacks it under build/ instead.
case "${1:-test}" in
  test)  pkgs="build-essential pkg-config lua5.4 liblua5.4-dev luajit libluajit-5.1-dev lua5.1 liblua5.1-0-dev
                lua5.3 liblua5.3-dev libcurl4-openssl-dev
                lua-busted lua-cjson lua-socket lua-yaml lua-check luarocks openssl valgrind clang libclang-rt-14-dev perl
                nginx-light curl jq python3-requests wrk time zsh man-db bsdutils locales" ;;
  bench) pkgs="nginx-light wrk jq curl python3-requests lua-socket lua-cjson gnuplot-nox time valgrind" ;;
  *) echo "usage: deps.sh test|bench" >&2; exit 2 ;;
esac
# json_spec decodes under a locale whose decimal point is a comma; Debian ships none compiled.
comma_locale() {
  [ "${1:-test}" = test ] || return 0
  locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "connectstatus's locale spec needs de_DE.UTF-8; run: sudo localedef -i de_DE -f UTF-8 de_DE.UTF-8" >&2
    return 0
  fi
  localedef -i de_DE -c -f UTF-8 de_DE.UTF-8 || echo "deps.sh: localedef de_DE.UTF-8 failed; the locale spec stays pending" >&2
}
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { comma_locale "${1:-test}"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
  echo "connectstatus needs these Debian packages; run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
# Packages must not start services (nginx-light would take port 80): the benchmark starts its own
# nginx on 127.0.0.1 with its own config.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  guard=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 0755 "$guard"
  trap 'rm -f "$guard"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
comma_locale "${1:-test}"
