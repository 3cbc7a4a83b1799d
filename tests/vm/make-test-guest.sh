#!/bin/sh
# make-test-guest.sh OUTDIR: builds the tiny guest the QEMU integration tests
# boot. Writes OUTDIR/vmlinuz (the current Debian kernel, fetched with apt)
# and OUTDIR/initramfs.img (gzip'd newc cpio: static busybox and an /init).
#
# The guest prints, on its console (boot it with "console=ttyS0"):
#   TANDEM-TEST-GUEST: ready          once set up and listening to the power
#                                     button
#   TANDEM-TEST-GUEST: tick N         every second after that (heartbeat)
#   TANDEM-TEST-GUEST: powering off   on the ACPI power button (QMP
#                                     system_powerdown); QEMU then exits.
# With "tandem.scribble" on its command line it also writes 1 MiB of
# random data a second to its first virtio disk (/dev/vda), round the
# first 8 MiB, so that snapshot overlays fill up as a user's would.
# With "tandem.fetch=URL[,URL...]" it brings its network card up (DHCP),
# prints "TANDEM-TEST-GUEST: network: inet ADDRESS" (or "network: no
# interface" / "network: no DHCP answer"), then fetches each URL and prints
# "fetched URL: BODY" or "fetch failed: URL".
#
# OUTDIR/cache keeps the kernel .deb; OUTDIR/stamp records what was built, so
# a run with nothing changed does nothing. Needs apt, dpkg, cpio, gzip and
# busybox-static; xz/zstd only if the kernel's modules are compressed.
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

die() {
  echo "make-test-guest: error: $*" >&2
  exit 1
}
say() {
  echo "make-test-guest: $*" >&2
}

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: make-test-guest.sh OUTDIR"
export LC_ALL=C
umask 022

for tool in apt-cache apt-get dpkg dpkg-query cpio gzip find sort sed tr \
  sha256sum mktemp; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done

case $0 in
  */*) self=$0 ;;
  *) self=$(command -v -- "$0" 2>/dev/null) || self=$0 ;;
esac
[ -r "$self" ] || die "cannot read this script ($self) to checksum it"
. "$(dirname "$self")/../../tools/debian-kernel.sh"

mkdir -p "$1" || die "cannot create $1"
outdir=$(cd "$1" && pwd) || die "cannot enter $1"
cache=$outdir/cache
stamp=$outdir/stamp

# --- Which kernel? (tools/debian-kernel.sh) ---
debian_kernel_choose

dpkg-query -W -f='${Status}' busybox-static 2>/dev/null |
  grep -q 'install ok installed' ||
  die "busybox-static is not installed: apt-get install busybox-static"
bbver=$(dpkg-query -W -f='${Version}' busybox-static)
busybox=$(dpkg-query -L busybox-static | grep '/bin/busybox$' | head -n 1)
[ -n "$busybox" ] && [ -x "$busybox" ] ||
  die "busybox-static's /bin/busybox not found"

want="kernel=$pkg $ver
busybox-static=$bbver
script=$(sha256sum <"$self" | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ -s "$outdir/vmlinuz" ] &&
  [ -s "$outdir/initramfs.img" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "up to date ($pkg $ver)"
  exit 0
fi

# --- Fetch the kernel .deb (once) and unpack it. ---
work=$(mktemp -d "$outdir/.build.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
debian_kernel_unpack "$cache" "$work"

# --- Build the initramfs tree. ---
root=$work/root
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
  "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/etc/acpi" \
  "$root/lib/modules" "$root/var/log"
cp "$busybox" "$root/bin/busybox"
"$root/bin/busybox" --list-full >"$work/applets" ||
  die "$busybox --list-full failed"
while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done <"$work/applets"
for applet in sh mount insmod acpid poweroff sleep cat ip udhcpc nc timeout; do
  [ -e "$root/bin/$applet" ] || [ -e "$root/sbin/$applet" ] ||
    [ -e "$root/usr/bin/$applet" ] ||
    die "busybox lacks the '$applet' applet"
done

# The power button reaches userspace as an input event: the ACPI button
# driver turns the ACPI notification into KEY_POWER on a "Power Button"
# input device, and evdev exposes that as /dev/input/eventN for acpid.
config_value() {
  sed -n "s/^CONFIG_$1=//p" "$config" | head -n 1
}
[ "$(config_value ACPI)" = y ] || die "kernel $kver lacks CONFIG_ACPI=y"
[ "$(config_value DEVTMPFS)" = y ] || die "kernel $kver lacks CONFIG_DEVTMPFS=y"
[ "$(config_value SERIAL_8250_CONSOLE)" = y ] ||
  die "kernel $kver lacks CONFIG_SERIAL_8250_CONSOLE=y"

# Module dependencies, read from the module itself (no modules.dep needed).
modinfo_cmd=
for m in modinfo /sbin/modinfo /usr/sbin/modinfo; do
  if command -v "$m" >/dev/null 2>&1 && ! "$m" --version 2>&1 |
    grep -qi busybox; then
    modinfo_cmd=$m
    break
  fi
done
mod_depends() {
  if [ -n "$modinfo_cmd" ]; then
    "$modinfo_cmd" -F depends "$1" || die "modinfo $1 failed"
  else
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1
  fi
}
# stage_module NAME: copies module NAME (uncompressed) and, first, its
# dependencies into the initramfs, appending each to the load order once.
: >"$work/order"
stage_module() {
  grep -qx "$1.ko" "$work/order" && return 0
  set -- "$1" "$(printf '%s' "$1" | tr _ -)"
  set -- "$1" "$(find "$moddir" \( -name "$1.ko*" -o -name "$2.ko*" \) \
    -type f | head -n 1)"
  [ -n "$2" ] || die "kernel module $1 not found in $pkg"
  case $2 in
    *.ko) cp "$2" "$root/lib/modules/$1.ko" ;;
    *.ko.xz) xz -dc "$2" >"$root/lib/modules/$1.ko" || die "xz -d $2 failed" ;;
    *.ko.zst) zstd -qdc "$2" >"$root/lib/modules/$1.ko" ||
      die "zstd -d $2 failed" ;;
    *.ko.gz) gzip -dc "$2" >"$root/lib/modules/$1.ko" ||
      die "gzip -d $2 failed" ;;
    *) die "unsupported module file $2" ;;
  esac
  deps=$(mod_depends "$root/lib/modules/$1.ko") || exit 1
  for dep in $(printf '%s' "$deps" | tr , ' '); do
    stage_module "$dep"
  done
  grep -qx "$1.ko" "$work/order" || echo "$1.ko" >>"$work/order"
}
for option in ACPI_BUTTON:button INPUT_EVDEV:evdev; do
  case $(config_value "${option%%:*}") in
    y) ;;
    m) stage_module "${option#*:}" ;;
    *) die "kernel $kver lacks CONFIG_${option%%:*}" ;;
  esac
done
# virtio-blk, for the scribbler; virtio-net, for the network test.
for module in virtio_pci virtio_blk virtio_net; do
  stage_module "$module"
done
cp "$work/order" "$root/etc/modules.order"

# busybox acpid: KEY_POWER maps to "button/power PWRF 00000080" (or PWRB);
# acpid.conf maps that to the action script /etc/acpi/<action>.
cat >"$root/etc/acpid.conf" <<'EOF'
# KEY ACTION: runs /etc/acpi/ACTION when KEY is in the event description.
PWRF power-button
PWRB power-button
EOF
cat >"$root/etc/acpi/power-button" <<'EOF'
#!/bin/sh
echo "TANDEM-TEST-GUEST: powering off" >/dev/console
exec /sbin/poweroff -f
EOF
chmod 755 "$root/etc/acpi/power-button"

# udhcpc's script: the lease to the interface, the default route, DNS.
cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
case $1 in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -z "$router" ] || ip route add default via "${router%% *}" dev "$interface"
    for d in $dns; do echo "nameserver $d"; done >/etc/resolv.conf
    ;;
esac
EOF
chmod 755 "$root/etc/udhcpc.script"

cat >"$root/init" <<'EOF'
#!/bin/sh
# Tandem test guest: set up, announce readiness, heartbeat, power off on the
# ACPI power button.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() { echo "TANDEM-TEST-GUEST: $*"; }
fatal() {
  say "error: $*"
  poweroff -f
}

while read -r module; do
  insmod "/lib/modules/$module" || fatal "insmod $module failed"
done </etc/modules.order

# Wait for the power button's event device.
button=
i=0
while [ -z "$button" ]; do
  for name in /sys/class/input/event*/device/name; do
    [ -r "$name" ] && [ "$(cat "$name")" = "Power Button" ] || continue
    event=${name#/sys/class/input/}
    event=/dev/input/${event%%/*}
    [ -c "$event" ] && button=$event && break
  done
  [ -n "$button" ] && break
  i=$((i + 1))
  [ "$i" -le 100 ] || fatal "no Power Button input device"
  sleep 0.1
done

# acpid opens /dev/input/event0, 1, ... at start-up; only report ready once
# it holds the power button open.
acpid -f -l /dev/null </dev/null &
acpid=$!
i=0
until ls -l "/proc/$acpid/fd" 2>/dev/null | grep -q " $button\$"; do
  i=$((i + 1))
  [ "$i" -le 100 ] || fatal "acpid is not listening to $button"
  sleep 0.1
done

if grep -qw tandem.scribble /proc/cmdline; then
  (
    i=0
    while :; do
      dd if=/dev/urandom of=/dev/vda bs=1M count=1 seek=$((i % 8)) \
        conv=fsync 2>/dev/null || say "error: cannot write /dev/vda"
      i=$((i + 1))
      sleep 1
    done
  ) &
fi

# http_get http://HOST[:PORT]/PATH: the body of a 200 answer. By hand with
# nc: the static busybox's wget crashes in glibc's resolver.
http_get() {
  _hp=${1#http://}
  _path=/${_hp#*/}
  _hp=${_hp%%/*}
  _host=${_hp%:*}
  _port=80
  [ "$_hp" = "$_host" ] || _port=${_hp##*:}
  # A forward (QEMU's guestfwd) may never close the connection: what
  # arrived within the time is the answer.
  _reply=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$_path" "$_host" |
    timeout 6 nc "$_host" "$_port" 2>/dev/null)
  case $(echo "$_reply" | head -n 1) in
    "HTTP/1."?" 200 "*) ;;
    *) return 1 ;;
  esac
  echo "$_reply" | sed '1,/^\r*$/d'
}

fetch=$(sed -n 's/.*tandem\.fetch=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$fetch" ]; then
  ip link set lo up
  if ! ip link show eth0 >/dev/null 2>&1; then
    say "network: no interface"
  elif udhcpc -i eth0 -n -q -t 5 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1; then
    say "network: $(ip -4 addr show eth0 | grep -o 'inet [0-9.]*')"
    for url in $(echo "$fetch" | tr , ' '); do
      if body=$(http_get "$url"); then
        say "fetched $url: $body"
      else
        say "fetch failed: $url"
      fi
    done
  else
    say "network: no DHCP answer"
  fi
fi

say ready
n=0
while :; do
  sleep 1
  n=$((n + 1))
  say "tick $n"
done
EOF
chmod 755 "$root/init"

# --- Pack and install atomically; the stamp goes last. ---
(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) |
  gzip -9 -n >"$work/initramfs.img" || die "cpio/gzip failed"
cp "$kernel" "$work/vmlinuz"
mv -f "$work/vmlinuz" "$outdir/vmlinuz"
mv -f "$work/initramfs.img" "$outdir/initramfs.img"
printf '%s\n' "$want" >"$stamp"
say "built $outdir/vmlinuz ($kver) and $outdir/initramfs.img" \
  "($(wc -c <"$outdir/initramfs.img") bytes; modules: $(tr '\n' ' ' <"$work/order" | sed 's/ $//'))"
