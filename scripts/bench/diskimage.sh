#!/usr/bin/env bash
# disk save-partition of a 4 GiB mostly-empty ext3 partition, side by side in
# one run with dd conv=sparse and dd | zstd. xsrescue does more than dd: it
# hashes the partition (sha256), writes the sidecar and the journal record,
# then reads the image back and hashes it again (verify).
# Two sources: the sparse image file itself (xsrescue skips its holes with
# SEEK_DATA) and, as root, the same image through a loop device (every byte
# read, as from a real disk).
# Usage: XSRESCUE=bin/xsrescue scripts/bench/diskimage.sh
set -euo pipefail
: "${XSRESCUE:?set XSRESCUE to the built binary (scripts/bench.sh does)}"
export PATH="$PATH:/usr/sbin:/sbin"
for t in hyperfine sfdisk mkfs.ext3 zstd dd; do command -v $t >/dev/null || { echo "diskimage.sh: $t not installed" >&2; exit 1; }; done
dir=$(mktemp -d)
loop=
cleanup() { [ -n "$loop" ] && losetup -d "$loop"; rm -rf "$dir"; }
trap cleanup EXIT INT TERM

img=$dir/disk.img
truncate -s 4100M "$img"
printf 'label: dos\nstart=2048, size=8388608, type=83\n' | sfdisk -q "$img"
# Some real content (a few tens of MiB), the rest of the 4 GiB empty.
mkdir -p "$dir/tree"; cp -r /usr/share/doc "$dir/tree/" 2>/dev/null || true
mkfs.ext3 -q -F -E offset=1048576 -d "$dir/tree" "$img" 4194304k
echo "partition: 4 GiB ext3, $(du -sm "$dir/tree" | cut -f1) MiB of files; image allocates $(du -m "$img" | cut -f1) MiB"

run() { # name source
  local src=$2
  hyperfine --runs 3 --warmup 1 --export-markdown "$dir/$1.md" \
    --prepare "rm -f $dir/out.img $dir/out.img.json $dir/out.zst $dir/j.db*" \
    -n "xsrescue save-partition (sparse)" "$XSRESCUE disk save-partition $src --partition 1 --to $dir/out.img --journal $dir/j.db" \
    -n "xsrescue save-partition --compress" "$XSRESCUE disk save-partition $src --partition 1 --to $dir/out.img --compress --journal $dir/j.db" \
    -n "dd conv=sparse" "dd if=$src of=$dir/out.img bs=1M skip=1 count=4096 conv=sparse status=none" \
    -n "dd conv=sparse + sha256sum" "dd if=$src of=$dir/out.img bs=1M skip=1 count=4096 conv=sparse status=none && sha256sum $dir/out.img" \
    -n "dd | zstd -1" "dd if=$src bs=1M skip=1 count=4096 status=none | zstd -q -1 -T0 -o $dir/out.zst"
  cat "$dir/$1.md"
}

echo "== source: sparse image file"
run file "$img"
if [ "$(id -u)" -eq 0 ]; then
  loop=$(losetup --find --show --read-only "$img")
  echo "== source: the same image as a block device ($loop)"
  run loop "$loop"
fi
echo "(sizes: xsrescue sparse image allocates only the data blocks; see du of the outputs above)"
