package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// tinyDisk is an 8 MiB disk without filesystems (no tools needed):
// partitions 1 at 1 MiB (2 MiB) and 2 at 3 MiB (3 MiB).
func tinyDisk(t *testing.T, table string) string {
	t.Helper()
	typ := "83"
	if table == "gpt" {
		typ = fixtures.GPTBasicData
	}
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.DiskSpec{Name: "tiny", Size: 8 << 20, Table: table, Partitions: []fixtures.PartSpec{
		{Number: 1, Start: fixtures.MiB, Size: 2 * fixtures.MiB, Type: typ},
		{Number: 2, Start: 3 * fixtures.MiB, Size: 3 * fixtures.MiB, Type: typ},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tinySaved is a tiny DOS disk whose partition 2 is saved to DIR/p2.img,
// journalled in DIR/j.db.
func tinySaved(t *testing.T) (img, snap, jpath string) {
	t.Helper()
	img, dir := tinyDisk(t, "dos"), t.TempDir()
	snap, jpath = filepath.Join(dir, "p2.img"), filepath.Join(dir, "j.db")
	if code, _, errOut := runCLI("disk", "save-partition", img, "--partition", "2", "--to", snap, "--journal", jpath); code != 0 {
		t.Fatalf("save: exit %d %s", code, errOut)
	}
	return img, snap, jpath
}

// patchDOSEntry rewrites primary entry n (1-4) of a DOS table.
func patchDOSEntry(t *testing.T, img string, n int, start, sectors uint32) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, start)
	binary.LittleEndian.PutUint32(b[4:], sectors)
	if _, err := f.WriteAt(b, int64(446+16*(n-1)+8)); err != nil {
		t.Fatal(err)
	}
}

// TestHostileGPTCommands: a GPT entry whose LBAs lie outside the disk (CRCs
// valid) — the cases of issue 13 — is reported and ignored by every command
// that reads a table: no panic, never a partition at a wrapped offset, and
// nothing reads or writes it, not even restore-partition --force.
func TestHostileGPTCommands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		first, last uint64
	}{
		{"last LBA 2^64-1", 6144, math.MaxUint64},
		{"first LBA 2^63", 1 << 63, 1<<63 + 6143},
		{"first LBA 2^55+2048 (1 MiB once wrapped)", 1<<55 + 2048, 1<<55 + 6143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tinyDisk(t, "gpt")
			dir := t.TempDir()
			snap := filepath.Join(dir, "p1.img")
			if code, _, errOut := runCLI("disk", "save-partition", img, "--partition", "1", "--to", snap, "--journal", filepath.Join(dir, "j.db")); code != 0 {
				t.Fatalf("save partition 1: exit %d %s", code, errOut)
			}
			if err := fixtures.SetGPTEntryLBAs(img, 2, tc.first, tc.last); err != nil {
				t.Fatal(err)
			}
			start := testutil.FileSHA256(t, img)

			code, out, errOut := runCLI("disk", "inspect", img, "--json")
			var doc struct {
				Partitions []struct {
					Number      int
					Start, Size int64
				}
				Warnings []string
			}
			if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
				t.Fatalf("inspect --json: exit %d %v\n%s%s", code, err, out, errOut)
			}
			if len(doc.Partitions) != 1 || doc.Partitions[0].Number != 1 || !strings.Contains(strings.Join(doc.Warnings, "\n"), "GPT entry 2 (LBA ") {
				t.Errorf("inspect --json: %+v", doc)
			}
			if code, out, _ := runCLI("disk", "inspect", img); code != 0 || !strings.Contains(out, "entry ignored") {
				t.Errorf("inspect: exit %d\n%s", code, out)
			}
			for _, argv := range [][]string{
				{"disk", "save-partition", img, "--partition", "2", "--to", filepath.Join(dir, "p2.img")},
				{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--force", "--yes", "--journal", filepath.Join(dir, "j.db")},
				{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--force", "--dry-run"},
				{"zfs", "labels", img, "--partition", "2"},
				{"version", "show", "--disk", img, "--partition", "2"},
			} {
				if code, _, errOut := runCLI(argv...); code != 2 || !strings.Contains(errOut, "no partition 2") {
					t.Errorf("%v: exit %d %s, want 2 \"no partition 2\"", argv[:2], code, errOut)
				}
			}
			// The whole-disk readers see partition 1 only.
			for _, argv := range [][]string{{"zfs", "labels", img}, {"doctor", "--disk", img, "--json"}} {
				code, out, errOut := runCLI(argv...)
				if code == 1 || strings.Contains(errOut, "panic") || (strings.Contains(strings.Join(argv, " "), "--json") && !json.Valid([]byte(out))) {
					t.Errorf("%v: exit %d\n%s%s", argv, code, out, errOut)
				}
			}
			if testutil.FileSHA256(t, img) != start {
				t.Fatal("a command wrote to the disk")
			}
		})
	}
}

// TestRestorePartitionOverlap: restoring a partition that shares bytes with
// another is refused (exit 3, also as a dry run) naming the other and how
// many bytes, unless --force, which then says what it overwrote.
func TestRestorePartitionOverlap(t *testing.T) {
	t.Parallel()
	img, snap, jpath := tinySaved(t)
	patchDOSEntry(t, img, 1, 2048, 4096+16) // partition 1 now ends 8 KiB into partition 2
	scribble(t, img, 3*fixtures.MiB)
	start := testutil.FileSHA256(t, img)
	restore := []string{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--journal", jpath}
	for _, extra := range [][]string{{"--yes"}, {"--dry-run"}, {"--yes", "--json"}} {
		code, out, errOut := runCLI(append(restore, extra...)...)
		want := "partition 2 (bytes 3145728-6291456) overlaps partition 1 (8192 bytes: 3145728-3153920)"
		if code != 3 || !strings.Contains(errOut+out, want) || !strings.Contains(errOut+out, "--force") {
			t.Errorf("%v: exit %d %s%s, want 3 %q", extra, code, out, errOut, want)
		}
	}
	if testutil.FileSHA256(t, img) != start {
		t.Fatal("a refused restore wrote to the disk")
	}
	code, out, errOut := runCLI(append(restore, "--force", "--yes", "--json")...)
	var doc struct {
		Written  bool `json:"written"`
		Overlaps []struct {
			What       string
			Start, End int64
		} `json:"overlaps"`
	}
	m := parseMutation(t, out, &doc)
	if code != 0 || !doc.Written || len(doc.Overlaps) != 1 || doc.Overlaps[0].What != "partition 1" || doc.Overlaps[0].End-doc.Overlaps[0].Start != 8192 {
		t.Fatalf("--force: exit %d\n%s%s", code, out, errOut)
	}
	// Its undo writes the same overlapping extent back: it needs --force
	// too, or it would be refused.
	if m.Op == nil || !slices.Contains(m.Op.Undo, "--force") {
		t.Errorf("undo %q lacks --force", m.Op.Undo)
	}
	code, out, errOut = runCLI(append(m.Op.Undo[1:], "--journal", jpath, "--yes")...)
	if code != 0 || testutil.FileSHA256(t, img) != start {
		t.Errorf("the undo as given: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "--force: partition 2") {
		t.Errorf("--force does not say what it overwrites: %s", errOut)
	}
}

// TestPartitionPastTheEnd: a partition that ends past the end of the disk
// (a truncated image) is listed, but never saved or restored: the copy
// would be short, and a write would grow the image file.
func TestPartitionPastTheEnd(t *testing.T) {
	t.Parallel()
	img, snap, jpath := tinySaved(t)
	dir := filepath.Dir(snap)
	if err := os.Truncate(img, 4<<20); err != nil {
		t.Fatal(err)
	}
	start := testutil.FileSHA256(t, img)
	if code, out, _ := runCLI("disk", "inspect", img); code != 0 || !strings.Contains(out, "partition 2 (bytes 3145728-6291456) ends past the end of the disk") {
		t.Errorf("inspect: exit %d\n%s", code, out)
	}
	for _, argv := range [][]string{
		{"disk", "save-partition", img, "--partition", "2", "--to", filepath.Join(dir, "again.img")},
		{"disk", "restore-partition", img, "--partition", "2", "--from", snap, "--yes", "--force", "--journal", jpath},
	} {
		if code, _, errOut := runCLI(argv...); code != 2 || !strings.Contains(errOut, "partition 2 (bytes 3145728-6291456) ends past the end of the disk (4194304 bytes)") {
			t.Errorf("%v: exit %d %s", argv[:2], code, errOut)
		}
	}
	if st, err := os.Stat(img); err != nil || st.Size() != 4<<20 || testutil.FileSHA256(t, img) != start {
		t.Fatal("a refused command changed the image")
	}
}

// TestOdmPurgeBindMountedDev: a bind mount of the rescue system's /dev (the
// usual chroot preparation) passes the path check; odm purge refuses it by
// device (exit 3), as a dry run too, and changes nothing.
func TestOdmPurgeBindMountedDev(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	aix, out := t.TempDir(), t.TempDir()
	dev := filepath.Join(aix, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	unmount, err := fixtures.MountReadOnly("/dev", dev, "")
	if err != nil {
		t.Fatal(err)
	}
	defer unmount()
	before := odmState(t, out, a.ODMDir)
	live, _ := os.ReadDir("/dev")
	for _, extra := range []string{"--dry-run", "--yes"} {
		code, stdout, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", dev, "--out", out, "--all-ghosts", extra)
		if code != 3 || !strings.Contains(stderr, "is the rescue system's own /dev (the same directory as /dev") {
			t.Errorf("%s: exit %d\n%s%s", extra, code, stdout, stderr)
		}
	}
	if after, _ := os.ReadDir("/dev"); len(after) != len(live) {
		t.Fatalf("/dev had %d entries, now %d", len(live), len(after))
	}
	if d := cmp.Diff(before, odmState(t, out, a.ODMDir)); d != "" {
		t.Errorf("a refused purge wrote something:\n%s", d)
	}
}
