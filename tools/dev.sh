#!/bin/sh
# tools/dev.sh — the README's two commands, and a few more for developers.
#
#   tools/dev.sh run     install what is missing, build, start Tandem
#                        (no display: under a private Xvfb, with a screenshot)
#   tools/dev.sh test    install what is missing, build, run every test:
#                        normal build (-Werror), valgrind, ASan+UBSan, fuzzing,
#                        short benchmarks; ends with "N passed, N failed"
#   tools/dev.sh deps    only install the Debian packages
#   tools/dev.sh bench   full benchmarks
#
# Environment: FUZZ_SECONDS (60), TANDEM_BUILD_DIR (build), SKIP_APT=1.
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. "$root/tools/session.sh"
builddir=${TANDEM_BUILD_DIR:-$root/build}

# Debian 12 packages the build, the tests and the run need.
DEPS="meson ninja-build gcc pkg-config gettext
  libglib2.0-dev libgtk-3-dev libcmocka-dev libjson-glib-dev libsystemd-dev
  libxcb1-dev libxcb-composite0-dev libxcb-damage0-dev libxcb-xfixes0-dev
  libxcb-shm0-dev libxcb-xtest0-dev libzstd-dev liblz4-dev zlib1g-dev xpra
  python3-numpy python3-lz4
  libspice-client-gtk-3.0-dev socat openbox
  qemu-system-x86 qemu-utils busybox-static cpio librsvg2-common kmod
  xserver-xorg-core xterm x11-apps x11-xkb-utils xkb-data xfonts-base mousepad
  clang-14 libfuzzer-14-dev libclang-rt-14-dev valgrind
  xvfb xauth x11-utils xdotool imagemagick dbus dbus-daemon
  desktop-file-utils appstream python3 fio e2fsprogs debhelper lintian"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

install_deps() {
  missing=""
  for p in $DEPS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing="$missing $p"
  done
  [ -n "$missing" ] || return 0
  if [ "${SKIP_APT:-0}" = 1 ]; then
    echo "missing Debian packages:$missing (SKIP_APT=1 set)" >&2
    return 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
      echo "Installing$missing needs root: run as root or install sudo." >&2
      return 1
    }
    sudo=sudo
  fi
  say "Installing Debian packages:$missing"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
}

# configure DIR [meson options...]: sets up DIR once, reconfigures after.
configure() {
  dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

build_default() {
  say "Building (build/default, -Werror)"
  configure "$builddir/default" --werror
  ninja -C "$builddir/default"
}

# The default guest as a VM called "debian" in the current XDG dirs (made
# once; its home disk is the user's to keep).
ensure_debian_vm() {
  conf="${XDG_CONFIG_HOME:-$HOME/.config}/tandem/vms/debian.conf"
  data="${XDG_DATA_HOME:-$HOME/.local/share}/tandem/vms/debian"
  [ -f "$conf" ] && return 0
  mkdir -p "$(dirname "$conf")" "$data"
  [ -f "$data/home.qcow2" ] ||
    cp "$TANDEM_DEFAULT_GUEST/home.qcow2" "$data/home.qcow2"
  cat >"$conf" <<EOF
# Made by tools/dev.sh run: the default guest built in $TANDEM_DEFAULT_GUEST.
[VM]
Memory=1G
CPUs=2
Display=spice
[Boot]
Kernel=$TANDEM_DEFAULT_GUEST/vmlinuz
Initrd=$TANDEM_DEFAULT_GUEST/initramfs.img
CommandLine=console=ttyS0 quiet
[Disk home]
Path=$data/home.qcow2
EOF
  say "Created the VM “debian” ($conf)"
}

# Starts the shell, then the guest's terminal (booting the VM first) into
# a proxy window, the way the host menu entry does it.
run_product() {
  "$builddir/default/app/tandem" &
  shell=$!
  tandem_wait_for xdotool search --onlyvisible --name "^Tandem$" || {
    echo "Tandem did not open its window." >&2
    return 1
  }
  say "Launching the guest's terminal (the VM boots first; under TCG that takes a while)"
  "$builddir/default/app/tandemctl" launch debian debian-xterm || return 1
  proxy_up() {
    xdotool search --onlyvisible --classname "^tandem.debian.debian-xterm$"
  }
  TANDEM_WAIT_SECONDS=120 tandem_wait_for proxy_up || {
    echo "The terminal's window did not appear on the host." >&2
    return 1
  }
  say "The guest's applications are in the host menu:" \
    "${XDG_DATA_HOME:-$HOME/.local/share}/applications/tandem.debian.*.desktop"
}

cmd_run() {
  install_deps
  build_default
  build_default_guest
  export TANDEM_LOCALEDIR="$builddir/default/po"
  export PATH="$builddir/default/app:$PATH"
  if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then
    say "Starting Tandem on $DISPLAY"
    ensure_debian_vm
    run_product || exit 1
    say "Tandem runs. Stop the VM with “tandemctl vm stop debian” when done."
    wait
    return
  fi
  # No display: private dirs, a private Xvfb and session bus, and a
  # screenshot to look at.
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-run.XXXXXX")
  trap 'tandem_stop_xvfb; rm -rf "$tmp"' EXIT INT TERM
  tandem_private_dirs "$tmp"
  tandem_start_xvfb "$tmp"
  ensure_debian_vm
  shot="$builddir/screenshots/tandem.png"
  mkdir -p "$(dirname "$shot")"
  say "No display: running Tandem on a private Xvfb ($DISPLAY)"
  status=0
  dbus-run-session -- "$0" _run-headless "$shot" || status=$?
  if [ "$status" -ne 0 ]; then
    say "Tandem failed; screenshot saved to $shot"
    exit 1
  fi
  say "Tandem ran: the guest's terminal in a proxy window; screenshot: $shot"
}

# Inside the private session bus of cmd_run.
cmd__run_headless() {
  shot=$1
  status=0
  run_product || status=1
  import -window root "$shot"
  "$builddir/default/app/tandemctl" vm stop debian >/dev/null 2>&1
  kill "$shell" 2>/dev/null
  wait 2>/dev/null
  return $status
}

# run_suite LABEL BUILDDIR [meson test args...]: runs tests, keeps the log.
# Old logs are removed first, so a stale one can never count as a pass;
# meson may append the wrapper's name to the log's name, hence the glob.
run_suite() {
  label=$1 dir=$2
  shift 2
  say "Tests: $label"
  rm -f "$dir/meson-logs/testlog-$label".* "$dir/meson-logs/testlog-$label"-*
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" \
    --logbase "testlog-$label" || true
  log=$(ls "$dir/meson-logs/testlog-$label".json \
    "$dir/meson-logs/testlog-$label"-*.json 2>/dev/null | head -n 1)
  logs="$logs $label=${log:-$dir/meson-logs/testlog-$label.json}"
}

# The tiny guest the VM tests boot (a Debian kernel and a busybox
# initramfs); cached, so a second run does nothing.
build_test_guest() {
  say "Test guest (build/test-guest)"
  "$root/tests/vm/make-test-guest.sh" "$builddir/test-guest"
  TANDEM_TEST_GUEST="$builddir/test-guest"
  export TANDEM_TEST_GUEST
}

# The default guest (a Debian kernel, Xorg, sample applications and
# tandem-agent), as users get it; cached like the test guest.
build_default_guest() {
  say "Default guest (build/default-guest)"
  TANDEM_GUEST_AGENT="$builddir/default/guest-agent/tandem-agent"
  TANDEM_DEFAULT_GUEST="$builddir/default-guest"
  export TANDEM_GUEST_AGENT TANDEM_DEFAULT_GUEST
  "$root/guest-agent/image/build-guest.sh" --agent "$TANDEM_GUEST_AGENT" \
    "$TANDEM_DEFAULT_GUEST"
}

cmd_test() {
  install_deps
  logs=""
  start=$(date +%s)

  build_default
  build_test_guest
  build_default_guest
  run_suite default "$builddir/default" --no-suite bench
  run_suite bench "$builddir/default" --suite bench --verbose

  # Leaks and memory errors in the unit tests (GTK's caches are not ours).
  run_suite valgrind "$builddir/default" --suite unit \
    --wrapper "valgrind --quiet --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect \
      --show-leak-kinds=definite,indirect"

  say "Building with AddressSanitizer + UndefinedBehaviorSanitizer"
  configure "$builddir/sanitize" --werror -Db_sanitize=address,undefined \
    -Db_lundef=false
  ninja -C "$builddir/sanitize"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  run_suite sanitize "$builddir/sanitize" --no-suite bench --no-suite guest
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

  say "Building the fuzzer (clang-14, libFuzzer, ASan+UBSan)"
  (
    export CC=clang-14
    configure "$builddir/fuzz" --werror -Dfuzzing=true \
      -Db_sanitize=address,undefined -Db_lundef=false
  )
  ninja -C "$builddir/fuzz" tests/fuzz/fuzz-protocol tests/fuzz/gen-corpus \
    tests/fuzz/fuzz-qcow2
  run_suite fuzz "$builddir/fuzz" --suite fuzz --verbose

  say "Totals ($(( $(date +%s) - start )) s)"
  python3 "$root/tools/test-totals.py" $logs
}

cmd_bench() {
  install_deps
  build_default
  build_test_guest
  mkdir -p "$builddir/bench"
  "$builddir/default/tests/bench/bench-protocol" \
    --json "$builddir/bench/protocol.json"
  "$root/tests/with-session" "$builddir/default/tests/bench/bench-vmm" \
    --json "$builddir/bench/vmm.json"
  build_default_guest
  "$root/tests/with-session" "$builddir/default/tests/bench/bench-guest" \
    --json "$builddir/bench/guest.json"
  "$root/tests/with-session" "$builddir/default/tests/bench/bench-pixels" \
    --json "$builddir/bench/pixels.json"
  "$root/tests/with-session" "$builddir/default/tests/bench/bench-proxy" \
    --json "$builddir/bench/proxy.json"
  "$builddir/default/tests/bench/bench-writer" \
    --json "$builddir/bench/writer.json"
  "$root/tests/with-session" "$builddir/default/tests/bench/bench-snapshot" \
    --json "$builddir/bench/snapshot.json"
  "$root/tests/with-session" "$builddir/default/tests/bench/bench-resume" \
    --json "$builddir/bench/resume.json"
}

case "${1:-}" in
  run) cmd_run ;;
  _run-headless) shift; cmd__run_headless "$@" ;;
  test) cmd_test ;;
  deps) install_deps ;;
  bench) cmd_bench ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]
    ;;
esac
