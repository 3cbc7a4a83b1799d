# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian kernel the guest images boot: which one, fetching its .deb once
# and unpacking it. Sourced by tests/vm/make-test-guest.sh and
# guest-agent/image/build-guest.sh, which define die and say. POSIX sh.

_debian_kernel_pkg() { # linux-image-amd64 depends on linux-image-<abi>-amd64
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^[ |]*Depends: *<\{0,1\}\(linux-image-[0-9][^ >]*\)>\{0,1\}$/\1/p' |
    head -n 1
}

# Sets pkg and ver: the current kernel package and its candidate version
# (they move with security updates, so never hard-code them).
debian_kernel_choose() {
  pkg=$(_debian_kernel_pkg)
  if [ -z "$pkg" ]; then
    say "apt-cache knows no linux-image-amd64; running apt-get update once"
    timeout 600 apt-get update >&2 || die "apt-get update failed (are you root?)"
    pkg=$(_debian_kernel_pkg)
  fi
  [ -n "$pkg" ] || die "no Debian kernel package found: run apt-get update"
  ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p' |
    head -n 1)
  case $ver in
    '' | '(none)') die "no installable version of $pkg: run apt-get update" ;;
  esac
}

_debian_kernel_find_deb() { # $1: cache; apt writes ':' as %3a in file names
  for f in "$1/${pkg}_$(printf '%s' "$ver" | sed 's/:/%3a/g')_"*.deb; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 0
}

# debian_kernel_unpack CACHE WORK: downloads $pkg=$ver into CACHE unless it
# is there, drops kernels it supersedes, unpacks it into WORK/deb. Sets deb,
# kver, kernel (vmlinuz), config and moddir.
debian_kernel_unpack() {
  mkdir -p "$1" || die "cannot create $1"
  deb=$(_debian_kernel_find_deb "$1")
  if [ -z "$deb" ]; then
    say "downloading $pkg $ver"
    # As root, apt warns that _apt cannot write here ("Permission denied");
    # the download still succeeds.
    (cd "$1" && timeout 900 apt-get download "$pkg=$ver") >&2 ||
      die "apt-get download $pkg=$ver failed"
    deb=$(_debian_kernel_find_deb "$1")
    [ -n "$deb" ] || die "apt-get download left no .deb of $pkg $ver in $1"
  fi
  for f in "$1"/linux-image-*.deb; do
    [ -f "$f" ] && [ "$f" != "$deb" ] && rm -f "$f"
  done
  say "unpacking $(basename "$deb")"
  if ! dpkg -x "$deb" "$2/deb"; then
    rm -f "$deb"
    die "cannot unpack $deb (removed it; run again to download it afresh)"
  fi
  kver=
  for d in "$2/deb/lib/modules/"*/; do
    [ -d "$d" ] && kver=$(basename "$d") && break
  done
  [ -n "$kver" ] || die "$pkg has no /lib/modules/<version>"
  kernel=$2/deb/boot/vmlinuz-$kver
  config=$2/deb/boot/config-$kver
  moddir=$2/deb/lib/modules/$kver
  [ -f "$kernel" ] || die "$pkg has no boot/vmlinuz-$kver"
  [ -f "$config" ] || die "$pkg has no boot/config-$kver"
}
