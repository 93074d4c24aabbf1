package partition

import (
	"errors"
	"fmt"
	"io"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// OpenOptions say how InspectPath reads a disk.
type OpenOptions struct {
	// SectorSize as in Options; 0 takes a block device's from the kernel
	// and finds an image file's.
	SectorSize int
	// Markers also reads, in-process, the inventories and the
	// .xen-backup-partition markers (Disk.ReadMarkers).
	Markers bool
}

// InspectPath opens path — an image file or a block device, never a FIFO
// or a directory — read-only and inspects it. What is wrong with the disk
// (or with path) is invalid input (exit 2), named by path.
func InspectPath(path string, o OpenOptions) (*Disk, error) {
	f, err := infile.Open(path, infile.FileOrBlock)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	defer f.Close()
	// Seek works for block devices too, where Stat reports size 0.
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("%s: size: %w", path, err)
	}
	ss := o.SectorSize
	if ss == 0 {
		ss = DeviceSectorSize(f)
	}
	d, err := InspectWith(f, size, Options{SectorSize: ss})
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
		if errors.Is(err, ErrInvalid) {
			return nil, xerr.Invalid(err)
		}
		return nil, err
	}
	d.Path = path
	d.findMounts(f)
	if o.Markers {
		d.ReadMarkers(f)
	}
	return d, nil
}

// Choose finds the partition a command works on, by number or by its
// XenServer role (exactly one of them): invalid input (exit 2) when there
// is none, when two partitions have the role, or when it ends past the end
// of the disk — a truncated image or a damaged entry, whose copy would be
// short and whose restore would grow an image file.
func (d *Disk) Choose(number int, role string) (*Partition, error) {
	if number != 0 {
		p := d.Partition(number)
		if p == nil {
			return nil, xerr.Invalidf("%s: no partition %d", d.Path, number)
		}
		return p, d.onDisk(p)
	}
	var found *Partition
	for i := range d.Partitions {
		if d.Partitions[i].Role == role {
			if found != nil {
				return nil, xerr.Invalidf("%s: partitions %d and %d both have role %s: use --partition", d.Path, found.Number, d.Partitions[i].Number, role)
			}
			found = &d.Partitions[i]
		}
	}
	if found == nil {
		return nil, xerr.Invalidf("%s: no partition with role %q (see xsrescue disk inspect %s)", d.Path, role, d.Path)
	}
	return found, d.onDisk(found)
}

func (d *Disk) onDisk(p *Partition) error {
	if p.End() > d.Size {
		return xerr.Invalidf("%s: partition %d (bytes %d-%d) ends past the end of the disk (%d bytes): a truncated image or a damaged table entry; its bytes cannot all be read or written",
			d.Path, p.Number, p.Start, p.End(), d.Size)
	}
	return nil
}
