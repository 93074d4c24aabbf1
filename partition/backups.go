package partition

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/installerview"
)

// scanBackups looks, like the installer's Restore (findXenSourceBackups:
// every partition of every disk, mounted read-only as ext3), at every ext
// partition of the disk for the backup marker, and reads the inventory of
// each one that has it. A partition whose marker cannot be read is listed
// too, with Marker nil and the reason: whether the installer would take it
// is unknown, not no. The other disks of the machine are not this disk's
// business: callers say that the installer scans them too.
func (d *Disk) scanBackups(pf *partFiles) {
	x := d.XenServer
	if x == nil {
		return
	}
	x.Backups = []Backup{}
	for _, p := range d.Partitions {
		if !isExt(p.FS) {
			continue
		}
		b := pf.backup(p.Number)
		if b.Marker != nil && !*b.Marker {
			continue
		}
		x.Backups = append(x.Backups, b)
	}
}

// backup reads the marker and inventory of partition n. Warnings name the
// partition by its role, so that ReadMarkers and the scan say each once.
func (pf *partFiles) backup(n int) Backup {
	d := pf.d
	what := fmt.Sprintf("partition %d", n)
	switch x := d.XenServer; {
	case x != nil && n == x.RootPartition:
		what = "root " + what
	case x != nil && x.Backup != nil && n == x.Backup.Partition:
		what = "backup " + what
	}
	b := Backup{Partition: n}
	if _, err := pf.fs(n); err != nil {
		b.MarkerError, b.InventoryError = unknown(err), unknown(err)
		d.warnOnce(fmt.Sprintf("%s: %v", what, err))
		return b
	}
	// os.path.exists, on the partition mounted below the installer's
	// ramdisk: a directory or a FIFO is there too; a symlink out of the
	// filesystem is unknown.
	x, _ := pf.fs(n)
	exists, err := installerview.Exists(extTree{x}, strings.TrimPrefix(BackupMarker, "/"))
	if err != nil {
		b.MarkerError = unknown(err)
		d.warnOnce(fmt.Sprintf("%s: %v", what, err))
	} else {
		b.Marker = ptr(exists)
	}
	inv, err := pf.inventory(n)
	switch {
	case err == nil:
		b.Inventory = inv
	case errors.Is(err, ErrNotFound):
		// Known absent: no error to report, but a marked backup without
		// an inventory is worth a word (the installer skips it).
		if b.HasMarker() {
			d.warnOnce(fmt.Sprintf("%s: %v", what, err))
		}
	default:
		b.InventoryError = unknown(err)
		d.warnOnce(fmt.Sprintf("%s: %v", what, err))
	}
	return b
}

func (d *Disk) warnOnce(w string) {
	if !slices.Contains(d.Warnings, w) {
		d.Warnings = append(d.Warnings, w)
	}
}
