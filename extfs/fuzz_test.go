package extfs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// TestFuzzBase checks the images the fuzz targets start from
// (testdata/README.md; extfs_test.TestMakeFuzzBase makes them): they open
// and read cleanly.
func TestFuzzBase(t *testing.T) {
	t.Parallel()
	for _, b := range fuzzBases(t) {
		x, err := Open(bytes.NewReader(b.img), 0, int64(len(b.img)), Options{Name: b.name})
		if err != nil {
			t.Fatal(err)
		}
		n, errs := exercise(x)
		if n < 70 || len(errs) > 0 {
			t.Errorf("%s: %d paths, errors %v", b.name, n, errs)
		}
		if _, err := x.ReadFile("sub/rel"); err != nil {
			t.Errorf("%s: %v", b.name, err)
		}
	}
}

// fuzzBaseNames are fixtures.ExtFuzzSpecs' names (an internal test cannot
// import fixtures: it imports this package).
var fuzzBaseNames = []string{"fuzz-ext2", "fuzz-ext4", "fuzz-inline"}

type fuzzBase struct {
	name string
	img  []byte
}

// baseSet is a list of starting images, read once per test binary.
type baseSet struct {
	list []fuzzBase
	err  error
}

var bases, journalBases baseSet

func (s *baseSet) load(tb testing.TB, names []string) []fuzzBase {
	tb.Helper()
	if s.list == nil && s.err == nil {
		for _, name := range names {
			img, err := readGz(filepath.Join("testdata", name+".img.gz"))
			if err != nil {
				s.err = err
				break
			}
			s.list = append(s.list, fuzzBase{name, img})
		}
	}
	if s.err != nil {
		tb.Fatal(s.err)
	}
	return s.list
}

func fuzzBases(tb testing.TB) []fuzzBase {
	tb.Helper()
	return bases.load(tb, fuzzBaseNames)
}

// fuzzLimits are small, so that the limits themselves are reached.
var fuzzLimits = Limits{MaxReadFile: 1 << 20, MaxDirEntries: 4096, MaxRuns: 4096}

// exercise reads everything it can reach in x, through every API, within
// a budget: it returns the number of paths walked and the errors met
// (expected on a damaged image: only a panic, a hang or an unbounded
// allocation is a failure).
func exercise(x *FS) (int, []error) {
	var errs []error
	note := func(err error) {
		if err != nil && len(errs) < 20 {
			errs = append(errs, err)
		}
	}
	buf := make([]byte, 64<<10)
	read := 0
	readData := func(fl *File) {
		for _, e := range fl.DataExtents() {
			for off := e.Off; off < e.Off+e.Len && read < 8<<20; off += int64(len(buf)) {
				n, err := fl.ReadAt(buf, off)
				read += n
				if err != io.EOF {
					note(err)
				}
			}
		}
	}
	n := 0
	note(x.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		n++
		if n > 2000 {
			return fs.SkipAll
		}
		if err != nil {
			note(err)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			note(err)
			return nil
		}
		in := fi.Sys().(*Inode)
		_, err = x.Xattrs(in)
		note(err)
		switch {
		case fi.Mode().IsRegular():
			fl, err := x.OpenFile(p)
			if note(err); err == nil {
				readData(fl)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			_, err := x.ReadLink(p)
			note(err)
			_, err = x.Stat(p)
			note(err)
		case fi.IsDir():
			_, err := x.ReadDir(p)
			note(err)
		}
		return nil
	}))
	// Inodes the tree does not reach.
	for ino := uint32(1); ino <= min(x.inodes, 128); ino++ {
		in, err := x.inode(ino)
		if err != nil {
			continue
		}
		if in.isDir() {
			_, err := x.dir(in)
			note(err)
		} else if fl, err := x.openInode(in, ""); err == nil {
			readData(fl)
		}
	}
	for _, p := range []string{"etc/xensource-inventory", "sub/rel", "link-slow", "frag", "d/entry-07-nnnnnnnnnnnnnn"} {
		_, err := x.ReadFile(p)
		note(err)
	}
	return n, errs
}

// fuzzRun opens img and exercises it under a watchdog: a hang (more than
// 10 s) or a heap over 512 MiB fails the input.
func fuzzRun(t *testing.T, img []byte) {
	t.Helper()
	watchdog := time.AfterFunc(10*time.Second, func() { panic("extfs: reading one fuzzed image took over 10 s") })
	defer watchdog.Stop()
	x, err := Open(bytes.NewReader(img), 0, int64(len(img)), Options{Name: "fuzz", Limits: fuzzLimits})
	if err != nil {
		checkInvalid(t, err)
		return
	}
	_, errs := exercise(x)
	for _, err := range errs {
		checkInvalid(t, err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 512<<20 {
		t.Fatalf("heap at %d MiB after one image", ms.HeapAlloc>>20)
	}
}

// checkInvalid: what a damaged image makes a read fail with is invalid
// input (exit 2) — the image is in memory, so no error here is the disk's
// I/O. Besides: absent (fs.ErrNotExist), and a name that is not the kind
// of file the call wants (EISDIR, ENOTDIR, not a regular file), whose
// callers check the type first.
func checkInvalid(t *testing.T, err error) {
	t.Helper()
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR):
	case errors.As(err, &pe) && pe.Err.Error() == "not a regular file":
	case xerr.Code(err) != xerr.ExitInvalid:
		t.Errorf("exit %d, want %d (invalid input), for %v", xerr.Code(err), xerr.ExitInvalid, err)
	}
}

func pick(tb testing.TB, which uint8) ([]byte, *FS) {
	bs := fuzzBases(tb)
	b := bs[int(which)%len(bs)]
	img := bytes.Clone(b.img)
	x, err := Open(bytes.NewReader(b.img), 0, int64(len(img)), Options{Name: b.name})
	if err != nil {
		tb.Fatal(err)
	}
	return img, x
}

// The checksum setters below recompute what the mutation invalidated, so
// that the fuzzer gets past the checksums to the structures behind them.

func setSuperCsum(img []byte) {
	sb := img[superOffset : superOffset+superSize]
	if binary.LittleEndian.Uint32(sb[0x64:])&roCompatMetadataCsum != 0 {
		binary.LittleEndian.PutUint32(sb[0x3FC:], crc32c(^uint32(0), sb[:0x3FC]))
	}
}

func setGroupCsum(x *FS, img []byte, g uint32) {
	at := int64(x.descBlock(g/x.descPerBlock))*x.bs + int64(g%x.descPerBlock)*int64(x.descSize)
	if at+int64(x.descSize) > int64(len(img)) {
		return
	}
	raw := img[at : at+int64(x.descSize)]
	le := binary.LittleEndian
	switch {
	case x.roCompat&roCompatMetadataCsum != 0:
		c := crc32cU32(x.csumSeed, g)
		c = crc32c(c, raw[:0x1E])
		c = crc32c(c, []byte{0, 0})
		c = crc32c(c, raw[0x20:])
		le.PutUint16(raw[0x1E:], uint16(c))
	case x.roCompat&roCompatGdtCsum != 0:
		var gb [4]byte
		le.PutUint32(gb[:], g)
		c := crc16(crc16(crc16(crc16(0xffff, x.uuid[:]), gb[:]), raw[:0x1E]), raw[0x20:])
		le.PutUint16(raw[0x1E:], c)
	}
}

// inodeAt is where inode ino is in img, found from the valid base x.
func inodeAt(x *FS, ino uint32) int64 {
	blk, at, err := x.inodeLoc(ino)
	if err != nil {
		return -1
	}
	return int64(blk)*x.bs + at
}

func setInodeCsum(x *FS, img []byte, ino uint32) {
	off := inodeAt(x, ino)
	if off < 0 || x.roCompat&roCompatMetadataCsum == 0 {
		return
	}
	raw := img[off : off+int64(x.inodeSize)]
	le := binary.LittleEndian
	extra := uint16(0)
	if x.inodeSize > goodOldInodeSize {
		extra = le.Uint16(raw[0x80:])
	}
	hasHi := x.inodeSize > goodOldInodeSize && extra >= 4 && int(extra) <= int(x.inodeSize)-goodOldInodeSize
	c := bytes.Clone(raw)
	c[0x7C], c[0x7D] = 0, 0
	if hasHi {
		c[0x82], c[0x83] = 0, 0
	}
	sum := crc32c(crc32cU32(crc32cU32(x.csumSeed, ino), le.Uint32(raw[0x64:])), c)
	le.PutUint16(raw[0x7C:], uint16(sum))
	if hasHi {
		le.PutUint16(raw[0x82:], uint16(sum>>16))
	}
}

func inodeSeed(x *FS, img []byte, ino uint32) uint32 {
	off := inodeAt(x, ino)
	return crc32cU32(crc32cU32(x.csumSeed, ino), binary.LittleEndian.Uint32(img[off+0x64:]))
}

// setDirCsum recomputes the leaf or htree checksum of a directory block of
// inode ino, whichever the (mutated) block has room for.
func setDirCsum(x *FS, img []byte, blk uint64, ino uint32) {
	if x.roCompat&roCompatMetadataCsum == 0 {
		return
	}
	b := img[int64(blk)*x.bs : int64(blk+1)*x.bs]
	le := binary.LittleEndian
	seed := inodeSeed(x, img, ino)
	n := len(b)
	if le.Uint32(b[n-12:]) == 0 && le.Uint16(b[n-8:]) == 12 && le.Uint16(b[n-6:]) == 0xDE00 {
		le.PutUint32(b[n-4:], crc32c(seed, b[:n-12]))
		return
	}
	countOff := 0
	switch r0 := int(le.Uint16(b[4:])); {
	case r0 == n && b[6] == 0:
		countOff = 8
	case r0 == 12 && int(le.Uint16(b[16:])) == n-12:
		countOff = 32
	default:
		return
	}
	limit, count := int(le.Uint16(b[countOff:])), int(le.Uint16(b[countOff+2:]))
	tail := countOff + limit*8
	if count > limit || tail+8 > n {
		return
	}
	c := crc32c(seed, b[:countOff+count*8])
	c = crc32c(c, b[tail:tail+4])
	le.PutUint32(b[tail+4:], crc32c(c, []byte{0, 0, 0, 0}))
}

func setExtentCsum(x *FS, img []byte, blk uint64, ino uint32) {
	if x.roCompat&roCompatMetadataCsum == 0 {
		return
	}
	b := img[int64(blk)*x.bs : int64(blk+1)*x.bs]
	tail := 12 + 12*int(binary.LittleEndian.Uint16(b[4:]))
	if tail+4 <= len(b) {
		binary.LittleEndian.PutUint32(b[tail:], crc32c(inodeSeed(x, img, ino), b[:tail]))
	}
}

// owned lists the blocks of kind ("dir": directory blocks, "extent":
// extent tree nodes below the root) of the valid base x, with their inode.
func owned(x *FS, kind string) (blks []uint64, inos []uint32) {
	for ino := uint32(1); ino <= x.inodes; ino++ {
		in, err := x.inode(ino)
		if err != nil {
			continue
		}
		switch {
		case kind == "dir" && in.isDir() && in.Flags&flagInlineData == 0:
			rs, _ := x.runs(in)
			for _, r := range rs {
				for i := range r.n {
					blks, inos = append(blks, r.pblk+i), append(inos, ino)
				}
			}
		case kind == "extent" && in.Flags&flagExtents != 0:
			var walk func(b []byte)
			walk = func(b []byte) {
				le := binary.LittleEndian
				if le.Uint16(b) != extentMagic || le.Uint16(b[6:]) == 0 {
					return
				}
				for i := range int(le.Uint16(b[2:])) {
					e := b[12+12*i:]
					child := uint64(le.Uint16(e[8:]))<<32 | uint64(le.Uint32(e[4:]))
					blks, inos = append(blks, child), append(inos, ino)
					if cb, err := x.block(child); err == nil {
						walk(cb)
					}
				}
			}
			walk(in.block[:])
		}
	}
	return blks, inos
}

func FuzzSuperblock(f *testing.F) {
	for which := range uint8(3) {
		img, _ := pick(f, which)
		sb := img[superOffset : superOffset+superSize]
		f.Add(which, bytes.Clone(sb))
		for _, m := range []struct {
			at int
			v  []byte
		}{
			{0x28, []byte{0, 0, 0, 0}},          // no inodes per group
			{0x20, []byte{0, 0, 0, 0}},          // no blocks per group
			{0x18, []byte{30, 0, 0, 0}},         // block size 2^40
			{0x04, []byte{0xff, 0xff, 0xff, 0}}, // 16M blocks in a tiny image
			{0x58, []byte{0x01, 0x10}},          // inode size 4097
			{0x60, []byte{0x00, 0x10, 0, 0}},    // dirdata
			{0xFE, []byte{48, 0}},               // descriptor size 48
		} {
			c := bytes.Clone(sb)
			copy(c[m.at:], m.v)
			f.Add(which, c)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, sb []byte) {
		img, _ := pick(t, which)
		copy(img[superOffset:superOffset+superSize], sb)
		setSuperCsum(img)
		fuzzRun(t, img)
	})
}

func FuzzGroupDescriptors(f *testing.F) {
	for which := range uint8(3) {
		img, x := pick(f, which)
		at := int64(x.descBlock(0)) * x.bs
		gd := img[at : at+int64(x.descSize)*int64(x.groups)]
		f.Add(which, bytes.Clone(gd))
		c := bytes.Clone(gd)
		binary.LittleEndian.PutUint32(c[8:], 0xfffffff0) // inode table past the end
		f.Add(which, c)
		c = bytes.Clone(gd)
		binary.LittleEndian.PutUint16(c[0x12:], bgInodeUninit)
		f.Add(which, c)
	}
	f.Fuzz(func(t *testing.T, which uint8, gd []byte) {
		img, x := pick(t, which)
		at := int64(x.descBlock(0)) * x.bs
		copy(img[at:at+x.bs], gd)
		for g := range min(x.groups, x.descPerBlock) {
			setGroupCsum(x, img, g)
		}
		fuzzRun(t, img)
	})
}

func FuzzInode(f *testing.F) {
	for which := range uint8(3) {
		img, x := pick(f, which)
		for ino := uint32(1); ino <= 40; ino++ {
			if off := inodeAt(x, ino); off >= 0 && img[off+1] != 0 {
				raw := img[off : off+int64(x.inodeSize)]
				f.Add(which, uint16(ino), bytes.Clone(raw))
				c := bytes.Clone(raw)
				binary.LittleEndian.PutUint32(c[0x6C:], 0x7fffffff) // size in the petabytes
				f.Add(which, uint16(ino), c)
				c = bytes.Clone(raw)
				binary.LittleEndian.PutUint16(c[0x28+6:], 9) // extent depth 9
				f.Add(which, uint16(ino), c)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, ino uint16, raw []byte) {
		img, x := pick(t, which)
		n := 1 + uint32(ino)%min(x.inodes, 64)
		off := inodeAt(x, n)
		if off < 0 {
			return
		}
		copy(img[off:off+int64(x.inodeSize)], raw)
		setInodeCsum(x, img, n)
		fuzzRun(t, img)
	})
}

func FuzzExtentTree(f *testing.F) {
	for which := range uint8(3) {
		img, x := pick(f, which)
		blks, _ := owned(x, "extent")
		for i, b := range blks {
			node := img[int64(b)*x.bs : int64(b+1)*x.bs]
			f.Add(which, uint8(i), bytes.Clone(node[:64]))
			c := bytes.Clone(node[:64])
			binary.LittleEndian.PutUint16(c[2:], 0xffff) // entries past max
			f.Add(which, uint8(i), c)
		}
	}
	f.Fuzz(func(t *testing.T, which, idx uint8, node []byte) {
		fuzzOwned(t, which, idx, node, "extent", setExtentCsum)
	})
}

func FuzzDirectory(f *testing.F) {
	for which := range uint8(3) {
		img, x := pick(f, which)
		blks, _ := owned(x, "dir")
		for i, b := range blks {
			blk := img[int64(b)*x.bs : int64(b+1)*x.bs]
			f.Add(which, uint8(i), bytes.Clone(blk))
			c := bytes.Clone(blk)
			binary.LittleEndian.PutUint16(c[4:], 0) // record length 0
			f.Add(which, uint8(i), c)
		}
	}
	f.Fuzz(func(t *testing.T, which, idx uint8, blk []byte) {
		fuzzOwned(t, which, idx, blk, "dir", setDirCsum)
	})
}

// fuzzOwned overlays data on block idx of the blocks of kind (owned) of
// base image which, fixes its checksum and reads the result.
func fuzzOwned(t *testing.T, which, idx uint8, data []byte, kind string, fix func(*FS, []byte, uint64, uint32)) {
	img, x := pick(t, which)
	blks, inos := owned(x, kind)
	if len(blks) == 0 {
		return
	}
	k := int(idx) % len(blks)
	copy(img[int64(blks[k])*x.bs:int64(blks[k]+1)*x.bs], data)
	fix(x, img, blks[k], inos[k])
	fuzzRun(t, img)
}

// journalBaseNames are fixtures.ExtJournalFuzzSpecs' names: filesystems
// whose journal needs recovery (testdata/README.md).
var journalBaseNames = []string{"fuzz-journal-ext3", "fuzz-journal-ext4"}

// pickJournal returns a fresh copy of journal base which, its filesystem
// read without replay, where each log block of its journal is in the
// image and how many log blocks the log uses (from s_start).
func pickJournal(tb testing.TB, which uint8) (img []byte, x *FS, offs []int64, live int) {
	tb.Helper()
	list := journalBases.load(tb, journalBaseNames)
	b := list[int(which)%len(list)]
	img = bytes.Clone(b.img)
	x, err := Open(bytes.NewReader(b.img), 0, int64(len(img)), Options{Name: b.name, NoReplay: true})
	if err != nil {
		tb.Fatal(err)
	}
	in, err := x.inode(8)
	if err != nil {
		tb.Fatal(err)
	}
	runs, err := x.runs(in)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range runs {
		for i := range r.n {
			offs = append(offs, int64(r.pblk+i)*x.bs)
		}
	}
	// The log ends at its last block with a header (data blocks have none).
	start := int(binary.BigEndian.Uint32(img[offs[0]+0x1C:]))
	for i := start; i < min(start+64, len(offs)); i++ {
		if binary.BigEndian.Uint32(img[offs[i]:]) == jbdMagic {
			live = i + 1
		}
	}
	return img, x, offs, live
}

func readGz(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// setJournalCsum recomputes the checksum (v2, v3) the mutation of log
// block i invalidated: the journal superblock's, a descriptor or revoke
// block's tail, a commit block's. Tags keep theirs: a changed data block
// is a corrupt transaction.
func setJournalCsum(img []byte, offs []int64, bs int64, i int) {
	be := binary.BigEndian
	jsb := img[offs[0] : offs[0]+bs]
	if be.Uint32(jsb[0x28:])&(jbdIncompatCsumV2|jbdIncompatCsumV3) == 0 {
		return
	}
	b := img[offs[i] : offs[i]+bs]
	if i == 0 {
		be.PutUint32(b[0xFC:], 0)
		be.PutUint32(b[0xFC:], crc32c(^uint32(0), b[:1024]))
		return
	}
	seed := crc32c(^uint32(0), jsb[0x30:0x40])
	if be.Uint32(b) != jbdMagic {
		return
	}
	switch be.Uint32(b[4:]) {
	case jbdDescriptor, jbdRevoke:
		be.PutUint32(b[bs-4:], 0)
		be.PutUint32(b[bs-4:], crc32c(seed, b))
	case jbdCommit:
		be.PutUint32(b[16:], 0)
		be.PutUint32(b[16:], crc32c(seed, b))
	}
}

// TestJournalFuzzBase: the journal bases replay their three committed
// transactions.
func TestJournalFuzzBase(t *testing.T) {
	for which := range uint8(len(journalBaseNames)) {
		img, _, _, live := pickJournal(t, which)
		x, err := Open(bytes.NewReader(img), 0, int64(len(img)), Options{Name: journalBaseNames[which]})
		if err != nil {
			t.Fatal(err)
		}
		if r := x.Replay(); r.Transactions != 3 || r.Err != nil || live < 10 {
			t.Errorf("%s: Replay() = %+v, %d live log blocks", journalBaseNames[which], r, live)
		}
		if b, err := x.ReadFile("etc/xensource-inventory"); err != nil || !bytes.Contains(b, []byte("5.0.0")) {
			t.Errorf("%s: inventory %q, %v", journalBaseNames[which], b, err)
		}
		if n, errs := exercise(x); n < 70 || len(errs) > 0 {
			t.Errorf("%s: %d paths, errors %v", journalBaseNames[which], n, errs)
		}
	}
}

func FuzzJournal(f *testing.F) {
	be := binary.BigEndian
	for which := range uint8(len(journalBaseNames)) {
		img, x, offs, live := pickJournal(f, which)
		blk := func(i int) []byte { return bytes.Clone(img[offs[i] : offs[i]+x.bs]) }
		for i := 0; i <= live; i++ {
			f.Add(which, uint8(i), blk(i))
		}
		start := int(be.Uint32(img[offs[0]+0x1C:]))
		for _, m := range []struct {
			i   int
			at  int
			v   []byte
			why string
		}{
			{0, 0x1C, []byte{0xff, 0xff, 0xff, 0xff}, "log start past the journal"},
			{0, 0x14, []byte{0, 0, 0, 0}, "log first block 0"},
			{0, 0x10, []byte{0x7f, 0xff, 0xff, 0xff}, "journal longer than its inode"},
			{0, 0x04, []byte{0, 0, 0, jbdDescriptor}, "a descriptor for a superblock"},
			{0, 0x28, []byte{0, 0, 0, 0xff}, "every incompatible feature"},
			{0, 0x18, []byte{0xff, 0xff, 0xff, 0xff}, "no transaction matches"},
			{start, 12 + 4, []byte{0, 0, 0, 0}, "first tag: more tags, new UUIDs"},
			{start, 12, []byte{0xff, 0xff, 0xff, 0xff}, "first tag: block past the filesystem"},
			{start + 4, 12, []byte{0xff, 0xff, 0xff, 0xff}, "revoke count past the block"},
			{start + 3, 48, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "commit time in the far future"},
		} {
			c := blk(m.i)
			copy(c[m.at:], m.v)
			f.Add(which, uint8(m.i), c)
		}
	}
	f.Fuzz(func(t *testing.T, which, idx uint8, blk []byte) {
		img, x, offs, live := pickJournal(t, which)
		i := int(idx) % (live + 1)
		copy(img[offs[i]:offs[i]+x.bs], blk)
		setJournalCsum(img, offs, x.bs, i)
		fuzzRun(t, img)
	})
}
