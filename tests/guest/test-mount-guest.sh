#!/bin/sh
# test-mount-guest.sh: mounting attached disks by serial in the default
# guest (guest-agent/mount, docs/mount.md), in one boot under TCG. TAP.
#
# The guest (built into $TANDEM_DEFAULT_GUEST with the agent in
# $TANDEM_GUEST_AGENT and the mount helper beside it) gets two extra disks
# made here:
#   virtio-blk, serial tandem-data: an MBR with a blank partition 1 and an
#     ext4 partition 2 (mke2fs -d) holding hello.txt with a fresh token;
#   NVMe, serial tandem-nvme: a whole-disk FAT32 (busybox mkdosfs).
# tandem.mountcheck= makes the session, as the user (uid 1000), go through
# the mount service with tandem-mount (the agent's client code): tandem-data
# read-only, then read-write; tandem-nvme read-write, left mounted; a serial
# that is not there. The test checks what the console says, that the
# power-off unmounts the disk left mounted, and on the host afterwards that
# the file systems are clean and hold what the guest wrote.
# If the agent advertises TP_CAP_MOUNT in its HELLO, the host side here also
# sends MOUNT and UNMOUNT for tandem-data over the agent's virtio-serial port
# and checks both MOUNT_RESULTs (skipped otherwise).
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${TANDEM_DEFAULT_GUEST:-$top/build/default-guest}
BOOT_BOUND=${BOOT_BOUND:-240} # seconds from QEMU's start to "mountcheck done"
. "$top/tests/tap.sh"
. "$here/guest-console.sh"

bail() {
  echo "Bail out! $*"
  exit 1
}
for tool in qemu-system-x86_64 qemu-img python3 cpio gzip timeout mke2fs \
  debugfs dumpe2fs busybox dd awk; do
  command -v "$tool" >/dev/null 2>&1 || bail "$tool is not installed"
done
busybox mkdosfs 2>&1 | grep -q Usage || bail "busybox has no mkdosfs applet"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-mount-test.XXXXXX") || bail "mktemp failed"
qemu_pid=
cleanup() {
  [ -z "$qemu_pid" ] || { kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
t_start=$(now)

# --- The guest, with the mount helper (cached: usually "up to date"). --------
set -- ${TANDEM_GUEST_AGENT:+--agent "$TANDEM_GUEST_AGENT"}
timeout 1800 sh "$top/guest-agent/image/build-guest.sh" "$@" "$out" \
  >"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log"; bail "build-guest.sh failed"; }
gzip -dc "$out/initramfs.img" | cpio -t --quiet 2>/dev/null | sed 's,^\./,,' \
  >"$tmp/files" || bail "cannot list initramfs.img"
grep -qx usr/sbin/tandem-mount-helper "$tmp/files" ||
  bail "the guest in $out has no tandem-mount-helper: build it with --agent BUILD/guest-agent/tandem-agent (and guest-agent/mount built) or --mount-helper"
check "the guest has tandem-mount-helper and tandem-mount" \
  grep -qx usr/bin/tandem-mount "$tmp/files"

# --- The disks. -------------------------------------------------------------
token=tok$$-$(date +%s)
mkdir -p "$tmp/src"
echo "hello from the host $token" >"$tmp/src/hello.txt"
# Partition 2: 32 MiB of ext4 from $tmp/src, its top directory the user's.
mke2fs -q -F -t ext4 -L data -E root_owner=1000:1000 -d "$tmp/src" \
  "$tmp/part2.img" 32M >/dev/null 2>&1 || bail "mke2fs -d failed"
# The disk: MBR, partition 1 at 1 MiB (1 MiB, blank), partition 2 at 2 MiB.
le32() { # le32 N: four little-endian bytes, as printf octal escapes
  printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
    $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}
entry() { # entry TYPE START_SECTOR SECTORS: a 16-byte partition entry
  printf "\\000\\000\\002\\000\\$(printf '%03o' "$1")\\376\\377\\377$(le32 "$2")$(le32 "$3")"
}
dd if=/dev/zero of="$tmp/data.raw" bs=1M count=34 2>/dev/null || bail "dd failed"
{
  entry 131 2048 2048
  entry 131 4096 65536
} | dd of="$tmp/data.raw" bs=1 seek=446 conv=notrunc 2>/dev/null
printf '\125\252' | dd of="$tmp/data.raw" bs=1 seek=510 conv=notrunc 2>/dev/null
dd if="$tmp/part2.img" of="$tmp/data.raw" bs=1M seek=2 conv=notrunc 2>/dev/null ||
  bail "cannot place partition 2"
qemu-img convert -O qcow2 "$tmp/data.raw" "$tmp/data.qcow2" || bail "qemu-img convert failed"
truncate -s 48M "$tmp/nvme.raw" && busybox mkdosfs -n TNVME "$tmp/nvme.raw" >/dev/null 2>&1 ||
  bail "busybox mkdosfs failed"
qemu-img convert -O qcow2 "$tmp/nvme.raw" "$tmp/nvme.qcow2" || bail "qemu-img convert failed"
rm -f "$tmp/data.raw" "$tmp/nvme.raw" "$tmp/part2.img"
qemu-img create -q -f qcow2 -b "$out/home.qcow2" -F qcow2 "$tmp/home.qcow2" ||
  bail "cannot make an overlay over $out/home.qcow2"

# --- One boot. -----------------------------------------------------------------
log=$tmp/console.log
checks=tandem-data:data:ro,tandem-data:data,tandem-nvme:nvme:keep,no-such-disk:nothing
timeout 900 qemu-system-x86_64 -accel tcg -machine q35 -m 1G -nodefaults \
  -no-user-config -display none -device VGA \
  -kernel "$out/vmlinuz" -initrd "$out/initramfs.img" \
  -append "console=ttyS0 quiet tandem.mountcheck=$checks" -serial stdio \
  -drive "if=none,id=home,file=$tmp/home.qcow2,format=qcow2" \
  -device virtio-blk-pci,drive=home,serial=home \
  -drive "if=none,id=data,file=$tmp/data.qcow2,format=qcow2" \
  -device virtio-blk-pci,drive=data,serial=tandem-data \
  -drive "if=none,id=nv,file=$tmp/nvme.qcow2,format=qcow2" \
  -device nvme,drive=nv,serial=tandem-nvme \
  -device virtio-serial-pci \
  -chardev "socket,id=agent,path=$tmp/agent.sock,server=on,wait=off" \
  -device virtserialport,chardev=agent,name=org.tandem.agent.0 \
  -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
  </dev/null >"$log" 2>&1 &
qemu_pid=$!
boot_t0=$(now)

console() {
  tail -n 40 "$log"
  return 1
}
# says TEXT...: the console has a line with all of these texts.
says() {
  _l=$(grep -F "$1" "$log")
  for _t in "$@"; do
    case $_l in *"$_t"*) ;; *) echo "no console line with: $*"; grep -F "TANDEM-GUEST: mountcheck" "$log"; return 1 ;; esac
  done
}
mc() { echo "TANDEM-GUEST: mountcheck $1: $2"; }

if wait_for "TANDEM-GUEST: mountcheck done" "$BOOT_BOUND"; then
  check "the session went through every disk ($(elapsed "$boot_t0") s after QEMU started)" true
else
  check "the session went through every disk within $BOOT_BOUND s" console
fi
check "the mount service listened as root before the session" sh -c \
  "grep -q 'tandem-mount-helper: listening on /run/tandem/mount.sock (uid 1000, 0 may ask' '$log' &&
   ! grep -q 'mount service (tandem-mount-helper) is not listening' '$log' || { tail -n 40 '$log'; exit 1; }"

# tandem-data, read-only: partition 2 (partition 1 is blank), ext4.
check "tandem-data read-only: mounted from partition 2 as ext4 on /media/tandem/data" \
  says "$(mc tandem-data 'mount ro status 0')" "partition 2" "ext4" "read-only on /media/tandem/data"
check "tandem-data read-only: the host's file is there" \
  says "$(mc tandem-data "hello.txt: hello from the host $token")"
check "tandem-data read-only: writing is refused" says "$(mc tandem-data 'read-only as asked')"
check "tandem-data: unmounting while the user is inside is busy, and says who" \
  says "$(mc tandem-data 'unmount while busy status 3')" "is in use by: " "(pid" "Close the files"
check "tandem-data: unmounted, mount point removed" sh -c \
  "grep -c 'mountcheck tandem-data: unmount status 0: Unmounted' '$log' | grep -qx 2 &&
   grep -c 'mountcheck tandem-data: mount point removed' '$log' | grep -qx 2 || { grep mountcheck '$log'; exit 1; }"
# tandem-data, read-write.
check "tandem-data read-write: mounted, the user writes" sh -c \
  "grep -q '$(mc tandem-data 'mount rw status 0').*read-write on /media/tandem/data' '$log' &&
   grep -q '$(mc tandem-data 'wrote guest-wrote.txt')' '$log' || { grep mountcheck '$log'; exit 1; }"
# tandem-nvme: FAT on NVMe, files the user's.
check "tandem-nvme: NVMe with FAT32 mounted read-write on /media/tandem/nvme" \
  says "$(mc tandem-nvme 'mount rw status 0')" "vfat" "/media/tandem/nvme"
check "tandem-nvme: the user writes" says "$(mc tandem-nvme 'wrote guest-wrote.txt')"
check "tandem-nvme: busy while the user is inside" says "$(mc tandem-nvme 'unmount while busy status 3')"
check "a serial that is not attached: not found (status 1)" \
  says "$(mc no-such-disk 'mount rw status 1')" "Attach it first"
check "the helper served uid 1000 only" sh -c \
  "grep -q 'tandem-mount-helper: uid 1000: mount tandem-data data ro -> ok' '$log' &&
   ! grep 'tandem-mount-helper: ' '$log' | grep -q 'refused' || { grep tandem-mount-helper '$log'; exit 1; }"

# --- The agent's MOUNT and UNMOUNT, if it speaks them. ----------------------
# A minimal host: HELLO with TP_CAP_MOUNT, then MOUNT tandem-data on
# "agentdata" read-write and UNMOUNT it; prints "nocap", or one line per
# MOUNT_RESULT: "result ID STATUS MOUNTPOINT FSTYPE TOTAL FREE|MESSAGE"
# (protocol version 2).
timeout 120 python3 - "$tmp/agent.sock" >"$tmp/agent.out" 2>&1 <<'EOF'
import socket, struct, sys, time
HELLO, MOUNT, UNMOUNT, MOUNT_RESULT, CAP_MOUNT = 1, 35, 36, 37, 8
def s16(b):
    return struct.pack("<H", len(b)) + b
def frame(t, body):
    return struct.pack("<HHII", t, 0, 0, len(body)) + body
hello = frame(HELLO, struct.pack("<IHHQiiIIHH", 0x4d444e54, 2, 2, 32 | CAP_MOUNT,
                                 0, 0, 1920, 1080, 100, 32)
              + s16(b"test") + s16(b"test-mount-guest") + s16(b"C"))
end = time.time() + 100
s = socket.socket(socket.AF_UNIX)
while True:
    try:
        s.connect(sys.argv[1])
        break
    except OSError:
        if time.time() > end:
            sys.exit("cannot connect to the agent's port")
        time.sleep(0.1)
s.sendall(hello)
buf = b""
def message():
    global buf
    while True:
        if len(buf) >= 12:
            t, _, _, n = struct.unpack_from("<HHII", buf)
            if len(buf) >= 12 + n:
                body, buf = buf[12:12 + n], buf[12 + n:]
                return t, body
        s.settimeout(max(0.1, end - time.time()))
        d = s.recv(1 << 20)
        if not d:
            sys.exit("the agent hung up")
        buf += d
def result(want):
    while True:
        t, body = message()
        if t == HELLO:
            s.sendall(hello)  # its HELLO crossed a reconnection
        elif t == MOUNT_RESULT:
            rid, status = struct.unpack_from("<II", body)
            n = struct.unpack_from("<H", body, 8)[0]
            mp = body[10:10 + n].decode()
            m = struct.unpack_from("<H", body, 10 + n)[0]
            msg = body[12 + n:12 + n + m].decode()
            o = 12 + n + m
            k = struct.unpack_from("<H", body, o)[0]
            fs = body[o + 2:o + 2 + k].decode() or "-"
            total, free = struct.unpack_from("<QQ", body, o + 2 + k)
            if rid == want:
                print("result %d %d %s %s %d %d|%s" % (rid, status, mp, fs,
                                                       total, free, msg),
                      flush=True)
                return
while True:
    t, body = message()
    if t == HELLO:
        caps = struct.unpack_from("<Q", body, 8)[0]
        break
if not caps & CAP_MOUNT:
    print("nocap")
    sys.exit(0)
s.sendall(frame(MOUNT, struct.pack("<I", 1) + s16(b"tandem-data") + s16(b"agentdata") + b"\0"))
result(1)
s.sendall(frame(UNMOUNT, struct.pack("<I", 2) + s16(b"tandem-data") + b"\0"))
result(2)
EOF
agent_status=$?
# skip DESCRIPTION REASON: a TAP case that could not run.
skip() {
  _tap_n=$((_tap_n + 1))
  echo "ok $_tap_n - $1 # SKIP $2"
}
if [ "$agent_status" -eq 0 ] && grep -qx nocap "$tmp/agent.out"; then
  skip "the agent mounts tandem-data on MOUNT" "the agent does not advertise TP_CAP_MOUNT"
  skip "the agent unmounts it on UNMOUNT" "the agent does not advertise TP_CAP_MOUNT"
else
  check "the agent mounts tandem-data on MOUNT (MOUNT_RESULT ok, /media/tandem/agentdata, ext4, its size and free space)" sh -c \
    "grep -Eq '^result 1 0 /media/tandem/agentdata ext4 [1-9][0-9]* [1-9][0-9]*\\|Mounted /dev/vd[a-z]2 ' '$tmp/agent.out' || { cat '$tmp/agent.out'; exit 1; }"
  check "the agent unmounts it on UNMOUNT (MOUNT_RESULT ok, no type)" sh -c \
    "grep -q '^result 2 0 /media/tandem/agentdata - 0 0|Unmounted ' '$tmp/agent.out' || { cat '$tmp/agent.out'; exit 1; }"
fi

# --- Power-off unmounts what is still mounted. ---------------------------------
python3 - "$tmp/qmp.sock" >"$tmp/qmp.out" 2>&1 <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
for c in ("qmp_capabilities", "system_powerdown"):
    f.write(json.dumps({"execute": c}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    print(json.dumps(r))
EOF
i=0
while alive && [ "$i" -lt 600 ]; do
  i=$((i + 1))
  sleep 0.1
done
if alive; then
  check "system_powerdown powers the guest off" sh -c "cat '$tmp/qmp.out'; tail -n 20 '$log'; exit 1"
else
  wait "$qemu_pid"
  status=$?
  qemu_pid=
  check "system_powerdown powers the guest off (QEMU status $status)" test "$status" -eq 0
fi
check "power-off unmounted the disk left mounted" \
  grep -q 'TANDEM-GUEST: unmounted /media/tandem/nvme' "$log"
check "the guest reported no error" sh -c "! grep 'TANDEM-GUEST: error' '$log'"

# --- On the host: what the guest wrote, on clean file systems. -----------------
qemu-img convert -O raw "$tmp/data.qcow2" "$tmp/data.raw" || bail "qemu-img convert failed"
dd if="$tmp/data.raw" of="$tmp/part2.img" bs=1M skip=2 count=32 2>/dev/null
check "tandem-data: the ext4 file system is clean after the guest unmounted it" sh -c \
  "dumpe2fs -h '$tmp/part2.img' 2>/dev/null | grep -q '^Filesystem state: *clean\$' &&
   ! dumpe2fs -h '$tmp/part2.img' 2>/dev/null | grep -q needs_recovery"
check "tandem-data: it holds the file the guest wrote" sh -c \
  "debugfs -R 'cat /guest-wrote.txt' '$tmp/part2.img' 2>/dev/null | grep -qx 'written by the guest (tandem-data)'"
qemu-img convert -O raw "$tmp/nvme.qcow2" "$tmp/nvme.raw" || bail "qemu-img convert failed"
check "tandem-nvme: the FAT file system holds what the guest wrote" \
  grep -qa 'written by the guest (tandem-nvme)' "$tmp/nvme.raw"
echo "# whole test: $(elapsed "$t_start") s"
tap_end
