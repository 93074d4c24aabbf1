package partimage

import (
	"bytes"
	"context"
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
}

// Plan checks image against its sidecar (size and sha256, so a truncated or
// altered snapshot is refused before a byte is written) and against the
// partition's size, then compares it with the partition block by block.
func Plan(ctx context.Context, disk io.ReaderAt, start, size int64, image string) (*RestoreResult, error) {
	return restore(ctx, disk, nil, start, size, image, nil)
}

// Restore is Plan, then writes the blocks that differ, syncs, and verifies
// by re-reading the partition. disk must be opened read-write.
func Restore(ctx context.Context, disk *os.File, start, size int64, image string, progress func(int64)) (*RestoreResult, error) {
	return restore(ctx, disk, disk, start, size, image, progress)
}

func restore(ctx context.Context, disk io.ReaderAt, w *os.File, start, size int64, image string, progress func(int64)) (*RestoreResult, error) {
	sc, err := Verify(ctx, image)
	if err != nil {
		return nil, err
	}
	if sc.Size != size {
		return nil, xerr.Refusedf("%s: %w: the partition has %d bytes, the snapshot %d", image, ErrSize, size, sc.Size)
	}
	rc, err := Open(image, sc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	res := &RestoreResult{Sidecar: sc}
	img := make([]byte, BlockSize)
	cur := make([]byte, BlockSize)
	for off := int64(0); off < size; off += BlockSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(int64(BlockSize), size-off)
		if _, err := io.ReadFull(rc, img[:n]); err != nil {
			return nil, xerr.Refusedf("%s: %w at %d: %w", image, ErrTruncated, off, err)
		}
		if m, err := disk.ReadAt(cur[:n], start+off); int64(m) < n {
			return nil, fmt.Errorf("reading the partition at %d: %w", start+off, err)
		}
		res.Blocks++
		if !bytes.Equal(img[:n], cur[:n]) {
			res.ChangedBlocks++
			res.BytesToWrite += n
			if w != nil {
				if _, err := w.WriteAt(img[:n], start+off); err != nil {
					return nil, fmt.Errorf("writing the partition at %d: %w", start+off, err)
				}
			}
		}
		if progress != nil {
			progress(off + n)
		}
	}
	if w == nil || res.ChangedBlocks == 0 {
		return res, nil
	}
	res.Written = true
	if err := w.Sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	sum, err := copyRange(ctx, disk, start, size, discard{}, nil)
	if err != nil {
		return nil, fmt.Errorf("verifying the restored partition: %w", err)
	}
	if sum != sc.SHA256 {
		return nil, fmt.Errorf("verifying the restored partition: sha256 %s, snapshot %s", sum, sc.SHA256)
	}
	res.VerifiedSHA256 = sum
	return res, nil
}

type discard struct{}

func (discard) data(int64, []byte) error { return nil }
func (discard) zero(int64, int64) error  { return nil }
func (discard) finish() error            { return nil }
