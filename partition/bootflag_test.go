package partition_test

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partition"
)

// buildSpec builds spec in a temporary directory.
func buildSpec(t *testing.T, spec fixtures.DiskSpec) string {
	t.Helper()
	testutil.NeedTools(t, "mke2fs")
	p, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openImage opens an image read-only for the test's life.
func openImage(t *testing.T, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

func inspectWith(t *testing.T, path string, o partition.Options) *partition.Disk {
	t.Helper()
	f, size := openImage(t, path)
	d, err := partition.InspectWith(f, size, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSectorSize4K: a DOS table on a 4 KiB-sector disk counts in 4096-byte
// sectors; read from an image (no sector size of its own) it is found by
// the filesystems at the partition starts, and gives the roles of its
// 512-byte twin. A GPT says its sector size by where its header is.
func TestSectorSize4K(t *testing.T) {
	t.Parallel()
	for _, table := range []string{"dos", "gpt"} {
		t.Run(table, func(t *testing.T) {
			spec := fixtures.Mini("twin-"+table, table, fixtures.RootSpec{Release: "6.2"}, &fixtures.RootSpec{Release: "6.0"})
			d512 := inspectWith(t, buildSpec(t, spec), partition.Options{})
			spec.SectorSize = 4096
			img := buildSpec(t, spec)
			d4k := inspectWith(t, img, partition.Options{})
			want := map[string]string{"dos": partition.SectorFromProbing, "gpt": partition.SectorFromGPT}[table]
			if d4k.SectorSize != 4096 || d4k.SectorSizeFrom != want {
				t.Fatalf("4K twin read with %d-byte sectors (%s), want 4096 (%s)", d4k.SectorSize, d4k.SectorSizeFrom, want)
			}
			if diff := cmp.Diff(rows(d512), rows(d4k)); diff != "" {
				t.Errorf("roles differ (-512 +4096):\n%s", diff)
			}
			if diff := cmp.Diff(d512.XenServer.RootByGeneration, d4k.XenServer.RootByGeneration); diff != "" {
				t.Errorf("root choices differ:\n%s", diff)
			}
			if os.Geteuid() == 0 {
				// The same disk as a block device with 4 KiB sectors: the
				// kernel says the sector size, and sfdisk/sgdisk read the
				// partitions where xsrescue does.
				dev := loopDevice(t, img, 4096)
				f, err := os.Open(dev)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if n := partition.DeviceSectorSize(f); n != 4096 {
					t.Fatalf("BLKSSZGET of %s: %d", dev, n)
				}
				tool := map[string][]string{"dos": {"sfdisk", "-d"}, "gpt": {"sgdisk", "--print"}}[table]
				out, err := exec.Command(tool[0], tool[1], dev).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", tool[0], err, out)
				}
				starts := map[int]int64{}
				re := regexp.MustCompile(`(?m)^\s*(\d+)\s+(\d+)\s+\d+`)
				if table == "dos" {
					re = regexp.MustCompile(`(?m)^\S+?(\d+) : start=\s*(\d+),`)
				}
				for _, m := range re.FindAllStringSubmatch(string(out), -1) {
					n, _ := strconv.Atoi(m[1])
					starts[n], _ = strconv.ParseInt(m[2], 10, 64)
				}
				for _, p := range d4k.Partitions {
					if starts[p.Number] != p.Start/4096 {
						t.Errorf("%s lists partition %d at sector %d, xsrescue at %d:\n%s", tool[0], p.Number, starts[p.Number], p.Start/4096, out)
					}
				}
			}
			if table == "dos" {
				given := inspectWith(t, img, partition.Options{SectorSize: 512})
				if given.SectorSizeFrom != partition.SectorGiven || given.XenServer != nil {
					t.Errorf("--sector-size 512 on the 4K twin: %s, root %+v", given.SectorSizeFrom, given.XenServer)
				}
			}
		})
	}
}

// apply writes a table edit the way journal does (extents in order).
func apply(t *testing.T, path string, e *partition.TableEdit) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, x := range e.Rewrites {
		if _, err := f.WriteAt(x.New, x.Offset); err != nil {
			t.Fatal(err)
		}
	}
}

func checkBootable(t *testing.T, path string, n int, only bool) {
	t.Helper()
	f, size := openImage(t, path)
	if err := partition.CheckBootable(f, size, partition.Options{}, n, only); err != nil {
		t.Fatal(err)
	}
}

func plan(t *testing.T, path string, n int, move bool) (*partition.TableEdit, error) {
	t.Helper()
	f, _ := openImage(t, path)
	return partition.PlanBootable(f, inspectWith(t, path, partition.Options{}), n, move)
}

// TestPlanBootableDOS: the active flag set on the root, as sfdisk reads
// it; a utility partition's flag is moved only when asked.
func TestPlanBootableDOS(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "sfdisk")
	spec := fixtures.Mini("flag-dos", "dos", fixtures.RootSpec{Release: "6.2"}, nil)
	spec.Partitions[0].Bootable = false
	img := buildSpec(t, spec)
	e, err := plan(t, img, 1, false)
	if err != nil || e == nil {
		t.Fatalf("plan: %v %v", e, err)
	}
	if !strings.Contains(e.Diff(), "-partition 1: start=2048, size=131072, type=83\n+partition 1: start=2048, size=131072, type=83, bootable\n") {
		t.Errorf("diff:\n%s", e.Diff())
	}
	apply(t, img, e)
	checkBootable(t, img, 1, true)
	out, err := exec.Command("sfdisk", "-d", img).Output()
	if err != nil || !strings.Contains(string(out), "start=        2048, size=      131072, type=83, bootable") {
		t.Fatalf("sfdisk -d: %v\n%s", err, out)
	}
	if again, err := plan(t, img, 1, false); err != nil || again != nil {
		t.Fatalf("second plan: %v %v", again, err)
	}

	// A Dell utility partition carries the flag.
	spec = fixtures.Mini("flag-dell", "dos", fixtures.RootSpec{Release: "6.2"}, nil)
	spec.Partitions[0].Bootable = false
	spec.Partitions[2].Bootable = true
	img = buildSpec(t, spec)
	if _, err := plan(t, img, 1, false); !errors.Is(err, partition.ErrOtherActive) || !strings.Contains(err.Error(), "partition 3 (type 8e, sr)") {
		t.Fatalf("without move: %v", err)
	}
	e, err = plan(t, img, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, img, e)
	checkBootable(t, img, 1, true)
}

// TestPlanBootableGPT: attribute bit 2 in both copies, CRCs recomputed:
// sgdisk verifies the table and shows the attribute; with 4096-byte
// sectors too.
func TestPlanBootableGPT(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "sgdisk")
	for _, ss := range []int{512, 4096} {
		spec := fixtures.Mini("flag-gpt", "gpt", fixtures.RootSpec{Release: "6.5"}, nil)
		spec.SectorSize = ss
		img := buildSpec(t, spec)
		e, err := plan(t, img, 1, false)
		if err != nil || e == nil {
			t.Fatalf("%d: plan: %v %v", ss, e, err)
		}
		if len(e.Rewrites) != 4 || e.Rewrites[1].Offset <= e.Rewrites[3].Offset {
			t.Errorf("%d: want backup entry+header, then primary entry+header: %+v", ss, e.Rewrites)
		}
		apply(t, img, e)
		checkBootable(t, img, 1, false)
		if d := inspectWith(t, img, partition.Options{}); len(d.Warnings) > 0 {
			t.Errorf("%d: warnings after the change: %q", ss, d.Warnings)
		}
		// An image file has no sector size: sgdisk takes 512, so the 4K
		// twin is read through a loop device with 4096-byte sectors.
		dev := img
		if ss != 512 {
			dev = loopDevice(t, img, ss)
		}
		out, err := exec.Command("sgdisk", "--verify", dev).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No problems found") {
			t.Errorf("%d: sgdisk --verify: %v\n%s", ss, err, out)
		}
		out, err = exec.Command("sgdisk", "--attributes=1:show", dev).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "legacy BIOS bootable") {
			t.Errorf("%d: sgdisk --attributes=1:show: %v\n%s", ss, err, out)
		}
	}
}

// TestCheckBootableRefusesDamage: a GPT whose copies disagree is not
// changed.
func TestCheckBootableRefusesDamage(t *testing.T) {
	t.Parallel()
	spec := fixtures.Mini("flag-gpt-damaged", "gpt", fixtures.RootSpec{Release: "6.5"}, nil)
	img := buildSpec(t, spec)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	// Damage the backup header's CRC field.
	if _, err := f.WriteAt([]byte{1, 2, 3, 4}, st.Size()-512+16); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := plan(t, img, 1, false); err == nil || !strings.Contains(err.Error(), "repair the table") {
		t.Fatalf("damaged backup GPT: %v", err)
	}
}

// loopDevice attaches img read-only with the given logical sector size and
// detaches it when the test ends (root only).
func loopDevice(t *testing.T, img string, ss int) string {
	t.Helper()
	testutil.NeedRoot(t, "a loop device with 4096-byte sectors")
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", "--sector-size", strconv.Itoa(ss), img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}
