# SPDX-License-Identifier: GPL-2.0-or-later
# Minimal TAP producer for shell tests. Source it, call check, then tap_end.
_tap_n=0
_tap_failed=0

# check "description" COMMAND...: one test case, passing if COMMAND does.
check() {
  _desc=$1
  shift
  _tap_n=$((_tap_n + 1))
  if _out=$("$@" 2>&1); then
    echo "ok $_tap_n - $_desc"
  else
    echo "not ok $_tap_n - $_desc"
    printf '%s\n' "$_out" | sed 's/^/# /'
    _tap_failed=$((_tap_failed + 1))
  fi
}

# skip "description" REASON: a case that cannot run here, said so.
skip() {
  _tap_n=$((_tap_n + 1))
  echo "ok $_tap_n - $1 # SKIP $2"
}

tap_end() {
  echo "1..$_tap_n"
  [ "$_tap_failed" -eq 0 ]
}

# Helpers for check: exit status and output of a command.
status_is() { # status_is N COMMAND...
  _want=$1
  shift
  _got=0
  "$@" >/dev/null 2>&1 || _got=$?
  [ "$_got" -eq "$_want" ] || { echo "exit status $_got, wanted $_want"; return 1; }
}
output_has() { # output_has TEXT COMMAND... (stdout and stderr)
  _text=$1
  shift
  _o=$("$@" 2>&1 || true)
  case $_o in
    *"$_text"*) return 0 ;;
  esac
  echo "output lacks \"$_text\":"
  printf '%s\n' "$_o"
  return 1
}
