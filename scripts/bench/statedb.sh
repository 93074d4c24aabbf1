#!/usr/bin/env bash
# statedb show, diff and patch on a generated 100 MB CH 8.2 database (the
# same host as 7.1 for diff, and the fresh 7.1 database as --like), side by
# side in one run with the references xmllint --stream --noout (a streaming
# XML parse) and gzip -c (a streaming rewrite). For each command: best wall
# time of 3 runs, throughput over wall time and over CPU time (user+sys; the
# CI machine is shared, so wall time mostly measures the others) and peak
# RSS, all from /usr/bin/time.
# Needs $XSRESCUE (set by scripts/bench.sh). STATEDB_MB changes the size.
# Targets (issue 5): parse >= 300 MB/s; patch >= 150 MB/s with peak RSS
# under 64 MB whatever the size; diff memory linear in rows, not bytes.
# Issue 15: check of the 100 MB database no slower than xmllint --stream
# --noout on it, under 64 MB peak RSS. Issue 13: a gzip bomb (STATEDB_BOMB_ROWS
# small rows in one table, default 18 million: 90 MB of gzip, 936 MB of XML)
# shown and checked under 256 MiB peak RSS; STATEDB_BOMB_ROWS=0 skips it.
# Patch is measured three ways: --output - (plan, then the rewrite to stdout:
# what gzip -c compares with), --dry-run (plan and render only) and --yes
# (in place through the journal: plan, then the rewrite staged and fsynced
# while the before-image is compressed into the journal, rename, verify).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run through scripts/bench.sh}"
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends time >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bomb_rows=${STATEDB_BOMB_ROWS:-18000000}
XSRESCUE_BENCH_STATEDB="$work" XSRESCUE_BENCH_STATEDB_MB="${STATEDB_MB:-100}" \
  XSRESCUE_BENCH_STATEDB_BOMB_ROWS="${bomb_rows#0}" \
  go test -count=1 -timeout 30m -run '^TestWriteBenchStateDB$' ./fixtures >/dev/null
db="$work/state-8.2.db"
size=$(stat -c %s "$db")
echo "database: $db ($((size / 1048576)) MiB, $(grep -o '<row ' "$db" | wc -l) rows)"

# measure NAME PREP CMD: best of 3 runs of CMD (PREP runs before each, untimed)
measure() {
  local name=$1 prep=$2 cmd=$3 best="" line
  for _ in 1 2 3; do
    eval "$prep"
    # exit 4 is check's "would not load": a result, not a failure
    /usr/bin/time -o "$work/time" -f '%e %U %S %M' bash -c "$cmd; c=\$?; [ \$c -eq 4 ] && exit 0; exit \$c" >/dev/null 2>&1 || { echo "$name: failed: $cmd" >&2; return 1; }
    line=$(tail -1 "$work/time")
    if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then best=$line; fi
  done
  awk -v n="$name" -v s="$size" -v l="$best" 'BEGIN{split(l,x," "); cpu=x[2]+x[3]; if (cpu<0.01) cpu=0.01; if (x[1]<0.01) x[1]=0.01;
    printf "%-44s %7.2f s %8.0f MB/s %7.2f s %8.0f MB/s %7.1f MB\n", n, x[1], s/1e6/x[1], cpu, s/1e6/cpu, x[4]/1024}'
}
printf '%-44s %9s %13s %9s %13s %10s\n' command wall "MB/s(wall)" cpu "MB/s(cpu)" "peak RSS"
measure "xmllint --stream --noout (reference)" : "xmllint --stream --noout '$db'"
measure "gzip -c (reference)" : "gzip -c '$db'"
measure "xsrescue statedb show --json" : "$XSRESCUE statedb show '$db' --json"
measure "xsrescue statedb check --for-release 7.1" : "$XSRESCUE statedb check '$db' --for-release 7.1 --json"
measure "xsrescue statedb check --for-release 8.2.1" : "$XSRESCUE statedb check '$db' --for-release 8.2.1 --json"
measure "xsrescue statedb check --like fresh-7.1" : "$XSRESCUE statedb check '$db' --like '$work/fresh-7.1.db' --json"
measure "xsrescue statedb diff 8.2 7.1 --json" : "$XSRESCUE statedb diff '$db' '$work/state-7.1.db' --json"
measure "xsrescue statedb diff 8.2 7.1 --rows --json" : "$XSRESCUE statedb diff '$db' '$work/state-7.1.db' --rows --json"
measure "xsrescue statedb diff 8.2 8.2 --rows --json" : "$XSRESCUE statedb diff '$db' '$db' --rows --json"
prep="rm -rf '$work/p' && mkdir '$work/p' && cp '$db' '$db.generation' '$work/p/'"
measure "xsrescue statedb patch --like --output -" : "$XSRESCUE statedb patch '$db' --like '$work/fresh-7.1.db' --drop-data --output -"
measure "xsrescue statedb patch --like --dry-run" "$prep" "$XSRESCUE statedb patch '$work/p/state-8.2.db' --like '$work/fresh-7.1.db' --drop-data --dry-run"
measure "xsrescue statedb patch --like --yes (journal)" "$prep" "$XSRESCUE statedb patch '$work/p/state-8.2.db' --like '$work/fresh-7.1.db' --drop-data --yes"
if [ -f "$work/bomb.db.gz" ]; then
  db="$work/bomb.db.gz"
  size=$(gzip -dc "$db" | wc -c)
  echo "gzip bomb: $(stat -c %s "$db") bytes of gzip, $((size / 1048576)) MiB of XML, $bomb_rows rows in one table (MB/s over the XML)"
  measure "xmllint --stream --noout bomb.db.gz (reference)" : "xmllint --stream --noout '$db'"
  measure "xsrescue statedb show bomb.db.gz --json" : "$XSRESCUE statedb show '$db' --json"
  measure "xsrescue statedb check bomb.db.gz --for-release 8.2" : "$XSRESCUE statedb check '$db' --for-release 8.2 --json"
fi
go test -run '^$' -bench . -benchtime 5x ./statedb | grep -E '^Benchmark'
