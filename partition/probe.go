package partition

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Signature is what a probe recognised at the start of a partition.
type Signature struct {
	FS            string
	Label         string
	UUID          string
	NeedsRecovery bool
	// Errors: an ext superblock records errors (Partition.Errors).
	Errors *FSErrors
}

// headSize is how much of each partition the probes share: it covers the
// ext superblock (1024), XFS and FAT boot sectors (0), the LVM2 label
// (sectors 0-3) and the swap signature at the end of a 4 KiB page.
const headSize = 8192

// A prober looks at a partition's first headSize bytes (head, shorter for a
// tiny partition) and may read more through r. It returns the signature, or
// nil and the reason it does not match.
type prober struct {
	name  string
	probe func(head []byte, r io.ReaderAt, size int64) (*Signature, error)
}

// probers run in this order; the first match wins. Each one keeps its reason
// for not matching (Partition.Probe), so "unknown" can be explained.
var probers = []prober{
	{"ext", probeExt},
	{"xfs", probeXFS},
	{"lvm2", probeLVM2},
	{"swap", probeSwap},
	{"vfat", probeVFAT},
	{"zfs", probeZFS},
}

// errNoMagic marks "not this filesystem" as opposed to damage.
var errNoMagic = errors.New("no magic")

func probePartition(r io.ReaderAt, d *Disk, p *Partition) {
	size := p.Size
	if p.Start >= d.Size {
		p.Probe = []string{"partition starts past the end of the disk"}
		return
	}
	if p.End() > d.Size {
		size = d.Size - p.Start
	}
	if isExtendedType(p.Type) && d.Table == TableDOS {
		return // a container, not a filesystem
	}
	sig, reasons := probe(io.NewSectionReader(r, p.Start, size), size)
	p.Probe = reasons
	if sig == nil {
		return
	}
	p.FS, p.Label, p.UUID, p.NeedsRecovery, p.Errors = sig.FS, sig.Label, sig.UUID, sig.NeedsRecovery, sig.Errors
}

// probe runs every prober on a partition of size bytes.
func probe(r io.ReaderAt, size int64) (*Signature, []string) {
	head := make([]byte, min(size, headSize))
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, []string{fmt.Sprintf("reading the first %d bytes: %v", len(head), err)}
	}
	head = head[:n]
	var reasons []string
	for _, p := range probers {
		sig, err := p.probe(head, r, size)
		if sig != nil {
			return sig, reasons
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", p.name, err))
	}
	return nil, reasons
}

func need(head []byte, n int) error {
	if len(head) < n {
		return fmt.Errorf("%w: partition shorter than %d bytes", errNoMagic, n)
	}
	return nil
}

// ext2/3/4 superblock (e2fsprogs lib/ext2fs/ext2_fs.h). The kind follows
// libblkid's rules: ext3 has a journal and only features ext3 supports; ext2
// has no journal and only ext2 features; anything else is ext4.
const (
	extCompatHasJournal     = 0x0004
	extIncompatRecover      = 0x0004
	extIncompatJournalDev   = 0x0008
	ext3IncompatSupported   = 0x0002 | 0x0004 | 0x0010 // filetype, recover, meta_bg
	ext2IncompatSupported   = 0x0002 | 0x0010
	ext23RoCompatSupported  = 0x0001 | 0x0002 | 0x0004 // sparse_super, large_file, btree_dir
	extSuperblock, extMagic = 1024, 0xEF53
	// s_state and s_error_count (e2fsprogs lib/ext2fs/ext2_fs.h).
	extStateOff, extErrorFS = 0x3a, 0x0002
	extErrorCountOff        = 0x194
)

// FSErrors is what an ext superblock records about errors the kernel (or
// e2fsck) found on the filesystem: EXT2_ERROR_FS in s_state, and
// s_error_count, which the kernel counts up at every error it meets
// (ext4_handle_error). e2fsck refuses to skip such a filesystem ("contains
// a file system with errors", e2fsck/unix.c check_if_skip) and clears both
// once it has checked it; the kernel mounts it all the same, with only a
// warning. tytso/e2fsprogs a9f482e55f3c.
type FSErrors struct {
	State bool   `json:"state"` // s_state has EXT2_ERROR_FS ("not clean with errors")
	Count uint32 `json:"count"` // s_error_count
}

func (e FSErrors) String() string {
	var s []string
	if e.State {
		s = append(s, "its state is \"not clean with errors\"")
	}
	if e.Count > 0 {
		s = append(s, fmt.Sprintf("it counts %d error(s)", e.Count))
	}
	return "the ext superblock records errors: " + strings.Join(s, " and ")
}

func probeExt(head []byte, _ io.ReaderAt, _ int64) (*Signature, error) {
	if err := need(head, extSuperblock+0x88); err != nil {
		return nil, err
	}
	sb := head[extSuperblock:]
	le := binary.LittleEndian
	if le.Uint16(sb[0x38:]) != extMagic {
		return nil, fmt.Errorf("%w at byte %d", errNoMagic, extSuperblock+0x38)
	}
	compat, incompat, roCompat := le.Uint32(sb[0x5c:]), le.Uint32(sb[0x60:]), le.Uint32(sb[0x64:])
	if incompat&extIncompatJournalDev != 0 {
		return nil, errors.New("an external ext journal device (jbd), not a filesystem")
	}
	sig := &Signature{
		Label:         cString(sb[0x78:0x88]),
		UUID:          uuidString(sb[0x68:0x78]),
		NeedsRecovery: incompat&extIncompatRecover != 0,
	}
	e := FSErrors{State: le.Uint16(sb[extStateOff:])&extErrorFS != 0}
	if len(sb) >= extErrorCountOff+4 {
		e.Count = le.Uint32(sb[extErrorCountOff:])
	}
	if e.State || e.Count > 0 {
		sig.Errors = &e
	}
	switch {
	case compat&extCompatHasJournal != 0 && incompat&^ext3IncompatSupported == 0 && roCompat&^ext23RoCompatSupported == 0:
		sig.FS = "ext3"
	case compat&extCompatHasJournal == 0 && incompat&^ext2IncompatSupported == 0 && roCompat&^ext23RoCompatSupported == 0:
		sig.FS = "ext2"
	default:
		sig.FS = "ext4"
	}
	return sig, nil
}

// XFS superblock (xfs_format.h): magic "XFSB", sb_uuid at 32, sb_fname at 108.
func probeXFS(head []byte, _ io.ReaderAt, _ int64) (*Signature, error) {
	if err := need(head, 120); err != nil {
		return nil, err
	}
	if string(head[:4]) != "XFSB" {
		return nil, fmt.Errorf("%w at byte 0", errNoMagic)
	}
	return &Signature{FS: "xfs", UUID: uuidString(head[32:48]), Label: cString(head[108:120])}, nil
}

// LVM2 physical volume label (LVM2 lib/label/label.h): "LABELONE" in one of
// the first four sectors, type "LVM2 001", a CRC over the rest of the
// sector, and the PV header with a 32-character UUID.
func probeLVM2(head []byte, _ io.ReaderAt, _ int64) (*Signature, error) {
	le := binary.LittleEndian
	for s := 0; s < 4 && (s+1)*512 <= len(head); s++ {
		b := head[s*512 : (s+1)*512]
		if string(b[:8]) != "LABELONE" || string(b[24:32]) != "LVM2 001" {
			continue
		}
		if got, want := lvmCRC(b[20:]), le.Uint32(b[16:]); got != want {
			return nil, fmt.Errorf("LVM2 label in sector %d: CRC mismatch (stored %08x, computed %08x)", s, want, got)
		}
		off := int(le.Uint32(b[20:]))
		if off < 32 || off+32 > len(b) {
			return nil, fmt.Errorf("LVM2 label in sector %d: PV header offset %d out of range", s, off)
		}
		u := string(b[off : off+32])
		return &Signature{FS: "lvm2", UUID: u[0:6] + "-" + u[6:10] + "-" + u[10:14] + "-" + u[14:18] + "-" + u[18:22] + "-" + u[22:26] + "-" + u[26:32]}, nil
	}
	return nil, fmt.Errorf("%w in sectors 0-3", errNoMagic)
}

// lvmCRC is LVM2's calc_crc: the IEEE CRC-32 seeded with 0xf597a6cf, without
// the final inversion.
func lvmCRC(b []byte) uint32 { return ^crc32.Update(^uint32(0xf597a6cf), crc32.IEEETable, b) }

// Linux swap (include/linux/swap.h): the magic ends the first page; version
// 1 headers carry a UUID and label after the 1 KiB boot block.
func probeSwap(head []byte, r io.ReaderAt, size int64) (*Signature, error) {
	for _, page := range []int64{4096, 8192, 16384, 65536} {
		if page > size {
			break
		}
		magic := make([]byte, 10)
		if page <= int64(len(head)) {
			copy(magic, head[page-10:page])
		} else if _, err := r.ReadAt(magic, page-10); err != nil {
			continue
		}
		switch string(magic) {
		case "SWAPSPACE2":
			return &Signature{FS: "swap", UUID: uuidString(head[1036:1052]), Label: cString(head[1052:1068])}, nil
		case "SWAP-SPACE":
			return &Signature{FS: "swap"}, nil
		}
	}
	return nil, fmt.Errorf("%w at the end of the first page", errNoMagic)
}

// FAT boot sector (Microsoft FAT specification): a BPB with sane geometry and
// the "FAT" file system type string; FAT32 keeps serial and label further on.
func probeVFAT(head []byte, _ io.ReaderAt, _ int64) (*Signature, error) {
	if err := need(head, 512); err != nil {
		return nil, err
	}
	if head[510] != 0x55 || head[511] != 0xaa {
		return nil, fmt.Errorf("%w: no boot signature at byte 510", errNoMagic)
	}
	le := binary.LittleEndian
	fat32 := string(head[0x52:0x57]) == "FAT32"
	if !fat32 && string(head[0x36:0x39]) != "FAT" {
		return nil, fmt.Errorf("%w: no FAT type string at byte 54 or 82", errNoMagic)
	}
	bps, spc, reserved, fats := le.Uint16(head[11:]), head[13], le.Uint16(head[14:]), head[16]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || reserved == 0 || fats == 0 || fats > 2 {
		return nil, fmt.Errorf("FAT boot sector with implausible geometry (%d bytes/sector, %d sectors/cluster, %d reserved, %d FATs)", bps, spc, reserved, fats)
	}
	serial, label := head[0x27:0x2b], head[0x2b:0x36]
	if fat32 {
		serial, label = head[0x43:0x47], head[0x47:0x52]
	}
	sig := &Signature{FS: "vfat", UUID: fmt.Sprintf("%02X%02X-%02X%02X", serial[3], serial[2], serial[1], serial[0])}
	if l := strings.TrimRight(string(label), " \x00"); l != "NO NAME" {
		sig.Label = l
	}
	return sig, nil
}

// ZFS vdev label (OpenZFS vdev_impl.h): four 256 KiB labels, two at the
// start; each has a 128 KiB uberblock ring at 128 KiB with the magic
// 0x00bab10c in either byte order. As libblkid does, four magics are
// required. Only the member is recognised here; pool details come from the
// full label reader.
func probeZFS(_ []byte, r io.ReaderAt, size int64) (*Signature, error) {
	const label, ring, minSize = 256 << 10, 128 << 10, 64 << 20
	if size < minSize {
		return nil, fmt.Errorf("%w: smaller than 64 MiB", errNoMagic)
	}
	buf := make([]byte, ring)
	found := 0
	for _, l := range []int64{0, label} {
		if _, err := r.ReadAt(buf, l+ring); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading uberblocks of label at byte %d: %v", l, err)
		}
		for off := 0; off+8 <= len(buf); off += 1024 {
			m := buf[off : off+8]
			if binary.LittleEndian.Uint64(m) == 0x00bab10c || binary.BigEndian.Uint64(m) == 0x00bab10c {
				found++
			}
		}
		if found >= 4 {
			return &Signature{FS: "zfs"}, nil
		}
	}
	return nil, fmt.Errorf("%w: %d uberblock magics in labels 0-1", errNoMagic, found)
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func uuidString(b []byte) string {
	if isZero(b) {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
