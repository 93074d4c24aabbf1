package odm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/odm"
)

// TestPurgeOps: one op when --out lies inside the AIX root, two (the --out
// files first, on --out itself) when it lies outside, and the node op alone
// for a --out that does not exist yet.
func TestPurgeOps(t *testing.T) {
	t.Parallel()
	_, m, nodes := aixFixture(t)
	p, err := odm.PlanPurge(m, odm.Analyze(m, nodes), odm.PurgeRequest{AllGhosts: true})
	testutil.Must(t, err)
	root, elsewhere := t.TempDir(), t.TempDir()
	testutil.Must(t, os.Mkdir(filepath.Join(root, "out"), 0o755))
	for _, tt := range []struct {
		name string
		out  string
		want []string // per op: its root and its first change's path
	}{
		{"inside", filepath.Join(root, "out"), []string{root + " out/" + odm.FileAfter}},
		{"outside", elsewhere, []string{elsewhere + " " + odm.FileAfter, root + " " + p.NodeChanges()[0].Path}},
		{"missing", filepath.Join(elsewhere, "new"), []string{root + " " + p.NodeChanges()[0].Path}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := odm.CheckOut(tt.out)
			testutil.Must(t, err)
			var got []string
			for _, op := range p.Ops(root, out) {
				got = append(got, op.Dir+" "+op.Plan.Changes[0].Path)
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("ops %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckOut: --out must be a directory, or new with an existing parent;
// a file of its own in it is refused (exit 3) once it is read.
func TestCheckOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	testutil.Must(t, os.WriteFile(file, nil, 0o644))
	for _, bad := range []string{file, filepath.Join(dir, "no", "out")} {
		if _, err := odm.CheckOut(bad); xerr.Code(err) != xerr.ExitInvalid {
			t.Errorf("CheckOut(%s): %v, want invalid", bad, err)
		}
	}
	out, err := odm.CheckOut(dir)
	testutil.Must(t, err)
	if err := out.Read(); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "already holds f") {
		t.Errorf("Read: %v, want a refusal naming f", err)
	}
}
