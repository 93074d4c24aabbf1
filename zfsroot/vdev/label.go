package vdev

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// On-disk constants (OpenZFS include/sys/vdev_impl.h, zio.h, uberblock_impl.h).
const (
	LabelSize    = 256 << 10 // sizeof(vdev_label_t)
	MinVdevSize  = 64 << 20  // SPA_MINDEVSIZE
	nvlistOffset = 16 << 10  // VDEV_SKIP_SIZE + boot header
	nvlistSize   = 112 << 10 // vp_nvlist + zio_eck_t
	ringOffset   = 128 << 10
	ringSize     = 128 << 10
	eckSize      = 40
	eckMagic     = 0x0210da7ab10c7a11
	// What a leaf vdev keeps outside its allocatable size (asize): labels 0
	// and 1 plus the boot block in front, labels 2 and 3 at the end
	// (OpenZFS include/sys/vdev_impl.h VDEV_LABEL_START_SIZE, VDEV_LABEL_END_SIZE).
	labelStartSize = 2*LabelSize + 7<<19
	labelEndSize   = 2 * LabelSize
	uberblockMagic = 0x00bab10c
)

// Pool states (include/sys/fs/zfs.h pool_state_t).
const (
	StateActive    = 0
	StateExported  = 1
	StateDestroyed = 2
	StateSpare     = 3
	StateL2Cache   = 4
)

// ErrNoLabel means none of the four labels is valid: the device is not a
// ZFS pool member (or all its labels are damaged).
var ErrNoLabel = errors.New("no valid ZFS label")

// ErrNotZFS means that, besides no label being valid, none even carries
// the ZFS checksum magic: the bytes were never a vdev, rather than a
// damaged one. Errors wrapping it wrap ErrNoLabel too.
var ErrNotZFS = errors.New("no ZFS label")

// errNoMagic is a label without the checksum magic: nothing ZFS wrote.
var errNoMagic = errors.New("no checksum magic (not a ZFS label)")

// StateName is the name of a pool state as the JSON contract spells it.
func StateName(s uint64) string {
	switch s {
	case StateActive:
		return "active"
	case StateExported:
		return "exported"
	case StateDestroyed:
		return "destroyed"
	case StateSpare:
		return "spare"
	case StateL2Cache:
		return "l2cache"
	}
	return fmt.Sprintf("state-%d", s)
}

// Config is what a leaf vdev label says about its pool.
type Config struct {
	Name            string
	Version         uint64
	State           uint64
	TXG             uint64
	PoolGUID        uint64
	GUID            uint64 // this leaf vdev
	TopGUID         uint64
	HostID          uint64
	Hostname        string
	VdevChildren    uint64
	Tree            *Node    // the top-level vdev that holds this leaf
	FeaturesForRead []string // v5000 only
}

// Node summarises one node of vdev_tree.
type Node struct {
	Type     string  `json:"type"`
	ID       uint64  `json:"id"`
	GUID     uint64  `json:"guid,string"`
	Path     string  `json:"path,omitempty"`
	Ashift   uint64  `json:"ashift,omitempty"`
	Asize    uint64  `json:"asize,omitempty"`
	Children []*Node `json:"children"` // null on a leaf
}

// Uberblock is one valid slot of a label's uberblock ring.
type Uberblock struct {
	Label     int    `json:"label"`
	Slot      int    `json:"slot"`
	Version   uint64 `json:"version"`
	TXG       uint64 `json:"txg"`
	GUIDSum   uint64 `json:"guid_sum,string"`
	Timestamp uint64 `json:"timestamp"`
	BigEndian bool   `json:"big_endian"`
}

// Label is the outcome of reading one of the four labels.
type Label struct {
	Index  int       // 0..3
	Offset int64     // of the label, relative to the vdev
	Err    error     // why the label is not valid; nil when valid
	absent bool      // not read (beyond the end, below the minimum size) or no magic: no sign of ZFS
	Config *Config   // decoded, even when Err says it failed a validity rule
	Best   Uberblock // best uberblock of this label's ring (TXG 0: none)
}

// Member is a vdev as its four labels describe it.
type Member struct {
	Size     int64     // psize: the vdev size rounded down to 256 KiB
	Bytes    int64     // the size as given, before rounding
	Needed   int64     // the smallest size that holds the vdev as its pool recorded it; 0: unknown
	Labels   [4]Label  // all four, valid or not
	Config   *Config   // from the valid label with the highest txg
	Best     Uberblock // best uberblock over all valid labels
	Conflict []string  // how valid labels disagree with Config
}

// ValidLabels lists the indexes of the valid labels that carry the chosen
// config's guid (libzutil's num_labels).
func (m *Member) ValidLabels() []int {
	v := []int{}
	for _, l := range m.Labels {
		if l.Err == nil && l.Config.GUID == m.Config.GUID {
			v = append(v, l.Index)
		}
	}
	return v
}

// Short is how many bytes the device lacks to hold the vdev as its pool
// recorded it (a truncated copy); 0 when it is long enough or the label
// does not say.
func (m *Member) Short() int64 {
	return max(m.Needed-m.Bytes, 0)
}

// NeededSize is the smallest device that holds this leaf as its pool
// recorded it: the allocatable size of the top-level vdev (per child for
// raidz, whose asize is the smallest child's times the children) plus the
// label and boot overhead. 0 when the label does not say.
func (c *Config) NeededSize() int64 {
	t := c.Tree
	if t == nil || t.Asize == 0 || t.Asize > 1<<62 {
		return 0
	}
	per := t.Asize
	switch t.Type {
	case "disk", "file", "mirror":
	case "raidz":
		if len(t.Children) == 0 {
			return 0
		}
		per /= uint64(len(t.Children))
	default:
		return 0
	}
	return int64(per) + labelStartSize + labelEndSize
}

// LabelOffset is where label l lies on a vdev of psize bytes.
func LabelOffset(l int, psize int64) int64 {
	off := int64(l) * LabelSize
	if l >= 2 {
		off += psize - 4*LabelSize
	}
	return off
}

// ReadLabels reads the four labels of the vdev that occupies size bytes of
// r from offset 0 (wrap r in an io.SectionReader for a partition or slice).
// It fails with ErrNoLabel when no label is valid; the per-label reasons are
// in the error text. A device below the 64 MiB minimum vdev size can only
// be a truncated copy: its labels 0 and 1 are still read, so that the pool
// can be named.
func ReadLabels(r io.ReaderAt, size int64) (*Member, error) {
	psize := size &^ (LabelSize - 1)
	tiny := psize < MinVdevSize
	m := &Member{Size: psize, Bytes: size}
	buf := make([]byte, LabelSize)
	for i := range m.Labels {
		if tiny && i >= 2 {
			m.Labels[i] = Label{Index: i, Offset: -1, absent: true, Err: fmt.Errorf("label %d not read: %d bytes is below the 64 MiB minimum vdev size", i, size)}
			continue
		}
		m.Labels[i] = readLabel(r, i, LabelOffset(i, psize), buf)
	}
	var reasons []string
	zfs := false // some label shows ZFS wrote here
	for _, l := range m.Labels {
		zfs = zfs || !l.absent
		if l.Err != nil {
			reasons = append(reasons, l.Err.Error())
			continue
		}
		if m.Config == nil || l.Config.TXG > m.Config.TXG {
			m.Config = l.Config
		}
		if l.Best.TXG > m.Best.TXG || (l.Best.TXG == m.Best.TXG && l.Best.Timestamp > m.Best.Timestamp) {
			m.Best = l.Best
		}
	}
	if m.Config == nil {
		if !zfs {
			return nil, fmt.Errorf("%w: %w: %s", ErrNoLabel, ErrNotZFS, strings.Join(reasons, "; "))
		}
		if tiny {
			return nil, fmt.Errorf("%w: %d bytes is below the 64 MiB minimum vdev size", ErrNoLabel, size)
		}
		return nil, fmt.Errorf("%w: %s", ErrNoLabel, strings.Join(reasons, "; "))
	}
	m.Needed = m.Config.NeededSize()
	if short := m.Short(); short > 0 {
		// The labels 2 and 3 read above lie inside the pool's data on the
		// original; the real ones were cut off with the end of the copy.
		for i := 2; i < 4; i++ {
			m.Labels[i].Offset = LabelOffset(i, m.Needed)
			m.Labels[i].Err = fmt.Errorf("label %d at offset %d: beyond the end of the device (%d bytes, %d short of the vdev's recorded size)", i, m.Labels[i].Offset, size, short)
			m.Labels[i].Config = nil
		}
	}
	for _, l := range m.Labels {
		if l.Err == nil {
			m.Conflict = append(m.Conflict, disagreements(l, m.Config)...)
		}
	}
	return m, nil
}

func disagreements(l Label, c *Config) []string {
	var d []string
	diff := func(field string, got, want any) {
		if got != want {
			d = append(d, fmt.Sprintf("label %d: %s %v differs from %v", l.Index, field, got, want))
		}
	}
	diff("pool_guid", l.Config.PoolGUID, c.PoolGUID)
	diff("guid", l.Config.GUID, c.GUID)
	diff("name", l.Config.Name, c.Name)
	diff("version", l.Config.Version, c.Version)
	diff("state", l.Config.State, c.State)
	diff("txg", l.Config.TXG, c.TXG)
	return d
}

func readLabel(r io.ReaderAt, i int, off int64, buf []byte) Label {
	l := Label{Index: i, Offset: off}
	if n, err := r.ReadAt(buf, off); n < len(buf) {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("cut off by the end of the device at byte %d", off+int64(n))
			l.absent = true
		}
		l.Err = fmt.Errorf("label %d at offset %d: %w", i, off, err)
		return l
	}
	block := buf[nvlistOffset : nvlistOffset+nvlistSize]
	if err := verifyLabelChecksum(block, uint64(off+nvlistOffset)); err != nil {
		l.Err = fmt.Errorf("label %d nvlist at offset %d: %w", i, off+nvlistOffset, err)
		l.absent = errors.Is(err, errNoMagic)
		return l
	}
	nv, err := DecodeNVList(block[:nvlistSize-eckSize])
	if err != nil {
		l.Err = fmt.Errorf("label %d at offset %d: %w", i, off+nvlistOffset, err)
		return l
	}
	l.Config = configFrom(nv)
	if err := l.Config.valid(); err != nil {
		l.Err = fmt.Errorf("label %d at offset %d: %w", i, off+nvlistOffset, err)
		return l
	}
	ashift := uint64(9)
	if l.Config.Tree != nil && l.Config.Tree.Ashift != 0 {
		ashift = l.Config.Tree.Ashift
	}
	l.Best = bestUberblock(buf[ringOffset:ringOffset+ringSize], off+ringOffset, ashift, i)
	return l
}

// valid applies libzutil's zpool_read_label rules.
func (c *Config) valid() error {
	switch {
	case c.GUID == 0:
		return fmt.Errorf("no vdev guid: %w", ErrMalformed)
	case c.State > StateL2Cache:
		return fmt.Errorf("pool state %d is not a stored state: %w", c.State, ErrMalformed)
	case c.TXG == 0 && c.State != StateSpare && c.State != StateL2Cache:
		return fmt.Errorf("txg 0 on a pool member: %w", ErrMalformed)
	}
	return nil
}

func configFrom(nv *NVList) *Config {
	c := &Config{}
	c.Name, _ = nv.String("name")
	c.Version, _ = nv.Uint64("version")
	c.State, _ = nv.Uint64("state")
	c.TXG, _ = nv.Uint64("txg")
	c.PoolGUID, _ = nv.Uint64("pool_guid")
	c.GUID, _ = nv.Uint64("guid")
	c.TopGUID, _ = nv.Uint64("top_guid")
	c.HostID, _ = nv.Uint64("hostid")
	c.Hostname, _ = nv.String("hostname")
	c.VdevChildren, _ = nv.Uint64("vdev_children")
	if t, ok := nv.List("vdev_tree"); ok {
		c.Tree = vdevFrom(t)
	}
	if f, ok := nv.List("features_for_read"); ok {
		for _, p := range f.Pairs {
			c.FeaturesForRead = append(c.FeaturesForRead, p.Name)
		}
	}
	return c
}

func vdevFrom(nv *NVList) *Node {
	v := &Node{}
	v.Type, _ = nv.String("type")
	v.ID, _ = nv.Uint64("id")
	v.GUID, _ = nv.Uint64("guid")
	v.Path, _ = nv.String("path")
	v.Ashift, _ = nv.Uint64("ashift")
	v.Asize, _ = nv.Uint64("asize")
	children, _ := nv.Lists("children")
	for _, c := range children {
		v.Children = append(v.Children, vdevFrom(c))
	}
	return v
}

// eckOrder returns the writer's byte order from the zio_eck_t magic at the
// end of block.
func eckOrder(block []byte) (binary.ByteOrder, bool) {
	m := block[len(block)-eckSize:]
	switch {
	case binary.LittleEndian.Uint64(m) == eckMagic:
		return binary.LittleEndian, true
	case binary.BigEndian.Uint64(m) == eckMagic:
		return binary.BigEndian, true
	}
	return nil, false
}

// verifyLabelChecksum checks the embedded SHA-256 of a label block whose
// verifier is its absolute offset on the vdev (zio_checksum_label_verifier).
// The block is restored before returning.
func verifyLabelChecksum(block []byte, offset uint64) error {
	order, ok := eckOrder(block)
	if !ok {
		return errNoMagic
	}
	ck := block[len(block)-32:]
	var stored [32]byte
	copy(stored[:], ck)
	clear(ck)
	order.PutUint64(ck, offset)
	sum := sha256.Sum256(block)
	copy(ck, stored[:])
	for w := range 4 {
		if order.Uint64(stored[8*w:]) != binary.BigEndian.Uint64(sum[8*w:]) {
			return fmt.Errorf("checksum mismatch: %w", ErrMalformed)
		}
	}
	return nil
}

// bestUberblock scans every slot of a ring whose slot size follows from the
// top-level vdev's ashift, and returns the valid slot with the highest txg
// (then timestamp). Slot size is 1 << clamp(ashift, 10, 13) in OpenZFS;
// old illumos did not cap it at 13, so a larger shift is tried as well.
func bestUberblock(ring []byte, ringOff int64, ashift uint64, label int) Uberblock {
	var best Uberblock
	shifts := []uint64{min(max(ashift, 10), 13)}
	if ashift > 13 && ashift < 17 {
		shifts = append(shifts, ashift)
	}
	for _, shift := range shifts {
		slot := 1 << shift
		for s := 0; s+slot <= len(ring); s += slot {
			b := ring[s : s+slot]
			ub, ok := parseUberblock(b, uint64(ringOff)+uint64(s))
			if !ok {
				continue
			}
			ub.Label, ub.Slot = label, s/slot
			if ub.TXG > best.TXG || (ub.TXG == best.TXG && ub.Timestamp > best.Timestamp) {
				best = ub
			}
		}
	}
	return best
}

func parseUberblock(b []byte, offset uint64) (Uberblock, bool) {
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint64(b) == uberblockMagic:
		order = binary.LittleEndian
	case binary.BigEndian.Uint64(b) == uberblockMagic:
		order = binary.BigEndian
	default:
		return Uberblock{}, false
	}
	if verifyLabelChecksum(b, offset) != nil {
		return Uberblock{}, false
	}
	ub := Uberblock{
		Version:   order.Uint64(b[8:]),
		TXG:       order.Uint64(b[16:]),
		GUIDSum:   order.Uint64(b[24:]),
		Timestamp: order.Uint64(b[32:]),
		BigEndian: order == binary.BigEndian,
	}
	return ub, ub.TXG != 0
}

// HasLabelHeader is a cheap test (16 bytes read per label) for whether any
// of the four labels starts like a packed XDR nvlist, so that callers that
// probe every partition pay for ReadLabels only where a pool may be.
func HasLabelHeader(r io.ReaderAt, size int64) bool {
	psize := size &^ (LabelSize - 1)
	if psize < MinVdevSize {
		return false
	}
	b := make([]byte, 16)
	for l := range 4 {
		if _, err := r.ReadAt(b, LabelOffset(l, psize)+nvlistOffset); err != nil {
			continue
		}
		// header: XDR, endian 0|1, 2 reserved; nvl_version 0; nvflag 0|1
		if b[0] == 1 && b[1] <= 1 && b[2] == 0 && b[3] == 0 && string(b[4:8]) == "\x00\x00\x00\x00" && string(b[8:11]) == "\x00\x00\x00" && b[11] <= 1 {
			return true
		}
	}
	return false
}
