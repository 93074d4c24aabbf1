// Package partimage saves a whole partition to an image file and restores it:
// the one way back when an installer run reformats the backup partition.
// Zero blocks become holes (or compress away with zstd); a JSON sidecar
// carries the sha256 and size of the partition's bytes; every copy is
// verified by reading it back.
package partimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/DataDog/zstd"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Format names the sidecar layout; bumped if a field changes meaning.
const Format = "xsrescue-partition-image/1"

// Compression values.
const (
	None = "none"
	Zstd = "zstd"
)

// BlockSize is the unit of copying, hole detection and comparison.
const BlockSize = 1 << 20

var (
	// ErrTruncated: the image holds fewer bytes than its sidecar says.
	ErrTruncated = errors.New("snapshot truncated")
	// ErrMismatch: the image's content does not hash to its sidecar's sha256.
	ErrMismatch = errors.New("snapshot does not match its sidecar")
	// ErrSize: the partition's size differs from the snapshot's.
	ErrSize = errors.New("partition size differs from the snapshot")
	// ErrOtherPartition: the snapshot was saved from another partition
	// (number, start or role differ from the one being restored).
	ErrOtherPartition = errors.New("snapshot was saved from another partition")
	// ErrAlreadySaved: Save found the image already holding exactly this
	// partition (a re-run); it returns the existing sidecar with it.
	ErrAlreadySaved = errors.New("already saved")
	// ErrChanged: the partition is not in the state an undo file applies to.
	ErrChanged = errors.New("partition changed since the restore")
	// ErrRolledBack: a restore that stopped part-way (cancelled, or a
	// write or verification failed) wrote the blocks it had overwritten
	// back, and the partition verifies as before: nothing changed.
	ErrRolledBack = errors.New("rolled back")
	// ErrHalfRestored: a restore that stopped part-way could not put the
	// partition back; the error says what is left and how to finish.
	ErrHalfRestored = errors.New("the partition is partly restored")
)

// Sidecar is FILE.json, written beside every image.
type Sidecar struct {
	Format      string `json:"format"`
	Disk        string `json:"disk"`
	Partition   int    `json:"partition"`
	Role        string `json:"role"`
	Start       int64  `json:"start"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"` // of the partition's bytes
	Compression string `json:"compression"`
	File        string `json:"file"`        // image file name, relative to the sidecar
	FileSize    int64  `json:"file_size"`   // bytes of the image file
	FileSHA256  string `json:"file_sha256"` // of the image file as stored
	Created     string `json:"created"`
	// Blocks, when set, makes the image an undo file: only the blocks at
	// these offsets, concatenated, as they were before a restore overwrote
	// them. Base is the sha256 of the partition it applies to (what the
	// restore left); SHA256 is the partition's after applying it.
	Blocks []int64 `json:"blocks,omitempty"`
	Base   string  `json:"base_sha256,omitempty"`
}

// Source returns where the snapshot was saved from.
func (sc *Sidecar) Source() Source {
	return Source{Disk: sc.Disk, Partition: sc.Partition, Role: sc.Role, Start: sc.Start, Size: sc.Size}
}

// CheckSame refuses (ErrOtherPartition, exit 3) restoring the snapshot onto
// a partition other than the one it was saved from: a different number,
// start offset or role. A partition with no role now is not refused for its
// role alone: roles come from the content (a root-* label), which is what a
// restore puts back. The disk's path is not compared: the same disk has
// other names (an image copy, another /dev name after a reboot).
func (sc *Sidecar) CheckSame(dst Source) error {
	var diffs []string
	if sc.Partition != dst.Partition {
		diffs = append(diffs, fmt.Sprintf("partition %d, not %d", sc.Partition, dst.Partition))
	}
	if sc.Start != dst.Start {
		diffs = append(diffs, fmt.Sprintf("start %d, not %d", sc.Start, dst.Start))
	}
	if sc.Role != dst.Role && dst.Role != "" {
		diffs = append(diffs, fmt.Sprintf("role %s, not %s", dash(sc.Role), dash(dst.Role)))
	}
	if len(diffs) == 0 {
		return nil
	}
	return xerr.Refusedf("%w (%s)", ErrOtherPartition, strings.Join(diffs, ", "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// SidecarPath is where the sidecar of image lives.
func SidecarPath(image string) string { return image + ".json" }

// Options tune Save.
type Options struct {
	Compress bool
	// Progress, when set, is called with the number of partition bytes
	// processed so far (from one goroutine, in order).
	Progress func(done int64)
}

// Source is the partition to save: a byte range of a disk or image.
type Source struct {
	Disk      string
	Partition int
	Role      string
	Start     int64
	Size      int64
}

// Save copies src's byte range of r into image (which must not exist) and
// writes its sidecar, then verifies the image by reading it back. When
// image and its sidecar already hold exactly this partition (a re-run), it
// returns the existing sidecar and ErrAlreadySaved; any other existing file
// is refused.
func Save(ctx context.Context, r io.ReaderAt, src Source, image string, opt Options) (*Sidecar, error) {
	if sc, err := CheckSave(ctx, r, src, image); err != nil {
		return sc, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(image), "."+filepath.Base(image)+".tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()

	sc := &Sidecar{Format: Format, Disk: src.Disk, Partition: src.Partition, Role: src.Role,
		Start: src.Start, Size: src.Size, Compression: None, File: filepath.Base(image),
		Created: time.Now().UTC().Format(time.RFC3339)}
	fileHash := sha256.New()
	var sink blockSink
	if opt.Compress {
		sc.Compression = Zstd
		enc := zstd.NewWriterLevel(io.MultiWriter(tmp, fileHash), zstd.BestSpeed)
		// A partition is large: compress on every CPU (the frames are the
		// same format either way; a build without threads says so and
		// compresses on one).
		if n := runtime.GOMAXPROCS(0); n > 1 {
			if err := enc.SetNbWorkers(n); err != nil && !errors.Is(err, zstd.ErrNoParallelSupport) {
				return nil, err
			}
		}
		sink = &streamSink{w: enc, close: enc.Close}
	} else {
		sink = &sparseSink{f: tmp, size: src.Size}
	}
	sum, err := copyRange(ctx, r, src.Start, src.Size, sink, opt.Progress)
	if err != nil {
		return nil, fmt.Errorf("%s partition %d: %w", src.Disk, src.Partition, err)
	}
	if err := sink.finish(); err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	sc.SHA256 = sum
	sc.FileSHA256 = sum
	if opt.Compress {
		sc.FileSHA256 = hex.EncodeToString(fileHash.Sum(nil))
	}
	st, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	sc.FileSize = st.Size()
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), image); err != nil { // link, not rename: never replaces a file that appeared meanwhile
		return nil, err
	}
	if err := writeSidecar(sc, SidecarPath(image)); err != nil {
		os.Remove(image)
		return nil, err
	}
	syncDir(filepath.Dir(image))
	if err := compareWith(ctx, image, sc, r); err != nil {
		return nil, fmt.Errorf("verifying the new snapshot: %w", err)
	}
	return sc, nil
}

// CheckSave is what Save checks before it writes anything (a dry run stops
// here): nil when image and its sidecar are free, the existing sidecar and
// ErrAlreadySaved when they already hold exactly src, an error otherwise.
// It only reads.
func CheckSave(ctx context.Context, r io.ReaderAt, src Source, image string) (*Sidecar, error) {
	if src.Size <= 0 || src.Start < 0 {
		return nil, xerr.Invalidf("partition %d: bad range start %d size %d", src.Partition, src.Start, src.Size)
	}
	_, errImg := os.Lstat(image)
	_, errSc := os.Lstat(SidecarPath(image))
	if errImg == nil && errSc == nil {
		return sameSnapshot(ctx, r, src, image)
	}
	for _, p := range []string{image, SidecarPath(image)} {
		if _, err := os.Lstat(p); err == nil {
			return nil, xerr.Refusedf("%s exists: a snapshot is never overwritten (choose another --to)", p)
		}
	}
	return nil, nil
}

// sameSnapshot checks, in one pass, that the existing image matches its
// sidecar and holds the bytes of src now.
func sameSnapshot(ctx context.Context, r io.ReaderAt, src Source, image string) (*Sidecar, error) {
	other := func(why string) error {
		return xerr.Refusedf("%s exists and %s: a snapshot is never overwritten (choose another --to)", image, why)
	}
	sc, err := ReadSidecar(image)
	if err != nil {
		return nil, other("its sidecar is unreadable")
	}
	if sc.Blocks != nil {
		return nil, other("is an undo file")
	}
	if sc.CheckSame(src) != nil || sc.Size != src.Size {
		return nil, other(fmt.Sprintf("was saved from partition %d (start %d, size %d)", sc.Partition, sc.Start, sc.Size))
	}
	cur := make([]byte, BlockSize)
	err = eachBlock(ctx, image, sc, func(off int64, b []byte) error {
		if m, err := r.ReadAt(cur[:len(b)], src.Start+off); m < len(b) {
			return fmt.Errorf("reading the partition at %d: %w", src.Start+off, err)
		}
		if !bytes.Equal(cur[:len(b)], b) {
			return other(fmt.Sprintf("holds other content (from byte %d of the partition)", off))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrMismatch) || errors.Is(err, ErrTruncated) {
			return nil, other("does not match its sidecar")
		}
		return nil, err
	}
	return sc, ErrAlreadySaved
}

// compareWith reads image back (through the sidecar just written) and
// compares it block by block with the partition it was made from: a byte
// comparison instead of a second sha256 pass over the whole partition.
func compareWith(ctx context.Context, image string, sc *Sidecar, src io.ReaderAt) error {
	if _, err := ReadSidecar(image); err != nil {
		return err
	}
	rc, err := Open(image, sc)
	if err != nil {
		return err
	}
	defer rc.Close()
	// A raw image is read where it has data only; a hole in both the image
	// and the source is equal without reading either.
	var imgHoles *holes
	if f, ok := rc.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Size() != sc.Size {
			return fmt.Errorf("%s: %w: %d bytes, the partition has %d", image, ErrMismatch, st.Size(), sc.Size)
		}
		imgHoles = newHoles(f)
	}
	hl := newHoles(src)
	img := make([]byte, BlockSize)
	cur := make([]byte, BlockSize)
	for off := int64(0); off < sc.Size; off += BlockSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(BlockSize), sc.Size-off)
		if imgHoles != nil {
			if imgHoles.hole(off, n) && hl.hole(sc.Start+off, n) {
				continue
			}
			if _, err := rc.(*os.File).ReadAt(img[:n], off); err != nil && err != io.EOF {
				return fmt.Errorf("%s: %w", image, err)
			}
		} else if _, err := io.ReadFull(rc, img[:n]); err != nil {
			return fmt.Errorf("%s: %w at %d: %w", image, ErrTruncated, off, err)
		}
		want := zeros()[:n]
		if !hl.hole(sc.Start+off, n) {
			if m, err := src.ReadAt(cur[:n], sc.Start+off); int64(m) < n {
				return fmt.Errorf("re-reading the partition at %d: %w", sc.Start+off, err)
			}
			want = cur[:n]
		}
		if !bytes.Equal(img[:n], want) {
			return fmt.Errorf("%s: %w: block at %d differs from the partition", image, ErrMismatch, off)
		}
	}
	if imgHoles == nil {
		if m, _ := rc.Read(img[:1]); m > 0 {
			return fmt.Errorf("%s: %w: longer than the partition", image, ErrMismatch)
		}
	}
	return nil
}

func writeSidecar(sc *Sidecar, path string) error {
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// ReadSidecar reads FILE.json for image.
func ReadSidecar(image string) (*Sidecar, error) {
	path := SidecarPath(image)
	b, err := infile.ReadFile(path)
	if err != nil {
		return nil, xerr.Invalidf("sidecar %s: %w (every snapshot needs its sidecar)", path, err)
	}
	var sc Sidecar
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, xerr.Invalidf("sidecar %s: offset %d: %w", path, dec.InputOffset(), err)
	}
	switch {
	case sc.Format != Format:
		return nil, xerr.Invalidf("sidecar %s: format %q, want %q", path, sc.Format, Format)
	case sc.Size <= 0:
		return nil, xerr.Invalidf("sidecar %s: size %d", path, sc.Size)
	case sc.Start < 0 || sc.Start > math.MaxInt64-sc.Size:
		// start+size is a byte offset on the disk: it must not overflow.
		return nil, xerr.Invalidf("sidecar %s: start %d with size %d is not a byte range on any disk", path, sc.Start, sc.Size)
	case sc.FileSize < 0:
		return nil, xerr.Invalidf("sidecar %s: file_size %d", path, sc.FileSize)
	case len(sc.SHA256) != 64:
		return nil, xerr.Invalidf("sidecar %s: sha256 %q is not a sha256", path, sc.SHA256)
	case sc.Compression != None && sc.Compression != Zstd:
		return nil, xerr.Invalidf("sidecar %s: compression %q", path, sc.Compression)
	case sc.Blocks != nil && (sc.Compression != None || len(sc.Base) != 64):
		return nil, xerr.Invalidf("sidecar %s: an undo file needs compression none and a base_sha256", path)
	}
	for i, off := range sc.Blocks {
		if off < 0 || off%BlockSize != 0 || off >= sc.Size || (i > 0 && off <= sc.Blocks[i-1]) {
			return nil, xerr.Invalidf("sidecar %s: blocks[%d] = %d: not an ascending block offset below the size", path, i, off)
		}
	}
	return &sc, nil
}

// Open returns the partition bytes stored in image (decompressed).
func Open(image string, sc *Sidecar) (io.ReadCloser, error) {
	f, err := infile.Open(image, infile.File)
	if err != nil {
		return nil, err
	}
	if sc.Compression == None {
		return f, nil
	}
	dec := zstd.NewReader(f)
	return readCloser{Reader: dec, close: func() error { dec.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// Verify reads image back and checks it against its sidecar: size first
// (ErrTruncated), then sha256 (ErrMismatch). Both are refusals (exit 3).
func Verify(ctx context.Context, image string) (*Sidecar, error) {
	sc, err := ReadSidecar(image)
	if err != nil {
		return nil, err
	}
	if err := eachBlock(ctx, image, sc, func(int64, []byte) error { return nil }); err != nil {
		return nil, err
	}
	return sc, nil
}
