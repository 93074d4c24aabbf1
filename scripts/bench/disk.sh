#!/usr/bin/env bash
# disk inspect of a 2 TiB sparse XenServer 7.0 new-layout disk, side by side
# with the reference pair (sfdisk --json, then blkid -p for each partition).
# Reports wall time (hyperfine) and bytes read (rchar of /proc/PID/io: every
# byte returned by read/pread of the process and its reaped children,
# debugfs included; an upper bound of what touched the disk).
# Needs $XSRESCUE (set by scripts/bench.sh). Target: disk inspect reads under
# 4 MiB and is no slower than the reference pair.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run through scripts/bench.sh}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
img="$work/bench-2tib.img"
XSRESCUE_BENCH_DISK="$img" go test -count=1 -run '^TestWriteBenchDisk$' ./fixtures >/dev/null
echo "image: $img ($(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated)"

offsets=$(sfdisk --json "$img" | python3 -c 'import json,sys; print(" ".join(str(p["start"]*512) for p in json.load(sys.stdin)["partitiontable"]["partitions"]))')
cat >"$work/reference.sh" <<REF
sfdisk --json "$img" >/dev/null
for off in $offsets; do blkid -p -O "\$off" "$img" >/dev/null || true; done
REF
xs="$XSRESCUE disk inspect $img --json"
ref="bash $work/reference.sh"

# rchar of one run, including reaped children.
rchar() {
  bash -c 'b=$(awk "/^rchar/{print \$2}" /proc/$$/io); '"$1"' >/dev/null 2>&1; a=$(awk "/^rchar/{print \$2}" /proc/$$/io); echo $((a - b))'
}
printf '%-34s %12s\n' "command" "bytes read"
printf '%-34s %12s\n' "xsrescue disk inspect --json" "$(rchar "$xs")"
printf '%-34s %12s\n' "sfdisk --json + blkid -p (x$(wc -w <<<"$offsets"))" "$(rchar "$ref")"

if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs 30 -n "xsrescue disk inspect" "$xs" -n "sfdisk --json + blkid -p" "$ref" 2>/dev/null || \
  hyperfine --warmup 3 --runs 30 -n "xsrescue disk inspect" "$xs" -n "sfdisk --json + blkid -p" "$ref"
else
  for c in "$xs" "$ref"; do echo "$c"; time (for _ in $(seq 30); do $c >/dev/null; done); done
fi
go test -run '^$' -bench 'Inspect' -benchtime 50x ./partition | grep -E '^Benchmark'
