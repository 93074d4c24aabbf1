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
	if o.Markers {
		d.ReadMarkers(f)
	}
	return d, nil
}
