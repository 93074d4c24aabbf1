package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// TableEdit is a planned change of partition-table bytes: what journal
// writes as one raw change (the before-bytes kept), with the table shown
// before and after for the diff.
type TableEdit struct {
	// Rewrites in the order they must be written: on GPT the backup copy
	// first, so that an interrupted write leaves the primary intact.
	Rewrites []Rewrite
	Before   []string // one line per partition, as the diff shows the table
	After    []string
	Summary  string
}

// Rewrite is one byte range of the disk with its old and new content.
type Rewrite struct {
	Offset   int64
	Old, New []byte
}

// Diff is the table before and after as a unified-style listing: changed
// lines with -/+, others with a space.
func (e *TableEdit) Diff() string {
	var b strings.Builder
	for i := range e.Before {
		if e.Before[i] == e.After[i] {
			fmt.Fprintf(&b, " %s\n", e.Before[i])
			continue
		}
		fmt.Fprintf(&b, "-%s\n+%s\n", e.Before[i], e.After[i])
	}
	return b.String()
}

// ErrOtherActive is returned by PlanBootable when another DOS partition
// carries the active flag and the caller did not ask to move it.
var ErrOtherActive = errors.New("another partition carries the active flag")

// PlanBootable plans the change that makes partition n "active" the way
// the 5.6-6.5 installers test it (RootActiveLabel): the active flag of its
// MBR entry on DOS, attribute bit 2 (legacy BIOS bootable) of its entry in
// both GPT copies. On DOS, a standard MBR boot loader refuses a table with
// two active entries, so another active primary partition (a Dell utility
// partition) is cleared only with moveOthers; without it the plan is
// refused with ErrOtherActive, naming that partition. On GPT the attribute
// may be set on several entries and others are left alone. It returns nil,
// nil when the flag is already as requested. It only reads r.
func PlanBootable(r io.ReaderAt, d *Disk, n int, moveOthers bool) (*TableEdit, error) {
	p := d.Partition(n)
	if p == nil {
		return nil, fmt.Errorf("no partition %d", n)
	}
	switch d.Table {
	case TableDOS:
		return planDOSActive(r, d, n, moveOthers)
	case TableGPT:
		if p.Bootable && p.GPTAttributes&3 == 0 {
			return nil, nil
		}
		return planGPTBootable(r, d, n)
	}
	return nil, fmt.Errorf("no partition table to change")
}

func planDOSActive(r io.ReaderAt, d *Disk, n int, moveOthers bool) (*TableEdit, error) {
	if n > 4 {
		return nil, fmt.Errorf("partition %d is a logical partition: the installer's active test applies to primary partitions 1-4 only here", n)
	}
	mbr := make([]byte, 512)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("reading the MBR: %w", err)
	}
	if !plausibleMBR(mbr) {
		return nil, formatErr(0, "the MBR changed since the disk was read")
	}
	newMBR := append([]byte(nil), mbr...)
	var others []string
	for i := 1; i <= 4; i++ {
		flag := &newMBR[446+16*(i-1)]
		switch {
		case i == n:
			*flag = 0x80
		case *flag == 0x80:
			q := d.Partition(i)
			desc := fmt.Sprintf("partition %d", i)
			if q != nil {
				desc += fmt.Sprintf(" (type %s%s)", q.Type, roleSuffix(q.Role))
			}
			others = append(others, desc)
			if moveOthers {
				*flag = 0
			}
		}
	}
	if len(others) > 0 && !moveOthers {
		return nil, fmt.Errorf("%w: %s; setting it on partition %d as well would leave two active entries, which a standard MBR boot loader refuses (\"Invalid partition table\")", ErrOtherActive, strings.Join(others, ", "), n)
	}
	e := &TableEdit{Summary: fmt.Sprintf("DOS table: set the active flag on partition %d", n)}
	if len(others) > 0 {
		e.Summary += fmt.Sprintf(", clear it on %s", strings.Join(others, ", "))
	}
	// One extent over the four entries: each flag byte is in it.
	e.Rewrites = []Rewrite{{Offset: 446, Old: mbr[446:510], New: newMBR[446:510]}}
	if string(mbr) == string(newMBR) {
		return nil, nil
	}
	e.Before, e.After = dosLines(d, mbr), dosLines(d, newMBR)
	return e, nil
}

func roleSuffix(role string) string {
	if role == "" {
		return ""
	}
	return ", " + role
}

func dosLines(d *Disk, mbr []byte) []string {
	var out []string
	le := binary.LittleEndian
	for i := 1; i <= 4; i++ {
		e := mbr[446+16*(i-1):]
		if e[4] == 0 {
			continue
		}
		line := fmt.Sprintf("partition %d: start=%d, size=%d, type=%02x", i, le.Uint32(e[8:]), le.Uint32(e[12:]), e[4])
		if e[0] == 0x80 {
			line += ", bootable"
		}
		out = append(out, line)
	}
	return out
}

func planGPTBootable(r io.ReaderAt, d *Disk, n int) (*TableEdit, error) {
	ss := int64(d.SectorSize)
	lastLBA := uint64(d.Size/ss) - 1
	primary, err := readGPTHeader(r, d.Size, ss, 1)
	if err != nil {
		return nil, fmt.Errorf("primary GPT: %w (repair the table before changing it)", err)
	}
	backup, err := readGPTHeader(r, d.Size, ss, primary.altLBA)
	if err != nil || primary.altLBA != lastLBA {
		return nil, fmt.Errorf("backup GPT: not at the last LBA or damaged (%v): repair the table before changing it", err)
	}
	if uint32(n) > primary.entryCount || primary.entryCount != backup.entryCount || primary.entrySize != backup.entrySize || primary.entriesCRC != backup.entriesCRC {
		return nil, fmt.Errorf("the primary and backup GPT differ: repair the table before changing it")
	}
	e := &TableEdit{Summary: fmt.Sprintf("GPT: set attribute bit 2 (legacy BIOS bootable) on partition %d, in the primary and the backup table", n)}
	if p := d.Partition(n); p.GPTAttributes&3 != 0 {
		// sgdisk lists bits 0 and 1 before bit 2, and the 6.x installers
		// read only its first line (sgdisk.go).
		e.Summary = fmt.Sprintf("GPT: set attribute bit 2 (legacy BIOS bootable) and clear bits 0 (system partition) and 1 (hide from EFI), which sgdisk lists before it, on partition %d, in the primary and the backup table", n)
	}
	// Backup copy first.
	var before, after []string
	for _, h := range []*gptHeader{backup, primary} {
		entries := make([]byte, int64(h.entrySize)*int64(h.entryCount))
		if _, err := r.ReadAt(entries, h.entryOff); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading GPT entries at byte %d: %w", h.entryOff, err)
		}
		off := int64(n-1) * int64(h.entrySize)
		attr := entries[off+48 : off+56]
		old := binary.LittleEndian.Uint64(attr)
		newEntries := append([]byte(nil), entries...)
		binary.LittleEndian.PutUint64(newEntries[off+48:], (old|gptLegacyBIOSBootable)&^3)
		hdr := make([]byte, h.headerSize)
		if _, err := r.ReadAt(hdr, h.headerOff); err != nil {
			return nil, fmt.Errorf("reading GPT header at byte %d: %w", h.headerOff, err)
		}
		newHdr := append([]byte(nil), hdr...)
		binary.LittleEndian.PutUint32(newHdr[88:], crc32.ChecksumIEEE(newEntries))
		clear(newHdr[16:20])
		binary.LittleEndian.PutUint32(newHdr[16:], crc32.ChecksumIEEE(newHdr))
		e.Rewrites = append(e.Rewrites,
			Rewrite{Offset: h.entryOff + off + 48, Old: attr, New: newEntries[off+48 : off+56]},
			Rewrite{Offset: h.headerOff, Old: hdr, New: newHdr})
		if h == primary {
			before, after = gptLines(entries, h), gptLines(newEntries, h)
		}
	}
	e.Before, e.After = before, after
	return e, nil
}

func gptLines(entries []byte, h *gptHeader) []string {
	le := binary.LittleEndian
	var out []string
	for i := 0; i < int(h.entryCount); i++ {
		e := entries[i*int(h.entrySize):]
		if isZero(e[:16]) {
			continue
		}
		attr := le.Uint64(e[48:])
		line := fmt.Sprintf("partition %d: start=%d, end=%d, type=%s, attrs=0x%x", i+1, le.Uint64(e[32:]), le.Uint64(e[40:]), guidString(e[:16]), attr)
		if attr&gptLegacyBIOSBootable != 0 {
			line += " (legacy BIOS bootable)"
		}
		out = append(out, line)
	}
	return out
}

// guidString formats a GPT mixed-endian GUID in upper case.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(b[0:]), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// CheckBootable re-reads the table and says whether partition n is active
// as planned (and, with only, the only active one on DOS): the check after
// PlanBootable's bytes were written, and after they were put back.
func CheckBootable(r io.ReaderAt, size int64, o Options, n int, only bool) error {
	d, err := InspectWith(r, size, o)
	if err != nil {
		return fmt.Errorf("re-reading the table: %w", err)
	}
	p := d.Partition(n)
	if p == nil {
		return fmt.Errorf("re-reading the table: no partition %d", n)
	}
	if !p.Bootable {
		return fmt.Errorf("re-reading the table: partition %d is not %s", n, activeName(d.Table))
	}
	if p.GPTAttributes&3 != 0 {
		return fmt.Errorf("re-reading the table: partition %d still has attribute bit 0 or 1", n)
	}
	for _, q := range d.Partitions {
		if only && d.Table == TableDOS && q.Number != n && q.Bootable {
			return fmt.Errorf("re-reading the table: partition %d is active too", q.Number)
		}
	}
	for _, w := range d.Warnings {
		if strings.Contains(w, "GPT") {
			return fmt.Errorf("re-reading the table: %s", w)
		}
	}
	return nil
}
