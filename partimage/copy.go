package partimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// zeros is a block of zeros, made on first use: a package-level make ran
// at every start of the binary, for every command.
var zeros = sync.OnceValue(func() []byte { return make([]byte, BlockSize) })

// blockSink receives the partition block by block.
type blockSink interface {
	data(off int64, b []byte) error
	zero(off, n int64) error
	finish() error
}

// sparseSink writes a raw image with a hole for every zero block.
type sparseSink struct {
	f    *os.File
	size int64
}

func (s *sparseSink) data(off int64, b []byte) error {
	_, err := s.f.WriteAt(b, off)
	return err
}

func (s *sparseSink) zero(off, n int64) error { return nil }

// finish sets the length, so trailing zero blocks become a hole too. The
// raw image's own hash equals the partition's.
func (s *sparseSink) finish() error { return s.f.Truncate(s.size) }

// streamSink feeds a compressor.
type streamSink struct {
	w     io.Writer
	close func() error
}

func (s *streamSink) data(_ int64, b []byte) error { _, err := s.w.Write(b); return err }

func (s *streamSink) zero(_, n int64) error { _, err := s.w.Write(zeros()[:n]); return err }

func (s *streamSink) finish() error { return s.close() }

// holes finds unallocated ranges of a regular file with SEEK_DATA, so that
// a sparse image is never read where it holds nothing. For other files
// (block devices) every block is read.
type holes struct {
	fd     int
	size   int64
	dataAt int64 // first data offset at or after the last query; -1 unknown
	end    bool  // no data after dataAt's query
}

func newHoles(r io.ReaderAt) *holes {
	f, ok := r.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	return &holes{fd: int(f.Fd()), size: st.Size(), dataAt: -1}
}

// hole reports whether [off, off+n) holds no data.
func (h *holes) hole(off, n int64) bool {
	if h == nil || off+n > h.size {
		return false // past the end: the read reports it
	}
	if h.end {
		return true
	}
	if h.dataAt < off {
		d, err := unix.Seek(h.fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			h.end = true
			return true
		}
		if err != nil {
			return false
		}
		h.dataAt = d
	}
	return h.dataAt >= off+n
}

// copyRange streams [start, start+size) of r into sink and returns the
// sha256 of those bytes.
func copyRange(ctx context.Context, r io.ReaderAt, start, size int64, sink blockSink, progress func(int64)) (string, error) {
	h := sha256.New()
	hl := newHoles(r)
	buf := make([]byte, BlockSize)
	for off := int64(0); off < size; off += BlockSize {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := min(int64(BlockSize), size-off)
		b := buf[:n]
		if hl.hole(start+off, n) {
			h.Write(zeros()[:n])
			if err := sink.zero(off, n); err != nil {
				return "", err
			}
		} else {
			m, err := r.ReadAt(b, start+off)
			if int64(m) < n {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return "", fmt.Errorf("reading offset %d: disk ends after %d of the partition's %d bytes: %w", start+off, off+int64(m), size, err)
			}
			h.Write(b)
			if bytes.Equal(b, zeros()[:n]) {
				err = sink.zero(off, n)
			} else {
				err = sink.data(off, b)
			}
			if err != nil {
				return "", err
			}
		}
		if progress != nil {
			progress(off + n)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
