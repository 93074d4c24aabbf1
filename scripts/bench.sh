#!/usr/bin/env bash
# Runs every benchmark script under scripts/bench/ (each puts xsrescue side by
# side with the reference tools in one run) and the Go benchmarks.
# Usage: scripts/bench.sh [NAME...]   (NAME = a file in scripts/bench without .sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
# The binary users run: the static release build (scripts/build.sh), not a
# development build (dynamically linked: its start-up pays for ld.so).
scripts/build.sh bin/xsrescue >/dev/null
export XSRESCUE="$PWD/bin/xsrescue"
if [ $# -eq 0 ]; then set -- $(ls scripts/bench/*.sh 2>/dev/null | xargs -n1 basename | sed 's/\.sh$//'); fi
for name in "$@"; do
  echo "=== $name"
  bash "scripts/bench/$name.sh"
done
