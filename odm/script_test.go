package odm_test

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/odm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func needKsh(t *testing.T) string {
	t.Helper()
	ksh, err := exec.LookPath("ksh")
	if err != nil {
		t.Skip("ksh not installed (scripts/test.sh installs it)")
	}
	return ksh
}

// purgeFixture plans the purge of the fixture's ghost.
func purgeFixture(t *testing.T) (*fixtures.AIX, *odm.Purge) {
	t.Helper()
	a, m, nodes := aixFixture(t)
	p, err := odm.PlanPurge(m, odm.Analyze(m, nodes), odm.PurgeRequest{AllGhosts: true})
	if err != nil {
		t.Fatal(err)
	}
	return a, p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./odm -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-golden +got):\n%s", name, d)
	}
}

func TestScriptsGoldenAndSyntax(t *testing.T) {
	t.Parallel()
	ksh := needKsh(t)
	_, p := purgeFixture(t)
	golden(t, "purge.ksh.golden", p.Script)
	golden(t, "undo.ksh.golden", p.Undo)
	for name, s := range map[string][]byte{"purge.ksh": p.Script, "undo.ksh": p.Undo} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, s, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(ksh, "-n", path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("ksh -n %s: %v\n%s", name, err, out)
		}
	}
}

// The rules every generated line must keep (docs/odm.md, "The generated scripts").
func TestScriptLines(t *testing.T) {
	t.Parallel()
	_, p := purgeFixture(t)
	script := string(p.Script)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`grep`),                                 // never substring-match majors
		regexp.MustCompile(`restbase`),                             // never at run time
		regexp.MustCompile(`(?m)^\s*rm -[a-z]*r[a-z]* .*\$DEVDIR`), // never recursive in /dev
	} {
		if loc := bad.FindStringIndex(script); loc != nil {
			t.Errorf("purge.ksh contains %q: %q", bad, script[loc[0]:loc[1]])
		}
	}
	var deletes, removes []string
	for _, line := range strings.Split(script, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "odmdelete") {
			deletes = append(deletes, l)
		}
		if strings.Contains(l, "rm_entry '") {
			removes = append(removes, l)
		}
	}
	if d := cmp.Diff([]string{`odmdelete -o CuDvDr -q "resource='devno' and value1='43'" || die "odmdelete of major 43 failed"`}, deletes); d != "" {
		t.Errorf("odmdelete lines: %s", d)
	}
	wantRemoves := []string{
		`link_ok 'ghostlink' '/dev/ghostlv01' && rm_entry 'ghostlink' '-> /dev/ghostlv01'`,
		`link_ok 'rghostlink' 'rghostlv02' && rm_entry 'rghostlink' '-> rghostlv02'`,
		`node_ok 'ghostlv01' b 43 1 && rm_entry 'ghostlv01' 'b 43,1'`,
		`node_ok 'ghostlv02' b 43 2 && rm_entry 'ghostlv02' 'b 43,2'`,
		`node_ok 'ghostvg' c 43 0 && rm_entry 'ghostvg' 'c 43,0'`,
		`node_ok 'rghostlv01' c 43 1 && rm_entry 'rghostlv01' 'c 43,1'`,
		`node_ok 'rghostlv02' c 43 2 && rm_entry 'rghostlv02' 'c 43,2'`,
	}
	if d := cmp.Diff(wantRemoves, removes); d != "" {
		t.Errorf("removals: %s", d)
	}
	for _, must := range []string{"set -e", "ODMDIR=${ODMDIR:-/etc/objrepos}", "export ODMDIR", "\npersist\n",
		"savebase || die", "savebase -o \"$ODMDIR\" -d \"$SAVEBASE_DEVICE\"", "free=$(lvlstmajor)", "is_free \"$m\" \"$free\"",
		`cp -p "$ODMDIR/CuDvDr" "$BACKUP/CuDvDr.objrepos"`, `odmget "$c" >"$BACKUP/$c.add"`} {
		if !strings.Contains(script, must) {
			t.Errorf("purge.ksh lacks %q", must)
		}
	}
	undo := string(p.Undo)
	for _, must := range []string{"mk_node 'ghostlv02' b 43 2 600 2 2", "mk_node 'ghostvg' c 43 0 640 0 3",
		"mk_link 'ghostlink' '/dev/ghostlv01'", `odmadd "$WORK/CuDvDr.43.add"`, "\npersist\n"} {
		if !strings.Contains(undo, must) {
			t.Errorf("undo.ksh lacks %q", must)
		}
	}
	// Links are recreated after the nodes they point to.
	if strings.Index(undo, "mk_link 'ghostlink'") < strings.Index(undo, "mk_node 'ghostlv01'") {
		t.Error("undo.ksh makes a link before its node")
	}
}

// is_free must read lvlstmajor's ranges: 43 is not free in "11,13..42,44...",
// and 143 in "43" does not count.
func TestScriptIsFree(t *testing.T) {
	t.Parallel()
	ksh := needKsh(t)
	_, p := purgeFixture(t)
	fn := regexp.MustCompile(`(?ms)^is_free\(\) \{.*?^\}`).Find(p.Script)
	if fn == nil {
		t.Fatal("no is_free in purge.ksh")
	}
	for _, tt := range []struct {
		major int
		list  string
		free  bool
	}{
		{43, "11,13..15,43,45...", true},
		{43, "11,13..42,44...", false},
		{43, "11,40..45,50...", true},
		{43, "11,13,143,200...", false},
		{143, "11,13,43,200...", false},
		{250, "11,13,43,200...", true},
		{43, "43...", true},
		{42, "43...", false},
	} {
		out, err := exec.Command(ksh, "-c", fmt.Sprintf("%s\nis_free %d '%s' && print yes || print no", fn, tt.major, tt.list)).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)) == "yes"; got != tt.free {
			t.Errorf("is_free %d %q = %v", tt.major, tt.list, got)
		}
	}
}

// runScript runs a generated script with ksh against the fake ODM in odmDir
// and the special files in devDir.
func runScript(ksh, script, odmDir, devDir, backup string) (string, error) {
	fake, err := filepath.Abs("testdata/fakeaix")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(ksh, script)
	cmd.Env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "ODMDIR="+odmDir, "DEVDIR="+devDir,
		"BACKUP="+backup, "SAVEBASE_DEVICE=/dev/fakeblv", "TMPDIR="+filepath.Dir(script), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// devState is what must survive (or be recreated) exactly: every entry of
// dev/ with type, mode, owner, major/minor or link text.
func devState(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		s := fmt.Sprintf("%s %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid)
		if fi.Mode()&os.ModeDevice != 0 {
			s += fmt.Sprintf(" %d,%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			s += " -> " + l
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedStanzas(t *testing.T, b []byte) []string {
	t.Helper()
	st, err := odm.ReadAll(bytes.NewReader(b), "x")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range st {
		out = append(out, string(odm.Format([]odm.Stanza{s})))
	}
	sort.Strings(out)
	return out
}

// Runs purge.ksh and undo.ksh for real, with ksh, against the fixture's dev/
// and a fake ODM (testdata/fakeaix): exactly the ghost's entries go, the ODM
// ends up as CuDvDr.after.add, a second run is harmless, undo restores both.
func TestScriptsRun(t *testing.T) {
	t.Parallel()
	ksh := needKsh(t)
	a, p := purgeFixture(t)
	work := t.TempDir()
	odmDir := filepath.Join(work, "objrepos")
	if err := fixtures.WriteAIXDumps(odmDir); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string][]byte{"purge.ksh": p.Script, "undo.ksh": p.Undo} {
		if err := os.WriteFile(filepath.Join(work, name), s, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(script, backup string) (string, error) {
		return runScript(ksh, filepath.Join(work, script), odmDir, a.DevDir, filepath.Join(work, backup))
	}
	before := devState(t, a.DevDir)
	out, err := run("purge.ksh", "backup")
	if err != nil {
		t.Fatalf("purge.ksh: %v\n%s", err, out)
	}
	after := devState(t, a.DevDir)
	var gone []string
	for _, s := range before {
		found := false
		for _, s2 := range after {
			found = found || s2 == s
		}
		if !found {
			gone = append(gone, "dev/"+strings.Fields(s)[0])
		}
	}
	if d := cmp.Diff(a.GhostPaths, gone); d != "" || len(after) != len(before)-len(a.GhostPaths) {
		t.Errorf("purge.ksh removed (-want +got):\n%s", d)
	}
	cudvdr, err := os.ReadFile(filepath.Join(odmDir, "CuDvDr"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cudvdr, p.After) {
		t.Errorf("ODM after purge.ksh differs from CuDvDr.after.add:\n%s", cmp.Diff(string(p.After), string(cudvdr)))
	}
	log, _ := os.ReadFile(filepath.Join(odmDir, "savebase.log"))
	if string(log) != fmt.Sprintf("savebase -o %s -d /dev/fakeblv\n", odmDir) {
		t.Errorf("savebase calls: %q", log)
	}
	for _, f := range []string{"CuDvDr.add", "CuDv.add", "CuAt.add", "CuDep.add", "CuDvDr.objrepos", "dev.ls"} {
		if _, err := os.Stat(filepath.Join(work, "backup", f)); err != nil {
			t.Errorf("backup: %v", err)
		}
	}

	// Reusing a backup directory would overwrite the only copy of the old ODM.
	if out, err := run("purge.ksh", "backup"); err == nil || !strings.Contains(out, "holds a backup already") {
		t.Errorf("purge.ksh reused its backup directory: %v\n%s", err, out)
	}
	// A second run finds everything gone and changes nothing.
	if out, err := run("purge.ksh", "backup2"); err != nil || !strings.Contains(out, "already gone") {
		t.Fatalf("second purge.ksh: %v\n%s", err, out)
	}
	if d := cmp.Diff(after, devState(t, a.DevDir)); d != "" {
		t.Errorf("second run changed dev: %s", d)
	}

	out, err = run("undo.ksh", "")
	if err != nil {
		t.Fatalf("undo.ksh: %v\n%s", err, out)
	}
	if d := cmp.Diff(before, devState(t, a.DevDir)); d != "" {
		t.Errorf("undo.ksh did not recreate dev/ (-before +after):\n%s", d)
	}
	cudvdr, _ = os.ReadFile(filepath.Join(odmDir, "CuDvDr"))
	if d := cmp.Diff(sortedStanzas(t, p.Before), sortedStanzas(t, cudvdr)); d != "" {
		t.Errorf("ODM after undo differs from CuDvDr.before.add: %s", d)
	}
}

// purge.ksh stops before changing anything when the system is not what the
// dumps said: a ddins object allocates the major now, or a node changed.
func TestScriptsRefuse(t *testing.T) {
	t.Parallel()
	ksh := needKsh(t)
	for _, tt := range []struct {
		name   string
		tamper func(a *fixtures.AIX, odmDir string) error
		want   string
	}{
		{"major allocated since", func(a *fixtures.AIX, odmDir string) error {
			f, err := os.OpenFile(filepath.Join(odmDir, "CuDvDr"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("\nCuDvDr:\n\tresource = \"ddins\"\n\tvalue1 = \"newvg\"\n\tvalue2 = \"43\"\n\tvalue3 = \"\"\n")
			return err
		}, "major 43 is allocated by a ddins object now"},
		{"node replaced", func(a *fixtures.AIX, _ string) error {
			if err := os.Remove(filepath.Join(a.DevDir, "ghostlv02")); err != nil {
				return err
			}
			return fixtures.MakeAIXNode(a.DevDir, fixtures.AIXNode{Name: "ghostlv02", Type: 'b', Major: 143, Minor: 2, Mode: 0o600})
		}, "ghostlv02 is not the b special file 43,2 any more"},
		{"link retargeted", func(a *fixtures.AIX, _ string) error {
			if err := os.Remove(filepath.Join(a.DevDir, "ghostlink")); err != nil {
				return err
			}
			return os.Symlink("/dev/hd4", filepath.Join(a.DevDir, "ghostlink"))
		}, "ghostlink no longer points to /dev/ghostlv01"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, p := purgeFixture(t)
			work := t.TempDir()
			odmDir := filepath.Join(work, "objrepos")
			if err := fixtures.WriteAIXDumps(odmDir); err != nil {
				t.Fatal(err)
			}
			if err := tt.tamper(a, odmDir); err != nil {
				t.Fatal(err)
			}
			cudvdr, _ := os.ReadFile(filepath.Join(odmDir, "CuDvDr"))
			before := devState(t, a.DevDir)
			script := filepath.Join(work, "purge.ksh")
			if err := os.WriteFile(script, p.Script, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := runScript(ksh, script, odmDir, a.DevDir, filepath.Join(work, "backup"))
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("want failure %q, got %v:\n%s", tt.want, err, out)
			}
			if d := cmp.Diff(before, devState(t, a.DevDir)); d != "" {
				t.Errorf("dev changed: %s", d)
			}
			if now, _ := os.ReadFile(filepath.Join(odmDir, "CuDvDr")); !bytes.Equal(now, cudvdr) {
				t.Error("ODM changed")
			}
		})
	}
}

// TestPurgeRerun: after a purge removed the /dev entries, a re-run (which
// sees no entries) recognises the --out files it wrote as its own; any
// other content is named.
func TestPurgeRerun(t *testing.T) {
	t.Parallel()
	a, p := purgeFixture(t)
	if len(p.Nodes) == 0 {
		t.Fatal("the fixture's ghost has no /dev entries")
	}
	files := map[string][]byte{odm.FileAfter: p.After, odm.FileBefore: p.Before, odm.FilePurge: p.Script, odm.FileUndo: p.Undo}
	if _, got := p.CheckOutFiles(files); got != "" {
		t.Fatalf("the same purge: %s differs", got)
	}
	for _, rel := range a.GhostPaths {
		if err := os.Remove(filepath.Join(a.Dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	m := loadModel(t, a.ODMDir)
	again, err := odm.PlanPurge(m, odm.Analyze(m, scan(t, a.Dir)), odm.PurgeRequest{AllGhosts: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Nodes) != 0 || bytes.Equal(again.Undo, p.Undo) {
		t.Fatalf("re-run plan still has %d nodes", len(again.Nodes))
	}
	if q, got := again.CheckOutFiles(files); got != "" || !slices.Equal(q.Majors, p.Majors) {
		t.Fatalf("re-run: %s differs", got)
	}
	for _, name := range odm.OutFiles {
		changed := maps.Clone(files)
		changed[name] = append(slices.Clip(files[name]), '\n')
		if _, got := again.CheckOutFiles(changed); got != name {
			t.Errorf("%s changed: got %q", name, got)
		}
		delete(changed, name)
		if _, got := again.CheckOutFiles(changed); got == "" {
			t.Errorf("%s missing: accepted", name)
		}
	}
	// A node added to undo.ksh by hand is read back, so purge.ksh differs.
	edited := maps.Clone(files)
	edited[odm.FileUndo] = bytes.Replace(files[odm.FileUndo], []byte("\nmk_node "), []byte("\nmk_node 'extra' c 43 9 600 0 0\nmk_node "), 1)
	if _, got := again.CheckOutFiles(edited); got != odm.FilePurge {
		t.Errorf("hand-edited undo.ksh: got %q", got)
	}
}
