# SPDX-License-Identifier: GPL-2.0-or-later
# Shell functions the shell's own tests share (sourced after tests/tap.sh):
# the shell on the private session bus, tandemctl's --json, a clean quit.

bus_names() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.ListNames
}
shell_owns_name() { bus_names | grep -q '"org.tandem.Tandem"'; }
introspection_has() {
  dbus-send --session --print-reply --dest=org.tandem.Tandem \
    /org/tandem/Tandem org.freedesktop.DBus.Introspectable.Introspect |
    grep -qF "$1"
}
# json_check EXPRESSION COMMAND...: COMMAND prints JSON (bound to d) for
# which the Python EXPRESSION holds.
json_check() {
  _expr=$1
  shift
  "$@" | python3 -c "import json, sys; d = json.load(sys.stdin); \
assert $_expr, d"
}
json_value() { # json_value EXPRESSION COMMAND...: prints EXPRESSION of d
  _expr=$1
  shift
  "$@" | python3 -c "import json, sys; d = json.load(sys.stdin); \
print($_expr)"
}
# stop_child PID SECONDS: sends SIGTERM to the child PID and sets
# $stopped to its exit status, or to "timeout" when it is still running
# after SECONDS. (Not in a $(...): only this shell can wait for its child.)
stop_child() {
  kill -TERM "$1" 2>/dev/null
  stopped=0
  timeout "$2" sh -c "while kill -0 $1 2>/dev/null; do sleep 0.1; done" ||
    stopped=timeout
  wait "$1" 2>/dev/null || [ "$stopped" = timeout ] || stopped=$?
}
