# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the guest boot tests (sourced): time, and the QEMU they started
# ($qemu_pid) with its serial console in $log.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# alive: QEMU (under timeout) runs; a zombie does not count.
alive() {
  [ -n "$qemu_pid" ] && [ -r "/proc/$qemu_pid/stat" ] &&
    ! sed 's/.*) //' "/proc/$qemu_pid/stat" 2>/dev/null | grep -q '^Z'
}

# wait_for TEXT SECONDS: polls the console log for TEXT, at most SECONDS, and
# not past QEMU's end.
wait_for() {
  _end=$(awk -v n="$(now)" -v s="$2" 'BEGIN { printf "%.1f", n + s }')
  while :; do
    grep -qF "$1" "$log" && return 0
    alive || { grep -qF "$1" "$log"; return; }
    awk -v n="$(now)" -v e="$_end" 'BEGIN { exit !(n < e) }' || return 1
    sleep 0.1
  done
}
