package partimage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// damagedForRestore saves the partition of a sparse disk, then overwrites
// 12 MiB of it: a restore has 12 blocks to write. It returns the disk
// opened read-write, the snapshot and the disk's bytes before the restore.
func damagedForRestore(t *testing.T) (*os.File, string, []byte) {
	t.Helper()
	disk := sparseDisk(t)
	img, _ := save(t, disk, false)
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xAB}, 12<<20), partStart+1<<20); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	return f, img, before
}

// TestRestoreRollsBackOnSignal: SIGTERM while the restore writes (the
// acceptance test's case: half of the blocks were the snapshot's, the rest
// the old content, nothing rolled back) puts every overwritten block back;
// the error says so and still says it was cancelled.
func TestRestoreRollsBackOnSignal(t *testing.T) {
	f, img, before := damagedForRestore(t)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	dst := Source{Disk: f.Name(), Partition: 2, Start: partStart, Size: partSize}
	keep := filepath.Join(t.TempDir(), "undo.img")
	plan, err := Plan(ctx, f, partStart, partSize, img)
	if err != nil || plan.ChangedBlocks < 12 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	signalled := false
	progress := func(n int64) {
		// A few blocks in: the signal arrives while blocks are written.
		if n >= 6<<20 && !signalled {
			signalled = true
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Error("SIGTERM not delivered")
			}
		}
	}
	res, rerr := Restore(ctx, f, dst, img, plan, keep, progress)
	if !signalled || res != nil || !errors.Is(rerr, context.Canceled) || !errors.Is(rerr, ErrRolledBack) || !strings.Contains(rerr.Error(), "as it was before the restore") {
		t.Fatalf("Restore = %+v, %v; want cancelled and rolled back", res, rerr)
	}
	after, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the disk is not as it was before the restore")
	}
	undoGone(t, rerr, keep)
}

// undoGone: a restore that left the partition as it was removed its undo
// file and sidecar (no op records them: each retry would add a copy) and
// says so.
func undoGone(t *testing.T, err error, keep string) {
	t.Helper()
	for _, p := range []string{keep, SidecarPath(keep)} {
		if _, serr := os.Lstat(p); serr == nil {
			t.Errorf("%s is left after the partition was left as it was", p)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "the undo file "+keep+" and its sidecar, not needed, were removed") {
		t.Errorf("the error does not say the undo file was removed: %v", err)
	}
}

// TestRestoreRollbackFails: when the undo file cannot be trusted the
// rollback writes nothing from it, and the error says the partition is
// partly restored and which command finishes the job.
func TestRestoreRollbackFails(t *testing.T) {
	f, img, _ := damagedForRestore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dst := Source{Disk: f.Name(), Partition: 2, Start: partStart, Size: partSize}
	keep := filepath.Join(t.TempDir(), "undo.img")
	progress := func(n int64) {
		if n >= 6<<20 && ctx.Err() == nil {
			cancel()
			// Something damages the undo file meanwhile.
			if err := os.Truncate(keep, 1<<20); err != nil {
				t.Error(err)
			}
		}
	}
	_, err := Restore(ctx, f, dst, img, nil, keep, progress)
	want := "to finish the restore run: xsrescue disk restore-partition " + f.Name() + " --partition 2 --from " + img + "; after that, --from " + keep
	if !errors.Is(err, ErrHalfRestored) || errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), want) {
		t.Errorf("Restore = %v; want ErrHalfRestored and %q", err, want)
	}
	// The undo file is still needed (after the finished restore).
	if _, err := os.Stat(SidecarPath(keep)); err != nil {
		t.Errorf("the undo file's sidecar is gone although the rollback failed: %v", err)
	}
	// The command it names does finish the restore.
	if _, err := Restore(context.Background(), f, dst, img, nil, keep+"2", nil); err != nil {
		t.Errorf("finishing the restore: %v", err)
	}
}

// TestRestoreCancelledBeforeWriting: cancelled before the first block is
// written, nothing is rolled back (nothing was written).
func TestRestoreCancelledBeforeWriting(t *testing.T) {
	f, img, before := damagedForRestore(t)
	ctx, cancel := context.WithCancel(context.Background())
	dst := Source{Disk: f.Name(), Partition: 2, Start: partStart, Size: partSize}
	plan, err := Plan(ctx, f, partStart, partSize, img)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	keep := filepath.Join(t.TempDir(), "undo.img")
	_, err = Restore(ctx, f, dst, img, plan, keep, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("Restore = %v", err)
	}
	undoGone(t, err, keep)
	if after, _ := os.ReadFile(f.Name()); !bytes.Equal(before, after) {
		t.Error("the disk changed")
	}
}
