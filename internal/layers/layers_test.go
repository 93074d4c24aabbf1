package layers

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/xsrescue/xsrescue/"

// goList runs go list with args and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return strings.Fields(string(out))
}

// TestPlannersLinkNoJournal: the packages that only plan changes use the
// plan vocabulary, not the journal, so none of them links the journal or
// its cgo SQLite driver (nor can it apply a plan itself).
func TestPlannersLinkNoJournal(t *testing.T) {
	for _, pkg := range []string{"versionfile", "statedb", "odm", "zfsroot", "guestfix", "partition", "target", "plan"} {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			deps := goList(t, "-deps", module+pkg)
			for _, bad := range []string{"github.com/mattn/go-sqlite3", module + "journal"} {
				if slices.Contains(deps, bad) {
					t.Errorf("%s links %s", pkg, bad)
				}
			}
		})
	}
}

// TestPlanIsALeaf: plan imports the standard library only.
func TestPlanIsALeaf(t *testing.T) {
	for _, dep := range goList(t, "-deps", module+"plan") {
		if dep != module+"plan" && strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") {
			t.Errorf("plan depends on %s", dep)
		}
	}
}

// TestOnlyJournalWrites: a target.Root's methods only read; the write
// access behind a directory root is usable only where internal/writable
// can be imported, and only journal (which writes) and target (which opens
// roots) import it.
func TestOnlyJournalWrites(t *testing.T) {
	onlyImportedBy(t, "internal/writable", "journal", "target")
}

// TestOnlyCommandsApply: the journal (plan, diff, snapshot, apply, verify,
// commit) is driven by the commands; doctor opens it read-only to report
// interrupted ops. A domain package returns a plan and never applies it
// itself. Tests may import journal (they prove a plan applies), the
// product may not.
func TestOnlyCommandsApply(t *testing.T) {
	onlyImportedBy(t, "journal", "cmd/xsrescue", "doctor")
}

// onlyImportedBy fails for every package of the module outside allowed
// whose (non-test) imports include pkg.
func onlyImportedBy(t *testing.T, pkg string, allowed ...string) {
	t.Helper()
	for _, line := range goList(t, "-f", "{{.ImportPath}}:{{join .Imports \",\"}}", module+"...") {
		importer, imports, _ := strings.Cut(line, ":")
		name := strings.TrimPrefix(importer, module)
		if slices.Contains(strings.Split(imports, ","), module+pkg) && !slices.Contains(allowed, name) {
			t.Errorf("%s imports %s: only %s may", name, pkg, strings.Join(allowed, " and "))
		}
	}
}
