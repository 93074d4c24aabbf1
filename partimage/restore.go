package partimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

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

	changed []block // the blocks that differ
}

// block is one block to write, with the hash Plan saw, so that the write
// pass never writes bytes that were not checked against the sidecar.
type block struct {
	off int64
	sum [32]byte
}

// Plan checks image against its sidecar (size and sha256, so a truncated or
// altered snapshot is refused before a byte is written) and against the
// partition's size, comparing it with the partition block by block in the
// same pass.
func Plan(ctx context.Context, disk io.ReaderAt, start, size int64, image string) (*RestoreResult, error) {
	return restore(ctx, disk, start, size, image)
}

// Restore writes the blocks that differ, syncs, and verifies by re-reading
// the partition. plan is Plan's result for the same arguments (nil: Restore
// makes it). disk must be opened read-write.
func Restore(ctx context.Context, disk *os.File, start, size int64, image string, plan *RestoreResult, progress func(int64)) (*RestoreResult, error) {
	if plan == nil {
		var err error
		if plan, err = Plan(ctx, disk, start, size, image); err != nil {
			return nil, err
		}
	}
	return write(ctx, disk, start, size, image, plan, progress)
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
	var changed []block
	buf := make([]byte, BlockSize)
	err = eachBlock(ctx, image, sc, func(off int64, img []byte) error {
		cur := buf[:len(img)]
		if m, err := disk.ReadAt(cur, start+off); m < len(img) {
			return fmt.Errorf("reading the partition at %d: %w", start+off, err)
		}
		res.Blocks++
		if !bytes.Equal(img, cur) {
			changed = append(changed, block{off, sha256.Sum256(img)})
			res.ChangedBlocks++
			res.BytesToWrite += int64(len(img))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.changed = changed
	return res, nil
}

func write(ctx context.Context, w *os.File, start, size int64, image string, plan *RestoreResult, progress func(int64)) (*RestoreResult, error) {
	res := *plan
	sc, changed := res.Sidecar, res.changed
	if len(changed) == 0 {
		return &res, nil
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
		return nil, err
	}
	res.Written = true
	if err := w.Sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	sum, err := copyRange(ctx, w, start, size, discard{}, nil)
	if err != nil {
		return nil, fmt.Errorf("verifying the restored partition: %w", err)
	}
	if sum != sc.SHA256 {
		return nil, fmt.Errorf("verifying the restored partition: sha256 %s, snapshot %s", sum, sc.SHA256)
	}
	res.VerifiedSHA256 = sum
	return &res, nil
}

// eachBlock streams the snapshot's blocks to fn and checks, at the end, its
// size and sha256 against the sidecar (refusals, exit 3).
func eachBlock(ctx context.Context, image string, sc *Sidecar, fn func(off int64, b []byte) error) error {
	rc, err := Open(image, sc)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	buf := make([]byte, BlockSize)
	for off := int64(0); off < sc.Size; off += BlockSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(BlockSize), sc.Size-off)
		if m, err := io.ReadFull(rc, buf[:n]); err != nil {
			return xerr.Refusedf("%s: %w: %d of %d bytes: %w", image, ErrTruncated, off+int64(m), sc.Size, err)
		}
		h.Write(buf[:n])
		if err := fn(off, buf[:n]); err != nil {
			return err
		}
	}
	if m, _ := rc.Read(buf[:1]); m > 0 {
		return xerr.Refusedf("%s: %w: more than the %d bytes its sidecar names", image, ErrMismatch, sc.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sc.SHA256 {
		return xerr.Refusedf("%s: %w: sha256 %s, sidecar says %s", image, ErrMismatch, got, sc.SHA256)
	}
	return nil
}

type discard struct{}

func (discard) data(int64, []byte) error { return nil }
func (discard) zero(int64, int64) error  { return nil }
func (discard) finish() error            { return nil }
