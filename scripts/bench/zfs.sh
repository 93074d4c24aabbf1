#!/usr/bin/env bash
# zfs labels on an exported zfs-fuse pool (128 MiB file vdev, v22), side by
# side with the reference tools: blkid -p (libblkid's zfs_member probe, which
# reads the labels but verifies no checksum) and zpool import -d DIR (zfs-fuse,
# full label read and pool assembly). Wall time with hyperfine and bytes read
# (rchar of the process and its reaped children). Needs root, zfs-fuse
# running and $XSRESCUE (set by scripts/bench.sh). Target: reads under 2 MiB
# (4 labels of 256 KiB plus the partition table) and a few milliseconds;
# blkid -p reads less because it verifies no checksum and skips uberblocks.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run through scripts/bench.sh}"
if [ "$(id -u)" -ne 0 ] || ! zpool list >/dev/null 2>&1; then
  echo "zfs.sh: skipped: needs root and a running zfs-fuse (scripts/test.sh starts it)"
  exit 0
fi
work=$(mktemp -d)
pool="xszfsbench$$"
trap 'zpool import -d "$work" "$pool" >/dev/null 2>&1; zpool destroy -f "$pool" >/dev/null 2>&1; rm -rf "$work"' EXIT
truncate -s 128M "$work/vdev"
zpool create -o version=22 -m none "$pool" "$work/vdev" 2>/dev/null
zpool export "$pool"

rchar() {
  bash -c 'b=$(awk "/^rchar/{print \$2}" /proc/$$/io); '"$1"' >/dev/null 2>&1; a=$(awk "/^rchar/{print \$2}" /proc/$$/io); echo $((a - b))'
}
xs="$XSRESCUE zfs labels $work/vdev --json"
blk="blkid -p $work/vdev"
imp="zpool import -d $work"
printf '%-40s %12s\n' "command" "bytes read"
for c in "$xs" "$blk" "$imp"; do printf "%-40s %12s\n" "$c" "$(rchar "$c")" | sed "s|$work|\$WORK|g"; done
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs 30 -n "xsrescue zfs labels" "$xs" -n "blkid -p" "$blk" -n "zpool import -d (zfs-fuse)" "$imp"
fi
