#!/bin/sh
# gen-qcow2-seeds.sh DIR: seeds for fuzz-qcow2, the first 4 KiB of images
# qemu-img makes (versions 2 and 3, backing files qcow2 and raw, none).
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu
dir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
qemu-img create -q -f raw "$tmp/base.raw" 1M
qemu-img create -q -f qcow2 "$tmp/base.qcow2" 1M
qemu-img create -q -f qcow2 -F qcow2 -b "$tmp/base.qcow2" "$tmp/v3.qcow2"
qemu-img create -q -f qcow2 -o compat=0.10 -F qcow2 -b "$tmp/base.qcow2" \
  "$tmp/v2.qcow2"
qemu-img create -q -f qcow2 -F raw -b "$tmp/base.raw" "$tmp/on-raw.qcow2"
for f in base.qcow2 v3.qcow2 v2.qcow2 on-raw.qcow2; do
  head -c 4096 "$tmp/$f" >"$dir/$f"
done
