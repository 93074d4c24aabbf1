package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

// zfsPool makes an exported zfs-fuse pool of the given version for one
// test, destroyed when the test ends (also on failure).
func zfsPool(t *testing.T, version int, export bool) *fixtures.ZFSPool {
	t.Helper()
	if err := fixtures.EnsureZFSFuse(); errors.Is(err, fixtures.ErrNoZFS) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("xszfsc%d%s", os.Getpid(), strings.NewReplacer("/", "", "_", "").Replace(t.Name()))
	p, err := fixtures.NewZFSPool(t.TempDir(), name, version, 128<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Destroy(); err != nil {
			t.Error(err)
		}
	})
	if export {
		if err := p.Export(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func blkidProbe(t *testing.T, path string, off, size int64) map[string]string {
	t.Helper()
	kv, err := fixtures.BlkidProbe(path, off, size)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestZFSLabelsCLI runs `zfs labels --json` on real zfs-fuse pools as a
// file, inside a GPT ZFS partition and inside a Solaris MBR partition's VTOC
// slice, compares with blkid -p and zpool import -d, and proves nothing
// was written.
func TestZFSLabelsCLI(t *testing.T) {
	for _, v := range []int{14, 22, 23} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			p := zfsPool(t, v, true)
			out, err := fixtures.ZPool("import", "-d", filepath.Dir(p.Vdev))
			if err != nil || !strings.Contains(out, "pool: "+p.Name) {
				t.Fatalf("zpool import -d: %v\n%s", err, out)
			}
			var zpoolID string
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] == "id:" {
					zpoolID = f[1]
				}
			}
			gpt, err := fixtures.ZFSDiskGPT(filepath.Join(t.TempDir(), "gpt.img"), p.Vdev)
			if err != nil {
				t.Fatal(err)
			}
			mbr, err := fixtures.ZFSDiskMBR(filepath.Join(t.TempDir(), "mbr.img"), p.Vdev)
			if err != nil {
				t.Fatal(err)
			}
			// disk inspect shows the same member on the partition.
			for _, d := range []*fixtures.ZFSDisk{gpt, mbr} {
				code, stdout, stderr := runCLI("disk", "inspect", d.Path, "--json")
				var doc struct {
					Partitions []struct {
						Number          int
						FS, Label, UUID string
						ZFS             *struct {
							Pool, GUID string
							PoolGUID   string `json:"pool_guid"`
							Version    int
							Slice      *int
						}
					}
				}
				if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 {
					t.Fatalf("disk inspect: exit %d %v\n%s", code, err, stderr)
				}
				bk := blkidProbe(t, d.Path, d.VdevOffset, d.VdevSize)
				p := doc.Partitions[0]
				if p.ZFS == nil || p.Number != 1 || p.FS != "zfs" || p.ZFS.Pool != p.Label || p.ZFS.PoolGUID != zpoolID ||
					p.ZFS.GUID != bk["UUID_SUB"] || p.ZFS.Version != v || (p.ZFS.Slice != nil) != (d == mbr) {
					t.Errorf("disk inspect %s: %+v %+v", d.Path, p, p.ZFS)
				}
			}
			st, _ := os.Stat(p.Vdev)
			cases := []struct {
				name, path  string
				extra       []string
				off, size   int64
				part, slice int
			}{
				{"file", p.Vdev, nil, 0, st.Size(), 0, -1},
				{"gpt", gpt.Path, nil, gpt.VdevOffset, gpt.VdevSize, 1, -1},
				{"gpt --partition 1", gpt.Path, []string{"--partition", "1"}, gpt.VdevOffset, gpt.VdevSize, 1, -1},
				{"mbr vtoc", mbr.Path, nil, mbr.VdevOffset, mbr.VdevSize, 1, 0},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := testutil.FileSHA256(t, tc.path)
					code, stdout, stderr := runCLI(append([]string{"zfs", "labels", tc.path, "--json"}, tc.extra...)...)
					if code != 0 {
						t.Fatalf("exit %d: %s", code, stderr)
					}
					var r vdev.MemberReport
					if err := json.Unmarshal([]byte(stdout), &r); err != nil {
						t.Fatalf("%v\n%s", err, stdout)
					}
					bk := blkidProbe(t, tc.path, tc.off, tc.size)
					if r.Pool != bk["LABEL"] || r.PoolGUID != bk["UUID"] || r.GUID != bk["UUID_SUB"] || fmt.Sprint(r.Version) != bk["VERSION"] || bk["TYPE"] != "zfs_member" {
						t.Errorf("ours %s %s %s v%d, blkid -p %v", r.Pool, r.PoolGUID, r.GUID, r.Version, bk)
					}
					if r.Pool != p.Name || r.PoolGUID != zpoolID || r.State != "exported" || r.Offset != tc.off || r.Partition != tc.part {
						t.Errorf("report %+v, zpool import says %s id %s", r, p.Name, zpoolID)
					}
					if (r.Slice == nil) != (tc.slice < 0) || (r.Slice != nil && *r.Slice != tc.slice) {
						t.Errorf("slice %v, want %d", r.Slice, tc.slice)
					}
					if len(r.ValidLabels) != 4 || r.Import != "openzfs" || r.NeedsForce || r.Uberblock.TXG != r.TXG {
						t.Errorf("labels %v import %s force %v uberblock %+v", r.ValidLabels, r.Import, r.NeedsForce, r.Uberblock)
					}
					if !strings.HasPrefix(r.Command, "zpool import -o readonly=on -N -R /mnt -d ") || !strings.HasSuffix(r.Command, " "+zpoolID) {
						t.Errorf("command %q", r.Command)
					}
					if testutil.FileSHA256(t, tc.path) != before {
						t.Fatal("zfs labels changed its input")
					}
				})
			}
		})
	}
}

func TestZFSLabelsCLIVerdictsAndDamage(t *testing.T) {
	dir := t.TempDir()
	oracle := filepath.Join(dir, "s11.vdev")
	if err := fixtures.FakeZFSVdev(oracle, 64<<20, fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 42, GUID: 43, Version: 31, State: 0, TXG: 100,
		HostID: 0x8e3a2f1, Hostname: "express", Ashift: 9, Timestamp: 1290000000}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("zfs", "labels", oracle)
	if code != 0 || !strings.Contains(stdout, "import      oracle-only: pool version 31") || !strings.Contains(stdout, "use Solaris media") ||
		!strings.Contains(stdout, "uberblock   txg 100, 2010-11-17T13:20:00Z") || strings.Contains(stdout, "command ") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A flipped byte in label 2's nvlist: reported, and the other three answer.
	damaged := filepath.Join(dir, "damaged.vdev")
	spec := fixtures.ZFSLabelSpec{Pool: "tank", PoolGUID: 7, GUID: 8, Version: 22, State: 0, TXG: 9, HostID: 1, Hostname: "other", Ashift: 12, Timestamp: 1}
	if err := fixtures.FakeZFSVdev(damaged, 64<<20, spec); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(damaged, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := vdev.LabelOffset(2, 64<<20) + 16<<10 + 100
	if _, err := f.WriteAt([]byte{0xff}, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, stdout, _ = runCLI("zfs", "labels", damaged, "--json")
	var r vdev.MemberReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s", code, err, stdout)
	}
	if fmt.Sprint(r.ValidLabels) != "[0 1 3]" || r.Labels[2].Error != fmt.Sprintf("label 2 nvlist at offset %d: checksum mismatch: malformed", off-100) {
		t.Errorf("labels %v %+v", r.ValidLabels, r.Labels[2])
	}
	if !r.NeedsForce || !strings.Contains(r.Command, " -f 7") {
		t.Errorf("active on another host: force %v command %q", r.NeedsForce, r.Command)
	}
	// Not a pool member at all: exit 2 naming the reason.
	empty := filepath.Join(dir, "empty.img")
	if err := os.Truncate(damaged, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("zfs", "labels", empty)
	if code != 2 || stderr != "xsrescue: no ZFS label on "+empty+"\n" {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI("zfs", "labels", oracle, "--partition", "3"); code != 2 {
		t.Errorf("--partition on a disk without a table: exit %d %s", code, stderr)
	}
}

// TestZFSLabelsCLITruncated: copies of a 128 MiB vdev cut to 100 MiB and to
// 300,000 bytes (label 0 only) name the pool, say how many bytes are
// missing and give no import command; a directory is refused with exit 2.
func TestZFSLabelsCLITruncated(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "v.vdev")
	testutil.Must(t, fixtures.FakeZFSVdev(src, 128<<20, fixtures.ZFSLabelSpec{Pool: "tank", PoolGUID: 7, GUID: 8, Version: 22, State: 1, TXG: 9, Ashift: 9, Timestamp: 1}))
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{100 << 20, 300000} {
		img := filepath.Join(dir, fmt.Sprintf("t%d.img", n))
		testutil.Must(t, os.WriteFile(img, b[:n], 0o644))
		short := 128<<20 - n
		code, stdout, stderr := runCLI("zfs", "labels", img)
		if code != 0 || !strings.Contains(stdout, fmt.Sprintf("the copy is %d bytes short", short)) || !strings.Contains(stdout, "import      truncated:") ||
			strings.Contains(stdout, "command ") || !strings.Contains(stdout, "pool        tank") {
			t.Errorf("%d bytes: exit %d\n%s\n%s", n, code, stdout, stderr)
		}
		code, stdout, _ = runCLI("zfs", "labels", img, "--json")
		var r map[string]any
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 {
			t.Fatalf("exit %d %v\n%s", code, err, stdout)
		}
		if r["import"] != "truncated" || r["short_by"] != float64(short) || r["needed_size"] != float64(128<<20) || r["command"] != "" || r["command_zfs_fuse"] != "" {
			t.Errorf("%d bytes: %s", n, stdout)
		}
		tree := r["vdev_tree"].(map[string]any)
		if c, ok := tree["children"]; !ok || c != nil {
			t.Errorf("leaf vdev_tree children = %v (present %v), want null", c, ok)
		}
	}
	code, stdout, stderr := runCLI("zfs", "labels", dir)
	if code != 2 || stdout != "" || !strings.Contains(stderr, dir+" is a directory, not a file or block device") {
		t.Errorf("directory: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestZFSLabelsCLISeveralPools: a disk with members of two pools (one of
// them a big-endian Oracle v31 pool) gives a list, in partition order.
func TestZFSLabelsCLISeveralPools(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.vdev"), filepath.Join(dir, "b.vdev")
	testutil.Must(t, fixtures.FakeZFSVdev(a, 64<<20, fixtures.ZFSLabelSpec{Pool: "rpool", PoolGUID: 11, GUID: 12, Version: 22, State: 1, TXG: 5, Ashift: 9, Timestamp: 1}))
	testutil.Must(t, fixtures.FakeZFSVdev(b, 64<<20, fixtures.ZFSLabelSpec{Pool: "data", PoolGUID: 21, GUID: 22, Version: 31, State: 1, TXG: 6, Ashift: 12, Timestamp: 2, BigEndian: true}))
	disks, err := fixtures.ZFSDiskGPTPools(filepath.Join(dir, "two.img"), a, b)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("zfs", "labels", disks[0].Path, "--json")
	var doc struct {
		Members []vdev.MemberReport `json:"members"`
	}
	err = json.Unmarshal([]byte(stdout), &doc)
	r := doc.Members
	if err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, stdout, stderr)
	}
	if len(r) != 2 || r[0].Pool != "rpool" || r[0].Partition != 1 || r[0].Import != "openzfs" || r[0].Offset != disks[0].VdevOffset ||
		r[1].Pool != "data" || r[1].Partition != 2 || r[1].Import != "oracle-only" || !r[1].Uberblock.BigEndian || r[1].Command != "" {
		t.Errorf("%+v", r)
	}
	if !strings.Contains(r[0].Command, `"$(losetup --read-only --find --show --offset 131072 --sizelimit 67108864 `) {
		t.Errorf("command for a vdev inside an image: %q", r[0].Command)
	}
	code, stdout, _ = runCLI("zfs", "labels", disks[0].Path, "--partition", "2", "--json")
	var one vdev.MemberReport
	if err := json.Unmarshal([]byte(stdout), &one); err != nil || code != 0 || one.Pool != "data" {
		t.Errorf("--partition 2: exit %d %v %+v", code, err, one)
	}
}

// TestZFSLabelsCLILoopDevice reads a block device (its size comes from
// Seek, Stat says 0) and leaves it untouched.
func TestZFSLabelsCLILoopDevice(t *testing.T) {
	testutil.NeedRoot(t, "losetup")
	testutil.NeedTools(t, "losetup")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.vdev")
	testutil.Must(t, fixtures.FakeZFSVdev(a, 64<<20, fixtures.ZFSLabelSpec{Pool: "loopy", PoolGUID: 31, GUID: 32, Version: 28, State: 0, TXG: 5, HostID: 0xdead, Ashift: 9, Timestamp: 1}))
	disks, err := fixtures.ZFSDiskGPTPools(filepath.Join(dir, "disk.img"), a)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", disks[0].Path).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	before := testutil.FileSHA256(t, dev)
	code, stdout, stderr := runCLI("zfs", "labels", dev, "--json")
	var r vdev.MemberReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, stdout, stderr)
	}
	want := fmt.Sprintf(`zpool import -o readonly=on -N -R /mnt -d "$(losetup --read-only --find --show --offset %d --sizelimit %d %s)" -f 31`, disks[0].VdevOffset, disks[0].VdevSize, dev)
	if r.Pool != "loopy" || r.Partition != 1 || !r.NeedsForce || r.Command != want {
		t.Errorf("%+v\nwant command %s", r, want)
	}
	if testutil.FileSHA256(t, dev) != before {
		t.Error("zfs labels changed the device")
	}
}

// TestZFSLabelsCLINoZFS: a XenServer GPT disk without ZFS gives one line
// naming the disk and the partitions read (exit 2, nothing written); --json
// keeps every label's reason under "details".
func TestZFSLabelsCLINoZFS(t *testing.T) {
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("zfs-nozfs", "gpt", fixtures.RootSpec{Release: "7.6"}, &fixtures.RootSpec{Release: "7.1"}))
	if err != nil {
		t.Fatal(err)
	}
	before := testutil.FileSHA256(t, img)
	code, stdout, stderr := runCLI("zfs", "labels", img)
	if want := "xsrescue: no ZFS label on " + img + " or on its partitions 1-"; code != 2 || stdout != "" || !strings.HasPrefix(stderr, want) ||
		strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "malformed") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI("--json", "zfs", "labels", img)
	var doc struct {
		Error struct {
			Message  string   `json:"message"`
			ExitCode int      `json:"exit_code"`
			Details  []string `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 2 || doc.Error.ExitCode != 2 ||
		!strings.HasPrefix(doc.Error.Message, "no ZFS label on "+img) || len(doc.Error.Details) < 2 ||
		!strings.Contains(doc.Error.Details[1], "partition 1 at offset") || !strings.Contains(doc.Error.Details[1], "no checksum magic") {
		t.Errorf("exit %d %v\n%s", code, err, stdout)
	}
	if code, _, stderr := runCLI("zfs", "labels", img, "--partition", "2"); code != 2 || stderr != "xsrescue: no ZFS label on partition 2 of "+img+"\n" {
		t.Errorf("--partition 2: exit %d %s", code, stderr)
	}
	if after := testutil.FileSHA256(t, img); after != before {
		t.Error("zfs labels wrote to the image")
	}
	if _, stdout, _ := runCLI("zfs", "labels", "--help"); !strings.Contains(stdout, "--partition N") || strings.Contains(stdout, "default: 0") {
		t.Errorf("help shows a default for --partition:\n%s", stdout)
	}
}
