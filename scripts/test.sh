#!/usr/bin/env bash
# Installs what the tests need (on a fresh machine that has only Go), then runs
# go vet, the whole test suite and every fuzz target (scripts/fuzz.sh). Run as
# root: the suite uses loop devices, mount, mknod and zfs-fuse; as another user
# those tests are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/deps.sh
install_deps mkfs.ext3=e2fsprogs debugfs=e2fsprogs sfdisk=fdisk blkid=util-linux \
  losetup=util-linux sgdisk=gdisk pvcreate=lvm2 zfs-fuse=zfs-fuse sqlite3=sqlite3 \
  ksh=ksh mkfs.vfat=dosfstools mkfs.xfs=xfsprogs xmllint=libxml2-utils zstd=zstd \
  rg=ripgrep setfattr=attr gcc=gcc hyperfine=hyperfine pgrep=procps groff=groff-base \
  qemu-system-x86_64=qemu-system-x86 busybox=busybox-static dpkg-deb=dpkg \
  ansible-playbook=ansible-core

# zfs-fuse needs its daemon for the ZFS tests; start it when it is not running.
if command -v zfs-fuse >/dev/null && [ "$(id -u)" -eq 0 ] && ! pgrep -x zfs-fuse >/dev/null; then
  mkdir -p /var/run/zfs /var/lock/zfs
  zfs-fuse --no-daemon >/tmp/zfs-fuse.log 2>&1 &
  for _ in $(seq 1 50); do [ -S /var/run/zfs/zfs_socket ] && break; sleep 0.1; done
fi

export CGO_ENABLED=1
go vet ./...
# The whole demo (TestDemo, about 40 s) and the real ansible-playbook runs
# (about a minute) run here only, not in every go test.
XSRESCUE_TEST_DEMO=1 XSRESCUE_TEST_ANSIBLE=1 go test -count=1 -timeout 25m "$@" ./...
if [ $# -eq 0 ]; then
  # Alone, on a quiet machine: a journal the kernel wrote, copied as a crash
  # leaves it (in the parallel run other packages' syncs may checkpoint it
  # first, and the test skips there).
  XSRESCUE_KERNEL_JOURNAL=1 go test -count=1 -run '^TestJournalReplayKernelWritten$' ./extfs
fi
# Every fuzz target, a fixed number of executions each (scripts/fuzz.sh; about
# 3 minutes on 2 cores). Only for the whole suite: arguments select tests.
if [ $# -eq 0 ]; then
  scripts/fuzz.sh
fi
# The product is one static binary: prove it still links statically and runs.
scripts/build.sh "$(mktemp -d)/xsrescue"
# The same binary on real block devices in a VM (scripts/vmtest.sh also
# installs a Debian kernel), and the Debian package built and installed.
scripts/vmtest.sh
scripts/package.sh --test "$(mktemp -d)"
