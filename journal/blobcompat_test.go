package journal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestBlobsOfEarlierVersions: journals written before the switch to
// DataDog/zstd (libzstd) hold blobs that klauspost/compress's encoder wrote,
// with the settings putBlob had then. They must still read back
// (journal undo of an op taken by an older xsrescue), byte for byte.
func TestBlobsOfEarlierVersions(t *testing.T) {
	t.Parallel()
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	random := make([]byte, 3<<20+123) // crosses the 1 MiB row size
	rand.Read(random)
	for name, content := range map[string][]byte{
		"empty":  {},
		"text":   []byte("PRODUCT_VERSION='5.5.0'\nBUILD_NUMBER='15119p'\n"),
		"zeros":  make([]byte, 5<<20),
		"random": random,
	} {
		h := sha256.Sum256(content)
		sum := hex.EncodeToString(h[:])
		var z bytes.Buffer
		enc, err := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		enc.Write(content)
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		tx, err := j.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO blobs (sha256, size, stored) VALUES (?, ?, ?)", sum, len(content), z.Len()); err != nil {
			t.Fatal(err)
		}
		cw := &chunkWriter{tx: tx, sum: sum}
		cw.Write(z.Bytes())
		if err := cw.flush(); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		r, err := j.openBlob(context.Background(), sum)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: read back %d bytes (err %v), want the %d stored", name, len(got), err, len(content))
		}
	}
}
