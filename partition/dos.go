package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/diskfs/go-diskfs/partition/mbr"
)

// maxLogical bounds the EBR chain walk: a damaged or hostile chain may loop
// or be endless.
const maxLogical = 256

// readDOS reads a DOS (MBR) table: the four primary entries through
// go-diskfs, then the logical partitions by walking the EBR chain of the
// extended partition (go-diskfs does not). A sector 0 without the 0x55AA
// signature, or whose entries are not plausible, is "no table".
func readDOS(d *Disk, r io.ReaderAt, sector0 []byte) error {
	if !plausibleMBR(sector0) {
		return nil
	}
	ss := int64(d.SectorSize)
	t, err := mbr.Read(&readOnlyFile{SectionReader: io.NewSectionReader(r, 0, d.Size)}, int(ss), int(ss))
	if err != nil {
		return fmt.Errorf("%w: DOS table: %v", ErrInvalid, err)
	}
	d.Table = TableDOS
	d.table("sector 0 (the MBR)", 0, 512)
	var extended []Partition
	for _, e := range t.Partitions {
		if e.Type == mbr.Empty || e.Size == 0 {
			continue
		}
		p := Partition{
			Number:   e.Index,
			Start:    int64(e.Start) * ss, // 32-bit sector values times at most 4096: no overflow
			Size:     int64(e.Size) * ss,
			Type:     fmt.Sprintf("%02x", byte(e.Type)),
			Bootable: e.Bootable,
		}
		if p.Start >= d.Size {
			d.warnf("DOS entry %d (start sector %d, %d sectors: bytes %d-%d) starts past the end of the disk (%d bytes): entry ignored", p.Number, e.Start, e.Size, p.Start, p.End(), d.Size)
			continue
		}
		d.Partitions = append(d.Partitions, p)
		if isExtendedType(p.Type) {
			extended = append(extended, p)
		}
	}
	if len(extended) > 1 {
		d.warnf("%d extended partitions; only partition %d's logical partitions are read", len(extended), extended[0].Number)
	}
	if len(extended) > 0 {
		return readLogical(d, r, extended[0])
	}
	return nil
}

// plausibleMBR: the boot signature, boot flags 0x00 or 0x80 only, and at
// least one used entry. A FAT or NTFS boot sector also ends in 0x55AA but
// its code in the entry area fails the flag test, as in libblkid.
func plausibleMBR(b []byte) bool {
	if b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	used := false
	for i := 0; i < 4; i++ {
		e := b[446+16*i:]
		if e[0] != 0 && e[0] != 0x80 {
			return false
		}
		if e[4] != 0 {
			used = true
		}
	}
	return used
}

func isExtendedType(t string) bool { return t == "05" || t == "0f" || t == "85" }

// readLogical walks the EBR chain: each EBR's first entry is a logical
// partition relative to that EBR, its second entry links the next EBR
// relative to the extended partition's start.
func readLogical(d *Disk, r io.ReaderAt, ext Partition) error {
	le := binary.LittleEndian
	seen := map[int64]bool{}
	ebr := ext.Start
	ss := int64(d.SectorSize)
	b := make([]byte, 512)
	for n := 5; ; n++ {
		if n-5 >= maxLogical {
			d.warnf("more than %d logical partitions: EBR chain not followed further", maxLogical)
			return nil
		}
		if seen[ebr] {
			d.warnf("EBR chain loops back to byte %d; stopped after %d logical partitions", ebr, n-5)
			return nil
		}
		seen[ebr] = true
		if ebr < ext.Start || ebr+512 > min(ext.End(), d.Size) {
			d.warnf("EBR at byte %d is outside the extended partition %d or the disk; logical partitions from %d on are missing", ebr, ext.Number, n)
			return nil
		}
		if _, err := r.ReadAt(b, ebr); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading EBR at byte %d: %w", ebr, err)
		}
		d.table(fmt.Sprintf("the EBR at byte %d", ebr), ebr, 512)
		if b[510] != 0x55 || b[511] != 0xaa {
			if n == 5 && isZero(b) {
				return nil // an empty extended partition
			}
			d.warnf("EBR at byte %d has no 0x55AA signature; logical partitions from %d on are missing", ebr, n)
			return nil
		}
		first, link := b[446:462], b[462:478]
		if first[4] != 0 && le.Uint32(first[12:]) != 0 {
			start, sectors := le.Uint32(first[8:]), le.Uint32(first[12:])
			p := Partition{
				Number:   n,
				Start:    ebr + int64(start)*ss, // ebr is on the disk: no overflow
				Size:     int64(sectors) * ss,
				Type:     fmt.Sprintf("%02x", first[4]),
				Bootable: first[0] == 0x80,
			}
			if p.Start < d.Size {
				d.Partitions = append(d.Partitions, p)
			} else {
				// Its number stays taken, as in the kernel's
				// msdos.c parse_extended.
				d.warnf("logical partition %d (EBR at byte %d: start sector %d, %d sectors: bytes %d-%d) starts past the end of the disk (%d bytes): entry ignored", n, ebr, start, sectors, p.Start, p.End(), d.Size)
			}
		} else {
			n-- // an EBR without a partition does not use a number
		}
		// The kernel (msdos.c parse_extended) follows a link entry with
		// sectors, whatever its start: a relative start 0 is this EBR's
		// own (the extended partition's first) sector, a loop, not an end.
		if link[4] == 0 || le.Uint32(link[12:]) == 0 {
			return nil
		}
		if !isExtendedType(fmt.Sprintf("%02x", link[4])) {
			d.warnf("EBR at byte %d links with type %02x, not an extended type", ebr, link[4])
		}
		ebr = ext.Start + int64(le.Uint32(link[8:]))*ss
	}
}

func isZero(b []byte) bool { return strings.Trim(string(b), "\x00") == "" }
