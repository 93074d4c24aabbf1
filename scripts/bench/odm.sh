#!/usr/bin/env bash
# odm: parse a 1,000,000-object CuAt dump (target >= 100 MB/s) and scan a dev/
# of 100,000 special files, side by side with what an admin would run instead:
# an awk stanza filter and `ls -l | grep`. Run by scripts/bench.sh, which sets
# $XSRESCUE to the built binary. The dev/ part needs root (mknod).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run me through scripts/bench.sh (it sets XSRESCUE)}"
command -v hyperfine >/dev/null || { echo "odm.sh: hyperfine not installed" >&2; exit 1; }
OBJECTS=${ODM_BENCH_OBJECTS:-1000000}
NODES=${ODM_BENCH_NODES:-100000}
work=$(mktemp -d /tmp/xsrescue-odm-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
gen="$work/odmgen"
go build -o "$gen" ./scripts/bench/odmgen

# The AIX fixture's dumps, with a big CuAt in place of the small one.
"$gen" -dumps "$work/odm"
"$gen" -cuat "$OBJECTS" -o "$work/odm/CuAt"
bytes=$(stat -c %s "$work/odm/CuAt")
echo "CuAt dump: $OBJECTS objects, $bytes bytes"
hyperfine --warmup 1 --runs 5 --export-csv "$work/parse.csv" \
  -n "xsrescue odm ghosts (CuDvDr CuDv CuAt CuDep)" "$XSRESCUE odm ghosts --odm $work/odm --json >/dev/null" \
  -n "awk paragraph-mode stanza filter (pvid objects)" "awk 'BEGIN{RS=\"\"} /attribute = \"pvid\"/' $work/odm/CuAt >/dev/null"
# CSV columns: command,mean,stddev,median,user,system,... (the names above hold no
# commas or quotes). MB/s of CPU time too: on a shared machine the wall clock
# measures the neighbours.
awk -F, -v b="$bytes" 'NR > 1 { printf "%-50s %8.1f MB/s wall  %8.1f MB/s of CPU time\n", $1, b / $2 / 1e6, b / ($5 + $6) / 1e6 }' "$work/parse.csv"

if [ "$(id -u)" -ne 0 ]; then
  echo "odm.sh: dev/ scan skipped: mknod needs root" >&2
  exit 0
fi
"$gen" -dumps "$work/small"
"$gen" -dev "$NODES" -o "$work/big/dev"
echo "dev/: $NODES special files"
hyperfine --warmup 1 --runs 5 \
  -n "xsrescue odm ghosts --dev (lstat, majors)" "$XSRESCUE odm ghosts --odm $work/small --dev $work/big/dev --json >/dev/null" \
  -n "ls -l | grep ' 43,' (wrong: also 143,)" "ls -l $work/big/dev | grep ' 43,' >/dev/null" \
  -n "ls -l | awk '\$5==\"43,\"'" "ls -l $work/big/dev | awk '\$5==\"43,\"' >/dev/null"
