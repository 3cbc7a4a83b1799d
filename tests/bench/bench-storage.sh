#!/bin/sh
# bench-storage.sh [--short] [--json FILE]: a network disk against a local
# one, measured inside the default guest under TCG (issue 11). Run under
# tests/with-session (private Xvfb, session bus, XDG dirs).
#
# One VM, one boot. fio (tandem.fio= in the guest's session, see
# guest-agent/image/build-guest.sh) runs the same four jobs (sequential
# read and write of 1 MiB blocks, random read and write of 4 KiB; direct
# I/O, libaio, queue depth 16) on the mounted ext4 file system of:
#   local   a qcow2 data disk of the VM ([Disk local], virtio-blk): the
#           baseline;
#   nvme    an ext4 image served by qemu-nbd on a UNIX socket, attached
#           with tandemctl storage attach --as nvme;
#   virtio  the same export attached --as virtio.
# fio itself is not in the default guest (with its libraries it would
# nearly double the initramfs): it comes on a read-only local disk
# ("tools") made here from the host's fio.
# Also the time from `storage attach` to mounted and from `detach` to gone.
# Targets: NBD-backed NVMe at least 0.8x the local disk's sequential
# throughput; attach and detach under 2 s each.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
short=0 json=""
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=1 ;;
    --json) json=$2; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-storage: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
B=${TANDEM_BUILD_ROOT:?}
. "${TANDEM_SOURCE_ROOT:?}/tools/session.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
PATH="$B/app:$PATH"
export PATH
die() { echo "bench-storage: $*" >&2; exit 1; }
dir=${TANDEM_DEFAULT_GUEST:-}
[ -n "$dir" ] && [ -f "$dir/initramfs.img" ] ||
  { echo "bench-storage: no default guest (TANDEM_DEFAULT_GUEST): skipped"; exit 0; }
for tool in fio qemu-nbd qemu-img mke2fs; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
runtime=10 size=256M
[ "$short" = 1 ] && runtime=2 size=32M
vm=bench-disks
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-storage.XXXXXX")
pids="" shell=""
cleanup() {
  tandemctl vm stop "$vm" >/dev/null 2>&1
  for p in $pids $shell; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
now_ms() { date +%s%3N; }
until_ok() { TANDEM_WAIT_SECONDS=$1; shift; tandem_wait_for "$@"; }
console=$XDG_RUNTIME_DIR/tandem/$vm/console.log
console_has() { grep -q "$1" "$console" 2>/dev/null; }

# --- fio for the guest, on a disk of its own ---------------------------------
mkdir -p "$tmp/tools/lib" "$tmp/req"
cp -L "$(command -v fio)" "$tmp/tools/fio"
ldd "$(command -v fio)" | awk '/=>/ { print $3 }' | while read -r lib; do
  cp -L "$lib" "$tmp/tools/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$tmp/tools/ld.so"
tools_mib=$(( $(du -sm "$tmp/tools" | cut -f1) + 16 ))
mke2fs -q -F -t ext4 -L tools -d "$tmp/tools" "$tmp/tools.img" "${tools_mib}M" \
  >/dev/null 2>&1 || die "mke2fs (tools) failed"
# The disks measured: ext4 with room for the test file, asking for fio.
: >"$tmp/req/fio-request"
disk_mib=$(( ${size%M} * 2 + 64 ))
mke2fs -q -F -t ext4 -E root_owner=1000:1000 -d "$tmp/req" \
  "$tmp/local.raw" "${disk_mib}M" >/dev/null 2>&1 || die "mke2fs failed"
qemu-img convert -q -f raw -O qcow2 "$tmp/local.raw" "$tmp/local.qcow2" ||
  die "qemu-img failed"
cp "$tmp/local.raw" "$tmp/nbd.img"
rm -f "$tmp/local.raw"
qemu-nbd -t -k "$tmp/nbd.sock" -x data -f raw "$tmp/nbd.img" \
  >"$tmp/nbd.log" 2>&1 &
pids="$pids $!"
until_ok 10 test -S "$tmp/nbd.sock" || die "qemu-nbd did not start"
uri="nbd+unix:///data?socket=$tmp/nbd.sock"

# --- The VM ----------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$dir/home.qcow2" -F qcow2 "$tmp/home.qcow2" ||
  die "qemu-img failed"
mkdir -p "$XDG_CONFIG_HOME/tandem/vms"
cat >"$XDG_CONFIG_HOME/tandem/vms/$vm.conf" <<EOF
[VM]
Memory=1G
CPUs=2
Accelerator=tcg
Display=spice
HotplugPorts=2
[Boot]
Kernel=$dir/vmlinuz
Initrd=$dir/initramfs.img
CommandLine=console=ttyS0 quiet tandem.fio=$runtime:$size
[Disk home]
Path=$tmp/home.qcow2
[Disk local]
Path=$tmp/local.qcow2
Format=qcow2
[Disk tools]
Path=$tmp/tools.img
Format=raw
ReadOnly=true
EOF
tandem --service >"$tmp/tandem.log" 2>&1 &
shell=$!
until_ok 30 shell_owns_name || die "the shell did not start: $(cat "$tmp/tandem.log")"
tandemctl vm start "$vm" >/dev/null || die "the VM did not start"
wait_fio() { # wait_fio NAME: its four jobs done
  until_ok $((runtime * 4 + 240)) console_has "fio $1 done" ||
    die "fio on $1 did not finish: $(tail -n 20 "$console")"
}
echo "# local disk (qcow2, virtio-blk): fio" >&2
wait_fio local
until_ok 120 tandemctl apps "$vm" || die "the guest's agent did not come"

# measure_nbd NAME BUS: attach, fio, detach; the times in $results
results=$tmp/times
: >"$results"
measure_nbd() {
  echo "# NBD as $2: attach, fio, detach" >&2
  _t0=$(now_ms)
  tandemctl storage attach "$vm" "$uri" --as "$2" --name "$1" \
    >"$tmp/attach.out" 2>&1 || die "attach failed: $(cat "$tmp/attach.out")"
  _t1=$(now_ms)
  grep -q "/media/tandem/$1" "$tmp/attach.out" ||
    die "not mounted: $(cat "$tmp/attach.out")"
  wait_fio "$1"
  _t2=$(now_ms)
  tandemctl storage detach "$vm" "$1" >"$tmp/detach.out" 2>&1 ||
    die "detach failed: $(cat "$tmp/detach.out")"
  _t3=$(now_ms)
  echo "$1 $((_t1 - _t0)) $((_t3 - _t2))" >>"$results"
}
measure_nbd nvme nvme
measure_nbd virtio virtio

# NBD on the host alone, no VM (qemu-img bench: QEMU's own NBD client,
# 1 MiB reads, queue depth 16) beside the file it serves: what NBD over a
# UNIX socket can give on this machine at all. The file is random bytes:
# holes would cross as "zeroes here" without their bytes.
host_bench() { # host_bench SOURCE: MiB/s
  _n=$([ "$short" = 1 ] && echo 1024 || echo 4096)
  _s=$(qemu-img bench -f raw -c "$_n" -s 1M -d 16 "$1" 2>&1 |
    sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
  [ -n "$_s" ] || die "qemu-img bench $1 failed"
  python3 -c "print('%.1f' % ($_n / max($_s, 1e-6)))"
}
echo "# the host alone: qemu-img bench on a file and on its export" >&2
head -c 256M /dev/urandom >"$tmp/host.img"
qemu-nbd -t -k "$tmp/host.sock" -x host -f raw "$tmp/host.img" \
  >"$tmp/nbd-host.log" 2>&1 &
pids="$pids $!"
until_ok 10 test -S "$tmp/host.sock" || die "qemu-nbd (host) did not start"
host_file=$(host_bench "$tmp/host.img")
host_nbd=$(host_bench "nbd+unix:///host?socket=$tmp/host.sock")
echo "host $host_file $host_nbd" >>"$results"

python3 - "$console" "$results" "$short" "$json" "$runtime" "$size" <<'EOF'
import json, sys
console, times, short, out, runtime, size = sys.argv[1:7]
# terse v3: 7 read KiB/s, 8 read IOPS, 40 read latency mean (us);
# 48 write KiB/s, 49 write IOPS, 81 write latency mean (us).
res = {}
for line in open(console, errors="replace"):
    if "TANDEM-GUEST: fio " not in line:
        continue
    f = line.split("TANDEM-GUEST: fio ", 1)[1].split(None, 2)
    if len(f) < 3 or f[1] not in ("read", "write", "randread", "randwrite"):
        continue
    t = f[2].strip().split(";")
    if len(t) < 82 or t[0] != "3":
        sys.exit("bench-storage: fio on %s %s said: %s" % (f[0], f[1], f[2]))
    w = f[1].endswith("write")
    res.setdefault(f[0], {})[f[1]] = {
        "mib_s": float(t[47 if w else 6]) / 1024,
        "iops": float(t[48 if w else 7]),
        "lat_ms": float(t[80 if w else 39]) / 1000}
timing = {}
host = None
for line in open(times):
    n, a, d = line.split()
    if n == "host":
        host = {"file_mib_s": float(a), "nbd_mib_s": float(d)}
        continue
    timing[n] = {"attach_ms": int(a), "detach_ms": int(d)}
disks = [("local", "local qcow2 (virtio-blk)"), ("nvme", "NBD as NVMe"),
         ("virtio", "NBD as virtio-blk")]
jobs = ["read", "write", "randread", "randwrite"]
for d, _ in disks:
    if d not in res or any(j not in res[d] for j in jobs):
        sys.exit("bench-storage: no fio results for " + d)
print("fio inside the guest (TCG), %s s per job on a %s file, direct I/O, "
      "queue depth 16:" % (runtime, size))
print("  %-26s %-9s %9s %9s %9s %8s" % ("disk", "job", "MiB/s", "IOPS",
                                         "lat ms", "x local"))
for d, label in disks:
    for j in jobs:
        r = res[d][j]
        base = res["local"][j]["mib_s"] or 1
        r["ratio"] = r["mib_s"] / base
        print("  %-26s %-9s %9.1f %9.0f %9.2f %8.2f" % (
            label, j, r["mib_s"], r["iops"], r["lat_ms"], r["ratio"]))
print()
print("  %-26s %12s %12s" % ("attachment", "attach ms", "detach ms"))
for d in ("nvme", "virtio"):
    print("  %-26s %12d %12d" % (dict(disks)[d], timing[d]["attach_ms"],
                                 timing[d]["detach_ms"]))
if host:
    host["ratio"] = host["nbd_mib_s"] / (host["file_mib_s"] or 1)
    print()
    print("The host alone, no VM (qemu-img bench, 1 MiB reads, queue depth "
          "16):")
    print("  %-26s %9.1f MiB/s" % ("the image file", host["file_mib_s"]))
    print("  %-26s %9.1f MiB/s %8.2f" % ("the same over NBD",
                                        host["nbd_mib_s"], host["ratio"]))
    print("  NBD's own ceiling here, over the guest's local read: %.2fx" %
          (host["nbd_mib_s"] / (res["local"]["read"]["mib_s"] or 1)))
seq = min(res["nvme"]["read"]["ratio"], res["nvme"]["write"]["ratio"])
ok_seq = seq >= 0.8
ok_time = all(t["attach_ms"] < 2000 and t["detach_ms"] < 2000
              for t in timing.values())
print("targets: NBD NVMe sequential >= 0.8x local (%.2f: %s); attach and "
      "detach under 2 s (%s)" % (seq, "yes" if ok_seq else "NO",
                                 "yes" if ok_time else "NO"))
if out:
    json.dump({"short": short == "1", "runtime_s": int(runtime),
               "file_size": size, "fio": res, "times": timing,
               "host": host,
               "nvme_sequential_ratio": seq, "ok": ok_seq and ok_time},
              open(out, "w"), indent=2)
EOF
