#!/bin/sh
# The shell as a user starts it, on a real (private) X display and session
# bus: one window, a single instance, the VMs from the user's config.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
. "$TANDEM_SOURCE_ROOT/tools/session.sh"
shell="$TANDEM_BUILD_ROOT/app/tandem"

tandem_windows() { xdotool search --onlyvisible --name '^Tandem$'; }
one_window() { [ "$(tandem_windows | wc -l)" -eq 1 ]; }

"$shell" >"$XDG_RUNTIME_DIR/tandem.log" 2>&1 &
pid=$!
check "the main window appears" tandem_wait_for tandem_windows
check "it belongs to the tandem process" \
  sh -c "[ \"\$(xdotool getwindowpid $(tandem_windows | head -n1))\" = $pid ]"
check "its WM_CLASS matches the desktop file's StartupWMClass" \
  output_has "\"org.tandem.Tandem\"" xprop -id "$(tandem_windows | head -n1)" WM_CLASS
check "a second start exits at once" status_is 0 timeout 10 "$shell"
check "and leaves exactly one window" one_window
check "the first instance is still running" kill -0 "$pid"
check "the application id is owned on the session bus" \
  output_has "org.tandem.Tandem" dbus-send --session --print-reply \
  --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.ListNames
# At rest a desktop program uses no CPU: its main loop sleeps until
# something happens (the D-Bus source once woke it at every turn).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
at_rest() {
  _a=$(cpu_ticks)
  sleep 3 # the time measured, not a wait for an event
  _used=$(($(cpu_ticks) - _a))
  echo "# at rest: $_used CPU ticks in 3 s (300: a core busy throughout)"
  [ "$_used" -le 15 ]
}
check "at rest, with its window open, it uses no CPU" at_rest
# SIGTERM (the session ending) is a clean quit: exit status 0, the bus
# name given back, the reason logged.
stop_child "$pid" 10
check "SIGTERM ends it within 10 s, with exit status 0 ($stopped)" \
  test "$stopped" = 0
check "saying so" grep -q "Quitting: stopping 0 running VMs first" \
  "$XDG_RUNTIME_DIR/tandem.log"
check "the bus name is free again" sh -c "! dbus-send --session \
--print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
org.freedesktop.DBus.ListNames | grep -q '\"org.tandem.Tandem\"'"
check "no warnings or criticals were logged" \
  sh -c "! grep -E 'WARNING|CRITICAL' '$XDG_RUNTIME_DIR/tandem.log'"
tap_end
