#!/usr/bin/env bash
# guest check of a CentOS 4.6 domU root (1500 extra files in etc), side by
# side with the same checks done by hand with the usual tools (grep, ls,
# find, diff), as the issue-9 engineer did them. Wall time with hyperfine.
# Needs $XSRESCUE (set by scripts/bench.sh). Target: guest check is no
# slower than the hand-made reference.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${XSRESCUE:?run through scripts/bench.sh}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/guest"
XSRESCUE_BENCH_GUEST="$root" go test -count=1 -run '^TestWriteBenchGuest$' ./fixtures >/dev/null
echo "guest root: $root ($(find "$root" | wc -l) entries)"

cat >"$work/reference.sh" <<REF
cd "$root"
grep -i '^installonlypkgs' etc/yum.conf
ls boot lib/modules
ls -d lib/tls lib/tls.disabled
grep -x ttyS0 etc/securetty
grep ttyS0 etc/inittab
grep -E '^(extra|kernel|vcpus)' "$root.cfg"
ls etc/rc.d/rc[2-5].d/S*haldaemon etc/rc.d/rc[2-5].d/S*mdmonitor etc/rc.d/rc[2-5].d/S*lvm2-monitor etc/rc.d/rc[2-5].d/S*irqbalance
grep '^dbus:' etc/passwd etc/group etc/shadow
find etc -name '*.rpmnew' -o -name '*.rpmsave' | while read -r f; do diff "\${f%.rpm*}" "\$f" | wc -l; done
REF
xs="$XSRESCUE guest check --root $root --domain-config $root.cfg --json"
ref="bash $work/reference.sh"
if command -v hyperfine >/dev/null; then
  hyperfine -N -i --warmup 3 --runs 30 -n "xsrescue guest check" "$xs" -n "grep/ls/find/diff by hand" "$ref"
else
  for c in "$xs" "$ref"; do echo "$c"; time (for _ in $(seq 30); do $c >/dev/null 2>&1 || true; done); done
fi
go test -run '^$' -bench 'BenchmarkCheck' -benchtime 50x ./guestfix | grep -E '^Benchmark'
