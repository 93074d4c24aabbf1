#!/usr/bin/env bash
# Builds the Debian package of xsrescue with dpkg-deb (part of dpkg, on every
# Debian and Ubuntu system: nothing to download, and the control file is all
# the format needs for one static binary):
#
#   OUTDIR/xsrescue_VERSION_ARCH.deb         /usr/sbin/xsrescue (the static binary of
#                                            scripts/build.sh), its man page
#                                            (/usr/share/man/man8/xsrescue.8.gz, from
#                                            docs/xsrescue.8) and, when the binary has
#                                            `xsrescue completion SHELL`, the bash, zsh
#                                            and fish completions
#   OUTDIR/xsrescue-VERSION-linux-ARCH       the same static binary, for a live USB
#                                            or a kickstart %pre to fetch
#   OUTDIR/SHA256SUMS                        sha256sum -c checks both
#
# The build is reproducible: file dates are SOURCE_DATE_EPOCH (default: the
# commit's date), owners root, gzip without names or dates.
#
# Usage: scripts/package.sh [--test] [OUTDIR]      (OUTDIR default: dist)
#   --test  then checks what it built: dpkg-deb -I/-c, an install into a
#           scratch root with dpkg --root, the binary run there (chrooted when
#           root: a static binary needs no library), removal, SHA256SUMS, and
#           a second build that must be byte-identical.
#
# VERSION: from `git describe --tags` (v1.2.0 -> 1.2.0, v1.2.0-5-gabc1234 ->
# 1.2.0+5.gabc1234); without a tag 0~gitYYYYMMDD.HASH (commit date); a tree
# with uncommitted changes adds +dirty. XSRESCUE_DEB_VERSION overrides it.
# Maintainer: DEBFULLNAME/DEBEMAIL, else git config user.name/user.email.
set -euo pipefail
cd "$(dirname "$0")/.."

test_it=
if [ "${1:-}" = --test ]; then
	test_it=1
	shift
fi
out=${1:-dist}
. scripts/deps.sh
install_deps dpkg-deb=dpkg gzip=gzip sha256sum=coreutils gcc=gcc

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

deb_version() {
	local d
	if d=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		d=${d#v}
		d=${d%-dirty}
		# 1.2.0-5-gabc1234: five commits after the tag.
		if [[ $d =~ ^(.*)-([0-9]+)-(g[0-9a-f]+)$ ]]; then
			d="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
		fi
	else
		d="0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	fi
	if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		d="$d+dirty"
	fi
	echo "$d"
}
version=${XSRESCUE_DEB_VERSION:-$(deb_version)}
case $(go env GOARCH) in
386) arch=i386 ;;
arm) arch=armhf ;;
*) arch=$(go env GOARCH) ;;
esac
maintainer="${DEBFULLNAME:-$(git config user.name || true)} <${DEBEMAIL:-$(git config user.email || true)}>"
if [ "$maintainer" = " <>" ]; then
	echo "scripts/package.sh: set DEBFULLNAME and DEBEMAIL (or git config user.name/user.email) for the Maintainer field" >&2
	exit 2
fi

# build DIR: the three files into DIR.
build() {
	local dir=$1 stage pkg sh dst
	stage=$(mktemp -d)
	pkg=$stage/pkg
	scripts/build.sh "$stage/xsrescue" >/dev/null
	install -D -m 0755 "$stage/xsrescue" "$pkg/usr/sbin/xsrescue"
	install -d -m 0755 "$pkg/usr/share/man/man8"
	gzip -9n <docs/xsrescue.8 >"$pkg/usr/share/man/man8/xsrescue.8.gz"
	chmod 0644 "$pkg/usr/share/man/man8/xsrescue.8.gz"
	for sh in bash zsh fish; do
		if ! "$stage/xsrescue" completion "$sh" >"$stage/completion" 2>/dev/null || [ ! -s "$stage/completion" ]; then
			continue
		fi
		case $sh in
		bash) dst=usr/share/bash-completion/completions/xsrescue ;;
		zsh) dst=usr/share/zsh/vendor-completions/_xsrescue ;;
		fish) dst=usr/share/fish/vendor_completions.d/xsrescue.fish ;;
		esac
		install -D -m 0644 "$stage/completion" "$pkg/$dst"
	done
	if [ -f LICENSE ]; then
		install -D -m 0644 LICENSE "$pkg/usr/share/doc/xsrescue/copyright"
	fi
	find "$pkg" -type d -exec chmod 0755 {} +
	mkdir -p "$pkg/DEBIAN"
	cat >"$pkg/DEBIAN/control" <<EOF
Package: xsrescue
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --apparent-size "$pkg/usr" | cut -f1)
Recommends: e2fsprogs, bash-completion
Suggests: lvm2, zfsutils-linux | zfs-fuse
Section: admin
Priority: optional
Description: offline disk and metadata repair for XenServer, AIX, Solaris and Xen guests
 One static binary for a live USB or a kickstart %pre in front of a server
 that a failed upgrade or downgrade left unbootable: it reads partition
 tables and names XenServer's partition roles, shows and rewrites the version
 markers installers compare, patches the xapi database, removes ghost AIX
 device majors, repairs Solaris zone roots and fixes Xen guests.
 .
 Read-only commands never write a byte; every change is shown as a diff,
 snapshotted into a journal, applied atomically and can be undone.
 .
 It reads ext2/3/4 itself; e2fsprogs provides the e2fsck and e2label that
 doctor's plans may name.
EOF
	chmod 0644 "$pkg/DEBIAN/control"
	find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	mkdir -p "$dir"
	dpkg-deb --root-owner-group -Zxz --build "$pkg" "$dir/xsrescue_${version}_${arch}.deb" >/dev/null
	cp "$stage/xsrescue" "$dir/xsrescue-$version-linux-$arch"
	(cd "$dir" && sha256sum "xsrescue_${version}_${arch}.deb" "xsrescue-$version-linux-$arch" >SHA256SUMS)
	rm -rf "$stage"
}

build "$out"
deb=$out/xsrescue_${version}_${arch}.deb
echo "$deb"
[ -n "$test_it" ] || exit 0

# --- the test ----------------------------------------------------------------
fail() {
	echo "scripts/package.sh --test: FAIL: $*" >&2
	exit 1
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for f in Package:xsrescue "Version:$version" "Architecture:$arch"; do
	[ "$(dpkg-deb -f "$deb" "${f%%:*}")" = "${f#*:}" ] || fail "dpkg-deb -f: ${f%%:*} is not ${f#*:}"
done
dpkg-deb -I "$deb" >"$scratch/info" || fail "dpkg-deb -I"
grep -q '^ Description: offline disk and metadata repair' "$scratch/info" || fail "dpkg-deb -I: no description"

# The listing: exactly these files, owned by root; completions iff the binary has them.
dpkg-deb -c "$deb" >"$scratch/listing" || fail "dpkg-deb -c"
want="./usr/sbin/xsrescue
./usr/share/man/man8/xsrescue.8.gz"
if "$out/xsrescue-$version-linux-$arch" completion bash >/dev/null 2>&1; then
	want="$want
./usr/share/bash-completion/completions/xsrescue
./usr/share/fish/vendor_completions.d/xsrescue.fish
./usr/share/zsh/vendor-completions/_xsrescue"
fi
[ -f LICENSE ] && want="$want
./usr/share/doc/xsrescue/copyright"
got=$(awk '$1 !~ /^d/ { print $6 }' "$scratch/listing" | sort)
[ "$got" = "$(sort <<<"$want")" ] || fail "dpkg-deb -c lists
$got
want
$(sort <<<"$want")"
awk '$2 != "root/root" { bad = 1 } END { exit bad }' "$scratch/listing" || fail "files not owned by root/root: $(cat "$scratch/listing")"
grep -q '^-rwxr-xr-x .* ./usr/sbin/xsrescue$' "$scratch/listing" || fail "/usr/sbin/xsrescue is not mode 0755"

# Install into a scratch root, run the binary there, remove it.
r=$scratch/root
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers"
touch "$r/var/lib/dpkg/status"
dpkg --root="$r" --force-not-root --log=/dev/null -i "$deb" >"$scratch/dpkg.log" 2>&1 || fail "dpkg --root -i: $(cat "$scratch/dpkg.log")"
[ "$(dpkg-query --root="$r" -W -f='${Status} ${Version}' xsrescue)" = "install ok installed $version" ] || fail "dpkg-query: not installed"
if [ "$(id -u)" -eq 0 ]; then
	# The scratch root holds no C library: only a static binary runs there.
	ran=$(chroot "$r" /usr/sbin/xsrescue --version) || fail "xsrescue --version in the scratch root (chroot)"
else
	ran=$("$r/usr/sbin/xsrescue" --version) || fail "xsrescue --version from the scratch root"
fi
[[ $ran == "xsrescue version "* ]] || fail "xsrescue --version printed: $ran"
"$r/usr/sbin/xsrescue" disk --help >/dev/null || fail "xsrescue disk --help"
gzip -dc "$r/usr/share/man/man8/xsrescue.8.gz" | cmp -s - docs/xsrescue.8 || fail "the installed man page is not docs/xsrescue.8"
if [ -f "$r/usr/share/bash-completion/completions/xsrescue" ]; then
	bash -n "$r/usr/share/bash-completion/completions/xsrescue" || fail "the bash completion is not valid bash"
fi
dpkg --root="$r" --force-not-root --log=/dev/null -r xsrescue >"$scratch/dpkg.log" 2>&1 || fail "dpkg --root -r: $(cat "$scratch/dpkg.log")"
[ ! -e "$r/usr/sbin/xsrescue" ] || fail "dpkg -r left /usr/sbin/xsrescue"

(cd "$out" && sha256sum --quiet -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS"

# Reproducible: a second build gives the same bytes.
build "$scratch/again"
cmp -s "$out/SHA256SUMS" "$scratch/again/SHA256SUMS" || fail "a second build differs:
$(diff "$out/SHA256SUMS" "$scratch/again/SHA256SUMS")"

echo "scripts/package.sh --test: ok: $(basename "$deb") ($(du -h "$deb" | cut -f1)): $(wc -l <<<"$got") files, installed, ran \"$ran\", removed; SHA256SUMS verified; rebuilt byte-identical"
