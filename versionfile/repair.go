package versionfile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/target"
)

// dotted parses a version constant of this package.
func dotted(s string) release.Version { x, _ := release.ParseVersion(s); return x }

// requiredPlatform and requiredProduct are the keys version set never
// removes: what the installers and xapi read.
var (
	requiredPlatform = []string{"PLATFORM_VERSION", "PRODUCT_NAME", "PRODUCT_BRAND", "PRODUCT_VERSION", "PRODUCT_VERSION_TEXT",
		"INSTALLATION_UUID", "CONTROL_DOMAIN_UUID", "MANAGEMENT_INTERFACE", "PRIMARY_DISK"}
	requiredProduct = []string{"PRODUCT_NAME", "PRODUCT_BRAND", "PRODUCT_VERSION",
		"INSTALLATION_UUID", "CONTROL_DOMAIN_UUID", "MANAGEMENT_INTERFACE", "PRIMARY_DISK"}
)

// repair records that a planned change satisfies gate.
func (sp *SetPlan) repair(gate, change string) {
	sp.Repairs = append(sp.Repairs, Repair{Gate: gate, Change: change})
}

// gatesOf is the " (for gate ...)" suffix of a change's why, listing the
// repairs made in that file.
func (sp *SetPlan) gatesOf(file string) string {
	if file != InventoryPath {
		return ""
	}
	var gates []string
	for _, r := range sp.Repairs {
		if (r.Gate == GateKeys || r.Gate == CheckUpgradeKeys || r.Gate == GateVersion) && !slices.Contains(gates, r.Gate) {
			gates = append(gates, r.Gate)
		}
	}
	if len(gates) == 0 {
		return ""
	}
	return fmt.Sprintf(" (for the %s installer's %s)", sp.Installer.Release.Product, strings.Join(gates, ", "))
}

// addRequiredKeys adds the keys the installer reads and the inventory
// lacks, where their value is known: PRODUCT_NAME, PRODUCT_BRAND (from the
// *-release file), PRODUCT_VERSION_TEXT, BUILD_NUMBER, and for the 5.x
// installers BACKUP_PARTITION (the device name their installer wrote).
// The host's identity (INSTALLATION_UUID, CONTROL_DOMAIN_UUID) is never
// invented: without it the plan is refused.
func (sp *SetPlan) addRequiredKeys() error {
	g := sp.Installer.Generation
	a := sp.After
	add := func(gate, key, value, why string) error {
		if err := a.Set(key, value); err != nil {
			return xerr.Invalid(err)
		}
		sp.Values[key] = value
		sp.repair(gate, fmt.Sprintf("add %s='%s'", key, value))
		sp.explain("%s='%s' added: %s", key, value, why)
		return nil
	}
	// Keys the version choice already added (a release's real build) are
	// repairs of the same gate.
	had, _ := missingKeys(g, sp.Before)
	for _, k := range had {
		if v, ok := a.Get(k); ok {
			sp.repair(GateKeys, fmt.Sprintf("add %s='%s'", k, v))
		}
	}
	missing, buildUnknown := missingKeys(g, a)
	if buildUnknown {
		missing = append(missing, "BUILD_NUMBER")
	}
	for _, k := range missing {
		var err error
		switch k {
		case "PRODUCT_NAME":
			err = add(GateKeys, k, ProductName, "every XenServer installer reads it and upgrades only "+ProductName)
		case "PRODUCT_BRAND":
			brand := sp.brand()
			if brand == "" {
				return xerr.Refusedf("refusing: the %s installer needs PRODUCT_BRAND, and no *-release file names the brand: add it by hand (PRODUCT_BRAND='XenServer' on XenServer); nothing was changed", sp.Installer.Release.Product)
			}
			err = add(GateKeys, k, brand, "the brand the *-release file names")
		case "PRODUCT_VERSION_TEXT":
			err = add(GateKeys, k, shortVersion(a.Value("PRODUCT_VERSION")), "the short form of PRODUCT_VERSION, as the installer writes it")
		case "BUILD_NUMBER":
			err = add(GateKeys, k, sp.placeholderBuild(), "readInventory reads it (KeyError without it); no build of this version is known, and this one reads as a build in every version class and never makes the version newer")
		default:
			return xerr.Refusedf("refusing: etc/xensource-inventory has no %s, which the %s installer reads: add it by hand; nothing was changed", k, sp.Installer.Release.Product)
		}
		if err != nil {
			return err
		}
	}
	for _, k := range g.UpgradeKeys {
		if _, ok := a.Get(k); ok {
			continue
		}
		if k != "BACKUP_PARTITION" {
			return xerr.Refusedf("refusing: etc/xensource-inventory has no %s: the %s installer would offer Upgrade, then abort in prepareUpgrade (after reformatting the backup partition); xsrescue does not invent a host identity: take it from the xapi database or a backup's inventory; nothing was changed", k, sp.Installer.Release.Product)
		}
		name, err := backupPartitionName(a.Value("PRIMARY_DISK"), sp.backupNumber())
		if err != nil {
			return xerr.Refusedf("refusing: the %s installer needs BACKUP_PARTITION and %v; nothing was changed", sp.Installer.Release.Product, err)
		}
		if err := add(CheckUpgradeKeys, k, name, "prepareUpgrade of the 5.x installers aborts without it; this is the name their installer writes (diskutil.determinePartitionName of PRIMARY_DISK and the backup partition)"); err != nil {
			return err
		}
	}
	return nil
}

// brand is the brand of the first *-release file that has one.
func (sp *SetPlan) brand() string {
	for _, m := range sp.state.Markers {
		if m.Problem == "" && strings.HasSuffix(m.Path, "-release") && m.Path != "etc/os-release" {
			if rl, ok := ParseReleaseLine([]byte(m.Value)); ok && rl.Brand != "" && CheckValue(rl.Brand) == nil {
				return rl.Brand
			}
		}
	}
	return ""
}

// placeholderBuild is a BUILD_NUMBER for a version without a known build:
// digits then a letter, which every version class reads as a build.
func (sp *SetPlan) placeholderBuild() string {
	if rel, ok := release.Lookup(sp.After.Value("PRODUCT_VERSION")); ok && rel.Build != "" && !strings.Contains(rel.Build, "/") {
		return rel.Build
	}
	return "0p"
}

// backupNumber is where the 5.x installers look for the backup: partition
// 2 (RETAIL_BACKUP_PARTITION_NUMBER), the partition after their root 1.
func (sp *SetPlan) backupNumber() int {
	if sp.state.Disk != nil && sp.state.Disk.Partition > 0 {
		return sp.state.Disk.Partition + 1
	}
	return 2
}

// backupPartitionName is the 5.x installer's name for partition n of
// disk: diskutil.determinePartitionName (aad499a03110), which the
// installer wrote into BACKUP_PARTITION (backend.py: the by-id link of the
// partition, or its device name).
func backupPartitionName(disk string, n int) (string, error) {
	switch {
	case disk == "":
		return "", errors.New("PRIMARY_DISK, from which its name is made, is missing too")
	case strings.Contains(disk, "disk/by-id"):
		return fmt.Sprintf("%s-part%d", disk, n), nil
	}
	for _, s := range []string{"cciss", "ida", "rd", "sg", "i2o", "amiraid", "iseries", "emd", "carmel"} {
		if strings.Contains(disk, s) {
			return fmt.Sprintf("%sp%d", disk, n), nil
		}
	}
	return fmt.Sprintf("%s%d", disk, n), nil
}

// tableRepair is the planned partition-table change and the disk as it
// will read afterwards.
type tableRepair struct {
	change plan.Change
	after  *DiskFacts
}

// planTable plans the active flag (DOS) or legacy BIOS bootable attribute
// (GPT) on the root when the installer's root rule needs it and it is the
// only thing keeping the installer from taking this root.
func (sp *SetPlan) planTable(req SetRequest) error {
	g := sp.Installer.Generation
	d := req.Disk
	if d == nil || d.Disk == nil || (g.Root != partition.RootActiveLabel && g.Root != partition.RootActiveLabelDOS) {
		return nil
	}
	if rootGate(g, d).Status != StatusFail {
		return nil
	}
	p := d.Disk.Partition(d.Partition)
	if p == nil || d.Disk.InstallerActive(p) {
		return nil
	}
	if g.Root == partition.RootActiveLabelDOS && d.Disk.Table != partition.TableDOS {
		return xerr.Refusedf("refusing: the %s installer reads DOS partition tables only and this disk is %s: no flag makes it find the root; nothing was changed", sp.Installer.Release.Product, d.Disk.Table)
	}
	after := *d.Disk
	after.Partitions = slices.Clone(d.Disk.Partitions)
	for i := range after.Partitions {
		q := &after.Partitions[i]
		switch {
		case q.Number == d.Partition:
			q.Bootable = true
			q.GPTAttributes = (q.GPTAttributes | 1<<2) &^ 3 // what PlanBootable writes on GPT
		case d.Disk.Table == partition.TableDOS && req.MoveActiveFlag && q.Number <= 4:
			q.Bootable = false
		}
	}
	// Checked before anything is planned: where the installer does not
	// read the table as listed (sector 0, sgdisk's own first line), no flag
	// helps, and the reason says what does.
	if c := after.RootFor(g.Root); c.Status != partition.RootFound || c.Partition != d.Partition {
		return xerr.Refusedf("refusing: even with %s the %s installer would not take partition %d as the root: %s; nothing was changed", activeWord(d.Disk.Table), sp.Installer.Release.Product, d.Partition, c.Reason)
	}
	f, err := os.Open(req.Device)
	if err != nil {
		return fmt.Errorf("disk %s: %w", req.Device, err)
	}
	defer f.Close()
	edit, err := partition.PlanBootable(f, d.Disk, d.Partition, req.MoveActiveFlag)
	if errors.Is(err, partition.ErrOtherActive) {
		return xerr.Refusedf("refusing: the %s installer finds the root only by the active flag, and %w; give --move-active-flag to move the flag to partition %d (the firmware then boots XenServer's boot loader there, not the other partition's); nothing was changed", sp.Installer.Release.Product, err, d.Partition)
	}
	if err != nil {
		return xerr.Refusedf("refusing: the active flag cannot be set on partition %d: %v; nothing was changed", d.Partition, err)
	}
	if edit == nil {
		return nil
	}
	afterFacts := &DiskFacts{Disk: &after, Partition: d.Partition}
	var content []byte
	var ext []plan.RawExtent
	for _, e := range edit.Rewrites {
		content = append(content, e.New...)
		ext = append(ext, plan.RawExtent{Offset: e.Offset, Length: int64(len(e.New))})
	}
	dev, size, n, move := req.Device, d.Disk.Size, d.Partition, req.MoveActiveFlag
	opts := partition.Options{SectorSize: d.Disk.SectorSize}
	sp.table = &tableRepair{after: afterFacts, change: plan.Change{
		Kind: plan.RawWrite, Path: dev, Content: content,
		Raw: &plan.RawRecord{Device: dev, Size: size, Extents: ext, Diff: edit.Diff(),
			Check: func() error {
				f, err := os.Open(dev)
				if err != nil {
					return err
				}
				defer f.Close()
				return partition.CheckBootable(f, size, opts, n, move)
			}},
		Why: fmt.Sprintf("%s (for the %s installer's %s: it takes the root by %s)", edit.Summary, sp.Installer.Release.Product, GateRoot, activeWord(d.Disk.Table)),
	}}
	sp.repair(GateRoot, edit.Summary)
	return nil
}

func activeWord(table string) string {
	if table == partition.TableGPT {
		return "the legacy BIOS bootable attribute"
	}
	return "the active flag"
}

// planFirstboot plans the firstboot repair when the gate fails: nothing
// without mark (the gate stays failing and is reported), else a state file
// per script that never ran, or the init-service markers. A missing
// etc/firstboot.d/state that the installer wants is made by hand (the
// journal creates no directories): refused until then, nothing written.
func (sp *SetPlan) planFirstboot(root *target.Root, mark bool) ([]plan.Change, error) {
	g := sp.Installer.Generation
	f := sp.state.Firstboot
	if firstbootGate(g, f).Status != StatusFail {
		return nil, nil
	}
	if !mark {
		sp.explain("firstboot gate left failing: %s. %s", firstbootGate(g, f).Reason, firstbootRemedy(*sp.Installer, f, sp.Before))
		return nil, nil
	}
	if f.StateNotDir {
		return nil, xerr.Refusedf("refusing: %s is not a directory, so no state file can be created in it; nothing was changed", firstbootState)
	}
	var paths []string
	switch {
	case f.StateDir:
		if g.Firstboot == FirstbootCount && f.StateEntries+len(f.Missing) != len(f.Scripts) {
			return nil, xerr.Refusedf("refusing: %s would hold %d entries for %d firstboot scripts: the 5.5 installer wants the counts equal and xsrescue does not remove state files; nothing was changed", firstbootState, f.StateEntries+len(f.Missing), len(f.Scripts))
		}
		for _, s := range f.Missing {
			paths = append(paths, path.Join(firstbootState, s))
		}
	case g.Firstboot == FirstbootStorage || g.Firstboot == FirstbootInitDone:
		if !exists(root, "var/lib/misc") {
			return nil, xerr.Refusedf("refusing: var/lib/misc does not exist in the root, so the init-service markers cannot be created there; nothing was changed")
		}
		if !f.RanNetworkInit && g.Firstboot == FirstbootInitDone {
			paths = append(paths, ranNetworkInit)
		}
		if !f.RanStorageInit {
			paths = append(paths, ranStorageInit)
		}
	default:
		then := ": an empty directory satisfies it, no script is there"
		if len(f.Scripts) > 0 {
			then = ", which then writes the state file of each executable script (" + strings.Join(f.Scripts, ", ") + "): an empty directory does not do"
		}
		return nil, xerr.Refusedf("refusing: the %s installer needs the directory %s, which is missing, and xsrescue does not create directories: create it by hand (mkdir -p ROOT/%s) and run this again%s; nothing was changed", sp.Installer.Release.Product, firstbootState, firstbootState, then)
	}
	var out []plan.Change
	for _, p := range paths {
		out = append(out, plan.Change{Kind: plan.Create, Path: p, Mode: 0o644, UID: -1, GID: -1,
			Why: fmt.Sprintf("mark done, WITHOUT running it (--mark-firstboot-done; for the %s installer's %s)", sp.Installer.Release.Product, GateFirstboot)})
		sp.repair(GateFirstboot, "create "+p)
	}
	sp.firstbootDone = true
	sp.explain("WARNING: --mark-firstboot-done marks %s as done: they never ran and will not run now", strings.Join(paths, ", "))
	return out, nil
}
