package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestOdmPurgeNewOutDryRunMatchesRun: with an --output that does not exist
// yet, the dry run names the output files as the real run does (relative
// to the AIX root inside it, absolute outside), with the same hashes and
// diffs, and its "N change(s) planned" lines count every change.
func TestOdmPurgeNewOutDryRunMatchesRun(t *testing.T) {
	t.Parallel()
	planned := regexp.MustCompile(`\((\d+) change\(s\) planned`)
	for _, inside := range []bool{true, false} {
		t.Run("inside="+strconv.FormatBool(inside), func(t *testing.T) {
			a := odmFixture(t)
			out := filepath.Join(t.TempDir(), "new")
			if inside {
				out = filepath.Join(a.Dir, "out")
			}
			args := []string{"odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "-o", out, "--major", "43"}
			code, stdout, stderr := runCLI(append(args, "--dry-run")...)
			if code != 0 {
				t.Fatalf("dry run: exit %d: %s", code, stderr)
			}
			n := 0
			for _, m := range planned.FindAllStringSubmatch(stderr, -1) {
				k, _ := strconv.Atoi(m[1])
				n += k
			}
			code, stdout, stderr = runCLI(append(args, "--dry-run", "--json")...)
			if code != 0 {
				t.Fatalf("dry run --json: exit %d: %s", code, stderr)
			}
			dry := parseMutation(t, stdout, nil)
			if n != len(dry.Changes) {
				t.Errorf("the dry run's text counts %d change(s), its document lists %d", n, len(dry.Changes))
			}
			code, stdout, stderr = runCLI(append(args, "--yes", "--json")...)
			if code != 0 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			real := parseMutation(t, stdout, nil)
			// The owner of the new files is the new directory's: the
			// real run's description has it, the dry run's cannot.
			if d := cmp.Diff(dry.Changes, real.Changes, cmpopts.IgnoreFields(mutationChange{}, "Description")); d != "" {
				t.Errorf("dry run and run differ:\n%s", d)
			}
			for _, c := range real.Changes {
				if strings.HasSuffix(c.Path, ".add") || strings.HasSuffix(c.Path, ".ksh") {
					if want := strings.HasPrefix(c.Path, "out/"); inside != want || filepath.IsAbs(c.Path) == inside {
						t.Errorf("output file named %s (inside the AIX root: %v)", c.Path, inside)
					}
				}
			}
		})
	}
}
