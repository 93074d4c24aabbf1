package extfs

import (
	"encoding/binary"
	"slices"
)

// run maps n logical blocks from lblk to physical blocks from pblk;
// unwritten (preallocated) runs read as zeros.
type run struct {
	lblk, pblk, n uint64
	unwritten     bool
}

const (
	extentMagic    = 0xF30A
	maxExtentDepth = 5       // EXT4_MAX_EXTENT_DEPTH
	initMaxLen     = 1 << 15 // EXT_INIT_MAX_LEN
	maxLogical     = 1 << 32 // extents address 32-bit logical blocks
)

// mapper collects the runs of one inode, checking every entry the way the
// kernel's ext4_ext_check / ext4_valid_extent_entries do, plus the limits
// that keep a hostile map bounded: runs in strictly increasing logical
// order (so no node can be used twice), no more blocks mapped than the
// filesystem has, at most Limits.MaxRuns pieces.
type mapper struct {
	f      *FS
	in     *Inode
	nblk   uint64 // logical blocks covered by i_size: later ones are ignored
	out    []run
	next   uint64 // first logical block a new run may start at
	mapped uint64
	nodes  uint64
}

func (m *mapper) add(r run) error {
	f := m.f
	if r.lblk < m.next {
		return f.errf(ErrCorrupt, m.in.Ino, -1, "block map: logical block %d mapped twice or out of order", r.lblk)
	}
	if r.pblk < f.firstData || r.pblk >= f.blocks || f.blocks-r.pblk < r.n {
		return f.errf(ErrCorrupt, m.in.Ino, -1, "block map: blocks %d-%d are outside the filesystem's %d blocks", r.pblk, r.pblk+r.n-1, f.blocks)
	}
	m.next = r.lblk + r.n
	if r.lblk >= m.nblk {
		return nil // past i_size: never read
	}
	m.mapped += r.n
	if m.mapped > f.blocks {
		return f.errf(ErrCorrupt, m.in.Ino, -1, "block map: more blocks mapped than the filesystem has (cross-linked blocks)")
	}
	if k := len(m.out); k > 0 {
		p := &m.out[k-1]
		if p.lblk+p.n == r.lblk && p.pblk+p.n == r.pblk && p.unwritten == r.unwritten {
			p.n += r.n
			return nil
		}
	}
	if len(m.out) >= f.lim.MaxRuns {
		return f.errf(ErrLimit, m.in.Ino, -1, "file is in more than %d separate pieces", f.lim.MaxRuns)
	}
	m.out = append(m.out, r)
	return nil
}

// runs maps the data of in (not for inline data).
func (f *FS) runs(in *Inode) ([]run, error) {
	m := &mapper{f: f, in: in, nblk: (uint64(in.Size) + uint64(f.bs) - 1) / uint64(f.bs)}
	var err error
	if in.Flags&flagExtents != 0 {
		err = m.extentNode(in.block[:], -1, 0, true)
	} else {
		err = m.blockMap()
	}
	if err != nil {
		return nil, err
	}
	return slices.Clip(m.out), nil
}

// extentNode walks one node of the extent tree: the root in i_block
// (depth -1: take the header's) or a block at the depth its parent implies.
func (m *mapper) extentNode(b []byte, depth int, at int64, root bool) error {
	f, ino := m.f, m.in.Ino
	le := binary.LittleEndian
	bad := func(format string, args ...any) error {
		return f.errf(ErrCorrupt, ino, at, "extent tree: "+format, args...)
	}
	if len(b) < 12 {
		return bad("node of %d bytes", len(b))
	}
	if mg := le.Uint16(b); mg != extentMagic {
		return bad("bad magic %#04x", mg)
	}
	entries, max, d := int(le.Uint16(b[2:])), int(le.Uint16(b[4:])), int(le.Uint16(b[6:]))
	if root {
		if d > maxExtentDepth {
			return bad("depth %d exceeds %d", d, maxExtentDepth)
		}
	} else if d != depth {
		return bad("node depth %d where %d was expected", d, depth)
	}
	if capacity := (len(b) - 12) / 12; max > capacity || entries > max {
		return bad("%d entries, %d max, room for %d", entries, max, capacity)
	}
	if !root && f.roCompat&roCompatMetadataCsum != 0 {
		tail := 12 + 12*max
		if tail+4 > len(b) {
			return bad("no room for the checksum")
		}
		if got, want := le.Uint32(b[tail:]), crc32c(m.in.csumSeed, b[:tail]); got != want {
			return bad("block checksum %#08x does not match its content (%#08x)", got, want)
		}
	}
	if d > 0 && entries == 0 && !root {
		return bad("index node without entries")
	}
	prevIdx := int64(-1)
	for i := range entries {
		e := b[12+12*i:]
		lblk := uint64(le.Uint32(e))
		if d == 0 {
			n, unwritten := uint64(le.Uint16(e[4:])), false
			if n > initMaxLen {
				n, unwritten = n-initMaxLen, true
			}
			if n == 0 {
				return bad("extent of length 0 at logical block %d", lblk)
			}
			if lblk+n > maxLogical {
				return bad("extent past logical block 2^32")
			}
			pblk := uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:]))
			if err := m.add(run{lblk: lblk, pblk: pblk, n: n, unwritten: unwritten}); err != nil {
				return err
			}
			continue
		}
		if lblk < m.next || int64(lblk) <= prevIdx {
			return bad("index entry for logical block %d out of order", lblk)
		}
		prevIdx = int64(lblk)
		child := uint64(le.Uint16(e[8:]))<<32 | uint64(le.Uint32(e[4:]))
		if child < f.firstData || child >= f.blocks {
			return bad("index entry points to block %d, outside the %d blocks", child, f.blocks)
		}
		m.nodes++
		if m.nodes > f.blocks {
			return bad("more tree nodes than the filesystem has blocks")
		}
		cb, err := f.block(child)
		if err != nil {
			return err
		}
		if err := m.extentNode(cb, d-1, f.off+int64(child)*f.bs, false); err != nil {
			return err
		}
		// The next index entry must start past what this child mapped.
		if m.next < lblk {
			m.next = lblk
		}
	}
	return nil
}

// blockMap walks ext2/ext3 block maps: 12 direct pointers, then single,
// double and triple indirect blocks, as far as i_size reaches; a zero
// pointer is a hole.
func (m *mapper) blockMap() error {
	le := binary.LittleEndian
	for i := range 12 {
		if uint64(i) >= m.nblk {
			return nil
		}
		if p := uint64(le.Uint32(m.in.block[4*i:])); p != 0 {
			if err := m.add(run{lblk: uint64(i), pblk: p, n: 1}); err != nil {
				return err
			}
		}
	}
	per := uint64(m.f.bs / 4)
	start, span := uint64(12), per
	for level := 1; level <= 3; level++ {
		if start >= m.nblk {
			return nil
		}
		if p := uint64(le.Uint32(m.in.block[4*(11+level):])); p != 0 {
			if err := m.indirect(p, level, start, span/per); err != nil {
				return err
			}
		}
		start += span
		span *= per
	}
	return nil
}

// indirect walks an indirect block at level (1: pointers to data) whose
// first entry maps logical block start; each entry covers unit blocks.
func (m *mapper) indirect(p uint64, level int, start, unit uint64) error {
	f := m.f
	if p < f.firstData || p >= f.blocks {
		return f.errf(ErrCorrupt, m.in.Ino, -1, "block map: indirect block %d is outside the %d blocks", p, f.blocks)
	}
	m.nodes++
	if m.nodes > f.blocks {
		return f.errf(ErrCorrupt, m.in.Ino, -1, "block map: more indirect blocks than the filesystem has blocks")
	}
	b, err := f.block(p)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	for i := range uint64(len(b) / 4) {
		l := start + i*unit
		if l >= m.nblk {
			return nil
		}
		q := uint64(le.Uint32(b[4*i:]))
		if q == 0 {
			continue
		}
		if level == 1 {
			if err := m.add(run{lblk: l, pblk: q, n: 1}); err != nil {
				return err
			}
			continue
		}
		if err := m.indirect(q, level-1, l, unit/uint64(len(b)/4)); err != nil {
			return err
		}
	}
	return nil
}
