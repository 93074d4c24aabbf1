package vdev_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

// blkid runs blkid -p on a byte range and returns its KEY=value pairs.
func blkid(t *testing.T, path string, off, size int64) map[string]string {
	t.Helper()
	kv, err := fixtures.BlkidProbe(path, off, size)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// zpoolImportList parses `zpool import -d DIR` for the pool's id and state.
func zpoolImportList(t *testing.T, dir string) (name, id string) {
	t.Helper()
	// zfs-fuse's daemon sometimes fails a listing (exit 1, no message)
	// while other tests create and destroy pools on it: ask again.
	var out string
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if out, err = fixtures.ZPool("import", "-d", dir); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "pool:" {
			name = f[1]
		}
		if len(f) == 2 && f[0] == "id:" {
			id = f[1]
		}
	}
	return name, id
}

func readMember(t *testing.T, path string, off, size int64) *vdev.Member {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := vdev.ReadLabels(io.NewSectionReader(f, off, size), size)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func checkAgainstTools(t *testing.T, m *vdev.Member, version int, bk map[string]string, name, id string) {
	t.Helper()
	c := m.Config
	got := map[string]string{
		"TYPE": "zfs_member", "LABEL": c.Name, "UUID": fmt.Sprint(c.PoolGUID), "UUID_SUB": fmt.Sprint(c.GUID),
		"VERSION": fmt.Sprint(c.Version), "BLOCK_SIZE": fmt.Sprint(1 << c.Tree.Ashift),
	}
	for k, v := range got {
		if bk[k] != v {
			t.Errorf("%s: ours %q, blkid -p %q", k, v, bk[k])
		}
	}
	if c.Name != name || fmt.Sprint(c.PoolGUID) != id {
		t.Errorf("pool %s id %d, zpool import says %s id %s", c.Name, c.PoolGUID, name, id)
	}
	if c.Version != uint64(version) || c.State != vdev.StateExported {
		t.Errorf("version %d state %d, want %d exported", c.Version, c.State, version)
	}
	if v := m.ValidLabels(); len(v) != 4 {
		t.Errorf("valid labels %v, want all four", v)
	}
	if m.Best.TXG == 0 || m.Best.TXG != c.TXG || m.Best.Version != uint64(version) || m.Best.Timestamp < 1700000000 {
		t.Errorf("best uberblock %+v for label txg %d", m.Best, c.TXG)
	}
	if len(m.Conflict) != 0 {
		t.Errorf("conflicts %v", m.Conflict)
	}
}

// TestReadLabelsRealPools reads exported zfs-fuse pools as file vdevs, in an
// MBR 0xBF partition's VTOC slice and in a GPT ZFS partition, and checks
// every decoded field against blkid -p and zpool import -d.
func TestReadLabelsRealPools(t *testing.T) {
	t.Parallel()
	needPools(t)
	for _, v := range poolVersions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			p := realPools[v]
			name, id := zpoolImportList(t, filepath.Dir(p.Vdev))
			st, err := os.Stat(p.Vdev)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("file", func(t *testing.T) {
				m := readMember(t, p.Vdev, 0, st.Size())
				checkAgainstTools(t, m, v, blkid(t, p.Vdev, 0, st.Size()), name, id)
			})
			for kind, build := range map[string]func(string, string) (*fixtures.ZFSDisk, error){"mbr": fixtures.ZFSDiskMBR, "gpt": fixtures.ZFSDiskGPT} {
				t.Run(kind, func(t *testing.T) {
					d, err := build(filepath.Join(t.TempDir(), kind+".img"), p.Vdev)
					if err != nil {
						t.Fatal(err)
					}
					m := readMember(t, d.Path, d.VdevOffset, d.VdevSize)
					checkAgainstTools(t, m, v, blkid(t, d.Path, d.VdevOffset, d.VdevSize), name, id)
				})
			}
		})
	}
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedLabels flips one byte in the nvlist of single labels: that label
// fails its checksum with a message naming it, and the others still answer.
func TestDamagedLabels(t *testing.T) {
	t.Parallel()
	needPools(t)
	src := realPools[23].Vdev
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	for l := range 4 {
		t.Run(fmt.Sprintf("label%d", l), func(t *testing.T) {
			img := copyFile(t, src)
			off := vdev.LabelOffset(l, st.Size()) + 16<<10 + 40 // inside the pool name
			flip(t, img, off)
			m := readMember(t, img, 0, st.Size())
			want := fmt.Sprintf("label %d nvlist at offset %d: checksum mismatch: malformed", l, vdev.LabelOffset(l, st.Size())+16<<10)
			if e := m.Labels[l].Err; e == nil || e.Error() != want {
				t.Errorf("label %d error %v, want %q", l, e, want)
			}
			if got := m.ValidLabels(); len(got) != 3 {
				t.Errorf("valid labels %v, want the other three", got)
			}
			if !strings.HasPrefix(m.Config.Name, "xszfs") {
				t.Errorf("pool name %q", m.Config.Name)
			}
		})
	}
	t.Run("all", func(t *testing.T) {
		img := copyFile(t, src)
		for l := range 4 {
			flip(t, img, vdev.LabelOffset(l, st.Size())+16<<10+40)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = vdev.ReadLabels(f, st.Size())
		if !errors.Is(err, vdev.ErrNoLabel) || !strings.Contains(err.Error(), "label 3 nvlist at offset") {
			t.Errorf("err = %v, want ErrNoLabel naming each label", err)
		}
	})
}

// TestVerdicts covers versions zfs-fuse cannot make, on hand-built labels
// with valid checksums in both byte orders.
func TestVerdicts(t *testing.T) {
	t.Parallel()
	base := fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 1234567890123456789, GUID: 987654321, TXG: 4711,
		Hostname: "sol11", Ashift: 9, Timestamp: 1300000000}
	tests := []struct {
		name       string
		edit       func(*fixtures.ZFSLabelSpec)
		local      uint64
		wantImport string
		force      bool
		wantCmd    string
	}{
		{"v14 exported", func(s *fixtures.ZFSLabelSpec) { s.Version, s.State, s.HostID = 14, 1, 0x1234 }, 0, "openzfs", false,
			"zpool import -o readonly=on -N -R /mnt -d /dev/sdb1 1234567890123456789"},
		{"v22 active foreign host", func(s *fixtures.ZFSLabelSpec) { s.Version, s.State, s.HostID = 22, 0, 0x8e3a2f1 }, 0x1, "openzfs", true,
			"zpool import -o readonly=on -N -R /mnt -d /dev/sdb1 -f 1234567890123456789"},
		{"v22 active same host", func(s *fixtures.ZFSLabelSpec) { s.Version, s.State, s.HostID = 22, 0, 0x42 }, 0x42, "openzfs", false,
			"zpool import -o readonly=on -N -R /mnt -d /dev/sdb1 1234567890123456789"},
		{"v28 destroyed", func(s *fixtures.ZFSLabelSpec) { s.Version, s.State = 28, 2 }, 0, "openzfs", false,
			"zpool import -o readonly=on -N -R /mnt -d /dev/sdb1 -D 1234567890123456789"},
		{"v29 oracle", func(s *fixtures.ZFSLabelSpec) { s.Version = 29 }, 0, "oracle-only", false, ""},
		{"v31 express sparc", func(s *fixtures.ZFSLabelSpec) { s.Version, s.BigEndian = 31, true }, 0, "oracle-only", false, ""},
		{"v37 s11.3 4k", func(s *fixtures.ZFSLabelSpec) { s.Version, s.Ashift = 37, 12 }, 0, "oracle-only", false, ""},
		{"v5000 features", func(s *fixtures.ZFSLabelSpec) {
			s.Version, s.State = 5000, 1
			s.FeaturesForRead = []string{"com.delphix:hole_birth", "org.open-zfs:large_blocks"}
		}, 0, "check-features", false, "zpool import -o readonly=on -N -R /mnt -d /dev/sdb1 1234567890123456789"},
		{"spare", func(s *fixtures.ZFSLabelSpec) { s.Version, s.State, s.TXG = 22, 3, 0 }, 0, "not-a-pool", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			tc.edit(&spec)
			img := filepath.Join(t.TempDir(), "vdev")
			if err := fixtures.FakeZFSVdev(img, 64<<20+100<<10, spec); err != nil {
				t.Fatal(err)
			}
			m := readMember(t, img, 0, 64<<20+100<<10)
			if got := m.ValidLabels(); len(got) != 4 {
				t.Fatalf("valid labels %v, errors %v %v %v %v", got, m.Labels[0].Err, m.Labels[1].Err, m.Labels[2].Err, m.Labels[3].Err)
			}
			if spec.TXG != 0 && (m.Best.TXG != spec.TXG || m.Best.Timestamp != spec.Timestamp || m.Best.BigEndian != spec.BigEndian) {
				t.Errorf("uberblock %+v", m.Best)
			}
			v := vdev.Judge(m, tc.local, vdev.DeviceArg("/dev/sdb1", 0, 0))
			if v.Import != tc.wantImport || v.NeedsForce != tc.force || v.Command != tc.wantCmd {
				t.Errorf("verdict %+v, want %s force=%v %q", v, tc.wantImport, tc.force, tc.wantCmd)
			}
			if tc.wantImport == "oracle-only" && !strings.Contains(v.Advice, "use Solaris media") {
				t.Errorf("advice %q", v.Advice)
			}
			if tc.wantImport == "check-features" && !strings.Contains(v.Advice, "org.open-zfs:large_blocks") {
				t.Errorf("advice %q", v.Advice)
			}
		})
	}
}

func TestDeviceArg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path      string
		off, size int64
		want      string
	}{
		{"/dev/sdb1", 0, 0, "/dev/sdb1"},
		{"/tmp/my disk.img", 0, 0, "'/tmp/my disk.img'"},
		{"/tmp/d.img", 2097152, 134217728, `"$(losetup --read-only --find --show --offset 2097152 --sizelimit 134217728 /tmp/d.img)"`},
	} {
		if got := vdev.DeviceArg(tc.path, tc.off, tc.size); got != tc.want {
			t.Errorf("DeviceArg(%q) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestReadLabelsTooSmall(t *testing.T) {
	t.Parallel()
	_, err := vdev.ReadLabels(strings.NewReader("x"), 1<<20)
	if !errors.Is(err, vdev.ErrNoLabel) {
		t.Fatalf("err = %v", err)
	}
}

func TestHasLabelHeader(t *testing.T) {
	t.Parallel()
	img := filepath.Join(t.TempDir(), "vdev")
	if err := fixtures.FakeZFSVdev(img, 64<<20, fixtures.ZFSLabelSpec{Pool: "p", PoolGUID: 1, GUID: 2, Version: 22, TXG: 3, Ashift: 9}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !vdev.HasLabelHeader(f, 64<<20) {
		t.Error("fake vdev not recognised")
	}
	// Only label 3 left (0-2 wiped): still worth a full read.
	w, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for l := range 3 {
		if _, err := w.WriteAt(make([]byte, vdev.LabelSize), vdev.LabelOffset(l, 64<<20)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if !vdev.HasLabelHeader(f, 64<<20) {
		t.Error("label 3 alone not recognised")
	}
	if m, err := vdev.ReadLabels(f, 64<<20); err != nil || fmt.Sprint(m.ValidLabels()) != "[3]" {
		t.Errorf("ReadLabels with only label 3: %v %v", m, err)
	}
	if vdev.HasLabelHeader(strings.NewReader(strings.Repeat("\x00", 1<<20)), 64<<20) || vdev.HasLabelHeader(f, 1<<20) {
		t.Error("zeros / small device recognised")
	}
}

// TestTruncatedCopy cuts a real vdev short: the member still names its
// pool from labels 0 and 1, says how many bytes are missing, and is not
// called importable.
func TestTruncatedCopy(t *testing.T) {
	t.Parallel()
	needPools(t)
	src := realPools[23].Vdev
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	full := readMember(t, src, 0, st.Size())
	if full.Short() != 0 || full.Needed != st.Size() {
		t.Fatalf("whole vdev: needed %d short %d, want needed %d (zfs-fuse file vdev: asize + 4.5 MiB)", full.Needed, full.Short(), st.Size())
	}
	if v := vdev.Judge(full, 0, "x"); v.Import != vdev.ImportOpenZFS {
		t.Fatalf("whole vdev: verdict %+v", v)
	}
	for _, n := range []int64{100 << 20, 300000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(t.TempDir(), "t.img")
			if err := os.WriteFile(img, b[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			m := readMember(t, img, 0, n)
			if !strings.HasPrefix(m.Config.Name, "xszfs") {
				t.Errorf("pool %q", m.Config.Name)
			}
			if want := st.Size() - n; m.Short() != want {
				t.Errorf("short %d, want %d", m.Short(), want)
			}
			if m.Labels[0].Err != nil {
				t.Errorf("label 0: %v", m.Labels[0].Err)
			}
			for l := 2; l < 4; l++ {
				if m.Labels[l].Err == nil {
					t.Errorf("label %d valid on a truncated copy", l)
				}
			}
			v := vdev.Judge(m, 0, "x")
			if v.Import != vdev.ImportTruncated || v.Command != "" || !strings.Contains(v.Advice, fmt.Sprintf("%d bytes short", m.Short())) {
				t.Errorf("verdict %+v", v)
			}
		})
	}
}

// TestFuseCommandImports runs the zfs-fuse import the report prints (with
// its fixed /tmp/zcopy and /mnt moved to temporary directories) and checks
// the pool comes up while the original vdev keeps every byte.
func TestFuseCommandImports(t *testing.T) {
	t.Parallel()
	needPools(t)
	p := realPools[22]
	st, err := os.Stat(p.Vdev)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(p.Vdev)
	if err != nil {
		t.Fatal(err)
	}
	m := readMember(t, p.Vdev, 0, st.Size())
	r := vdev.Report(m, p.Vdev, vdev.Extent{Slice: -1, Size: st.Size()}, 0)
	if r.CommandZFSFuse == "" || !strings.Contains(r.Command, "readonly=on") {
		t.Fatalf("commands %q / %q", r.Command, r.CommandZFSFuse)
	}
	tmp := t.TempDir()
	cmd := strings.ReplaceAll(r.CommandZFSFuse, "/tmp/zcopy", filepath.Join(tmp, "zcopy"))
	cmd = strings.ReplaceAll(cmd, "-R /mnt", "-R "+filepath.Join(tmp, "mnt"))
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	t.Cleanup(func() { fixtures.ZPool("export", "-f", p.Name) })
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	if got, err := fixtures.ZPool("list", "-H", "-o", "name,altroot", p.Name); err != nil || !strings.Contains(got, filepath.Join(tmp, "mnt")) {
		t.Errorf("zpool list: %q %v", got, err)
	}
	if _, err := fixtures.ZPool("export", p.Name); err != nil {
		t.Error(err)
	}
	after, err := os.ReadFile(p.Vdev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the original vdev changed")
	}
}

// TestScanNoMember: bytes ZFS never wrote give one line naming what was read
// (the per-label reasons only in Details); a vdev whose four labels are all
// damaged still names each label and says "malformed".
func TestScanNoMember(t *testing.T) {
	t.Parallel()
	needPools(t)
	src := realPools[23].Vdev
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	zeros := filepath.Join(t.TempDir(), "zeros.img")
	if err := os.WriteFile(zeros, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(zeros, 3*st.Size()); err != nil {
		t.Fatal(err)
	}
	damaged := copyFile(t, src)
	for l := range 4 {
		flip(t, damaged, vdev.LabelOffset(l, st.Size())+16<<10+40)
	}
	// A "disk" whose partition 2 holds the damaged vdev.
	disk := filepath.Join(t.TempDir(), "disk.img")
	b, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(disk, append(make([]byte, st.Size()), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	parts := []vdev.Extent{{Slice: -1, Size: 3 * st.Size()}, {Partition: 1, Slice: -1, Size: st.Size()},
		{Partition: 2, Slice: -1, Offset: st.Size(), Size: st.Size()}, {Partition: 3, Slice: -1, Offset: 2 * st.Size(), Size: st.Size() / 2},
		{Partition: 5, Slice: -1, Offset: 2 * st.Size(), Size: st.Size() / 4}, {Partition: 5, Slice: 0, Offset: 2 * st.Size(), Size: st.Size() / 4}}
	for _, tc := range []struct {
		name, path string
		extents    []vdev.Extent
		notZFS     bool
		want       []string // the error's text is exactly want[0] when notZFS, else contains each
	}{
		{"whole device", zeros, parts[:1], true, []string{"no ZFS label on DEV"}},
		{"partitions", zeros, parts[:5], true, []string{"no ZFS label on DEV or on its partitions 1-3, 5"}},
		{"slices", zeros, parts, true, []string{"no ZFS label on DEV or on its partitions 1-3, 5 (VTOC slices included)"}},
		{"one partition", zeros, parts[1:2], true, []string{"no ZFS label on partition 1 of DEV"}},
		{"damaged", disk, parts[:3], false, []string{"no valid ZFS label on DEV or on its partitions 1-2: partition 2 at offset " + fmt.Sprint(st.Size()),
			"label 3 nvlist at offset", "checksum mismatch: malformed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = vdev.Scan(f, "DEV", tc.extents, 0)
			var serr *vdev.ScanError
			if !errors.As(err, &serr) || !errors.Is(err, vdev.ErrNoLabel) || errors.Is(err, vdev.ErrNotZFS) != tc.notZFS || serr.NotZFS != tc.notZFS {
				t.Fatalf("err = %#v", err)
			}
			if len(serr.Details) != len(tc.extents) {
				t.Errorf("details %q: want one per extent", serr.Details)
			}
			if tc.notZFS {
				if err.Error() != tc.want[0] || strings.Contains(err.Error(), "malformed") {
					t.Errorf("err = %q, want %q", err, tc.want[0])
				}
				if !strings.Contains(serr.Details[0], "label 0 nvlist at offset 16384: no checksum magic (not a ZFS label)") {
					t.Errorf("details %q", serr.Details)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "partition 1 at offset") {
				t.Errorf("err = %q names the extent that never was ZFS", err)
			}
		})
	}
}
