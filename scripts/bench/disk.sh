#!/usr/bin/env bash
# disk inspect, side by side in one run with the reference tools that
# together say the same: sfdisk --json (the table), blkid -p for each
# partition (signatures), one debugfs -R cat (the root's inventory; disk
# inspect also reads the backup's inventory and marker), on
#   - a XenServer 5.5 disk (DOS, root/backup/SR, 80 GiB sparse): the
#     issue-17 trio (sfdisk + blkid -p x3 + debugfs cat);
#   - a 2 TiB XenServer 7.0 new-layout disk (GPT, six partitions).
# Reports wall time (hyperfine) and bytes read (rchar of /proc/PID/io: every
# byte returned by read/pread of the process and its reaped children; an
# upper bound of what touched the disk).
# Needs $XSRESCUE (set by scripts/bench.sh). Targets: disk inspect reads
# under 4 MiB and takes at most 0.3x the reference's time.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run through scripts/bench.sh}"
export PATH="$PATH:/usr/sbin:/sbin"
for t in sfdisk blkid debugfs python3; do command -v $t >/dev/null || { echo "disk.sh: $t not installed" >&2; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
XSRESCUE_BENCH_XENDISK="$work/xs55.img" go test -count=1 -run '^TestWriteBenchXenDisk$' ./fixtures >/dev/null
XSRESCUE_BENCH_DISK="$work/bench-2tib.img" go test -count=1 -run '^TestWriteBenchDisk$' ./fixtures >/dev/null

# rchar of one run, including reaped children.
rchar() {
  bash -c 'b=$(awk "/^rchar/{print \$2}" /proc/$$/io); '"$1"' >/dev/null 2>&1; a=$(awk "/^rchar/{print \$2}" /proc/$$/io); echo $((a - b))'
}

for img in "$work/xs55.img" "$work/bench-2tib.img"; do
  echo "image: $(basename "$img") ($(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated)"
  table=$(sfdisk --json "$img")
  offsets=$(python3 -c 'import json,sys; print(" ".join(str(p["start"]*512) for p in json.load(sys.stdin)["partitiontable"]["partitions"]))' <<<"$table")
  root=$("$XSRESCUE" disk inspect "$img" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(next(p["start"] for p in d["partitions"] if p["number"]==d["xenserver"]["root_partition"]))')
  n=$(wc -w <<<"$offsets")
  cat >"$work/reference.sh" <<REF
sfdisk --json "$img" >/dev/null
for off in $offsets; do blkid -p -O "\$off" "$img" >/dev/null || true; done
debugfs -R 'cat /etc/xensource-inventory' "$img?offset=$root" >/dev/null 2>&1
REF
  xs="$XSRESCUE disk inspect $img --json"
  ref="bash $work/reference.sh"
  printf '%-46s %12s\n' "command" "bytes read"
  printf '%-46s %12s\n' "xsrescue disk inspect --json" "$(rchar "$xs")"
  printf '%-46s %12s\n' "sfdisk --json + blkid -p (x$n) + debugfs cat" "$(rchar "$ref")"
  if command -v hyperfine >/dev/null; then
    # 200 runs: a run is a few milliseconds, and on a shared machine the
    # median of 30 moves by a tenth. The ratio is of the medians.
    hyperfine -N --warmup 10 --runs 200 --export-json "$work/h.json" \
      -n "xsrescue disk inspect" "$xs" -n "sfdisk + blkid -p x$n + debugfs cat" "$ref"
    python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
xs, ref = r[0], r[1]
print(f"medians: {xs['median']*1e3:.2f} ms vs {ref['median']*1e3:.2f} ms = {xs['median']/ref['median']:.2f}x the reference "
      f"(means {xs['mean']/ref['mean']:.2f}x, minimums {xs['min']/ref['min']:.2f}x); target <= 0.3x")
PY
  else
    for c in "$xs" "$ref"; do echo "$c"; time (for _ in $(seq 30); do $c >/dev/null; done); done
  fi
done
go test -run '^$' -bench 'Inspect' -skip 'ManyEntries' -benchtime 50x ./partition | grep -E '^Benchmark'
# The worst case (8192 GPT entries on one ZFS vdev) takes seconds per run:
# a few runs say as much as fifty.
go test -run '^$' -bench 'InspectManyEntries' -benchtime 3x ./partition | grep -E '^Benchmark'
