package partimage

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestImagesOfEarlierVersions: compressed partition images saved before
// the switch to DataDog/zstd (libzstd) were written by klauspost/compress's
// encoder at SpeedFastest on every CPU; they still read back byte for byte.
func TestImagesOfEarlierVersions(t *testing.T) {
	t.Parallel()
	content := make([]byte, 9<<20)
	rand.Read(content[:2<<20]) // random, then zeros: both kinds of block
	var z bytes.Buffer
	enc, err := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(content)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "old.img")
	if err := os.WriteFile(img, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := Open(img, &Sidecar{Compression: Zstd, Size: int64(len(content))})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("read back %d bytes (err %v), want the %d saved", len(got), err, len(content))
	}
}
