package journal

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// rawDisk is a 64 KiB "disk" file with a known pattern.
func rawDisk(t *testing.T) (string, []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	testutil.Must(t, os.WriteFile(p, data, 0o644))
	return p, data
}

// rawPlan changes the inventory of the test root and two extents of the
// disk, the later one written first (as a GPT's backup copy).
func rawPlan(disk string, checked *int) *plan.Plan {
	return &plan.Plan{Command: "raw test", Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/xensource-inventory", Content: []byte("PRODUCT_VERSION='6.2.0'\n")},
		{Kind: plan.RawWrite, Path: disk, Content: []byte("BACKUPXXprimary!"), Raw: &plan.RawRecord{
			Device: disk, Size: 65536,
			Extents: []plan.RawExtent{{Offset: 65536 - 512, Length: 8}, {Offset: 446, Length: 8}},
			Diff:    "-partition 1: type=83\n+partition 1: type=83, bootable\n",
			Check:   func() error { *checked++; return nil },
		}},
	}}
}

// TestRawWriteApplyUndo: the before-bytes are kept, the new bytes land at
// their offsets, the domain check runs after the write, the plan shows the
// domain's diff, and undo puts every byte back.
func TestRawWriteApplyUndo(t *testing.T) {
	t.Parallel()
	tgt, dir := testRoot(t)
	disk, orig := rawDisk(t)
	before := snapshotTree(t, dir)
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	checked := 0
	var diff bytes.Buffer
	testutil.Must(t, Render(&diff, tgt.Root, rawPlan(disk, &checked)))
	if !strings.Contains(diff.String(), "raw write "+disk+": 16 bytes in 2 extent(s)") || !strings.Contains(diff.String(), "+partition 1: type=83, bootable") {
		t.Fatalf("plan:\n%s", diff.String())
	}
	res, err := j.Apply(context.Background(), tgt, []string{"test"}, rawPlan(disk, &checked))
	testutil.Must(t, err)
	if checked != 1 {
		t.Fatalf("domain check ran %d times", checked)
	}
	now, _ := os.ReadFile(disk)
	if string(now[65536-512:65536-504]) != "BACKUPXX" || string(now[446:454]) != "primary!" {
		t.Fatalf("bytes not written")
	}
	if !bytes.Equal(now[:446], orig[:446]) || !bytes.Equal(now[454:65536-512], orig[454:65536-512]) {
		t.Fatal("bytes outside the extents changed")
	}
	op, err := j.Op(context.Background(), res.Op)
	testutil.Must(t, err)
	if c := op.Changes[1]; c.Kind != plan.RawWrite || c.Before.SHA256 == nil || *c.Before.Type != rawType {
		t.Fatalf("recorded change: %+v", c)
	}
	_, err = j.Undo(context.Background(), tgt, res.Op, false)
	testutil.Must(t, err)
	if now, _ := os.ReadFile(disk); !bytes.Equal(now, orig) {
		t.Fatal("undo did not put the disk back byte for byte")
	}
	if !maps.Equal(before, snapshotTree(t, dir)) {
		t.Fatal("root after undo differs from before")
	}
}

// applyRaw applies rawPlan to a test root and a fresh disk file.
func applyRaw(t *testing.T) (a rawApplied) {
	t.Helper()
	a.tgt, a.dir = testRoot(t)
	a.disk, a.orig = rawDisk(t)
	var err error
	a.j, err = Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	t.Cleanup(func() { a.j.Close() })
	a.res, err = a.j.Apply(context.Background(), a.tgt, []string{"test"}, rawPlan(a.disk, &a.checked))
	testutil.Must(t, err)
	return a
}

type rawApplied struct {
	tgt     *target.Target
	dir     string
	disk    string
	orig    []byte
	j       *Journal
	res     *plan.Result
	checked int
}

// TestRawWriteDrift: bytes changed after the op make undo refuse (exit 3)
// unless forced; bytes changed between plan and commit make the apply fail
// and roll back the file change before it.
func TestRawWriteDrift(t *testing.T) {
	t.Parallel()
	a := applyRaw(t)
	tgt, dir, disk, orig, j, res := a.tgt, a.dir, a.disk, a.orig, a.j, a.res
	checked := 0
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	testutil.Must(t, err)
	_, err = f.WriteAt([]byte("other"), 446)
	testutil.Must(t, err)
	f.Close()
	if _, err := j.Undo(context.Background(), tgt, res.Op, false); !errors.Is(err, ErrDrift) || xerr.Code(err) != xerr.ExitRefused {
		t.Fatalf("undo after drift: %v", err)
	}
	_, err = j.Undo(context.Background(), tgt, res.Op, true)
	testutil.Must(t, err)
	if now, _ := os.ReadFile(disk); !bytes.Equal(now, orig) {
		t.Fatal("forced undo did not restore the disk")
	}

	// Changed between planning and commit: a Check that edits the disk
	// stands for another writer; the plan is prepared (bytes read) first.
	before := snapshotTree(t, dir)
	plan := rawPlan(disk, &checked)
	steps, err := prepare(tgt.Root, plan)
	testutil.Must(t, err)
	f, err = os.OpenFile(disk, os.O_RDWR, 0)
	testutil.Must(t, err)
	_, err = f.WriteAt([]byte("meanwhile"), 65536-512)
	testutil.Must(t, err)
	f.Close()
	if err := steps[1].commitRaw(); err == nil || !strings.Contains(err.Error(), "changed since it was planned") {
		t.Fatalf("commit over changed bytes: %v", err)
	}
	if !maps.Equal(before, snapshotTree(t, dir)) {
		t.Fatal("root changed")
	}
}

// TestRawWriteRecover: an op left "applying" after its raw write (a crash
// before the journal recorded the end) is rolled back by recover, which
// writes the before-bytes back.
func TestRawWriteRecover(t *testing.T) {
	t.Parallel()
	a := applyRaw(t)
	testutil.Must(t, a.j.setStatus(a.res.Op, StatusApplying, ""))
	out, err := a.j.Recover(context.Background(), a.tgt, false)
	testutil.Must(t, err)
	if len(out) != 1 || out[0].Status != StatusRolledBack {
		t.Fatalf("recover: %+v", out)
	}
	if now, _ := os.ReadFile(a.disk); !bytes.Equal(now, a.orig) {
		t.Fatal("recover did not restore the disk")
	}
}

func TestRawWriteRefusesBadRecords(t *testing.T) {
	t.Parallel()
	tgt, _ := testRoot(t)
	disk, _ := rawDisk(t)
	cases := []struct {
		raw     *plan.RawRecord
		content string
		want    string
	}{
		{&plan.RawRecord{Device: "disk.img", Size: 65536, Extents: []plan.RawExtent{{Offset: 0, Length: 4}}}, "abcd", "not an absolute path"},
		{&plan.RawRecord{Device: disk, Size: 65536, Extents: []plan.RawExtent{{Offset: 65534, Length: 4}}}, "abcd", "outside the 65536-byte device"},
		{&plan.RawRecord{Device: disk, Size: 65536, Extents: []plan.RawExtent{{Offset: 0, Length: 4}}}, "abc", "3 new bytes for 4 bytes"},
		{&plan.RawRecord{Device: disk, Size: 1 << 20, Extents: []plan.RawExtent{{Offset: 0, Length: 4}}}, "abcd", "not the same disk"},
		{&plan.RawRecord{Device: disk, Size: 65536}, "", "without a device and extents"},
	}
	for _, c := range cases {
		_, err := prepare(tgt.Root, &plan.Plan{Changes: []plan.Change{{Kind: plan.RawWrite, Path: disk, Content: []byte(c.content), Raw: c.raw}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.raw, err, c.want)
		}
	}
}
