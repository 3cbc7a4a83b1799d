#!/bin/sh
# run-fuzzer.sh FUZZER GEN_CORPUS WORKDIR: fuzzes for $FUZZ_SECONDS (60)
# from the seed corpus; fails on any crash, leak or sanitizer report.
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu
fuzzer=$1 gen=$2 work=$3
seconds=${FUZZ_SECONDS:-60}
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
"$gen" "$work/seeds"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  "$work/corpus" "$work/seeds" >"$work/fuzz.log" 2>&1 || status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -n1)
echo "$(basename "$fuzzer"): ${execs:-?} executions in ${seconds}s (${rate:-?}/s), ${cov:-cov: ?}, exit $status"
if [ "$status" -ne 0 ]; then
  tail -n 60 "$work/fuzz.log"
  ls -l "$work/artifacts"
fi
exit "$status"
