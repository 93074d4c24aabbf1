// Package partition reads a disk the way the XenServer host installer does,
// without writing a byte: the partition table (GPT or DOS, through go-diskfs
// where it serves, with both GPT copies and their CRCs verified here), a
// signature probe per partition (filesystem type, label, UUID), the
// XenServer role of each partition by the installer's own rules, the layout
// generation, and — read in-process from the ext filesystems (extfs), without
// a mount — the root's and backup's etc/xensource-inventory and the
// .xen-backup-partition marker of every ext partition.
//
// Rules and their upstream sources: docs/disk.md.
package partition

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// Table kinds.
const (
	TableGPT  = "gpt"
	TableDOS  = "dos"
	TableNone = "none"
)

// Layout verdicts (docs/disk.md, "Partition layouts").
const (
	LayoutNew        = "new"         // root, backup, SR, boot, logs, swap (7.0+ fresh installs)
	LayoutLegacy     = "legacy"      // root, backup, SR (5.x/6.x, and 7.x/8 upgraded on DOS)
	LayoutLegacyBoot = "legacy+boot" // old layout with a boot partition carved from the root (7.x/8 on GPT)
	LayoutUnknown    = "unknown"
)

// Roles of XenServer partitions.
const (
	RoleRoot    = "root"
	RoleBackup  = "backup"
	RoleSR      = "sr"
	RoleBoot    = "boot"
	RoleLogs    = "logs"
	RoleSwap    = "swap"
	RoleUtility = "utility"
)

// Disk is what Inspect found. The JSON names are the contract of
// `xsrescue disk inspect --json` (docs/json.md).
type Disk struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	SectorSize int    `json:"sector_size"`
	// SectorSizeFrom says how SectorSize was found (sector.go).
	SectorSizeFrom string      `json:"sector_size_from"`
	Table          string      `json:"table"`
	Layout         string      `json:"layout"`
	Partitions     []Partition `json:"partitions"`
	XenServer      *XenServer  `json:"xenserver"`
	Warnings       []string    `json:"warnings"`
	// Tables are the sectors of the partition table itself (MBR, GPT
	// headers and entry arrays, EBRs), which no partition may hold.
	Tables []Extent `json:"-"`
	// Whole is the filesystem a disk without a partition table holds from
	// its first byte, as disk save-partition's images do; nil for a disk
	// with a table, or with neither.
	Whole *Signature `json:"-"`
	// sector0 is what sector 0 of a GPT disk is to the installers' table
	// probes, sgdisk what sgdisk makes of the disk (gpt.go, sgdisk.go).
	sector0 sector0Kind
	sgdisk  sgdiskView
	// Mounts are the partitions mounted right now (InspectPath, from /proc
	// and /sys); commands put them first (docs/safety.md).
	Mounts []Mount `json:"-"`
}

// Partition is one table entry and what its signature probe found. Start and
// Size are in bytes; Number is the table slot (never the position on disk).
type Partition struct {
	Number        int    `json:"number"`
	Start         int64  `json:"start"`
	Size          int64  `json:"size"`
	Type          string `json:"type"` // DOS: two hex digits; GPT: upper-case GUID
	Name          string `json:"name"` // GPT partition name
	Bootable      bool   `json:"bootable"`
	FS            string `json:"fs"` // ext2 ext3 ext4 lvm2 swap vfat xfs zfs, "" if unknown
	Label         string `json:"label"`
	UUID          string `json:"uuid"`
	NeedsRecovery bool   `json:"needs_recovery"`
	// Errors: the ext superblock records errors (null when it does not, or
	// for other filesystems); writing verbs refuse to mount it until
	// e2fsck has checked it.
	Errors *FSErrors `json:"fs_errors"`
	Role   string    `json:"role"`
	// ZFS is the pool member in this partition or in a slice of its Solaris
	// VTOC, Slices that VTOC (partition/zfs.go, vtoc.go); omitted when absent.
	ZFS    *ZFSMember `json:"zfs,omitempty"`
	Slices []Slice    `json:"slices,omitempty"`
	// Probe lists why each signature probe did not match, in probe order;
	// for an unknown partition it is the whole story.
	Probe []string `json:"-"`
	// TypeCode is sgdisk's short code of a GPT type (GPTTypeCode); nil for
	// a GUID sgdisk does not know, and for DOS, whose Type is the code.
	TypeCode *string `json:"type_code"`
	// GPTAttributes is the GPT entry's attribute field (0 on DOS): bit 2
	// is Bootable; the 6.0-6.5 installers also need bits 0 and 1 clear
	// (InstallerActive).
	GPTAttributes uint64 `json:"-"`
}

// End is the byte offset just past the partition.
func (p Partition) End() int64 { return p.Start + p.Size }

// XenServer is the installation the installer would find on the disk.
type XenServer struct {
	RootPartition int               `json:"root_partition"`
	Inventory     map[string]string `json:"inventory"` // nil until ReadMarkers, when absent, or unreadable
	// InventoryError says why Inventory could not be read (nil when it was
	// read or is known to be absent).
	InventoryError *string `json:"inventory_error"`
	Backup         *Backup `json:"backup"` // nil: no partition root+1
	// RootByGeneration is the partition each installer generation takes as
	// the root (roles.go); Backups every partition that carries the backup
	// marker, or whose marker could not be read, as the installer's Restore
	// scan finds them (backups.go).
	RootByGeneration []RootChoice `json:"root_by_generation"`
	Backups          []Backup     `json:"backups"`
}

// Backup is the partition after the root, which installer upgrades reformat
// and fill with the old system.
type Backup struct {
	Partition int `json:"partition"`
	// Marker: .xen-backup-partition exists (true), is known to be absent
	// (false), or could not be read (nil, MarkerError says why).
	Marker      *bool             `json:"marker"`
	MarkerError *string           `json:"marker_error"`
	Inventory   map[string]string `json:"inventory"` // the backed-up system's, or nil
	// InventoryError says why Inventory could not be read.
	InventoryError *string `json:"inventory_error"`
}

// HasMarker: the marker is known to be there.
func (b *Backup) HasMarker() bool { return b.Marker != nil && *b.Marker }

// ErrInvalid is wrapped by every error caused by the disk's content (as
// opposed to an I/O failure): callers map it to exit status 2.
var ErrInvalid = errors.New("invalid disk")

// FormatError names the byte offset of unusable on-disk data.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string { return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg) }
func (e *FormatError) Unwrap() error { return ErrInvalid }

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Partition returns partition n, or nil.
func (d *Disk) Partition(n int) *Partition {
	for i := range d.Partitions {
		if d.Partitions[i].Number == n {
			return &d.Partitions[i]
		}
	}
	return nil
}

func (d *Disk) warnf(format string, args ...any) {
	d.Warnings = append(d.Warnings, fmt.Sprintf(format, args...))
}

// Inspect reads the partition table of a disk of size bytes, probes every
// partition and assigns XenServer roles. It only reads from r: the table,
// 8 KiB per partition, and 256 KiB more for each unrecognised partition of
// 64 MiB or more (the ZFS probe) — about 355 KiB for a 7.x disk. Problems that leave the disk readable are Warnings; a disk
// whose table cannot be read at all is an error wrapping ErrInvalid.
// Inventories and markers: see ReadMarkers.
func Inspect(r io.ReaderAt, size int64) (*Disk, error) { return InspectWith(r, size, Options{}) }

// inspect is Inspect with DOS sector numbers counted in sectors of ss
// bytes (a GPT says its own sector size).
func inspect(r io.ReaderAt, size int64, ss int, from string) (*Disk, error) {
	d := &Disk{Size: size, SectorSize: ss, SectorSizeFrom: from, Table: TableNone, Layout: LayoutUnknown, Partitions: []Partition{}, Warnings: []string{}}
	if size == 0 {
		return nil, formatErr(0, "empty (0 bytes)")
	}
	if size < 512 {
		return nil, formatErr(0, "only %d bytes: too small for a partition table", size)
	}
	mbr := make([]byte, 512)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("reading sector 0: %w", err)
	}
	if err := readTable(d, r, mbr); err != nil {
		return nil, err
	}
	sort.Slice(d.Partitions, func(i, j int) bool { return d.Partitions[i].Number < d.Partitions[j].Number })
	checkBounds(d)
	for i := range d.Partitions {
		probePartition(r, d, &d.Partitions[i])
		probeSolaris(r, d, &d.Partitions[i])
	}
	if d.Table == TableNone {
		if sig, _ := probe(io.NewSectionReader(r, 0, size), size); sig != nil {
			d.Whole = sig
			d.warnf("no partition table: the whole disk holds %s (label %q)", sig.FS, sig.Label)
		} else {
			d.warnf("no partition table and no known filesystem signature")
		}
	}
	assignRoles(d)
	return d, nil
}

func readTable(d *Disk, r io.ReaderAt, mbr []byte) error {
	gptFound, err := readGPT(d, r, mbr)
	if gptFound || err != nil {
		return err
	}
	return readDOS(d, r, mbr)
}

// checkBounds warns about partitions that end past the disk (a truncated
// image or a damaged entry) and about overlaps; such partitions stay listed.
func checkBounds(d *Disk) {
	for _, p := range d.Partitions {
		if p.End() > d.Size {
			d.warnf("partition %d (bytes %d-%d) ends past the end of the disk (%d bytes): truncated image or damaged entry", p.Number, p.Start, p.End(), d.Size)
		}
	}
	byStart := append([]Partition(nil), d.Partitions...)
	sort.Slice(byStart, func(i, j int) bool { return byStart[i].Start < byStart[j].Start })
	for i := 1; i < len(byStart); i++ {
		a, b := byStart[i-1], byStart[i]
		if b.Start < a.End() && !containerOf(a, b) {
			d.warnf("partitions %d and %d overlap (bytes %d-%d)", a.Number, b.Number, b.Start, min(a.End(), b.End()))
		}
	}
}

// Extent names the bytes Start-End of the disk: sectors of the partition
// table, or what a partition shares with something else (Overlaps).
type Extent struct {
	What  string `json:"what"` // "partition 3", "the primary GPT entry array", "the EBR at byte N"
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

// Bytes is the extent's length.
func (e Extent) Bytes() int64 { return e.End - e.Start }

// Overlaps lists what writing all of p would overwrite besides p: every
// other partition sharing bytes with it, and the table's own sectors. The
// extended partition that holds a logical p is not counted (it is a
// container); a DOS extended p overlaps its logical partitions and EBRs.
func (d *Disk) Overlaps(p Partition) []Extent {
	var out []Extent
	add := func(what string, start, end int64) {
		if lo, hi := max(p.Start, start), min(p.End(), end); lo < hi {
			out = append(out, Extent{What: what, Start: lo, End: hi})
		}
	}
	for _, t := range d.Tables {
		add(t.What, t.Start, t.End)
	}
	for _, q := range d.Partitions {
		if q.Number != p.Number && !containerOf(q, p) {
			add(fmt.Sprintf("partition %d", q.Number), q.Start, q.End())
		}
	}
	return out
}

func (d *Disk) table(what string, start, size int64) {
	d.Tables = append(d.Tables, Extent{What: what, Start: start, End: start + size})
}

// containerOf: a DOS extended partition legitimately contains its logical
// partitions.
func containerOf(a, b Partition) bool {
	return isExtendedType(a.Type) && b.Number > 4 && b.End() <= a.End()
}
