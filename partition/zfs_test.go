package partition_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/partition"
)

// TestSolarisVTOC: a Solaris 10 (v22, Oracle-era label keys) root pool in
// slice 0 of the VTOC of an MBR 0xBF partition; the backup slice s2 that
// overlaps everything is not listed, slice 8 (boot) is.
func TestSolarisVTOC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vdev := filepath.Join(dir, "vdev")
	if err := fixtures.FakeZFSVdev(vdev, 64<<20, fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 9174564727871070888, GUID: 10567820611064749580,
		Version: 22, State: 1, TXG: 77, Hostname: "sol10", Ashift: 9, Timestamp: 1280000000}); err != nil {
		t.Fatal(err)
	}
	disk, err := fixtures.ZFSDiskMBR(filepath.Join(dir, "disk.img"), vdev)
	if err != nil {
		t.Fatal(err)
	}
	d := inspectFile(t, disk.Path)
	p := d.Partition(1)
	if p == nil || p.Type != "bf" {
		t.Fatalf("partitions %+v", d.Partitions)
	}
	if len(p.Slices) != 2 || p.Slices[0].Number != 0 || p.Slices[0].Start != disk.VdevOffset || p.Slices[0].Size != disk.VdevSize || p.Slices[1].Number != 8 {
		t.Fatalf("slices %+v", p.Slices)
	}
	z := p.ZFS
	if z == nil || z.Pool != "rpool" || z.PoolGUID != "9174564727871070888" || z.GUID != "10567820611064749580" || z.Version != 22 ||
		z.State != "exported" || len(z.ValidLabels) != 4 || z.Import != "openzfs" || z.Slice == nil || *z.Slice != 0 {
		t.Fatalf("zfs %+v", z)
	}
	if p.FS != "zfs" || p.Label != "rpool" || p.UUID != "9174564727871070888" || p.Slices[1].ZFS != nil {
		t.Errorf("partition fs %q label %q uuid %q, slice 8 zfs %+v", p.FS, p.Label, p.UUID, p.Slices[1].ZFS)
	}
	if len(d.Warnings) != 0 {
		t.Errorf("warnings %q", d.Warnings)
	}
}

// TestSolarisTypeWithoutVTOC: type 82 is Linux swap too; no VTOC, no slices.
func TestSolarisTypeWithoutVTOC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vdev := filepath.Join(dir, "vdev")
	if err := os.WriteFile(vdev, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	disk, err := fixtures.ZFSDiskMBR(filepath.Join(dir, "disk.img"), vdev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(disk.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 512), disk.PartitionOffset+512); err != nil { // wipe the VTOC
		t.Fatal(err)
	}
	f.Close()
	p := inspectFile(t, disk.Path).Partition(1)
	if p.Slices != nil || p.ZFS != nil || p.FS != "" {
		t.Errorf("%+v", p)
	}
}

// TestZFSPartitionsRealPools: zfs-fuse pools of versions 14 and 23 in a GPT
// ZFS partition and in an MBR 0xBF VTOC slice; the fields equal blkid -p.
func TestZFSPartitionsRealPools(t *testing.T) {
	t.Parallel()
	if err := fixtures.EnsureZFSFuse(); errors.Is(err, fixtures.ErrNoZFS) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{14, 23} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			dir := t.TempDir()
			p, err := fixtures.NewZFSPool(dir, fmt.Sprintf("xszfsp%dv%d", os.Getpid(), v), v, 128<<20)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := p.Destroy(); err != nil {
					t.Error(err)
				}
			})
			if err := p.Export(); err != nil {
				t.Fatal(err)
			}
			for kind, build := range map[string]func(string, string) (*fixtures.ZFSDisk, error){"gpt": fixtures.ZFSDiskGPT, "mbr": fixtures.ZFSDiskMBR} {
				disk, err := build(filepath.Join(dir, kind+".img"), p.Vdev)
				if err != nil {
					t.Fatal(err)
				}
				part := inspectFile(t, disk.Path).Partition(1)
				bk, err := fixtures.BlkidProbe(disk.Path, disk.VdevOffset, disk.VdevSize)
				if err != nil {
					t.Fatal(err)
				}
				z := part.ZFS
				if z == nil || part.FS != "zfs" || z.Pool != bk["LABEL"] || z.PoolGUID != bk["UUID"] || z.GUID != bk["UUID_SUB"] || fmt.Sprint(z.Version) != bk["VERSION"] {
					t.Errorf("%s: partition %+v zfs %+v, blkid -p %v", kind, part, z, bk)
				}
				if kind == "gpt" && (z == nil || z.Slice != nil || !strings.EqualFold(part.Type, "6A898CC3-1DD2-11B2-99A6-080020736631")) {
					t.Errorf("gpt: type %s zfs %+v", part.Type, z)
				}
			}
		})
	}
}

// FuzzVTOC feeds arbitrary bytes as the VTOC sector of a Solaris MBR
// partition (in front of a real label set in slice 0).
func FuzzVTOC(f *testing.F) {
	dir := f.TempDir()
	vdev := filepath.Join(dir, "vdev")
	if err := fixtures.FakeZFSVdev(vdev, 64<<20, fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 1, GUID: 2, Version: 22, State: 1, TXG: 3, Ashift: 9}); err != nil {
		f.Fatal(err)
	}
	disk, err := fixtures.ZFSDiskMBR(filepath.Join(dir, "disk.img"), vdev)
	if err != nil {
		f.Fatal(err)
	}
	img, err := os.Open(disk.Path)
	if err != nil {
		f.Fatal(err)
	}
	defer img.Close()
	st, err := img.Stat()
	if err != nil {
		f.Fatal(err)
	}
	at := disk.PartitionOffset + 512
	orig := make([]byte, 512)
	if _, err := img.ReadAt(orig, at); err != nil {
		f.Fatal(err)
	}
	f.Add(orig)
	f.Add(fixtures.VTOC([]fixtures.VTOCSlice{{Tag: 2, Start: 0xffffffff, Size: 0xffffffff}}))
	f.Add(fixtures.VTOC(nil))
	f.Fuzz(func(t *testing.T, sector []byte) {
		patch := append([]byte(nil), orig...)
		copy(patch, sector)
		d, err := partition.Inspect(overlay{img, at, patch}, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		p := d.Partition(1)
		if p == nil {
			t.Fatal("partition 1 lost")
		}
		for _, s := range p.Slices {
			if s.Start < p.Start || s.Start+s.Size > p.End() || s.Size == 0 || s.Tag == 5 {
				t.Fatalf("slice %+v outside partition %d-%d", s, p.Start, p.End())
			}
		}
	})
}

// overlay reads r with patch in place of the bytes at offset at.
type overlay struct {
	r     io.ReaderAt
	at    int64
	patch []byte
}

func (o overlay) ReadAt(p []byte, off int64) (int, error) {
	n, err := o.r.ReadAt(p, off)
	for i := range p[:n] {
		if j := off + int64(i) - o.at; j >= 0 && j < int64(len(o.patch)) {
			p[i] = o.patch[j]
		}
	}
	return n, err
}
