package main

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/plan"
)

// revertKey matches a reverted change to the op change it reverts.
func revertKey(path string, newPath *string) string { return path + "\x00" + deref(newPath) }

// checkReverts: each change of an undo or recover document reverts one of
// the op's changes (same path and new_path), with its hashes swapped.
func checkReverts(t *testing.T, name string, got []mutationChange, forward []changeResult) {
	t.Helper()
	want := map[string]changeResult{}
	for _, c := range forward {
		if c.Action != plan.External {
			want[revertKey(c.Path, c.NewPath)] = c
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d changes, want %d", name, len(got), len(want))
	}
	for _, c := range got {
		f, ok := want[revertKey(c.Path, c.NewPath)]
		if !ok {
			t.Errorf("%s: change %s reverts no change of the op", name, c.Path)
			continue
		}
		if deref(c.BeforeSHA256) != deref(f.AfterSHA256) || deref(c.AfterSHA256) != deref(f.BeforeSHA256) {
			t.Errorf("%s: %s %s: before %q after %q, want the op's swapped: %q %q", name, c.Action, c.Path,
				deref(c.BeforeSHA256), deref(c.AfterSHA256), deref(f.AfterSHA256), deref(f.BeforeSHA256))
		}
	}
}

// TestUndoJSONHashesByPath: journal undo --json, real run and dry run,
// lists every change of the op with the hashes of that path swapped (the
// real run used to pair the revert order with the apply's forward hashes).
// Guest fix ops mix writes, renames and symlink changes.
func TestUndoJSONHashesByPath(t *testing.T) {
	t.Parallel()
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	code, out, errOut := runCLI("guest", "fix", "--root", root, "--yes", "--json")
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", code, out, errOut)
	}
	fix := parseMutation(t, out, nil)
	// Op 1 has many changes (the order matters), op 2 one (the swap).
	if len(fix.Ops) != 2 || len(fix.Ops[0].Changes) < 2 || len(fix.Ops[1].Changes) != 1 {
		t.Fatalf("fix made %d ops, want 2: one of many changes, one of one", len(fix.Ops))
	}
	for i := len(fix.Ops) - 1; i >= 0; i-- {
		op := fix.Ops[i]
		id := strconv.FormatInt(op.ID, 10)
		_, out, _ := runCLI("journal", "undo", id, "--root", root, "--dry-run", "--json")
		dry := parseMutation(t, out, nil)
		checkReverts(t, "undo --dry-run of op "+id, dry.Changes, op.Changes)
		code, out, errOut := runCLI("journal", "undo", id, "--root", root, "--yes", "--json")
		if code != 0 {
			t.Fatalf("undo %s: exit %d\n%s%s", id, code, out, errOut)
		}
		real := parseMutation(t, out, nil)
		checkReverts(t, "undo of op "+id, real.Changes, op.Changes)
		if d := cmp.Diff(dry.Changes, real.Changes); d != "" {
			t.Errorf("undo of op %s: the real run's changes differ from the dry run's:\n%s", id, d)
		}
	}
}

// TestRecoverJSONHashesByPath: the same for journal recover of an
// interrupted op.
func TestRecoverJSONHashesByPath(t *testing.T) {
	t.Parallel()
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	jpath := filepath.Join(t.TempDir(), "j.db")
	code, out, errOut := runCLI("guest", "fix", "--root", root, "--journal", jpath, "--yes", "--json")
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", code, out, errOut)
	}
	fix := parseMutation(t, out, nil)
	markInterrupted(t, jpath, true)
	last := fix.Op
	_, out, _ = runCLI("journal", "recover", "--root", root, "--journal", jpath, "--dry-run", "--json")
	dry := parseMutation(t, out, nil)
	checkReverts(t, "recover --dry-run", dry.Changes, last.Changes)
	code, out, errOut = runCLI("journal", "recover", "--root", root, "--journal", jpath, "--yes", "--json")
	if code != 0 {
		t.Fatalf("recover: exit %d\n%s%s", code, out, errOut)
	}
	real := parseMutation(t, out, nil)
	checkReverts(t, "recover", real.Changes, last.Changes)
	if d := cmp.Diff(dry.Changes, real.Changes); d != "" {
		t.Errorf("recover: the real run's changes differ from the dry run's:\n%s", d)
	}
}
