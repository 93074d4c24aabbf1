package versionfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/installerview"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/target"
)

// BackupMarkerPath is created by the installer at the root of a backup
// partition (host-installer upgrade.py doBackup).
const BackupMarkerPath = ".xen-backup-partition"

// State is what the installer-relevant files of one root say.
type State struct {
	Inventory  *Inventory
	Markers    []Marker
	Consistent bool
	Firstboot  FirstbootFacts
	Root       RootFacts
	Disk       *DiskFacts // nil for a --root target: disk gates are unknown
	// InventoryOutside is set when etc/xensource-inventory is a symlink
	// out of the root (internal/installerview): what the installer reads
	// is unknown.
	InventoryOutside string
}

// DiskFacts is the disk the root is on, for the gates that read the
// partition table (root-partition, single-sr, dos-table, partition-layout).
type DiskFacts struct {
	Disk      *partition.Disk
	Partition int // the partition whose root was examined
}

// Verdict is what one installer would do with the root, and why.
type Verdict struct {
	Installer  string `json:"installer"` // the installer's product version
	Name       string `json:"name"`
	Generation string `json:"generation"` // the model's row, e.g. "6.0"
	Era        string `json:"era"`
	Compares   string `json:"compares"` // the inventory key
	Value      string `json:"value"`    // its value in this root
	Accepted   string `json:"accepted"` // the range, e.g. "[2.1.0, 3.2.0]"
	// OffersUpgrade is true only when every gate passes.
	OffersUpgrade bool `json:"offers_upgrade"`
	// Outcome: upgrade, aborts (offered, then a check during the upgrade
	// stops it), offered-unverified, no, unknown, stops (the installer
	// itself stops while it scans for installations), other-root (it takes
	// another partition as the root: RootPartition).
	Outcome string `json:"outcome"`
	// RootPartition is the partition this installer takes as the root on
	// the disk, 0 when it takes none or the table is not known.
	RootPartition int    `json:"root_partition"`
	Reason        string `json:"reason"`
	Rule          string `json:"rule"`
	Source        string `json:"source"`
	Certainty     string `json:"certainty"`
	// Caveat is set where the 2009 field report would change the answer:
	// etc/redhat-release names a version this installer judges otherwise.
	Caveat string `json:"caveat,omitempty"`
	Gates  []Gate `json:"gates"`
	// DuringUpgrade are the checks made after Upgrade was chosen, in the
	// order the installer makes them.
	DuringUpgrade []Gate `json:"during_upgrade"`
}

// Stale makes v unknown: its root is mounted read-write, so the files it
// was decided on may not be what the mounted filesystem holds (its page
// cache and journal are ahead of the disk). What the disk's bytes say is
// kept in the reason.
func (v *Verdict) Stale(m partition.Mount) {
	v.Reason = fmt.Sprintf("unknown: partition %d is mounted read-write on %s, so its files on the disk may be stale (the disk's bytes say: %s: %s); unmount it (%s) and ask again", m.Partition, m.Point, v.Outcome, v.Reason, m.Release())
	v.Outcome, v.OffersUpgrade = OutcomeUnknown, false
}

// Inspect reads the inventory, every marker and the files the firstboot
// and upgrade checks look at. A missing or malformed inventory is invalid
// input (exit 2).
func Inspect(root *target.Root) (*State, error) {
	inv, err := ReadInventory(root)
	if err != nil {
		return nil, err
	}
	st := &State{Inventory: inv, Consistent: true}
	if err := (installerView{root}).stat(InventoryPath).Unknown(InventoryPath); errors.Is(err, installerview.ErrOutside) {
		st.InventoryOutside = err.Error()
	}
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
	st.Firstboot = readFirstboot(root)
	st.Root = readRootFacts(root)
	return st, nil
}

// ReadInventory reads and parses etc/xensource-inventory through root.
func ReadInventory(root *target.Root) (*Inventory, error) {
	name := path.Join(root.Dir(), InventoryPath)
	if root.Image() != nil {
		name = root.Name() + ": " + InventoryPath
	}
	data, err := readInventoryFile(root)
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

// FirstbootSummary is the firstboot gate of the newest installers (every
// script ran, or both init services did): what `version show` prints
// before the verdicts.
func (st *State) FirstbootSummary() Gate {
	return firstbootGate(generationByID("xs8"), st.Firstboot)
}

// Verdict says whether installer in would offer Upgrade for this root and
// whether that upgrade would get through.
func (st *State) Verdict(in Installer) Verdict {
	inv := st.Inventory
	g := in.Generation
	key := g.Key
	if g.NotPublic == "" {
		key = versionKey(g, inv)
	}
	vd := Verdict{
		Installer: in.Release.Product, Name: in.Release.Name, Generation: g.ID, Era: g.Era,
		Compares: key, Value: inv.Value(key), Accepted: in.RangeText(),
		Rule: in.Rule(), Source: g.Repo + " " + g.Commit, Certainty: in.Certainty(),
		Gates: []Gate{}, DuringUpgrade: []Gate{},
	}
	if g.NotPublic != "" {
		vd.Source = srcNotPublic
		for _, n := range []string{GateRoot, GateKeys, GateVersion, GateProductName, GateFirstboot} {
			vd.Gates = append(vd.Gates, gate(n, srcNotPublic, StatusUnknown, "unknown: %s", g.NotPublic))
		}
		vd.Outcome, vd.Reason = OutcomeUnknown, "unknown: "+g.NotPublic
		return vd
	}
	vd.RootPartition = rootPartition(g, st.Disk)
	fb, mayStop := firstbootGateStop(g, st.Firstboot)
	keys := keysGate(g, inv)
	if st.InventoryOutside != "" {
		keys = gate(GateKeys, keys.Source, StatusUnknown, "unknown: %s (readInventory opens it there: no such file raises IOError and the installer does not list this installation); the values shown are those of the file the link names inside the root", st.InventoryOutside)
	}
	vd.Gates = append(vd.Gates, rootGate(g, st.Disk), keys, versionGate(in, inv), productNameGate(g, inv), fb)
	listed := listedBy(in, inv, vd.Gates[0], vd.Gates[1])
	if g.SingleSR {
		vd.Gates = append(vd.Gates, singleSRGate(st.Disk))
	}
	if g.BootMode {
		vd.Gates = append(vd.Gates, bootModeGate(g, st.Root))
	}
	if g.CertKeySize {
		vd.DuringUpgrade = append(vd.DuringUpgrade, certCheck(st.Root))
	}
	if g.DOSAbort {
		vd.DuringUpgrade = append(vd.DuringUpgrade, dosCheck(st.Disk, st.Root))
	}
	if g.OldLayout != No {
		vd.DuringUpgrade = append(vd.DuringUpgrade, layoutCheck(g, st.Disk, st.Root))
	}
	vd.DuringUpgrade = append(vd.DuringUpgrade, upgradeKeysCheck(g, inv))
	vd.decide(listed, mayStop, st.Disk)
	if g.Class == ClassThreeArcs {
		vd.Caveat = st.redhatCaveat(in)
	}
	return vd
}

// rootPartition is the partition the installer takes as the root.
func rootPartition(g *Generation, d *DiskFacts) int {
	if d == nil || d.Disk == nil {
		return 0
	}
	if c := d.Disk.RootFor(g.Root); c.Status == partition.RootFound {
		return c.Partition
	}
	return 0
}

// listedBy says whether the installer lists the installation (finds the
// root, reads every key, parses the version): only then does it run
// isUpgradeable and the upgraders' comparisons.
func listedBy(in Installer, inv *Inventory, root, keys Gate) Tri {
	g := in.Generation
	key := versionKey(g, inv)
	str, _ := versionString(g, inv, key)
	if _, ok := inv.Get(key); !ok {
		return No
	}
	if _, err := g.Class.Parse(str); err != nil {
		return No
	}
	switch {
	case root.Status == StatusFail || keys.Status == StatusFail:
		return No
	case root.Status == StatusOK && keys.Status == StatusOK:
		return Yes
	}
	return Unknown
}

// decide sets the outcome from the gates and checks, in the installer's
// order: it lists the installation (root, keys, version parsed), runs
// isUpgradeable (firstboot), then the upgraders' comparisons (product
// name, version range). A gate that raises what nothing catches stops the
// installer once it is reached; a gate passed later does not matter then.
// mayStop: the firstboot gate is unknown and may be such a stop.
func (vd *Verdict) decide(listed Tri, mayStop bool, d *DiskFacts) {
	reasons := func(gs []Gate, status string) string {
		var s []string
		for _, g := range gs {
			if g.Status == status {
				s = append(s, g.Name+": "+g.Reason)
			}
		}
		return strings.Join(s, "; ")
	}
	var fb, ver Gate
	for _, g := range vd.Gates {
		switch g.Name {
		case GateFirstboot:
			fb = g
		case GateVersion:
			ver = g
		}
	}
	stops := func(g Gate) {
		vd.Outcome, vd.Reason = OutcomeStops, "the installer stops: "+g.Name+": "+g.Reason
	}
	failed := reasons(vd.Gates, StatusFail)
	var openGates []string
	for _, g := range vd.Gates {
		if g.Status == StatusUnknown || g.Status == StatusStops {
			openGates = append(openGates, g.Name+": "+g.Reason)
		}
	}
	open := strings.Join(openGates, "; ")
	maybe := ""
	switch {
	case fb.Status == StatusStops:
		maybe = "; if the installer lists this installation, it stops: firstboot: " + fb.Reason
	case mayStop:
		maybe = "; the installer may stop in isUpgradeable (see firstboot)"
	case ver.Status == StatusStops:
		maybe = "; if the installer gets to comparing the version, it stops: version: " + ver.Reason
	}
	switch {
	case d != nil && d.Disk != nil && vd.RootPartition != 0 && vd.RootPartition != d.Partition:
		vd.Outcome = OutcomeOtherRoot
		vd.Reason = fmt.Sprintf("takes partition %d as the root, not partition %d examined here (examine it with --partition %d)", vd.RootPartition, d.Partition, vd.RootPartition)
	case listed == No:
		vd.Outcome, vd.Reason = OutcomeNo, "no: "+reasons(vd.Gates, StatusFail)
	case listed == Yes && fb.Status == StatusStops:
		stops(fb)
	case failed != "" && (mayStop || fb.Status == StatusStops):
		// isUpgradeable runs before the upgraders' comparisons: Upgrade is
		// never offered, but the installer may stop before it gets to the
		// failing gate; the worse of the two is the outcome.
		vd.Outcome = OutcomeStops
		vd.Reason = "no Upgrade either way: " + failed + "; but before that the installer may stop (INSTALL FAILED, nothing offered), which is open: " + open
	case failed != "":
		vd.Outcome, vd.Reason = OutcomeNo, "no: "+failed
		if open != "" {
			vd.Reason += "; open, without changing the outcome: " + open
		}
	case listed == Unknown && (fb.Status == StatusStops || mayStop || ver.Status == StatusStops && fb.Status == StatusOK):
		vd.Outcome, vd.Reason = OutcomeUnknown, "unknown: "+reasons(vd.Gates, StatusUnknown)+maybe
	case mayStop:
		vd.Outcome, vd.Reason = OutcomeUnknown, "unknown: firstboot: "+fb.Reason
	case ver.Status == StatusStops && fb.Status == StatusOK:
		stops(ver)
	case reasons(vd.Gates, StatusUnknown) != "":
		vd.Outcome, vd.Reason = OutcomeUnknown, "unknown: "+reasons(vd.Gates, StatusUnknown)+maybe
	case reasons(vd.DuringUpgrade, StatusFail) != "":
		vd.OffersUpgrade = true
		vd.Outcome, vd.Reason = OutcomeAborts, "offered, then aborts during the upgrade: "+reasons(vd.DuringUpgrade, StatusFail)
	case reasons(vd.DuringUpgrade, StatusUnknown) != "":
		vd.OffersUpgrade = true
		vd.Outcome, vd.Reason = OutcomeUnverified, "offered; whether the upgrade gets through is unknown: "+reasons(vd.DuringUpgrade, StatusUnknown)
	default:
		vd.OffersUpgrade = true
		vd.Outcome = OutcomeUpgrade
		for _, g := range vd.Gates {
			if g.Name == GateVersion {
				vd.Reason = "yes: " + g.Reason
			}
		}
	}
}

// FailedGates lists the names of the gates and checks that fail.
func (vd *Verdict) FailedGates() []string {
	var s []string
	for _, g := range append(append([]Gate{}, vd.Gates...), vd.DuringUpgrade...) {
		if g.Status == StatusFail {
			s = append(s, g.Name)
		}
	}
	return s
}

// redhatCaveat: the 2008 installer code compares PRODUCT_VERSION, but a
// 2009 field report has the 5.0 installer follow etc/redhat-release.
func (st *State) redhatCaveat(in Installer) string {
	invOK, _ := in.compare(st.Inventory.Value("PRODUCT_VERSION"), "PRODUCT_VERSION")
	for _, m := range st.Markers {
		if m.Path != "etc/redhat-release" || m.ProductVersion == "" || m.Problem != "" {
			continue
		}
		if rrOK, _ := in.compare(m.ProductVersion, "redhat-release"); rrOK != invOK {
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

// MissingKeys lists the keys of want that are absent or empty in inv.
func MissingKeys(inv *Inventory, want []string) []string {
	var missing []string
	for _, k := range want {
		if inv.Value(k) == "" {
			missing = append(missing, k)
		}
	}
	return missing
}

// MaxMarkerSize bounds what is read of a marker file: real ones are under
// 4 KiB, and a hostile root must not make xsrescue read gigabytes. The
// inventory has its own bound (MaxInventorySize).
const MaxMarkerSize = 1 << 20

// ErrNotRegular is returned for a marker that is a FIFO, device or
// directory: opening a FIFO would block forever.
var ErrNotRegular = errors.New("not a regular file")

// readSmall reads a regular file of at most MaxMarkerSize bytes through
// root, following symlinks inside the root only. Errors do not repeat the
// name; callers add it.
func readSmall(root *target.Root, name string) ([]byte, error) {
	return readCapped(root, name, MaxMarkerSize)
}

// readInventoryFile reads etc/xensource-inventory (at most
// MaxInventorySize bytes) as readSmall reads a marker.
func readInventoryFile(root *target.Root) ([]byte, error) {
	return readCapped(root, InventoryPath, MaxInventorySize)
}

func readCapped(root *target.Root, name string, limit int64) ([]byte, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, xerr.Invalidf("%w (a %s)", ErrNotRegular, infile.Describe(fi.Mode()))
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, xerr.Invalidf("larger than %d bytes: not read (xsrescue's bound)", limit)
	}
	return data, nil
}
