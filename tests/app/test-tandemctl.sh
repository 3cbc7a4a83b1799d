#!/bin/sh
# tandemctl against the real shell on a private session bus (with-session):
# D-Bus activation, the Manager interface, validation and errors, output for
# people and for scripts. With TANDEM_TEST_GUEST (a directory holding the
# test guest's vmlinuz and initramfs.img) also a VM's whole life.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
. "$TANDEM_SOURCE_ROOT/tools/session.sh"
ctl="$TANDEM_BUILD_ROOT/app/tandemctl"
shell="$TANDEM_BUILD_ROOT/app/tandem"
vms="$XDG_CONFIG_HOME/tandem/vms"
files="$XDG_RUNTIME_DIR/files"
export LANG=C.UTF-8 LC_ALL= LANGUAGE=

introspect() {
  dbus-send --session --print-reply --dest=org.tandem.Tandem \
    /org/tandem/Tandem org.freedesktop.DBus.Introspectable.Introspect
}
get_vm() { # get_vm NAME: the raw GetVM call, to see the D-Bus error name
  dbus-send --session --print-reply --dest=org.tandem.Tandem \
    /org/tandem/Tandem org.tandem.Tandem1.Manager.GetVM "string:$1"
}
conf_has() { grep -qxF "$2" "$vms/$1.conf" || { cat "$vms/$1.conf"; false; }; }
vm_state_is() { json_check "d['state'] == '$2'" "$ctl" vm status "$1" --json; }
tandem_windows() { xdotool search --onlyvisible --name '^Tandem$'; }
one_window() { [ "$(tandem_windows | wc -l)" -eq 1 ]; }
introspection_has() { introspect | grep -qF "$1"; }
fails() { ! "$@"; }

# Files for VMs to name: create checks that they exist, nothing boots them.
mkdir -p "$files/sub"
: >"$files/vmlinuz"
: >"$files/sub/initrd.img"

# --- Activation ---------------------------------------------------------
check "no shell runs before the first call" fails shell_owns_name
check "vm list starts the shell and reports no VMs" \
  output_has "no virtual machines" "$ctl" vm list
check "the shell now owns org.tandem.Tandem" shell_owns_name
check "it was started without a window" fails tandem_windows
for member in ListVMs GetVM CreateVM StartVM StopVM PauseVM ResumeVM \
  ResetVM VMStateChanged; do
  check "the Manager interface has $member" \
    introspection_has "name=\"$member\""
done
check "org.freedesktop.Application is exported" \
  introspection_has 'interface name="org.freedesktop.Application"'
check "vm list --json is an empty list" json_check "d == []" "$ctl" vm list --json

# --- Creating -----------------------------------------------------------
check "vm create exits 0" status_is 0 sh -c "cd '$files' && '$ctl' vm create \
  demo --memory 512M --cpus 1 --accelerator tcg --display none \
  --kernel vmlinuz --initrd sub/initrd.img --cmdline 'console=ttyS0 quiet'"
check "vm create wrote demo.conf" test -f "$vms/demo.conf"
check "with the memory given" conf_has demo "Memory=512M"
check "the CPUs given" conf_has demo "CPUs=1"
check "the accelerator given" conf_has demo "Accelerator=tcg"
check "the display given" conf_has demo "Display=none"
check "the kernel, made absolute" conf_has demo "Kernel=$files/vmlinuz"
check "the initrd, made absolute" conf_has demo "Initrd=$files/sub/initrd.img"
check "the kernel command line" conf_has demo "CommandLine=console=ttyS0 quiet"
check "an image VM can be created too" status_is 0 "$ctl" vm create disk \
  --image "$files/vmlinuz" --image-format raw
check "with its format" conf_has disk "ImageFormat=raw"

check "a size that is not one is explained" \
  output_has "Memory “lots” is not a size" \
  "$ctl" vm create bad --memory lots --kernel "$files/vmlinuz"
check "and exits 1" status_is 1 \
  "$ctl" vm create bad --memory lots --kernel "$files/vmlinuz"
check "no file is left for it" test ! -e "$vms/bad.conf"
check "too many CPUs are explained" output_has "must be a whole number" \
  "$ctl" vm create bad --cpus 1000 --kernel "$files/vmlinuz"
check "an unknown accelerator is explained" output_has "must be one of" \
  "$ctl" vm create bad --accelerator warp --kernel "$files/vmlinuz"
check "a missing kernel file is explained" output_has "$files/nothing" \
  "$ctl" vm create bad --kernel "$files/nothing"
check "and exits 1" status_is 1 "$ctl" vm create bad --kernel "$files/nothing"
check "an invalid name is explained" output_has "not a valid VM name" \
  "$ctl" vm create "no/slash" --kernel "$files/vmlinuz"
check "a duplicate name is refused" output_has "already exists" \
  "$ctl" vm create demo --kernel "$files/vmlinuz"
check "and exits 1" status_is 1 "$ctl" vm create demo --kernel "$files/vmlinuz"

# --- Usage errors: exit 2 and a pointer to --help -----------------------
check "vm create without a name exits 2" status_is 2 "$ctl" vm create
check "vm create without --kernel or --image exits 2" \
  status_is 2 "$ctl" vm create x
check "and says what is missing" output_has "--kernel or --image" \
  "$ctl" vm create x
check "--cpus must be a number" status_is 2 \
  "$ctl" vm create x --cpus many --kernel "$files/vmlinuz"
check "an extra argument exits 2" status_is 2 "$ctl" vm status demo more
check "an unknown option exits 2" status_is 2 "$ctl" vm list --frobnicate
check "usage errors point at the command's --help" \
  output_has "tandemctl vm list --help" "$ctl" vm list --frobnicate
check "an unknown vm command is named" output_has "unknown command “vm frob”" \
  "$ctl" vm frob
check "and exits 2" status_is 2 "$ctl" vm frob
check "vm alone exits 2" status_is 2 "$ctl" vm
check "vm --help lists the commands" output_has "resume NAME" "$ctl" vm --help
check "vm create --help lists its options" output_has "--image-format" \
  "$ctl" vm create --help
check "vm stop --help has --force" output_has "--force" "$ctl" vm stop --help
check "vm start --help has no --force" \
  sh -c "! '$ctl' vm start --help | grep -q -- --force"

# --- Reading ------------------------------------------------------------
check "vm list --json lists demo, stopped" \
  json_check "[v['state'] for v in d if v['name'] == 'demo'] == ['stopped']" \
  "$ctl" vm list --json
check "with its accelerator" \
  json_check "[v['accelerator'] for v in d if v['name'] == 'demo'] == ['tcg']" \
  "$ctl" vm list --json
check "vm list shows a table" output_has "NAME" "$ctl" vm list
check "with demo in it" sh -c "'$ctl' vm list | grep -q '^demo  *stopped  *TCG$'"
check "vm status says it is stopped" output_has "“demo” is stopped." \
  "$ctl" vm status demo
check "with its memory" output_has "Memory: 512.0" "$ctl" vm status demo
check "vm status --json has every field" \
  json_check "sorted(d) == sorted(['name', 'state', 'accelerator', \
'accelerator-reason', 'memory', 'cpus', 'pid', 'runtime-dir', 'crash-report', 'pixels', \
'sandbox', 'agent', 'agent-os', 'agent-protocol'])" \
  "$ctl" vm status demo --json
check "with the values" \
  json_check "(d['name'], d['state'], d['memory'], d['cpus'], d['pid']) == \
('demo', 'stopped', 512 << 20, 1, 0)" "$ctl" vm status demo --json

mkdir -p "$vms"
printf '[Boot]\nKernel=%s\n' "$files/vmlinuz" >"$vms/byhand.conf"
check "a VM written by hand shows up" \
  json_check "'byhand' in [v['name'] for v in d]" "$ctl" vm list --json
check "and can be read" vm_state_is byhand stopped
rm -f "$vms/byhand.conf"
check "and goes when its file does" \
  json_check "'byhand' not in [v['name'] for v in d]" "$ctl" vm list --json

check "an unknown VM is reported" output_has "There is no VM called “nosuch”" \
  "$ctl" vm status nosuch
check "and exits 1" status_is 1 "$ctl" vm status nosuch
check "starting an unknown VM exits 1" status_is 1 "$ctl" vm start nosuch
check "stopping a stopped VM exits 1" status_is 1 "$ctl" vm stop demo
check "the D-Bus error is NotFound" \
  output_has "org.tandem.Tandem1.Error.NotFound" get_vm nosuch
check "vm status speaks German" \
  env LANGUAGE=de sh -c "'$ctl' vm status demo | grep -q 'ist gestoppt'"

# --- The window: a user's start activates the running service -----------
check "starting tandem while the service runs exits at once" \
  status_is 0 timeout 10 "$shell"
check "and the service's window appears" tandem_wait_for tandem_windows
check "exactly one" one_window

# --- A real guest -------------------------------------------------------
guest=${TANDEM_TEST_GUEST:-}
if [ -n "$guest" ] && [ -f "$guest/vmlinuz" ] && [ -f "$guest/initramfs.img" ]
then
  signals="$XDG_RUNTIME_DIR/signals.log"
  dbus-monitor --session \
    "type='signal',interface='org.tandem.Tandem1.Manager'" >"$signals" 2>&1 &
  monitor=$!
  check "a guest VM is created" status_is 0 "$ctl" vm create t \
    --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.img" \
    --cmdline "console=ttyS0 quiet" --memory 256M --accelerator tcg \
    --display none
  check "vm start says it is starting" output_has "Starting “t”…" \
    timeout 600 "$ctl" vm start t
  check "and the guest runs" vm_state_is t running
  check "vm status says so, with TCG" output_has "“t” is running (TCG)." \
    "$ctl" vm status t
  check "with a QEMU process" json_check "d['pid'] > 0" "$ctl" vm status t --json
  check "starting it again is refused" output_has "tandemctl: " \
    "$ctl" vm start t
  check "with exit status 1" status_is 1 "$ctl" vm start t
  check "vm pause" output_has "“t” is paused (TCG)." "$ctl" vm pause t
  check "vm resume" output_has "“t” is running (TCG)." "$ctl" vm resume t
  check "vm reset" status_is 0 "$ctl" vm reset t
  check "vm stop shuts it down" output_has "“t” is stopped." \
    timeout 600 "$ctl" vm stop t
  check "and it is stopped" vm_state_is t stopped
  check "VMStateChanged was sent for running" \
    tandem_wait_for grep -q '"running"' "$signals"
  check "and for stopped" tandem_wait_for grep -q '"stopped"' "$signals"
  kill "$monitor" 2>/dev/null
  wait "$monitor" 2>/dev/null
else
  echo "# TANDEM_TEST_GUEST not set: no guest is started"
fi
tap_end
