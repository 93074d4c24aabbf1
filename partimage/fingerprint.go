package partimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
)

// Fingerprint identifies the bytes of a whole disk or image: the sha256 of
// the size and of the offset and content of every BlockSize block that is
// not all zeros. Two images with the same bytes have the same fingerprint
// whether their zero ranges are holes or written zeros, and a sparse image
// is never read where it holds nothing, so an 80 GiB image with 200 MiB of
// data costs 200 MiB of reading. It is how `xsrescue demo` proves the disk
// byte-identical at the end.
func Fingerprint(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], uint64(size))
	h.Write(num[:])
	hl := newHoles(f)
	buf := make([]byte, BlockSize)
	for off := int64(0); off < size; off += BlockSize {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := min(int64(BlockSize), size-off)
		if hl.hole(off, n) {
			continue
		}
		if _, err := f.ReadAt(buf[:n], off); err != nil && err != io.EOF {
			return "", err
		}
		if bytes.Equal(buf[:n], zeros()[:n]) {
			continue
		}
		binary.BigEndian.PutUint64(num[:], uint64(off))
		h.Write(num[:])
		h.Write(buf[:n])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
