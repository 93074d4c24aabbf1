package extfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// The journal (jbd2) is replayed in memory when the filesystem needs
// recovery, as the kernel does when it mounts it (the installer mounts a
// root read-write, and even `mount -o ro` replays): reads then show what a
// mount shows, never the stale checkpoint. Nothing is written: the replayed
// blocks are an overlay that points into the journal on disk.
//
// The replay follows Linux fs/jbd2/recovery.c (jbd2_journal_recover,
// do_one_pass, scan_revoke_records, the checksum helpers) and the checks
// of fs/jbd2/journal.c (journal_check_superblock, load_superblock) pass by
// pass; docs/dev/extfs.md cites the commits. Where the kernel's recovery
// would fail (and the mount with it) or where this reader cannot follow
// it (an external journal, fast-commit records), the replay is refused
// and every read returns an error wrapping ErrJournal: unknown, never the
// stale content presented as fact.

// ErrJournal: the filesystem needs recovery and its journal cannot be
// replayed here with certainty; what a mount would show is unknown.
// Invalid input (exit 2): the disk's journal, not the reading, is at fault.
var ErrJournal = xerr.Invalid(errors.New("the filesystem needs recovery (unclean shutdown), so what a mount would show is unknown"))

// jbd2 on-disk constants (include/linux/jbd2.h).
const (
	jbdMagic = 0xC03B3998

	jbdDescriptor = 1
	jbdCommit     = 2
	jbdSuperV1    = 3
	jbdSuperV2    = 4
	jbdRevoke     = 5

	jbdCompatChecksum      = 0x01
	jbdIncompat64bit       = 0x02
	jbdIncompatAsyncCommit = 0x04
	jbdIncompatCsumV2      = 0x08
	jbdIncompatCsumV3      = 0x10
	jbdIncompatFastCommit  = 0x20
	jbdKnownIncompat       = 0x3F // revoke, 64bit, async_commit, csum v2, csum v3, fast_commit

	jbdFlagEscape   = 1
	jbdFlagSameUUID = 2
	jbdFlagLastTag  = 8

	jbdMinBlocks       = 1024 // JBD2_MIN_JOURNAL_BLOCKS
	jbdDefaultFCBlocks = 256  // JBD2_DEFAULT_FAST_COMMIT_BLOCKS
	jbdCRC32Chksum     = 1    // JBD2_CRC32_CHKSUM (checksum v1)
	jbdCRC32ChksumSize = 4
	jbdCRC32CChksum    = 4 // JBD2_CRC32C_CHKSUM (checksum v2, v3)

	commitHeaderSize = 64 // sizeof(struct commit_header), with its padding
	fcTagHead        = 9  // EXT4_FC_TAG_HEAD

	// maxReplayBlocks bounds the overlay (one small entry per replayed
	// block): a journal of 4 GiB of 1 KiB blocks.
	maxReplayBlocks = 1 << 22
)

// Replay says what opening the filesystem did with its journal.
type Replay struct {
	// Needed: the filesystem was not unmounted cleanly (needs_recovery).
	Needed bool
	// Transactions: committed transactions replayed in memory (0 with
	// Needed: the journal held none, as after a crash between commits).
	Transactions int
	// Blocks: filesystem blocks whose replayed content is read.
	Blocks int
	// Err (wrapping ErrJournal) when the journal cannot be replayed here:
	// every read of the filesystem then fails with it.
	Err error
}

// Replay reports the journal replay done at Open.
func (f *FS) Replay() Replay { return f.replay }

// logRef is where the replayed content of a filesystem block is: the
// filesystem block holding the journal's copy, whose first four bytes are
// the jbd2 magic again when the copy was escaped.
type logRef struct {
	pblk    uint64
	escaped bool
}

// jbd is one journal being replayed.
type jbd struct {
	f    *FS
	runs []run // the journal inode's map: log block -> filesystem block

	total, first, last uint32 // j_total_len, j_first, j_last
	fcFirst            uint32
	seq, start         uint32 // s_sequence, s_start
	v2                 bool
	compat, incompat   uint32
	csumSeed           uint32
	tagBytes           int

	revoke  map[uint64]uint32
	overlay map[uint64]logRef

	// per recovery
	endTrans     uint32
	failedCommit uint32 // j_failed_commit
	visited      uint64
}

// replayJournal replays the journal of a filesystem that needs recovery
// into f.overlay, or records why it cannot (f.replay.Err).
func (f *FS) replayJournal(sb []byte) {
	f.replay.Needed = true
	fail := func(err error) {
		reason := err.Error()
		if e := (*Error)(nil); errors.As(err, &e) {
			// The reason alone: the filesystem is named once, and the kind
			// (corrupt, unsupported) is in the words.
			c := *e
			c.FS = ""
			if errors.Is(c.Err, ErrCorrupt) || errors.Is(c.Err, ErrUnsupported) || errors.Is(c.Err, ErrLimit) {
				c.Err = nil
			}
			reason = c.Error()
		}
		f.replay.Err = &Error{FS: f.name, Off: -1, Msg: "the journal cannot be replayed here (" + reason + ")", Err: ErrJournal}
	}
	if f.compat&compatHasJournal == 0 {
		// The kernel mounts it without a journal (e2fsck clears the flag):
		// there is nothing to replay.
		return
	}
	le := binary.LittleEndian
	ino, dev := le.Uint32(sb[0xE0:]), le.Uint32(sb[0xE4:])
	switch {
	case ino == 0:
		fail(f.errf(ErrUnsupported, 0, f.off+superOffset+0xE0, "the journal is on another device (journal device %#x, journal UUID %x), which is not read", dev, sb[0xD0:0xE0]))
		return
	case dev != 0:
		fail(f.errf(ErrCorrupt, 0, f.off+superOffset+0xE0, "superblock names both a journal inode (%d) and a journal device (%#x)", ino, dev))
		return
	}
	j, err := f.openJournal(ino)
	if err == nil && j != nil {
		err = j.recover()
		if err == nil {
			f.overlay = j.overlay
			f.replay.Transactions = int(j.endTrans - j.seq)
		}
	}
	// Whatever was read while replaying may be replayed content now.
	f.cache.init(512)
	clear(f.gd)
	if err != nil {
		f.overlay = nil
		fail(err)
		return
	}
	f.replay.Blocks = len(f.overlay)
	if len(f.overlay) > 0 {
		f.overlayKeys = make([]uint64, 0, len(f.overlay))
		for b := range f.overlay {
			f.overlayKeys = append(f.overlayKeys, b)
		}
		slices.Sort(f.overlayKeys)
	}
	if err := f.reparseSuper(); err != nil {
		f.overlay, f.overlayKeys = nil, nil
		fail(err)
	}
}

// reparseSuper reads the superblock again through the replayed blocks (a
// transaction may hold its block, as e2fsck sees it when it reopens the
// filesystem after recovery). The kernel keeps the geometry it read before
// the replay, so a journal that changes it (an online resize cut short) is
// refused: which geometry applies is not certain.
func (f *FS) reparseSuper() error {
	sb := make([]byte, superSize)
	if err := f.readAt(sb, superOffset); err != nil {
		return err
	}
	g := &FS{r: f.r, off: f.off, size: f.size, name: f.name, base: f.base}
	if err := g.parseSuper(sb); err != nil {
		return fmt.Errorf("the replayed superblock: %w", err)
	}
	// Only what reading depends on: a replayed superblock also differs in
	// free counts, times, the orphan list and such flags.
	const roRead = roCompatSparseSuper | roCompatHugeFile | roCompatGdtCsum | roCompatBigalloc | roCompatMetadataCsum
	if g.bs != f.bs || g.clusterSize != f.clusterSize || g.blocks != f.blocks || g.firstData != f.firstData ||
		g.blocksPerGroup != f.blocksPerGroup || g.inodesPerGroup != f.inodesPerGroup || g.inodes != f.inodes ||
		g.inodeSize != f.inodeSize || g.descSize != f.descSize || g.firstMetaBg != f.firstMetaBg ||
		g.backupBgs != f.backupBgs || g.incompat&^incompatRecover != f.incompat&^incompatRecover ||
		g.roCompat&roRead != f.roCompat&roRead || g.compat&compatSparseSuper2 != f.compat&compatSparseSuper2 ||
		g.csumSeed != f.csumSeed {
		return f.errf(ErrUnsupported, 0, f.off+superOffset, "the journal changes the filesystem's geometry or features (an online resize cut short?)")
	}
	f.label = g.label
	return nil
}

// openJournal reads and checks the journal superblock of the internal
// journal in inode ino (fs/ext4/super.c ext4_get_journal_inode, fs/jbd2/
// journal.c journal_check_superblock and load_superblock). A nil *jbd
// with a nil error: the journal is clean (s_start 0), nothing to replay.
func (f *FS) openJournal(ino uint32) (*jbd, error) {
	in, err := f.inode(ino)
	if err != nil {
		return nil, fmt.Errorf("journal inode: %w", err)
	}
	if !in.isReg() || in.Flags&(flagEncrypt|flagInlineData) != 0 {
		return nil, f.errf(ErrCorrupt, ino, -1, "the journal inode is not a plain regular file (mode %#o, flags %#x)", in.Mode, in.Flags)
	}
	runs, err := f.runs(in)
	if err != nil {
		return nil, fmt.Errorf("journal inode: %w", err)
	}
	total := uint64(in.Size) / uint64(f.bs)
	if total > 1<<32-1 {
		return nil, f.errf(ErrCorrupt, ino, -1, "journal of %d blocks", total)
	}
	j := &jbd{f: f, runs: runs, total: uint32(total)}
	jsb, at, err := j.read(0)
	if err != nil {
		return nil, err
	}
	be := binary.BigEndian
	bad := func(format string, args ...any) error {
		return f.errf(ErrCorrupt, ino, at, "journal superblock: "+format, args...)
	}
	if be.Uint32(jsb) != jbdMagic || int64(be.Uint32(jsb[0x0C:])) != f.bs {
		return nil, bad("no valid journal superblock (magic %#x, block size %d)", be.Uint32(jsb), be.Uint32(jsb[0x0C:]))
	}
	switch be.Uint32(jsb[4:]) {
	case jbdSuperV1:
	case jbdSuperV2:
		j.v2 = true
	default:
		return nil, bad("unrecognised superblock format %d", be.Uint32(jsb[4:]))
	}
	maxLen, first := be.Uint32(jsb[0x10:]), be.Uint32(jsb[0x14:])
	if maxLen > j.total {
		return nil, bad("journal file too short (%d blocks, the superblock says %d)", j.total, maxLen)
	}
	if first == 0 || first >= j.total {
		return nil, bad("invalid start block of the log %d", first)
	}
	if j.v2 {
		// Features count only in a v2 superblock (jbd2_has_feature_*).
		j.compat, j.incompat = be.Uint32(jsb[0x24:]), be.Uint32(jsb[0x28:])
		if ro := be.Uint32(jsb[0x2C:]); ro != 0 || j.incompat&^jbdKnownIncompat != 0 {
			return nil, f.errf(ErrUnsupported, ino, at, "journal superblock: unrecognised features (incompatible %#x, read-only compatible %#x)", j.incompat, ro)
		}
		fc := uint32(0)
		if j.incompat&jbdIncompatFastCommit != 0 {
			if fc = be.Uint32(jsb[0x54:]); fc == 0 {
				fc = jbdDefaultFCBlocks
			}
		}
		if maxLen < jbdMinBlocks || maxLen-jbdMinBlocks < fc {
			return nil, bad("journal too short (%d blocks, %d of them for fast commits)", maxLen, fc)
		}
		if j.incompat&jbdIncompatCsumV2 != 0 && j.incompat&jbdIncompatCsumV3 != 0 {
			return nil, bad("checksum v2 and v3 at the same time")
		}
		if j.csumV2or3() && j.compat&jbdCompatChecksum != 0 {
			return nil, bad("checksum v1 and v2/v3 at the same time")
		}
		if j.csumV2or3() {
			if t := jsb[0x50]; t != jbdCRC32CChksum {
				return nil, bad("unknown checksum type %d", t)
			}
			c := slices.Clone(jsb[:1024])
			be.PutUint32(c[0xFC:], 0)
			if got, want := be.Uint32(jsb[0xFC:]), crc32c(^uint32(0), c); got != want {
				return nil, bad("checksum %#08x does not match its content (%#08x)", got, want)
			}
			j.csumSeed = crc32c(^uint32(0), jsb[0x30:0x40])
		}
		j.fcFirst = maxLen - fc + 1
		j.last = maxLen - fc
	} else {
		j.last = maxLen
	}
	j.total = min(j.total, maxLen)
	j.first = first
	if j.first >= j.last {
		return nil, bad("the log starts at block %d, at or past its end %d", j.first, j.last)
	}
	j.seq, j.start = be.Uint32(jsb[0x18:]), be.Uint32(jsb[0x1C:])
	if j.start == 0 {
		return nil, nil // clean: nothing to replay
	}
	j.tagBytes = j.tagSize()
	return j, nil
}

func (j *jbd) csumV2or3() bool { return j.incompat&(jbdIncompatCsumV2|jbdIncompatCsumV3) != 0 }

// tagSize is journal_tag_bytes.
func (j *jbd) tagSize() int {
	if j.incompat&jbdIncompatCsumV3 != 0 {
		return 16 // journal_block_tag3_t
	}
	sz := 12 // journal_block_tag_t
	if j.incompat&jbdIncompatCsumV2 != 0 {
		sz += 2
	}
	if j.incompat&jbdIncompat64bit != 0 {
		return sz
	}
	return sz - 4
}

// bmap is where log block i is in the filesystem (jbd2_journal_bmap).
func (j *jbd) bmap(i uint32) (uint64, bool) {
	k := sort.Search(len(j.runs), func(k int) bool { return j.runs[k].lblk+j.runs[k].n > uint64(i) })
	if k == len(j.runs) || j.runs[k].lblk > uint64(i) {
		return 0, false
	}
	r := j.runs[k]
	// An unwritten extent maps too (ext4_journal_bmap: ext4_map_blocks).
	return r.pblk + uint64(i) - r.lblk, true
}

// read reads log block i (jread): through the blocks replayed so far, as
// the kernel's buffer cache would serve it. at is its byte on the disk.
func (j *jbd) read(i uint32) (b []byte, at int64, err error) {
	f := j.f
	if i >= j.total {
		return nil, -1, f.errf(ErrCorrupt, 0, -1, "journal: log block %d is past its %d blocks (corrupted journal superblock)", i, j.total)
	}
	p, ok := j.bmap(i)
	if !ok {
		return nil, -1, f.errf(ErrCorrupt, 0, -1, "journal: log block %d is not mapped (a hole in the journal inode)", i)
	}
	at = f.off + int64(p)*f.bs
	j.visited++
	if j.visited > 4*uint64(j.total)+16 {
		// A valid log is walked three times at most: this one loops.
		return nil, at, f.errf(ErrCorrupt, 0, at, "journal: the log runs round more than its %d blocks (a loop)", j.total)
	}
	b = make([]byte, f.bs)
	if ref, ok := j.overlay[p]; ok {
		err = f.readLogged(b, ref)
	} else {
		err = f.readRaw(b, int64(p)*f.bs)
	}
	return b, at, err
}

func (j *jbd) wrap(v uint32) uint32 {
	if v >= j.last {
		v -= j.last - j.first
	}
	return v
}

// tid_gt and tid_geq: transaction IDs compare modulo 2^32.
func tidGT(x, y uint32) bool  { return int32(x-y) > 0 }
func tidGEQ(x, y uint32) bool { return int32(x-y) >= 0 }

type pass int

const (
	passScan pass = iota
	passRevoke
	passReplay
)

func (p pass) String() string { return [...]string{"scan", "revoke", "replay"}[p] }

// recover runs the kernel's three passes: find the end of the log, collect
// the revoke records, replay every unrevoked block of the committed
// transactions (jbd2_journal_recover).
func (j *jbd) recover() error {
	j.revoke = map[uint64]uint32{}
	j.overlay = map[uint64]logRef{}
	for _, p := range []pass{passScan, passRevoke, passReplay} {
		if err := j.pass(p); err != nil {
			return err
		}
	}
	if j.failedCommit != 0 {
		// jbd2_journal_load: the mount fails (EFSCORRUPTED); e2fsck would
		// replay the transactions before it and mark the filesystem.
		return j.f.errf(ErrCorrupt, 0, -1, "journal transaction %d is corrupt (its commit block's checksum does not match): the kernel refuses to mount the filesystem", j.failedCommit)
	}
	return nil
}

// pass is do_one_pass. In C a `break` inside its switch ends the switch
// and so the loop iteration: it is a `continue` here.
func (j *jbd) pass(p pass) error {
	f := j.f
	be := binary.BigEndian
	next, blk := j.seq, j.start
	crc := ^uint32(0) // checksum v1, over a transaction's blocks
	needCheckCommitTime := false
	var lastCommitTime uint64
	failed := func(at int64, format string, args ...any) error {
		return f.errf(ErrCorrupt, 0, at, "journal, %s pass, transaction %d: "+format, append([]any{p, next}, args...)...)
	}
loop:
	for {
		if p != passScan && tidGEQ(next, j.endTrans) {
			break
		}
		b, at, err := j.read(blk)
		if err != nil {
			return err
		}
		blk = j.wrap(blk + 1)
		if be.Uint32(b) != jbdMagic || be.Uint32(b[8:]) != next {
			break
		}
		switch be.Uint32(b[4:]) {
		case jbdDescriptor:
			if !j.blockTailOK(b) {
				// PASS_SCAN can meet stale blocks of a lazily initialised
				// journal; the commit time decides.
				if p != passScan {
					return failed(at, "descriptor block checksum does not match")
				}
				needCheckCommitTime = true
			}
			if p != passReplay {
				if p == passScan && j.compat&jbdCompatChecksum != 0 && j.endTrans == 0 {
					crc = crc32be(crc, b)
					for range j.countTags(b) {
						d, _, err := j.read(blk)
						if err != nil {
							return err
						}
						blk = j.wrap(blk + 1)
						crc = crc32be(crc, d)
					}
					continue
				}
				blk = j.wrap(blk + uint32(j.countTags(b)))
				continue
			}
			if blk, err = j.replayDescriptor(b, at, blk, next); err != nil {
				return err
			}
		case jbdCommit:
			if p != passScan {
				next++
				continue
			}
			commitTime := be.Uint64(b[48:])
			if needCheckCommitTime {
				if commitTime >= lastCommitTime {
					return failed(at, "a block of this transaction has a checksum that does not match")
				}
				break loop // a stale block of an older journal: the log ends here
			}
			ok := false
			if j.compat&jbdCompatChecksum != 0 {
				found := be.Uint32(b[16:])
				if j.endTrans != 0 {
					j.failedCommit = j.endTrans
					continue
				}
				ok = crc == found && b[12] == jbdCRC32Chksum && b[13] == jbdCRC32ChksumSize ||
					b[12] == 0 && b[13] == 0 && found == 0
				if ok {
					crc = ^uint32(0)
				}
			} else {
				ok = j.commitOK(b, false) || j.commitOK(b, true)
			}
			if !ok {
				if commitTime < lastCommitTime {
					break loop // stale, as above
				}
				j.endTrans = next
				if j.incompat&jbdIncompatAsyncCommit == 0 {
					j.failedCommit = next
					continue
				}
			}
			lastCommitTime = commitTime
			next++
		case jbdRevoke:
			if p == passReplay {
				continue
			}
			if p == passScan && !j.blockTailOK(b) {
				needCheckCommitTime = true
			}
			if err := j.revokes(p, b, at, next); err != nil {
				return err
			}
		default:
			break loop
		}
	}
	if p == passScan {
		if j.endTrans == 0 {
			j.endTrans = next
		}
		return j.checkFastCommit()
	}
	if j.endTrans != next {
		return failed(-1, "the %s pass ended at transaction %d, the scan at %d", p, next, j.endTrans)
	}
	return nil
}

// replayDescriptor replays the blocks a descriptor block b lists (the
// log blocks after it, from blk): each becomes the content of the
// filesystem block its tag names, unless revoked by this or a later
// transaction (jbd2_do_replay). It returns the log block after them.
func (j *jbd) replayDescriptor(b []byte, at int64, blk, seq uint32) (uint32, error) {
	f := j.f
	be := binary.BigEndian
	size := len(b)
	if j.csumV2or3() {
		size -= 4
	}
	for t := 12; t+j.tagBytes <= size; {
		tag := b[t:]
		flags := be.Uint16(tag[6:])
		io := blk
		blk = j.wrap(blk + 1)
		data, dataAt, err := j.read(io)
		if err != nil {
			return blk, err
		}
		target := uint64(be.Uint32(tag))
		if j.incompat&jbdIncompat64bit != 0 {
			target |= uint64(be.Uint32(tag[8:])) << 32
		}
		if rev, ok := j.revoke[target]; !ok || tidGT(seq, rev) {
			if !j.tagOK(tag, data, seq) {
				return blk, f.errf(ErrCorrupt, 0, dataAt, "journal transaction %d: the copy of block %d does not match its checksum", seq, target)
			}
			if target >= f.blocks {
				return blk, f.errf(ErrCorrupt, 0, at+int64(t), "journal transaction %d writes block %d, past the filesystem's %d blocks", seq, target, f.blocks)
			}
			if _, ok := j.overlay[target]; !ok && len(j.overlay) >= maxReplayBlocks {
				return blk, f.errf(ErrLimit, 0, -1, "journal replays more than %d blocks", maxReplayBlocks)
			}
			p, _ := j.bmap(io)
			j.overlay[target] = logRef{pblk: p, escaped: flags&jbdFlagEscape != 0}
		}
		t += j.tagBytes
		if flags&jbdFlagSameUUID == 0 {
			t += 16
		}
		if flags&jbdFlagLastTag != 0 {
			break
		}
	}
	return blk, nil
}

// countTags counts the tags of descriptor block b (count_tags).
func (j *jbd) countTags(b []byte) int {
	size := len(b)
	if j.csumV2or3() {
		size -= 4
	}
	n := 0
	for t := 12; t+j.tagBytes <= size; {
		flags := binary.BigEndian.Uint16(b[t+6:])
		n++
		t += j.tagBytes
		if flags&jbdFlagSameUUID == 0 {
			t += 16
		}
		if flags&jbdFlagLastTag != 0 {
			break
		}
	}
	return n
}

// revokes reads a revoke block (scan_revoke_records): a record revokes the
// block in its transaction and every earlier one.
func (j *jbd) revokes(p pass, b []byte, at int64, seq uint32) error {
	be := binary.BigEndian
	count := be.Uint32(b[12:])
	limit := uint32(len(b))
	if j.csumV2or3() {
		limit -= 4
	}
	if count > limit {
		return j.f.errf(ErrCorrupt, 0, at, "journal transaction %d: revoke block of %d bytes", seq, count)
	}
	if p == passScan {
		return nil
	}
	rl := uint32(4)
	if j.incompat&jbdIncompat64bit != 0 {
		rl = 8
	}
	for off := uint32(16); off+rl <= count; off += rl {
		var blk uint64
		if rl == 4 {
			blk = uint64(be.Uint32(b[off:]))
		} else {
			blk = be.Uint64(b[off:])
		}
		if old, ok := j.revoke[blk]; !ok || tidGT(seq, old) {
			if !ok && len(j.revoke) >= maxReplayBlocks {
				return j.f.errf(ErrLimit, 0, -1, "journal revokes more than %d blocks", maxReplayBlocks)
			}
			j.revoke[blk] = seq
		}
	}
	return nil
}

// blockTailOK checks the checksum at the end of a descriptor or revoke
// block (jbd2_descriptor_block_csum_verify).
func (j *jbd) blockTailOK(b []byte) bool {
	if !j.csumV2or3() {
		return true
	}
	n := len(b)
	c := slices.Clone(b)
	binary.BigEndian.PutUint32(c[n-4:], 0)
	return binary.BigEndian.Uint32(b[n-4:]) == crc32c(j.csumSeed, c)
}

// commitOK checks a commit block's checksum (jbd2_commit_block_csum_verify),
// or with partial set the same over the commit header alone, zeros after it
// (jbd2_commit_block_csum_verify_partial: what some kernels wrote).
func (j *jbd) commitOK(b []byte, partial bool) bool {
	if !j.csumV2or3() {
		return true
	}
	c := make([]byte, len(b))
	if partial {
		copy(c, b[:commitHeaderSize])
	} else {
		copy(c, b)
	}
	binary.BigEndian.PutUint32(c[16:], 0)
	return binary.BigEndian.Uint32(b[16:]) == crc32c(j.csumSeed, c)
}

// tagOK checks the checksum a tag records of its data block
// (jbd2_block_tag_csum_verify).
func (j *jbd) tagOK(tag, data []byte, seq uint32) bool {
	if !j.csumV2or3() {
		return true
	}
	be := binary.BigEndian
	var s [4]byte
	be.PutUint32(s[:], seq)
	c := crc32c(crc32c(j.csumSeed, s[:]), data)
	if j.incompat&jbdIncompatCsumV3 != 0 {
		return be.Uint32(tag[12:]) == c
	}
	return be.Uint16(tag[4:]) == uint16(c)
}

// checkFastCommit refuses a journal whose fast-commit area holds records
// of the transaction after the last full commit: the kernel would replay
// them (ext4_fc_replay), which is not done here. The area starts with a
// head tag naming that transaction, or it is not replayed
// (ext4_fc_replay_scan).
func (j *jbd) checkFastCommit() error {
	if j.incompat&jbdIncompatFastCommit == 0 {
		return nil
	}
	b, at, err := j.read(j.fcFirst)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if le.Uint16(b) != fcTagHead {
		return nil
	}
	features, tid := le.Uint32(b[4:]), le.Uint32(b[8:])
	if features != 0 {
		return j.f.errf(ErrUnsupported, 0, at, "journal: fast-commit head with unknown features %#x", features)
	}
	if tid == j.endTrans {
		return j.f.errf(ErrUnsupported, 0, at, "journal: fast-commit records of transaction %d follow the last full commit; they are not replayed here", tid)
	}
	return nil
}

// crc32beTable is the big-endian CRC-32 of the jbd2 checksum v1
// (polynomial 0x04C11DB7, not reflected: Linux crc32_be).
var crc32beTable = sync.OnceValue(func() (t *[256]uint32) {
	t = new([256]uint32)
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
})

func crc32be(crc uint32, b []byte) uint32 {
	t := crc32beTable()
	for _, c := range b {
		crc = crc<<8 ^ t[byte(crc>>24)^c]
	}
	return crc
}

// readLogged reads the replayed content of a block from the journal.
func (f *FS) readLogged(b []byte, ref logRef) error {
	if err := f.readRaw(b, int64(ref.pblk)*f.bs); err != nil {
		return err
	}
	if ref.escaped {
		binary.BigEndian.PutUint32(b, jbdMagic)
	}
	return nil
}

// patchReplayed puts the replayed content of the blocks a read of p at
// off (bytes of the filesystem) covers into p.
func (f *FS) patchReplayed(p []byte, off int64) error {
	if len(f.overlayKeys) == 0 || len(p) == 0 {
		return nil
	}
	first, last := uint64(off/f.bs), uint64((off+int64(len(p))-1)/f.bs)
	i := sort.Search(len(f.overlayKeys), func(i int) bool { return f.overlayKeys[i] >= first })
	var blk []byte
	for ; i < len(f.overlayKeys) && f.overlayKeys[i] <= last; i++ {
		n := f.overlayKeys[i]
		if blk == nil {
			blk = make([]byte, f.bs)
		}
		if err := f.readLogged(blk, f.overlay[n]); err != nil {
			return err
		}
		start := int64(n) * f.bs
		lo, hi := max(start, off), min(start+f.bs, off+int64(len(p)))
		copy(p[lo-off:hi-off], blk[lo-start:hi-start])
	}
	return nil
}

// replayedIn lists the replayed blocks among n blocks from first.
func (f *FS) replayedIn(first, n uint64) []uint64 {
	i := sort.Search(len(f.overlayKeys), func(i int) bool { return f.overlayKeys[i] >= first })
	j := sort.Search(len(f.overlayKeys), func(i int) bool { return f.overlayKeys[i] >= first+n })
	return f.overlayKeys[i:j]
}
