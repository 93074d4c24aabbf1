package versionfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// BackupMarkerPath is created by the installer at the root of a backup
// partition (HI upgrade.py doBackup, xenserver.md §3.4).
const BackupMarkerPath = ".xen-backup-partition"

// Gate is one condition the installer checks before it offers Upgrade.
type Gate struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
	Source string `json:"source"`
}

// State is what the installer-relevant files of one root say.
type State struct {
	Inventory  *Inventory
	Markers    []Marker
	Consistent bool
	Firstboot  Gate
	Disk       *DiskFacts // nil for a --root target: disk gates are not evaluated
}

// DiskFacts is what the disk-level gates need from the partition table.
type DiskFacts struct {
	Table   string // "dos" or "gpt"
	Utility bool   // a Dell utility partition precedes the XenServer ones
	// Partition is the root's partition number (0: not in the table, the
	// label gate is not evaluated); FS and Label are what its superblock
	// says.
	Partition int
	FS, Label string
}

// xs8Product is the XenServer 8 installer (host-installer release/xs8),
// the one that refuses DOS disks with a utility partition.
const xs8Product = "8.4.0"

// Verdict is what one installer would do with the disk, and why.
type Verdict struct {
	Installer     string `json:"installer"` // the installer's product version
	Name          string `json:"name"`
	Generation    string `json:"generation"` // "product-version" | "platform-version"
	Era           string `json:"era"`
	Compares      string `json:"compares"` // the inventory key
	Value         string `json:"value"`    // its value in this root
	Accepted      string `json:"accepted"` // the range, e.g. "[2.1.0, 3.2.0]"
	OffersUpgrade bool   `json:"offers_upgrade"`
	Reason        string `json:"reason"`
	Rule          string `json:"rule"`
	Source        string `json:"source"`
	Certainty     string `json:"certainty"`
	// Caveat is set where the 2009 field report would change the answer:
	// etc/redhat-release names a version this installer judges otherwise.
	Caveat string `json:"caveat,omitempty"`
	Gates  []Gate `json:"gates"`
}

// Inspect reads the inventory and every marker of root. A missing or
// malformed inventory is invalid input (exit 2).
func Inspect(root *target.Root) (*State, error) {
	inv, err := ReadInventory(root)
	if err != nil {
		return nil, err
	}
	st := &State{Inventory: inv, Consistent: true}
	for _, p := range MarkerPaths {
		m, _, ok := readMarker(root, p)
		if !ok {
			continue
		}
		if m.Problem == "" && !agrees(m, inv) {
			st.Consistent = false
		}
		st.Markers = append(st.Markers, m)
	}
	if inv.Value("PRODUCT_VERSION") == "" {
		st.Consistent = false
	}
	st.Firstboot = firstbootGate(root)
	return st, nil
}

// ReadInventory reads and parses etc/xensource-inventory through root.
func ReadInventory(root *target.Root) (*Inventory, error) {
	name := path.Join(root.Dir(), InventoryPath)
	if root.Image() != nil {
		name = root.Name() + ": " + InventoryPath
	}
	data, err := readSmall(root, InventoryPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, xerr.Invalidf("%s: no such file: not a XenServer root", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	inv, err := ParseInventory(bytes.NewReader(data), name)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	return inv, nil
}

const firstbootSource = "host-installer product.py ExistingInstallation.isUpgradeable (xenserver.md §3.1 step 4)"

// firstbootGate: every firstboot script (name starting with a digit,
// executable by its owner) in etc/firstboot.d has a state file in
// etc/firstboot.d/state; without that directory, var/lib/misc must hold
// ran-network-init and ran-storage-init ("installation never booted?").
func firstbootGate(root *target.Root) Gate {
	g := Gate{Name: "firstboot", Source: firstbootSource}
	if fi, err := root.Stat("etc/firstboot.d/state"); err == nil && fi.IsDir() {
		entries, err := root.ReadDir("etc/firstboot.d")
		if err != nil {
			g.Reason = fmt.Sprintf("etc/firstboot.d: %v", err)
			return g
		}
		var missing []string
		n := 0
		for _, e := range entries {
			name := e.Name()
			if name == "" || name[0] < '0' || name[0] > '9' {
				continue
			}
			fi, err := root.Stat(path.Join("etc/firstboot.d", name))
			if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o100 == 0 {
				continue
			}
			n++
			if _, err := root.Lstat(path.Join("etc/firstboot.d/state", name)); err != nil {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			g.Reason = fmt.Sprintf("firstboot scripts without a state file (the system never finished its first boot): %s", strings.Join(missing, ", "))
			return g
		}
		g.OK = true
		g.Reason = fmt.Sprintf("all %d firstboot scripts have a state file", n)
		if n == 0 {
			g.Reason = "etc/firstboot.d/state present; no executable firstboot script to wait for"
		}
		return g
	}
	var missing []string
	for _, f := range []string{"var/lib/misc/ran-network-init", "var/lib/misc/ran-storage-init"} {
		if _, err := root.Lstat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		g.Reason = fmt.Sprintf("no etc/firstboot.d/state and missing %s: the installer takes it for an installation that never booted", strings.Join(missing, ", "))
		return g
	}
	g.OK = true
	g.Reason = "no etc/firstboot.d/state; ran-network-init and ran-storage-init present"
	return g
}

// Verdict says whether installer in would offer Upgrade for this root.
func (st *State) Verdict(in Installer) Verdict {
	inv := st.Inventory
	g := in.Generation
	vd := Verdict{
		Installer: in.Release.Product, Name: in.Release.Name, Generation: g.ID, Era: g.Era,
		Compares: g.Key, Value: inv.Value(g.Key), Accepted: in.RangeText(),
		Rule: in.Rule(), Source: g.Source, Certainty: g.Certain,
	}
	ok, why := in.Accepts(vd.Value)
	vd.Gates = []Gate{
		{Name: "version", OK: ok, Reason: why, Source: g.Source},
		requiredGate(inv, g),
		productNameGate(inv),
		st.Firstboot,
	}
	if st.Disk != nil && st.Disk.Partition > 0 {
		vd.Gates = append(vd.Gates, rootLabelGate(*st.Disk))
	}
	if st.Disk != nil && in.Release.Product == xs8Product {
		vd.Gates = append(vd.Gates, xs8DiskGate(*st.Disk))
	}
	vd.OffersUpgrade = true
	var failed []string
	for _, gt := range vd.Gates {
		if !gt.OK {
			vd.OffersUpgrade = false
			failed = append(failed, gt.Reason)
		}
	}
	if vd.OffersUpgrade {
		vd.Reason = "yes: " + why
	} else {
		vd.Reason = "no: " + strings.Join(failed, "; ")
	}
	if g.Era == gen2008.Era {
		vd.Caveat = st.redhatCaveat(in, ok)
	}
	return vd
}

// redhatCaveat: the 2008 installer code compares PRODUCT_VERSION, but a
// 2009 field report has the 5.0 installer follow etc/redhat-release.
func (st *State) redhatCaveat(in Installer, invOK bool) string {
	for _, m := range st.Markers {
		if m.Path != "etc/redhat-release" || m.ProductVersion == "" || m.Problem != "" {
			continue
		}
		if rrOK, _ := in.Accepts(m.ProductVersion); rrOK != invOK {
			verb := "refuse"
			if rrOK {
				verb = "accept"
			}
			return fmt.Sprintf("etc/redhat-release names %s, which this installer would %s if it compared that file as a 2009 field report suggests; make the markers agree (xsrescue version set)", m.ProductVersion, verb)
		}
	}
	return ""
}

// Verdicts is Verdict for each installer.
func (st *State) Verdicts(ins []Installer) []Verdict {
	out := make([]Verdict, len(ins))
	for i, in := range ins {
		out[i] = st.Verdict(in)
	}
	return out
}

func requiredGate(inv *Inventory, g Generation) Gate {
	gt := Gate{Name: "required-keys", Source: "host-installer product.py readInventory, upgrade.py prepareUpgrade (xenserver.md §3.1 step 3, rule 3)"}
	// The compared key is the version gate's business; naming it twice
	// would only repeat that gate's reason.
	keys := slices.DeleteFunc(slices.Clone(g.Required), func(k string) bool { return k == g.Key })
	missing := MissingKeys(inv, keys)
	if len(missing) > 0 {
		gt.Reason = fmt.Sprintf("missing or empty in the inventory: %s (the installer skips the install silently)", strings.Join(missing, ", "))
		return gt
	}
	gt.OK = true
	gt.Reason = fmt.Sprintf("present besides %s: %s", g.Key, strings.Join(keys, ", "))
	return gt
}

// MissingKeys lists the keys of want that are absent or empty in inv.
func MissingKeys(inv *Inventory, want []string) []string {
	var missing []string
	for _, k := range want {
		if inv.Value(k) == "" {
			// PLATFORM_NAME stands in for PRODUCT_NAME+PRODUCT_BRAND, and
			// OEM_VERSION for PRODUCT_VERSION(_TEXT), in readInventory.
			switch {
			case (k == "PRODUCT_NAME" || k == "PRODUCT_BRAND") && inv.Value("PLATFORM_NAME") != "" && slices.Contains(want, "PLATFORM_VERSION"):
				continue
			case k == "PRODUCT_VERSION_TEXT" && inv.Value("OEM_VERSION") != "":
				continue
			}
			missing = append(missing, k)
		}
	}
	return missing
}

// xs8DiskGate: the XenServer 8 installer upgrades a DOS disk (converting
// it to GPT) unless a utility partition precedes the root (HI release/xs8
// upgrade.py, xenserver.md §3.3). XS 9 refuses DOS and the old layout
// altogether; it is not in the release table yet.
func xs8DiskGate(d DiskFacts) Gate {
	gt := Gate{Name: "disk-layout", Source: "host-installer release/xs8 upgrade.py (xenserver.md §3.3, rule 6)"}
	if d.Table == "dos" && d.Utility {
		gt.Reason = "a DOS partition table with a utility partition: the XenServer 8 installer does not upgrade it"
		return gt
	}
	gt.OK = true
	gt.Reason = fmt.Sprintf("%s partition table without a utility partition", d.Table)
	return gt
}

// rootLabelGate: every installer generation finds the installations to
// upgrade by the ext label of a partition starting "root-" (probeDisk,
// xenserver.md §3.1); a root partition without it is not listed at all.
func rootLabelGate(d DiskFacts) Gate {
	gt := Gate{Name: "root-label", Source: "host-installer diskutil.py probeDisk (xenserver.md §3.1, rule 6)"}
	if !strings.HasPrefix(d.FS, "ext") || !strings.HasPrefix(d.Label, "root-") {
		fs := d.FS
		if fs == "" {
			fs = "no known filesystem"
		}
		gt.Reason = fmt.Sprintf("partition %d (%s) is labelled %q, not root-*: the installer finds the root by that label and will not find this installation (e2label it root-XXXXXXXX)", d.Partition, fs, d.Label)
		return gt
	}
	gt.OK = true
	gt.Reason = fmt.Sprintf("partition %d is an %s filesystem labelled %s", d.Partition, d.FS, d.Label)
	return gt
}

func productNameGate(inv *Inventory) Gate {
	gt := Gate{Name: "product-name", Source: "host-installer upgrade.py Upgrader.upgrades: upgrades_product == PRODUCT_NAME (xenserver.md §3.2, §4.1)"}
	name := inv.Value("PRODUCT_NAME")
	if name == "" {
		name = inv.Value("PLATFORM_NAME")
	}
	if name != ProductName {
		gt.Reason = fmt.Sprintf("PRODUCT_NAME is %q, the installer upgrades only %q", name, ProductName)
		return gt
	}
	gt.OK = true
	gt.Reason = "PRODUCT_NAME is " + ProductName
	return gt
}

// Backup is what a backup partition holds.
type Backup struct {
	Partition int `json:"partition"`
	// Marker: .xen-backup-partition is there (true), known absent
	// (false), or could not be read (nil: MarkerError says why).
	Marker        *bool             `json:"marker"`
	MarkerError   *string           `json:"marker_error"`
	Inventory     map[string]string `json:"inventory"`
	Installer     string            `json:"installer"` // the installer the verdict is for
	OffersRestore bool              `json:"offers_restore"`
	Reason        string            `json:"reason"`
	Rule          string            `json:"rule"`
	Warning       string            `json:"warning"`
}

// HasMarker: the marker is known to be there.
func (b *Backup) HasMarker() bool { return b.Marker != nil && *b.Marker }

func ptr[T any](v T) *T { return &v }

// BackupWarning is why the backup partition must be imaged first.
const BackupWarning = "image this partition before any installer run (xsrescue disk save-partition): every upgrade reformats it (host-installer upgrade.py doBackup, xenserver.md §3.4)"

// InspectBackup reads a backup partition's marker and inventory and says
// whether installer in would offer Restore. With in zero, the verdict is for
// the installer of the release the backup holds — the older installer that
// can roll the disk back. HI product.py findXenSourceBackups accepts a
// partition with .xen-backup-partition whose inventory version is within the
// installer's range; for installers before 7.0 the same range as for an
// upgrade is assumed (not verified).
func InspectBackup(root *target.Root, partition int, in *Installer) (*Backup, error) {
	b := &Backup{Partition: partition, Warning: BackupWarning}
	switch _, err := root.Lstat(BackupMarkerPath); {
	case err == nil:
		b.Marker = ptr(true)
	case errors.Is(err, fs.ErrNotExist):
		b.Marker = ptr(false)
	default:
		why := err.Error()
		b.MarkerError = &why
	}
	data, err := readSmall(root, InventoryPath)
	if errors.Is(err, fs.ErrNotExist) {
		b.Reason = "no etc/xensource-inventory on the backup partition: nothing to restore"
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup partition %d: %s: %w", partition, InventoryPath, err)
	}
	inv, err := ParseInventory(bytes.NewReader(data), fmt.Sprintf("backup partition %d: %s", partition, InventoryPath))
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	b.Inventory = inv.Map()
	if in == nil {
		own, err := LookupInstaller(inv.Value("PRODUCT_VERSION"))
		if err != nil {
			b.Reason = fmt.Sprintf("no installer rule is known for the backup's PRODUCT_VERSION %q: %v", inv.Value("PRODUCT_VERSION"), err)
			return b, nil
		}
		in = &own
	}
	b.Installer = in.Release.Product
	b.Rule = fmt.Sprintf("the %s installer offers Restore for a partition holding %s whose inventory %s is within %s (host-installer product.py findXenSourceBackups, xenserver.md §3.4)",
		in.Release.Product, BackupMarkerPath, in.Generation.Key, in.RangeText())
	if b.Marker == nil {
		b.Reason = fmt.Sprintf("unknown: %s could not be read (%s)", BackupMarkerPath, *b.MarkerError)
		return b, nil
	}
	if !*b.Marker {
		b.Reason = fmt.Sprintf("no %s: the installer does not take this partition for a backup", BackupMarkerPath)
		return b, nil
	}
	ok, why := in.Accepts(inv.Value(in.Generation.Key))
	b.OffersRestore = ok
	if ok {
		b.Reason = fmt.Sprintf("yes: the backup holds %s %s; %s", inv.Value("PRODUCT_BRAND"), inv.Value("PRODUCT_VERSION"), why)
	} else {
		b.Reason = "no: " + why
	}
	return b, nil
}

// MaxMarkerSize bounds what is read of a marker file or inventory: real
// ones are under 4 KiB, and a hostile root must not make xsrescue read
// gigabytes.
const MaxMarkerSize = 1 << 20

// ErrNotRegular is returned for a marker that is a FIFO, device or
// directory: opening a FIFO would block forever.
var ErrNotRegular = errors.New("not a regular file")

// readSmall reads a regular file of at most MaxMarkerSize bytes through
// root, following symlinks inside the root only. Errors do not repeat the
// name; callers add it.
func readSmall(root *target.Root, name string) ([]byte, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, xerr.Invalidf("%w (%s)", ErrNotRegular, fi.Mode().Type())
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMarkerSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxMarkerSize {
		return nil, xerr.Invalidf("larger than %d bytes: not a version marker", MaxMarkerSize)
	}
	return data, nil
}
