package partimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// RestoreResult says what a restore changed (or, dry, would change).
type RestoreResult struct {
	Sidecar        *Sidecar `json:"snapshot"`
	Blocks         int64    `json:"blocks"`
	ChangedBlocks  int64    `json:"changed_blocks"`
	BytesToWrite   int64    `json:"bytes_to_write"`
	Written        bool     `json:"written"`
	VerifiedSHA256 string   `json:"verified_sha256,omitempty"`
	// PreviousSHA256 is the partition's sha256 before the restore.
	PreviousSHA256 string `json:"previous_sha256"`
	// Kept is the undo file holding the blocks the restore overwrote (nil
	// when nothing was written).
	Kept *Sidecar `json:"kept"`
	// KeptImage is the undo file's path.
	KeptImage string `json:"kept_image,omitempty"`

	changed []block // the blocks that differ
}

// block is one block to write, with the hashes Plan saw of the snapshot's
// and of the partition's bytes, so that the write pass never writes bytes
// that were not checked against the sidecar, nor over bytes it did not keep.
type block struct {
	off    int64
	sum    [32]byte
	oldSum [32]byte
}

// Plan checks image against its sidecar (size and sha256, so a truncated or
// altered snapshot is refused before a byte is written) and against the
// partition's size, comparing it with the partition block by block in the
// same pass.
func Plan(ctx context.Context, disk io.ReaderAt, start, size int64, image string) (*RestoreResult, error) {
	return restore(ctx, disk, start, size, image)
}

// Restore first keeps the blocks it is about to overwrite in the undo file
// keep (which must not exist; its sidecar records dst), then writes the
// blocks that differ, syncs, and verifies by re-reading the partition.
// Restoring keep puts the partition back as it was. plan is Plan's result
// for the same arguments (nil: Restore makes it). disk must be opened
// read-write.
//
// A restore that stops once it has begun writing — ctx cancelled (SIGINT,
// SIGTERM), a write failing, the result not verifying — rolls back: it
// writes the kept blocks back (not cancellable), syncs, and verifies the
// partition's sha256 against the one it had before. The error then wraps
// the cause and ErrRolledBack; if the rollback fails, ErrHalfRestored and
// the command that finishes it.
func Restore(ctx context.Context, disk *os.File, dst Source, image string, plan *RestoreResult, keep string, progress func(int64)) (*RestoreResult, error) {
	if plan == nil {
		var err error
		if plan, err = Plan(ctx, disk, dst.Start, dst.Size, image); err != nil {
			return nil, err
		}
	}
	if len(plan.changed) == 0 {
		res := *plan
		return &res, nil
	}
	kept, err := keepBlocks(disk, dst, plan, keep)
	if err != nil {
		return nil, fmt.Errorf("keeping the blocks to overwrite in %s (nothing was written): %w", keep, err)
	}
	res, written, err := write(ctx, disk, dst.Start, dst.Size, image, plan, progress)
	if err != nil {
		if written == 0 {
			return nil, fmt.Errorf("%w (nothing was written; %s)", err, dropUndo(keep))
		}
		err = rollback(ctx, disk, dst, image, plan, keep, kept, written, err)
		if errors.Is(err, ErrRolledBack) {
			err = fmt.Errorf("%w; %s", err, dropUndo(keep))
		}
		return nil, err
	}
	res.Kept, res.KeptImage = kept, keep
	return res, nil
}

// dropUndo removes the undo file and its sidecar of a restore that left
// the partition as it was (nothing written, or rolled back and verified):
// they hold nothing the partition lacks, and no op records them, so each
// interrupted retry would leave another copy. It says what it did.
func dropUndo(keep string) string {
	var errs []error
	for _, p := range []string{keep, SidecarPath(keep)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Sprintf("the undo file %s is not needed, but removing it failed: %v", keep, err)
	}
	syncDir(filepath.Dir(keep))
	return fmt.Sprintf("the undo file %s and its sidecar, not needed, were removed", keep)
}

// keepBlocks writes the undo file: the partition's current content of every
// block the restore will write, checked against what Plan read.
func keepBlocks(disk io.ReaderAt, dst Source, plan *RestoreResult, keep string) (*Sidecar, error) {
	for _, p := range []string{keep, SidecarPath(keep)} {
		if _, err := os.Lstat(p); err == nil {
			return nil, xerr.Refusedf("%s exists (never overwritten)", p)
		}
	}
	f, err := os.OpenFile(keep, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(keep)
		}
	}()
	sc := &Sidecar{Format: Format, Disk: dst.Disk, Partition: dst.Partition, Role: dst.Role, Start: dst.Start, Size: dst.Size,
		SHA256: plan.PreviousSHA256, Base: plan.Sidecar.SHA256, Compression: None, File: filepath.Base(keep),
		Created: time.Now().UTC().Format(time.RFC3339), Blocks: []int64{}}
	h := sha256.New()
	buf := make([]byte, BlockSize)
	for _, b := range plan.changed {
		n := min(int64(BlockSize), dst.Size-b.off)
		if m, err := disk.ReadAt(buf[:n], dst.Start+b.off); int64(m) < n {
			return nil, fmt.Errorf("reading the partition at %d: %w", dst.Start+b.off, err)
		}
		if sha256.Sum256(buf[:n]) != b.oldSum {
			return nil, xerr.Refusedf("%w: block at %d differs from what was planned", ErrChanged, b.off)
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return nil, err
		}
		h.Write(buf[:n])
		sc.Blocks = append(sc.Blocks, b.off)
		sc.FileSize += n
	}
	sc.FileSHA256 = hex.EncodeToString(h.Sum(nil))
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := writeSidecar(sc, SidecarPath(keep)); err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(keep))
	ok = true
	return sc, nil
}

func restore(ctx context.Context, disk io.ReaderAt, start, size int64, image string) (*RestoreResult, error) {
	sc, err := ReadSidecar(image)
	if err != nil {
		return nil, err
	}
	if sc.Size != size {
		return nil, xerr.Refusedf("%s: %w: the partition has %d bytes, the snapshot %d", image, ErrSize, size, sc.Size)
	}
	// One pass: hash the snapshot against its sidecar while comparing it
	// with the partition. Nothing is written unless the whole snapshot
	// checks out, so a truncated or altered image changes nothing.
	res := &RestoreResult{Sidecar: sc}
	if sc.Blocks != nil {
		// An undo file applies only to the content the restore left.
		if res.PreviousSHA256, err = copyRange(ctx, disk, start, size, discard{}, nil); err != nil {
			return nil, fmt.Errorf("reading the partition: %w", err)
		}
		if res.PreviousSHA256 != sc.Base {
			return nil, xerr.Refusedf("%s: %w: sha256 %s, the undo file applies to %s", image, ErrChanged, res.PreviousSHA256, sc.Base)
		}
	}
	var changed []block
	current := sha256.New()
	buf := make([]byte, BlockSize)
	err = eachBlock(ctx, image, sc, func(off int64, img []byte) error {
		cur := buf[:len(img)]
		if m, err := disk.ReadAt(cur, start+off); m < len(img) {
			return fmt.Errorf("reading the partition at %d: %w", start+off, err)
		}
		current.Write(cur)
		res.Blocks++
		if !bytes.Equal(img, cur) {
			changed = append(changed, block{off, sha256.Sum256(img), sha256.Sum256(cur)})
			res.ChangedBlocks++
			res.BytesToWrite += int64(len(img))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sc.Blocks == nil {
		res.PreviousSHA256 = hex.EncodeToString(current.Sum(nil))
	}
	res.changed = changed
	return res, nil
}

// rollback puts back the first n kept blocks (the ones write may have
// overwritten) after cause stopped a restore, whatever ctx says: a
// partition left half-written is worse than a late exit.
func rollback(ctx context.Context, disk *os.File, dst Source, image string, plan *RestoreResult, keep string, kept *Sidecar, n int, cause error) error {
	ctx = context.WithoutCancel(ctx)
	where := fmt.Sprintf("partition %d of %s", dst.Partition, dst.Disk)
	// The undo file is checked whole before a block of it is written.
	err := eachBlock(ctx, keep, kept, func(int64, []byte) error { return nil })
	if err == nil {
		i := 0
		err = eachBlock(ctx, keep, kept, func(off int64, b []byte) error {
			if i++; i > n {
				return nil
			}
			if _, err := disk.WriteAt(b, dst.Start+off); err != nil {
				return fmt.Errorf("writing the partition at %d: %w", dst.Start+off, err)
			}
			return nil
		})
	}
	if err == nil {
		err = disk.Sync()
	}
	sum := ""
	if err == nil {
		if sum, err = copyRange(ctx, disk, dst.Start, dst.Size, discard{}, nil); err == nil && sum != plan.PreviousSHA256 {
			err = fmt.Errorf("the partition's sha256 is %s, before the restore it was %s", sum, plan.PreviousSHA256)
		}
	}
	if err != nil {
		// The undo file applies only to the snapshot's content (its
		// base_sha256): the way back goes through the finished restore.
		return fmt.Errorf("%w; rolling back failed (%v): %w: %d of its %d changed block(s) may hold the snapshot's content; to finish the restore run: xsrescue disk restore-partition %s --partition %d --from %s; after that, --from %s puts back the content from before",
			cause, err, ErrHalfRestored, n, len(plan.changed), dst.Disk, dst.Partition, image, keep)
	}
	return fmt.Errorf("%w; %w: %s is as it was before the restore (sha256 %s, verified): nothing changed", cause, ErrRolledBack, where, sum)
}

// write writes the changed blocks of plan; written counts the blocks it
// began to write (also on an error: those may be overwritten).
func write(ctx context.Context, w *os.File, start, size int64, image string, plan *RestoreResult, progress func(int64)) (_ *RestoreResult, written int, _ error) {
	res := *plan
	sc, changed := res.Sidecar, res.changed
	if len(changed) == 0 {
		return &res, 0, nil
	}
	next := 0
	err := eachBlock(ctx, image, sc, func(off int64, img []byte) error {
		if next < len(changed) && changed[next].off == off {
			if sha256.Sum256(img) != changed[next].sum {
				return xerr.Refusedf("%s: %w: block at %d changed since it was checked", image, ErrMismatch, off)
			}
			next++
			if _, err := w.WriteAt(img, start+off); err != nil {
				return fmt.Errorf("writing the partition at %d: %w", start+off, err)
			}
		}
		if progress != nil {
			progress(off + int64(len(img)))
		}
		return nil
	})
	if err != nil {
		return nil, next, err
	}
	res.Written = true
	if err := w.Sync(); err != nil {
		return nil, next, fmt.Errorf("sync: %w", err)
	}
	sum, err := copyRange(ctx, w, start, size, discard{}, nil)
	if err != nil {
		return nil, next, fmt.Errorf("verifying the restored partition: %w", err)
	}
	if sum != sc.SHA256 {
		return nil, next, fmt.Errorf("verifying the restored partition: sha256 %s, snapshot %s", sum, sc.SHA256)
	}
	res.VerifiedSHA256 = sum
	return &res, next, nil
}

// eachBlock streams the snapshot's blocks to fn and checks, at the end, its
// size and sha256 against the sidecar (refusals, exit 3). An undo file's
// blocks are the ones it lists, checked against its file_sha256.
func eachBlock(ctx context.Context, image string, sc *Sidecar, fn func(off int64, b []byte) error) error {
	rc, err := Open(image, sc)
	if err != nil {
		return err
	}
	defer rc.Close()
	size, want := sc.Size, sc.SHA256
	if sc.Blocks != nil {
		size, want = sc.FileSize, sc.FileSHA256
	}
	h := sha256.New()
	buf := make([]byte, BlockSize)
	read := int64(0)
	for i := 0; ; i++ {
		off := int64(i) * BlockSize
		if sc.Blocks != nil {
			if i >= len(sc.Blocks) {
				break
			}
			off = sc.Blocks[i]
		} else if off >= sc.Size {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(BlockSize), sc.Size-off)
		m, err := io.ReadFull(rc, buf[:n])
		read += int64(m)
		if err != nil {
			return xerr.Refusedf("%s: %w: %d of %d bytes: %w", image, ErrTruncated, read, size, err)
		}
		h.Write(buf[:n])
		if err := fn(off, buf[:n]); err != nil {
			return err
		}
	}
	if m, _ := rc.Read(buf[:1]); m > 0 || read != size {
		return xerr.Refusedf("%s: %w: not the %d bytes its sidecar names", image, ErrMismatch, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return xerr.Refusedf("%s: %w: sha256 %s, sidecar says %s", image, ErrMismatch, got, want)
	}
	return nil
}

type discard struct{}

func (discard) data(int64, []byte) error { return nil }
func (discard) zero(int64, int64) error  { return nil }
func (discard) finish() error            { return nil }
