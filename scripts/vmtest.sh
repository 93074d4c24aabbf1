#!/usr/bin/env bash
# The rescue-VM test: xsrescue on real block devices, as on a live USB.
#
# Builds fixture XenServer disks (scripts/vmtest build), an initramfs (static
# busybox, the static xsrescue of scripts/build.sh, the kernel modules for
# virtio-blk, virtio-scsi, sd and loop with their modules.dep, and
# scripts/vmtest/init; no e2fsprogs: xsrescue reads ext2/3/4 itself), boots a Debian kernel under
# QEMU with the disks attached as virtio-blk and as SCSI disks (scsi-hd on
# virtio-scsi) with 512- and 4096-byte logical sectors, runs disk inspect,
# doctor, version show/set, journal undo, save/restore-partition and two
# refusals on a mounted disk in the VM, reads the results from the VM's
# second serial port, then asserts on the host (scripts/vmtest check): roles,
# verdicts, exit codes, and every image byte-identical to the one built.
#
# Needs qemu-system-x86, busybox-static and a Debian kernel package; installs
# them with apt-get when missing (as root, or through sudo). Skips (exit 0,
# with the reason) only where QEMU cannot run at all. Uses KVM when /dev/kvm
# works, TCG otherwise.
#
# Environment:
#   XSRESCUE_VMTEST_ACCEL=tcg|kvm   force the accelerator (default: kvm if it works)
#   XSRESCUE_VMTEST_TIMEOUT=S       seconds before QEMU is killed (default 240)
#   XSRESCUE_VMTEST_KERNEL=VMLINUZ  kernel to boot (its modules: /lib/modules/VERSION,
#                                   VERSION taken from the file name vmlinuz-VERSION)
#   XSRESCUE_VMTEST_KEEP=1          keep the work directory (images, logs) after a pass
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

skip() {
	echo "vmtest: SKIP: $*"
	exit 0
}

[ "$(uname -m)" = x86_64 ] || skip "needs an x86_64 host for the Debian amd64 kernel (this is $(uname -m))"

. scripts/deps.sh
install_deps qemu-system-x86_64=qemu-system-x86 mke2fs=e2fsprogs gcc=gcc ||
	echo "vmtest: could not install every dependency" >&2
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed and apt-get could not install it"
qemu-system-x86_64 -version >/dev/null 2>&1 || skip "qemu-system-x86_64 does not run here"

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
apt_install() {
	echo "vmtest: installing $*" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The VM's userland is busybox: it must be the static build (the initramfs
# holds no C library for it).
static() { [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1; }
static /bin/busybox || apt_install busybox-static || true
static /bin/busybox || skip "no static /bin/busybox and apt-get could not install busybox-static"

# The kernel: XSRESCUE_VMTEST_KERNEL, or the newest /boot/vmlinuz-V that has
# its modules in /lib/modules/V (the host's own kernel may have none).
newest_kernel() {
	local v best=
	for v in $(ls /lib/modules 2>/dev/null | sort -V); do
		[ -f "/boot/vmlinuz-$v" ] && [ -f "/lib/modules/$v/modules.dep" ] && best=$v
	done
	[ -n "$best" ] && echo "/boot/vmlinuz-$best"
}
kernel=${XSRESCUE_VMTEST_KERNEL:-$(newest_kernel || true)}
if [ -z "$kernel" ]; then
	apt_install linux-image-cloud-amd64 || true
	kernel=$(newest_kernel || true)
fi
[ -n "$kernel" ] || skip "no Debian kernel with modules in /boot and /lib/modules, and apt-get could not install linux-image-cloud-amd64"
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
if [ ! -r "$kernel" ] || [ ! -f "$moddir/modules.dep" ]; then
	echo "vmtest: $kernel or $moddir/modules.dep missing" >&2
	exit 1
fi

work=$(mktemp -d /tmp/xsrescue-vmtest.XXXXXX)
keep() { echo "vmtest: work directory kept: $work (console.log: kernel and progress; results.log: framed results)" >&2; }
trap 'keep' ERR

export CGO_ENABLED=1
scripts/build.sh "$work/xsrescue" >/dev/null
go run ./scripts/vmtest build "$work"

# --- initramfs ---------------------------------------------------------------
root=$work/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt,vmtest} "$root$moddir"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh" # for rdinit=/bin/sh when debugging by hand
cp "$work/xsrescue" "$root/bin/xsrescue"
cp scripts/vmtest/init "$root/init"
cp "$work/vm-disks" "$root/vmtest/disks"
# Kernel modules: each wanted module and what modules.dep says it needs
# (the line already lists every dependency), decompressed for busybox.
awk -v want="virtio_pci virtio_blk virtio_scsi sd_mod loop" '
	BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) wanted[w[i]] = 1 }
	{
		m = $1; sub(/:$/, "", m)
		base = m; sub(/.*\//, "", base); sub(/\.ko(\.[a-z]+)?$/, "", base); gsub(/-/, "_", base)
		if (base in wanted) for (i = 1; i <= NF; i++) { f = $i; sub(/:$/, "", f); print f }
	}' "$moddir/modules.dep" | sort -u >"$work/modules"
[ "$(grep -c . "$work/modules")" -ge 5 ] || { echo "vmtest: $moddir/modules.dep lacks the virtio, SCSI or loop modules" >&2; exit 1; }
while read -r m; do
	ko=${m%.ko*}.ko
	mkdir -p "$(dirname "$root$moddir/$ko")"
	case $m in
	*.ko) cp "$moddir/$m" "$root$moddir/$ko" ;;
	*.ko.xz) xz -dc "$moddir/$m" >"$root$moddir/$ko" ;;
	*.ko.zst) zstd -qdc "$moddir/$m" >"$root$moddir/$ko" ;;
	*.ko.gz) gzip -dc "$moddir/$m" >"$root$moddir/$ko" ;;
	*) echo "vmtest: unknown module format $m" >&2; exit 1 ;;
	esac
done <"$work/modules"
awk 'NR == FNR { copied[$1] = 1; next } { m = $1; sub(/:$/, "", m) } m in copied' "$work/modules" "$moddir/modules.dep" |
	sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' >"$root$moddir/modules.dep"
(cd "$root" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$work/initramfs.cpio"

# --- boot --------------------------------------------------------------------
machine=(-smp 2 -m 768 -nodefaults -display none -no-reboot -kernel "$kernel" -initrd "$work/initramfs.cpio")
accel=${XSRESCUE_VMTEST_ACCEL:-}
if [ -z "$accel" ] && [ -w /dev/kvm ]; then
	# KVM works when it boots this VM: a nested /dev/kvm can open, create the
	# machine and still hang the guest. The probe's init only says hello.
	timeout -k 2 10 qemu-system-x86_64 -accel kvm "${machine[@]}" -append "console=ttyS0 panic=-1 vmtest.probe" \
		-serial "file:$work/probe-console.log" -serial "file:$work/probe.log" >/dev/null 2>&1 || true
	grep -q '^@@PROBE' "$work/probe.log" 2>/dev/null && accel=kvm
fi
accel=${accel:-tcg}
# TCG: every CPU feature it emulates. KVM: QEMU's default CPU model (-cpu
# host fails on nested hypervisors that refuse some MSRs).
cpu=(-cpu max)
[ "$accel" = kvm ] && cpu=()
limit=${XSRESCUE_VMTEST_TIMEOUT:-240}
mapfile -t disks <"$work/qemu-args"
echo "vmtest: booting $kernel ($accel, $(du -h "$work/initramfs.cpio" | cut -f1) initramfs), at most ${limit}s"
vm_start=$SECONDS
rc=0
timeout -k 5 "$limit" qemu-system-x86_64 -accel "$accel" "${cpu[@]}" "${machine[@]}" -append "console=ttyS0 panic=-1" \
	-serial "file:$work/console.log" -serial "file:$work/results.log" \
	-device virtio-scsi-pci,id=scsi0 "${disks[@]}" || rc=$?
vm_time=$((SECONDS - vm_start))
if [ "$rc" -ne 0 ]; then
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "vmtest: QEMU killed after ${limit}s" >&2; fi
	echo "vmtest: QEMU exited $rc; the end of the console:" >&2
	tail -n 30 "$work/console.log" >&2 || true
	keep
	exit 1
fi
echo "vmtest: VM ran ${vm_time}s"

if ! go run ./scripts/vmtest check "$work"; then
	echo "vmtest: the end of the console:" >&2
	tail -n 15 "$work/console.log" >&2 || true
	keep
	exit 1
fi
trap - ERR
if [ -n "${XSRESCUE_VMTEST_KEEP:-}" ]; then keep; else rm -rf "$work"; fi
echo "vmtest: PASS in $((SECONDS - start))s (VM ${vm_time}s, $accel)"
