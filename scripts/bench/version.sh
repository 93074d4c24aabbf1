#!/usr/bin/env bash
# `xsrescue version find` against grep -rlF and rg -l -F on the same tree, in
# one hyperfine run (warm page cache: one warm-up run each).
#   XSRESCUE            the built binary (scripts/bench.sh sets it)
#   VERSION_BENCH_TREE  the tree to search (default /usr: read-only, every tool
#                       reads it in place; a copy of another system's /usr works too)
#   VERSION_BENCH_RUNS  runs per command (default 5)
# rg gets -uuu so that, like xsrescue and grep -r, it searches hidden, ignored
# and binary files too; all three never follow symlinks. The needle is a
# XenServer build number that a Debian /usr does not contain, so every tool
# reads every file to the end (the worst case, and what `find | xargs grep` did).
set -euo pipefail
: "${XSRESCUE:?run through scripts/bench.sh, or set XSRESCUE to the xsrescue binary}"
tree="${VERSION_BENCH_TREE:-/usr}"
runs="${VERSION_BENCH_RUNS:-5}"
needle=15119p
for tool in hyperfine rg grep; do
  command -v "$tool" >/dev/null || { echo "version.sh: $tool not installed (scripts/test.sh installs it)" >&2; exit 1; }
done
echo "tree: $tree ($(du -sh "$tree" 2>/dev/null | cut -f1), $(find "$tree" -type f 2>/dev/null | wc -l) files); load: $(cut -d' ' -f1-3 /proc/loadavg); cpus: $(nproc)"
# -i: grep and rg exit 1 when nothing matches.
hyperfine -N -i --warmup 1 --runs "$runs" \
  -n "xsrescue version find" "$XSRESCUE version find --root $tree $needle" \
  -n "rg -l -F -uuu" "rg -l -F -uuu $needle $tree" \
  -n "grep -rlF" "grep -rlF $needle $tree"
