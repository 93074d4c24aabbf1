package partition

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Slice is one slice of a Solaris x86 VTOC (SMI label) inside an MBR
// partition of type bf (Solaris) or 82 (old Solaris, shared with Linux
// swap). Start and Size are bytes on the disk (the VTOC stores sectors
// relative to the partition).
type Slice struct {
	Number int        `json:"number"`
	Tag    uint16     `json:"tag"` // 2 root, 3 swap, 4 usr, 5 backup (whole partition), 8 home…
	Start  int64      `json:"start"`
	Size   int64      `json:"size"`
	ZFS    *ZFSMember `json:"zfs"`
}

// x86 SMI VTOC (Linux block/partitions/msdos.c parse_solaris_x86, Solaris
// sys/dktp/fdisk.h and sys/vtoc.h): at sector 1 of the partition, v_sanity
// at byte 12, v_version at 16, v_nparts at 30, 16 slices of 12 bytes at 72.
const (
	vtocSanity    = 0x600DDEEE
	vtocSlices    = 72
	vtocMaxSlices = 16
	vtocTagBackup = 5
)

func isSolarisType(t string) bool { return t == "bf" || t == "82" }

// readVTOC returns the usable slices of a Solaris MBR partition: empty
// slices and the backup slice (tag 5, which overlaps all the others) are
// left out, and so is a slice identical to one already listed. A partition
// without a VTOC (an 82 holding Linux swap) gives nil and no error.
func readVTOC(r io.ReaderAt, d *Disk, p *Partition) ([]Slice, error) {
	b := make([]byte, 512)
	at := p.Start + 512
	if p.Size < 1024 {
		return nil, nil
	}
	if _, err := r.ReadAt(b, at); err != nil {
		return nil, fmt.Errorf("reading the VTOC of partition %d at byte %d: %w", p.Number, at, err)
	}
	le := binary.LittleEndian
	if le.Uint32(b[12:]) != vtocSanity {
		return nil, nil
	}
	if v := le.Uint32(b[16:]); v != 1 {
		return nil, fmt.Errorf("VTOC of partition %d at byte %d: version %d, want 1", p.Number, at, v)
	}
	n := int(le.Uint16(b[30:]))
	if n == 0 || n > vtocMaxSlices {
		n = vtocMaxSlices // Linux reads up to 16 whatever v_nparts says
	}
	var slices []Slice
	for i := range n {
		o := vtocSlices + 12*i
		s := Slice{Number: i, Tag: le.Uint16(b[o:]), Start: p.Start + int64(le.Uint32(b[o+4:]))*512, Size: int64(le.Uint32(b[o+8:])) * 512}
		if s.Size == 0 || s.Tag == vtocTagBackup {
			continue
		}
		if s.Start+s.Size > p.End() {
			d.warnf("partition %d VTOC slice %d (bytes %d-%d) ends past the partition: ignored", p.Number, i, s.Start, s.Start+s.Size)
			continue
		}
		dup := false
		for _, t := range slices {
			dup = dup || (t.Start == s.Start && t.Size == s.Size)
		}
		if !dup {
			slices = append(slices, s)
		}
	}
	return slices, nil
}
