package extfs

import (
	"encoding/binary"
	"io/fs"
	"time"
)

// Inode flags (e2fsprogs lib/ext2fs/ext2_fs.h).
const (
	flagEncrypt    = 0x00000800
	flagIndex      = 0x00001000
	flagHugeFile   = 0x00040000
	flagExtents    = 0x00080000
	flagEAInode    = 0x00200000
	flagInlineData = 0x10000000
	flagCasefold   = 0x40000000
)

// File type bits of i_mode (as in st_mode).
const (
	sIFMT   = 0xF000
	sIFSOCK = 0xC000
	sIFLNK  = 0xA000
	sIFREG  = 0x8000
	sIFBLK  = 0x6000
	sIFDIR  = 0x4000
	sIFCHR  = 0x2000
	sIFIFO  = 0x1000
)

const goodOldInodeSize = 128

// Inode is one inode as read (and checked) from disk; FileInfo.Sys
// returns it.
type Inode struct {
	Ino        uint32
	Mode       uint16 // i_mode: type and permission bits, as st_mode
	UID, GID   uint32
	Size       int64
	Nlink      uint16
	Flags      uint32
	Generation uint32
	Atime      time.Time
	Mtime      time.Time
	Ctime      time.Time
	// Major and Minor are the device numbers of a character or block device.
	Major, Minor uint32

	block     [60]byte // i_block: block map, extent root, inline data or fast symlink
	fileACL   uint64
	blocks512 uint64 // i_blocks in 512-byte units
	raw       []byte // the whole on-disk inode, for in-inode extended attributes
	extra     uint16 // i_extra_isize
	csumSeed  uint32 // per-inode seed of block checksums (metadata_csum)
}

// FileMode is Mode as an fs.FileMode.
func (in *Inode) FileMode() fs.FileMode {
	m := fs.FileMode(in.Mode & 0o777)
	if in.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if in.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if in.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m | typeMode(in.Mode)
}

func typeMode(mode uint16) fs.FileMode {
	switch mode & sIFMT {
	case sIFREG:
		return 0
	case sIFDIR:
		return fs.ModeDir
	case sIFLNK:
		return fs.ModeSymlink
	case sIFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		return fs.ModeDevice
	case sIFIFO:
		return fs.ModeNamedPipe
	case sIFSOCK:
		return fs.ModeSocket
	}
	return fs.ModeIrregular
}

func (in *Inode) isDir() bool     { return in.Mode&sIFMT == sIFDIR }
func (in *Inode) isReg() bool     { return in.Mode&sIFMT == sIFREG }
func (in *Inode) isSymlink() bool { return in.Mode&sIFMT == sIFLNK }

// inodeLoc is where inode ino is: its inode-table block and the byte
// offset in that block.
func (f *FS) inodeLoc(ino uint32) (blk uint64, at int64, err error) {
	if ino < 1 || ino > f.inodes {
		return 0, 0, f.errf(ErrCorrupt, ino, -1, "inode number out of range (1 to %d)", f.inodes)
	}
	g := (ino - 1) / f.inodesPerGroup
	idx := (ino - 1) % f.inodesPerGroup
	d, err := f.group(g)
	if err != nil {
		return 0, 0, err
	}
	if f.uninitFlagsValid() && (d.flags&bgInodeUninit != 0 || idx >= f.inodesPerGroup-min(d.itUnused, f.inodesPerGroup)) {
		return 0, 0, f.errf(ErrCorrupt, ino, -1, "inode is in the unused part of group %d's inode table (a directory entry to a free inode)", g)
	}
	byteOff := uint64(idx) * uint64(f.inodeSize)
	return d.inodeTable + byteOff/uint64(f.bs), int64(byteOff % uint64(f.bs)), nil
}

// inodeByte is where inode ino is on the disk (for messages), or -1.
func (f *FS) inodeByte(ino uint32) int64 {
	blk, at, err := f.inodeLoc(ino)
	if err != nil {
		return -1
	}
	return f.off + int64(blk)*f.bs + at
}

// inode reads and checks inode ino.
func (f *FS) inode(ino uint32) (*Inode, error) {
	blk, at, err := f.inodeLoc(ino)
	if err != nil {
		return nil, err
	}
	buf, err := f.block(blk)
	if err != nil {
		return nil, err
	}
	raw := buf[at : at+int64(f.inodeSize)]
	off := f.off + int64(blk)*f.bs + at
	le := binary.LittleEndian
	in := &Inode{
		Ino:        ino,
		Mode:       le.Uint16(raw[0x00:]),
		UID:        uint32(le.Uint16(raw[0x02:])) | uint32(le.Uint16(raw[0x78:]))<<16,
		GID:        uint32(le.Uint16(raw[0x18:])) | uint32(le.Uint16(raw[0x7A:]))<<16,
		Nlink:      le.Uint16(raw[0x1A:]),
		Flags:      le.Uint32(raw[0x20:]),
		Generation: le.Uint32(raw[0x64:]),
		fileACL:    uint64(le.Uint32(raw[0x68:])) | uint64(le.Uint16(raw[0x76:]))<<32,
		raw:        append([]byte(nil), raw...),
	}
	copy(in.block[:], raw[0x28:0x64])
	if f.inodeSize > goodOldInodeSize {
		in.extra = le.Uint16(raw[0x80:])
		if uint32(in.extra) > f.inodeSize-goodOldInodeSize || in.extra&3 != 0 {
			return nil, f.errf(ErrCorrupt, ino, off+0x80, "extra inode size %d (a multiple of 4 up to %d)", in.extra, f.inodeSize-goodOldInodeSize)
		}
	}
	if f.roCompat&roCompatMetadataCsum != 0 {
		if err := f.checkInodeCsum(in, raw, off); err != nil {
			return nil, err
		}
	}
	if in.Nlink == 0 && ino != rootIno {
		return nil, f.errf(ErrCorrupt, ino, off, "inode is not in use (links count 0): a directory entry to a deleted inode")
	}
	size := uint64(le.Uint32(raw[0x04:]))
	if in.isReg() || f.incompat&incompatLargedir != 0 {
		size |= uint64(le.Uint32(raw[0x6C:])) << 32
	}
	if size > 1<<62 {
		return nil, f.errf(ErrCorrupt, ino, off+4, "size %d", size)
	}
	in.Size = int64(size)
	in.blocks512 = uint64(le.Uint32(raw[0x1C:]))
	if f.roCompat&roCompatHugeFile != 0 {
		in.blocks512 |= uint64(le.Uint16(raw[0x74:])) << 32
		if in.Flags&flagHugeFile != 0 {
			in.blocks512 *= uint64(f.bs / 512)
		}
	}
	in.Atime = f.inodeTime(raw, in.extra, 0x08, 0x8C)
	in.Ctime = f.inodeTime(raw, in.extra, 0x0C, 0x84)
	in.Mtime = f.inodeTime(raw, in.extra, 0x10, 0x88)
	if t := in.Mode & sIFMT; t == sIFCHR || t == sIFBLK {
		// old_decode_dev / new_decode_dev (kernel ext4_iget).
		if old := le.Uint32(in.block[0:]); old != 0 {
			in.Major, in.Minor = old>>8&0xff, old&0xff
		} else {
			dev := le.Uint32(in.block[4:])
			in.Major, in.Minor = (dev&0xfff00)>>8, dev&0xff|(dev>>12)&0xfff00
		}
	}
	if f.roCompat&roCompatMetadataCsum != 0 {
		// Only metadata_csum blocks use it; on other filesystems
		// computing it would build the CRC-32C table for nothing.
		in.csumSeed = crc32cU32(crc32cU32(f.csumSeed, ino), in.Generation)
	}
	return in, nil
}

// inodeTime decodes a timestamp and, when the inode has room for it, its
// *_extra word (nanoseconds << 2 | epoch bits), as ext4_decode_extra_time.
func (f *FS) inodeTime(raw []byte, extra uint16, lo, xoff int) time.Time {
	le := binary.LittleEndian
	sec := int64(int32(le.Uint32(raw[lo:])))
	var nsec int64
	if f.inodeSize > goodOldInodeSize && int(extra) >= xoff+4-goodOldInodeSize {
		x := le.Uint32(raw[xoff:])
		sec += int64(x&3) << 32
		nsec = int64(x >> 2)
		if nsec >= 1e9 {
			nsec = 0
		}
	}
	return time.Unix(sec, nsec)
}

// checkInodeCsum verifies the inode checksum (e2fsprogs
// ext2fs_inode_csum_verify): crc32c of seed, inode number, generation and
// the whole inode with both checksum fields zeroed; only the low 16 bits
// when the inode has no room for the high ones. An all-zero inode passes.
func (f *FS) checkInodeCsum(in *Inode, raw []byte, off int64) error {
	le := binary.LittleEndian
	hasHi := f.inodeSize > goodOldInodeSize && in.extra >= 4
	c := in.raw // a private copy
	stored := uint32(le.Uint16(c[0x7C:]))
	c[0x7C], c[0x7D] = 0, 0
	var hi [2]byte
	if hasHi {
		copy(hi[:], c[0x82:0x84])
		stored |= uint32(le.Uint16(c[0x82:])) << 16
		c[0x82], c[0x83] = 0, 0
	}
	sum := crc32cU32(crc32cU32(f.csumSeed, in.Ino), in.Generation)
	sum = crc32c(sum, c)
	le.PutUint16(c[0x7C:], uint16(stored))
	if hasHi {
		copy(c[0x82:0x84], hi[:])
	} else {
		sum &= 0xffff
	}
	if sum == stored {
		return nil
	}
	for _, b := range raw[:goodOldInodeSize] {
		if b != 0 {
			return f.errf(ErrCorrupt, in.Ino, off, "inode checksum %#08x does not match its content (%#08x)", stored, sum)
		}
	}
	return nil
}

// xattr is one extended attribute entry.
type xattr struct {
	index uint8
	name  string
	value []byte
	inum  uint32 // value in an EA inode (ea_inode feature); value is nil
}

const xattrMagic = 0xEA020000

// ibodyXattrs parses the extended attributes stored in the inode after
// i_extra_isize (e2fsprogs lib/ext2fs/ext_attr.c read_xattrs_from_buffer).
func (f *FS) ibodyXattrs(in *Inode) ([]xattr, error) {
	if f.inodeSize <= goodOldInodeSize {
		return nil, nil
	}
	start := goodOldInodeSize + int(in.extra)
	if start+4 > len(in.raw) || binary.LittleEndian.Uint32(in.raw[start:]) != xattrMagic {
		return nil, nil
	}
	region := in.raw[start+4:]
	xs, err := parseXattrEntries(region, region)
	if err != nil {
		return nil, f.errf(ErrCorrupt, in.Ino, -1, "extended attributes in the inode: %v", err)
	}
	return xs, nil
}

// parseXattrEntries reads entries from ents until the 4-byte zero end
// mark; values are at e_value_offs in vals.
func parseXattrEntries(ents, vals []byte) ([]xattr, error) {
	le := binary.LittleEndian
	var out []xattr
	for off := 0; ; {
		if off+4 > len(ents) {
			return nil, errString("entries run past their region")
		}
		if le.Uint32(ents[off:]) == 0 {
			return out, nil
		}
		if off+16 > len(ents) {
			return nil, errString("entry header runs past its region")
		}
		nameLen := int(ents[off])
		x := xattr{index: ents[off+1], inum: le.Uint32(ents[off+4:])}
		voff, vsize := int(le.Uint16(ents[off+2:])), int64(le.Uint32(ents[off+8:]))
		if off+16+nameLen > len(ents) {
			return nil, errString("entry name runs past its region")
		}
		x.name = string(ents[off+16 : off+16+nameLen])
		if x.inum == 0 {
			if vsize > int64(len(vals)) || voff+int(vsize) > len(vals) {
				return nil, errString("value of " + x.name + " runs past its region")
			}
			x.value = vals[voff : voff+int(vsize)]
		}
		out = append(out, x)
		off += (16 + nameLen + 3) &^ 3
	}
}

type errString string

func (e errString) Error() string { return string(e) }
