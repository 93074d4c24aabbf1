package partition_test

import (
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partition"
)

// countingReader counts what Inspect reads.
type countingReader struct {
	r            io.ReaderAt
	bytes, calls atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

func benchDisk(b *testing.B) (string, int64) {
	b.Helper()
	testutil.NeedTools(b, "mke2fs", "mkswap", "mkfs.vfat", "debugfs")
	s := fixtures.XS70New().Grow(2 << 40)
	s.Name = "bench-2tib"
	img, err := fixtures.BuildDisk(b.TempDir(), s)
	if err != nil {
		b.Fatal(err)
	}
	return img, s.Size
}

// BenchmarkInspect2TiB: tables and signature probes of a 2 TiB sparse 7.0
// new-layout disk; reports the bytes read per inspection (target < 4 MiB).
func BenchmarkInspect2TiB(b *testing.B) {
	img, size := benchDisk(b)
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	c := &countingReader{r: f}
	b.ResetTimer()
	for b.Loop() {
		if _, err := partition.Inspect(c, size); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.bytes.Load())/float64(b.N), "bytes-read/op")
	b.ReportMetric(float64(c.calls.Load())/float64(b.N), "reads/op")
}

// BenchmarkInspectWithMarkers adds the in-process reads of the root's and
// backup's inventory and marker (what `disk inspect` does).
func BenchmarkInspectWithMarkers(b *testing.B) {
	img, size := benchDisk(b)
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	c := &countingReader{r: f}
	b.ResetTimer()
	for b.Loop() {
		d, err := partition.Inspect(c, size)
		if err != nil {
			b.Fatal(err)
		}
		d.ReadMarkers(c)
		if d.XenServer.Inventory == nil {
			b.Fatal("inventory not read")
		}
	}
	b.ReportMetric(float64(c.bytes.Load())/float64(b.N), "bytes-read/op")
	b.ReportMetric(float64(c.calls.Load())/float64(b.N), "reads/op")
}
