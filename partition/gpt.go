package partition

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

const (
	gptSignature  = "EFI PART"
	maxGPTEntries = 1 << 20 // bytes of entry array we accept (the usual is 16 KiB)
)

// gptHeader is one verified copy of the GPT header (UEFI spec 2.10 §5.3.2).
type gptHeader struct {
	myLBA, altLBA       uint64
	firstUsable         uint64
	lastUsable          uint64
	entriesLBA          uint64
	entryCount          uint32
	entrySize           uint32
	entriesCRC          uint32
	diskGUID            []byte
	headerSize          uint32
	sectorSize          int64
	headerOff, entryOff int64
}

// readGPT decides whether the disk has a GPT, as libblkid and the kernel
// do: a protective MBR entry (type 0xEE) says so, and the header is then
// looked for at LBA 1 for 512- and 4096-byte sectors. A plausible DOS table
// without that entry wins over a stale "EFI PART" header (a warning says it is
// ignored); with no DOS table at all, a GPT header is still used, with a
// warning. found is false when the disk is not read as GPT.
func readGPT(d *Disk, r io.ReaderAt, mbr []byte) (found bool, err error) {
	ss, err := gptSectorSize(d, r)
	if err != nil {
		return false, err
	}
	switch {
	case hasProtectiveEntry(mbr):
		if ss == 0 {
			ss = 512 // the header is gone; the backup may remain
		}
		return true, readGPTTables(d, r, ss)
	case ss == 0:
		return false, nil
	case plausibleMBR(mbr):
		if t, ok := protectiveShape(mbr, d.Size/ss); ok {
			d.warnf(WrongTypePMBRWarningPrefix+" %02x instead of ee (one entry from sector 1 to the end of the disk, as a protective MBR has) in front of a GPT header at byte %d: libblkid, fdisk and the kernel read a DOS disk with one partition over the whole disk, so no installer finds an installation here. Rebuild the protective MBR from the GPT (boot code kept): printf '\\000\\000' | dd of=DISK bs=1 seek=510 count=2 conv=notrunc && sgdisk -e DISK", t, ss)
			return false, nil
		}
		d.warnf("a GPT header at byte %d is ignored: the DOS table has no protective (0xEE) entry", ss)
		return false, nil
	}
	d.sector0 = classifySector0(mbr)
	switch d.sector0 {
	case sector0EmptyDOS:
		d.warnf("%s", emptyDOSWarning)
	case sector0OtherMBR:
		d.warnf("GPT without a protective MBR in sector 0: sector 0 ends in 55AA but is no DOS table libblkid accepts (boot flags other than 00/80, or a FAT boot sector): what each installer reads here is not known")
	default:
		d.warnf("GPT without a protective MBR in sector 0")
	}
	return true, readGPTTables(d, r, ss)
}

// What sector 0 of a disk read as GPT is to the installers' probes
// (probePartitioningScheme: `fdisk -l` up to 6.5, `blkid -s PTTYPE` from
// 7.0; sgdisk's MBR states; docs/disk.md "Sector 0 in front of a GPT").
type sector0Kind int

const (
	sector0Protective  sector0Kind = iota // a 0xEE entry: protective or hybrid MBR
	sector0EmptyDOS                       // 55AA, boot flags 00/80, no entry: an empty DOS table
	sector0OtherMBR                       // 55AA, but neither of the above
	sector0NoSignature                    // no 55AA: no MBR at all
)

// EmptyDOSWarningPrefix starts the warning about an empty DOS table in
// front of a GPT (doctor plans the repair from it).
const EmptyDOSWarningPrefix = "sector 0 holds an empty DOS partition table"

const emptyDOSWarning = EmptyDOSWarningPrefix + " (boot signature 55AA, no 0xEE protective entry) in front of a GPT: libblkid, fdisk and the kernel read an empty DOS disk, so no installer finds an installation here; the GPT is listed for information only. Rebuild the protective MBR from the GPT (boot code kept): printf '\\000\\000' | dd of=DISK bs=1 seek=510 count=2 conv=notrunc && sgdisk -e DISK"

// WrongTypePMBRWarningPrefix starts the warning about a protective MBR
// whose entry has another type than 0xEE (doctor plans the repair from it).
const WrongTypePMBRWarningPrefix = "sector 0 holds a protective MBR entry of type"

// protectiveShape reports whether the DOS table is a protective MBR but for
// its type: one entry, from LBA 1 to the end of a disk of sectors sectors
// (or 0xFFFFFFFF, as gdisk and parted write for a disk over 2 TiB), the
// other three empty. A real DOS table never starts a partition at LBA 1
// (the MBR's track or the 1 MiB alignment comes first), so with a GPT
// header behind it the entry is a damaged protective one.
func protectiveShape(mbr []byte, sectors int64) (byte, bool) {
	le := binary.LittleEndian
	e := mbr[446:462]
	size := int64(le.Uint32(e[12:]))
	if le.Uint32(e[8:]) != 1 || e[4] == 0 || (size != min(sectors-1, 0xffffffff) && size != 0xffffffff) {
		return 0, false
	}
	for i := 1; i < 4; i++ {
		for _, b := range mbr[446+16*i : 462+16*i] {
			if b != 0 {
				return 0, false
			}
		}
	}
	return e[4], true
}

func classifySector0(mbr []byte) sector0Kind {
	switch {
	case hasProtectiveEntry(mbr):
		return sector0Protective
	case mbr[510] != 0x55 || mbr[511] != 0xaa:
		return sector0NoSignature
	}
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i:]
		if (e[0] != 0 && e[0] != 0x80) || e[4] != 0 {
			return sector0OtherMBR
		}
	}
	// libblkid's dos prober also leaves a FAT boot sector alone.
	if string(mbr[0x36:0x39]) == "FAT" || string(mbr[0x52:0x57]) == "FAT32" {
		return sector0OtherMBR
	}
	return sector0EmptyDOS
}

// gptSectorSize returns the sector size at whose LBA 1 a GPT signature is,
// or 0.
func gptSectorSize(d *Disk, r io.ReaderAt) (int64, error) {
	for _, ss := range []int64{512, 4096} {
		if d.Size < 2*ss {
			continue
		}
		sig := make([]byte, 8)
		if _, err := r.ReadAt(sig, ss); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading GPT header at byte %d: %w", ss, err)
		}
		if string(sig) == gptSignature {
			return ss, nil
		}
	}
	return 0, nil
}

func hasProtectiveEntry(mbr []byte) bool {
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return false
	}
	for i := 0; i < 4; i++ {
		if mbr[446+16*i+4] == 0xee {
			return true
		}
	}
	return false
}

func readGPTTables(d *Disk, r io.ReaderAt, ss int64) error {
	d.Table = TableGPT
	if d.SectorSize != int(ss) && d.SectorSizeFrom == SectorGiven {
		d.warnf("the GPT header is at LBA 1 of %d-byte sectors: the sector size given (%d) is not this disk's", ss, d.SectorSize)
	}
	d.SectorSize, d.SectorSizeFrom = int(ss), SectorFromGPT
	lastLBA := uint64(d.Size/ss) - 1
	primary, perr := readGPTHeader(r, d.Size, ss, 1)
	backupLBA := lastLBA
	if perr == nil {
		backupLBA = primary.altLBA
	}
	backup, berr := readGPTHeader(r, d.Size, ss, backupLBA)
	if berr != nil && backupLBA != lastLBA {
		// The primary's pointer may be what is wrong; the spec puts the
		// backup at the last LBA.
		if b2, err2 := readGPTHeader(r, d.Size, ss, lastLBA); err2 == nil {
			backup, berr = b2, nil
			d.warnf("backup GPT header is at LBA %d, not at LBA %d where the primary header points", lastLBA, primary.altLBA)
		}
	}
	// The table's own sectors, for Overlaps: LBA 0 and 1 always, and what
	// each verified copy says.
	d.table("sector 0 (the protective MBR)", 0, ss)
	d.table("the primary GPT header", ss, ss)
	if primary != nil {
		d.table("the primary GPT entry array", primary.entryOff, int64(primary.entryCount)*int64(primary.entrySize))
	}
	if backup != nil {
		d.table("the backup GPT header", backup.headerOff, ss)
		d.table("the backup GPT entry array", backup.entryOff, int64(backup.entryCount)*int64(backup.entrySize))
	}
	var use *gptHeader
	switch {
	case perr == nil && berr == nil:
		use = primary
		if primary.entriesCRC != backup.entriesCRC || primary.entryCount != backup.entryCount {
			d.warnf("primary and backup GPT differ (entry array CRC %08x vs %08x); using the primary", primary.entriesCRC, backup.entriesCRC)
		}
	case perr == nil:
		use = primary
		d.warnf("backup GPT is damaged (%v); the primary is intact", berr)
	case berr == nil:
		use = backup
		d.warnf("primary GPT is damaged (%v); using the backup GPT at LBA %d", perr, backup.myLBA)
	default:
		return fmt.Errorf("%w: no valid GPT: primary: %v; backup: %v", ErrInvalid, perr, berr)
	}
	if use.myLBA != 1 && use.lastUsable >= use.myLBA {
		return formatErr(use.headerOff, "backup GPT header's last usable LBA %d is not below its own LBA %d", use.lastUsable, use.myLBA)
	}
	parts, err := gptEntries(r, d.Size, ss, use)
	if err != nil {
		return err
	}
	d.sgdisk = viewSgdisk(r, d.Size, ss, d.sector0)
	diskLast := uint64(d.Size/ss) - 1
	for _, p := range parts {
		switch {
		case p.End < p.Start:
			d.warnf("GPT entry %d: last LBA %d is before first LBA %d; entry ignored", p.Index, p.End, p.Start)
			continue
		case p.Start > diskLast:
			// Also every value whose byte offset would overflow: the
			// entry's bytes are not on this disk, whatever it says.
			d.warnf("GPT entry %d (LBA %d-%d) starts past the end of the disk (last LBA %d): entry ignored", p.Index, p.Start, p.End, diskLast)
			continue
		case p.End > diskLast && p.End > use.lastUsable:
			// Within the table's usable LBAs it is a partition of the disk
			// the table was written for, of which this is a truncated copy:
			// listed, with checkBounds' warning. Beyond them it is damage.
			d.warnf("GPT entry %d (LBA %d-%d) ends past the end of the disk (last LBA %d) and past the table's last usable LBA %d: entry ignored", p.Index, p.Start, p.End, diskLast, use.lastUsable)
			continue
		}
		if p.Start < use.firstUsable || p.End > use.lastUsable {
			d.warnf("GPT entry %d (LBA %d-%d) lies outside the usable LBAs %d-%d", p.Index, p.Start, p.End, use.firstUsable, use.lastUsable)
		}
		d.Partitions = append(d.Partitions, Partition{
			Number: p.Index,
			Start:  int64(p.Start) * ss,
			Size:   int64(p.End-p.Start+1) * ss,
			Type:   string(p.Type),
			Name:   p.Name,
			// Attribute bit 2, "legacy BIOS bootable", is what the 6.x
			// installers read as the active flag on GPT (sgdisk
			// --attributes=N:show; roles.go).
			Bootable:      p.Attributes&gptLegacyBIOSBootable != 0,
			GPTAttributes: p.Attributes,
		})
		if c, ok := GPTTypeCode(string(p.Type)); ok {
			d.Partitions[len(d.Partitions)-1].TypeCode = &c
		}
	}
	return nil
}

// readGPTHeader reads and verifies the header at lba: signature, header
// size, header CRC, its own LBA, entry geometry and the entry array CRC.
func readGPTHeader(r io.ReaderAt, size, ss int64, lba uint64) (*gptHeader, error) {
	if lba >= uint64(size/ss) {
		if lba > math.MaxInt64/uint64(ss) {
			return nil, fmt.Errorf("%w: header LBA %d is past the end of the disk (%d bytes)", ErrInvalid, lba, size)
		}
		return nil, formatErr(int64(lba)*ss, "header LBA %d is past the end of the disk (%d bytes): truncated image?", lba, size)
	}
	off := int64(lba) * ss
	b := make([]byte, ss)
	if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading GPT header at byte %d: %w", off, err)
	}
	if string(b[:8]) != gptSignature {
		return nil, formatErr(off, "no GPT signature at LBA %d", lba)
	}
	le := binary.LittleEndian
	h := &gptHeader{
		headerSize:  le.Uint32(b[12:]),
		myLBA:       le.Uint64(b[24:]),
		altLBA:      le.Uint64(b[32:]),
		firstUsable: le.Uint64(b[40:]),
		lastUsable:  le.Uint64(b[48:]),
		diskGUID:    b[56:72],
		entriesLBA:  le.Uint64(b[72:]),
		entryCount:  le.Uint32(b[80:]),
		entrySize:   le.Uint32(b[84:]),
		entriesCRC:  le.Uint32(b[88:]),
		sectorSize:  ss,
		headerOff:   off,
	}
	// Revision 1.0 and the 92-byte header are what every writer uses and what
	// go-diskfs accepts; anything else is treated as damage.
	if !bytes.Equal(b[8:12], []byte{0, 0, 1, 0}) || h.headerSize != 92 || le.Uint32(b[20:]) != 0 {
		return nil, formatErr(off+8, "GPT header revision %x, size %d or reserved field %08x not as in UEFI 2.x", b[8:12], h.headerSize, le.Uint32(b[20:]))
	}
	hdr := bytes.Clone(b[:h.headerSize])
	want := le.Uint32(hdr[16:])
	clear(hdr[16:20])
	if got := crc32.ChecksumIEEE(hdr); got != want {
		return nil, formatErr(off+16, "GPT header CRC mismatch at LBA %d (stored %08x, computed %08x)", lba, want, got)
	}
	if h.myLBA != lba {
		return nil, formatErr(off+24, "GPT header at LBA %d says it is at LBA %d", lba, h.myLBA)
	}
	if h.entrySize < 128 || h.entrySize%8 != 0 || uint64(h.entrySize)*uint64(h.entryCount) > maxGPTEntries {
		return nil, formatErr(off+80, "GPT entry array geometry %d x %d bytes out of range", h.entryCount, h.entrySize)
	}
	n := int64(h.entrySize) * int64(h.entryCount) // at most maxGPTEntries
	if h.entriesLBA >= uint64(size/ss) || int64(h.entriesLBA)*ss > size-n {
		return nil, formatErr(off+72, "GPT entry array at LBA %d (%d bytes) is past the end of the disk", h.entriesLBA, n)
	}
	h.entryOff = int64(h.entriesLBA) * ss
	// The kernel (block/partitions/efi.c is_gpt_valid) rejects a header
	// whose usable range is inverted; its last usable LBA must also be a
	// byte offset, as the entries are checked against it.
	if h.firstUsable > h.lastUsable || h.lastUsable > math.MaxInt64/uint64(ss)-1 {
		return nil, formatErr(off+40, "GPT usable LBAs %d-%d are not a range on any disk", h.firstUsable, h.lastUsable)
	}
	entries := make([]byte, n)
	if _, err := r.ReadAt(entries, h.entryOff); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading GPT entries at byte %d: %w", h.entryOff, err)
	}
	if got := crc32.ChecksumIEEE(entries); got != h.entriesCRC {
		return nil, formatErr(h.entryOff, "GPT entry array CRC mismatch for the header at LBA %d (stored %08x, computed %08x)", lba, h.entriesCRC, got)
	}
	return h, nil
}

// gptEntries parses the entry array of a verified header with go-diskfs.
// go-diskfs reads the primary copy, or the backup when the primary fails its
// checks. To make it use exactly the verified copy — and never trust a damaged
// primary's entry geometry — the primary header is masked with zeros when
// the backup is the verified one.
func gptEntries(r io.ReaderAt, size, ss int64, h *gptHeader) ([]*gpt.Partition, error) {
	if h.entrySize != gpt.PartitionEntrySize {
		return nil, formatErr(h.headerOff+84, "GPT entry size %d is not supported (only %d)", h.entrySize, gpt.PartitionEntrySize)
	}
	if h.myLBA != 1 {
		r = maskedReader{r, ss, 2 * ss}
	}
	t, err := gpt.Read(&readOnlyFile{SectionReader: io.NewSectionReader(r, 0, size)}, int(ss), int(ss))
	if err != nil {
		return nil, fmt.Errorf("%w: GPT: %v", ErrInvalid, err)
	}
	if (h.myLBA != 1) != t.RecoveredFromBackup {
		return nil, formatErr(h.headerOff, "GPT: go-diskfs chose a different copy than the verified one")
	}
	return t.Partitions, nil
}

// maskedReader reads zeros in [from, to).
type maskedReader struct {
	io.ReaderAt
	from, to int64
}

func (m maskedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := m.ReaderAt.ReadAt(p, off)
	for i := max(m.from, off); i < min(m.to, off+int64(n)); i++ {
		p[i-off] = 0
	}
	return n, err
}

// readOnlyFile gives go-diskfs the backend.File it wants (fs.File,
// io.ReaderAt, io.Seeker) over any io.ReaderAt, without a way to write.
type readOnlyFile struct{ *io.SectionReader }

func (f *readOnlyFile) Stat() (fs.FileInfo, error) { return sizeInfo(f.Size()), nil }
func (f *readOnlyFile) Close() error               { return nil }

type sizeInfo int64

func (s sizeInfo) Name() string       { return "disk" }
func (s sizeInfo) Size() int64        { return int64(s) }
func (s sizeInfo) Mode() fs.FileMode  { return 0o444 }
func (s sizeInfo) ModTime() time.Time { return time.Time{} }
func (s sizeInfo) IsDir() bool        { return false }
func (s sizeInfo) Sys() any           { return nil }
