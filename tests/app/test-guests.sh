#!/bin/sh
# tandemctl apps, launch, windows and focus against the real shell and the
# real agent, with no VM: the shell serves a loopback guest "demo" on this
# session's display (--loopback) and tandem-agent connects to it from a
# second Xvfb, the guest's display, with a catalog of two fixture
# applications. Every wait is bounded.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
. "$TANDEM_SOURCE_ROOT/tools/session.sh"
ctl="$TANDEM_BUILD_ROOT/app/tandemctl"
shell="$TANDEM_BUILD_ROOT/app/tandem"
agent="$TANDEM_GUEST_AGENT"
work="$XDG_RUNTIME_DIR/guests"
sock="$work/agent.sock"
apps="$work/guest-data/applications"
files="$work/files"
recorded="$work/recorded.txt"
export LANG=C.UTF-8 LC_ALL= LANGUAGE=

shell_pid="" agent_pid="" monitor_pid="" guest_xvfb="" launched="" other=""
early=""
cleanup() {
  for pid in $launched $early $other $agent_pid $monitor_pid $shell_pid \
    $guest_xvfb; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $other $agent_pid $monitor_pid $shell_pid $guest_xvfb; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

list_apps() { # the raw ListApps call, to see the D-Bus error name
  dbus-send --session --print-reply --dest=org.tandem.Tandem \
    /org/tandem/Tandem org.tandem.Tandem1.Guests.ListApps "string:$1"
}
# Waits of more than a moment: the agent's start, an xterm's first map.
wait_long() { TANDEM_WAIT_SECONDS=30 tandem_wait_for "$@"; }
signal_seen() { grep -A4 "member=$1" "$work/signals.log" | grep -qF "$2"; }
fails_with() { # fails_with TEXT COMMAND...: exit status 1 and TEXT said
  _text=$1
  shift
  status_is 1 "$@" && output_has "$_text" "$@"
}
# A window on the host's display, by title or class.
host_window() { xdotool search --onlyvisible "$@" | head -1 | grep .; }
terminal_id() {
  "$ctl" windows demo --json | python3 -c "import json, sys; \
print([w['id'] for w in json.load(sys.stdin) \
       if w['title'] == 'TandemFixture'][0])"
}
focus_is() { # focus_is HOST_WINDOW GUEST_WINDOW GUEST_KIND
  json_check "(d['host-window'], d['guest-window'], d['guest-kind']) == \
($1, $2, '$3')" "$ctl" focus demo --json
}
recorded_line() { sed -n "${1}p" "$recorded"; }
recorded_first_is() { test -f "$recorded" && test "$(recorded_line 1)" = "$1"; }

# --- The guest: a second display, two applications ----------------------
mkdir -p "$apps" "$files/sub" "$work/xvfb"
: >"$files/sub/weird:name"
cat >"$work/record.sh" <<EOF
#!/bin/sh
# Writes what it was started with, the startup id first.
{ printf '%s\n' "\${DESKTOP_STARTUP_ID:-}"; printf '%s\n' "\$@"; } \
  >"$recorded.tmp"
mv "$recorded.tmp" "$recorded"
EOF
chmod +x "$work/record.sh"
cat >"$apps/xterm-fixture.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=Fixture Terminal
Comment=A terminal to test with
Exec=xterm -title TandemFixture -geometry 40x6+20+30
Categories=System;TerminalEmulator;
MimeType=text/plain;
StartupWMClass=XTerm
EOF
cat >"$apps/recorder.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=Recorder
Exec=$work/record.sh %F
EOF

host_display=$DISPLAY
tandem_start_xvfb "$work/xvfb"
guest_display=$DISPLAY guest_xvfb=$TANDEM_XVFB_PID
DISPLAY=$host_display
export DISPLAY

dbus-monitor --session "type='signal',interface='org.tandem.Tandem1.Guests'" \
  >"$work/signals.log" 2>&1 &
monitor_pid=$!

# --- The shell, serving "demo" ------------------------------------------
"$shell" --service --loopback "demo=$sock" >"$work/shell.log" 2>&1 &
shell_pid=$!
check "the shell owns org.tandem.Tandem" tandem_wait_for shell_owns_name
check "and listens for demo's agent" tandem_wait_for test -S "$sock"
for member in ListApps Launch ListWindows GetFocus AppsChanged \
  WindowsChanged FocusChanged LaunchProgress; do
  check "the Guests interface has $member" \
    introspection_has "name=\"$member\""
done
check "Launch's arguments are named" introspection_has 'name="startup_id"'

check "apps before the agent says there is none" \
  fails_with "No agent is connected to “demo”." "$ctl" apps demo
check "the D-Bus error is NotRunning" \
  output_has "org.tandem.Tandem1.Error.NotRunning" list_apps demo
check "windows before the agent: none" \
  output_has "“demo” has no windows." "$ctl" windows demo
check "focus before the agent: nowhere" \
  json_check "d == {'host-window': 0, 'guest-window': 0, \
'guest-kind': 'none'}" "$ctl" focus demo --json

# A launch waits for the agent.
(cd "$files" && exec "$ctl" launch demo recorder early.txt \
  >"$work/early.out" 2>"$work/early.err") &
early=$!
check "a launch before the agent waits for it" \
  tandem_wait_for signal_seen LaunchProgress '"waiting-for-agent"'

# --- The agent, on the guest's display -----------------------------------
DISPLAY=$guest_display XDG_DATA_HOME="$work/guest-data" \
  XDG_DATA_DIRS="$work/guest-data" \
  "$agent" --connect "unix:$sock" >"$work/agent.log" 2>&1 &
agent_pid=$!

check "then starts the application once the agent is there" \
  wait_long grep -q "^Started “recorder” in “demo”" "$work/early.out"
grep -q "^Started" "$work/early.out" || kill "$early" 2>/dev/null
early_status=0
wait "$early" || early_status=$?
check "and exits 0" test "$early_status" -eq 0
check "having said that it waited" \
  grep -qxF "Waiting for the guest's agent…" "$work/early.err"
check "then that it started the application" \
  grep -qxF "Starting “recorder”…" "$work/early.err"
check "which got its file" tandem_wait_for grep -qxF "$files/early.txt" \
  "$recorded"
rm -f "$recorded"

check "apps lists the fixture terminal once the agent is there" \
  wait_long output_has "xterm-fixture" "$ctl" apps demo
check "with its name and comment" \
  sh -c "'$ctl' apps demo | grep -q \
'^xterm-fixture  *Fixture Terminal  *A terminal to test with$'"
check "under a header" output_has "DESCRIPTION" "$ctl" apps demo
check "apps --json lists both applications, sorted" \
  json_check "[a['id'] for a in d] == ['recorder', 'xterm-fixture']" \
  "$ctl" apps demo --json
check "with every field" \
  json_check "d[1] == {'id': 'xterm-fixture', 'name': 'Fixture Terminal', \
'comment': 'A terminal to test with', 'terminal': False, \
'mime-types': ['text/plain'], 'categories': ['System', 'TerminalEmulator']}" \
  "$ctl" apps demo --json
check "AppsChanged was sent" tandem_wait_for signal_seen AppsChanged '"demo"'

# --- Launching -------------------------------------------------------------
check "launch starts the terminal" \
  sh -c "DESKTOP_STARTUP_ID=fixture_TIME42 '$ctl' launch demo xterm-fixture \
>'$work/launch.out' 2>'$work/launch.err'"
launched=$(sed -n 's/.*(guest pid \([0-9][0-9]*\))\.$/\1/p' "$work/launch.out")
check "and says so with the guest's pid" \
  grep -q '^Started “xterm-fixture” in “demo” (guest pid [1-9][0-9]*)\.$' \
  "$work/launch.out"
check "which is the terminal's" sh -c "grep -q xterm /proc/$launched/cmdline"
check "having told how far it got" \
  grep -qxF "Starting “xterm-fixture”…" "$work/launch.err"
check "LaunchProgress was sent for starting-app" \
  tandem_wait_for signal_seen LaunchProgress '"starting-app"'
check "and for started" tandem_wait_for signal_seen LaunchProgress '"started"'

check "windows shows the terminal's window" \
  wait_long json_check "[w for w in d if w['title'] == 'TandemFixture' and \
w['shown']]" "$ctl" windows demo --json
check "with its application and a size" \
  json_check "[w for w in d if w['title'] == 'TandemFixture' and \
w['app-id'] == 'xterm-fixture' and w['width'] > 0 and w['height'] > 0]" \
  "$ctl" windows demo --json
check "and every field" \
  json_check "all(sorted(w) == sorted(['id', 'title', 'app-id', 'shown', \
'x', 'y', 'width', 'height']) for w in d)" "$ctl" windows demo --json
check "windows prints a table" \
  sh -c "'$ctl' windows demo | grep -q '^[0-9][0-9]*  *xterm-fixture  *yes  \
*[0-9]*x[0-9]*[-+][0-9]*[-+][0-9]*  *TandemFixture$'"
check "WindowsChanged was sent" \
  tandem_wait_for signal_seen WindowsChanged '"demo"'
check "the proxy window is on the host's display" \
  tandem_wait_for xdotool search --onlyvisible --name TandemFixture

check "focus answers" output_has "In the guest:" "$ctl" focus demo
check "focus --json has every field" \
  json_check "sorted(d) == ['guest-kind', 'guest-window', 'host-window'] \
and d['guest-kind'] in ('window', 'stub', 'none', 'other')" \
  "$ctl" focus demo --json
proxy=$(host_window --name TandemFixture)
terminal=$(terminal_id)
check "the host focuses the terminal's proxy" \
  timeout 10 xdotool windowfocus --sync "$proxy"
check "so the guest focuses the terminal" \
  tandem_wait_for focus_is "$terminal" "$terminal" window
check "focus says so" output_has \
  "In the guest: window $terminal (“TandemFixture”) has the focus." \
  "$ctl" focus demo
check "FocusChanged was sent" tandem_wait_for signal_seen FocusChanged \
  '"window"'
xclock -geometry 60x60+600+400 >/dev/null 2>&1 &
other=$!
check "a window of the host's own appears" \
  tandem_wait_for host_window --class xclock
check "the host focuses it" \
  timeout 10 xdotool windowfocus --sync "$(host_window --class xclock)"
check "so the guest's focus goes to the agent's placeholder" \
  tandem_wait_for focus_is 0 0 stub
check "focus says so" \
  output_has "On the host: none of “demo”'s windows has the focus." \
  "$ctl" focus demo

check "launch gives files as absolute paths and URIs as they are" \
  sh -c "cd '$files/sub' && DESKTOP_STARTUP_ID=menu-1_TIME7 '$ctl' launch \
demo recorder notes.txt ../other.txt weird:name https://example.org/a \
>/dev/null"
check "the startup id reached the application" \
  tandem_wait_for recorded_first_is menu-1_TIME7
check "a relative file, from the current directory" \
  test "$(recorded_line 2)" = "$files/sub/notes.txt"
check "one from the parent directory" \
  test "$(recorded_line 3)" = "$files/other.txt"
check "a file that looks like a URI but is a file here" \
  test "$(recorded_line 4)" = "$files/sub/weird:name"
check "a URI" test "$(recorded_line 5)" = "https://example.org/a"
rm -f "$recorded"
check "launch --json prints the pid" \
  json_check "d['vm'] == 'demo' and d['app'] == 'recorder' and d['pid'] > 0" \
  env DESKTOP_STARTUP_ID="not valid" "$ctl" launch demo recorder --json
check "a startup id that cannot be sent is left out" \
  tandem_wait_for recorded_first_is ""

# --- Errors -----------------------------------------------------------------
check "an unknown application is explained" \
  fails_with "“demo” has no application “nosuchapp”. “tandemctl apps demo” \
lists what it offers." "$ctl" launch demo nosuchapp
check "an application id that cannot be one is explained" \
  fails_with "“no/slash” is not an application id" "$ctl" launch demo no/slash
check "an unknown VM is reported by apps" \
  fails_with "There is no VM called “nosuchguest”." "$ctl" apps nosuchguest
check "the D-Bus error is NotFound" \
  output_has "org.tandem.Tandem1.Error.NotFound" list_apps nosuchguest
check "and by launch" fails_with "There is no VM called “nosuchguest”." \
  "$ctl" launch nosuchguest xterm-fixture
check "and by windows" fails_with "There is no VM called “nosuchguest”." \
  "$ctl" windows nosuchguest
check "and by focus" fails_with "There is no VM called “nosuchguest”." \
  "$ctl" focus nosuchguest

mkdir -p "$XDG_CONFIG_HOME/tandem/vms"
: >"$files/vmlinuz"
printf '[Boot]\nKernel=%s\n' "$files/vmlinuz" \
  >"$XDG_CONFIG_HOME/tandem/vms/stopped.conf"
check "a stopped VM's applications: start it first" \
  fails_with "“stopped” is not running: start the VM first: tandemctl vm \
start stopped" "$ctl" apps stopped
check "a stopped VM has no windows" \
  output_has "“stopped” has no windows." "$ctl" windows stopped
check "in German too" \
  env LANGUAGE=de sh -c "'$ctl' windows stopped | grep -q 'hat keine Fenster'"

# --- The command line -------------------------------------------------------
for command in apps windows focus launch; do
  check "$command --help shows its usage" \
    output_has "tandemctl [OPTION…] $command VM" "$ctl" "$command" --help
  check "$command --help exits 0" status_is 0 "$ctl" "$command" --help
  check "$command without a VM exits 2" status_is 2 "$ctl" "$command"
  check "$command without a VM says so" \
    output_has "the name of a virtual machine is missing" "$ctl" "$command"
done
check "launch --help names its files" output_has "APP [FILE|URI…]" \
  "$ctl" launch --help
check "apps --help has --json" output_has "--json" "$ctl" apps --help
check "launch without an application exits 2" status_is 2 "$ctl" launch demo
check "and says what to do" output_has "“tandemctl apps VM” lists them" \
  "$ctl" launch demo
check "an extra argument exits 2" status_is 2 "$ctl" apps demo more
check "usage errors point at the command's --help" \
  output_has "tandemctl windows --help" "$ctl" windows demo --frobnicate
check "tandemctl --help lists the new commands" \
  output_has "launch VM APP [FILE…]" "$ctl" --help

# --- The agent goes ---------------------------------------------------------
kill "$launched" 2>/dev/null
check "the terminal's window goes with the terminal" \
  wait_long json_check "not [w for w in d if w['title'] == 'TandemFixture']" \
  "$ctl" windows demo --json
kill "$agent_pid"
wait "$agent_pid" 2>/dev/null
agent_pid=""
check "apps says when the agent has gone" \
  tandem_wait_for fails_with "No agent is connected to “demo”." \
  "$ctl" apps demo

tap_end
