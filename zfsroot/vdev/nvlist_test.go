package vdev_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

func TestDecodeNVListTypes(t *testing.T) {
	t.Parallel()
	nv := fixtures.NVOf(
		"u64", uint64(1<<40),
		"i64", int64(-5),
		"u32", uint32(7),
		"s", "hello",
		"b", true,
		"flag", fixtures.NVBoolean{},
		"bytes", []byte{1, 2, 3},
		"u64s", []uint64{1, 2},
		"strs", []string{"a", "bc"},
		"future", fixtures.RawNVPair{Type: 99, Nelem: 1, Payload: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		"sub", fixtures.NVOf("x", uint64(3)),
		"arr", []fixtures.NV{fixtures.NVOf("y", "1"), {}},
		"after", "still read",
	)
	l, err := vdev.DecodeNVList(fixtures.PackNV(nv))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, p := range l.Pairs {
		got[p.Name] = p.Value
	}
	want := map[string]any{
		"u64": uint64(1 << 40), "i64": int64(-5), "u32": uint64(7), "s": "hello", "b": true, "flag": true,
		"bytes": []byte{1, 2, 3}, "u64s": []uint64{1, 2}, "strs": []string{"a", "bc"}, "future": nil,
		"sub":   &vdev.NVList{Pairs: []vdev.Pair{{Name: "x", Type: vdev.TypeUint64, Value: uint64(3)}}},
		"arr":   []*vdev.NVList{{Pairs: []vdev.Pair{{Name: "y", Type: vdev.TypeString, Value: "1"}}}, {}},
		"after": "still read",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func deep(n int) fixtures.NV {
	nv := fixtures.NVOf("leaf", uint64(1))
	for range n {
		nv = fixtures.NVOf("n", nv)
	}
	return nv
}

// TestDecodeNVListBroken: every damaged input is a clean error with an offset.
func TestDecodeNVListBroken(t *testing.T) {
	t.Parallel()
	good := fixtures.PackNV(fixtures.NVOf("name", "rpool", "version", uint64(22)))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "nvlist offset 0: 0 bytes, need a 4-byte header"},
		{"native encoding", append([]byte{0}, good[1:]...), "nvlist offset 0: encoding 0, want 1 (XDR)"},
		{"bad endian", append([]byte{1, 7}, good[2:]...), "nvlist offset 1: endian byte 7"},
		{"truncated header", good[:6], "nvlist offset 4: truncated (need 4 bytes, 2 left)"},
		{"truncated pair", good[:20], "nvlist offset 12: pair size"},
		{"no terminator", good[:len(good)-8], "nvlist offset"},
		{"bad version", func() []byte { b := append([]byte(nil), good...); b[7] = 1; return b }(), "nvlist offset 4: nvlist version 1, want 0"},
		{"absurd pair size", func() []byte { b := append([]byte(nil), good...); b[12] = 0x7f; return b }(), "nvlist offset 12: pair size"},
		{"absurd string", fixtures.PackNV(fixtures.NVOf("s", fixtures.RawNVPair{Type: 9, Nelem: 1, Payload: []byte{0xff, 0xff, 0xff, 0xf0}})), "length 4294967280 exceeds"},
		{"absurd array", fixtures.PackNV(fixtures.NVOf("a", fixtures.RawNVPair{Type: 16, Nelem: 1 << 30, Payload: []byte{0x40, 0, 0, 0}})), "1073741824 elements of 8 bytes cannot fit"},
		{"absurd nvlist array", fixtures.PackNV(fixtures.NVOf("a", fixtures.RawNVPair{Type: 20, Nelem: 1 << 31})), "2147483648 nvlists cannot fit"},
		{"count mismatch", fixtures.PackNV(fixtures.NVOf("a", fixtures.RawNVPair{Type: 14, Nelem: 2, Payload: []byte{0, 0, 0, 1, 0, 0, 0, 9}})), "array count 1, pair says 2 elements"},
		{"deep nesting", fixtures.PackNV(deep(30)), "nested deeper than 20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := vdev.DecodeNVList(tc.in)
			if err == nil || !errors.Is(err, vdev.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
	if _, err := vdev.DecodeNVList(fixtures.PackNV(deep(19))); err != nil {
		t.Errorf("19 levels: %v", err)
	}
}

func FuzzNvlist(f *testing.F) {
	f.Add(fixtures.PackNV(fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 1, GUID: 2, Version: 22, TXG: 9, Ashift: 9}.NV()))
	f.Add(fixtures.PackNV(deep(25)))
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := vdev.DecodeNVList(b)
		if err == nil && l == nil {
			t.Fatal("nil list without error")
		}
		if err != nil && !errors.Is(err, vdev.ErrMalformed) {
			t.Fatalf("error not marked malformed: %v", err)
		}
	})
}

// FuzzReadLabels feeds a label area (the first 512 KiB of a vdev, mirrored
// at the end) with arbitrary bytes in the nvlist block and in the uberblock
// slot; with seal set, the checksums are recomputed so that the decoder and
// the validity rules behind them are reached.
func FuzzReadLabels(f *testing.F) {
	img := f.TempDir() + "/vdev"
	if err := fixtures.FakeZFSVdev(img, 64<<20, fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 1, GUID: 2, Version: 22, TXG: 9, Ashift: 9, Timestamp: 5}); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[16<<10:20<<10], b[128<<10+9<<10:128<<10+10<<10], true)
	f.Add(b[16<<10:20<<10], b[128<<10+9<<10:128<<10+10<<10], false)
	f.Add(fixtures.PackNV(fixtures.NVOf("guid", uint64(3), "txg", uint64(0), "state", uint64(9))), []byte{}, true)
	f.Add([]byte{}, []byte{0x0c, 0xb1, 0xba, 0}, true)
	f.Fuzz(func(t *testing.T, nv, ub []byte, seal bool) {
		buf := append([]byte(nil), b[:512<<10]...)
		for _, l := range []int64{0, 256 << 10} {
			block := buf[l+16<<10 : l+128<<10]
			copy(block[:len(block)-40], nv)
			slot := buf[l+128<<10+9<<10 : l+128<<10+10<<10]
			copy(slot[:len(slot)-40], ub)
			if seal {
				// Labels 2 and 3 mirror 0 and 1 at the end of the vdev.
				fixtures.SealZFSBlock(block, uint64(l+16<<10), binary.LittleEndian)
				fixtures.SealZFSBlock(slot, uint64(l+128<<10+9<<10), binary.LittleEndian)
			}
		}
		r := &mirrored{head: buf, size: 64 << 20}
		m, err := vdev.ReadLabels(r, r.size)
		if err != nil && !errors.Is(err, vdev.ErrNoLabel) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil {
			if m.Config == nil || m.Config.GUID == 0 {
				t.Fatal("member without a valid config")
			}
			vdev.Report(m, "/dev/x", vdev.Extent{Slice: -1, Size: r.size}, 0)
		}
		// The same labels on a copy cut to 300,000 bytes (label 0 only).
		if m, err := vdev.ReadLabels(bytes.NewReader(buf[:300000]), 300000); err == nil {
			if m.Config == nil || m.Labels[2].Err == nil {
				t.Fatalf("truncated copy: %+v", m)
			}
			vdev.Report(m, "/dev/x", vdev.Extent{Slice: -1, Size: 300000}, 0)
		} else if !errors.Is(err, vdev.ErrNoLabel) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// mirrored is a sparse vdev whose last 512 KiB repeat the first (labels 2
// and 3 are copies of 0 and 1) and which is zero elsewhere.
type mirrored struct {
	head []byte
	size int64
}

func (m *mirrored) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	h := int64(len(m.head))
	if off < h {
		copy(p, m.head[off:])
	}
	if tail := m.size - h; off+int64(len(p)) > tail {
		start := max(off, tail)
		copy(p[start-off:], m.head[start-tail:])
	}
	return len(p), nil
}
