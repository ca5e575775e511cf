#!/bin/sh
# OpenResty's Lua module for Debian's nginx-light, unpacked under build/openresty and never installed
# (issue 11): libnginx-mod-http-lua needs OpenResty's libluajit2-5.1-2, which conflicts with the
# libluajit-5.1-2 the suite runs on, so the packages are downloaded and unpacked instead. nginx then
# runs with LD_LIBRARY_PATH=<root>/usr/lib/x86_64-linux-gnu and load_module <root>/usr/lib/nginx/modules/...
#   sh tools/nginx.sh prepare   unpack once (cached; needs Debian's mirror the first time); prints the root
set -eu
cd "$(dirname "$0")/.."
root=build/openresty
# ndk first: the Lua module needs its symbols when it is loaded.
pkgs="libnginx-mod-http-ndk libnginx-mod-http-lua lua-resty-core lua-resty-lrucache libluajit2-5.1-2"

download() { # into $1
  # -o APT::Sandbox::User=root: the _apt user may not write into build/.
  (cd "$1" && apt-get download -q -o APT::Sandbox::User=root $pkgs)
}

prepare() {
  if [ -f "$root/versions.txt" ]; then return 0; fi
  command -v nginx >/dev/null || { echo "nginx.sh: nginx-light is not installed (sh tools/deps.sh test)" >&2; exit 1; }
  rm -rf "$root.part"
  mkdir -p "$root.part/debs"
  if ! download "$root.part/debs" >"$root.part/download.log" 2>&1; then
    # A fresh machine has no package lists yet.
    if [ "$(id -u)" -ne 0 ]; then
      cat "$root.part/download.log" >&2
      echo "nginx.sh: apt-get download failed; run: sudo apt-get update" >&2
      exit 1
    fi
    apt-get update -qq
    download "$root.part/debs" >"$root.part/download.log" 2>&1 || { cat "$root.part/download.log" >&2; exit 1; }
  fi
  for deb in "$root.part"/debs/*.deb; do
    dpkg-deb -x "$deb" "$root.part/root"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$root.part/versions.txt"
  done
  nginx -v 2>&1 | sed 's/^nginx version: /nginx /' >>"$root.part/versions.txt"
  rm -rf "$root.part/debs" "$root"
  mv "$root.part" "$root"
}

case "${1:-prepare}" in
  prepare) prepare; cd "$root/root" && pwd ;;
  *) echo "usage: nginx.sh prepare" >&2; exit 2 ;;
esac
