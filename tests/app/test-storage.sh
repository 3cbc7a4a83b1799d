#!/bin/sh
# tandemctl storage and the Storage interface against the real shell on a
# private session bus (with-session), with no VM running: help, usage
# errors (exit 2), and the shell's refusals (exit 1) of an unknown VM, a
# malformed address, a bad bus or name, a VM that is not running and a disk
# that is not attached; an empty list. Nothing boots: a few seconds.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
ctl="$TANDEM_BUILD_ROOT/app/tandemctl"
vms="$XDG_CONFIG_HOME/tandem/vms"
files="$XDG_RUNTIME_DIR/files"
export LANG=C.UTF-8 LC_ALL= LANGUAGE=

raw_call() { # raw_call METHOD ARGS...: to see the D-Bus error's name
  _method=$1
  shift
  dbus-send --session --print-reply --dest=org.tandem.Tandem \
    /org/tandem/Tandem "org.tandem.Tandem1.Storage.$_method" "$@"
}
fails_with() { # fails_with TEXT COMMAND...: exit status 1 and TEXT said
  _text=$1
  shift
  status_is 1 "$@" && output_has "$_text" "$@"
}
usage_error() { # usage_error TEXT COMMAND...: exit status 2 and TEXT said
  _text=$1
  shift
  status_is 2 "$@" && output_has "$_text" "$@"
}
fails() { ! "$@"; }

# --- Help and usage errors: no bus needed -------------------------------
check "storage --help exits 0" status_is 0 "$ctl" storage --help
check "and lists the commands" output_has "detach VM NAME" "$ctl" storage --help
check "and the addresses" output_has "nbd+unix:///EXPORT?socket=PATH" \
  "$ctl" storage --help
check "tandemctl --help lists storage" output_has "storage attach VM URI" \
  "$ctl" --help
check "storage attach --help has --as" output_has "--as=BUS" \
  "$ctl" storage attach --help
check "and --read-only" output_has "--read-only" "$ctl" storage attach --help
check "and --mirror" output_has "--mirror=URI" "$ctl" storage attach --help
check "storage detach --help has --force" output_has "--force" \
  "$ctl" storage detach --help
check "storage list --help has --json" output_has "--json" \
  "$ctl" storage list --help
check "storage alone exits 2" status_is 2 "$ctl" storage
check "an unknown storage command is named" \
  usage_error "unknown command “storage frob”" "$ctl" storage frob
check "attach without a VM exits 2" \
  usage_error "name of a virtual machine is missing" "$ctl" storage attach
check "attach without an address exits 2" \
  usage_error "address is missing" "$ctl" storage attach demo
check "a bus that is not one exits 2" \
  usage_error "--as takes nvme or virtio, not “floppy”" \
  "$ctl" storage attach demo nbd://server/data --as floppy
check "and points at attach's --help" \
  output_has "tandemctl storage attach --help" \
  "$ctl" storage attach demo nbd://server/data --as floppy
check "detach without a name exits 2" \
  usage_error "disk's name is missing" "$ctl" storage detach demo
check "list without a VM exits 2" status_is 2 "$ctl" storage list
check "an extra argument exits 2" \
  usage_error "unexpected argument “more”" "$ctl" storage list demo more
check "an unknown option exits 2" status_is 2 "$ctl" storage list demo --frob
check "no shell was started for them" fails shell_owns_name

# A stopped VM to name (nothing boots it).
mkdir -p "$files"
: >"$files/vmlinuz"
check "a VM is created" status_is 0 \
  "$ctl" vm create demo --kernel "$files/vmlinuz" --display none

# --- The interface ------------------------------------------------------
check "the shell exports org.tandem.Tandem1.Storage" \
  introspection_has 'interface name="org.tandem.Tandem1.Storage"'
for member in Attach AttachMirrored Detach List Changed; do
  check "with $member" introspection_has "name=\"$member\""
done

# --- The shell's refusals: exit 1, the reason said ----------------------
check "attaching to an unknown VM is refused" \
  fails_with "There is no VM called “nosuch”." \
  "$ctl" storage attach nosuch nbd://server/data
check "as NotFound" output_has "org.tandem.Tandem1.Error.NotFound" \
  raw_call Attach string:nosuch string:nbd://server/data string: string: \
  boolean:false
check "a malformed address gets the parser's words" \
  fails_with "Tandem cannot attach “http:” addresses: write nbd://" \
  "$ctl" storage attach demo http://server/data
check "an address with no server too" \
  fails_with "The address names no server" "$ctl" storage attach demo nbd:///x
check "as Invalid" output_has "org.tandem.Tandem1.Error.Invalid" \
  raw_call Attach string:demo string:http://server/data string: string: \
  boolean:false
check "a bus that is not one is Invalid on the bus" \
  output_has "org.tandem.Tandem1.Error.Invalid" \
  raw_call Attach string:demo string:nbd://server/data string:floppy \
  string: boolean:false
check "a malformed mirror address gets the parser's words" \
  fails_with "Tandem cannot attach “http:” addresses" \
  "$ctl" storage attach demo nbd://server/data --mirror http://other/data
check "a mirrored disk with no mirror address is Invalid" \
  output_has "needs the address of its second export" \
  raw_call AttachMirrored string:demo string:nbd://server/data string: \
  string: string: boolean:false
check "a name that is not one is refused" \
  fails_with "“../x” is not a disk name" \
  "$ctl" storage attach demo nbd://server/data --name ../x
check "a VM that is not running is refused" \
  fails_with "“demo” is not running: disks are attached to a running VM" \
  "$ctl" storage attach demo nbd://server/data
check "as NotRunning" output_has "org.tandem.Tandem1.Error.NotRunning" \
  raw_call Attach string:demo string:nbd://server/data string:virtio \
  string:data boolean:true
check "listing an unknown VM is refused" \
  fails_with "There is no VM called “nosuch”." "$ctl" storage list nosuch
check "detaching from an unknown VM is refused" \
  fails_with "There is no VM called “nosuch”." \
  "$ctl" storage detach nosuch data
check "detaching a disk that is not attached is refused" \
  fails_with "“demo” has no disk “data”" "$ctl" storage detach demo data
check "as NotFound" output_has "org.tandem.Tandem1.Error.NotFound" \
  raw_call Detach string:demo string:data boolean:false

# --- Listing ------------------------------------------------------------
check "a VM with nothing attached lists none" \
  output_has "“demo” has no disks attached." "$ctl" storage list demo
check "and exits 0" status_is 0 "$ctl" storage list demo
check "--json is an empty array" json_check "d == []" \
  "$ctl" storage list demo --json
check "the shell still serves" shell_owns_name
tap_end
