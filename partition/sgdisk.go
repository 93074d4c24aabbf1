package partition

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// The 6.0-6.5 installers take a GPT partition as "active" when
// re.match('.*\(legacy BIOS bootable\)', out) matches the stdout of
// `sgdisk --attributes=N:show DEV` (host-installer 20abd302208b
// disktools.py GPTPartitionTool.partitionTable): re.match anchors at the
// start and '.' stops at a newline, so only the FIRST line counts. sgdisk
// lists the set bits in ascending order ("1:0:1 (system partition)" before
// "1:2:1 (legacy BIOS bootable)"), and before that it may print a line of
// its own while loading the disk. What it prints, and when, is GPT fdisk's
// gpt.cc GPTData::ForceLoadGPTData and UseWhichPartitions, identical in
// every release from 0.7.2 (2011) to 1.0.10 (docs/disk.md); which release
// the 6.x installers carry is not known, older ones are not modelled.

// Messages of sgdisk (stdout unless said otherwise), quoted in reasons.
const (
	sgdiskCorruptGPT = "Caution: Found protective or hybrid MBR and corrupt GPT. Using GPT, but disk verification and recovery are STRONGLY recommended."
	sgdiskCorruptMBR = "Found valid GPT with corrupt MBR; using GPT and will write new protective MBR on save."
	sgdiskSmaller    = "Warning! Disk size is smaller than the main header indicates!"
	sgdiskNewGPT     = "Creating new GPT entries in memory."
	sgdiskAbort      = "Invalid partition data! (on stderr, exit status 2)"
)

// sgdiskView is what sgdisk makes of a disk: the line it prints before its
// own output ("" for none), or abort when it refuses the disk.
type sgdiskView struct {
	first string
	abort bool
}

// viewSgdisk ports sgdisk's loading: the headers' signatures and CRCs and
// both entry arrays' CRCs decide "corrupt" (any mismatch), sector 0 the MBR
// state (0xEE entry: protective or hybrid; 55AA without one: an MBR; no
// 55AA: invalid). It only reads r.
func viewSgdisk(r io.ReaderAt, size, ss int64, s0 sector0Kind) sgdiskView {
	sectors := uint64(size / ss)
	var first string
	main, mainOK := sgdiskHeader(r, ss, 1)
	secondLBA := sectors - 1
	if mainOK && main.altLBA < sectors {
		secondLBA = main.altLBA
	} else if mainOK {
		first = sgdiskSmaller
	}
	second, secondOK := sgdiskHeader(r, ss, secondLBA)
	valid := 0
	if mainOK && main.revision == 0x00010000 {
		valid |= 1
	}
	if secondOK && second.revision == 0x00010000 {
		valid |= 2
	}
	mbr := s0 == sector0Protective
	switch {
	case valid == 0:
		// gpt_invalid (which the GPT reader refuses as well): sgdisk
		// converts an MBR or starts an empty GPT.
		if s0 == sector0EmptyDOS || s0 == sector0OtherMBR {
			return sgdiskView{first: firstOf(first, "Found invalid GPT and valid MBR; converting MBR to GPT format in memory.")}
		}
		return sgdiskView{first: firstOf(first, sgdiskNewGPT)}
	case valid != 3 || !sgdiskTableOK(r, size, ss, main) || !sgdiskTableOK(r, size, ss, second):
		// gpt_corrupt.
		if mbr {
			return sgdiskView{first: firstOf(first, sgdiskCorruptGPT)}
		}
		return sgdiskView{first: first, abort: true}
	}
	switch s0 {
	case sector0Protective:
		return sgdiskView{first: first} // "Found valid GPT with protective MBR" is not printed by sgdisk (BeQuiet)
	case sector0NoSignature:
		return sgdiskView{first: firstOf(first, sgdiskCorruptMBR)}
	}
	return sgdiskView{first: first, abort: true}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type sgdiskHdr struct {
	revision   uint32
	altLBA     uint64
	entriesLBA uint64
	entries    uint32
	entriesCRC uint32
}

// sgdiskHeader reads the header at lba and says whether its signature and
// CRC are right (CheckHeaderValidity, CheckHeaderCRC: a header size outside
// 92..sector size is taken as 92).
func sgdiskHeader(r io.ReaderAt, ss int64, lba uint64) (sgdiskHdr, bool) {
	b := make([]byte, 512)
	if lba > uint64(1<<62)/uint64(ss) {
		return sgdiskHdr{}, false
	}
	if _, err := r.ReadAt(b, int64(lba)*ss); err != nil && !errors.Is(err, io.EOF) {
		return sgdiskHdr{}, false
	}
	le := binary.LittleEndian
	h := sgdiskHdr{revision: le.Uint32(b[8:]), altLBA: le.Uint64(b[32:]), entriesLBA: le.Uint64(b[72:]), entries: le.Uint32(b[80:]), entriesCRC: le.Uint32(b[88:])}
	n := int64(le.Uint32(b[12:]))
	if n > ss || n > 512 || n < 92 {
		n = 92
	}
	hdr := bytes.Clone(b[:n])
	want := le.Uint32(hdr[16:])
	clear(hdr[16:20])
	return h, string(b[:8]) == gptSignature && crc32.ChecksumIEEE(hdr) == want
}

// sgdiskTableOK: the CRC of the header's entry array (128-byte entries:
// sgdisk supports no other size).
func sgdiskTableOK(r io.ReaderAt, size, ss int64, h sgdiskHdr) bool {
	n := int64(h.entries) * 128
	if n > maxGPTEntries || h.entriesLBA >= uint64(size/ss) || int64(h.entriesLBA)*ss > size-n {
		return false
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(h.entriesLBA)*ss); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return crc32.ChecksumIEEE(b) == h.entriesCRC
}

// InstallerActive says whether partition p is "active" as the 5.6-6.5
// installers test it: the DOS active flag; on GPT, attribute bit 2 (legacy
// BIOS bootable) on the first line of sgdisk's output, that is bit 2 set,
// bits 0 and 1 clear, and nothing printed by sgdisk before.
func (d *Disk) InstallerActive(p *Partition) bool {
	if d.Table != TableGPT {
		return p.Bootable
	}
	return p.Bootable && p.GPTAttributes&3 == 0 && d.sector0 == sector0Protective && d.sgdisk == sgdiskView{}
}
