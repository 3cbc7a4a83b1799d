#!/bin/sh
# A hostile guest beside a well-behaved one (issue 10): the real shell
# serves two loopback guests; "good" is the real agent on a second Xvfb
# with a clock ticking in a terminal, "evil" is hostile-agent, which speaks the
# protocol correctly and attacks the host one way after another. After
# each attack: the shell's peak memory stays within the guest budgets plus
# a fixed margin, tandemctl answers at once, the good guest's window keeps
# updating and its focus keeps working, and the hostile link is cut with a
# log line where the attack asks for more than its share. Every wait is
# bounded.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
. "$TANDEM_SOURCE_ROOT/tools/session.sh"
ctl="$TANDEM_BUILD_ROOT/app/tandemctl"
shell="$TANDEM_BUILD_ROOT/app/tandem"
hostile="$TANDEM_BUILD_ROOT/tests/app/hostile-agent"
agent="$TANDEM_GUEST_AGENT"
work="$XDG_RUNTIME_DIR/hostile"
good="$work/good.sock"
evil="$work/evil.sock"
export LANG=C.UTF-8 LC_ALL= LANGUAGE=
# What the hostile agent may hold before it is cut: window pixels 512 MiB,
# catalog 64 MiB, unread output 8 MiB (the defaults), and a margin for
# GTK's own per-window memory.
budget_kib=$(((512 + 64 + 8 + 160) * 1024))

if ! command -v xterm >/dev/null || ! command -v import >/dev/null; then
  echo "1..0 # SKIP needs xterm and import (imagemagick)"
  exit 0
fi

shell_pid="" agent_pid="" clock_pid="" guest_xvfb="" attacker=""
cleanup() {
  for pid in $attacker $clock_pid $agent_pid $shell_pid $guest_xvfb; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $attacker $clock_pid $agent_pid $shell_pid $guest_xvfb; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

wait_long() { TANDEM_WAIT_SECONDS=60 tandem_wait_for "$@"; }
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$shell_pid/status"; }
# The shell's peak memory, grown by less than the budgets allow.
peak_within_budget() {
  _peak=$(status_kib VmHWM)
  echo "# shell: peak $((_peak / 1024)) MiB, at rest before $((base_kib / 1024)) MiB"
  test $((_peak - base_kib)) -le "$budget_kib"
}
# tandemctl answers within a second (the shell is not stuck).
ctl_answers() { timeout 1 "$ctl" windows good --json >/dev/null; }
good_windows() { json_value "len(d)" "$ctl" windows good --json; }
evil_windows() { json_value "len(d)" "$ctl" windows evil --json 2>/dev/null ||
  echo 0; }
evil_has() { test "$(evil_windows)" -eq "$1"; }
# The good guest's clock, as the host shows it, changed since last looked.
clock_proxy() { timeout 10 xdotool search --onlyvisible --name '^TandemClock' |
  head -1 | grep .; }
shot() { timeout 10 import -window "$1" "$2" 2>/dev/null; }
clock_changed() {
  shot "$(clock_proxy)" "$work/clock-now.png" || return 1
  _diff=$(compare -metric AE "$work/clock-now.png" "$work/clock-last.png" \
    null: 2>&1 || true)
  mv "$work/clock-now.png" "$work/clock-last.png"
  test "${_diff%% *}" != 0
}
first_shot() { shot "$(clock_proxy)" "$work/clock-last.png"; }
# (import can fail while other windows vanish around it: tried again.)
good_updates() { wait_long first_shot && wait_long clock_changed; }
# Focusing the clock's proxy on the host focuses the clock in the guest.
clock_id() { json_value "[w['id'] for w in d if w['title'] == 'TandemClock'][0]" \
  "$ctl" windows good --json; }
good_focus_works() {
  timeout 10 xdotool windowfocus --sync "$(clock_proxy)" &&
    wait_long sh -c "'$ctl' focus good --json | python3 -c \"import json, sys; \
d = json.load(sys.stdin); assert d['guest-window'] == $(clock_id) and \
d['guest-kind'] == 'window', d\""
}
attacked() { grep -q '^attacked' "$work/attack.out"; }
was_cut() { grep -q '^cut' "$work/attack.out"; }
logged() { grep -qF "$1" "$work/shell.log"; }
# Nothing on the host screen is as large as the screen (the shell's own
# windows aside: it has none with --service).
screen_wh=$(xdpyinfo | awk '/dimensions:/ { print $2 }')
nothing_covers_screen() {
  xwininfo -root -children | awk -v s="$screen_wh" '
    /^ +0x/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+x[0-9]+\+/) {
        split($i, g, /[x+]/); split(s, d, "x")
        if (g[1] + 0 >= d[1] && g[2] + 0 >= d[2]) bad = 1 } }
    END { exit bad }'
}

# attack NAME N: runs it in the background
attack() {
  : >"$work/attack.out"
  TANDEM_HOSTILE_HOLD=90 "$hostile" "$evil" "$1" "$2" >"$work/attack.out" 2>&1 &
  attacker=$!
}
end_attack() {
  kill "$attacker" 2>/dev/null
  wait "$attacker" 2>/dev/null
  attacker=""
  wait_long evil_has 0
}
# After every attack: the good guest is as it was.
good_guest_fine() {
  check "$1: tandemctl answers at once" ctl_answers
  check "$1: the good guest's clock keeps ticking on the host" good_updates
  check "$1: and its focus follows the host's" good_focus_works
  check "$1: the shell's peak memory is within the budgets" peak_within_budget
}

# --- Two guests: a good one with a clock, and the one that attacks --------
mkdir -p "$work/xvfb"
host_display=$DISPLAY
tandem_start_xvfb "$work/xvfb"
guest_display=$DISPLAY guest_xvfb=$TANDEM_XVFB_PID
DISPLAY=$host_display
export DISPLAY

"$shell" --service --loopback "good=$good" --loopback "evil=$evil" \
  >"$work/shell.log" 2>&1 &
shell_pid=$!
check "the shell owns org.tandem.Tandem" tandem_wait_for shell_owns_name
check "and listens for both guests" \
  tandem_wait_for sh -c "test -S '$good' && test -S '$evil'"
DISPLAY=$guest_display "$agent" --connect "unix:$good" >"$work/agent.log" 2>&1 &
agent_pid=$!
DISPLAY=$guest_display xterm -title TandemClock -geometry 30x3+10+10 \
  -e sh -c 'while :; do date +%T.%N; sleep 0.3; done' &
clock_pid=$!
check "the good guest's clock gets a proxy" wait_long clock_proxy
base_kib=$(status_kib VmRSS)
check "which ticks" good_updates
check "and takes focus" good_focus_works

# --- A restart HELLO, three times, each with its windows anew ------------
attack rehello 300
check "rehello: sent" wait_long attacked
check "rehello: the windows of the last session only, once each" \
  wait_long evil_has 300
check "rehello: the agent's restart is logged" \
  logged "evil: the agent started again"
end_attack
check "rehello: gone with the agent, none left behind" evil_has 0
good_guest_fine rehello

# --- 8192x8192 windows with pixels, one after another ---------------------
attack huge 1024
check "huge: the link is cut" wait_long was_cut
check "huge: saying why" logged "evil: agent link closed: its windows need more than their memory budget"
# Each window's budget is reserved, but what the guest never drew is never
# written: 16x16 pixels per window cost next to nothing (528 MiB before).
huge_is_cheap() {
  _peak=$(status_kib VmHWM)
  echo "# huge: peak $(((_peak - base_kib) / 1024)) MiB over the start"
  test $((_peak - base_kib)) -le $((96 * 1024))
}
check "huge: the pixels it never drew cost the shell no memory" huge_is_cheap
end_attack
good_guest_fine huge

# --- Never reading what the host sends ------------------------------------
attack noread 0
check "noread: the link is cut" wait_long was_cut
check "noread: saying why" logged "evil: agent link closed: the peer does not read"
end_attack
good_guest_fine noread

# --- Thousands of applications with 1 MiB icons ----------------------------
attack catalog 3072
check "catalog: the link is cut" wait_long was_cut
check "catalog: saying why" \
  logged "its applications need more than their memory budget"
end_attack
good_guest_fine catalog

# --- A catalog that never stops changing ------------------------------------
attack catalog-storm 2000
check "catalog-storm: sent" wait_long attacked
good_guest_fine catalog-storm
end_attack

# --- A resize storm of an 8192x8192 window ----------------------------------
attack resize-storm 300
check "resize-storm: sent" wait_long attacked
good_guest_fine resize-storm
end_attack

# --- A menu and a keep-above window as large as the screen ------------------
attack cover 0
check "cover: sent" wait_long attacked
check "cover: both are shown" wait_long evil_has 2
check "cover: nothing covers the host screen" nothing_covers_screen
good_guest_fine cover
end_attack

# --- A menu far from its window ------------------------------------------------
# The host geometry WxH+X+Y of the top-level window of that size.
host_geometry() {
  xwininfo -root -children | grep -o "[0-9]*x[0-9]*+[0-9]*+[0-9]*" |
    grep "^$1+" | head -1 | grep .
}
menu_touches_window() {
  _win=$(host_geometry 400x300) && _menu=$(host_geometry 120x80) || return 1
  echo "$_win $_menu" | awk '{ split($1, a, /[x+]/); split($2, b, /[x+]/)
    exit !(b[3] <= a[3] + a[1] && b[3] + b[1] >= a[3] &&
           b[4] <= a[4] + a[2] && b[4] + b[2] >= a[4]) }'
}
attack stray 0
check "stray: sent" wait_long attacked
check "stray: both are shown" wait_long evil_has 2
check "stray: the menu touches its window, far as the guest put it" \
  wait_long menu_touches_window
# The colour of the host screen at the window of size $1, at $2,$3 in it.
color_in() {
  _g=$(host_geometry "$1") || return 1
  _x=$(echo "$_g" | cut -d+ -f2) _y=$(echo "$_g" | cut -d+ -f3)
  timeout 10 import -window root -crop "1x1+$((_x + $2))+$((_y + $3))" \
    -depth 8 txt:- 2>/dev/null | grep -o '#[0-9A-F]\{6\}'
}
shows() { test "$(color_in 400x300 "$2" "$3")" = "$1"; }
check "stray: its window shows the 16x16 red square the guest drew" \
  wait_long shows '#FF0000' 8 8
check "stray: and the background where the guest drew nothing" \
  shows '#F5F5F5' 200 150
end_attack

# --- Copies within a window from anywhere to anywhere ------------------------
attack copy 2000
check "copy: sent" wait_long attacked
check "copy: its window shows the red square copied within it" \
  wait_long shows '#FF0000' 208 158
check "copy: and its blue elsewhere" shows '#0000FF' 300 250
good_guest_fine copy
end_attack

# --- Every window asks for full screen at once -------------------------------
attack fullscreen 31
check "fullscreen: sent" wait_long attacked
check "fullscreen: its windows are shown" wait_long evil_has 31
check "fullscreen: the user is asked once, not 31 times" \
  wait_long sh -c "test \"\$(timeout 10 xdotool search --onlyvisible --name '^Full Screen\\?\$' | wc -l)\" -eq 1"
good_guest_fine fullscreen
end_attack

# --- A flood of error reports -------------------------------------------------
before=$(wc -l <"$work/shell.log")
attack logflood 100000
check "logflood: sent" wait_long attacked
good_guest_fine logflood
lines=$(($(wc -l <"$work/shell.log") - before))
check "logflood: the shell logged $lines lines, not 100000" test "$lines" -le 50
end_attack

if [ "$_tap_failed" -ne 0 ]; then
  echo "# the shell's log (last 40 lines):"
  tail -n 40 "$work/shell.log" | sed 's/^/#   /'
fi
tap_end
