#!/bin/sh
# bench-hostile.sh [--short] [--json FILE]: what a hostile guest costs the
# shell and a well-behaved guest beside it (issue 10). Run under
# tests/with-session (a private Xvfb and session bus).
#
# 1. The shell's CPU at rest over 60 s (10 s with --short): with no guest,
#    then with one idle guest (the real agent) showing two windows.
# 2. A good guest (hostile-agent good: a 256x256 frame every 16 ms, each
#    sent once the previous one was painted) runs alone, the baseline, and
#    then beside each attack of hostile-agent, 10 s each (4 s): the
#    shell's peak RSS above where it started, its longest main-loop stall
#    (bench-stall: D-Bus pings every 10 ms), the good guest's
#    damage-to-paint p99 and its ratio to the baseline's, and whether the
#    attacker was cut off.
# Targets: idle under 0.2 % of a core; under attack, peak RSS within the
# budgets (window pixels 512 MiB + catalog 64 MiB + output 8 MiB), stall
# under 50 ms, the good guest's p99 at most 2x the baseline's.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
short=0 json=""
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=1 ;;
    --json) json=$2; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-hostile: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
. "$TANDEM_SOURCE_ROOT/tools/session.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
B=$TANDEM_BUILD_ROOT
ctl="$B/app/tandemctl"
hostile="$B/tests/app/hostile-agent"
stall="$B/tests/bench/bench-stall"
agent=${TANDEM_GUEST_AGENT:-$B/guest-agent/tandem-agent}
work="$XDG_RUNTIME_DIR/bench-hostile"
idle_s=60 run_s=10
[ "$short" = 1 ] && idle_s=10 run_s=4
mkdir -p "$work/xvfb"
results="$work/results"
: >"$results"

pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() { echo "bench-hostile: $*" >&2; exit 1; }
# until_ok SECONDS COMMAND...: polls COMMAND, for at most SECONDS.
until_ok() { TANDEM_WAIT_SECONDS=$1; shift; tandem_wait_for "$@"; }
windows_of() { json_value "len(d)" "$ctl" windows "$1" --json 2>/dev/null ||
  echo 0; }
has_windows() { test "$(windows_of "$1")" -eq "$2"; }
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$shell/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$shell/stat"; }
hz=$(getconf CLK_TCK)
cpu_percent() { # cpu_percent SECONDS: the shell's CPU over that time
  _a=$(ticks)
  sleep "$1" # the time measured, not a wait for an event
  _b=$(ticks)
  python3 -c "print('%.3f' % (($_b - $_a) * 100.0 / ($hz * $1)))"
}

# settle: waits (at most 15 s) until the shell used no CPU for a second,
# so that "at rest" does not count its start-up or a guest's arrival.
settle() {
  for _i in $(seq 15); do
    _a=$(ticks)
    sleep 1 # a quiet second is what is waited for
    [ "$(ticks)" = "$_a" ] && return 0
  done
  echo "bench-hostile: the shell never came to rest" >&2
}

host_display=$DISPLAY
tandem_start_xvfb "$work/xvfb"
guest_display=$DISPLAY
pids="$TANDEM_XVFB_PID"
DISPLAY=$host_display
export DISPLAY

"$B/app/tandem" --service --loopback "good=$work/good.sock" \
  --loopback "evil=$work/evil.sock" --loopback "idle=$work/idle.sock" \
  >"$work/shell.log" 2>&1 &
shell=$!
pids="$shell $pids"
until_ok 30 shell_owns_name || die "the shell did not start; its log: $(cat "$work/shell.log")"
until_ok 10 test -S "$work/idle.sock" || die "no loopback socket"

# --- At rest -------------------------------------------------------------
settle
echo "# the shell at rest, no guest: ${idle_s} s" >&2
idle_none=$(cpu_percent "$idle_s")
# The guest's own applications (none): not the host's, nor the entries the
# shell exports for them, which would come back as a catalog change.
mkdir -p "$work/guest-data"
DISPLAY=$guest_display XDG_DATA_HOME="$work/guest-data" \
  XDG_DATA_DIRS="$work/guest-data" "$agent" --connect "unix:$work/idle.sock" \
  >"$work/agent.log" 2>&1 &
idle_agent=$!
DISPLAY=$guest_display xterm -geometry 40x10+10+10 &
x1=$!
DISPLAY=$guest_display xterm -geometry 40x10+400+10 &
x2=$!
pids="$idle_agent $x1 $x2 $pids"
until_ok 60 has_windows idle 2 || die "the idle guest's windows did not come"
settle
echo "# the shell at rest, one idle guest with two windows: ${idle_s} s" >&2
idle_guest=$(cpu_percent "$idle_s")
kill "$x1" "$x2" "$idle_agent" 2>/dev/null
wait "$x1" "$x2" "$idle_agent" 2>/dev/null

# --- Under attack ----------------------------------------------------------
# measure NAME [ATTACK N]
measure() {
  echo "# $1: ${run_s} s" >&2
  echo 5 >"/proc/$shell/clear_refs" # the peak RSS starts from now
  _base=$(status_kib VmRSS)
  : >"$work/attack.out"
  if [ $# -gt 1 ]; then
    TANDEM_HOSTILE_HOLD=$run_s "$hostile" "$work/evil.sock" "$2" "$3" \
      >"$work/attack.out" 2>&1 &
    _atk=$!
  fi
  "$stall" "$run_s" >"$work/stall.out" 2>&1 &
  _st=$!
  "$hostile" "$work/good.sock" good "$run_s" >"$work/good.out" 2>&1
  wait "$_st"
  if [ $# -gt 1 ]; then
    kill "$_atk" 2>/dev/null
    wait "$_atk" 2>/dev/null
  fi
  _peak=$(status_kib VmHWM)
  _cut=no
  grep -q '^cut' "$work/attack.out" && _cut=yes
  # name, peak KiB over the start, stall line, good line, cut
  echo "$1 $((_peak - _base)) $(cat "$work/stall.out" | tr '\n' ' ')" \
    "$(grep '^good' "$work/good.out" || echo good 0 0 0 0) $_cut" \
    >>"$results"
  until_ok 60 has_windows evil 0
  until_ok 60 has_windows good 0
}
measure baseline
measure rehello rehello 300
measure huge huge 1024
measure noread noread 0
measure catalog catalog 3072
measure catalog-storm catalog-storm 2000
measure resize-storm resize-storm 300
measure cover cover 0
measure fullscreen fullscreen 31
measure logflood logflood 100000

python3 - "$results" "$idle_none" "$idle_guest" "$short" "$json" <<'EOF'
import json, sys
path, idle_none, idle_guest, short, out = sys.argv[1:6]
rows = []
for line in open(path):
    f = line.split()
    # name peak_kib stall n p50 p99 max good frames p50 p99 max cut
    if len(f) < 13 or f[2] != "stall" or f[7] != "good":
        sys.exit("bench-hostile: a measurement failed: " + line.strip())
    rows.append({"attack": f[0], "peak_rss_mib": int(f[1]) / 1024,
                 "stall_p99_ms": float(f[5]), "stall_max_ms": float(f[6]),
                 "good_frames": int(f[8]), "good_p50_ms": float(f[9]),
                 "good_p99_ms": float(f[10]), "cut": f[12] == "yes"})
base = rows[0]["good_p99_ms"] or 1
budget = 512 + 64 + 8
for r in rows:
    r["good_p99_ratio"] = r["good_p99_ms"] / base
    r["ok"] = (r["peak_rss_mib"] <= budget and r["stall_max_ms"] < 50 and
               r["good_p99_ratio"] <= 2 and r["good_frames"] > 0)
print("Shell CPU at rest (target < 0.2 % of a core):")
print("  %-34s %8s" % ("", "% core"))
print("  %-34s %8s" % ("no guest", idle_none))
print("  %-34s %8s" % ("one idle guest, two windows", idle_guest))
print()
print("A hostile guest beside a good one (the baseline: the good one alone):")
print("  %-14s %9s %9s %9s %7s %7s %7s %4s %4s" % (
    "attack", "peak MiB", "stall p99", "stall max", "good p50", "good p99",
    "x base", "cut", "ok"))
for r in rows:
    print("  %-14s %9.1f %9.1f %9.1f %7.1f %7.1f %7.2f %4s %4s" % (
        r["attack"], r["peak_rss_mib"], r["stall_p99_ms"], r["stall_max_ms"],
        r["good_p50_ms"], r["good_p99_ms"], r["good_p99_ratio"],
        "yes" if r["cut"] else "no", "yes" if r["ok"] else "NO"))
print("targets: peak within %d MiB, stall under 50 ms, good p99 at most 2x "
      "the baseline" % budget)
if out:
    json.dump({"short": short == "1",
               "idle_cpu_percent": {"no-guest": float(idle_none),
                                    "idle-guest-two-windows":
                                        float(idle_guest)},
               "attacks": rows}, open(out, "w"), indent=2)
EOF
