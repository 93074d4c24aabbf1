#!/usr/bin/env bash
# Runs every fuzz target of the module for a fixed number of executions.
#
# Targets are discovered with `go test -list '^Fuzz' ./...`, so a target added
# anywhere is run without touching this script. Each must have a seed corpus
# of broken samples in its package's testdata/fuzz/FuzzX/ (Go's corpus
# format, "go test fuzz v1"): a target without one fails the run.
#
# The count is fixed (-fuzztime=Nx), never a duration: the duration form hits
# a Go 1.26 coordinator bug (golang/go#75804). A crash is written by Go to
# testdata/fuzz/FuzzX/ and fails the run; add that file to the corpus with the
# fix.
#
# Usage: scripts/fuzz.sh [PACKAGE...]   (default ./...)
# Environment: FUZZ_EXECS (default 3000) executions per target;
#              FUZZ_EXECS_<Target> overrides it for one target, for those
#              whose every execution is expensive (a disk image, a database).
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1 PATH="$PATH:/usr/sbin:/sbin"

execs=${FUZZ_EXECS:-3000}
# One execution of these builds and inspects a 64 MiB disk or rewrites an
# SQLite journal: fewer of them keep the whole run within about 3 minutes on
# 2 cores.
: "${FUZZ_EXECS_FuzzVTOC:=300}" "${FUZZ_EXECS_FuzzReadJournal:=300}" "${FUZZ_EXECS_FuzzReadLabels:=1000}"

[ $# -gt 0 ] || set -- ./...
list=$(go test -list '^Fuzz' "$@")

targets=() missing=()
names=()
while IFS= read -r line; do
  case "$line" in
    Fuzz*) names+=("$line") ;;
    ok*)
      pkg=$(awk '{print $2}' <<<"$line")
      if [ ${#names[@]} -gt 0 ]; then
        dir=$(go list -f '{{.Dir}}' "$pkg")
        for n in "${names[@]}"; do
          targets+=("$pkg $n")
          compgen -G "$dir/testdata/fuzz/$n/*" >/dev/null || missing+=("$pkg $n (no seed corpus in ${dir#"$PWD"/}/testdata/fuzz/$n/)")
        done
      fi
      names=()
      ;;
  esac
done <<<"$list"

if [ ${#missing[@]} -gt 0 ]; then
  printf 'fuzz: %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets" >&2

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  var="FUZZ_EXECS_$name"
  n=${!var:-$execs}
  start=$SECONDS
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime="${n}x" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
    echo "fuzz: ok   $pkg $name (${n} execs, $((SECONDS - start))s)" >&2
  else
    cat /tmp/fuzz.$$.log >&2
    echo "fuzz: FAIL $pkg $name" >&2
    failed+=("$pkg $name")
  fi
done
rm -f /tmp/fuzz.$$.log
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
