package partition

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// How Disk.SectorSize was found (disk inspect --json "sector_size_from").
const (
	SectorFromGPT     = "gpt"     // the GPT header sits at LBA 1 of this sector size
	SectorGiven       = "given"   // the caller said so (--sector-size, or the block device's BLKSSZGET)
	SectorDefault     = "default" // 512: nothing on the disk says otherwise
	SectorFromProbing = "probed"  // a DOS table whose partitions hold filesystems only with 4096-byte sectors
)

// gptLegacyBIOSBootable is GPT partition attribute bit 2 (UEFI 2.x §5.3.3).
const gptLegacyBIOSBootable = 1 << 2

// Options tune InspectWith.
type Options struct {
	// SectorSize is the disk's logical sector size, 512 or 4096; 0 finds
	// it. An image file has no sector size of its own: a GPT says it (the
	// header is at LBA 1), a DOS table does not, so 512 is assumed unless
	// only 4096-byte sectors put a known filesystem at a partition start.
	SectorSize int
}

// InspectWith is Inspect with options. A DOS table counts in sectors: the
// same table read with 512- and with 4096-byte sectors names different
// byte ranges, and only one of them holds the filesystems.
func InspectWith(r io.ReaderAt, size int64, o Options) (*Disk, error) {
	switch o.SectorSize {
	case 0:
	case 512, 4096:
		return inspect(r, size, o.SectorSize, SectorGiven)
	default:
		return nil, fmt.Errorf("sector size %d: only 512 and 4096 are supported", o.SectorSize)
	}
	d, err := inspect(r, size, 512, SectorDefault)
	if err != nil || d.Table != TableDOS || recognised(d) > 0 {
		return d, err
	}
	d4, err := inspect(r, size, 4096, SectorFromProbing)
	if err != nil || recognised(d4) == 0 || !inside(d4) {
		return d, nil
	}
	d4.warnf("DOS table read with 4096-byte sectors: with 512-byte sectors no partition starts with a known filesystem, with 4096-byte sectors %d do (a disk with 4 KiB logical sectors, or its image); --sector-size 512 reads it the other way", recognised(d4))
	return d4, nil
}

// recognised counts the partitions whose start holds a known signature.
func recognised(d *Disk) int {
	n := 0
	for _, p := range d.Partitions {
		if p.FS != "" {
			n++
		}
	}
	return n
}

// inside reports whether every partition lies within the disk.
func inside(d *Disk) bool {
	for _, p := range d.Partitions {
		if p.End() > d.Size {
			return false
		}
	}
	return true
}

// DeviceSectorSize is the logical sector size the kernel reports for a
// block device (BLKSSZGET), or 0 for anything else (an image file).
func DeviceSectorSize(f *os.File) int {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return 0
	}
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil || (n != 512 && n != 4096) {
		return 0
	}
	return n
}
