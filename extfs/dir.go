package extfs

import (
	"encoding/binary"
	"io/fs"
	"strings"
	"sync"
	"syscall"
)

// Dirent is one directory entry.
type Dirent struct {
	Name string
	Ino  uint32
	// Type is the file type the entry records (fs.ModeDir, fs.ModeSymlink,
	// 0 for a regular file...), or fs.ModeIrregular when it records none
	// (ext2 without the filetype feature): then read the inode.
	Type fs.FileMode
}

type dirList struct {
	ents []Dirent
	once sync.Once
	idx  map[string]int
}

func (d *dirList) find(name string) (Dirent, bool) {
	if len(d.ents) <= 32 {
		for _, e := range d.ents {
			if e.Name == name {
				return e, true
			}
		}
		return Dirent{}, false
	}
	d.once.Do(func() {
		d.idx = make(map[string]int, len(d.ents))
		for i, e := range d.ents {
			if _, dup := d.idx[e.Name]; !dup {
				d.idx[e.Name] = i
			}
		}
	})
	i, ok := d.idx[name]
	if !ok {
		return Dirent{}, false
	}
	return d.ents[i], true
}

// File types of directory entries (EXT2_FT_*).
var direntTypes = [8]fs.FileMode{fs.ModeIrregular, 0, fs.ModeDir, fs.ModeDevice | fs.ModeCharDevice,
	fs.ModeDevice, fs.ModeNamedPipe, fs.ModeSocket, fs.ModeSymlink}

// dir returns the entries of directory in (without "." and ".."), cached.
func (f *FS) dir(in *Inode) (*dirList, error) {
	if d := f.dirs.get(in.Ino); d != nil {
		return d, nil
	}
	d, err := f.loadDir(in)
	if err != nil {
		return nil, err
	}
	f.dirs.put(in.Ino, d)
	return d, nil
}

func (f *FS) loadDir(in *Inode) (*dirList, error) {
	if !in.isDir() {
		return nil, syscall.ENOTDIR
	}
	if in.Flags&flagEncrypt != 0 {
		return nil, f.errf(ErrUnsupported, in.Ino, -1, "encrypted directory (fscrypt): names cannot be read without the key")
	}
	p := &dirParser{f: f, in: in}
	if in.Flags&flagInlineData != 0 {
		if err := p.inline(); err != nil {
			return nil, err
		}
		return &dirList{ents: p.ents}, nil
	}
	runs, err := f.runs(in)
	if err != nil {
		return nil, err
	}
	nblk := (uint64(in.Size) + uint64(f.bs) - 1) / uint64(f.bs)
	// A directory has no holes: every block up to i_size holds entries
	// (the kernel's lookup says "Directory hole found" and fails). Read
	// as an empty block, a hole would make names absent that are unknown.
	hole := func(lblk uint64) error {
		return f.errf(ErrCorrupt, in.Ino, f.inodeByte(in.Ino), "directory block %d (of %d in its %d bytes) is a hole: its entries are lost", lblk, nblk, in.Size)
	}
	if nblk == 0 {
		return nil, f.errf(ErrCorrupt, in.Ino, f.inodeByte(in.Ino), "directory of 0 bytes (not even . and ..)")
	}
	next := uint64(0)
	for _, r := range runs {
		if r.lblk >= nblk {
			break
		}
		if r.lblk > next {
			return nil, hole(next)
		}
		next = r.lblk + r.n
		if r.unwritten {
			return nil, f.errf(ErrCorrupt, in.Ino, -1, "directory has an unwritten extent at logical block %d", r.lblk)
		}
		for i := uint64(0); i < r.n && r.lblk+i < nblk; i++ {
			pb := r.pblk + i
			b, err := f.block(pb)
			if err != nil {
				return nil, err
			}
			at := f.off + int64(pb)*f.bs
			if f.roCompat&roCompatMetadataCsum != 0 {
				if err := f.checkDirBlock(in, b, at); err != nil {
					return nil, err
				}
			}
			if err := p.entries(b, at); err != nil {
				return nil, err
			}
		}
	}
	if next < nblk {
		return nil, hole(next)
	}
	return &dirList{ents: p.ents}, nil
}

type dirParser struct {
	f    *FS
	in   *Inode
	ents []Dirent
}

// entries parses the directory entries of one block (or inline region) b,
// which starts at byte at on disk, checking each record as the kernel's
// __ext4_check_dir_entry does.
func (p *dirParser) entries(b []byte, at int64) error {
	f := p.f
	le := binary.LittleEndian
	size := len(b)
	for off := 0; off < size; {
		bad := func(format string, args ...any) error {
			return f.errf(ErrCorrupt, p.in.Ino, at+int64(off), "directory entry: "+format, args...)
		}
		if size-off < 8 {
			return bad("record header cut by the end of the block")
		}
		ino := le.Uint32(b[off:])
		rec := int(le.Uint16(b[off+4:]))
		if f.bs >= 65536 && size == int(f.bs) {
			// ext4_rec_len_from_disk for 64 KiB blocks.
			if rec == 65535 || rec == 0 {
				rec = int(f.bs)
			} else {
				rec = rec&65532 | (rec&3)<<16
			}
		}
		nameLen := int(b[off+6])
		ftype := b[off+7]
		if f.incompat&incompatFiletype == 0 {
			nameLen, ftype = int(le.Uint16(b[off+6:])), 0
		}
		switch {
		case rec < 12:
			return bad("record length %d is below the minimum 12", rec)
		case rec%4 != 0:
			return bad("record length %d is not a multiple of 4", rec)
		case rec < (nameLen+8+3)&^3:
			return bad("record length %d is too short for a %d-byte name", rec, nameLen)
		case off+rec > size:
			return bad("record of %d bytes runs past the end of the block", rec)
		case ino > f.inodes:
			return bad("inode %d is beyond the %d inodes", ino, f.inodes)
		}
		if ino != 0 {
			name := b[off+8 : off+8+nameLen]
			switch {
			case nameLen == 0:
				return bad("entry for inode %d without a name", ino)
			case strings.ContainsAny(string(name), "/\x00"):
				return bad("name %q contains '/' or NUL", name)
			}
			if s := string(name); s != "." && s != ".." {
				if len(p.ents) >= f.lim.MaxDirEntries {
					return f.errf(ErrLimit, p.in.Ino, -1, "directory has more than %d entries", f.lim.MaxDirEntries)
				}
				t := fs.ModeIrregular
				if f.incompat&incompatFiletype != 0 {
					if int(ftype) >= len(direntTypes) {
						return bad("unknown file type %d for %q", ftype, s)
					}
					t = direntTypes[ftype]
				}
				p.ents = append(p.ents, Dirent{Name: s, Ino: ino, Type: t})
			}
		}
		off += rec
	}
	return nil
}

// inline parses a directory stored in the inode (inline_data): the parent
// inode number, entries in the rest of i_block, more in system.data.
func (p *dirParser) inline() error {
	f, in := p.f, p.in
	if err := p.entries(in.block[4:], -1); err != nil {
		return err
	}
	more, err := f.inlineTail(in)
	if err != nil || len(more) == 0 {
		return err
	}
	return p.entries(more, -1)
}

// checkDirBlock verifies the metadata_csum checksum of a directory block:
// the dirent tail of a leaf or the dx tail of an htree node, whichever the
// block has (e2fsprogs ext2fs_dir_block_csum_verify). A block with neither
// is an error, as for the kernel.
func (f *FS) checkDirBlock(in *Inode, b []byte, at int64) error {
	le := binary.LittleEndian
	bs := len(b)
	// A leaf: records chain exactly to a 12-byte tail at the end.
	off := 0
	for off < bs-12 {
		rec := int(le.Uint16(b[off+4:]))
		if rec < 8 || rec%4 != 0 {
			break
		}
		off += rec
	}
	if off == bs-12 && le.Uint32(b[off:]) == 0 && le.Uint16(b[off+4:]) == 12 && le.Uint16(b[off+6:]) == 0xDE00 {
		if got, want := le.Uint32(b[bs-4:]), crc32c(in.csumSeed, b[:bs-12]); got != want {
			return f.errf(ErrCorrupt, in.Ino, at, "directory block checksum %#08x does not match its content (%#08x)", got, want)
		}
		return nil
	}
	// An htree node: the root (".", ".." then dx_root_info) or an
	// internal node (one empty record over the whole block).
	countOff := 0
	switch r0 := int(le.Uint16(b[4:])); {
	case r0 == bs && b[6] == 0:
		countOff = 8
	case r0 == 12 && int(le.Uint16(b[16:])) == bs-12 && le.Uint32(b[24:]) == 0 && b[29] == 8:
		countOff = 32
	default:
		return f.errf(ErrCorrupt, in.Ino, at, "directory block has no checksum (metadata_csum)")
	}
	limit, count := int(le.Uint16(b[countOff:])), int(le.Uint16(b[countOff+2:]))
	maxEnt := (bs - countOff) / 8
	tail := countOff + limit*8
	if limit > maxEnt || count > limit || tail+8 > bs {
		return f.errf(ErrCorrupt, in.Ino, at, "htree node: count %d, limit %d, no room for its checksum", count, limit)
	}
	c := crc32c(in.csumSeed, b[:countOff+count*8])
	c = crc32c(c, b[tail:tail+4])
	c = crc32c(c, []byte{0, 0, 0, 0})
	if got := le.Uint32(b[tail+4:]); got != c {
		return f.errf(ErrCorrupt, in.Ino, at, "htree node checksum %#08x does not match its content (%#08x)", got, c)
	}
	return nil
}

// lookup finds name in directory dir. fs.ErrNotExist only when the whole
// directory was read and the name is not in it.
func (f *FS) lookup(dir *Inode, name string) (Dirent, error) {
	d, err := f.dir(dir)
	if err != nil {
		return Dirent{}, err
	}
	if e, ok := d.find(name); ok {
		return e, nil
	}
	if dir.Flags&flagCasefold != 0 {
		// The kernel would match case-insensitively under the filesystem's
		// Unicode rules, which are not implemented here.
		return Dirent{}, f.errf(ErrUnsupported, dir.Ino, -1, "case-insensitive directory has no entry spelled exactly %q; whether another spelling matches is unknown", name)
	}
	return Dirent{}, fs.ErrNotExist
}
