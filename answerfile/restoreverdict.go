package answerfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/versionfile"
)

// Support is whether an installer generation restores a backup from a
// <restore> answer file at all (Status yes, no or unknown), read in its
// answerfile.py.
type Support struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	Source string `json:"source"`
	// Condition is said with every "restore" verdict of the generation:
	// what it also needs on the host, which xsrescue cannot see.
	Condition string `json:"condition"`
}

const (
	hiRepo  = "xenserver/host-installer"
	xcpRepo = "xcp-ng/host-installer"

	noRestoreParser = "this installer has no answer-file restore: its parser reads only the mode attribute of the document element, so <restore> is taken for a fresh installation, which fails at the missing <primary-disk> before anything is written"
	noRestoreCode   = "this installer takes a <restore> document (8ba98e79f6c8, 2011-09) but has no restore code yet (\"# FIXME add restore support\"): processAnswerfile fails on its unset result and the installer stops with an error; parseRestore came with d787e219afc5 (2012-10), after 6.1"
	abortMultiple   = "Multiple backups were found. Unable to deduce which backup to restore from."
	parseRestore    = "answerfile.py Answerfile.parseRestore (d787e219afc5, <backup-disk> since 9a20969d2d92, 2012-10)"
	mpathBothSides  = "; both sides mapped to their multipath master (3f8736b7fb39, 2017-08)"
)

func noParser(commit string) Support {
	return Support{Status: "no", Reason: noRestoreParser, Source: hiRepo + " " + commit + " answerfile.py processAnswerfile, parseFreshInstall"}
}

func parses(repo, commit, extra string) Support {
	return Support{Status: "yes", Reason: "restores the one backup findXenSourceBackups finds whose PRIMARY_DISK is the disk <backup-disk> names; aborts when more than one matches", Source: repo + " " + commit + " " + parseRestore + extra}
}

// restoreSupport has one entry per versionfile generation (a test keeps
// them in step).
var restoreSupport = map[string]Support{
	"5.0":     noParser("fc4eed16e14f"),
	"5.5":     noParser("aad499a03110"),
	"5.6":     noParser("159714fa95c8"),
	"5.6-fp1": noParser("fcb351b16003"),
	"5.6-sp2": {Status: "unknown", Reason: "XenServer 5.6 SP2 was built from a maintenance branch that is not in the public history (the main line took <restore> documents only from 8ba98e79f6c8, 2011-09, and restored from them only from d787e219afc5, 2012-10)", Source: "not public"},
	"6.0":     {Status: "no", Reason: noRestoreCode, Source: hiRepo + " 33dfb39d9d55 (6.0), 3ed95fbaaa4b (6.1) answerfile.py Answerfile.processAnswerfile"},
	"6.2":     parses(hiRepo, "ab1a12040313", ""),
	"6.5":     parses(hiRepo, "20abd302208b", ""),
	"7.0":     parses(hiRepo, "f7a21a19afb9", ""),
	"7.2":     parses(hiRepo, "2c71c452109b", ""),
	"8.0":     parses(hiRepo, "442267f3797b", mpathBothSides),
	"8.1":     parses(hiRepo, "4681befea9ef", mpathBothSides),
	"8.2":     parses(hiRepo, "2b6b70d61840", mpathBothSides),
	"8.2-cu1": parses(hiRepo, "2b6b70d61840..e5df6f8aaa74", mpathBothSides),
	"xcp-ng-8.3": func() Support {
		s := parses(xcpRepo, "46df38e82005", mpathBothSides+"; product.py findXenSourceBackups skips a backup whose PRIMARY_DISK does not exist (44624db, 2023-10)")
		s.Condition = "and only if PRIMARY_DISK exists on the host when the installer runs"
		return s
	}(),
	"xs8": parses(hiRepo, "release/xs8 05720e0c0421", mpathBothSides),
}

// RestoreSupport says whether the installers of generation g restore from
// a <restore> answer file.
func RestoreSupport(g *versionfile.Generation) Support {
	if s, ok := restoreSupport[g.ID]; ok {
		return s
	}
	return Support{Status: "unknown", Reason: fmt.Sprintf("unknown: no answer-file rule is recorded for installer generation %s", g.ID), Source: "none"}
}

// Whether <backup-disk> selects a backup.
const (
	MatchYes     = "yes"
	MatchNo      = "no"
	MatchUnknown = "unknown"
)

// kernelName is a device node the kernel names (sda, nvme0n1, cciss/c0d0):
// never a symlink, so two different ones are two different devices.
var kernelName = lazyre.New(`^/dev/([A-Za-z0-9_.:+-]+|(cciss|ida|rd)/c[0-9]+d[0-9]+)$`)

// MatchBackupDisk says whether the installer's filter keeps a backup whose
// inventory's PRIMARY_DISK is primary for <backup-disk>name</backup-disk>,
// and why. The filter compares realpath("/dev/"+name) with
// realpath(PRIMARY_DISK) on the host (parseRestore, XenServerBackup): the
// same path is the same device; two kernel names are two devices;
// anything else depends on links only the host has.
func MatchBackupDisk(name, primary string) (string, string) {
	dev := name
	if !strings.HasPrefix(dev, "/dev/") {
		dev = "/dev/" + name
	}
	switch {
	case primary == "":
		return MatchNo, "the backup's inventory has no PRIMARY_DISK"
	case strings.HasPrefix(name, "iscsi:"):
		return MatchUnknown, fmt.Sprintf("%s names an iSCSI LUN that the installer looks up in the iBFT when it runs", name)
	case strings.HasPrefix(primary, "/dev/md_"):
		return MatchUnknown, fmt.Sprintf("PRIMARY_DISK %s is a 6.x software RAID name, which installers from bd263ad00560 (2015-12) look up as /dev/md/…_0 instead", primary)
	case dev == primary:
		return MatchYes, fmt.Sprintf("<backup-disk> %s is the backup's PRIMARY_DISK %s", name, primary)
	case kernelName().MatchString(dev) && kernelName().MatchString(primary):
		return MatchNo, fmt.Sprintf("<backup-disk> %s is %s, another device than PRIMARY_DISK %s", name, dev, primary)
	}
	return MatchUnknown, fmt.Sprintf("<backup-disk> %s (%s) and PRIMARY_DISK %s are different names: whether they are the same device depends on the links the host has when the installer runs", name, dev, primary)
}

// Verdict statuses: the installer restores the chosen backup, aborts
// (more than one backup matches), does not restore it, or unknown.
const (
	StatusRestore = "restore"
	StatusAborts  = "aborts"
	StatusNo      = "no"
	StatusUnknown = "unknown"
)

// Verdict is whether one installer, given the answer file, would restore
// the chosen backup.
type Verdict struct {
	Installer  string `json:"installer"`
	Generation string `json:"generation"`
	Status     string `json:"status"`
	// Backup is the chosen backup alone: yes when the installer finds it
	// and <backup-disk> selects it, else no or unknown.
	Backup string `json:"backup"`
	Reason string `json:"reason"`
	Source string `json:"source"`
	// Others are the other partitions of the disk the installer would find
	// and select too (it then aborts); MaybeOthers those it might.
	Others      []int `json:"others"`
	MaybeOthers []int `json:"maybe_others"`
}

// Restorable reports whether the installer restores the chosen backup, or
// would once the other matching backups are gone (allowMultiple).
func (v Verdict) Restorable(allowMultiple bool) bool {
	return v.Status == StatusRestore || (allowMultiple && v.Backup == MatchYes)
}

// VerdictFor evaluates installer in on the marker partitions of a disk
// (backups, as partition.Disk.XenServer.Backups lists them) for an answer
// file naming name, when the backup on partition chosen is the one meant.
func VerdictFor(in versionfile.Installer, backups []partition.Backup, chosen int, name string) Verdict {
	sup := RestoreSupport(in.Generation)
	v := Verdict{Installer: in.Release.Product, Generation: in.Generation.ID, Source: sup.Source, Others: []int{}, MaybeOthers: []int{}}
	if sup.Status != "yes" {
		v.Status, v.Backup, v.Reason = sup.Status, sup.Status, sup.Reason
		return v
	}
	var maybeWhy string
	for _, b := range backups {
		found := versionfile.RestoreVerdictFor(in, b)
		match, why := MatchBackupDisk(name, b.Inventory["PRIMARY_DISK"])
		if b.Partition != chosen {
			switch {
			case found.Status == "no" || match == MatchNo:
			case found.Status == "yes" && match == MatchYes:
				v.Others = append(v.Others, b.Partition)
			default:
				v.MaybeOthers = append(v.MaybeOthers, b.Partition)
				if maybeWhy == "" {
					maybeWhy = fmt.Sprintf("partition %d: found: %s; selected: %s", b.Partition, found.Status, why)
				}
			}
			continue
		}
		v.Source += "; " + found.Source
		foundWhy := strings.TrimPrefix(found.Reason, "yes: ")
		switch {
		case found.Status == "no":
			v.Backup, v.Reason = MatchNo, fmt.Sprintf("the installer does not find the backup on partition %d: %s", b.Partition, found.Reason)
		case match == MatchNo:
			v.Backup, v.Reason = MatchNo, fmt.Sprintf("<backup-disk> does not select the backup on partition %d: %s", b.Partition, why)
		case found.Status != "yes":
			v.Backup, v.Reason = MatchUnknown, fmt.Sprintf("whether the installer finds the backup on partition %d is unknown: %s", b.Partition, found.Reason)
		case match != MatchYes:
			v.Backup, v.Reason = MatchUnknown, fmt.Sprintf("whether <backup-disk> selects the backup on partition %d is unknown: %s", b.Partition, why)
		default:
			v.Backup, v.Reason = MatchYes, fmt.Sprintf("restores the backup on partition %d: %s; %s", b.Partition, foundWhy, why)
			if sup.Condition != "" {
				v.Reason += " (" + sup.Condition + ")"
			}
		}
	}
	switch {
	case v.Backup == "":
		v.Status, v.Backup, v.Reason = StatusNo, MatchNo, fmt.Sprintf("partition %d carries no %s", chosen, versionfile.BackupMarkerPath)
	case v.Backup != MatchYes:
		v.Status = v.Backup
		if len(v.Others) > 0 {
			v.Reason += fmt.Sprintf("; this answer file selects the backup on partition(s) %s instead", ints(v.Others))
		}
	case len(v.Others) > 0:
		v.Status = StatusAborts
		v.Reason = fmt.Sprintf("the backups on partitions %s match <backup-disk> too: parseRestore aborts (\"%s\") before it writes anything", ints(append([]int{chosen}, v.Others...)), abortMultiple)
	case len(v.MaybeOthers) > 0:
		v.Status = StatusUnknown
		v.Reason = fmt.Sprintf("the backup on partition(s) %s might match <backup-disk> too, and parseRestore then aborts (\"%s\"): %s", ints(v.MaybeOthers), abortMultiple, maybeWhy)
	default:
		v.Status = StatusRestore
	}
	return v
}

func ints(n []int) string {
	s := make([]string, len(n))
	for i, x := range n {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// ChooseBackup picks the marker partition of d to restore: want when it is
// not 0; else the only one; else, among several, the root's backup
// partition (the one an upgrade writes). why says which and why. A disk
// where nothing can be restored is refused (exit 3), a partition that does
// not exist or an unresolvable choice is invalid (exit 2).
func ChooseBackup(d *partition.Disk, want int) (b partition.Backup, why string, err error) {
	x := d.XenServer
	switch {
	case x == nil:
		return b, "", xerr.Refusedf("%s has no XenServer root partition (an ext partition labelled root-*): xsrescue looks for backups only on such a disk", d.Path)
	case x.Backups == nil:
		return b, "", fmt.Errorf("%s: the partitions could not be scanned for %s: %s", d.Path, versionfile.BackupMarkerPath, strings.Join(d.Warnings, "; "))
	}
	var nums []int
	for _, c := range x.Backups {
		nums = append(nums, c.Partition)
	}
	pick := func(n int) (partition.Backup, bool) {
		i := slices.IndexFunc(x.Backups, func(c partition.Backup) bool { return c.Partition == n })
		if i < 0 {
			return b, false
		}
		return x.Backups[i], true
	}
	switch {
	case want > 0:
		if c, ok := pick(want); ok {
			return c, "asked for with --partition", nil
		}
		if d.Partition(want) == nil {
			return b, "", xerr.Invalidf("%s has no partition %d", d.Path, want)
		}
		return b, "", xerr.Refusedf("partition %d of %s carries no %s: no installer takes it for a backup", want, d.Path, versionfile.BackupMarkerPath)
	case len(nums) == 0:
		msg := fmt.Sprintf("no partition of %s carries %s: no installer offers a Restore", d.Path, versionfile.BackupMarkerPath)
		if x.Backup != nil {
			msg += fmt.Sprintf(" (partition %d, after the root, has no marker: never written by an upgrade, or reformatted)", x.Backup.Partition)
		}
		return b, "", xerr.Refused(errors.New(msg))
	case len(nums) == 1:
		return x.Backups[0], fmt.Sprintf("the only partition carrying %s", versionfile.BackupMarkerPath), nil
	}
	if x.Backup != nil {
		if c, ok := pick(x.Backup.Partition); ok {
			return c, fmt.Sprintf("the root's backup partition; partitions %s carry %s, --partition N picks another", ints(nums), versionfile.BackupMarkerPath), nil
		}
	}
	return b, "", xerr.Invalidf("partitions %s of %s carry %s and none is the root's backup partition: choose one with --partition N", ints(nums), d.Path, versionfile.BackupMarkerPath)
}

// Host check statuses.
const (
	HostSame   = "same"   // PRIMARY_DISK is the disk examined, on this system
	HostOther  = "other"  // PRIMARY_DISK is another device on this system
	HostAbsent = "absent" // PRIMARY_DISK does not exist on this system
	HostImage  = "image"  // the disk examined is an image: nothing to compare
)

// HostCheck compares, on the system xsrescue runs on, the device the
// backup's PRIMARY_DISK names with the disk examined. The installer
// restores onto the disk PRIMARY_DISK names (restoreFromBackup formats that
// disk's root partition), whatever <backup-disk> says.
type HostCheck struct {
	Status   string `json:"status"`
	Resolved string `json:"resolved"` // what PRIMARY_DISK resolves to here, for same and other
	Message  string `json:"message"`
	// Refuse is set when PRIMARY_DISK is a disk/by-id name (it names the
	// hardware, not the enumeration order) of another device here.
	Refuse bool `json:"refuse"`
}

// CheckHost resolves primary on this system and compares it with disk
// (the --disk path). disk not a block device: HostImage.
func CheckHost(disk, primary string) HostCheck {
	st, err := os.Stat(disk)
	if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return HostCheck{Status: HostImage, Message: fmt.Sprintf("%s is an image: the installer restores onto the disk PRIMARY_DISK %s names on the host it runs on", disk, primary)}
	}
	return comparePaths(disk, primary)
}

// comparePaths is CheckHost for any two paths (files stand for devices in
// tests): the same file, or two nodes of the same device, are the same.
func comparePaths(disk, primary string) HostCheck {
	res, err := filepath.EvalSymlinks(primary)
	if err != nil {
		return HostCheck{Status: HostAbsent, Message: fmt.Sprintf("PRIMARY_DISK %s does not exist on this system (%v): the installer restores onto the disk that name has on the host when it runs", primary, errors.Unwrap(err))}
	}
	if sameDevice(disk, res) {
		return HostCheck{Status: HostSame, Resolved: res, Message: fmt.Sprintf("PRIMARY_DISK %s is %s on this system: the installer restores onto this disk", primary, disk)}
	}
	h := HostCheck{Status: HostOther, Resolved: res}
	if strings.Contains(primary, "/disk/by-id/") {
		h.Refuse = true
		h.Message = fmt.Sprintf("the backup's PRIMARY_DISK %s is %s on this system, not %s: the installer would restore onto %s (restoreFromBackup formats the root partition of the disk PRIMARY_DISK names)", primary, res, disk, res)
		return h
	}
	h.Message = fmt.Sprintf("the backup's PRIMARY_DISK %s is another device on this system (%s), not %s: if the installer enumerates the disks as this system does, it restores onto %s", primary, res, disk, res)
	return h
}

func sameDevice(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false
	}
	if os.SameFile(sa, sb) {
		return true
	}
	ra, aok := sa.Sys().(*syscall.Stat_t)
	rb, bok := sb.Sys().(*syscall.Stat_t)
	return aok && bok && sa.Mode()&os.ModeDevice != 0 && sb.Mode()&os.ModeDevice != 0 && ra.Rdev == rb.Rdev
}

// OtherDisksNote is said with every restore verdict: the installer looks
// further than the disk xsrescue reads.
const OtherDisksNote = "the installer's Restore scans every partition of every disk of the machine (findXenSourceBackups): a backup on another disk whose PRIMARY_DISK is the same disk matches <backup-disk> too, and the installer then aborts (\"" + abortMultiple + "\"); xsrescue reads only this disk"

// BackupMatch is one marker partition of the disk and whether the answer
// file's <backup-disk> selects it.
type BackupMatch struct {
	Partition   int               `json:"partition"`
	Inventory   map[string]string `json:"inventory"` // null: none readable
	PrimaryDisk string            `json:"primary_disk"`
	Match       string            `json:"match"`
	MatchReason string            `json:"match_reason"`
}

// RestorePlan is what `xsrescue answerfile restore` found on a disk: the
// backup chosen, the <backup-disk> name, every marker partition and every
// installer's verdict.
type RestorePlan struct {
	Disk        string            `json:"disk"`
	Partition   int               `json:"partition"`
	Chosen      string            `json:"chosen"`
	Inventory   map[string]string `json:"inventory"`
	PrimaryDisk string            `json:"primary_disk"`
	BackupDisk  string            `json:"backup_disk"`
	DiskFrom    string            `json:"disk_from"` // inventory or as
	Backups     []BackupMatch     `json:"backups"`
	Host        HostCheck         `json:"host"`
	Verdicts    []Verdict         `json:"verdicts"`
	Warnings    []string          `json:"warnings"`
	Note        string            `json:"note"`
}

// PlanRestore chooses the backup of d to restore (want: a partition
// number, or 0), names the disk for <backup-disk> (as, or the backup's
// PRIMARY_DISK without /dev/) and gives the verdict of every installer of
// ins. d must have been inspected with its markers read (ReadMarkers).
func PlanRestore(d *partition.Disk, want int, as string, ins []versionfile.Installer) (*RestorePlan, error) {
	b, why, err := ChooseBackup(d, want)
	if err != nil {
		return nil, err
	}
	p := &RestorePlan{Disk: d.Path, Partition: b.Partition, Chosen: why, Inventory: b.Inventory,
		PrimaryDisk: b.Inventory["PRIMARY_DISK"], BackupDisk: as, DiskFrom: "as",
		Backups: []BackupMatch{}, Verdicts: []Verdict{}, Warnings: append([]string{}, d.Warnings...), Note: OtherDisksNote}
	if as == "" {
		if p.PrimaryDisk == "" {
			what := "has no PRIMARY_DISK"
			if b.Inventory == nil {
				what = "cannot be read"
			}
			return nil, xerr.Refusedf("the inventory (%s) of the backup on partition %d of %s %s: every installer skips that backup (XenServerBackup), and --as cannot change that", versionfile.InventoryPath, b.Partition, d.Path, what)
		}
		p.BackupDisk, p.DiskFrom = DiskName(p.PrimaryDisk), "inventory"
	}
	if err := (&Restore{BackupDisk: p.BackupDisk}).Validate(); err != nil {
		if p.DiskFrom == "inventory" {
			err = fmt.Errorf("the PRIMARY_DISK of the backup on partition %d: %w (add --as NAME)", b.Partition, err)
		}
		return nil, xerr.Invalid(err)
	}
	for _, c := range d.XenServer.Backups {
		m, mwhy := MatchBackupDisk(p.BackupDisk, c.Inventory["PRIMARY_DISK"])
		p.Backups = append(p.Backups, BackupMatch{Partition: c.Partition, Inventory: c.Inventory, PrimaryDisk: c.Inventory["PRIMARY_DISK"], Match: m, MatchReason: mwhy})
	}
	for _, in := range ins {
		p.Verdicts = append(p.Verdicts, VerdictFor(in, d.XenServer.Backups, b.Partition, p.BackupDisk))
	}
	p.Host = CheckHost(d.Path, p.PrimaryDisk)
	if p.Host.Status == HostOther || p.Host.Status == HostAbsent {
		p.Warnings = append(p.Warnings, p.Host.Message)
	}
	return p, nil
}

// Check is the verdict of installer in, and a refusal (exit 3) when the
// answer file must not be written for it: in would not restore the backup
// (or it is unknown whether it would), more than one backup would or might
// match unless allowMultiple, or the backup's PRIMARY_DISK names another
// disk of this system by id.
func (p *RestorePlan) Check(in versionfile.Installer, allowMultiple bool) (Verdict, error) {
	i := slices.IndexFunc(p.Verdicts, func(v Verdict) bool { return v.Installer == in.Release.Product })
	if i < 0 {
		return Verdict{}, fmt.Errorf("no verdict for the %s installer", in.Release.Product)
	}
	v := p.Verdicts[i]
	switch {
	case p.Host.Refuse:
		return v, xerr.Refused(errors.New(p.Host.Message))
	case !v.Restorable(allowMultiple):
		hint := ""
		if v.Backup == MatchYes {
			hint = " (--allow-multiple writes it anyway)"
		}
		return v, xerr.Refusedf("the %s installer would not restore the backup on partition %d of %s from this answer file: %s: %s%s", v.Installer, p.Partition, p.Disk, v.Status, v.Reason, hint)
	}
	return v, nil
}
