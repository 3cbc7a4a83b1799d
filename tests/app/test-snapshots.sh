#!/bin/sh
# tandemctl snapshot and the Snapshots interface against the real shell
# (tandem --service) on a private session bus (with-session), with the tiny
# test guest running under TCG and a small data disk: a snapshot taken with
# progress, listed, restored and deleted; wrong input refused with a clear
# message and exit status, the guest running on untouched. Every wait is
# bounded. Skipped without the test guest ($TANDEM_TEST_GUEST, else
# build/test-guest: tools/dev.sh test builds it).
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
. "$TANDEM_SOURCE_ROOT/tests/tap.sh"
. "$TANDEM_SOURCE_ROOT/tests/app/lib.sh"
. "$TANDEM_SOURCE_ROOT/tools/session.sh"
ctl="$TANDEM_BUILD_ROOT/app/tandemctl"
shell="$TANDEM_BUILD_ROOT/app/tandem"
guest=${TANDEM_TEST_GUEST:-$TANDEM_SOURCE_ROOT/build/test-guest}
vms="$XDG_CONFIG_HOME/tandem/vms"
data="$XDG_DATA_HOME/tandem/vms/snap"
work="$XDG_RUNTIME_DIR/snapshots"
export LANG=C.UTF-8 LC_ALL= LANGUAGE=

if [ ! -f "$guest/vmlinuz" ] || [ ! -f "$guest/initramfs.img" ]; then
  echo "1..0 # SKIP no test guest in $guest (tests/vm/make-test-guest.sh \
$guest builds it; tools/dev.sh test does)"
  exit 0
fi
for tool in qemu-system-x86_64 qemu-img; do
  if ! command -v "$tool" >/dev/null; then
    echo "1..0 # SKIP $tool is not installed"
    exit 0
  fi
done

shell_pid="" monitor_pid="" mounted=""
cleanup() {
  "$ctl" vm stop snap --force >/dev/null 2>&1
  for pid in $monitor_pid $shell_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $monitor_pid $shell_pid; do
    wait "$pid" 2>/dev/null || true
  done
  [ -z "$mounted" ] || umount "$mounted" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM

raw_call() { # raw_call METHOD ARGS...: to see the D-Bus error's name
  _method=$1
  shift
  dbus-send --session --print-reply --dest=org.tandem.Tandem \
    /org/tandem/Tandem "org.tandem.Tandem1.Snapshots.$_method" "$@"
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
vm_state_is() {
  json_check "d['state'] == '$2'" "$ctl" vm status "$1" --json
}
qemu_pid() { json_value "d['pid']" "$ctl" vm status snap --json; }
signal_seen() { grep -A12 "member=$1" "$work/signals.log" | grep -qF "$2"; }
signal_count() { grep -c "member=$1" "$work/signals.log"; }
more_signals() { test "$(signal_count "$1")" -gt "$2"; }
wait_up_to() { # wait_up_to SECONDS PREDICATE...
  _saved=${TANDEM_WAIT_SECONDS:-10}
  TANDEM_WAIT_SECONDS=$1
  shift
  tandem_wait_for "$@"
  _r=$?
  TANDEM_WAIT_SECONDS=$_saved
  return $_r
}
none_within() { ! wait_up_to "$@"; }
files_match_list() {
  test "$(ls "$data/snapshots" | grep -c '\.tsnap$')" = \
    "$(json_value "len(d)" "$ctl" snapshot list snap --json)"
}
# The qcow2 images in the snapshots' disks/ directory.
images() { find "$data/snapshots/disks" -name '*.qcow2' 2>/dev/null | wc -l; }
images_are() { test "$(images)" -eq "$1"; }
# At most one image per listed snapshot, and the one the VM runs on.
images_bounded() {
  test "$(images)" -le "$(($(json_value "len(d)" "$ctl" snapshot list snap \
--json) + 1))"
}
data_path() { sed -n 's/^Path=//p' "$vms/snap.conf"; }
snapshot_ids() { json_value "' '.join(s['id'] for s in d)" \
  "$ctl" snapshot list snap --json; }

# --- The VMs: "snap" runs the test guest, "idle" is never started --------
mkdir -p "$vms" "$data" "$work" "$data/snapshots"
# The snapshots on a file system of their own, to fill it up later (as
# root, as in CI; elsewhere those checks are skipped).
if [ "$(id -u)" = 0 ] &&
  mount -t tmpfs -o size=1g,mode=0700 tandem-test "$data/snapshots" 2>/dev/null
then
  mounted="$data/snapshots"
fi
qemu-img create -q -f qcow2 "$data/data.qcow2" 16M
cat >"$vms/snap.conf" <<EOF
[VM]
Memory=256M
CPUs=1
Accelerator=tcg
Display=none
[Boot]
Kernel=$guest/vmlinuz
Initrd=$guest/initramfs.img
CommandLine=console=ttyS0 quiet
[Disk data]
Path=$data/data.qcow2
EOF
printf '[VM]\nAccelerator=tcg\n[Boot]\nKernel=%s/vmlinuz\n' "$guest" \
  >"$vms/idle.conf"

dbus-monitor --session \
  "type='signal',interface='org.tandem.Tandem1.Snapshots'" \
  >"$work/signals.log" 2>&1 &
monitor_pid=$!
# Merges at 256 KiB/s: the guest's data takes long enough to merge to see
# that a snapshot does not wait for it (the end of this test).
export TANDEM_SNAPSHOT_MERGE_SPEED=262144

"$shell" --service >"$work/shell.log" 2>&1 &
shell_pid=$!
check "the shell owns org.tandem.Tandem" tandem_wait_for shell_owns_name
for member in Create List Restore Suspend Delete GetSchedule SetSchedule \
  Progress Changed; do
  check "the Snapshots interface has $member" \
    introspection_has "name=\"$member\""
done
check "List's reply is typed" introspection_has 'type="a(ssxsstttt)"'

check "the guest starts" status_is 0 timeout 300 "$ctl" vm start snap
check "and runs" vm_state_is snap running
check "it has no snapshots yet" \
  output_has "“snap” has no snapshots. Take one with “tandemctl snapshot \
create snap”." "$ctl" snapshot list snap
check "list --json is an empty list" json_check "d == []" \
  "$ctl" snapshot list snap --json
check "in German too" env LANGUAGE=de sh -c "'$ctl' snapshot list snap | \
grep -qF '„snap“ hat keine Snapshots.'"

# --- Taking one ----------------------------------------------------------
check "snapshot create exits 0" sh -c "timeout 300 '$ctl' snapshot create \
snap --name 'first one' >'$work/create.out' 2>'$work/create.err'"
id=$(sed -n 's/^Took snapshot \([^ ]*\) of “snap” (.*)\.$/\1/p' \
  "$work/create.out")
# Sizes are g_format_size()'s: a no-break space before the unit.
size='[0-9.]*.[kMG]*B'
method='\(background\|stopped\)'
check "and names the new snapshot, how it was taken and its size" \
  grep -q "^Took snapshot $id of “snap” ($method, $size)\.\$" \
  "$work/create.out"
check "having said what it does" \
  grep -qxF "Taking a snapshot of “snap”…" "$work/create.err"
check "and, off a terminal, its steps as lines" \
  grep -qxF "Saving memory…" "$work/create.err"
check "down to writing it to disk" \
  grep -qxF "Writing the snapshot to disk…" "$work/create.err"
check "and no terminal control characters" \
  sh -c "! grep -q \"$(printf '\033')\" '$work/create.err'"
check "Progress was sent while saving" \
  tandem_wait_for signal_seen Progress '"saving"'
check "with the snapshot's id" signal_seen Progress "\"$id\""
check "and for done" tandem_wait_for signal_seen Progress '"done"'
check "Changed was sent" tandem_wait_for signal_seen Changed '"snap"'
check "the guest still runs" vm_state_is snap running

check "list shows it" sh -c "'$ctl' snapshot list snap | grep -q \
'^$id  *first one  *[0-9-]* [0-9:]*  *$method  *$size\$'"
check "under a header" output_has "METHOD" "$ctl" snapshot list snap
check "list --json has exactly it" \
  json_check "[s['id'] for s in d] == ['$id']" "$ctl" snapshot list snap --json
check "with its name and method" \
  json_check "d[0]['name'] == 'first one' and \
d[0]['method'] in ('background', 'stopped')" "$ctl" snapshot list snap --json
check "with every field" \
  json_check "sorted(d[0]) == sorted(['id', 'name', 'created', 'method', \
'method-reason', 'file-bytes', 'raw-bytes', 'memory', 'duration-ms'])" \
  "$ctl" snapshot list snap --json
check "and plausible values" \
  json_check "d[0]['memory'] == 256 << 20 and d[0]['file-bytes'] > 0 and \
d[0]['raw-bytes'] >= d[0]['file-bytes'] and d[0]['duration-ms'] > 0 and \
abs(d[0]['created'] - $(date +%s)) < 600" "$ctl" snapshot list snap --json
check "its memory file is on disk" test -s "$data/snapshots/$id.tsnap"

# A second one, on a terminal: the bar, redrawn in place.
check "create on a terminal exits 0" \
  sh -c "script -qec \"'$ctl' snapshot create snap --json >'$work/tty.json'\" \
/dev/null >'$work/tty.out'"
check "and draws a progress bar on standard error" \
  grep -q "Saving memory  \[[#-]*\] *[0-9]* %" "$work/tty.out"
check "redrawn in place" grep -q "$(printf '\r')Saving memory" "$work/tty.out"
check "--json prints the new snapshot" \
  json_check "d['id'] != '$id' and d['name'] == ''" cat "$work/tty.json"
check "now there are two, oldest first" \
  json_check "len(d) == 2 and d[0]['id'] == '$id'" \
  "$ctl" snapshot list snap --json

# --- Refusals: the guest runs on untouched --------------------------------
pid_before=$(qemu_pid)
check "an unknown VM is reported by create" \
  fails_with "There is no VM called “nosuch”." "$ctl" snapshot create nosuch
check "by list" fails_with "There is no VM called “nosuch”." \
  "$ctl" snapshot list nosuch
check "by restore" fails_with "There is no VM called “nosuch”." \
  "$ctl" snapshot restore nosuch "$id"
check "by delete" fails_with "There is no VM called “nosuch”." \
  "$ctl" snapshot delete nosuch "$id"
check "the D-Bus error is NotFound" \
  output_has "org.tandem.Tandem1.Error.NotFound" \
  raw_call List string:nosuch
check "an id that is a path is refused by restore" \
  fails_with "“../x” is not a snapshot id" "$ctl" snapshot restore snap ../x
check "and by delete" fails_with "“../x” is not a snapshot id" \
  "$ctl" snapshot delete snap ../x
check "which says where to find the ids" \
  output_has "“tandemctl snapshot list snap” shows them." \
  "$ctl" snapshot delete snap ../x
check "the D-Bus error is Invalid" \
  output_has "org.tandem.Tandem1.Error.Invalid" \
  raw_call Restore string:snap string:../x
check "an unknown id is refused by restore" \
  fails_with "“snap” has no snapshot “20000101-000000”." \
  "$ctl" snapshot restore snap 20000101-000000
check "and by delete" \
  fails_with "“snap” has no snapshot “20000101-000000”." \
  "$ctl" snapshot delete snap 20000101-000000
check "the D-Bus error is NotFound" \
  output_has "org.tandem.Tandem1.Error.NotFound" \
  raw_call Delete string:snap string:20000101-000000
newline_name="two
lines"
check "a name with a newline is refused" \
  fails_with "A snapshot's name must be a single line of at most 64 \
characters." "$ctl" snapshot create snap --name "$newline_name"
check "as is one that is too long" \
  fails_with "at most 64 characters" "$ctl" snapshot create snap \
  --name "$(printf '%070d' 0)"
check "a VM that is not running is refused" \
  fails_with "“idle” is not running: a snapshot is taken of a running VM. \
Start it with “tandemctl vm start idle”." "$ctl" snapshot create idle
check "the D-Bus error is NotRunning" \
  output_has "org.tandem.Tandem1.Error.NotRunning" \
  raw_call Create string:idle string:
check "nothing was taken meanwhile" \
  json_check "len(d) == 2" "$ctl" snapshot list snap --json
check "the guest still runs" vm_state_is snap running
check "in the same QEMU" test "$(qemu_pid)" = "$pid_before"

# --- Usage errors: exit 2 and a pointer to --help ---------------------------
check "snapshot alone exits 2" status_is 2 "$ctl" snapshot
check "snapshot --help lists the commands" \
  output_has "restore VM ID" "$ctl" snapshot --help
check "tandemctl --help lists them too" \
  output_has "snapshot create VM" "$ctl" --help
check "an unknown snapshot command is named" \
  usage_error "unknown command “snapshot frob”" "$ctl" snapshot frob
for command in create list restore delete; do
  check "snapshot $command --help exits 0" \
    status_is 0 "$ctl" snapshot "$command" --help
  check "snapshot $command without a VM exits 2" \
    usage_error "the name of a virtual machine is missing" \
    "$ctl" snapshot "$command"
done
check "create --help has --name" output_has "--name=NAME" \
  "$ctl" snapshot create --help
check "restore without an id exits 2, saying where the ids are" \
  usage_error "“tandemctl snapshot list VM” shows them" \
  "$ctl" snapshot restore snap
check "usage errors point at the command's --help" \
  usage_error "tandemctl snapshot delete --help" \
  "$ctl" snapshot delete snap "$id" more
check "an unknown option exits 2" \
  usage_error "tandemctl snapshot list --help" \
  "$ctl" snapshot list snap --frobnicate

# --- Restoring -------------------------------------------------------------
check "snapshot restore exits 0" sh -c "timeout 300 '$ctl' snapshot restore \
snap '$id' >'$work/restore.out' 2>'$work/restore.err'"
check "and says so" \
  grep -qxF "“snap” runs on from snapshot $id." "$work/restore.out"
check "having said what it does" \
  grep -qxF "Restoring “snap” to snapshot $id…" "$work/restore.err"
check "and its steps" grep -qxF "Loading memory…" "$work/restore.err"
check "the guest runs" vm_state_is snap running
check "in a new QEMU" test "$(qemu_pid)" != "$pid_before"
check "Progress was sent while loading" \
  tandem_wait_for signal_seen Progress '"loading"'
check "both snapshots are still there" \
  json_check "len(d) == 2" "$ctl" snapshot list snap --json

# --- Deleting --------------------------------------------------------------
changes=$(signal_count Changed)
check "snapshot delete exits 0" \
  output_has "Deleted snapshot $id of “snap”." "$ctl" snapshot delete snap "$id"
check "it is no longer listed" \
  json_check "'$id' not in [s['id'] for s in d] and len(d) == 1" \
  "$ctl" snapshot list snap --json
check "its memory file is gone" test ! -e "$data/snapshots/$id.tsnap"
check "Changed was sent" tandem_wait_for more_signals Changed "$changes"
check "deleting it again is refused" \
  fails_with "“snap” has no snapshot “$id”." "$ctl" snapshot delete snap "$id"
check "the guest still runs" vm_state_is snap running
other=$(snapshot_ids)
check "the other one can be deleted too" \
  status_is 0 "$ctl" snapshot delete snap "$other"
check "leaving none" json_check "d == []" "$ctl" snapshot list snap --json
check "and of the snapshots' disk images only the one the VM writes to" \
  tandem_wait_for images_are 1
data_on_base() {
  qemu-img info -U --output=json "$(data_path)" |
    grep -qF "\"backing-filename\": \"$data/data.qcow2\""
}
check "which sits on the data disk as the user made it" data_on_base

# --- Faults: a full disk, the shell killed mid-snapshot -------------------
partial_files() { find "$data/snapshots" -maxdepth 1 -name '*.part' | grep -q .; }
no_partial_files() { ! partial_files; }
names_are() { json_check "[s['name'] for s in d] == $1" "$ctl" snapshot list \
snap --json; }
check "a snapshot to keep" \
  status_is 0 timeout 300 "$ctl" snapshot create snap --name kept
kept=$(snapshot_ids)
restart_shell() {
  "$shell" --service >>"$work/shell.log" 2>&1 &
  shell_pid=$!
}
# The shell SIGKILLed; its QEMU ends on its own (SIGTERM from the kernel
# when its parent dies): waited for, so that the next QEMU does not meet
# the old one still holding the disks.
kill_shell() {
  _qemu=$(qemu_pid 2>/dev/null || echo 0)
  kill -KILL "$shell_pid"
  wait "$shell_pid" 2>/dev/null
  if [ "${_qemu:-0}" -gt 0 ]; then
    wait_up_to 60 sh -c "! kill -0 $_qemu 2>/dev/null"
  fi
}
# Restores the snapshot kept, saying why if it fails.
restore_kept() {
  timeout 300 "$ctl" snapshot restore snap "$kept" >/dev/null 2>"$work/kept.err" ||
    { cat "$work/kept.err"; return 1; }
}
# A snapshot being written, or one already over.
writing_or_over() { partial_files || ! kill -0 "$doomed" 2>/dev/null; }
"$ctl" snapshot create snap --name doomed >"$work/doomed.out" 2>&1 &
doomed=$!
_t0=$(date +%s)
failed_before=$_tap_failed
check "a snapshot being written" wait_up_to 180 writing_or_over
echo "# the snapshot was being written $(($(date +%s) - _t0)) s after the request"
if [ "$_tap_failed" -ne "$failed_before" ]; then # why not
  tail -n 40 "$work/signals.log" | grep -v '^ *$' | sed 's/^/# signal: /'
  "$ctl" vm status snap --json | sed 's/^/# status: /'
  ls -la "$data/snapshots" "$data/snapshots/disks" | sed 's/^/# ls: /'
fi
kill_shell
doomed_status=0
wait "$doomed" || doomed_status=$?
check "the shell killed, tandemctl fails" test "$doomed_status" -ne 0
restart_shell
check "the shell starts again" tandem_wait_for shell_owns_name
check "the half-written snapshot is not listed" names_are "['kept']"
check "and its partial file is gone" tandem_wait_for no_partial_files
check "QEMU ended with the shell" vm_state_is snap stopped
check "the snapshot kept restores" restore_kept
check "the guest runs" vm_state_is snap running
# Killed again at random points of a snapshot (the seed is printed; set
# TANDEM_KILL_SEED to replay): before, while or after it is written.
seed=${TANDEM_KILL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "# kill points from seed $seed"
for round in 1 2 3; do
  delay=$(awk -v s="$seed" -v r="$round" \
    'BEGIN { srand(s + r); printf "%.2f", rand() * 2.5 }')
  echo "# round $round: the shell killed ${delay}s into a snapshot"
  "$ctl" snapshot create snap --name "doomed $round" >/dev/null 2>&1 &
  doomed=$!
  sleep "$delay"
  kill_shell
  wait "$doomed" 2>/dev/null
  restart_shell
  check "killed ${delay}s in: the shell starts again" \
    tandem_wait_for shell_owns_name
  # Killed after the manifest was written, the snapshot is whole: listed.
  check "nothing half-written is listed" json_check "all(s['name'] in \
('kept', 'doomed $round') for s in d) and d[0]['name'] == 'kept'" \
    "$ctl" snapshot list snap --json
  check "every listed snapshot has its file" files_match_list
  check "no partial file is left" tandem_wait_for no_partial_files
  check "the snapshot kept restores" restore_kept
  check "the guest runs" vm_state_is snap running
  for id in $(json_value "' '.join(s['id'] for s in d if s['name'] != \
'kept')" "$ctl" snapshot list snap --json); do
    "$ctl" snapshot delete snap "$id" >/dev/null
  done
done
check "delete it" status_is 0 "$ctl" snapshot delete snap "$kept"
check "its disk images go too" tandem_wait_for images_are 1

# --- Instant resume: stop --save, start resumes ------------------------------
pid_before=$(qemu_pid)
check "vm stop --save exits 0" status_is 0 timeout 300 "$ctl" vm stop snap \
  --save
check "the VM is stopped" vm_state_is snap stopped
check "its session is listed as a snapshot" \
  json_check "[s['name'] for s in d] == ['Suspended'] and \
d[0]['method'] == 'stopped'" "$ctl" snapshot list snap --json
check "--save with --force is a usage error" \
  usage_error "--save and --force do not go together" \
  "$ctl" vm stop snap --save --force
check "vm start exits 0" status_is 0 timeout 300 "$ctl" vm start snap
check "the guest runs" vm_state_is snap running
check "in a new QEMU" test "$(qemu_pid)" != "$pid_before"
check "resumed from its session, which is used up" \
  json_check "d == []" "$ctl" snapshot list snap --json
check "Suspend needs a running VM" \
  output_has "org.tandem.Tandem1.Error.NotRunning" \
  raw_call Suspend string:idle
# SaveOnStop=true: a plain stop saves the session.
check "a plain stop throws the session away" \
  status_is 0 timeout 300 "$ctl" vm stop snap
check "saving nothing" json_check "d == []" "$ctl" snapshot list snap --json
sed -i 's/^Display=none$/Display=none\nSaveOnStop=true/' "$vms/snap.conf"
check "the guest boots again" status_is 0 timeout 300 "$ctl" vm start snap
check "with SaveOnStop, vm stop exits 0" \
  status_is 0 timeout 300 "$ctl" vm stop snap
check "and saved the session" \
  json_check "[s['name'] for s in d] == ['Suspended']" \
  "$ctl" snapshot list snap --json
check "which the next start resumes" \
  status_is 0 timeout 300 "$ctl" vm start snap
check "using it up" json_check "d == []" "$ctl" snapshot list snap --json
check "the guest runs" vm_state_is snap running
# The session ending (SIGTERM to the shell) is a stop like any other.
stop_child "$shell_pid" 120
check "SIGTERM: the shell saves the session and quits, status 0 ($stopped)" \
  test "$stopped" = 0
restart_shell
check "the shell starts again" tandem_wait_for shell_owns_name
check "the session it saved is listed" \
  json_check "[s['name'] for s in d] == ['Suspended']" \
  "$ctl" snapshot list snap --json
check "and resumed by the next start" \
  status_is 0 timeout 300 "$ctl" vm start snap
check "the guest runs" vm_state_is snap running

# --- Scheduled snapshots -----------------------------------------------------
schedule() { "$ctl" snapshot schedule snap "$@"; }
scheduled_ids() { json_value \
  "' '.join(s['id'] for s in d if s['name'] == 'Scheduled')" \
  "$ctl" snapshot list snap --json; }
# Scheduled snapshots seen so far, across polls (the schedule deletes).
seen="$work/scheduled-seen"
: >"$seen"
seen_at_least() {
  for s in $(scheduled_ids); do echo "$s"; done >>"$seen"
  test "$(sort -u "$seen" | grep -c .)" -ge "$1"
}
scheduled_at_most() { test "$(scheduled_ids | wc -w)" -le "$1"; }
new_scheduled() { test "$(scheduled_ids)" != "$1"; }
# Waits for any snapshot under way to end: a Create goes through only then
# (one at a time). The probe it takes is deleted again.
take_probe() { "$ctl" snapshot create snap --name probe >/dev/null 2>&1; }
quiet() {
  wait_up_to 120 take_probe &&
    probe=$(json_value "d[-1]['id']" "$ctl" snapshot list snap --json) &&
    "$ctl" snapshot delete snap "$probe" >/dev/null
}

check "without a schedule, schedule says how to set one" \
  output_has "“snap” takes no scheduled snapshots." schedule
check "--json has the defaults" \
  json_check "d == {'every': 0, 'keep': 10, 'max-age': 0}" schedule --json
check "too often is refused" \
  fails_with "every 2 seconds at the most often" schedule --every 1s
check "with the D-Bus error Invalid" \
  output_has "org.tandem.Tandem1.Error.Invalid" \
  raw_call SetSchedule string:snap uint64:1 uint32:2 uint64:0
check "as is keeping none" \
  fails_with "keeps from 1 to 500 of its snapshots" schedule --every 3s --keep 0
check "a duration that is not one is a usage error" \
  usage_error "--every wants a duration like 90s, 30m, 2h or 7d, not “soon”" \
  schedule --every soon
check "as are --off and --every together" \
  usage_error "--off and --every contradict each other" \
  schedule --off --every 3s
check "an unknown VM is named" \
  fails_with "There is no VM called “nosuch”." "$ctl" snapshot schedule nosuch
check "the refusals set nothing" json_check "d['every'] == 0" schedule --json
check "schedule --help has its options" output_has "--max-age=DURATION" \
  schedule --help
check "a snapshot taken by hand" \
  status_is 0 timeout 300 "$ctl" snapshot create snap --name "by hand"
check "schedule --every 3s --keep 2 says what it set" \
  output_has "“snap” takes a snapshot every 3s while it runs, keeping the \
newest 2." schedule --every 3s --keep 2
check "which is in the VM's configuration" \
  sh -c "grep -qx 'Every=3s' '$vms/snap.conf' && grep -qx 'Keep=2' \
'$vms/snap.conf'"
check "--json shows it" \
  json_check "d == {'every': 3, 'keep': 2, 'max-age': 0}" schedule --json
check "scheduled snapshots are taken, three of them" \
  wait_up_to 240 seen_at_least 3
check "of which only the newest 2 stay" wait_up_to 60 scheduled_at_most 2
check "and their disk images do not pile up: merged or deleted with them" \
  tandem_wait_for images_bounded
check "the snapshot taken by hand stays" \
  json_check "'by hand' in [s['name'] for s in d]" \
  "$ctl" snapshot list snap --json
check "German says it too" env LANGUAGE=de sh -c "'$ctl' snapshot schedule \
snap | grep -qF 'alle 3s'"
check "--max-age is shown" output_has "that are no older than 1h." \
  schedule --max-age 1h
check "--off exits 0" output_has "“snap” takes no scheduled snapshots." \
  schedule --off
check "and keeps Keep and MaxAge" \
  json_check "d == {'every': 0, 'keep': 2, 'max-age': 3600}" schedule --json
check "nothing is under way any more" quiet
before=$(scheduled_ids)
check "the scheduled snapshots taken stay" test -n "$before"
check "no snapshot follows --off" none_within 7 new_scheduled "$before"
check "every listed snapshot has its memory file, and no other is left" \
  files_match_list
check "one disk image per snapshot, and the VM's own" images_bounded
# A paused guest changes nothing: nothing to take.
check "the guest pauses" status_is 0 "$ctl" vm pause snap
check "a schedule set while it is paused" \
  status_is 0 "$ctl" snapshot schedule snap --every 2s
check "takes nothing while it is" none_within 6 new_scheduled "$before"
check "the guest goes on" status_is 0 "$ctl" vm resume snap
check "and a snapshot is taken" wait_up_to 120 new_scheduled "$before"
check "off again" status_is 0 "$ctl" snapshot schedule snap --off
# A scheduled snapshot may be setting up (the guest stopped for a moment)
# as the schedule goes off: it runs again when that is done.
check "the guest still runs" tandem_wait_for vm_state_is snap running

# --- A full disk (last: what it leaves behind is not tidied here) ----------
take() { # take NAME: a snapshot; what tandemctl said when it fails
  timeout 300 "$ctl" snapshot create snap --name "$1" >"$work/take.out" 2>&1 ||
    { sed 's/^/# /' "$work/take.out"; return 1; }
}
ids_now() { json_value "' '.join(s['id'] for s in d)" "$ctl" snapshot list \
snap --json; }
if [ -n "$mounted" ]; then
  check "nothing is under way" quiet
  listed=$(ids_now)
  avail=$(df -B1 --output=avail "$data/snapshots" | tail -n1)
  fallocate -l $((avail - 256 * 1024)) "$data/snapshots/filler"
  "$ctl" snapshot create snap --name full >"$work/full.out" 2>&1
  grep -v '^Saving\|^Taking' "$work/full.out" | sed 's/^/# /'
  check "with the disk full, snapshot create fails, saying why" \
    grep -qF "No space left on device" "$work/full.out"
  check "nothing half-written is listed" test "$(ids_now)" = "$listed"
  check "and no partial file is left" no_partial_files
  check "the guest still runs" vm_state_is snap running
  rm -f "$data/snapshots/filler"
  check "with room again, a snapshot works" take roomy
  check "listed last" json_check "d[-1]['name'] == 'roomy' and \
len(d) == len('$listed'.split()) + 1" "$ctl" snapshot list snap --json
else
  for what in "a full disk fails a snapshot, saying why" \
    "nothing half-written is listed then" "a snapshot works again"; do
    skip "$what" "needs root to mount a small file system"
  done
fi

# --- A snapshot does not wait behind a long merge ----------------------------
# The guest writes 1 MiB a second to its disk now (tandem.scribble), so its
# images fill up as a user's do; merges go at 256 KiB/s (set above).
disk_kib() { du -sk "$data/snapshots/disks" | cut -f1; }
grown_by() { test $(($(disk_kib) - $1)) -ge "$2"; }
# A cold boot: --force saves no session (SaveOnStop is on) to resume.
check "the guest stops" status_is 0 timeout 300 "$ctl" vm stop snap --force
sed -i -e '/^SaveOnStop=true$/d' -e 's/^CommandLine=.*/& tandem.scribble/' \
  "$vms/snap.conf"
check "and boots again, writing to its disk" \
  status_is 0 timeout 300 "$ctl" vm start snap
check "a snapshot" take before
before_kib=$(disk_kib)
check "the guest writes 6 MiB after it" wait_up_to 60 grown_by "$before_kib" 6144
check "another snapshot" take written
written=$(json_value "[s['id'] for s in d if s['name'] == 'written'][0]" \
  "$ctl" snapshot list snap --json)
check "deleting it merges what the guest wrote (about 24 s at 256 KiB/s)" \
  status_is 0 "$ctl" snapshot delete snap "$written"
started=$(date +%s)
check "a snapshot taken meanwhile" take meanwhile
took=$(($(date +%s) - started))
check "did not wait for the merge (${took} s)" test "$took" -lt 15
check "which was paused, saying so" \
  grep -qF "paused for a snapshot; it goes on after it" "$work/shell.log"
check "and goes on after it, to the end" wait_up_to 120 images_bounded
check "nothing failed in the merges" \
  sh -c "! grep -F 'not merged into' '$work/shell.log'"
check "the guest still runs" vm_state_is snap running

# On a failure, what the shell said: the reason is often there.
[ -z "${TANDEM_KEEP_SHELL_LOG:-}" ] || cp "$work/shell.log" "$TANDEM_KEEP_SHELL_LOG"
if [ "$_tap_failed" -ne 0 ]; then
  echo "# the shell's log (last 60 lines):"
  tail -n 60 "$work/shell.log" | sed 's/^/#   /'
fi
tap_end
