#!/usr/bin/env bash
# version find --disk over a 2 GiB ext3 root read in-process (extfs),
# side by side in one run with rg -l -F over the same tree mounted
# read-only (as root; otherwise rg searches the source tree the image was
# made from — the same files, from the page cache too). Warm page cache:
# warm-up runs first. The machine may be shared: hyperfine's user and
# system times say what each tool itself cost.
#   XSRESCUE                the built binary (scripts/bench.sh sets it)
#   EXTFS_BENCH_BYTES       tree size (default 2 GiB: 40,000 small and medium
#                           files in 2,000 directories, then large ones)
#   EXTFS_BENCH_RUNS        runs per command (default 10)
# Target: version find --disk takes at most 1.0x rg's time.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run through scripts/bench.sh, or set XSRESCUE to the xsrescue binary}"
export PATH="$PATH:/usr/sbin:/sbin"
for t in hyperfine rg sfdisk mkfs.ext3; do command -v $t >/dev/null || { echo "extfs.sh: $t not installed (scripts/test.sh installs it)" >&2; exit 1; }; done
bytes="${EXTFS_BENCH_BYTES:-2147483648}"
runs="${EXTFS_BENCH_RUNS:-10}"
work=$(mktemp -d /var/tmp/xsrescue-bench-extfs.XXXXXX)
mnt=""
cleanup() { [ -n "$mnt" ] && umount "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
XSRESCUE_BENCH_ROOT="$work/tree" XSRESCUE_BENCH_ROOT_BYTES="$bytes" go test -count=1 -run '^TestWriteBenchRoot$' ./fixtures >/dev/null
img="$work/root.img"
size_k=$(( (bytes * 13 / 10 + (1 << 30)) / 1024 ))
truncate -s $(( size_k * 1024 + 2 * 1048576 )) "$img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$img"
mkfs.ext3 -q -F -E offset=1048576 -d "$work/tree" "$img" "${size_k}k"
echo "tree: $(du -sh --apparent-size "$work/tree" | cut -f1), $(find "$work/tree" -type f | wc -l) files; image $(du -h "$img" | cut -f1); load: $(cut -d' ' -f1-3 /proc/loadavg); cpus: $(nproc)"
where="$work/tree"
if [ "$(id -u)" -eq 0 ]; then
  mnt="$work/mnt"; mkdir "$mnt"
  mount -o ro,noload,loop,offset=1048576 "$img" "$mnt"
  where="$mnt"
  echo "rg searches the image mounted read-only at $mnt"
else
  echo "not root: rg searches the source tree (no mount)"
fi
needle=15119p
# -i: rg exits 1 when nothing matches; here three files match.
hyperfine -N -i --warmup 2 --runs "$runs" \
  -n "xsrescue version find --disk" "$XSRESCUE version find --disk $img --partition 1 $needle" \
  -n "rg -l -F -uuu (mounted)" "rg -l -F -uuu $needle $where"
