package vdev_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

var benchSpec = fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 1234567890123456789, GUID: 987654321, Version: 22, TXG: 4711,
	HostID: 0x8e3a2f1, Hostname: "sol10", Ashift: 9, Timestamp: 1300000000}

func BenchmarkDecodeNVList(b *testing.B) {
	packed := fixtures.PackNV(benchSpec.NV())
	b.SetBytes(int64(len(packed)))
	for b.Loop() {
		if _, err := vdev.DecodeNVList(packed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadLabels: four labels, checksums and 4×128 uberblock slots of
// a 64 MiB vdev (ashift 9: 1 KiB slots, the most slots to verify).
func BenchmarkReadLabels(b *testing.B) {
	img := filepath.Join(b.TempDir(), "vdev")
	if err := fixtures.FakeZFSVdev(img, 64<<20, benchSpec); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(4 * vdev.LabelSize)
	for b.Loop() {
		if _, err := vdev.ReadLabels(f, 64<<20); err != nil {
			b.Fatal(err)
		}
	}
}
