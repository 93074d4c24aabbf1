package extfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Feature bits (e2fsprogs lib/ext2fs/ext2_fs.h).
const (
	compatHasJournal   = 0x0004
	compatSparseSuper2 = 0x0200

	roCompatSparseSuper  = 0x0001
	roCompatHugeFile     = 0x0008
	roCompatGdtCsum      = 0x0010
	roCompatBigalloc     = 0x0200
	roCompatMetadataCsum = 0x0400

	incompatCompression = 0x0001
	incompatFiletype    = 0x0002
	incompatRecover     = 0x0004
	incompatJournalDev  = 0x0008
	incompatMetaBg      = 0x0010
	incompatExtents     = 0x0040
	incompat64bit       = 0x0080
	incompatMMP         = 0x0100
	incompatFlexBg      = 0x0200
	incompatEAInode     = 0x0400
	incompatDirdata     = 0x1000
	incompatCsumSeed    = 0x2000
	incompatLargedir    = 0x4000
	incompatInlineData  = 0x8000
	incompatEncrypt     = 0x10000
	incompatCasefold    = 0x20000

	// What this reader reads. Encrypted and casefolded directories are
	// refused where they are met (see inode flags); the rest of such a
	// filesystem reads normally.
	incompatKnown = incompatFiletype | incompatRecover | incompatMetaBg | incompatExtents |
		incompat64bit | incompatMMP | incompatFlexBg | incompatEAInode | incompatCsumSeed |
		incompatLargedir | incompatInlineData | incompatEncrypt | incompatCasefold
)

// Group descriptor flags.
const bgInodeUninit = 0x0001

const (
	superOffset = 1024
	superSize   = 1024
	extMagic    = 0xEF53
	rootIno     = 2
)

// Limits bound what one read may cost, whatever the filesystem claims.
// Zero fields take the defaults.
type Limits struct {
	// MaxReadFile: ReadFile refuses a larger file (default 1 GiB). Open
	// streams any size.
	MaxReadFile int64
	// MaxDirEntries: a directory with more live entries is refused
	// (default 2,000,000).
	MaxDirEntries int
	// MaxRuns: a file mapped in more separate pieces is refused
	// (default 1,000,000: 32 MB of map).
	MaxRuns int
}

// DefaultLimits are the limits of a zero Limits.
var DefaultLimits = Limits{MaxReadFile: 1 << 30, MaxDirEntries: 2_000_000, MaxRuns: 1_000_000}

func (l Limits) withDefaults() Limits {
	if l.MaxReadFile <= 0 {
		l.MaxReadFile = DefaultLimits.MaxReadFile
	}
	if l.MaxDirEntries <= 0 {
		l.MaxDirEntries = DefaultLimits.MaxDirEntries
	}
	if l.MaxRuns <= 0 {
		l.MaxRuns = DefaultLimits.MaxRuns
	}
	return l
}

// Options tune Open.
type Options struct {
	// Name is how errors name the filesystem, e.g. "disk.img partition 2".
	Name string
	// DiskOffset is where byte 0 of the reader is on the disk, added to the
	// byte offsets errors name: a memory map of one partition reads from
	// 0, and its errors must name the same bytes as a read of the whole
	// disk does.
	DiskOffset int64
	Limits     Limits
	// NoReplay reads a filesystem that needs recovery as its last
	// checkpoint left it, as `mount -o ro,noload` and `debugfs -c` do,
	// instead of with its journal replayed in memory (what a mount shows).
	NoReplay bool
}

// FS is a read-only ext2, ext3 or ext4 filesystem. It is safe for
// concurrent use. Nothing is ever written: the underlying reader is only
// read, and a journal that needs recovery is replayed in memory (Replay).
type FS struct {
	r    io.ReaderAt
	off  int64 // where the filesystem starts in r
	size int64 // bytes of r from off that belong to it (the partition)
	name string
	base int64 // Options.DiskOffset
	lim  Limits

	bs             int64
	clusterSize    int64
	blocks         uint64
	firstData      uint64
	blocksPerGroup uint32
	inodesPerGroup uint32
	inodes         uint32
	inodeSize      uint32
	groups         uint32
	descSize       uint32
	descPerBlock   uint32
	firstMetaBg    uint32
	backupBgs      [2]uint32
	compat         uint32
	incompat       uint32
	roCompat       uint32
	csumSeed       uint32
	uuid           [16]byte
	label          string

	gdMu sync.Mutex
	gd   map[uint32]*groupDesc

	cache blockCache
	dirs  dirCache

	replay      Replay
	overlay     map[uint64]logRef // replayed blocks (journal.go)
	overlayKeys []uint64          // their numbers, sorted
}

type groupDesc struct {
	inodeTable uint64
	flags      uint16
	itUnused   uint32
	err        error // the descriptor cannot be used
}

// Open reads the superblock of the ext2/3/4 filesystem that starts at byte
// off of r and spans size bytes (the partition), and checks it the way the
// kernel does before a mount. A filesystem that needs recovery has its
// journal replayed in memory, as a mount would (see Replay; nothing is
// written). Group descriptors, inodes and directories are read when first
// needed.
func Open(r io.ReaderAt, off, size int64, o Options) (*FS, error) {
	f := &FS{r: r, off: off, size: size, name: o.Name, base: o.DiskOffset, lim: o.Limits.withDefaults(), gd: map[uint32]*groupDesc{}}
	f.cache.init(512)
	f.dirs.init(1 << 18)
	if size < superOffset+superSize {
		return nil, f.errf(ErrCorrupt, 0, off, "only %d bytes: too small for an ext superblock", size)
	}
	sb := make([]byte, superSize)
	if err := f.readAt(sb, superOffset); err != nil {
		return nil, err
	}
	if err := f.parseSuper(sb); err != nil {
		return nil, err
	}
	if f.NeedsRecovery() && !o.NoReplay {
		f.replayJournal(sb)
	}
	return f, nil
}

func (f *FS) parseSuper(sb []byte) error {
	le := binary.LittleEndian
	at := f.off + superOffset
	bad := func(format string, args ...any) error {
		return f.errf(ErrCorrupt, 0, at, "superblock: "+format, args...)
	}
	if m := le.Uint16(sb[0x38:]); m != extMagic {
		return f.errf(ErrCorrupt, 0, at+0x38, "no ext2/3/4 superblock (magic %#04x, want %#04x)", m, extMagic)
	}
	f.compat, f.incompat, f.roCompat = le.Uint32(sb[0x5C:]), le.Uint32(sb[0x60:]), le.Uint32(sb[0x64:])
	if f.roCompat&roCompatMetadataCsum != 0 {
		if t := sb[0x175]; t != 1 {
			return bad("unknown checksum type %d (1 is crc32c)", t)
		}
		if want, got := crc32c(^uint32(0), sb[:0x3FC]), le.Uint32(sb[0x3FC:]); want != got {
			return bad("checksum %#08x does not match its content (%#08x)", got, want)
		}
	}
	logBS := le.Uint32(sb[0x18:])
	if logBS > 6 {
		return bad("block size 2^(10+%d) is beyond the 64 KiB ext4 allows", logBS)
	}
	f.bs = 1024 << logBS
	f.clusterSize = f.bs
	if f.roCompat&roCompatBigalloc != 0 {
		if lc := le.Uint32(sb[0x1C:]); lc >= logBS && lc <= logBS+16 {
			f.clusterSize = 1024 << lc
		} else {
			return bad("cluster size 2^(10+%d) with %d-byte blocks", lc, f.bs)
		}
	}
	f.blocks = uint64(le.Uint32(sb[0x04:]))
	if f.incompat&incompat64bit != 0 {
		f.blocks |= uint64(le.Uint32(sb[0x150:])) << 32
	}
	f.firstData = uint64(le.Uint32(sb[0x14:]))
	f.blocksPerGroup = le.Uint32(sb[0x20:])
	f.inodesPerGroup = le.Uint32(sb[0x28:])
	f.inodes = le.Uint32(sb[0x00:])
	rev := le.Uint32(sb[0x4C:])
	f.inodeSize = 128
	if rev >= 1 {
		f.inodeSize = uint32(le.Uint16(sb[0x58:]))
	}
	copy(f.uuid[:], sb[0x68:0x78])
	f.label = strings.TrimRight(string(sb[0x78:0x88]), "\x00")
	f.firstMetaBg = le.Uint32(sb[0x104:])
	f.backupBgs = [2]uint32{le.Uint32(sb[0x24C:]), le.Uint32(sb[0x250:])}

	if unknown := f.incompat &^ incompatKnown; unknown != 0 {
		what := fmt.Sprintf("%#x", unknown)
		switch {
		case unknown&incompatJournalDev != 0:
			what = "journal_dev: an external journal device, not a filesystem"
		case unknown&incompatCompression != 0:
			what = "compression"
		case unknown&incompatDirdata != 0:
			what = "dirdata"
		}
		return f.errf(ErrUnsupported, 0, at+0x60, "incompatible feature %s", what)
	}
	if f.inodeSize < 128 || f.inodeSize&(f.inodeSize-1) != 0 || int64(f.inodeSize) > f.bs {
		return bad("inode size %d (a power of two from 128 to the block size %d)", f.inodeSize, f.bs)
	}
	// A group's block (or, with bigalloc, cluster) bitmap is one block.
	perGroup, ratio := int64(f.blocksPerGroup), f.clusterSize/f.bs
	if f.roCompat&roCompatBigalloc != 0 {
		cpg := int64(le.Uint32(sb[0x24:]))
		if cpg*ratio != perGroup {
			return bad("%d blocks and %d clusters of %d blocks per group", perGroup, cpg, ratio)
		}
		perGroup = cpg
	}
	if perGroup == 0 || perGroup > 8*f.bs {
		return bad("%d blocks per group (1 to %d)", perGroup, 8*f.bs)
	}
	inodesPerBlock := uint32(f.bs) / f.inodeSize
	if f.inodesPerGroup < inodesPerBlock || int64(f.inodesPerGroup) > 8*f.bs {
		return bad("%d inodes per group (%d to %d)", f.inodesPerGroup, inodesPerBlock, 8*f.bs)
	}
	if f.firstData >= f.blocks {
		return bad("first data block %d is not below the block count %d", f.firstData, f.blocks)
	}
	groups := (f.blocks - f.firstData + uint64(f.blocksPerGroup) - 1) / uint64(f.blocksPerGroup)
	if groups > 1<<32-1 || groups*uint64(f.inodesPerGroup) != uint64(f.inodes) {
		return bad("%d inodes do not fill %d groups of %d", f.inodes, groups, f.inodesPerGroup)
	}
	f.groups = uint32(groups)
	f.descSize = 32
	if f.incompat&incompat64bit != 0 {
		f.descSize = uint32(le.Uint16(sb[0xFE:]))
		if f.descSize < 64 || f.descSize > 1024 || f.descSize&(f.descSize-1) != 0 {
			return bad("group descriptor size %d (64bit: a power of two from 64 to 1024)", f.descSize)
		}
	}
	f.descPerBlock = uint32(f.bs) / f.descSize
	descBlocks := (f.groups + f.descPerBlock - 1) / f.descPerBlock
	if f.incompat&incompatMetaBg != 0 && f.firstMetaBg > descBlocks {
		return bad("first meta block group %d beyond the %d descriptor blocks", f.firstMetaBg, descBlocks)
	}
	switch {
	case f.incompat&incompatCsumSeed != 0:
		f.csumSeed = le.Uint32(sb[0x270:])
	case f.roCompat&roCompatMetadataCsum != 0:
		f.csumSeed = crc32c(^uint32(0), f.uuid[:])
	}
	return nil
}

// BlockSize is the filesystem's block size in bytes.
func (f *FS) BlockSize() int64 { return f.bs }

// Label is the volume label.
func (f *FS) Label() string { return f.label }

// NeedsRecovery reports a filesystem that was not unmounted cleanly: its
// journal may hold committed changes not yet written to their place. Open
// replays them in memory (Replay says how it went), so reads show what a
// mount shows; with Options.NoReplay they show the last checkpoint, where a
// file changed in the last seconds before the crash can read as its older
// content, or a new file as absent.
func (f *FS) NeedsRecovery() bool { return f.incompat&incompatRecover != 0 }

// Truncated reports a filesystem that claims more blocks than its
// partition holds (a truncated image): files whose blocks are past the end
// cannot be read (an error, never zeros).
func (f *FS) Truncated() bool { return f.blocks*uint64(f.bs) > uint64(f.size) }

// readAt reads bytes of the filesystem as a mount would see them: with
// the journal's replayed blocks; an error when the journal needed a replay
// that could not be done.
func (f *FS) readAt(p []byte, off int64) error {
	if f.replay.Err != nil {
		return f.replay.Err
	}
	if err := f.readRaw(p, off); err != nil {
		return err
	}
	return f.patchReplayed(p, off)
}

// readRaw reads bytes of the filesystem as they are on the disk.
func (f *FS) readRaw(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > f.size {
		return f.errf(ErrCorrupt, 0, f.off+off, "read of %d bytes past the end of the filesystem's %d bytes (truncated image?)", len(p), f.size)
	}
	n, err := f.r.ReadAt(p, f.off+off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &Error{FS: f.name, Off: f.base + f.off + off, Msg: fmt.Sprintf("read %d bytes", len(p)), Err: err}
}

// hasSuper: does group g hold a superblock backup (kernel ext4_bg_has_super)?
func (f *FS) hasSuper(g uint32) bool {
	if g == 0 {
		return true
	}
	if f.compat&compatSparseSuper2 != 0 {
		return g == f.backupBgs[0] || g == f.backupBgs[1]
	}
	if g <= 1 || f.roCompat&roCompatSparseSuper == 0 {
		return true
	}
	if g&1 == 0 {
		return false
	}
	return isPower(g, 3) || isPower(g, 5) || isPower(g, 7)
}

func isPower(n, b uint32) bool {
	for n%b == 0 {
		n /= b
	}
	return n == 1
}

// descBlock is where descriptor block i is (kernel descriptor_loc).
func (f *FS) descBlock(i uint32) uint64 {
	if f.incompat&incompatMetaBg == 0 || i < f.firstMetaBg {
		sbBlock := uint64(1024 / f.bs) // the block holding byte 1024
		return sbBlock + 1 + uint64(i)
	}
	bg := uint64(f.descPerBlock) * uint64(i)
	has := uint64(0)
	if bg < 1<<32 && f.hasSuper(uint32(bg)) {
		has = 1
	}
	if f.bs == 1024 && i == 0 && f.firstData == 0 {
		has++
	}
	return f.firstData + bg*uint64(f.blocksPerGroup) + has
}

// group returns the parsed, checked descriptor of group g.
func (f *FS) group(g uint32) (*groupDesc, error) {
	f.gdMu.Lock()
	d, ok := f.gd[g]
	f.gdMu.Unlock()
	if ok {
		return d, d.err
	}
	d = f.loadGroup(g)
	f.gdMu.Lock()
	if len(f.gd) > 1<<16 {
		clear(f.gd)
	}
	f.gd[g] = d
	f.gdMu.Unlock()
	return d, d.err
}

func (f *FS) loadGroup(g uint32) *groupDesc {
	blk := f.descBlock(g / f.descPerBlock)
	if blk >= f.blocks {
		return &groupDesc{err: f.errf(ErrCorrupt, 0, -1, "descriptor block of group %d at block %d, past the %d blocks", g, blk, f.blocks)}
	}
	buf, err := f.block(blk)
	if err != nil {
		return &groupDesc{err: err}
	}
	at := int64(g%f.descPerBlock) * int64(f.descSize)
	raw := buf[at : at+int64(f.descSize)]
	off := f.off + int64(blk)*f.bs + at
	le := binary.LittleEndian
	if f.roCompat&(roCompatMetadataCsum|roCompatGdtCsum) != 0 {
		var want uint16
		if f.roCompat&roCompatMetadataCsum != 0 {
			c := crc32cU32(f.csumSeed, g)
			c = crc32c(c, raw[:0x1E])
			c = crc32c(c, []byte{0, 0})
			c = crc32c(c, raw[0x20:])
			want = uint16(c)
		} else {
			var gb [4]byte
			le.PutUint32(gb[:], g)
			c := crc16(0xffff, f.uuid[:])
			c = crc16(c, gb[:])
			c = crc16(c, raw[:0x1E])
			c = crc16(c, raw[0x20:])
			want = c
		}
		if got := le.Uint16(raw[0x1E:]); got != want {
			return &groupDesc{err: f.errf(ErrCorrupt, 0, off, "group descriptor %d: checksum %#04x does not match its content (%#04x)", g, got, want)}
		}
	}
	d := &groupDesc{inodeTable: uint64(le.Uint32(raw[0x08:])), flags: le.Uint16(raw[0x12:]), itUnused: uint32(le.Uint16(raw[0x1C:]))}
	if f.descSize >= 64 {
		d.inodeTable |= uint64(le.Uint32(raw[0x28:])) << 32
		d.itUnused |= uint32(le.Uint16(raw[0x32:])) << 16
	}
	tableBlocks := (uint64(f.inodesPerGroup)*uint64(f.inodeSize) + uint64(f.bs) - 1) / uint64(f.bs)
	if d.inodeTable < f.firstData || d.inodeTable > f.blocks || f.blocks-d.inodeTable < tableBlocks {
		d.err = f.errf(ErrCorrupt, 0, off+8, "group descriptor %d: inode table at block %d (+%d) is outside the %d blocks", g, d.inodeTable, tableBlocks, f.blocks)
	}
	return d
}

// uninitFlagsValid says whether descriptor flags are trustworthy: only with gdt_csum
// or metadata_csum does the kernel use INODE_UNINIT and itable_unused.
func (f *FS) uninitFlagsValid() bool {
	return f.roCompat&(roCompatMetadataCsum|roCompatGdtCsum) != 0
}

// block reads metadata block n through the cache. The returned slice is
// shared: never modify it.
func (f *FS) block(n uint64) ([]byte, error) {
	if n >= f.blocks {
		return nil, f.errf(ErrCorrupt, 0, -1, "block %d is past the %d blocks of the filesystem", n, f.blocks)
	}
	if b := f.cache.get(n); b != nil {
		return b, nil
	}
	b := make([]byte, f.bs)
	if err := f.readAt(b, int64(n)*f.bs); err != nil {
		return nil, err
	}
	f.cache.put(n, b)
	return b, nil
}
