package versionfile

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/release"
)

// Gate statuses. A gate is ok, fails, is unknown (the public code or the
// target does not say), or was not reached (an earlier failure means the
// installer never gets to it).
const (
	StatusOK         = "ok"
	StatusFail       = "fail"
	StatusUnknown    = "unknown"
	StatusNotReached = "not-reached"
	// StatusStops: evaluating the gate raises an exception the installer
	// does not catch: once it gets there it stops ("INSTALL FAILED").
	StatusStops = "stops"
)

// Gate is one condition the installer checks: before it offers Upgrade (a
// verdict's gates) or after the user chose it (its during-upgrade checks).
type Gate struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Status string `json:"status"`
	Reason string `json:"reason"`
	Source string `json:"source"`
}

func gate(name, source, status, format string, args ...any) Gate {
	return Gate{Name: name, OK: status == StatusOK, Status: status, Reason: fmt.Sprintf(format, args...), Source: source}
}

// Outcomes of a verdict.
const (
	OutcomeUpgrade    = "upgrade"            // offered, and every check during the upgrade passes
	OutcomeAborts     = "aborts"             // offered, then a check during the upgrade aborts it
	OutcomeUnverified = "offered-unverified" // offered; a check during the upgrade cannot be evaluated
	OutcomeNo         = "no"                 // not offered
	OutcomeUnknown    = "unknown"            // whether it is offered is unknown
	// OutcomeStops: the installer raises an exception it does not catch
	// while it scans for installations and stops ("INSTALL FAILED"): it
	// offers nothing, not even Restore or a fresh installation.
	OutcomeStops = "stops"
	// OutcomeOtherRoot: the installer takes another partition of the disk
	// as the root (Verdict.RootPartition); this verdict is not about it.
	OutcomeOtherRoot = "other-root"
)

// Outcomes lists every outcome, the offered ones first: a summary by
// outcome iterates it so that none is left out.
var Outcomes = []string{OutcomeUpgrade, OutcomeAborts, OutcomeUnverified, OutcomeUnknown, OutcomeStops, OutcomeOtherRoot, OutcomeNo}

// extra sources of gates some rows have.
const (
	srcSingleSR   = "release/xs8 b0069fc diskutil.py probeDisk: 'Cannot handle multiple SRs on a device' (master 9d587ef2850f)"
	srcBootMode   = "xcp-ng 46df38e82005 product.py is_rootfs_uefi, ExistingInstallation.isUpgradeable"
	srcDOS        = "e002672f26c2 (release/xs8) upgrade.py ThirdGenUpgrader.testUpgradeForbidden, called by doBackup; convertTarget converts only with var/preserve/safe2mbrupgrade"
	srcLayout     = "release/xs8 upgrade.py ThirdGenUpgrader.prepareTarget (e5df6f8aaa74, 88f72d0735a9): 'Old partition layout is unsupported, run prepare_host_upgrade plugin and try again'"
	srcCert       = "xcp-ng 46df38e82005 upgrade.py ThirdGenUpgrader.__init__ (reads etc/xensource/xapi-ssl.pem), testUpgradeForbidden (MIN_KEY_SIZE 2048)"
	srcNotPublic  = "not in the public history"
	minCertKeyBit = 2048
)

// versionKey is the key whose value the installer builds its version from:
// readInventory falls back to PLATFORM_VERSION without PRODUCT_NAME
// (ab1a12040313).
func versionKey(g *Generation, inv *Inventory) string {
	if g.Keys == KeysProductOrPlatform {
		if _, ok := inv.Get("PRODUCT_NAME"); !ok {
			return "PLATFORM_VERSION"
		}
	}
	return g.Key
}

// missingKeys lists what readInventory reads with inventory[KEY] and inv
// lacks (present but empty is present: only a missing key raises), and
// whether BUILD_NUMBER is among them only as an unknown requirement.
func missingKeys(g *Generation, inv *Inventory) (missing []string, buildUnknown bool) {
	need := func(k string) {
		if _, ok := inv.Get(k); !ok {
			missing = append(missing, k)
		}
	}
	build := func() {
		if _, ok := inv.Get("BUILD_NUMBER"); ok {
			return
		}
		switch g.Build {
		case Yes:
			missing = append(missing, "BUILD_NUMBER")
		case Unknown:
			buildUnknown = true
		}
	}
	nameBrand := func() {
		if _, ok := inv.Get("PRODUCT_NAME"); ok {
			need("PRODUCT_BRAND")
		} else {
			need("PLATFORM_NAME")
		}
	}
	switch g.Keys {
	case KeysProduct:
		need("PRODUCT_NAME")
		need("PRODUCT_BRAND")
		need("PRODUCT_VERSION")
		build()
	case KeysProductOrPlatform:
		if _, ok := inv.Get("PRODUCT_NAME"); ok {
			need("PRODUCT_BRAND")
			need("PRODUCT_VERSION")
		} else {
			need("PLATFORM_NAME")
			need("PLATFORM_VERSION")
		}
		build()
	case KeysPlatform, KeysPlatformText:
		build()
		need("PLATFORM_VERSION")
		nameBrand()
		if _, ok := inv.Get("OEM_VERSION"); !ok {
			if g.Keys == KeysPlatformText {
				need("PRODUCT_VERSION_TEXT")
			}
			need("PRODUCT_VERSION")
		}
	}
	return missing, buildUnknown
}

func keysGate(g *Generation, inv *Inventory) Gate {
	s := g.Sources[GateKeys]
	missing, buildUnknown := missingKeys(g, inv)
	switch {
	case len(missing) > 0:
		return gate(GateKeys, s, StatusFail, "missing from etc/xensource-inventory: %s: readInventory raises KeyError and the installer does not list this installation", strings.Join(missing, ", "))
	case buildUnknown:
		return gate(GateKeys, s, StatusUnknown, "BUILD_NUMBER is missing: installers up to 8.2 raise KeyError on it, from 9ae10d5ff92a (2020-11) it is optional; whether this installer has that change is not public (xsrescue version set adds one)")
	}
	return gate(GateKeys, s, StatusOK, "every key readInventory reads is present")
}

// versionString is what readInventory passes to Version.from_string.
func versionString(g *Generation, inv *Inventory, key string) (string, string) {
	val := inv.Value(key)
	b, ok := inv.Get("BUILD_NUMBER")
	switch {
	case ok:
		return val + "-" + b, ""
	case g.Build == Yes:
		return val, " (BUILD_NUMBER is missing, see inventory-keys: compared without a build)"
	}
	return val, ""
}

func versionGate(in Installer, inv *Inventory) Gate { return versionGateFor(in, inv, true) }

// versionGateFor: byName, the upgrader is the one whose product name is
// the installation's (Upgrader.upgrades tests the name first and compares
// no version for another name); without it (an inventory read alone),
// the xenenterprise upgrader.
func versionGateFor(in Installer, inv *Inventory, byName bool) Gate {
	g := in.Generation
	s := g.Sources[GateVersion]
	key := versionKey(g, inv)
	if _, ok := inv.Get(key); !ok {
		return gate(GateVersion, s, StatusNotReached, "%s is missing (see %s): nothing to compare", key, GateKeys)
	}
	str, note := versionString(g, inv, key)
	if _, err := g.Class.Parse(str); err != nil {
		return gate(GateVersion, s, StatusFail, "%s %q cannot be read by this installer's version class (%s): %v; the installation is not listed%s", key, str, g.Class, err, note)
	}
	up := ProductName
	if byName {
		name, ok := installedName(g, inv)
		switch {
		case !ok:
			return gate(GateVersion, s, StatusNotReached, "no product name (see %s): no upgrader compares the version", GateKeys)
		case name == XCPName && g.XCP:
			up = XCPName
			s = srcXCP
		case name != ProductName:
			return gate(GateVersion, s, StatusNotReached, "no upgrader of this installer upgrades a product named %q (see %s): it compares no version", name, GateProductName)
		}
	}
	var res Tri
	var why string
	var err error
	if up == XCPName {
		res, why, err = in.compareXCP(str, key)
	} else {
		var ok bool
		ok, why, err = in.compareRange(str, key)
		res = map[bool]Tri{true: Yes, false: No}[ok]
	}
	switch {
	case err != nil:
		return gate(GateVersion, s, StatusStops, "%s%s", why, note)
	case res == Unknown:
		return gate(GateVersion, s, StatusUnknown, "%s%s", why, note)
	case res == No:
		return gate(GateVersion, s, StatusFail, "%s%s", why, note)
	}
	return gate(GateVersion, s, StatusOK, "%s%s", why, note)
}

// installedName is the name readInventory gives the installation:
// PRODUCT_NAME, or PLATFORM_NAME where the row falls back to it.
func installedName(g *Generation, inv *Inventory) (string, bool) {
	name, ok := inv.Get("PRODUCT_NAME")
	if !ok && g.Keys != KeysProduct {
		name, ok = inv.Get("PLATFORM_NAME")
	}
	return name, ok
}

// compare says whether the installer's xenenterprise upgrader accepts the
// version string str (read from key) and why; a comparison the installer
// raises on is a no here (see compareRange).
func (in Installer) compare(str, key string) (bool, string) {
	ok, why, _ := in.compareRange(str, key)
	return ok, why
}

// compareRange is ThirdGenUpgrader.upgrades' range test with the version
// class's own quirks; err is set when the installer's comparison raises
// (filter_for_upgradeable_products does not catch it: the installer stops).
func (in Installer) compareRange(str, key string) (bool, string, error) {
	g := in.Generation
	c := g.Class
	v, err := c.Parse(str)
	if err != nil {
		return false, fmt.Sprintf("%s %q cannot be read by this installer's version class (%s): %v; the installation is not listed", key, str, c, err), nil
	}
	min, err1 := c.Parse(g.Min)
	own, err2 := c.Parse(in.Max)
	if err1 != nil || err2 != nil {
		return false, fmt.Sprintf("the installer's own range %s cannot be parsed: %v", in.RangeText(), errors.Join(err1, err2)), nil
	}
	above, err := c.Le(min, v)
	if err != nil {
		return false, fmt.Sprintf("%s %q: comparing it with %s raises (%v), which nothing catches: the installer stops (\"INSTALL FAILED\")", key, str, g.Min, err), err
	}
	if !above {
		return false, fmt.Sprintf("%s %q (%s) is older than %s, the oldest this installer upgrades (accepted %s)", key, str, v, g.Min, in.RangeText()), nil
	}
	var below bool
	if g.MaxBelow {
		below, err = c.Lt(v, own)
	} else {
		below, err = c.Le(v, own)
	}
	if err != nil {
		return false, fmt.Sprintf("%s %q: comparing it with the installer's own %s raises (%v), which nothing catches: the installer stops (\"INSTALL FAILED\")", key, str, in.Max, err), err
	}
	if !below {
		why := fmt.Sprintf("%s %q (%s) is newer than the installer's own %s (accepted %s)", key, str, v, in.Max, in.RangeText())
		if q := numericBuildQuirk(c, v, key, str); q != "" {
			why += "; " + q
		}
		return false, why, nil
	}
	return true, fmt.Sprintf("%s %q (%s) is within %s", key, str, v, in.RangeText()), nil
}

// compareXCP is XCPUpgrader.upgrades' range test: [1.6.0, the
// installer's own PLATFORM_VERSION], where that version may be known only
// within bounds (unknown in between).
func (in Installer) compareXCP(str, key string) (Tri, string, error) {
	c := in.Generation.Class
	v, err := c.Parse(str)
	if err != nil {
		return No, fmt.Sprintf("%s %q cannot be read by this installer's version class (%s): %v; the installation is not listed", key, str, c, err), nil
	}
	raises := func(with string, err error) (Tri, string, error) {
		return No, fmt.Sprintf("%s %q: XCPUpgrader's comparison with %s raises (%v), which nothing catches: the installer stops (\"INSTALL FAILED\")", key, str, with, err), err
	}
	rng := in.xcpRangeText()
	min, _ := c.Parse(XCPMin)
	above, err := c.Le(min, v)
	if err != nil {
		return raises(XCPMin, err)
	}
	if !above {
		return No, fmt.Sprintf("%s %q (%s) is older than %s, the oldest XCP this installer upgrades (XCPUpgrader, accepted %s)", key, str, v, XCPMin, rng), nil
	}
	if in.Platform != "" {
		own, _ := c.Parse(in.Platform)
		below, err := c.Le(v, own)
		switch {
		case err != nil:
			return raises(in.Platform, err)
		case !below:
			return No, fmt.Sprintf("%s %q (%s) is newer than the installer's own PLATFORM_VERSION %s (XCPUpgrader, accepted %s)", key, str, v, in.Platform, rng), nil
		}
		return Yes, fmt.Sprintf("%s %q (%s) is within %s (XCPUpgrader: the installation is named %s)", key, str, v, rng, XCPName), nil
	}
	if in.PlatformAbove == "" {
		return Unknown, fmt.Sprintf("%s %q: the installer's own PLATFORM_VERSION, XCPUpgrader's upper bound, is not known", key, str), nil
	}
	lo, _ := c.Parse(in.PlatformAbove)
	hi, _ := c.Parse(in.PlatformBelow)
	if below, err := c.Le(v, lo); err != nil {
		return raises(in.PlatformAbove, err)
	} else if below {
		return Yes, fmt.Sprintf("%s %q (%s) is within %s (XCPUpgrader: the installation is named %s; it is not above %s, which the installer's own platform version is at least)", key, str, v, rng, XCPName, in.PlatformAbove), nil
	}
	if above, err := c.Le(hi, v); err != nil {
		return raises(in.PlatformBelow, err)
	} else if above {
		return No, fmt.Sprintf("%s %q (%s) is at least %s, above the installer's own PLATFORM_VERSION (XCPUpgrader, accepted %s)", key, str, v, in.PlatformBelow, rng), nil
	}
	return Unknown, fmt.Sprintf("%s %q (%s): whether it is within %s depends on the installer's own PLATFORM_VERSION, which is not public", key, str, v, rng), nil
}

// numericBuildQuirk explains ClassArcsBuild's reading of a build that does
// not end in a letter as part of the last arc, with a remedy this class
// reads: a purely numeric build with a letter appended, else a real build
// of the release.
func numericBuildQuirk(c VersionClass, v *pyVersion, key, str string) string {
	if c != ClassArcsBuild || v.hasBuild || len(v.arcs) == 0 {
		return ""
	}
	last, ok := v.arcs[len(v.arcs)-1].(string)
	if !ok || !strings.Contains(last, "-") {
		return ""
	}
	ver, build, _ := strings.Cut(str, "-")
	if isDigits(build) {
		return fmt.Sprintf("the build %s is purely numeric, so this class keeps it in the last arc (%q), which is greater than the plain arc: a build ending in a letter (e.g. %sp) is read as a build and ignored", build, last, build)
	}
	hint := "a build of digits ending in a letter, as real builds are (70446c)"
	rel, ok := release.Lookup(ver)
	if strings.HasPrefix(key, "PLATFORM") {
		rel, ok = release.ForPlatform(ver)
	}
	if ok && rel.Build != "" {
		if w, err := c.Parse(ver + "-" + rel.Build); err == nil && w.hasBuild {
			hint = fmt.Sprintf("the release's real build %s", rel.Build)
		}
	}
	return fmt.Sprintf("the build %q does not end in a letter, so this class keeps it in the last arc (%q), which compares greater than the plain arc: give %s", build, last, hint)
}

func productNameGate(g *Generation, inv *Inventory) Gate {
	s := g.Sources[GateProductName]
	name, ok := installedName(g, inv)
	switch {
	case !ok:
		return gate(GateProductName, s, StatusNotReached, "no PRODUCT_NAME (see %s)", GateKeys)
	case name == XCPName && g.XCP:
		return gate(GateProductName, srcXCP, StatusOK, "the installation's name is %s: XCPUpgrader upgrades it", XCPName)
	case name != ProductName && g.XCP:
		return gate(GateProductName, s, StatusFail, "the installation's name is %q: this installer upgrades only %q and %q (XCPUpgrader)", name, ProductName, XCPName)
	case name != ProductName:
		return gate(GateProductName, s, StatusFail, "the installation's name is %q: this installer upgrades only %q", name, ProductName)
	}
	return gate(GateProductName, s, StatusOK, "the installation's name is %s", ProductName)
}

// firstbootGate is ExistingInstallation.isUpgradeable by the row's rule,
// in its order: the state directory, the os.stat of each digit-named entry
// (an OSError stops the 5.6 - 8.0 installers, which do not catch it), the
// state files, the init-service markers.
func firstbootGate(g *Generation, f FirstbootFacts) Gate {
	gt, _ := firstbootGateStop(g, f)
	return gt
}

// firstbootGateStop is firstbootGate, and whether an unknown result may
// be the installer stopping (an entry resolved on the installer's
// ramdisk, in a generation that does not catch os.stat's OSError).
func firstbootGateStop(g *Generation, f FirstbootFacts) (Gate, bool) {
	gt := firstbootRule(g, f)
	if gt.Status != StatusUnknown || !g.FirstbootUncaught || !f.stateExists() {
		return gt, false
	}
	return gt, len(f.unresolvedScripts()) > 0
}

func firstbootRule(g *Generation, f FirstbootFacts) Gate {
	s := g.Sources[GateFirstboot]
	if g.Firstboot == FirstbootNone {
		return gate(GateFirstboot, s, StatusOK, "this installer has no firstboot test")
	}
	if f.Problem != "" {
		return gate(GateFirstboot, s, StatusUnknown, "xsrescue could not read what the test reads (%s)", f.Problem)
	}
	never := func() Gate {
		return gate(GateFirstboot, s, StatusFail, "firstboot scripts without a state file (they never ran or never finished): %s", strings.Join(f.Missing, ", "))
	}
	paths := func(ps []FirstbootPath) string { return strings.Join(describePaths(ps), "; ") }
	// statCheck is the listing's os.stat of each digit-named entry.
	statCheck := func() (Gate, bool) {
		scripts := f.unresolvedScripts()
		switch {
		case len(f.StatFails) > 0 && g.FirstbootUncaught:
			return gate(GateFirstboot, s, StatusStops, "os.stat raises OSError on %s, and this installer's isUpgradeable does not catch it: the installer stops (\"INSTALL FAILED\") while it scans for installations, offering neither Upgrade nor Restore nor a fresh installation", paths(f.StatFails)), true
		case len(f.StatFails) > 0:
			return gate(GateFirstboot, s, StatusFail, "os.stat raises OSError on %s: isUpgradeable catches it and says no", paths(f.StatFails)), true
		case len(scripts) > 0:
			then := "isUpgradeable says no"
			if g.FirstbootUncaught {
				then = "the installer stops (\"INSTALL FAILED\")"
			}
			return gate(GateFirstboot, s, StatusUnknown, "%s; if it does not exist there os.stat raises and %s", paths(scripts), then), true
		}
		return Gate{}, false
	}
	// missingCheck is the test of a state file per script.
	missingCheck := func() Gate {
		var known, open []string
		for _, m := range f.Missing {
			if f.unresolved(path.Join(firstbootState, m)) {
				open = append(open, m)
			} else {
				known = append(known, m)
			}
		}
		switch {
		case len(known) > 0:
			f.Missing = known
			return never()
		case len(open) > 0:
			return gate(GateFirstboot, s, StatusUnknown, "the state files of %s lead out of the root (%s)", strings.Join(open, ", "), paths(f.Unresolved))
		}
		return gate(GateFirstboot, s, StatusOK, "all %d firstboot scripts have a state file", len(f.Scripts))
	}
	if f.unresolved(firstbootState) {
		return gate(GateFirstboot, s, StatusUnknown, "%s", paths(f.Unresolved))
	}
	switch g.Firstboot {
	case FirstbootCount:
		if !f.StateDir {
			return gate(GateFirstboot, s, StatusFail, "no directory %s: listing it raises and the installer says no", firstbootState)
		}
		if gt, done := statCheck(); done {
			return gt
		}
		if f.StateEntries != len(f.Scripts) {
			return gate(GateFirstboot, s, StatusFail, "%d entries in %s, %d executable firstboot scripts: this installer wants the two counts equal (missing state: %s)", f.StateEntries, firstbootState, len(f.Scripts), orNone(f.Missing))
		}
		return gate(GateFirstboot, s, StatusOK, "%d state files for %d firstboot scripts", f.StateEntries, len(f.Scripts))
	case FirstbootDirOnly, FirstbootStrict:
		if !f.stateExists() {
			return gate(GateFirstboot, s, StatusFail, "no %s: the installer says no", firstbootState)
		}
		if gt, done := statCheck(); done {
			return gt
		}
		if g.Firstboot == FirstbootDirOnly {
			return gate(GateFirstboot, s, StatusOK, "%s present (this installer's per-script test never fails; scripts without state: %s)", firstbootState, orNone(f.Missing))
		}
		return missingCheck()
	case FirstbootStorage, FirstbootInitDone:
		if f.stateExists() {
			if gt, done := statCheck(); done {
				return gt
			}
			return missingCheck()
		}
		var missing, open []string
		for _, m := range []struct {
			path string
			ok   bool
			need bool
		}{{ranNetworkInit, f.RanNetworkInit, g.Firstboot == FirstbootInitDone}, {ranStorageInit, f.RanStorageInit, true}} {
			switch {
			case !m.need || m.ok:
			case f.unresolved(m.path):
				open = append(open, m.path)
			default:
				missing = append(missing, m.path)
			}
		}
		if len(missing) > 0 {
			return gate(GateFirstboot, s, StatusFail, "no %s and no %s: the installer takes it for an installation that never booted", firstbootState, strings.Join(missing, ", "))
		}
		if len(open) > 0 {
			return gate(GateFirstboot, s, StatusUnknown, "no %s, and %s lead out of the root (%s)", firstbootState, strings.Join(open, ", "), paths(f.Unresolved))
		}
		return gate(GateFirstboot, s, StatusOK, "no %s; the init services ran (%s)", firstbootState, map[bool]string{true: "ran-network-init, ran-storage-init", false: "ran-storage-init"}[g.Firstboot == FirstbootInitDone])
	}
	return gate(GateFirstboot, s, StatusUnknown, "unknown firstboot rule %q", g.Firstboot)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// rootGate: does the installer take the examined partition as the root?
func rootGate(g *Generation, d *DiskFacts) Gate {
	s := g.Sources[GateRoot]
	if d == nil || d.Disk == nil {
		return gate(GateRoot, s, StatusUnknown, "not checked: the root was given as a directory; whether the installer finds it depends on the partition table (rule %s): give --disk", g.Root)
	}
	c := d.Disk.RootFor(g.Root)
	switch c.Status {
	case partition.RootNone:
		return gate(GateRoot, s, StatusFail, "the installer finds no root on this disk: %s", c.Reason)
	case partition.RootUnknown:
		return gate(GateRoot, s, StatusUnknown, "%s", c.Reason)
	}
	if c.Partition != d.Partition {
		return gate(GateRoot, s, StatusFail, "the installer takes partition %d as the root (%s), not partition %d examined here: this installation is never offered (examine the other one with --partition %d)", c.Partition, c.Reason, d.Partition, c.Partition)
	}
	if p := d.Disk.Partition(c.Partition); !g.AnyFS && p != nil && p.FS == "ext4" {
		return gate(GateRoot, s, StatusFail, "partition %d holds ext4 with features ext3 lacks: the installer mounts the root as ext3, which fails, and skips it", c.Partition)
	}
	return gate(GateRoot, s, StatusOK, "%s", c.Reason)
}

func bootModeGate(g *Generation, r RootFacts) Gate {
	mode := "BIOS (legacy)"
	why := "etc/fstab mounts no /boot/efi"
	if r.UEFI {
		mode, why = "UEFI", "etc/fstab mounts /boot/efi"
	}
	return gate(GateBootMode, srcBootMode, StatusOK, "the installation boots in %s mode (%s): boot the installer in %s mode too, or it does not offer Upgrade (nor Restore of its backups)", mode, why, mode)
}

// singleSRGate: probeDisk collects SR candidates (every LVM-typed
// partition, and root+2 of every root-*) and raises when more than one is
// an SR volume group.
func singleSRGate(d *DiskFacts) Gate {
	if d == nil || d.Disk == nil {
		return gate(GateSingleSR, srcSingleSR, StatusUnknown, "not checked: give --disk")
	}
	cand := map[int]bool{}
	for _, p := range d.Disk.Partitions {
		if p.Type == "8e" || strings.EqualFold(p.Type, "E6D6D379-F507-44C2-A23C-238F2A3DF928") {
			cand[p.Number] = true
		}
		if strings.HasPrefix(p.Label, "root-") && d.Disk.Partition(p.Number+2) != nil {
			cand[p.Number+2] = true
		}
	}
	var lvm []int
	for n := range cand {
		if p := d.Disk.Partition(n); p != nil && p.FS == "lvm2" {
			lvm = append(lvm, n)
		}
	}
	slices.Sort(lvm)
	if len(lvm) > 1 {
		return gate(GateSingleSR, srcSingleSR, StatusUnknown, "partitions %s hold LVM physical volumes: the installer refuses the disk ('Cannot handle multiple SRs') if more than one is a XenServer SR volume group; xsrescue does not read LVM metadata", joinInts(lvm))
	}
	return gate(GateSingleSR, srcSingleSR, StatusOK, "at most one SR candidate (%d LVM physical volume)", len(lvm))
}

func upgradeKeysCheck(g *Generation, inv *Inventory) Gate {
	s := g.Sources[CheckUpgradeKeys]
	var missing []string
	for _, k := range g.UpgradeKeys {
		if _, ok := inv.Get(k); !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return gate(CheckUpgradeKeys, s, StatusFail, "missing %s: prepareUpgrade raises \"Required information (INSTALLATION_UUID, CONTROL_DOMAIN_UUID) was missing from your xensource-inventory file. Aborting installation\" after the upgrade has started", strings.Join(missing, ", "))
	}
	return gate(CheckUpgradeKeys, s, StatusOK, "%s present", strings.Join(g.UpgradeKeys, ", "))
}

// dosCheck is xs8's testUpgradeForbidden at doBackup, after convertTarget.
func dosCheck(d *DiskFacts, r RootFacts) Gate {
	if d == nil || d.Disk == nil {
		return gate(CheckDOSTable, srcDOS, StatusUnknown, "not checked: give --disk")
	}
	disk := d.Disk
	if disk.Table != partition.TableDOS {
		return gate(CheckDOSTable, srcDOS, StatusOK, "a %s disk: nothing to convert", disk.Table)
	}
	if !r.Safe2MBRUpgrade {
		return gate(CheckDOSTable, srcDOS, StatusFail, "a DOS disk: doBackup raises \"Util partition detected on DOS partition type, upgrade forbidden.\" for every DOS disk (the utility-partition list it tests is never None); only a disk convertTarget converted to GPT passes, which it does only when %s exists (the prepare_host_upgrade plugin)", safe2MBR)
	}
	if why := convertBlocker(d); why != "" {
		return gate(CheckDOSTable, srcDOS, StatusFail, "%s exists, so convertTarget converts the disk to GPT first, but its checks fail (AssertionError, upgrade aborted): %s", safe2MBR, why)
	}
	return gate(CheckDOSTable, srcDOS, StatusOK, "%s exists and the layout is the one convertTarget converts to GPT before the backup", safe2MBR)
}

// convertBlocker is the first of convertTarget's assertions the disk fails.
func convertBlocker(d *DiskFacts) string {
	disk := d.Disk
	if disk.SectorSize != 512 {
		return fmt.Sprintf("%d-byte sectors (it converts only 512-byte-sector disks)", disk.SectorSize)
	}
	root := d.Partition
	n := len(disk.Partitions)
	var util []int
	for _, p := range disk.Partitions {
		if p.Type == "de" {
			util = append(util, p.Number)
		}
	}
	sr := root + 2
	switch {
	case root == 1 && (len(util) != 0 || n != 3):
		return fmt.Sprintf("root on partition 1 needs exactly 3 partitions (root, backup, SR) and no utility partition; this disk has %d", n)
	case root == 2 && n != 4:
		return fmt.Sprintf("root on partition 2 needs exactly 4 partitions (utility, root, backup, SR); this disk has %d", n)
	case root != 1 && root != 2:
		return fmt.Sprintf("the root is partition %d (it expects 1, or 2 behind a utility partition)", root)
	}
	last := disk.Partitions[0]
	for _, p := range disk.Partitions {
		if p.Start > last.Start {
			last = p
		}
	}
	if last.Number != sr {
		return fmt.Sprintf("the SR (partition %d) is not the last partition on the disk", sr)
	}
	if p := disk.Partition(sr); p == nil || p.FS != "lvm2" {
		return fmt.Sprintf("partition %d is not an LVM SR", sr)
	}
	if root == 2 {
		first := disk.Partitions[0]
		for _, p := range disk.Partitions {
			if p.Start < first.Start {
				first = p
			}
		}
		if first.Number != 1 {
			return "the utility partition is not the first on the disk"
		}
		if first.Start < 34*512 {
			return "no room for a GPT before the utility partition"
		}
	}
	return ""
}

// layoutCheck is prepareTarget's test of the partition layout.
func layoutCheck(g *Generation, d *DiskFacts, r RootFacts) Gate {
	if d == nil || d.Disk == nil {
		return gate(CheckLayout, srcLayout, StatusUnknown, "not checked: give --disk")
	}
	has := map[string]bool{}
	for _, p := range d.Disk.Partitions {
		has[p.Role] = true
	}
	if has[partition.RoleLogs] && has[partition.RoleBoot] {
		return gate(CheckLayout, srcLayout, StatusOK, "the new layout (boot and logs partitions)")
	}
	if g.OldLayout == Unknown {
		if has[partition.RoleBoot] {
			return gate(CheckLayout, srcLayout, StatusUnknown, "a boot partition without a logs partition: from 88f72d0735a9 (2020-12) the installer refuses this layout ('Old partition layout is unsupported'); whether this release's installer has that change is not public")
		}
		return gate(CheckLayout, srcLayout, StatusOK, "the old layout: this installer re-partitions it")
	}
	if r.Safe2Upgrade || r.Safe2MBRUpgrade {
		return gate(CheckLayout, srcLayout, StatusOK, "the old layout, and prepare_host_upgrade ran (%s): the installer re-partitions it to the new layout", map[bool]string{true: safe2Upgrade, false: safe2MBR}[r.Safe2Upgrade])
	}
	return gate(CheckLayout, srcLayout, StatusFail, "the old layout (no logs partition) and no %s: prepareTarget raises \"Old partition layout is unsupported, run prepare_host_upgrade plugin and try again\" after the backup partition was rewritten", safe2Upgrade)
}

func certCheck(r RootFacts) Gate {
	switch {
	case r.CertProblem != "":
		return gate(CheckCertificate, srcCert, StatusFail, "%s: the upgrader cannot read the server certificate and the upgrade stops", r.CertProblem)
	case r.CertBits < minCertKeyBit:
		return gate(CheckCertificate, srcCert, StatusFail, "the server certificate's key has %d bits: testUpgradeForbidden raises \"Current server certificate is too small\" (at least %d)", r.CertBits, minCertKeyBit)
	}
	return gate(CheckCertificate, srcCert, StatusOK, "the server certificate's key has %d bits", r.CertBits)
}

func joinInts(n []int) string {
	s := make([]string, len(n))
	for i, x := range n {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// VersionGate is the version gate alone, for an inventory read without
// the rest of the root (doctor on a root it could not open).
func (in Installer) VersionGate(inv map[string]string) Gate {
	if in.Generation.NotPublic != "" {
		return gate(GateVersion, srcNotPublic, StatusUnknown, "unknown: %s", in.Generation.NotPublic)
	}
	return versionGateFor(in, inventoryFromMap(inv), false)
}
