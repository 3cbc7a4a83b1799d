#!/bin/sh
# test-default-guest.sh: builds Tandem's default guest
# (guest-agent/image/build-guest.sh) into $TANDEM_DEFAULT_GUEST (default
# build/default-guest), boots it twice under TCG and checks what a user and
# the agent rely on. TAP output; exits non-zero if a check fails.
#
# Boot 1 (tandem.autostart=xclock): X accepts clients within $X_BOUND s, the
# session starts, the agent's virtio-serial port works for the user, xclock's
# window maps, the QMP screendump is not blank, system_powerdown powers off by
# itself with the home disk unmounted.
# Boot 2 (tandem.autostart=mousepad): a file written to /home/user in boot 1
# is still there, mousepad's window maps without GTK warnings, clean power-off
# and a clean file system.
#
# The boots use a throw-away overlay over OUTDIR/home.qcow2, so the built home
# disk is never written. Screenshots: OUTDIR/screenshots/{xclock,mousepad}.png.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${TANDEM_DEFAULT_GUEST:-$top/build/default-guest}
X_BOUND=${X_BOUND:-120}     # seconds from QEMU's start to "X ready"
BUILD_BOUND=${BUILD_BOUND:-1800}
. "$top/tests/tap.sh"
. "$here/guest-console.sh"

bail() {
  echo "Bail out! $*"
  exit 1
}
for tool in qemu-system-x86_64 qemu-img python3 convert identify cpio gzip \
  timeout dumpe2fs; do
  command -v "$tool" >/dev/null 2>&1 || bail "$tool is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-guest-test.XXXXXX") || bail "mktemp failed"
qemu_pid=
reader_pid=
cleanup() {
  for p in $qemu_pid $reader_pid; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
log=/dev/null
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP


# --- Build, then build again (must do nothing). ------------------------------
# With the agent in $TANDEM_GUEST_AGENT (tools/dev.sh builds the guest with
# the same one, so neither build undoes the other).
set -- ${TANDEM_GUEST_AGENT:+--agent "$TANDEM_GUEST_AGENT"}
t=$(now)
timeout "$BUILD_BOUND" sh "$top/guest-agent/image/build-guest.sh" "$@" "$out" \
  >"$tmp/build1.log" 2>&1
build_status=$?
build_s=$(elapsed "$t")
check "build-guest.sh builds the guest ($build_s s)" \
  sh -c "[ $build_status -eq 0 ] || { tail -n 20 '$tmp/build1.log'; exit 1; }"
[ "$build_status" -eq 0 ] || { tap_end; exit 1; }
for f in vmlinuz initramfs.img home.qcow2; do
  check "it made $f" test -s "$out/$f"
done
size=$(wc -c <"$out/initramfs.img")
echo "# initramfs.img: $size bytes"

before=$(ls -l --time-style=+%s.%N "$out/initramfs.img" "$out/vmlinuz" "$out/home.qcow2")
t=$(now)
timeout 120 sh "$top/guest-agent/image/build-guest.sh" "$@" "$out" >"$tmp/build2.log" 2>&1
build2_status=$?
build2_s=$(elapsed "$t")
check "a second build with nothing changed does nothing ($build2_s s)" sh -c "
  [ $build2_status -eq 0 ] && grep -q 'up to date' '$tmp/build2.log' &&
  [ \"\$(ls -l --time-style=+%s.%N '$out/initramfs.img' '$out/vmlinuz' '$out/home.qcow2')\" = '$before' ] &&
  awk 'BEGIN { exit !($build2_s < 15) }' || { cat '$tmp/build2.log'; exit 1; }"

# --- What the image holds. -----------------------------------------------------
gzip -dc "$out/initramfs.img" >"$tmp/initramfs.cpio" || bail "cannot gunzip initramfs.img"
cpio -t --quiet <"$tmp/initramfs.cpio" | sed 's,^\./,,' >"$tmp/files" ||
  bail "cpio -t failed"
# desktop_icon FILE: the desktop file is in the image and so is a PNG of the
# icon it names, in hicolor.
desktop_icon() {
  grep -qx "usr/share/applications/$1" "$tmp/files" || { echo "no $1"; return 1; }
  mkdir -p "$tmp/x" && (cd "$tmp/x" &&
    cpio -i --quiet -d "usr/share/applications/$1" <"$tmp/initramfs.cpio") ||
    return 1
  icon=$(sed -n 's/^Icon=//p' "$tmp/x/usr/share/applications/$1" | head -n 1)
  [ -n "$icon" ] || { echo "$1 names no icon"; return 1; }
  grep -q "^usr/share/icons/hicolor/[0-9]*x[0-9]*/apps/$icon\.png\$" "$tmp/files" ||
    { echo "no hicolor PNG icon $icon for $1"; return 1; }
}
check "the image has mousepad's desktop file and icon" desktop_icon org.xfce.mousepad.desktop
check "the image has xterm's desktop file and icon" desktop_icon debian-xterm.desktop
check "the image has xclock's desktop file and icon" desktop_icon xclock.desktop
check "the image has xeyes' desktop file and icon" desktop_icon xeyes.desktop
check "the image has /init and the session script" sh -c \
  "grep -qx init '$tmp/files' && grep -qx etc/tandem/session '$tmp/files'"
rm -f "$tmp/initramfs.cpio"

# --- Booting. -------------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$out/home.qcow2" -F qcow2 "$tmp/home.qcow2" ||
  bail "cannot make an overlay over $out/home.qcow2"

# boot NAME APPEND: starts QEMU as Tandem would, console to $tmp/NAME.log.
boot() {
  log=$tmp/$1.log
  rm -f "$tmp/qmp.sock" "$tmp/agent.sock"
  timeout 900 qemu-system-x86_64 -accel tcg -machine q35 -m 1G -nodefaults \
    -no-user-config -display none -device VGA \
    -kernel "$out/vmlinuz" -initrd "$out/initramfs.img" \
    -append "console=ttyS0 quiet $2" -serial stdio \
    -drive "if=none,id=home,file=$tmp/home.qcow2,format=qcow2" \
    -device virtio-blk-pci,drive=home,serial=home \
    -device virtio-serial-pci \
    -chardev "socket,id=a,path=$tmp/agent.sock,server=on,wait=off" \
    -device virtserialport,chardev=a,name=org.tandem.agent.0 \
    -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
    </dev/null >"$log" 2>&1 &
  qemu_pid=$!
  boot_t0=$(now)
  # Whatever the guest writes to the agent's port.
  timeout 600 python3 - "$tmp/agent.sock" >"$tmp/$1.agent" 2>&1 <<'EOF' &
import socket, sys, time
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("cannot connect to " + sys.argv[1])
while True:
    d = s.recv(4096)
    if not d:
        break
    sys.stdout.buffer.write(d)
    sys.stdout.flush()
EOF
  reader_pid=$!
}
# verdict STATUS [FILE]: for check: passes if STATUS is 0, else shows FILE.
verdict() {
  [ "$1" -eq 0 ] && return 0
  [ -z "${2:-}" ] || cat "$2"
  return 1
}
# qmp COMMAND-JSON...: runs QMP commands, prints the replies.
qmp() {
  timeout 60 python3 - "$tmp/qmp.sock" "$@" <<'EOF'
import json, socket, sys, time
for _ in range(100):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("cannot connect to QMP")
s.settimeout(30)
f = s.makefile("rw")
json.loads(f.readline())
status = 0
for c in ['{"execute": "qmp_capabilities"}'] + sys.argv[2:]:
    f.write(c + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    print(json.dumps(r))
    status |= "error" in r
sys.exit(status)
EOF
}
# powerdown NAME: system_powerdown; QEMU must exit by itself (status 0) within
# 60 s. Sets powerdown_status and powerdown_s; explains failures in
# $tmp/NAME.powerdown.
powerdown() {
  t=$(now)
  powerdown_status=1
  powerdown_s=
  if ! alive; then
    echo "QEMU is not running" >"$tmp/$1.powerdown"
    tail -n 20 "$log" >>"$tmp/$1.powerdown"
    return
  fi
  qmp '{"execute": "system_powerdown"}' >"$tmp/$1.powerdown" 2>&1 || return
  _i=0
  while alive; do
    _i=$((_i + 1))
    if [ "$_i" -gt 600 ]; then
      echo "QEMU still runs 60 s after system_powerdown" >>"$tmp/$1.powerdown"
      tail -n 20 "$log" >>"$tmp/$1.powerdown"
      return
    fi
    sleep 0.1
  done
  powerdown_s=$(elapsed "$t")
  wait "$qemu_pid"
  powerdown_status=$?
  qemu_pid=
  echo "QEMU exited with status $powerdown_status" >>"$tmp/$1.powerdown"
}
# stop_vm: ends QEMU and the port reader if they still run.
stop_vm() {
  for p in $qemu_pid $reader_pid; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  qemu_pid=
  reader_pid=
}
uptime_of() { # uptime_of TEXT: the guest uptime in TEXT's console line
  grep -F "$1" "$log" | sed -n 's/.*(uptime \([0-9.]*\)).*/\1/p' | head -n 1
}
not_reached() {
  echo "not reached: the guest did not get that far; its console:"
  tail -n 30 "$log"
  return 1
}
console() { # for a failing check: the end of the console log
  tail -n 30 "$log"
  return 1
}

# --- Boot 1: xclock, screendump, agent port, power button. ---------------------
boot boot1 "tandem.autostart=xclock tandem.debug=windows,port tandem.mark=first"
if wait_for "TANDEM-GUEST: X ready" "$X_BOUND"; then
  x_s=$(elapsed "$boot_t0")
  check "boot 1: X accepts clients within $X_BOUND s ($x_s s; guest uptime $(uptime_of 'X ready') s)" true
  x_ok=1
else
  check "boot 1: X accepts clients within $X_BOUND s" console
  x_ok=
fi
if [ -n "$x_ok" ] && wait_for "TANDEM-GUEST: session ready" 60; then
  check "boot 1: the session is ready ($(elapsed "$boot_t0") s; guest uptime $(uptime_of 'session ready') s)" true
else
  check "boot 1: the session is ready" not_reached
fi
if [ -n "$x_ok" ] && wait_for "TANDEM-GUEST: port written" 30; then
  check "boot 1: the user writes to the agent's port, the host reads it" sh -c \
    "for i in \$(seq 50); do grep -q 'hello from user' '$tmp/boot1.agent' && exit 0; sleep 0.1; done
     echo 'the host read:'; cat '$tmp/boot1.agent'; exit 1"
else
  check "boot 1: the user writes to the agent's port, the host reads it" console
fi
if [ -n "$x_ok" ] && wait_for "TANDEM-GUEST: windows mapped" 60; then
  check "boot 1: xclock's window is mapped" true
  mkdir -p "$out/screenshots"
  shot() {
    rm -f "$tmp/xclock.ppm"
    qmp "{\"execute\": \"screendump\", \"arguments\": {\"filename\": \"$tmp/xclock.ppm\"}}" &&
      convert "$tmp/xclock.ppm" "$out/screenshots/xclock.png" || return 1
    sd=$(identify -format '%[fx:standard_deviation]' "$out/screenshots/xclock.png") || return 1
    echo "standard deviation $sd"
    awk -v sd="$sd" 'BEGIN { exit !(sd > 0.02) }'
  }
  # xclock may still be drawing its face when its window maps: retry a little.
  i=0
  until shot >"$tmp/shot.out" 2>&1 || [ "$i" -ge 10 ]; do
    i=$((i + 1))
    sleep 0.5
  done
  check "boot 1: the screendump is not blank ($out/screenshots/xclock.png)" \
    sh -c "cat '$tmp/shot.out'; awk -v sd=\"\$(sed -n 's/^standard deviation //p' '$tmp/shot.out')\" 'BEGIN { exit !(sd > 0.02) }'"
else
  check "boot 1: xclock's window is mapped" console
  check "boot 1: the screendump is not blank" not_reached
fi
powerdown boot1
check "boot 1: system_powerdown powers the guest off, QEMU exits by itself (${powerdown_s:-?} s)" \
  verdict "$powerdown_status" "$tmp/boot1.powerdown"
check "boot 1: the home disk was unmounted before the power went off" \
  sh -c "grep -q 'TANDEM-GUEST: home unmounted' '$log' || { tail -n 20 '$log'; exit 1; }"
stop_vm
boot1_log=$log

# --- Boot 2: the home disk kept its file; mousepad. ---------------------------
boot boot2 "tandem.autostart=mousepad tandem.debug=windows tandem.mark=second"
x_ok=
wait_for "TANDEM-GUEST: session ready" "$X_BOUND" && x_ok=1
check "boot 2: the session is ready again ($(elapsed "$boot_t0") s)" sh -c "[ -n '$x_ok' ] || { tail -n 30 '$log'; exit 1; }"
if [ -n "$x_ok" ] && wait_for "TANDEM-GUEST: mark stored=second" 30; then
  check "boot 2: a file written to /home/user in boot 1 survived the reboot" \
    sh -c "grep -q 'TANDEM-GUEST: mark previous=first' '$log' || { grep mark '$log'; exit 1; }"
else
  check "boot 2: a file written to /home/user in boot 1 survived the reboot" console
fi
if [ -n "$x_ok" ] && wait_for "TANDEM-GUEST: windows mapped" 120; then
  check "boot 2: mousepad's window is mapped ($(elapsed "$boot_t0") s)" true
  rm -f "$tmp/mousepad.ppm"
  qmp "{\"execute\": \"screendump\", \"arguments\": {\"filename\": \"$tmp/mousepad.ppm\"}}" >/dev/null &&
    convert "$tmp/mousepad.ppm" "$out/screenshots/mousepad.png"
else
  check "boot 2: mousepad's window is mapped" console
fi
check "boot 2: mousepad printed no warnings or errors" sh -c \
  "! grep -E '^\[mousepad\]' '$log' | grep -v 'exited with status' | grep ."
powerdown boot2
check "boot 2: system_powerdown powers the guest off (${powerdown_s:-?} s)" \
  verdict "$powerdown_status" "$tmp/boot2.powerdown"
check "boot 2: the home disk was unmounted before the power went off" \
  grep -q 'TANDEM-GUEST: home unmounted' "$log"
clean_off=
[ -n "$qemu_pid" ] || clean_off=1
stop_vm
check "neither boot reported an error" sh -c \
  "! grep -h 'TANDEM-GUEST: error' '$boot1_log' '$log'"
# The file system on the home disk is clean (unmounted, journal empty).
fs_clean() {
  qemu-img convert -O raw "$tmp/home.qcow2" "$tmp/home.raw" || return 1
  dumpe2fs -h "$tmp/home.raw" 2>/dev/null >"$tmp/dumpe2fs" || return 1
  rm -f "$tmp/home.raw"
  grep -q '^Filesystem state: *clean$' "$tmp/dumpe2fs" &&
    ! grep -q needs_recovery "$tmp/dumpe2fs" || { cat "$tmp/dumpe2fs"; return 1; }
}
if [ -n "$clean_off" ]; then
  check "the home disk's file system is clean after power-off" fs_clean
else
  check "the home disk's file system is clean after power-off" not_reached
fi
tap_end
