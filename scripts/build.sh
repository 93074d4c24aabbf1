#!/usr/bin/env bash
# Builds the single static binary (bin/xsrescue) that runs from any live USB or
# kickstart %pre: cgo for SQLite, linked statically; the tags keep glibc's
# dynamic-only lookups (users, DNS, SQLite extensions via dlopen) out of it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/xsrescue}
mkdir -p "$(dirname "$out")"
# The version itself is cmd/xsrescue/app.go's, the one the man page shows too;
# the build adds only the commit and its date (reproducible: no build clock).
commit=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
date=$(git log -1 --format=%cI 2>/dev/null || echo unknown)
CGO_ENABLED=1 go build -trimpath \
  -tags osusergo,netgo,sqlite_omit_load_extension \
  -ldflags "-s -w -X main.commit=$commit -X main.date=$date -linkmode external -extldflags -static" \
  -o "$out" ./cmd/xsrescue
if ldd "$out" >/dev/null 2>&1; then
  echo "scripts/build.sh: $out is dynamically linked" >&2
  exit 1
fi
"$out" --version
