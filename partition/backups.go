package partition

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// scanBackups looks, like the installer's Restore (findXenSourceBackups:
// every partition of every disk, mounted read-only as ext3), at every ext
// partition of the disk for the backup marker, and reads the inventory of
// each one that has it. The other disks of the machine are not this
// disk's business: callers say that the installer scans them too.
func (d *Disk) scanBackups(ctx context.Context, imagePath string) {
	x := d.XenServer
	if x == nil {
		return
	}
	x.Backups = []Backup{}
	for _, p := range d.Partitions {
		if !isExt(p.FS) || p.End() > d.Size {
			continue
		}
		_, err := d.ReadPartitionFile(ctx, imagePath, p.Number, BackupMarker)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			d.warnOnce(fmt.Sprintf("partition %d: %s: %v", p.Number, BackupMarker, err))
			continue
		}
		b := Backup{Partition: p.Number, Marker: true}
		data, err := d.ReadPartitionFile(ctx, imagePath, p.Number, InventoryFile)
		switch {
		case err == nil:
			b.Inventory = ParseInventory(data)
		case !errors.Is(err, ErrNotFound):
			// ReadMarkers may have said it already of the partition after the root.
			d.warnOnce(fmt.Sprintf("backup partition %d: %s: %v", p.Number, InventoryFile, err))
		}
		x.Backups = append(x.Backups, b)
	}
}

func (d *Disk) warnOnce(w string) {
	if !slices.Contains(d.Warnings, w) {
		d.Warnings = append(d.Warnings, w)
	}
}
