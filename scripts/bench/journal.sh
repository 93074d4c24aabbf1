#!/usr/bin/env bash
# Journal: snapshot + apply + verify of a one-line change to a 100 MB file,
# side by side with the naive `cp FILE FILE.bak && sed -i` (and the same
# pair followed by an fsync of both files, which is what crash safety costs
# the naive way), plus the journal's growth per op.
#
# There is no generic "edit a file" command, so the xsrescue side is the Go
# benchmark of journal.Apply: the exact code every mutating command runs
# through applyPlan. journal-B/op is the journal's growth per op.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"
work=$(mktemp -d /var/tmp/xsrescue-bench-journal.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The same 100 MB of xapi-database-like rows as BenchmarkApplyOneLine100MB.
awk 'BEGIN { q = sprintf("%c", 39); n = 0
  for (i = 0; n < 104857600; i++) {
    s = sprintf("<row ref=%sOpaqueRef:%08x-1c5e-4a8b-9d1e-%012x%s name__label=%svm-%d%s power_state=%sHalted%s memory=%s%d%s/>", q, i, i*7919, q, q, i%977, q, q, q, q, (i%4096)*1048576, q)
    print s; n += length(s) + 1 } }' >"$work/state.db"
ls -l "$work/state.db"

f="$work/state.db"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 5 --prepare "rm -f $f.bak" \
    -n "cp FILE FILE.bak && sed -i" "cp $f $f.bak && sed -i '1s/.*/<changed\/>/' $f" \
    -n "cp FILE FILE.bak && sed -i && sync FILE FILE.bak" "cp $f $f.bak && sed -i '1s/.*/<changed\/>/' $f && sync $f $f.bak"
else
  echo "hyperfine not installed: timing the naive pair once"
  time (cp "$f" "$f.bak" && sed -i '1s/.*/<changed\/>/' "$f")
fi

echo "--- xsrescue journal.Apply (snapshot + apply + verify, fsynced), journal growth per op"
TMPDIR="$work" go test ./journal -run '^$' -bench 'ApplyOneLine100MB' -benchtime 5x -benchmem
