package versionfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/xsrescue/xsrescue/internal/installerview"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/target"
)

// RestoreVerdict is whether one installer would offer Restore of one
// backup partition.
type RestoreVerdict struct {
	Installer     string `json:"installer"`
	Generation    string `json:"generation"`
	OffersRestore bool   `json:"offers_restore"`
	Status        string `json:"status"` // yes, no, unknown
	Reason        string `json:"reason"`
	Source        string `json:"source"`
}

// Backup is what a partition carrying (or meant to carry) the backup
// marker holds, and what the installers would do with it.
type Backup struct {
	Partition int `json:"partition"`
	// Marker: .xen-backup-partition is there (true), known absent
	// (false), or could not be read (nil: MarkerError says why).
	Marker      *bool             `json:"marker"`
	MarkerError *string           `json:"marker_error"`
	Inventory   map[string]string `json:"inventory"`
	// InventoryError says why Inventory could not be read (nil when it
	// was read or is known to be absent).
	InventoryError *string `json:"inventory_error"`
	// Installer, OffersRestore and Reason are the verdict of one
	// installer: the one asked for, else the one of the release the backup
	// holds (the older installer that can roll the disk back).
	Installer     string           `json:"installer"`
	OffersRestore bool             `json:"offers_restore"`
	Reason        string           `json:"reason"`
	Rule          string           `json:"rule"`
	Warning       string           `json:"warning"`
	Verdicts      []RestoreVerdict `json:"verdicts"`
}

// Stale makes the Restore verdicts unknown: the backup partition is
// mounted read-write, so what it holds on the disk may be stale. What the
// disk's bytes say is kept in the reasons.
func (b *Backup) Stale(m partition.Mount) {
	why := fmt.Sprintf("unknown: partition %d is mounted read-write on %s, so its files on the disk may be stale", m.Partition, m.Point)
	b.Reason = fmt.Sprintf("%s (the disk's bytes say: %s)", why, b.Reason)
	b.OffersRestore = false
	for i := range b.Verdicts {
		v := &b.Verdicts[i]
		v.Reason = fmt.Sprintf("%s (the disk's bytes say: %s: %s)", why, v.Status, v.Reason)
		v.Status, v.OffersRestore = StatusUnknown, false
	}
}

// HasMarker: the marker is known to be there.
func (b *Backup) HasMarker() bool { return b.Marker != nil && *b.Marker }

// BackupWarning is why the backup partition must be imaged first.
const BackupWarning = "image this partition before any installer run (xsrescue disk save-partition): every upgrade reformats it (host-installer upgrade.py doBackup)"

// OtherDisksNote is said with every list of backups: the installer's
// Restore looks further than the disk xsrescue reads.
const OtherDisksNote = "the installer's Restore scans every partition of every disk of the machine (findXenSourceBackups): backups on other disks are offered too and are not listed here; an answer-file restore takes only the backup whose PRIMARY_DISK is the disk it names"

// RestoreVerdictFor says whether installer in would offer Restore of
// partition b, as read: its marker present, absent or unknown, its
// inventory (nil: absent, or unknown when b.InventoryError says why). What
// could not be read makes the verdict unknown, unless the rest already
// says no.
func RestoreVerdictFor(in Installer, b partition.Backup) RestoreVerdict {
	g := in.Generation
	rv := RestoreVerdict{Installer: in.Release.Product, Generation: g.ID, Status: "no", Source: g.Sources["restore"]}
	set := func(status, format string, args ...any) RestoreVerdict {
		rv.Status, rv.Reason = status, fmt.Sprintf(format, args...)
		rv.OffersRestore = status == "yes"
		return rv
	}
	switch {
	case g.NotPublic != "":
		rv.Source = srcNotPublic
		return set("unknown", "unknown: %s", g.NotPublic)
	case b.Marker != nil && !*b.Marker:
		return set("no", "no %s: the installer does not take this partition for a backup", BackupMarkerPath)
	case b.Inventory == nil && b.InventoryError != nil:
		return set("unknown", "unknown: etc/xensource-inventory could not be read (%s)", *b.InventoryError)
	case b.Inventory == nil:
		return set("no", "no readable etc/xensource-inventory: the installer skips it")
	}
	if b.Marker == nil {
		got := restoreVerdict(in, b.Inventory, set)
		if got.Status == "no" {
			return got // whatever the marker: the rest rules it out
		}
		return set("unknown", "unknown: whether %s is there could not be read (%s); if it is: %s", BackupMarkerPath, *b.MarkerError, got.Reason)
	}
	return restoreVerdict(in, b.Inventory, set)
}

// restoreVerdict is RestoreVerdictFor of a partition known to carry the
// marker, whose inventory is inv; set makes the verdict.
func restoreVerdict(in Installer, inv map[string]string, set func(status, format string, args ...any) RestoreVerdict) RestoreVerdict {
	g := in.Generation
	if g.Restore == RestorePrimaryDisk {
		if _, ok := inv["PRIMARY_DISK"]; !ok {
			return set("no", "the inventory has no PRIMARY_DISK: this installer skips it")
		}
		return set("yes", "yes: %s present and PRIMARY_DISK set (this installer checks no version)", BackupMarkerPath)
	}
	mapInv := inventoryFromMap(inv)
	missing, buildUnknown := missingKeys(g, mapInv)
	if _, ok := inv["PRIMARY_DISK"]; !ok {
		missing = append(missing, "PRIMARY_DISK")
	}
	if len(missing) > 0 {
		return set("no", "the backup's inventory lacks %s: XenServerBackup raises and the installer skips it", strings.Join(missing, ", "))
	}
	key := versionKey(g, mapInv)
	str, _ := versionString(g, mapInv, key)
	v, err := g.Class.Parse(str)
	if err != nil {
		return set("no", "the backup's %s %q cannot be read by this installer's version class: %v; it skips the backup", key, str, err)
	}
	boot := ""
	if g.BootMode {
		boot = " (and only when the installer is booted in the same BIOS/UEFI mode as the backed-up system)"
	}
	if g.RestoreMin == "" {
		if buildUnknown {
			return set("unknown", "the backup has no BUILD_NUMBER; whether this installer needs it is unknown (it checks no version)")
		}
		return set("yes", "yes: the backup holds %s %s (%s %s); this installer checks no version%s", inv["PRODUCT_BRAND"], inv["PRODUCT_VERSION"], key, str, boot)
	}
	// findXenSourceBackups: backup.version >= XENSERVER_MIN_VERSION and <= own.
	min, _ := g.Class.Parse(g.RestoreMin)
	own, _ := g.Class.Parse(in.Max)
	above, err := g.Class.Le(min, v)
	if err == nil && above {
		above, err = g.Class.Le(v, own)
	}
	switch {
	case err != nil:
		return set("no", "comparing the backup's %s %q raises (%v): the installer skips it", key, str, err)
	case !above:
		return set("no", "the backup's %s %q is outside [%s, %s]: the installer skips it", key, str, g.RestoreMin, in.Max)
	case buildUnknown:
		return set("unknown", "the backup has no BUILD_NUMBER; whether this installer needs it is unknown")
	}
	return set("yes", "yes: the backup holds %s %s; %s %q is within [%s, %s]%s", inv["PRODUCT_BRAND"], inv["PRODUCT_VERSION"], key, str, g.RestoreMin, in.Max, boot)
}

// inventoryFromMap builds an Inventory from parsed key/values (the
// partition package's reading of a backup), in key order.
func inventoryFromMap(m map[string]string) *Inventory {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	inv := &Inventory{}
	for _, k := range keys {
		inv.Entries = append(inv.Entries, Entry{Key: k, Value: m[k], Quoted: true, Raw: k + "='" + m[k] + "'"})
	}
	return inv
}

// NewBackup gives every installer's verdict on the backup partition pb
// (as partition.Disk.ReadMarkers read it), and the one for `only` (or the
// backup's own release's installer) as its headline.
func NewBackup(pb partition.Backup, ins []Installer, only *Installer) *Backup {
	inv := pb.Inventory
	b := &Backup{Partition: pb.Partition, Marker: pb.Marker, MarkerError: pb.MarkerError, Inventory: inv,
		InventoryError: pb.InventoryError, Warning: BackupWarning, Verdicts: []RestoreVerdict{}}
	for _, in := range ins {
		b.Verdicts = append(b.Verdicts, RestoreVerdictFor(in, pb))
	}
	in := only
	if in == nil && inv != nil {
		if own, err := LookupInstaller(inv["PRODUCT_VERSION"]); err == nil {
			in = &own
		}
	}
	if in == nil {
		switch {
		case pb.Marker != nil && !*pb.Marker:
			b.Reason = fmt.Sprintf("no %s: the installer does not take this partition for a backup", BackupMarkerPath)
		case pb.Marker == nil:
			b.Reason = fmt.Sprintf("unknown: whether %s is there could not be read (%s)", BackupMarkerPath, *pb.MarkerError)
		case inv == nil && pb.InventoryError != nil:
			b.Reason = fmt.Sprintf("unknown: etc/xensource-inventory could not be read (%s)", *pb.InventoryError)
		case inv == nil:
			b.Reason = "no etc/xensource-inventory on the backup partition: nothing to restore"
		default:
			b.Reason = fmt.Sprintf("no installer rule is known for the backup's PRODUCT_VERSION %q", inv["PRODUCT_VERSION"])
		}
		return b
	}
	rv := RestoreVerdictFor(*in, pb)
	b.Installer, b.OffersRestore = in.Release.Product, rv.OffersRestore
	b.Reason = rv.Reason
	if !rv.OffersRestore && !strings.HasPrefix(rv.Reason, "unknown") {
		b.Reason = "no: " + rv.Reason
	}
	b.Rule = fmt.Sprintf("the %s installer offers Restore for any partition holding %s whose inventory it can read (%s)", in.Release.Product, BackupMarkerPath, rv.Source)
	return b
}

// InspectBackup reads a backup partition's marker and inventory through
// root (a partition of a disk or a --backup-root directory) and gives the
// verdicts of ins, headlined by only. A marker that cannot be read is
// unknown (Marker nil, MarkerError), never absent.
func InspectBackup(root *target.Root, partitionNumber int, ins []Installer, only *Installer) (*Backup, error) {
	pb := partition.Backup{Partition: partitionNumber}
	if exists, err := installerview.Exists(root, BackupMarkerPath); err != nil {
		why := err.Error()
		pb.MarkerError = &why
	} else {
		pb.Marker = &exists
	}
	if err := (installerView{root}).stat(InventoryPath).Unknown(InventoryPath); errors.Is(err, installerview.ErrOutside) {
		why := err.Error()
		pb.InventoryError = &why
		return NewBackup(pb, ins, only), nil
	}
	data, err := readInventoryFile(root)
	if errors.Is(err, fs.ErrNotExist) {
		return NewBackup(pb, ins, only), nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup partition %d: %s: %w", partitionNumber, InventoryPath, err)
	}
	inv, err := ParseInventory(bytes.NewReader(data), fmt.Sprintf("backup partition %d: %s", partitionNumber, InventoryPath))
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	pb.Inventory = inv.Map()
	return NewBackup(pb, ins, only), nil
}

func ptr[T any](v T) *T { return &v }

// DiskBackups gives the verdicts for every partition of d that carries the
// backup marker, or whose marker could not be read
// (partition.Disk.XenServer.Backups, read by ReadMarkers).
func DiskBackups(d *partition.Disk, ins []Installer, only *Installer) []*Backup {
	out := []*Backup{}
	if d == nil || d.XenServer == nil {
		return out
	}
	for _, b := range d.XenServer.Backups {
		out = append(out, NewBackup(b, ins, only))
	}
	return out
}
