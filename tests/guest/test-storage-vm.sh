#!/bin/sh
# test-storage-vm.sh: network disks attached to the default guest as local
# disks (issue 11, docs/storage.md), in one boot under TCG. TAP. Runs under
# tests/with-session (private Xvfb, session bus, XDG dirs).
#
# Real parts: the shell with its D-Bus service, tandemctl, QEMU under TCG,
# the agent and its mount helper in the guest, qemu-nbd serving images made
# here on UNIX sockets. The guest's session runs with tandem.diskwrite=1: it
# writes files on every attached disk that holds a "write-request" (see
# guest-agent/image/build-guest.sh) and says so on the console.
#
#  - errors change nothing: a VM that is not running, a malformed address,
#    a server that is not there, an unknown export, a read-only export
#    attached writable, a name taken, no free hot-plug port;
#  - an ext4 export attached as NVMe is mounted for the guest user (mount
#    point, ext4, free space shown); the guest writes; detach; the host
#    reads every file back from the image (debugfs, no mount);
#  - the same as virtio-blk while the NBD server is killed and restarted in
#    the middle of the guest's write: afterwards the data is complete;
#  - a blank export: attached, "no file system", nothing formatted;
#  - a detach while a guest program holds the disk is refused and names
#    it; --force detaches;
#  - attachments are kept in the VM's configuration: after a stop and a
#    start they are attached and mounted again, one whose server is gone
#    is listed as failed with the reason, and detach forgets them.
# Prints the time from attach to mounted and from detach to gone.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
build=${TANDEM_BUILD_ROOT:?}
src=${TANDEM_SOURCE_ROOT:?}
. "$src/tools/session.sh"
. "$src/tests/tap.sh"
. "$src/tests/app/lib.sh"
PATH="$build/app:$PATH"
export PATH
vm=disks
dir=${TANDEM_DEFAULT_GUEST:-}
if [ -z "$dir" ] || ! [ -f "$dir/initramfs.img" ]; then
  echo "1..0 # SKIP no default guest (TANDEM_DEFAULT_GUEST)"
  exit 0
fi
for tool in qemu-nbd qemu-img mke2fs debugfs sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { echo "Bail out! $tool is not installed"; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-storage.XXXXXX")
pids="" shell=""
cleanup() {
  tandemctl vm stop "$vm" >/dev/null 2>&1
  for p in $pids $shell; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
bail() { echo "Bail out! $*"; exit 1; }
now_ms() { date +%s%3N; }
console=$XDG_RUNTIME_DIR/tandem/$vm/console.log
# until_ok SECONDS COMMAND...
until_ok() { TANDEM_WAIT_SECONDS=$1; shift; tandem_wait_for "$@"; }
console_has() { grep -q "$1" "$console" 2>/dev/null; }

# --- Exports ---------------------------------------------------------------
token=$(date +%s%N)
mkdir -p "$tmp/src" "$tmp/src2"
echo "$token" >"$tmp/src/write-request"
echo "host file $token" >"$tmp/src/hello.txt"
mke2fs -q -F -t ext4 -L data -E root_owner=1000:1000 -d "$tmp/src" \
  "$tmp/data.img" 64M >/dev/null 2>&1 || bail "mke2fs failed"
echo "$token-2" >"$tmp/src2/write-request"
: >"$tmp/src2/hold" # the guest keeps a program on it afterwards
mke2fs -q -F -t ext4 -L more -E root_owner=1000:1000 -d "$tmp/src2" \
  "$tmp/more.img" 64M >/dev/null 2>&1 || bail "mke2fs failed"
mkdir -p "$tmp/src3"
echo "read-only $token" >"$tmp/src3/hello.txt"
mke2fs -q -F -t ext4 -L ro -d "$tmp/src3" "$tmp/ro.img" 32M >/dev/null 2>&1 ||
  bail "mke2fs failed"
cp "$tmp/ro.img" "$tmp/ro.orig"
mkdir -p "$tmp/src4"
echo "$token-m" >"$tmp/src4/write-request"
mke2fs -q -F -t ext4 -L mir -E root_owner=1000:1000 -d "$tmp/src4" \
  "$tmp/mA.img" 64M >/dev/null 2>&1 || bail "mke2fs failed"
cp "$tmp/mA.img" "$tmp/mB.img" # two servers of the same disk
truncate -s 16M "$tmp/blank.img"
# serve NAME IMAGE [OPTION...]: qemu-nbd on $tmp/NAME.sock, export NAME,
# serving client after client (-t); its pid in $tmp/NAME.pid.
serve() {
  _n=$1 _img=$2
  shift 2
  rm -f "$tmp/$_n.sock"
  qemu-nbd -t -k "$tmp/$_n.sock" -x "$_n" -f raw --cache=none "$@" "$_img" \
    >>"$tmp/nbd-$_n.log" 2>&1 &
  echo $! >"$tmp/$_n.pid"
  pids="$pids $!"
  until_ok 10 test -S "$tmp/$_n.sock" || bail "qemu-nbd $_n did not start"
}
serve data "$tmp/data.img"
serve more "$tmp/more.img"
serve ro "$tmp/ro.img" -r
serve blank "$tmp/blank.img"
serve mA "$tmp/mA.img"
serve mB "$tmp/mB.img"
uri() { echo "nbd+unix:///$1?socket=$tmp/$1.sock"; }

# --- The VM ----------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$dir/home.qcow2" -F qcow2 "$tmp/home.qcow2" ||
  bail "qemu-img failed"
mkdir -p "$XDG_CONFIG_HOME/tandem/vms"
cat >"$XDG_CONFIG_HOME/tandem/vms/$vm.conf" <<EOF
[VM]
Memory=512M
CPUs=2
Accelerator=tcg
Display=spice
HotplugPorts=2
[Boot]
Kernel=$dir/vmlinuz
Initrd=$dir/initramfs.img
CommandLine=console=ttyS0 quiet tandem.diskwrite=1
[Disk home]
Path=$tmp/home.qcow2
EOF
tandem --service >"$tmp/tandem.log" 2>&1 &
shell=$!
until_ok 30 shell_owns_name || bail "the shell did not start: $(cat "$tmp/tandem.log")"

check "attach to a VM that is not running: refused, says to start it" \
  sh -c "out=\$(tandemctl storage attach $vm '$(uri data)' 2>&1); st=\$?;
    [ \$st -eq 1 ] && echo \"\$out\" | grep -q 'not running' || { echo \"\$st \$out\"; exit 1; }"
check "attach to an unknown VM: refused" \
  output_has "no VM" tandemctl storage attach nosuchvm "$(uri data)"

tandemctl vm start "$vm" >/dev/null || bail "the VM did not start"
until_ok 300 tandemctl apps "$vm" || bail "the guest's agent did not come: $(tail -n 20 "$console")"
check "nothing attached at first" json_check "d == []" tandemctl storage list "$vm" --json

# --- Errors that change nothing -------------------------------------------
check "a malformed address: the forms it takes" \
  output_has "nbd+unix://" tandemctl storage attach "$vm" "http://x/y"
check "a server that is not there: says so" \
  output_has "reach" tandemctl storage attach "$vm" \
  "nbd+unix:///data?socket=$tmp/nothing.sock"
check "an unknown export: says so" \
  output_has "no export" tandemctl storage attach "$vm" \
  "nbd+unix:///nope?socket=$tmp/data.sock"
check "a read-only export attached writable: says to use --read-only" \
  output_has "--read-only" tandemctl storage attach "$vm" "$(uri ro)"
check "after the errors, still nothing attached" \
  json_check "d == []" tandemctl storage list "$vm" --json

# --- NVMe: attach, the guest writes, detach, read back on the host ----------
t0=$(now_ms)
tandemctl storage attach "$vm" "$(uri data)" --name data >"$tmp/attach.out" 2>&1
st=$?
t1=$(now_ms)
echo "# attach (NVMe) to mounted: $((t1 - t0)) ms"
check "NVMe: attached and mounted for the guest user" \
  sh -c "[ $st -eq 0 ] && grep -q '/media/tandem/data' '$tmp/attach.out' || { cat '$tmp/attach.out'; exit 1; }"
check "NVMe: the list shows it mounted, ext4, free space" json_check \
  "len(d) == 1 and d[0]['name'] == 'data' and d[0]['bus'] == 'nvme' and d[0]['mount'] == 'mounted' and d[0]['fs-type'] == 'ext4' and 0 < d[0]['free-bytes'] <= d[0]['total-bytes']" \
  tandemctl storage list "$vm" --json
check "a second attachment with the same name: refused" \
  output_has "already has a disk" tandemctl storage attach "$vm" "$(uri more)" --name data
check "NVMe: the guest wrote its files" \
  until_ok 120 console_has "diskwrite data done"
sum_guest=$(sed -n 's/.*diskwrite data done sha256=\([0-9a-f]*\).*/\1/p' "$console" | tail -n 1)
t0=$(now_ms)
tandemctl storage detach "$vm" data >"$tmp/detach.out" 2>&1
st=$?
t1=$(now_ms)
echo "# detach (NVMe) to gone: $((t1 - t0)) ms"
check "NVMe: detached" sh -c "[ $st -eq 0 ] || { cat '$tmp/detach.out'; exit 1; }"
check "NVMe: gone from the list" json_check "d == []" tandemctl storage list "$vm" --json
readback() { # readback IMAGE TOKEN SUM [HOST-FILE-TEXT]: all the guest
  # wrote, intact, and the host's file still there
  for i in 1 2 3 4 5 6 7 8; do
    got=$(debugfs -R "cat /small-$i.txt" "$1" 2>/dev/null)
    [ "$got" = "$2 file $i" ] || { echo "small-$i.txt: '$got'"; return 1; }
  done
  debugfs -R "dump /big.bin $tmp/big.bin" "$1" >/dev/null 2>&1
  [ "$(stat -c %s "$tmp/big.bin")" -eq 16777216 ] || { echo "big.bin: wrong size"; return 1; }
  [ -n "$3" ] && [ "$(sha256sum <"$tmp/big.bin" | cut -d' ' -f1)" = "$3" ] ||
    { echo "big.bin: not what the guest wrote ($3)"; return 1; }
  [ -z "${4:-}" ] || [ "$(debugfs -R "cat /hello.txt" "$1" 2>/dev/null)" = "$4" ] ||
    { echo "hello.txt: changed"; return 1; }
}
check "NVMe: the host reads back every file the guest wrote" \
  readback "$tmp/data.img" "$token" "$sum_guest" "host file $token"

# --- virtio-blk, with the server restarted in the middle of the write -------
tandemctl storage attach "$vm" "$(uri more)" --as virtio >"$tmp/attach2.out" 2>&1
check "virtio-blk: attached and mounted" \
  sh -c "grep -q '/media/tandem/more' '$tmp/attach2.out' || { cat '$tmp/attach2.out'; exit 1; }"
check "virtio-blk: the guest starts writing" \
  until_ok 60 console_has "diskwrite more start"
kill "$(cat "$tmp/more.pid")"
sleep 1 # the server away for a second (what is measured: the outage)
serve more "$tmp/more.img"
check "virtio-blk: the write completes after the server came back" \
  until_ok 120 console_has "diskwrite more done"
check "virtio-blk: no write failed in the guest" \
  sh -c "! grep -q 'diskwrite more failed' '$console'"
sum_more=$(sed -n 's/.*diskwrite more done sha256=\([0-9a-f]*\).*/\1/p' "$console" | tail -n 1)

# --- A blank disk, and the ports running out -------------------------------
tandemctl storage attach "$vm" "$(uri blank)" --name blank >"$tmp/attach3.out" 2>&1
check "a blank disk: attached, no file system, nothing formatted" \
  sh -c "grep -qi 'no file system' '$tmp/attach3.out' || { cat '$tmp/attach3.out'; exit 1; }"
check "a blank disk: the list says so" json_check \
  "[x['mount'] for x in d if x['name'] == 'blank'] == ['no-filesystem']" \
  tandemctl storage list "$vm" --json
check "no free hot-plug port: says what to do" \
  output_has "HotplugPorts" tandemctl storage attach "$vm" "$(uri ro)" --read-only
check "blank: detached" tandemctl storage detach "$vm" blank
check "blank: still no file system on it (nothing formatted)" \
  cmp -s -n 16777216 "$tmp/blank.img" /dev/zero

check "a program keeps the disk busy in the guest" \
  until_ok 30 console_has "diskwrite more held by sleep"
tandemctl storage detach "$vm" more >"$tmp/busy.out" 2>&1
st=$?
check "detach of a busy disk: refused, naming the program" \
  sh -c "[ $st -eq 1 ] && grep -q 'sleep (pid' '$tmp/busy.out' && grep -q -- '--force' '$tmp/busy.out' || { echo $st; cat '$tmp/busy.out'; exit 1; }"
check "the busy disk is still attached and mounted" json_check \
  "[x['mount'] for x in d if x['name'] == 'more'] == ['mounted']" \
  tandemctl storage list "$vm" --json
check "virtio-blk: detached with --force" \
  tandemctl storage detach "$vm" more --force
check "virtio-blk: the data written across the restart is complete" \
  readback "$tmp/more.img" "$token-2" "$sum_more"

# --- Read-only --------------------------------------------------------------
tandemctl storage attach "$vm" "$(uri ro)" --read-only --name ro >"$tmp/attach4.out" 2>&1
check "a read-only export attached read-only: mounted" \
  sh -c "grep -q '/media/tandem/ro' '$tmp/attach4.out' || { cat '$tmp/attach4.out'; exit 1; }"
check "read-only: detached" tandemctl storage detach "$vm" ro
check "read-only: the image is unchanged" cmp -s "$tmp/ro.img" "$tmp/ro.orig"

# --- Two servers as one disk: one lost while the guest writes --------------
disk_is() { # disk_is NAME STATE
  tandemctl storage list "$vm" --json 2>/dev/null | python3 -c "
import json, sys
sys.exit(0 if any(x['name'] == '$1' and x['state'] == '$2'
                  for x in json.load(sys.stdin)) else 1)"
}
check "a disk cannot mirror itself" output_has "cannot mirror itself" \
  tandemctl storage attach "$vm" "$(uri mA)" --mirror "$(uri mA)"
check "a mirror whose server is not there: says which, attaches nothing" \
  sh -c "tandemctl storage attach '$vm' '$(uri mA)' --mirror \
'nbd+unix:///none?socket=$tmp/none.sock' 2>&1 | grep -q 'none.sock' &&
tandemctl storage list '$vm' --json | grep -qx '\[\]'"
tandemctl storage attach "$vm" "$(uri mA)" --mirror "$(uri mB)" --as virtio \
  --name mir >"$tmp/attach5.out" 2>&1
check "mirrored: attached and mounted as one disk" \
  sh -c "grep -q '/media/tandem/mir' '$tmp/attach5.out' || { cat '$tmp/attach5.out'; exit 1; }"
check "mirrored: the list shows both addresses" json_check \
  "d[0]['name'] == 'mir' and d[0]['mirror'].endswith('mB.sock') and d[0]['state'] == 'attached'" \
  tandemctl storage list "$vm" --json
check "mirrored: the guest starts writing" \
  until_ok 60 console_has "diskwrite mir start"
kill "$(cat "$tmp/mB.pid")"
t0=$(now_ms)
check "one server lost: the attachment shows degraded, naming it" \
  until_ok 90 sh -c "tandemctl storage list '$vm' | grep -q 'degraded' &&
tandemctl storage list '$vm' --json | grep -q 'mB.sock is unreachable'"
echo "# server lost to degraded: $(($(now_ms) - t0)) ms"
check "the guest's write completes on the other server" \
  until_ok 120 console_has "diskwrite mir done"
check "no write failed in the guest" \
  sh -c "! grep -q 'diskwrite mir failed' '$console'"
sum_mir=$(sed -n 's/.*diskwrite mir done sha256=\([0-9a-f]*\).*/\1/p' "$console" | tail -n 1)
serve mB "$tmp/mB.img"
t0=$(now_ms)
check "the server back: resynchronised, attached again" \
  until_ok 120 disk_is mir attached
echo "# server back to resynchronised: $(($(now_ms) - t0)) ms"
check "the guest was paused only for the switch" \
  sh -c "grep 'mirror switched back' '$tmp/tandem.log' | grep -q 'paused [0-9]* ms'"
grep -o 'the guest paused [0-9]* ms' "$tmp/tandem.log" | sed 's/^/# /'
# The guest idle now: a lost server is found all the same (the host's
# socket tables), and both lost is a failed disk until one is back.
mir_is() { # mir_is STATE WORDS: the disk "mir" in STATE, its message
  disk_is mir "$1" && tandemctl storage list "$vm" --json | grep -q "$2"
}
kill "$(cat "$tmp/mA.pid")"
t0=$(now_ms)
check "a server lost while the guest does nothing: degraded all the same" \
  until_ok 60 mir_is degraded "mA.sock is unreachable"
echo "# guest idle, server lost to degraded: $(($(now_ms) - t0)) ms"
kill "$(cat "$tmp/mB.pid")"
check "the other lost too: failed, saying so" \
  until_ok 60 mir_is failed "Neither server"
serve mB "$tmp/mB.img"
check "the one it ran on back: degraded again, no longer failed" \
  until_ok 60 mir_is degraded "mA.sock is unreachable"
serve mA "$tmp/mA.img"
check "both back: brought up to date, attached" \
  until_ok 120 disk_is mir attached
check "mirrored: detached" tandemctl storage detach "$vm" mir
check "the survivor has every file the guest wrote" \
  readback "$tmp/mA.img" "$token-m" "$sum_mir"
check "and, resynchronised, so has the server that was lost" \
  readback "$tmp/mB.img" "$token-m" "$sum_mir"
check "the two are the same disk again" cmp -s "$tmp/mA.img" "$tmp/mB.img"

# --- A server that stays away: reconnecting, failed, back --------------------
tandemctl storage attach "$vm" "$(uri data)" --as virtio --name lost \
  >"$tmp/attach6.out" 2>&1
check "a disk to lose: attached" \
  sh -c "grep -q '/media/tandem/lost' '$tmp/attach6.out' || { cat '$tmp/attach6.out'; exit 1; }"
kill "$(cat "$tmp/data.pid")"
t0=$(now_ms)
lost_is() { # lost_is STATE WORDS: the disk "lost" in STATE, its message
  disk_is lost "$1" && tandemctl storage list "$vm" --json | grep -q "$2"
}
check "its server gone: the disk shows reconnecting, saying why" \
  until_ok 20 lost_is reconnecting "QEMU is reconnecting"
echo "# server gone to reconnecting: $(($(now_ms) - t0)) ms"
check "away longer than the reconnect delay: failed, saying so" \
  until_ok 60 lost_is failed "fail until it is back"
echo "# server gone to failed: $(($(now_ms) - t0)) ms"
check "the VM goes on meanwhile" json_check \
  "any(v['name'] == '$vm' and v['state'] == 'running' for v in d)" \
  tandemctl vm list --json
serve data "$tmp/data.img"
t0=$(now_ms)
check "the server back: attached again" until_ok 60 disk_is lost attached
echo "# server back to attached: $(($(now_ms) - t0)) ms"
check "the disk that came back is detached" tandemctl storage detach "$vm" lost

# --- The configuration: attached again at the next start --------------------
conf=$XDG_CONFIG_HOME/tandem/vms/$vm.conf
tandemctl storage attach "$vm" "$(uri data)" --name data --as virtio >/dev/null 2>&1
tandemctl storage attach "$vm" "$(uri ro)" --name ro --read-only >/dev/null 2>&1
check "attachments are in the VM's configuration" \
  sh -c "grep -q '^\[Storage data\]' '$conf' && grep -q '^\[Storage ro\]' '$conf'"
# QEMU 7.2 cannot migrate its NVMe controller, so neither snapshot it.
check "a snapshot with a disk attached as NVMe: refused, says to use virtio" \
  output_has "--as virtio" tandemctl snapshot create "$vm"
check "the VM stops with disks attached" tandemctl vm stop "$vm"
kill "$(cat "$tmp/ro.pid")" # that server goes away while the VM is off
rm -f "$tmp/ro.sock"
check "the VM starts again" tandemctl vm start "$vm"
mounted_again() {
  tandemctl storage list "$vm" --json | python3 -c "import json, sys
d = {x['name']: x for x in json.load(sys.stdin)}
assert d['data']['state'] == 'attached' and d['data']['mount'] == 'mounted', d"
}
check "after the start, the disk is attached and mounted again" \
  until_ok 300 mounted_again
# A snapshot while the disk is attached and mounted, restored.
tandemctl snapshot create "$vm" >"$tmp/snap.out" 2>&1
snap=$(sed -n "s/^Took snapshot \([^ ]*\) of .*/\1/p" "$tmp/snap.out")
check "a snapshot is taken with a network disk (virtio-blk) attached" \
  sh -c "[ -n '$snap' ] || { cat '$tmp/snap.out'; exit 1; }"
manifest=$XDG_DATA_HOME/tandem/vms/$vm/snapshots/manifest.json
# (The memory file is written on after `create` returns; it is listed once
# whole.)
recorded() { grep -q 'Storage data' "$manifest"; }
until_ok 120 recorded
rec=$?
check "the snapshot records the network disk (its configuration)" \
  sh -c "[ $rec -eq 0 ] || { cat '$tmp/snap.out'; ls -la '$(dirname "$manifest")';
    head -c 800 '$manifest'; exit 1; }"
check "and not its data (no image of it among the snapshot's disks)" \
  sh -c "! ls '$XDG_DATA_HOME/tandem/vms/$vm/snapshots/disks' | grep -v '^home-'"
tandemctl snapshot restore "$vm" "$snap" >"$tmp/restore.out" 2>&1
st=$?
check "the snapshot is restored: the disk is put back where the guest had it" \
  sh -c "[ -n '$snap' ] && [ $st -eq 0 ] || { cat '$tmp/restore.out'; exit 1; }"
check "after the restore, the disk is attached and mounted (the guest's mount)" \
  until_ok 120 mounted_again
check "a disk whose server is gone is listed as failed, with the reason" \
  json_check "[(x['state'], 'reach' in x['message']) for x in d if x['name'] == 'ro'] == [('failed', True)]" \
  tandemctl storage list "$vm" --json
check "detaching the failed one forgets it" tandemctl storage detach "$vm" ro
check "it is gone from the configuration" sh -c "! grep -q '^\[Storage ro\]' '$conf'"
check "the disk attached again is detached" tandemctl storage detach "$vm" data
check "and gone from the configuration" sh -c "! grep -q '^\[Storage data\]' '$conf'"

# --- A mirrored disk at a start with one of its servers away ----------------
check "a mirrored disk is attached for the next start" \
  tandemctl storage attach "$vm" "$(uri mA)" --mirror "$(uri mB)" --as virtio \
  --name mir
check "its mirror is in the VM's configuration" \
  sh -c "grep -q '^Mirror=.*mB.sock' '$conf'"
check "the VM stops" tandemctl vm stop "$vm"
kill "$(cat "$tmp/mB.pid")"
check "the VM starts with one of the two servers away" tandemctl vm start "$vm"
check "the disk comes up degraded on the other, naming the one away" \
  until_ok 300 sh -c "tandemctl storage list '$vm' --json | grep -q 'mB.sock is unreachable' &&
tandemctl storage list '$vm' | grep -q degraded"
mir_mounted() {
  json_check "[x['mount'] for x in d if x['name'] == 'mir'] == ['mounted']" \
    tandemctl storage list "$vm" --json
}
check "and the guest has it mounted" until_ok 120 mir_mounted
serve mB "$tmp/mB.img"
check "the server back: brought up to date, attached" \
  until_ok 120 disk_is mir attached
check "detached" tandemctl storage detach "$vm" mir
check "the two are the same disk" cmp -s "$tmp/mA.img" "$tmp/mB.img"

tandemctl vm stop "$vm" >/dev/null 2>&1
tap_end
