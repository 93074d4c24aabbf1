#!/usr/bin/env bash
# Builds the single static binary (bin/xsrescue) that runs from any live USB or
# kickstart %pre: cgo for SQLite, linked statically; the tags keep glibc's
# dynamic-only lookups (users, DNS, SQLite extensions via dlopen) out of it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/xsrescue}
mkdir -p "$(dirname "$out")"
ver=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
CGO_ENABLED=1 go build -trimpath \
  -tags osusergo,netgo,sqlite_omit_load_extension \
  -ldflags "-s -w -X main.version=$ver -linkmode external -extldflags -static" \
  -o "$out" ./cmd/xsrescue
if ldd "$out" >/dev/null 2>&1; then
  echo "scripts/build.sh: $out is dynamically linked" >&2
  exit 1
fi
"$out" --version
