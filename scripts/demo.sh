#!/usr/bin/env bash
# The README's first command: installs what the demo's scratch disk needs
# (e2fsprogs, util-linux, dosfstools, a C compiler for SQLite), then runs
# `xsrescue demo`, which builds a "XenServer 5.5 whose downgrade to 5.0
# failed" disk in a temporary directory and rehearses the whole rescue on it.
# As root it runs every step and ends by proving the disk byte-identical to
# the start; as another user it runs the read-only part. Extra arguments go
# to `xsrescue demo` (e.g. --json, --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_deps mkfs.ext3=e2fsprogs debugfs=e2fsprogs losetup=util-linux mkswap=util-linux \
  mkfs.vfat=dosfstools gcc=gcc
CGO_ENABLED=1 exec go run ./cmd/xsrescue demo "$@"
