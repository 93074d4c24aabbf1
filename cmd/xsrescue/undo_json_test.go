package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/plan"
)

// fixedGuest is a CentOS 4.6 guest root after guest fix (its mutation
// document); extra are more flags for the fix (--journal).
func fixedGuest(t *testing.T, extra ...string) (string, *mutationOut) {
	t.Helper()
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	code, out, errOut := runCLI(append([]string{"guest", "fix", "--root", root, "--yes", "--json"}, extra...)...)
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", code, out, errOut)
	}
	return root, parseMutation(t, out, nil)
}

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
	root, fix := fixedGuest(t)
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
	jpath := filepath.Join(t.TempDir(), "j.db")
	root, fix := fixedGuest(t, "--journal", jpath)
	markInterrupted(t, jpath, true)
	last := fix.Op
	_, out, _ := runCLI("journal", "recover", "--root", root, "--journal", jpath, "--dry-run", "--json")
	dry := parseMutation(t, out, nil)
	checkReverts(t, "recover --dry-run", dry.Changes, last.Changes)
	code, out, errOut := runCLI("journal", "recover", "--root", root, "--journal", jpath, "--yes", "--json")
	if code != 0 {
		t.Fatalf("recover: exit %d\n%s%s", code, out, errOut)
	}
	real := parseMutation(t, out, nil)
	checkReverts(t, "recover", real.Changes, last.Changes)
	if d := cmp.Diff(dry.Changes, real.Changes); d != "" {
		t.Errorf("recover: the real run's changes differ from the dry run's:\n%s", d)
	}
}

// revertText is one change as the text of journal undo or recover lists
// it after "Op N (...) undone|rolled back".
type revertText struct{ desc, before, after string }

// parseRevertText reads the change list under the result line that
// contains what ("undone", "rolled back").
func parseRevertText(t *testing.T, out, what string) []revertText {
	t.Helper()
	var got []revertText
	in := false
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "Op ") && strings.Contains(line, ") "+what+"; journal "):
			in = true
		case !in:
		case strings.HasPrefix(line, "    sha256 before "):
			got[len(got)-1].before = strings.TrimPrefix(line, "    sha256 before ")
		case strings.HasPrefix(line, "    sha256 after  "):
			got[len(got)-1].after = strings.TrimPrefix(line, "    sha256 after  ")
		case strings.HasPrefix(line, "  "):
			got = append(got, revertText{desc: strings.TrimPrefix(line, "  ")})
		default:
			in = false
		}
	}
	if len(got) == 0 {
		t.Fatalf("no change listed under %q in:\n%s", what, out)
	}
	return got
}

// wantRevertText is a mutation document's reverted changes as the text
// must list them.
func wantRevertText(changes []mutationChange) []revertText {
	var want []revertText
	for _, c := range changes {
		r := revertText{desc: c.Description}
		if c.BeforeSHA256 != nil || c.AfterSHA256 != nil {
			r.before, r.after = orDash(deref(c.BeforeSHA256)), orDash(deref(c.AfterSHA256))
		}
		want = append(want, r)
	}
	return want
}

// TestUndoTextHashes: the text of journal undo (acceptance acc21a #12) and
// of journal recover lists what the revert did — "revert: ..." with before
// what the path held and after what it holds again, as the JSON document
// has it — not the op's forward hashes; the restored file's hash is the
// one shown as after.
func TestUndoTextHashes(t *testing.T) {
	t.Parallel()
	root, fix := fixedGuest(t)
	for i := len(fix.Ops) - 1; i >= 0; i-- {
		id := strconv.FormatInt(fix.Ops[i].ID, 10)
		_, out, _ := runCLI("journal", "undo", id, "--root", root, "--dry-run", "--json")
		dry := parseMutation(t, out, nil)
		code, out, errOut := runCLI("journal", "undo", id, "--root", root, "--yes")
		if code != 0 {
			t.Fatalf("undo %s: exit %d\n%s%s", id, code, out, errOut)
		}
		got := parseRevertText(t, out, "undone")
		if d := cmp.Diff(wantRevertText(dry.Changes), got, cmp.AllowUnexported(revertText{})); d != "" {
			t.Errorf("undo %s: text (-document +text):\n%s", id, d)
		}
		for _, c := range dry.Changes {
			if c.Action != plan.Write || c.AfterSHA256 == nil {
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, c.Path))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != *c.AfterSHA256 {
				t.Errorf("undo %s: %s holds %x, the text says after %s", id, c.Path, sum, *c.AfterSHA256)
			}
		}
	}

	jpath := filepath.Join(t.TempDir(), "j.db")
	root, _ = fixedGuest(t, "--journal", jpath)
	markInterrupted(t, jpath, true)
	_, out, _ := runCLI("journal", "recover", "--root", root, "--journal", jpath, "--dry-run", "--json")
	dry := parseMutation(t, out, nil)
	code, out, errOut := runCLI("journal", "recover", "--root", root, "--journal", jpath, "--yes")
	if code != 0 {
		t.Fatalf("recover: exit %d\n%s%s", code, out, errOut)
	}
	if d := cmp.Diff(wantRevertText(dry.Changes), parseRevertText(t, out, "rolled back"), cmp.AllowUnexported(revertText{})); d != "" {
		t.Errorf("recover: text (-document +text):\n%s", d)
	}
}
