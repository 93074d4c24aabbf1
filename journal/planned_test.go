package journal

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/internal/safego"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// lockedRoot opens dir as a mutating command does: locked, so that its Root
// records what it serves.
func lockedRoot(t *testing.T, dir string) *target.Target {
	t.Helper()
	tgt, err := target.Open(context.Background(), target.Options{Root: dir, Lock: &target.LockOptions{Dir: t.TempDir()}})
	testutil.Must(t, err)
	t.Cleanup(func() { tgt.Close() })
	return tgt
}

// A path that changes between the plan being shown and being applied
// (another program wrote it) stops Apply before anything is begun: exit 3,
// ErrChangedSincePlanned, the file as the other program left it, no op in
// the journal. Each way a file can change is caught: content, size-keeping
// content, mode, a file created where the plan creates one.
func TestApplyRefusesChangedSincePlanned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		plan   func() *plan.Plan
		meddle func(dir string) error
	}{
		{"content", func() *plan.Plan {
			return &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: []byte("planned\n")}}}
		}, func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "etc/motd"), []byte("someone else\n"), 0o644)
		}},
		{"same size, same mtime", func() *plan.Plan {
			return &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: []byte("planned\n")}}}
		}, func(dir string) error {
			p := filepath.Join(dir, "etc/motd")
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte("HELLO\n"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}},
		{"streamed rewrite", func() *plan.Plan {
			return &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "var/lib/xcp/state.db",
				Stream: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("<db new/>\n")), nil }}}}
		}, func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "var/lib/xcp/state.db"), []byte("<db other/>\n"), 0o600)
		}},
		{"mode", func() *plan.Plan {
			return &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: []byte("planned\n")}}}
		}, func(dir string) error { return os.Chmod(filepath.Join(dir, "etc/motd"), 0o600) }},
		{"created meanwhile", func() *plan.Plan {
			return &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Create, Path: "etc/new", Content: []byte("x"), UID: -1, GID: -1}}}
		}, func(dir string) error { return os.WriteFile(filepath.Join(dir, "etc/new"), []byte("theirs"), 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dir := testRoot(t)
			tgt := lockedRoot(t, dir)
			plan := tc.plan()
			testutil.Must(t, Render(io.Discard, tgt.Root, plan))
			testutil.Must(t, tc.meddle(dir))
			after := snapshotTree(t, dir)
			j, err := Open(filepath.Join(t.TempDir(), "j.db"))
			testutil.Must(t, err)
			defer j.Close()
			_, err = j.Apply(context.Background(), tgt, []string{"xsrescue", "test"}, plan)
			if !errors.Is(err, ErrChangedSincePlanned) || xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "nothing was changed; run the command again") {
				t.Fatalf("Apply: %v", err)
			}
			if got := snapshotTree(t, dir); !mapsEqualT(got, after) {
				t.Error("Apply changed the target after refusing")
			}
			if ops, err := j.List(context.Background()); err != nil || len(ops) != 0 {
				t.Errorf("ops recorded: %v %v", ops, err)
			}
		})
	}
}

// Nothing changed since the plan was shown: Apply goes through.
func TestApplyAsPlanned(t *testing.T) {
	t.Parallel()
	_, dir := testRoot(t)
	tgt := lockedRoot(t, dir)
	p := &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: []byte("planned\n")}}}
	testutil.Must(t, Render(io.Discard, tgt.Root, p))
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	if _, err := j.Apply(context.Background(), tgt, []string{"xsrescue", "test"}, p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/motd")); string(b) != "planned\n" {
		t.Errorf("motd %q", b)
	}
}

// The plan is computed from what the root served; if the file changes
// before the plan is shown, showing it refuses: no gap between the read
// and the state the plan carries.
func TestRenderRefusesChangeSinceRead(t *testing.T) {
	t.Parallel()
	_, dir := testRoot(t)
	tgt := lockedRoot(t, dir)
	old, err := tgt.Root.ReadFile("etc/motd")
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "etc/motd"), []byte("someone else\n"), 0o644))
	p := &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: append(old, "mine\n"...)}}}
	err = Render(io.Discard, tgt.Root, p)
	if !errors.Is(err, ErrChangedSincePlanned) || xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "/etc/motd changed while the plan was made from it") {
		t.Fatalf("Render: %v", err)
	}
}

// A journal that another process is creating is never "not an xsrescue
// journal": a reader finds no file or a complete journal.
func TestJournalCreatedWhole(t *testing.T) {
	t.Parallel()
	for i := range 30 {
		p := filepath.Join(t.TempDir(), "j.db")
		var wg sync.WaitGroup
		wg.Go(func() {
			j, err := Open(p)
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			j.Close()
		})
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := OpenReadOnly(p)
			if err == nil {
				if _, err := r.List(context.Background()); err != nil {
					t.Fatalf("run %d: a journal half made: %v", i, err)
				}
				r.Close()
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("run %d: reading while it is created: %v", i, err)
			}
			if time.Now().After(deadline) {
				t.Fatal("never created")
			}
		}
		wg.Wait()
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".j.db.xsrescue-new-*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	}
}

// What is not an xsrescue journal is invalid input (exit 2), and is never
// made into one: a text file, another program's database. An empty file
// (an older xsrescue made it before the database) holds no op.
func TestNotAJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	testutil.Must(t, os.WriteFile(text, []byte("not sqlite\n"), 0o644))
	other := filepath.Join(dir, "other.db")
	db, err := OpenWith(context.Background(), other, Options{})
	testutil.Must(t, err)
	_, err = db.db.Exec("PRAGMA user_version = 0; CREATE TABLE theirs (x)")
	testutil.Must(t, err)
	db.Close()
	for _, p := range []string{text, other} {
		before, _ := os.ReadFile(p)
		if _, err := OpenReadOnly(p); xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "not an xsrescue journal") {
			t.Errorf("OpenReadOnly(%s): %v", p, err)
		}
		if _, err := Open(p); xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "not an xsrescue journal") {
			t.Errorf("Open(%s): %v", p, err)
		}
		if after, _ := os.ReadFile(p); string(after) != string(before) {
			t.Errorf("%s was changed", p)
		}
	}
	empty := filepath.Join(dir, "empty.db")
	testutil.Must(t, os.WriteFile(empty, nil, 0o600))
	if _, err := OpenReadOnly(empty); !errors.Is(err, ErrNoJournal) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty file: %v", err)
	}
	j, err := Open(empty)
	testutil.Must(t, err)
	testutil.Must(t, j.Close())
}

// TestApplySnapshotPanic: a panic in the goroutine that snapshots the
// before-images is an error of the command (internal error), never a Go
// stack: the stage is cancelled, the target unchanged.
func TestApplySnapshotPanic(t *testing.T) {
	_, dir := testRoot(t)
	tgt := lockedRoot(t, dir)
	before, err := os.ReadFile(filepath.Join(dir, "etc/motd"))
	testutil.Must(t, err)
	pl := &plan.Plan{Command: "t", Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: []byte("planned\n")}}}
	testutil.Must(t, Render(io.Discard, tgt.Root, pl))
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	t.Setenv(panicEnv, "snapshotting")
	_, err = j.Apply(context.Background(), tgt, []string{"xsrescue", "test"}, pl)
	if !errors.Is(err, safego.ErrPanic) || !strings.Contains(err.Error(), "injected panic at snapshotting") {
		t.Errorf("Apply = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/motd")); string(b) != string(before) {
		t.Errorf("motd %q, want it unchanged", b)
	}
}
