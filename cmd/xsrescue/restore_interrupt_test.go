package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestRestoreInterruptedRemovesUndoFile: a disk restore-partition cut
// short by SIGTERM while it writes rolls back, and then removes the undo
// file and sidecar it had kept (no op records them: every interrupted
// retry left another copy, 600 MB in the acceptance test), saying so.
func TestRestoreInterruptedRemovesUndoFile(t *testing.T) {
	const part = 192 << 20
	dir := t.TempDir()
	img, err := fixtures.BuildDisk(dir, fixtures.DiskSpec{Name: "interrupt", Size: part + 2<<20, Table: "dos",
		Partitions: []fixtures.PartSpec{{Number: 1, Start: 1 << 20, Size: part, Type: "83"}}})
	if err != nil {
		t.Fatal(err)
	}
	fill := func(b byte) {
		f, err := os.OpenFile(img, os.O_WRONLY, 0)
		testutil.Must(t, err)
		defer f.Close()
		blk := bytes.Repeat([]byte{b}, 1<<20)
		for i := int64(0); i < part>>20; i++ {
			binary.LittleEndian.PutUint64(blk, uint64(i))
			_, err := f.WriteAt(blk, 1<<20+i<<20)
			testutil.Must(t, err)
		}
	}
	fill(0x11)
	snap, jpath := filepath.Join(dir, "p1.img"), filepath.Join(dir, "journal.db")
	if code, _, errOut := runCLI("disk", "save-partition", img, "--partition", "1", "-o", snap, "--journal", jpath, "--yes"); code != 0 {
		t.Fatalf("save: exit %d %s", code, errOut)
	}
	fill(0x22)
	before := testutil.FileSHA256(t, img)

	p := startXS(t, nil, t.TempDir(), nil, "disk", "restore-partition", img, "--partition", "1", "--from", snap, "--journal", jpath, "--yes")
	// The sidecar is written after the undo file, just before the first
	// block of the restore.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "*before-restore*.json")); len(m) > 0 {
			break
		}
		if p.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("no undo file appeared\n%s", p.stderr)
		}
		time.Sleep(2 * time.Millisecond)
	}
	testutil.Must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	code := p.wait(t, 60*time.Second)
	if code == 0 {
		t.Skip("the restore finished before the signal arrived")
	}
	// On a busy machine the signal may land before the first block:
	// nothing written, and the undo file is not needed either.
	if code != 143 || !strings.Contains(p.stderr.String(), "not needed, were removed") {
		t.Errorf("exit %d, want 143 and the undo file removed:\n%s", code, p.stderr)
	}
	if testutil.FileSHA256(t, img) != before {
		t.Error("the disk is not as it was before the restore")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*before-restore*")); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}
