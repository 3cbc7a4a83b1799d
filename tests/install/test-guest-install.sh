#!/bin/sh
# test-guest-install.sh: the guest side built alone (meson -Dhost=false,
# as a distribution package of the agent would) and installed into a
# scratch root: the programs, the systemd user unit, the XDG autostart
# entry, the udev rule and the man page are there, and nothing needs GTK.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-guest-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check "the guest side configures without GTK" \
  meson setup "$tmp/build" "$TANDEM_SOURCE_ROOT" -Dhost=false --prefix=/usr \
  --werror
check "and builds" ninja -C "$tmp/build"
check "and installs" env DESTDIR="$tmp/root" meson install -C "$tmp/build" \
  --no-rebuild --quiet
r=$tmp/root
check "the agent, the mount client and the mount service" \
  test -x "$r/usr/bin/tandem-agent" -a -x "$r/usr/bin/tandem-mount" -a \
  -x "$r/usr/sbin/tandem-mount-helper"
check "the agent's systemd user unit, starting the installed agent" \
  grep -qx "ExecStart=/usr/bin/tandem-agent" \
  "$r/usr/lib/systemd/user/tandem-agent.service"
check "its XDG autostart entry, valid" \
  desktop-file-validate "$r/etc/xdg/autostart/tandem-agent.desktop"
check "the udev rule for its port" \
  grep -q 'ATTR{name}=="org.tandem.agent.0".*TAG+="uaccess"' \
  "$r/usr/lib/udev/rules.d/60-tandem-agent.rules"
check "the mount service, socket-activated, for the user at the seat" \
  grep -qx "ExecStart=/usr/sbin/tandem-mount-helper --owner=seat" \
  "$r/usr/lib/systemd/system/tandem-mount-helper.service"
check "its socket" grep -qx "ListenStream=/run/tandem/mount.sock" \
  "$r/usr/lib/systemd/system/tandem-mount-helper.socket"
verify() {
  command -v systemd-analyze >/dev/null || return 0
  cp "$r/usr/lib/systemd/system/tandem-mount-helper."* "$tmp/"
  sed -i "s|/usr/sbin/|$r/usr/sbin/|" "$tmp/tandem-mount-helper.service"
  systemd-analyze verify --man=no "$tmp/tandem-mount-helper.socket" \
    "$tmp/tandem-mount-helper.service"
}
check "systemd-analyze verifies both" verify
check "the man pages" test -s "$r/usr/share/man/man1/tandem-agent.1" -a \
  -s "$r/usr/share/man/man1/tandem-mount.1" -a \
  -s "$r/usr/share/man/man8/tandem-mount-helper.8"
no_gtk() { ! ldd "$r/usr/bin/tandem-agent" | grep -q "libgtk"; }
check "and the agent does not link GTK" no_gtk
tap_end
