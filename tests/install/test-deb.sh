#!/bin/sh
# test-deb.sh: the guest side's Debian package (tandem-agent_VERSION_amd64.deb)
# built from a copy of the source tree with the standard tools
# (dpkg-buildpackage, debian/), checked by lintian (no errors, no warnings)
# and holding what the guest needs.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$TANDEM_SOURCE_ROOT
for tool in dpkg-buildpackage dh lintian; do
  if ! command -v "$tool" >/dev/null; then
    skip "the package builds" "$tool is not installed (tools/dev.sh deps)"
    tap_end
    exit 0
  fi
done
# The tracked files (a clean tree: no build directories in the package).
copy() {
  mkdir -p "$tmp/tandem"
  if [ -d "$src/.git" ]; then
    git -C "$src" ls-files -z | (cd "$src" && xargs -0 tar -cf -) |
      tar -xf - -C "$tmp/tandem"
  else
    tar -C "$src" --exclude=./build -cf - . | tar -xf - -C "$tmp/tandem"
  fi
}
check "a copy of the source tree" copy
build() { (cd "$tmp/tandem" && dpkg-buildpackage -b -us -uc >"$tmp/build.log" 2>&1) ||
  { tail -n 30 "$tmp/build.log"; return 1; }; }
check "dpkg-buildpackage builds it" build
deb=$(ls "$tmp"/tandem-agent_*_amd64.deb 2>/dev/null | head -n 1)
check "as tandem-agent_VERSION_amd64.deb" test -n "$deb"
clean() {
  [ -f "$deb" ] || return 1
  _out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -E '^[EW]: ')
  [ -z "$_out" ] || { echo "$_out"; return 1; }
}
check "lintian finds nothing wrong" clean
has() { dpkg -c "$deb" | awk '{ print $6 }' | grep -qx "./$1"; }
for f in usr/bin/tandem-agent usr/bin/tandem-mount usr/sbin/tandem-mount-helper \
  usr/lib/systemd/user/tandem-agent.service etc/xdg/autostart/tandem-agent.desktop \
  usr/lib/udev/rules.d/60-tandem-agent.rules usr/share/doc/tandem-agent/copyright \
  usr/lib/systemd/system/tandem-mount-helper.socket \
  usr/lib/systemd/system/tandem-mount-helper.service; do
  check "it holds /$f" has "$f"
done
tap_end
