package odm_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/odm"
	"github.com/xsrescue/xsrescue/target"
)

// BenchmarkReadCuAt streams a 100,000-object CuAt dump (MB/s is the figure;
// scripts/bench/odm.sh does 1,000,000 objects through the binary).
func BenchmarkReadCuAt(b *testing.B) {
	var dump bytes.Buffer
	if err := fixtures.WriteAIXCuAt(&dump, 100_000); err != nil {
		b.Fatal(err)
	}
	in := dump.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd := odm.NewReader(bytes.NewReader(in), "CuAt")
		n := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d objects", n)
		}
	}
}

// BenchmarkScanDev scans a dev/ of 100,000 special files.
func BenchmarkScanDev(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: mknod")
	}
	dir := b.TempDir()
	if err := fixtures.MakeAIXDev(filepath.Join(dir, "dev"), 100_000); err != nil {
		b.Fatal(err)
	}
	root, err := target.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	b.ResetTimer()
	for b.Loop() {
		nodes, err := odm.ScanDev(root, "dev")
		if err != nil {
			b.Fatal(err)
		}
		if len(nodes) != 100_000 {
			b.Fatalf("%d nodes", len(nodes))
		}
	}
}
