package partition

import (
	"fmt"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

// Partition types the host installer tests (host-installer disktools.py,
// probeDisk). ID_LINUX on GPT is the Microsoft basic data GUID, "for historic
// reasons".
const (
	dosLinux   = "83"
	dosLVM     = "8e"
	dosSwap    = "82"
	dosUtility = "de"
)

func isLinuxType(t string) bool {
	return t == dosLinux || t == string(gpt.MicrosoftBasicData)
}

// RootType reports whether p's type is one the installer takes a root
// partition from (DOS 83, GPT basic data).
func (p Partition) RootType() bool { return isLinuxType(p.Type) }

func isLVMType(t string) bool { return t == dosLVM || t == string(gpt.LinuxLVM) }

func isSwapType(t string) bool { return t == dosSwap || t == string(gpt.LinuxSwap) }

func isBootType(t string) bool {
	return t == string(gpt.EFISystemPartition) || t == string(gpt.BIOSBoot)
}

func isExt(fs string) bool { return fs == "ext2" || fs == "ext3" || fs == "ext4" }

// assignRoles applies the installer's probeDisk rules: the root is an ext
// filesystem on an ID_LINUX partition labelled "root-*"; backup is root+1;
// the SR is root+2 when it is LVM; boot is an EFI System or BIOS-boot
// partition; logs is an ext "logs-*"; swap by type. The utility partition
// (DOS 0xDE, or GPT name or label DELLUTILITY) is marked on any disk; the
// other roles only on a disk with a XenServer root.
func assignRoles(d *Disk) {
	var roots []int
	for i := range d.Partitions {
		p := &d.Partitions[i]
		if p.Type == dosUtility || strings.EqualFold(p.Name, "DELLUTILITY") || strings.EqualFold(p.Label, "DELLUTILITY") {
			p.Role = RoleUtility
		}
		if isLinuxType(p.Type) && isExt(p.FS) && strings.HasPrefix(p.Label, "root-") {
			roots = append(roots, p.Number)
		}
	}
	if len(roots) == 0 {
		return
	}
	// Every installer from 5.6 on walks the partitions by number and keeps
	// the last root-* it accepts (probeDisk overwrites its root): that is
	// the installation it would upgrade, so it is the one xsrescue examines.
	root := roots[len(roots)-1]
	d.XenServer = &XenServer{RootPartition: root}
	d.XenServer.RootByGeneration = d.RootChoices()
	if len(roots) > 1 {
		d.warnf("%d partitions are labelled root-* (%v): the installers take one each (%s); xsrescue examines partition %d", len(roots), roots, choicesText(d.XenServer.RootByGeneration), root)
	}
	d.Partition(root).Role = RoleRoot
	if b := d.Partition(root + 1); b != nil {
		b.Role = RoleBackup
		d.XenServer.Backup = &Backup{Partition: b.Number}
	} else {
		d.warnf("no backup partition %d after root partition %d: an installer upgrade has nowhere to keep the old system", root+1, root)
	}
	if sr := d.Partition(root + 2); sr != nil && (isLVMType(sr.Type) || sr.FS == "lvm2") {
		sr.Role = RoleSR
	}
	for i := range d.Partitions {
		p := &d.Partitions[i]
		if p.Role != "" {
			continue
		}
		switch {
		case isBootType(p.Type):
			p.Role = RoleBoot
		case isLinuxType(p.Type) && isExt(p.FS) && strings.HasPrefix(p.Label, "logs-"):
			p.Role = RoleLogs
		case isSwapType(p.Type):
			p.Role = RoleSwap
		}
	}
	d.Layout = layout(d)
	for _, n := range []int{root, root + 1} {
		if p := d.Partition(n); p != nil && p.NeedsRecovery && isExt(p.FS) {
			d.Warnings = append(d.Warnings, RecoveryWarning(*p))
		}
	}
	for _, p := range d.Partitions {
		if p.Errors != nil {
			d.Warnings = append(d.Warnings, FSErrorsWarning(p))
		}
	}
}

// FSErrorsWarning is the warning Inspect gives for a partition whose ext
// superblock records errors (p.Errors not nil): a caller that reports
// those errors itself recognises it by this text.
func FSErrorsWarning(p Partition) string {
	return fmt.Sprintf("%s: %s (the kernel met corruption on it): check it with e2fsck -f before anything mounts it; xsrescue refuses to change it until then", partName(p), p.Errors)
}

// partName is "root partition 1", or "partition 5" without a role.
func partName(p Partition) string {
	if p.Role != "" {
		return fmt.Sprintf("%s partition %d", p.Role, p.Number)
	}
	return fmt.Sprintf("partition %d", p.Number)
}

// RecoveryWarning is the warning Inspect gives for a XenServer root or
// backup partition whose ext journal needs recovery, recognisable as
// FSErrorsWarning is.
func RecoveryWarning(p Partition) string {
	return fmt.Sprintf("%s partition %d: ext journal needs recovery (unclean shutdown): its files are read with the journal's committed transactions replayed in memory, as the installer's mount will see them (nothing is written)", p.Role, p.Number)
}

// layout names the generation of the partition scheme (docs/disk.md).
func layout(d *Disk) string {
	has := map[string]bool{}
	for _, p := range d.Partitions {
		has[p.Role] = true
	}
	switch {
	case !has[RoleRoot] || !has[RoleBackup]:
		return LayoutUnknown
	case has[RoleLogs] && has[RoleSwap] && has[RoleBoot]:
		return LayoutNew
	case has[RoleLogs] || has[RoleSwap]:
		return LayoutUnknown
	case has[RoleBoot]:
		return LayoutLegacyBoot
	}
	return LayoutLegacy
}
