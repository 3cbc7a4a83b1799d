# SPDX-License-Identifier: GPL-2.0-or-later
# Shell functions for a private desktop session: an Xvfb display, XDG dirs.
# Sourced by tools/dev.sh (the run command) and tests/with-session.
# POSIX sh; callers set -eu.

# Starts Xvfb on a free display and waits until it accepts clients: Xvfb
# writes the display number to -displayfd once it is ready, so no polling.
# Sets DISPLAY and TANDEM_XVFB_PID. $1: a private directory for the fifo.
tandem_start_xvfb() {
  _dir=$1
  _geometry=${TANDEM_SCREEN:-1280x800x24}
  mkfifo "$_dir/displayfd"
  Xvfb -displayfd 3 -screen 0 "$_geometry" -nolisten tcp -noreset \
    3>"$_dir/displayfd" >"$_dir/xvfb.log" 2>&1 &
  TANDEM_XVFB_PID=$!
  _n=""
  read -r _n <"$_dir/displayfd" || true
  if [ -z "$_n" ]; then
    echo "Xvfb did not start; its log:" >&2
    cat "$_dir/xvfb.log" >&2
    return 1
  fi
  DISPLAY=":$_n"
  export DISPLAY
}

tandem_stop_xvfb() {
  if [ -n "${TANDEM_XVFB_PID:-}" ]; then
    kill "$TANDEM_XVFB_PID" 2>/dev/null || true
    wait "$TANDEM_XVFB_PID" 2>/dev/null || true
    TANDEM_XVFB_PID=""
  fi
}

# Private HOME and XDG directories under $1, so nothing touches the user's.
tandem_private_dirs() {
  HOME="$1/home"
  XDG_CONFIG_HOME="$1/config"
  XDG_DATA_HOME="$1/data"
  XDG_CACHE_HOME="$1/cache"
  XDG_STATE_HOME="$1/state"
  XDG_RUNTIME_DIR="$1/runtime"
  mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" \
    "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
  chmod 0700 "$XDG_RUNTIME_DIR"
  # No accessibility bus: it would outlive the session bus and warn.
  NO_AT_BRIDGE=1
  export HOME XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME \
    XDG_RUNTIME_DIR NO_AT_BRIDGE
}

# Polls $@ every 50 ms until it succeeds or $TANDEM_WAIT_SECONDS (10) pass.
tandem_wait_for() {
  _tries=$(( ${TANDEM_WAIT_SECONDS:-10} * 20 ))
  while ! "$@" >/dev/null 2>&1; do
    _tries=$((_tries - 1))
    [ "$_tries" -gt 0 ] || return 1
    sleep 0.05
  done
}
