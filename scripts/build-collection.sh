#!/usr/bin/env bash
# Builds the xsrescue.rescue Ansible collection: DIR/ansible_collections/
# xsrescue/rescue (usable at once with ANSIBLE_COLLECTIONS_PATH=DIR) and
# DIR/xsrescue-rescue-VERSION.tar.gz (for ansible-galaxy collection install).
#
# The modules are the static binary (scripts/build.sh): it is copied once to
# plugins/modules/xsrescue_facts and every other module is a relative
# symlink to it. Ansible copies a module's file to the host as
# AnsiballZ_<module>, and the binary picks the module by that name.
# XSRESCUE_BINARY=PATH uses a binary built already (it must be static for
# hosts without the build machine's libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
coll=$out/ansible_collections/xsrescue/rescue
src=contrib/ansible
version=$(sed -n 's/^version: *//p' "$src/galaxy.yml")

rm -rf "$coll"
mkdir -p "$coll"
cp -R "$src/." "$coll/"
# One RETURN text for the mutating modules (Ansible's doc fragments carry
# options only): put into each stub that asks for it.
python3 - "$coll/plugins/modules" "$src/meta/mutation_return.yml" <<'PY'
import glob, sys
mods, ret = sys.argv[1], open(sys.argv[2]).read()
ret = "".join(l for l in ret.splitlines(True) if not l.startswith("#"))
for f in glob.glob(mods + "/xsrescue_*.py"):
    s = open(f).read()
    if "@mutation_return@" in s:
        open(f, "w").write(s.replace("@mutation_return@", "\n" + ret))
PY
rm -f "$coll/meta/mutation_return.yml"
bin=${XSRESCUE_BINARY:-}
if [ -z "$bin" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  bin=$tmp/xsrescue
  scripts/build.sh "$bin" >/dev/null
fi
modules=$(cd "$src/plugins/modules" && ls xsrescue_*.py | sed 's/\.py$//')
first=
for m in $modules; do
  if [ -z "$first" ]; then
    first=$m
    install -m 0755 "$bin" "$coll/plugins/modules/$m"
  else
    ln -s "$first" "$coll/plugins/modules/$m"
  fi
done
# Every module name must be one the binary answers to.
for m in $modules; do
  res=$(cd "$coll/plugins/modules" && "./$m" /dev/null 2>/dev/null || true)
  if [[ $res != '{"changed":'* ]]; then
    echo "$0: $m: the binary does not run as this module" >&2
    exit 1
  fi
done
rm -f "$out/xsrescue-rescue-$version.tar.gz"
(cd "$coll" && ansible-galaxy collection build --force --output-path "$out" >/dev/null)
echo "$coll"
echo "$out/xsrescue-rescue-$version.tar.gz"
