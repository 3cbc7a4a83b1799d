#!/bin/sh
# build-guest.sh [--agent PATH] [--mount-helper PATH] [--home-size SIZE] OUTDIR
#
# Builds Tandem's default guest from Debian packages only:
#   OUTDIR/vmlinuz         the current Debian kernel (apt-get download)
#   OUTDIR/initramfs.img   gzip'd newc cpio: busybox, Xorg (modesetting on the
#                          bochs DRM driver of "-device VGA"), xterm, xclock,
#                          xeyes, mousepad (GTK 3), copied from this host with
#                          their libraries, and /init
#   OUTDIR/home.qcow2      the user's home disk; created only if missing, never
#                          overwritten (attach it as virtio-blk, serial "home")
#
# Boot it with "console=ttyS0". The guest prints on its serial console:
#   TANDEM-GUEST: X ready (uptime S)        X accepts clients
#   TANDEM-GUEST: session ready (uptime S)  the session (agent, autostart) runs
#   TANDEM-GUEST: powering off              on the ACPI power button
#   TANDEM-GUEST: home unmounted            just before the power goes off
#   TANDEM-GUEST: error: ...                anything that went wrong
# Kernel command-line options it honours (for tests and debugging):
#   tandem.autostart=APP[+ARG...][,APP...]
#                                  start these programs in the session; their
#                                  output goes to the console as "[APP] ..."
#   tandem.debug=LIST              comma-separated:
#     boot     uptime at each step of /init
#     xlog     Xorg's (EE) and (WW) lines
#     port     write a line to the agent's port as the user
#     windows  print "xwininfo -root -tree" once every autostarted program
#              has a mapped window ("TANDEM-GUEST: windows mapped")
#   tandem.mark=TOKEN              print the previous boot's token from the home
#                                  disk, then store TOKEN there
#   tandem.xtimeout=SECONDS        how long to wait for X (default 120)
#   tandem.mountcheck=SERIAL:LABEL[:ro][:keep][,...]
#                                  (tests) as the user, through the mount
#                                  service: mount each disk, show its *.txt
#                                  files, write guest-wrote.txt (unless ro),
#                                  unmount while busy, unmount (unless keep);
#                                  "TANDEM-GUEST: mountcheck ..." lines, then
#                                  "TANDEM-GUEST: mountcheck done"
#   tandem.diskwrite=1             (tests) write files on attached disks that
#                                  ask for it (see the session script)
#   tandem.fio=SECONDS:SIZE        (benchmarks) run fio on disks that ask for
#                                  it (see the session script)
#
# --agent PATH copies a tandem-agent binary (and its libraries) in as
# /usr/bin/tandem-agent; the session starts it once X is ready.
# --mount-helper PATH copies tandem-mount-helper in as
# /usr/sbin/tandem-mount-helper (and tandem-mount from the same directory, if
# there, as /usr/bin/tandem-mount); /init starts it as root before the
# session: socket /run/tandem/mount.sock for uid 1000, mount points under
# /media/tandem (docs/mount.md). Without the option, the helper is taken from
# the agent's build directory (AGENTDIR/mount/tandem-mount-helper) if it is
# there. Power-off unmounts what it mounted.
#
# OUTDIR/cache keeps the kernel .deb; OUTDIR/stamp records what was built
# (kernel, versions of every host package copied from, this script, the agent)
# so that a run with nothing changed does nothing.
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

prog=build-guest
die() {
  echo "$prog: error: $*" >&2
  exit 1
}
say() {
  echo "$prog: $*" >&2
}
usage() {
  die "usage: build-guest.sh [--agent PATH] [--mount-helper PATH] [--home-size SIZE] OUTDIR"
}

agent=
mount_helper=
home_size=2G
outarg=
while [ $# -gt 0 ]; do
  case $1 in
    --agent)
      [ $# -ge 2 ] || usage
      agent=$2
      shift 2
      ;;
    --agent=*)
      agent=${1#--agent=}
      shift
      ;;
    --mount-helper)
      [ $# -ge 2 ] || usage
      mount_helper=$2
      shift 2
      ;;
    --mount-helper=*)
      mount_helper=${1#--mount-helper=}
      shift
      ;;
    --home-size)
      [ $# -ge 2 ] || usage
      home_size=$2
      shift 2
      ;;
    --home-size=*)
      home_size=${1#--home-size=}
      shift
      ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *)
      [ -z "$outarg" ] || usage
      outarg=$1
      shift
      ;;
  esac
done
[ -n "$outarg" ] || usage
export LC_ALL=C
umask 022

if [ -n "$agent" ]; then
  [ -f "$agent" ] && [ -x "$agent" ] ||
    die "--agent $agent is not an executable file"
  agent=$(cd "$(dirname "$agent")" && pwd)/$(basename "$agent")
fi
# The mount service: given, or beside the agent in its build directory.
if [ -z "$mount_helper" ] && [ -n "$agent" ] &&
  [ -x "$(dirname "$agent")/mount/tandem-mount-helper" ]; then
  mount_helper=$(dirname "$agent")/mount/tandem-mount-helper
fi
mount_client=
if [ -n "$mount_helper" ]; then
  [ -f "$mount_helper" ] && [ -x "$mount_helper" ] ||
    die "--mount-helper $mount_helper is not an executable file"
  mount_helper=$(cd "$(dirname "$mount_helper")" && pwd)/$(basename "$mount_helper")
  [ -x "$(dirname "$mount_helper")/tandem-mount" ] &&
    mount_client=$(dirname "$mount_helper")/tandem-mount
fi

for tool in apt-cache apt-get dpkg dpkg-query cpio gzip find sort sed tr \
  sha256sum mktemp ldd cut head awk; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done

case $0 in
  */*) self=$0 ;;
  *) self=$(command -v -- "$0" 2>/dev/null) || self=$0 ;;
esac
[ -r "$self" ] || die "cannot read this script ($self) to checksum it"
. "$(dirname "$self")/../../tools/debian-kernel.sh"

mkdir -p "$outarg" || die "cannot create $outarg"
outdir=$(cd "$outarg" && pwd) || die "cannot enter $outarg"
cache=$outdir/cache
stamp=$outdir/stamp

# --- Host packages the guest is made of. -------------------------------------
# Programs and data copied into the image (their libraries are found with ldd
# and tracked too), and the tools this script runs.
pkgs_image="busybox-static xserver-xorg-core xserver-common x11-xkb-utils xkb-data xfonts-base
xterm x11-apps x11-utils mousepad e2fsprogs fontconfig-config fonts-dejavu-core
adwaita-icon-theme hicolor-icon-theme shared-mime-info libgtk-3-0
libgtk-3-common libgdk-pixbuf-2.0-0 librsvg2-common libglib2.0-0
libgtksourceview-4-common
libx11-data ncurses-base libc-bin"
pkgs_tools="qemu-utils kmod imagemagick gtk-update-icon-cache fontconfig cpio"
missing=
for p in $pkgs_image $pkgs_tools; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] ||
    die "missing Debian packages:$missing (run: apt-get install --no-install-recommends$missing)"
  say "installing missing Debian packages:$missing"
  # shellcheck disable=SC2086
  timeout 900 apt-get install -y --no-install-recommends $missing >&2 ||
    die "apt-get install$missing failed (try apt-get update first)"
fi
for tool in qemu-img depmod modinfo convert gtk-update-icon-cache fc-cache; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done

# --- Which kernel? (tools/debian-kernel.sh) ---
debian_kernel_choose

make_home() {
  [ -e "$outdir/home.qcow2" ] && return 0
  say "creating $outdir/home.qcow2 ($home_size, sparse; formatted at first boot)"
  qemu-img create -q -f qcow2 "$outdir/home.qcow2.new" "$home_size" ||
    die "qemu-img create $outdir/home.qcow2 failed"
  mv "$outdir/home.qcow2.new" "$outdir/home.qcow2"
}

# The stamp: a header that is cheap to compute, then one line per host
# package the image was copied from (found at build time).
agent_sum=none
[ -z "$agent" ] || agent_sum=$(sha256sum <"$agent" | cut -d' ' -f1)
mount_sum=none
[ -z "$mount_helper" ] ||
  mount_sum=$(cat "$mount_helper" ${mount_client:+"$mount_client"} | sha256sum | cut -d' ' -f1)
head_want="kernel=$pkg $ver
script=$(sha256sum <"$self" | cut -d' ' -f1)
agent=$agent_sum
mount-helper=$mount_sum"
pkg_versions() { # pkg_versions PKG...: "pkg NAME=VERSION" lines, sorted
  dpkg-query -W -f='pkg ${Package}=${Version}\n' "$@" 2>/dev/null | sort -u
}
if [ -f "$stamp" ] && [ -s "$outdir/vmlinuz" ] && [ -s "$outdir/initramfs.img" ]; then
  # shellcheck disable=SC2046
  old_pkgs=$(sed -n 's/^pkg \([^=]*\)=.*/\1/p' "$stamp")
  if [ -n "$old_pkgs" ] &&
    [ "$(cat "$stamp")" = "$head_want
$(pkg_versions $old_pkgs)" ]; then
    make_home
    say "up to date ($pkg $ver; $(wc -c <"$outdir/initramfs.img") bytes of initramfs)"
    exit 0
  fi
fi

# --- Fetch the kernel .deb (once) and unpack it. ---
work=$(mktemp -d "$outdir/.build.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
debian_kernel_unpack "$cache" "$work"
config_value() {
  sed -n "s/^CONFIG_$1=//p" "$config" | head -n 1
}
for option in ACPI DEVTMPFS SERIAL_8250_CONSOLE UNIX98_PTYS VT RD_GZIP; do
  [ "$(config_value "$option")" = y ] || die "kernel $kver lacks CONFIG_$option=y"
done
# The .deb ships no modules.dep.
depmod -b "$work/deb" "$kver" || die "depmod -b $work/deb $kver failed"

# --- The initramfs tree (merged /usr, like Debian 12). ------------------------
root=$work/root
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64" \
  "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" \
  "$root/etc/acpi" "$root/etc/tandem" "$root/etc/X11" "$root/usr/lib/modules" \
  "$root/var/log" "$root/var/lib/xkb" "$root/var/cache" "$root/home/user" \
  "$root/root" "$root/mnt" "$root/media"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s /run "$root/var/run"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"

: >"$work/sources" # every host file copied, for the package list
: >"$work/elves"   # every ELF file copied, for ldd

# put SRC [DEST]: copies the host file SRC (symlinks followed) to DEST (default
# the same path) in the image.
put() {
  [ -e "$1" ] || die "$1 not found on this host"
  _dest=$root${2:-$1}
  mkdir -p "$(dirname "$_dest")" || die "cannot create $(dirname "$_dest")"
  cp -L "$1" "$_dest" || die "cannot copy $1"
  echo "$1" >>"$work/sources"
}
# put_elf SRC [DEST]: put, and copy its libraries too.
put_elf() {
  put "$@"
  echo "$1" >>"$work/elves"
}
# put_tree DIR [DEST]: copies a directory tree (symlinks followed).
put_tree() {
  [ -d "$1" ] || die "directory $1 not found on this host"
  _dest=$root${2:-$1}
  mkdir -p "$(dirname "$_dest")"
  cp -RL "$1" "$_dest" || die "cannot copy $1"
  find "$1" -type f >>"$work/sources"
}

# Programs.
put_elf /usr/lib/xorg/Xorg
put_elf /usr/lib/xorg/modules/drivers/modesetting_drv.so
put_elf /usr/lib/xorg/modules/libshadow.so
put /usr/lib/xorg/protocol.txt
for p in xkbcomp xterm xclock xeyes mousepad xdpyinfo xwininfo; do
  put_elf "/usr/bin/$p"
done
put_elf /sbin/mke2fs /usr/sbin/mke2fs
put_elf /sbin/e2fsck /usr/sbin/e2fsck
ln -s mke2fs "$root/usr/sbin/mkfs.ext4"
put /etc/mke2fs.conf
if [ -n "$agent" ]; then
  put_elf "$agent" /usr/bin/tandem-agent
  chmod 755 "$root/usr/bin/tandem-agent"
fi
if [ -n "$mount_helper" ]; then
  put_elf "$mount_helper" /usr/sbin/tandem-mount-helper
  chmod 755 "$root/usr/sbin/tandem-mount-helper"
fi
if [ -n "$mount_client" ]; then
  put_elf "$mount_client" /usr/bin/tandem-mount
  chmod 755 "$root/usr/bin/tandem-mount"
fi

# GTK's run-time pieces: a print backend (file), pixbuf loaders for SVG (GTK's
# built-in Adwaita theme draws check marks and radio dots from SVG assets) and
# XPM (PNG and JPEG are built into gdk-pixbuf), and the loaders.cache naming
# them.
gtkmods=/usr/lib/x86_64-linux-gnu/gtk-3.0/3.0.0
put_elf "$gtkmods/printbackends/libprintbackend-file.so"
# mousepad looks for plugins here; the gspell one (and its dictionaries) is
# left out.
mkdir -p "$root/usr/lib/x86_64-linux-gnu/mousepad/plugins"
pixbufdir=/usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0/2.10.0
put_elf "$pixbufdir/loaders/libpixbufloader-svg.so"
put_elf "$pixbufdir/loaders/libpixbufloader-xpm.so"
query_loaders=/usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0/gdk-pixbuf-query-loaders
[ -x "$query_loaders" ] || die "$query_loaders not found (libgdk-pixbuf-2.0-0)"
"$query_loaders" "$pixbufdir/loaders/libpixbufloader-svg.so" \
  "$pixbufdir/loaders/libpixbufloader-xpm.so" \
  >"$root$pixbufdir/loaders.cache" || die "gdk-pixbuf-query-loaders failed"

# Libraries, with the dynamic loader (ldd lists it with its absolute path).
sort -u "$work/elves" >"$work/elves.sorted"
while read -r elf; do
  out=$(ldd "$elf" 2>&1) || {
    case $out in
      *"not a dynamic executable"*) continue ;;
    esac
    die "ldd $elf failed: $out"
  }
  case $out in
    *"not found"*) die "$elf needs libraries this host lacks: $(printf '%s\n' "$out" | grep 'not found' | tr -s ' \t' ' ')" ;;
  esac
  printf '%s\n' "$out" | sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[ \t]*\(\/[^ ]*\) (.*/\1/p'
done <"$work/elves.sorted" >"$work/libs.raw"
sort -u "$work/libs.raw" >"$work/libs"
while read -r lib; do
  [ -e "$root$lib" ] || put "$lib"
done <"$work/libs"

# busybox: every applet not provided by a real program above. Debian's
# busybox-static prefers its applets to programs in PATH when its shell runs a
# command, so /init names real programs (mke2fs, e2fsck) by full path.
busybox=$(dpkg-query -L busybox-static | grep '/bin/busybox$' | head -n 1)
[ -n "$busybox" ] && [ -x "$busybox" ] || die "busybox-static's /bin/busybox not found"
put "$busybox" /usr/bin/busybox
"$root/usr/bin/busybox" --list-full >"$work/applets" || die "$busybox --list-full failed"
while read -r applet; do
  case $applet in
    bin/busybox | usr/bin/busybox) continue ;;
    bin/* | sbin/*) applet=usr/$applet ;;
  esac
  [ -e "$root/$applet" ] || [ -L "$root/$applet" ] ||
    ln -s /usr/bin/busybox "$root/$applet"
done <"$work/applets"
for applet in sh mount umount insmod acpid poweroff sleep cat su hexdump dd \
  timeout sed grep chown ip udhcpc; do
  [ -e "$root/usr/bin/$applet" ] || [ -e "$root/usr/sbin/$applet" ] ||
    die "busybox lacks the '$applet' applet"
done

# --- Kernel modules, in dependency order (modules.dep from depmod). ----------
: >"$work/order"
# mod_path NAME: the module's path relative to $moddir, or nothing.
mod_path() {
  _n=$(printf '%s' "$1" | tr - _)
  _m=$(printf '%s' "$1" | tr _ -)
  sed -n "s#^\(\([^:]*/\)\{0,1\}\($_n\|$_m\)\.ko[^:]*\):.*#\1#p" "$moddir/modules.dep" |
    head -n 1
}
# mod_alias ALIAS: a module providing ALIAS (a *_generic one if there is).
mod_alias() {
  _all=$(sed -n "s/^alias $1 \(.*\)/\1/p" "$moddir/modules.alias")
  _g=$(printf '%s\n' "$_all" | grep '_generic$' | head -n 1)
  printf '%s\n' "${_g:-$(printf '%s\n' "$_all" | head -n 1)}"
}
# stage_module NAME [optional]: the module, after its soft and hard
# dependencies, decompressed into /lib/modules of the image.
stage_module() {
  set -- "$(printf '%s' "$1" | tr - _)" "${2:-}"
  grep -q "^?\{0,1\}$1\$" "$work/order" && return 0
  set -- "$1" "$2" "$(mod_path "$1")"
  if [ -z "$3" ]; then
    sed -n 's,.*/,,; s,\.ko.*,,p' "$moddir/modules.builtin" | tr - _ |
      grep -qx "$1" && return 0
    [ "$2" = optional ] && return 0
    die "kernel module $1 not found in $pkg"
  fi
  # Soft dependencies ("pre:"), e.g. ext4 wants crypto-crc32c: optional.
  for _pre in $(modinfo -F softdep "$moddir/$3" 2>/dev/null |
    sed -n 's/.*pre: *//p'); do
    case $_pre in
      *-*) _alias=$(mod_alias "$_pre") ;;
      *) _alias=$_pre ;;
    esac
    [ -z "$_alias" ] || stage_module "$_alias" optional
  done
  # Hard dependencies: modules.dep lists them all, the last to be loaded
  # first; staging each recursively gives a valid order.
  for _dep in $(sed -n "s,^$3: *,,p" "$moddir/modules.dep" |
    awk '{ for (i = NF; i > 0; i--) print $i }'); do
    _dep=${_dep##*/}
    stage_module "${_dep%%.ko*}"
  done
  case $3 in
    *.ko) cp "$moddir/$3" "$root/lib/modules/$1.ko" ;;
    *.ko.xz) xz -dc "$moddir/$3" >"$root/lib/modules/$1.ko" ;;
    *.ko.zst) zstd -qdc "$moddir/$3" >"$root/lib/modules/$1.ko" ;;
    *.ko.gz) gzip -dc "$moddir/$3" >"$root/lib/modules/$1.ko" ;;
    *) die "unsupported module file $3" ;;
  esac || die "cannot copy module $3"
  if [ "$2" = optional ]; then
    echo "?$1" >>"$work/order"
  else
    echo "$1" >>"$work/order"
  fi
}
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
  virtio_pci virtio_console virtio_blk drm drm_kms_helper ttm drm_ttm_helper \
  drm_vram_helper bochs button evdev ext4 nvme_core nvme vfat nls_cp437 \
  nls_ascii virtio_net; do
  stage_module "$m"
done
cp "$work/order" "$root/etc/modules.order"

# --- Data: X, fonts, locales, GTK. --------------------------------------------
put_tree /usr/share/X11/xkb
rm -f "$root/usr/share/X11/xkb/rules/"*.xml "$root/usr/share/X11/xkb/rules/"*.lst
put /usr/share/X11/XErrorDB
put /usr/share/X11/locale/locale.alias
put /usr/share/X11/locale/locale.dir
put /usr/share/X11/locale/compose.dir
put_tree /usr/share/X11/locale/C
put_tree /usr/share/X11/locale/en_US.UTF-8
for f in XTerm XTerm-color UXTerm UXTerm-color XClock XClock-color; do
  [ -f "/etc/X11/app-defaults/$f" ] && put "/etc/X11/app-defaults/$f"
done
put_tree /usr/lib/locale/C.utf8
for t in x/xterm x/xterm-256color l/linux v/vt100 d/dumb; do
  put "/lib/terminfo/$t" "/usr/share/terminfo/$t"
done

# Core X fonts: the Latin-1 and Unicode misc fonts (fixed, 6x13, ...) and the
# cursor font; the big CJK ones are left out.
misc=/usr/share/fonts/X11/misc
[ -f "$misc/fonts.dir" ] || die "$misc/fonts.dir not found (xfonts-base)"
mkdir -p "$root$misc"
awk 'NR > 1 && ($NF ~ /-iso8859-1$|-iso10646-1$/ || $1 == "cursor.pcf.gz") { print $1 }' \
  "$misc/fonts.dir" | sort -u | while read -r f; do
  [ "$(wc -c <"$misc/$f")" -lt 150000 ] && echo "$f"
done >"$work/misc-fonts"
grep -qx 'cursor.pcf.gz' "$work/misc-fonts" || die "$misc has no cursor font"
while read -r f; do put "$misc/$f"; done <"$work/misc-fonts"
awk 'NR == FNR { keep[$1] = 1; next } FNR > 1 && keep[$1]' \
  "$work/misc-fonts" "$misc/fonts.dir" >"$work/fonts.dir.body"
{ wc -l <"$work/fonts.dir.body"; cat "$work/fonts.dir.body"; } >"$root$misc/fonts.dir"
put "$misc/fonts.alias"

# Fontconfig with DejaVu (Pango renders only scalable fonts).
put /etc/fonts/fonts.conf
mkdir -p "$root/etc/fonts/conf.d"
dpkg-query -L fontconfig-config fonts-dejavu-core | grep '^/etc/fonts/conf\.d/.*\.conf$' \
  >"$work/fontconf" || die "no fontconfig configuration (fontconfig-config)"
while read -r f; do put "$f"; done <"$work/fontconf"
for f in 10-hinting-slight.conf 70-no-bitmaps.conf; do
  put "/usr/share/fontconfig/conf.avail/$f" "/etc/fonts/conf.d/$f"
done
for f in DejaVuSans.ttf DejaVuSans-Bold.ttf DejaVuSansMono.ttf DejaVuSansMono-Bold.ttf; do
  put "/usr/share/fonts/truetype/dejavu/$f"
done
mkdir -p "$root/var/cache/fontconfig"

# GLib schemas: GTK's and mousepad's, compiled.
schemas=/usr/share/glib-2.0/schemas
mkdir -p "$root$schemas"
for f in "$schemas"/org.gtk.Settings.*.gschema.xml "$schemas"/org.xfce.mousepad*.gschema.xml; do
  put "$f"
done
compile_schemas=/usr/lib/x86_64-linux-gnu/glib-2.0/glib-compile-schemas
command -v glib-compile-schemas >/dev/null 2>&1 && compile_schemas=glib-compile-schemas
"$compile_schemas" --strict "$root$schemas" || die "glib-compile-schemas failed"

# MIME database (the generated files only) and GtkSourceView's data.
for f in mime.cache globs globs2 magic aliases subclasses types icons \
  generic-icons treemagic XMLnamespaces version; do
  [ -f "/usr/share/mime/$f" ] && put "/usr/share/mime/$f"
done
[ -f "$root/usr/share/mime/mime.cache" ] || die "no /usr/share/mime/mime.cache (shared-mime-info)"
put_tree /usr/share/gtksourceview-4

# Icons: hicolor, and the Adwaita icons the programs name (PNG only).
put /usr/share/icons/hicolor/index.theme
put /usr/share/icons/Adwaita/index.theme
for f in /usr/bin/mousepad /usr/lib/x86_64-linux-gnu/libmousepad.so.0 \
  /usr/lib/x86_64-linux-gnu/libgtk-3.so.0 /usr/lib/x86_64-linux-gnu/libgtksourceview-4.so.0 \
  /usr/lib/x86_64-linux-gnu/libgio-2.0.so.0 /usr/bin/xterm; do
  [ -f "$f" ] || die "$f not found"
  tr -c 'a-z0-9-' '\n' <"$f" | grep -E '^[a-z][a-z0-9-]{2,}$'
done | sort -u >"$work/names0"
{
  cat "$work/names0"
  sed 's/-symbolic$//; s/$/-symbolic/' "$work/names0"
  printf '%s\n' dialog-question dialog-warning dialog-question-symbolic \
    dialog-warning-symbolic dialog-error-symbolic dialog-information-symbolic \
    process-working-symbolic document-open-symbolic document-save-symbolic \
    inode-directory text-plain text-x-generic view-more-symbolic \
    system-search-symbolic image-missing
} | sort -u >"$work/icon-names"
(cd /usr/share/icons/Adwaita && find 16x16 22x22 24x24 32x32 48x48 -name '*.png' 2>/dev/null) |
  awk -F/ 'NR == FNR { want[$0] = 1; next }
    { n = $NF; sub(/\.png$/, "", n); sub(/\.symbolic$/, "", n); if (want[n]) print }' \
    "$work/icon-names" - >"$work/adwaita-icons"
[ -s "$work/adwaita-icons" ] || die "no Adwaita icons found (adwaita-icon-theme)"
while read -r f; do put "/usr/share/icons/Adwaita/$f"; done <"$work/adwaita-icons"

# --- Applications: .desktop files and icons. ---------------------------------
apps=/usr/share/applications
hicolor=/usr/share/icons/hicolor
put "$apps/org.xfce.mousepad.desktop"
for s in 16x16 48x48 128x128; do
  put "$hicolor/$s/apps/org.xfce.mousepad.png"
done
put "$apps/debian-xterm.desktop"
# xterm's desktop file names the icon "mini.xterm", which it ships as SVG and
# XPM only: the guest gets PNGs made from its XPMs.
for s in 32 48; do
  mkdir -p "$root$hicolor/${s}x${s}/apps"
  convert "/usr/share/pixmaps/mini.xterm_${s}x${s}.xpm" \
    "png:$root$hicolor/${s}x${s}/apps/mini.xterm.png" ||
    die "cannot convert mini.xterm_${s}x${s}.xpm to PNG"
  echo "/usr/share/pixmaps/mini.xterm_${s}x${s}.xpm" >>"$work/sources"
done
# xclock and xeyes come without desktop files or icons: ours.
cat >"$root$apps/xclock.desktop" <<'EOF'
[Desktop Entry]
Type=Application
Name=Clock
GenericName=Analog clock
Comment=Show the time on an analog clock face
Exec=xclock
Icon=xclock
Terminal=false
Categories=Utility;Clock;
StartupWMClass=XClock
EOF
cat >"$root$apps/xeyes.desktop" <<'EOF'
[Desktop Entry]
Type=Application
Name=Eyes
GenericName=Eyes following the pointer
Comment=A pair of eyes that watch the mouse pointer
Exec=xeyes
Icon=xeyes
Terminal=false
Categories=Amusement;
StartupWMClass=XEyes
EOF
cat >"$work/xclock.svg" <<'EOF'
<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">
 <circle cx="64" cy="64" r="58" fill="#fdfdfd" stroke="#303030" stroke-width="8"/>
 <g stroke="#303030" stroke-width="6" stroke-linecap="round">
  <line x1="64" y1="14" x2="64" y2="24"/><line x1="64" y1="104" x2="64" y2="114"/>
  <line x1="14" y1="64" x2="24" y2="64"/><line x1="104" y1="64" x2="114" y2="64"/>
  <line x1="64" y1="64" x2="64" y2="30"/><line x1="64" y1="64" x2="90" y2="78"/>
 </g>
 <circle cx="64" cy="64" r="6" fill="#c01c28"/>
</svg>
EOF
cat >"$work/xeyes.svg" <<'EOF'
<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">
 <ellipse cx="36" cy="64" rx="28" ry="46" fill="#ffffff" stroke="#202020" stroke-width="8"/>
 <ellipse cx="92" cy="64" rx="28" ry="46" fill="#ffffff" stroke="#202020" stroke-width="8"/>
 <circle cx="44" cy="76" r="12" fill="#202020"/>
 <circle cx="100" cy="76" r="12" fill="#202020"/>
</svg>
EOF
for app in xclock xeyes; do
  for s in 16 32 48 128; do
    mkdir -p "$root$hicolor/${s}x${s}/apps"
    convert -background none -density 96 "$work/$app.svg" -resize "${s}x${s}" \
      "png:$root$hicolor/${s}x${s}/apps/$app.png" ||
      die "cannot render the $app icon (ImageMagick's convert)"
  done
done
# --- Configuration. -----------------------------------------------------------
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:Tandem user:/home/user:/bin/sh
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
video:x:44:user
user:x:1000:
EOF
echo 'root:*:19000:0:99999:7:::
user:*:19000:0:99999:7:::' >"$root/etc/shadow"
chmod 600 "$root/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n127.0.1.1 tandem-guest\n' >"$root/etc/hosts"
echo tandem-guest >"$root/etc/hostname"
printf '/bin/sh\n' >"$root/etc/shells"
: >"$root/etc/fstab"

mkdir -p "$root/etc/gtk-3.0"
cat >"$root/etc/gtk-3.0/settings.ini" <<'EOF'
[Settings]
gtk-theme-name=Adwaita
gtk-icon-theme-name=Adwaita
gtk-font-name=DejaVu Sans 10
gtk-enable-animations=false
EOF

cat >"$root/etc/X11/xorg.conf" <<'EOF'
# Tandem default guest: modesetting on the bochs DRM device (-device VGA), no
# input devices (XTest injects input), no GLX, no screen blanking.
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoEnableDevices" "false"
    Option "AutoAddGPU" "false"
    Option "DontVTSwitch" "true"
    Option "BlankTime" "0"
    Option "StandbyTime" "0"
    Option "SuspendTime" "0"
    Option "OffTime" "0"
EndSection
Section "Files"
    ModulePath "/usr/lib/xorg/modules"
    FontPath "/usr/share/fonts/X11/misc"
    FontPath "built-ins"
EndSection
Section "Module"
    Disable "glx"
EndSection
Section "Device"
    Identifier "vga"
    Driver "modesetting"
    Option "kmsdev" "/dev/dri/card0"
    Option "AccelMethod" "none"
EndSection
Section "Monitor"
    Identifier "monitor"
    Option "DPMS" "false"
EndSection
Section "Screen"
    Identifier "screen"
    Device "vga"
    Monitor "monitor"
    DefaultDepth 24
EndSection
EOF

# busybox acpid: KEY_POWER becomes "button/power PWRF ..." (or PWRB).
cat >"$root/etc/acpid.conf" <<'EOF'
PWRF power-button
PWRB power-button
EOF
cat >"$root/etc/acpi/power-button" <<'EOF'
#!/bin/sh
exec /usr/sbin/tandem-shutdown
EOF

cat >"$root/usr/sbin/tandem-shutdown" <<'EOF'
#!/bin/sh
# Ends everything, unmounts the home disk, powers off. Runs as root.
export PATH=/usr/bin:/usr/sbin
exec </dev/null >/dev/console 2>&1
say() { echo "TANDEM-GUEST: $*"; }
[ -e /run/tandem-shutdown ] && exit 0
: >/run/tandem-shutdown
say "powering off"
others() { # others: PIDs of user-space processes other than init and us
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] || [ "$p" = $$ ] && continue
    # Kernel threads have an empty cmdline.
    [ -s "$d/cmdline" ] 2>/dev/null || continue
    echo "$p"
  done
}
kill -TERM -1 2>/dev/null
i=0
while [ -n "$(others)" ] && [ "$i" -lt 50 ]; do
  sleep 0.1
  i=$((i + 1))
done
kill -KILL -1 2>/dev/null
sleep 0.1
sync
# Disks the mount service mounted (labels never hold spaces).
for mp in $(awk '$2 ~ /^\/media\/tandem\// { print $2 }' /proc/mounts); do
  if umount "$mp" 2>/dev/null; then
    rmdir "$mp" 2>/dev/null
    say "unmounted $mp"
  else
    say "error: cannot unmount $mp; remounting it read-only"
    mount -o remount,ro "$mp"
  fi
done
if grep -q ' /home/user ' /proc/mounts; then
  i=0
  until umount /home/user 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 20 ]; then
      say "error: cannot unmount /home/user; remounting it read-only"
      mount -o remount,ro /home/user
      break
    fi
    sleep 0.1
  done
  grep -q ' /home/user ext4 ' /proc/mounts || say "home unmounted"
fi
sync
poweroff -f
EOF

cat >"$root/etc/tandem/session" <<'EOF'
#!/bin/sh
# The user's session: wait for X, start tandem-agent (if installed) and the
# programs named by tandem.autostart=, report on the console.
export PATH=/usr/bin:/usr/sbin
say() { echo "TANDEM-GUEST: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
opt() { # opt NAME: the value of tandem.NAME= on the kernel command line
  for w in $(cat /proc/cmdline); do
    case $w in "tandem.$1="*) echo "${w#*=}"; return 0 ;; esac
  done
}
# relay NAME: copies lines to the console as "[NAME] line".
relay() {
  while IFS= read -r line; do echo "[$1] $line"; done
}
run() { # run COMMAND [ARG...]: starts COMMAND, its output relayed
  ( "$@" </dev/null 2>&1; echo "exited with status $?" ) | relay "${1##*/}" &
}

xtimeout=$(opt xtimeout)
case $xtimeout in '' | *[!0-9]*) xtimeout=120 ;; esac
i=0
until xdpyinfo >/dev/null 2>&1; do
  if [ -n "${TANDEM_XORG_PID:-}" ] && ! [ -d "/proc/$TANDEM_XORG_PID" ]; then
    say "error: X exited; the end of its log:"
    tail -n 25 /var/log/Xorg.0.log | relay Xorg
    exit 1
  fi
  i=$((i + 1))
  if [ "$i" -gt $((xtimeout * 10)) ]; then
    say "error: X accepts no clients after $xtimeout s"
    exit 1
  fi
  sleep 0.1
done
say "X ready (uptime $(uptime_s))"
# Under TCG the kernel's random pool becomes ready only when someone waits for
# it, and then only after seconds of timer jitter; GTK programs read
# /dev/urandom at start and would wait. Start that wait now, in the
# background (earlier, it slows down the start of X).
head -c 1 /dev/urandom >/dev/null &

if [ -x /usr/bin/tandem-agent ]; then
  export TANDEM_AGENT_PORT=/dev/virtio-ports/org.tandem.agent.0
  # Started again when it ends, as a service manager would (at most once
  # a second): the host sees a new HELLO and the windows announced afresh.
  (
    while :; do
      /usr/bin/tandem-agent </dev/null 2>&1
      echo "exited with status $?; starting it again"
      sleep 1
    done
  ) | relay tandem-agent &
fi
debug=,$(opt debug),
case $debug in
  *,xlog,*) grep -E '\((EE|WW)\)' /var/log/Xorg.0.log | relay Xorg ;;
esac
case $debug in
  *,port,*)
    port=/dev/virtio-ports/org.tandem.agent.0
    say "port $port -> $(readlink "$port")"
    if echo "TANDEM-GUEST: hello from $(id -un)" >"$port"; then
      say "port written"
    else
      say "error: cannot write to $port"
    fi
    ;;
esac
# tandem.autostart=APP[+ARG...][,APP...]
autostart=
set -f
for item in $(opt autostart | tr , ' '); do
  IFS=+
  # shellcheck disable=SC2086
  set -- $item
  unset IFS
  if command -v "$1" >/dev/null 2>&1; then
    autostart="$autostart $1"
    run "$@"
  else
    say "error: autostart: no program $1"
  fi
done
set +f
say "session ready (uptime $(uptime_s))"

mark=$(opt mark)
if [ -n "$mark" ]; then
  f=$HOME/.tandem-mark
  if [ -f "$f" ]; then say "mark previous=$(cat "$f")"; else say "mark previous=none"; fi
  echo "$mark" >"$f.new" && mv "$f.new" "$f" && sync
  say "mark stored=$mark"
fi

# tandem.mountcheck=SERIAL:LABEL[:ro][:keep][,...]: the mount service, used
# as the agent uses it (tandem-mount is the same client code).
mountcheck=$(opt mountcheck)
if [ -n "$mountcheck" ] && command -v tandem-mount >/dev/null 2>&1; then
  for item in $(echo "$mountcheck" | tr , ' '); do
    IFS=:
    # shellcheck disable=SC2086
    set -- $item
    unset IFS
    serial=${1:-} label=${2:-}
    if [ $# -ge 2 ]; then shift 2; else set --; fi
    mode=rw keep=
    for f in "$@"; do
      case $f in
        ro) mode=ro ;;
        keep) keep=1 ;;
      esac
    done
    m() { say "mountcheck $serial: $*"; }
    mp=$(tandem-mount mount "$serial" "$label" "$mode" 2>"$XDG_RUNTIME_DIR/mountcheck")
    st=$?
    m "mount $mode status $st: $(cat "$XDG_RUNTIME_DIR/mountcheck")"
    [ "$st" -eq 0 ] || continue
    m "mountpoint $mp"
    ls -ln "$mp" 2>&1 | relay mountcheck
    for f in "$mp"/*.txt; do
      [ -f "$f" ] && m "${f##*/}: $(head -c 200 "$f")"
    done
    if [ "$mode" = rw ]; then
      if echo "written by the guest ($serial)" >"$mp/guest-wrote.txt"; then
        m "wrote guest-wrote.txt"
      else
        m "cannot write to $mp"
      fi
    elif (: >"$mp/guest-wrote.txt") 2>/dev/null; then
      m "wrote to a read-only mount"
    else
      m "read-only as asked"
    fi
    out=$(cd "$mp" && tandem-mount unmount "$serial" 2>&1)
    m "unmount while busy status $?: $out"
    [ -z "$keep" ] || continue
    out=$(tandem-mount unmount "$serial" 2>&1)
    m "unmount status $?: $out"
    if [ -e "$mp" ]; then m "mount point left: $mp"; else m "mount point removed"; fi
  done
  say "mountcheck done"
fi

# tandem.fio=SECONDS:SIZE: (benchmarks, tests/bench/bench-storage.sh)
# mounts the VM's local disks "tools" (fio with its libraries and loader)
# read-only and "local" read-write through the mount service, then in each
# /media/tandem/NAME holding "fio-request" runs four fio jobs there:
# sequential read and write (1 MiB) and random read and write (4 KiB),
# direct I/O, libaio, queue depth 16, SECONDS each on a SIZE file; prints
# "fio NAME JOB TERSE-V3-LINE" per job and "fio NAME done".
fio_opt=$(opt fio)
if [ -n "$fio_opt" ]; then
  (
    rt=${fio_opt%%:*} size=${fio_opt#*:}
    tandem-mount mount tools tools ro >/dev/null 2>&1
    tandem-mount mount local local rw >/dev/null 2>&1
    t=/media/tandem/tools
    seen=" "
    say "fio ready"
    while :; do
      for d in /media/tandem/*; do
        [ -f "$d/fio-request" ] || continue
        name=${d##*/}
        case $seen in *" $name "*) continue ;; esac
        seen="$seen$name "
        for job in read:1M write:1M randread:4k randwrite:4k; do
          out=$("$t/ld.so" --library-path "$t/lib" "$t/fio" \
            --name="${job%%:*}" --directory="$d" --filename=fio.dat \
            --size="$size" --runtime="$rt" --time_based --direct=1 \
            --ioengine=libaio --iodepth=16 --rw="${job%%:*}" \
            --bs="${job#*:}" --output-format=terse --terse-version=3 2>&1 |
            tail -n 1)
          say "fio $name ${job%%:*} $out"
        done
        rm -f "$d/fio.dat"
        say "fio $name done"
      done
      sleep 0.5
    done
  ) &
fi

# tandem.diskwrite=1: (tests) watches the disks the host attaches. In each
# /media/tandem/NAME holding "write-request" (a token) and no "guest-done",
# once per token: writes small-1..8.txt ("TOKEN file I") and big.bin (16 MiB
# of random bytes, 256 KiB at a time, each synced, 0.1 s apart: a write
# that lasts long enough for a test to restart the server under it), then
# guest-done, and says "diskwrite NAME done sha256=SUM" (or "failed").
# With a file "hold" there too, a program (sleep) then keeps its working
# directory on the disk, as an open file manager or shell would.
if [ -n "$(opt diskwrite)" ]; then
  (
    seen=" "
    while :; do
      for d in /media/tandem/*; do
        [ -f "$d/write-request" ] && [ ! -e "$d/guest-done" ] || continue
        name=${d##*/}
        token=$(head -c 64 "$d/write-request")
        case $seen in *" $name:$token "*) continue ;; esac
        seen="$seen$name:$token "
        say "diskwrite $name start"
        i=1 ok=1
        while [ $i -le 8 ]; do
          echo "$token file $i" >"$d/small-$i.txt" || ok=
          i=$((i + 1))
        done
        : >"$d/big.bin" || ok=
        j=0
        while [ -n "$ok" ] && [ $j -lt 64 ]; do
          dd if=/dev/urandom bs=262144 count=1 2>/dev/null >>"$d/big.bin" &&
            sync || ok=
          sleep 0.1
          j=$((j + 1))
        done
        if [ -n "$ok" ] && echo "$token" >"$d/guest-done" && sync; then
          say "diskwrite $name done sha256=$(sha256sum <"$d/big.bin" | cut -d' ' -f1)"
        else
          say "diskwrite $name failed"
        fi
        if [ -f "$d/hold" ]; then
          (cd "$d" && exec sleep 3600) </dev/null >/dev/null 2>&1 &
          say "diskwrite $name held by sleep (pid $!)"
        fi
      done
      sleep 0.5
    done
  ) &
fi

case $debug in
  *,windows,*)
    i=0
    while :; do
      tree=$(xwininfo -root -tree 2>&1)
      missing=
      for app in $autostart; do
        # A window of the program's class that is mapped (a GTK program's
        # client leader never is).
        ok=
        for id in $(printf '%s\n' "$tree" | grep -i "(\"$app\" " |
          sed -n 's/^ *\(0x[0-9a-f]*\) .*/\1/p'); do
          xwininfo -id "$id" 2>/dev/null | grep -q 'Map State: IsViewable' &&
            ok=1 && break
        done
        [ -n "$ok" ] || missing="$missing $app"
      done
      [ -z "$missing" ] && break
      i=$((i + 1))
      if [ "$i" -gt 600 ]; then
        say "windows missing:$missing"
        break
      fi
      sleep 0.2
    done
    printf '%s\n' "$tree" | grep -E '^ +0x' | relay windows
    for id in $(printf '%s\n' "$tree" | sed -n 's/^     \(0x[0-9a-f]*\) .*/\1/p'); do
      echo "$id $(xwininfo -id "$id" 2>/dev/null | sed -n 's/^ *Map State: //p')"
    done | relay map-state
    [ -n "$missing" ] || say "windows mapped (uptime $(uptime_s))"
    ;;
esac
wait
EOF

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
# Tandem default guest: mount, load modules, home disk, power button, Xorg,
# then the user's session.
export PATH=/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
hostname tandem-guest

say() { echo "TANDEM-GUEST: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
opt() {
  for w in $(cat /proc/cmdline); do
    case $w in "tandem.$1="*) echo "${w#*=}"; return 0 ;; esac
  done
}
case ",$(opt debug)," in
  *,boot,*) trace() { say "boot: $* (uptime $(uptime_s))"; } ;;
  *) trace() { :; } ;;
esac
trace init
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s, at most SECONDS.
wait_for() {
  _n=$(($1 * 10))
  shift
  until "$@"; do
    _n=$((_n - 1))
    [ "$_n" -gt 0 ] || return 1
    sleep 0.1
  done
}

while read -r module; do
  case $module in
    '?'*) insmod "/lib/modules/${module#?}.ko" 2>/dev/null ;;
    *) insmod "/lib/modules/$module.ko" || say "error: insmod $module failed" ;;
  esac
done </etc/modules.order
trace "modules loaded"

# --- The network card (Network= in the VM's config), by DHCP, in the
# background: the session does not wait for it. ---
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
  udhcpc -i eth0 -f -s /etc/udhcpc.script </dev/null >/dev/null 2>&1 &
fi

# --- The mount service: root mounts attached disks for the user (uid 1000),
# who asks on /run/tandem/mount.sock (docs/mount.md). ---
mount_helper=
if [ -x /usr/sbin/tandem-mount-helper ]; then
  /usr/sbin/tandem-mount-helper --owner 1000:1000 \
    --socket /run/tandem/mount.sock </dev/null &
  mount_helper=$!
fi

# --- The agent's virtio-serial port, by name (no udev). ---
agent_port() {
  for n in /sys/class/virtio-ports/*/name; do
    [ -r "$n" ] && [ "$(cat "$n")" = org.tandem.agent.0 ] || continue
    p=${n%/name}
    p=/dev/${p##*/}
    [ -c "$p" ] || continue
    mkdir -p /dev/virtio-ports
    ln -sf "$p" /dev/virtio-ports/org.tandem.agent.0
    chown 1000:1000 "$p"
    chmod 600 "$p"
    return 0
  done
  return 1
}
if [ -d /sys/bus/virtio/drivers/virtio_console ] &&
  ls /sys/bus/virtio/drivers/virtio_console | grep -q '^virtio'; then
  wait_for 5 agent_port || say "error: no virtio-serial port org.tandem.agent.0"
fi

# --- The home disk: virtio-blk with serial "home". ---
home_dev() {
  for s in /sys/block/vd*/serial; do
    [ -r "$s" ] && [ "$(cat "$s")" = home ] || continue
    d=${s%/serial}
    echo "/dev/${d##*/}"
    return 0
  done
  return 1
}
is_ext() { # ext2/3/4 superblock magic 0xEF53 at byte 1080
  [ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | hexdump -e '2/1 "%02x"')" = 53ef ]
}
is_blank() { # the first MiB is all zeros
  [ "$(dd if="$1" bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]
}
home=
wait_for 5 home_dev >/dev/null && home=$(home_dev)
mounted=
if [ -z "$home" ]; then
  say "error: no home disk (virtio-blk, serial home): /home/user is in memory"
elif is_ext "$home"; then
  /usr/sbin/e2fsck -p "$home" >/dev/null 2>&1
  [ $? -lt 4 ] || say "error: e2fsck $home found errors it could not fix"
  mount -t ext4 -o nodev,nosuid "$home" /home/user && mounted=1
elif is_blank "$home"; then
  say "formatting the home disk $home (first boot)"
  trace "mke2fs"
  # The disk reads as zeros: no need to discard or to zero the journal
  # (which takes seconds under TCG). The UUID and hash seed come from the
  # kernel's non-blocking generator: early under TCG, getrandom() can block
  # for seconds until the kernel's entropy pool is ready.
  /usr/sbin/mke2fs -q -t ext4 -L home -U "$(cat /proc/sys/kernel/random/uuid)" \
    -E root_owner=1000:1000,lazy_itable_init=1,lazy_journal_init=1,nodiscard,hash_seed="$(cat /proc/sys/kernel/random/uuid)" \
    "$home" &&
    mount -t ext4 -o nodev,nosuid "$home" /home/user && mounted=1
else
  say "error: $home holds something that is not ext4: not touching it; /home/user is in memory"
fi
[ -n "$home" ] && [ -z "$mounted" ] && say "error: cannot mount $home on /home/user"
[ -n "$mounted" ] || mount -t tmpfs -o mode=700 tmpfs /home/user
trace "home mounted"
chown 1000:1000 /home/user
mkdir -p /run/user/1000 /tmp/.X11-unix /tmp/.ICE-unix
chmod 1777 /tmp/.X11-unix /tmp/.ICE-unix
chown 1000:1000 /run/user/1000
chmod 700 /run/user/1000
: >/run/utmp
if [ -n "$mount_helper" ]; then
  wait_for 5 test -S /run/tandem/mount.sock ||
    say "error: the mount service (tandem-mount-helper) is not listening"
fi

# --- The power button: busybox acpid on its event device. ---
button=
find_button() {
  for n in /sys/class/input/event*/device/name; do
    [ -r "$n" ] && [ "$(cat "$n")" = "Power Button" ] || continue
    e=${n#/sys/class/input/}
    e=/dev/input/${e%%/*}
    [ -c "$e" ] && button=$e && return 0
  done
  return 1
}
if wait_for 10 find_button; then
  acpid -f -l /dev/null </dev/null >/dev/null 2>&1 &
  acpid=$!
  acpid_listens() { ls -l "/proc/$acpid/fd" 2>/dev/null | grep -q " $button\$"; }
  wait_for 10 acpid_listens || say "error: acpid is not listening to $button"
else
  say "error: no Power Button input device"
fi

trace "acpid listening"
case ",$(opt debug)," in
  *,boot,*) # When the kernel's random pool got ready (getrandom() blocks before).
    (
      wait_for 120 sh -c "dmesg | grep -q 'crng init done'"
      dmesg | grep 'crng init done' | sed 's/^/TANDEM-GUEST: boot: kernel: /'
    ) &
    ;;
esac
# --- X on the VGA device (bochs DRM), then the session as the user. ---
wait_for 10 test -c /dev/dri/card0 || say "error: no /dev/dri/card0 (bochs DRM driver)"
/usr/lib/xorg/Xorg :0 vt1 -config /etc/X11/xorg.conf -logfile /var/log/Xorg.0.log \
  -nolisten tcp -noreset -s 0 -dpms -br </dev/null >/var/log/Xorg.out 2>&1 &
xorg=$!

# The memory Tandem shares with the agent for window pixels (ivshmem-plain,
# PCI 1af4:1110): its BAR 2 for the session's user, who hands it to X.
for dev in /sys/bus/pci/devices/*; do
  [ "$(cat "$dev/vendor")" = 0x1af4 ] && [ "$(cat "$dev/device")" = 0x1110 ] ||
    continue
  for bar in "$dev/resource2" "$dev/resource2_wc"; do
    [ -e "$bar" ] && chown 1000:1000 "$bar"
  done
done

export HOME=/home/user USER=user LOGNAME=user SHELL=/bin/sh
export DISPLAY=:0 XDG_RUNTIME_DIR=/run/user/1000 LANG=C.UTF-8
export NO_AT_BRIDGE=1 GSETTINGS_BACKEND=keyfile GDK_BACKEND=x11
export TANDEM_XORG_PID=$xorg
su -p -s /bin/sh user -c 'cd && exec /etc/tandem/session' &

# Reap orphans forever; the power button ends everything.
while :; do
  wait
  sleep 1
done
EOF
chmod 755 "$root/init" "$root/etc/tandem/session" "$root/usr/sbin/tandem-shutdown" \
  "$root/etc/acpi/power-button"

# --- Caches. ------------------------------------------------------------------
# Every file gets one fixed time stamp (the cpio keeps whole seconds only, and
# the font and icon caches are valid only for the exact time stamps of their
# directories), then the caches are made, then the stamps are fixed again.
epoch=${SOURCE_DATE_EPOCH:-1577836800}
fix_times() {
  find "$root" -exec touch -h -d "@$epoch" {} + || die "touch failed"
}
fix_times
fc-cache -s -y "$root" >/dev/null 2>&1 || die "fc-cache --sysroot $root failed"
for theme in hicolor Adwaita; do
  gtk-update-icon-cache -q -f -t "$root/usr/share/icons/$theme" ||
    die "gtk-update-icon-cache failed for $theme"
done
fix_times

# --- The package list for the stamp. ------------------------------------------
# Every host file copied, with the /usr prefix toggled (merged /usr: dpkg knows
# each file by one of the two spellings).
sort -u "$work/sources" | while read -r f; do
  r=$(readlink -f "$f")
  for p in "$f" "$r"; do
    echo "$p"
    case $p in
      /usr/*) echo "${p#/usr}" ;;
      *) echo "/usr$p" ;;
    esac
  done
done | sort -u >"$work/paths"
# dpkg -S takes many paths at once; unknown paths only print errors.
xargs dpkg-query -S <"$work/paths" 2>/dev/null |
  sed -n 's/^\([^:, ]*\)\(:[a-z0-9]*\)\{0,1\}[:,].*/\1/p' >"$work/owners" || true
# shellcheck disable=SC2086
printf '%s\n' $pkgs_image $pkgs_tools busybox-static >>"$work/owners"
# shellcheck disable=SC2046
pkg_lines=$(pkg_versions $(sort -u "$work/owners"))
[ -n "$pkg_lines" ] || die "cannot list the host packages used"

# --- Pack and install atomically; the stamp goes last. ------------------------
(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) >"$work/initramfs.cpio" ||
  die "cpio failed"
gzip -6 -n <"$work/initramfs.cpio" >"$work/initramfs.img" || die "gzip failed"
cp "$kernel" "$work/vmlinuz"
rm -f "$stamp"
mv -f "$work/vmlinuz" "$outdir/vmlinuz"
mv -f "$work/initramfs.img" "$outdir/initramfs.img"
make_home
printf '%s\n%s\n' "$head_want" "$pkg_lines" >"$stamp"
say "built $outdir/vmlinuz ($kver) and $outdir/initramfs.img:" \
  "$(wc -c <"$work/initramfs.cpio") bytes unpacked, $(wc -c <"$outdir/initramfs.img") gzipped;" \
  "$(wc -l <"$work/order") modules, $(echo "$pkg_lines" | wc -l) host packages"
