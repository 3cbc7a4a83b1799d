#!/bin/sh
# tandemctl and tandem on the command line: help, version, bad input,
# translated output.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
ctl="$TANDEM_BUILD_ROOT/app/tandemctl"
shell="$TANDEM_BUILD_ROOT/app/tandem"
version=$(sed -n "s/^  version: '\(.*\)',/\1/p" "$TANDEM_SOURCE_ROOT/meson.build")
export LANG=C.UTF-8 LC_ALL= LANGUAGE=

check "tandemctl --version prints the version" \
  output_has "tandemctl $version" "$ctl" --version
check "tandemctl --version exits 0" status_is 0 "$ctl" --version
check "tandemctl --help lists the options" output_has "--version" "$ctl" --help
check "tandemctl --help exits 0" status_is 0 "$ctl" --help
check "tandemctl without a command shows usage" output_has "Usage:" "$ctl"
check "tandemctl without a command exits 2" status_is 2 "$ctl"
check "unknown command is named in the error" \
  output_has "unknown command “frobnicate”" "$ctl" frobnicate
check "unknown command points at --help" \
  output_has "tandemctl --help" "$ctl" frobnicate
check "unknown command exits 2" status_is 2 "$ctl" frobnicate
check "unknown option exits 2" status_is 2 "$ctl" --frobnicate
check "tandemctl speaks German when asked" \
  env LANGUAGE=de sh -c "'$ctl' --help | grep -q 'BEFEHL'"
check "German error messages" \
  env LANGUAGE=de sh -c "'$ctl' frobnicate 2>&1 | grep -q 'unbekannter Befehl'"
check "tandem --version prints the version" \
  output_has "tandem $version" "$shell" --version
check "tandem --help describes the product" \
  output_has "applications on your desktop" "$shell" --help
tap_end
