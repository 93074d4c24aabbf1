package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/plan"
)

func odmFixture(t *testing.T) *fixtures.AIX {
	t.Helper()
	testutil.NeedRoot(t, "the AIX fixture's dev/ is made with mknod")
	a, err := fixtures.BuildAIX(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// odmState is every entry under dirs with type, mode, owner, device number,
// link text and content hash: what "never write a byte" must keep.
func odmState(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			s := fmt.Sprintf("%v %d:%d rdev=%d", fi.Mode(), st.Uid, st.Gid, st.Rdev)
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				s += " -> " + l
			case fi.Mode().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				s += fmt.Sprintf(" %x", sha256.Sum256(b))
			}
			out[p] = s
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type odmMajorJSON struct {
	Major   int     `json:"major"`
	Verdict string  `json:"verdict"`
	Owner   *string `json:"owner"`
	Devno   []struct {
		Minor  int    `json:"minor"`
		Device string `json:"device"`
	} `json:"devno"`
	Nodes []struct {
		Path  string `json:"path"`
		Type  string `json:"type"`
		Minor int    `json:"minor"`
	} `json:"nodes"`
	Reason string `json:"reason"`
}

func TestOdmGhostsReadOnly(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	// A ghost-major node below the top level named like a live top-level
	// one: an ls -lR listing must not turn dev/sub/rmt0 into dev/rmt0
	// (acceptance F-odm-1).
	if err := fixtures.MakeAIXNode(a.DevDir, fixtures.AIXNode{Name: "sub/rmt0", Type: 'c', Major: 43, Minor: 7, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	lsTo := func(flags string) string {
		listing := filepath.Join(t.TempDir(), "dev.ls")
		ls := exec.Command("ls", flags, a.DevDir)
		ls.Env = append(os.Environ(), "LC_ALL=C")
		b, err := ls.Output()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(listing, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return listing
	}
	listing, recursive := lsTo("-l"), lsTo("-lR")
	before := odmState(t, a.Dir, a.ODMDir)
	for _, src := range [][]string{{"--dev", a.DevDir}, {"--dev-listing", listing}, {"--dev-listing", recursive}} {
		code, stdout, stderr := runCLI(append([]string{"odm", "ghosts", "--odm", a.ODMDir, "--json"}, src...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", src, code, stderr)
		}
		var doc struct {
			SchemaVersion int            `json:"schema_version"`
			Majors        []odmMajorJSON `json:"majors"`
		}
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		verdicts := map[int]string{}
		for _, m := range doc.Majors {
			verdicts[m.Major] = m.Verdict
			if m.Major == 43 {
				var paths []string
				for _, n := range m.Nodes {
					paths = append(paths, n.Path)
				}
				if d := cmp.Diff(a.GhostPaths, paths); d != "" || m.Owner != nil || len(m.Devno) != 3 {
					t.Errorf("%v: ghost 43: %+v %s", src, m, d)
				}
			}
		}
		want := map[int]string{19: "owned", 20: "orphan-devno", 36: "owned", 37: "owned", 43: "ghost", 44: "orphan-vg", 45: "owned", 143: "owned", 10: "base"}
		for major, v := range want {
			if verdicts[major] != v {
				t.Errorf("%v: major %d: %q, want %q", src, major, verdicts[major], v)
			}
		}
	}
	code, stdout, _ := runCLI("odm", "ghosts", "--odm", a.ODMDir, "--dev", a.DevDir)
	for _, want := range []string{"43     ghost", "odmdelete -o CuDvDr -q \"resource='devno' and value1='43'\"", "rm /dev/rghostlv02", "savebase", "--major 43"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q (exit %d):\n%s", want, code, stdout)
		}
	}
	if strings.Contains(stdout, "rm /dev/rmt0") || strings.Contains(stdout, "decoy143\n") {
		t.Errorf("repair touches the decoy:\n%s", stdout)
	}
	code, stdout, _ = runCLI("odm", "ghosts", "--odm", a.ODMDir, "--dev-listing", recursive)
	if code != 0 || !strings.Contains(stdout, "rm /dev/rghostlv02") || strings.Contains(stdout, "rmt0") || strings.Contains(stdout, "sub/") {
		t.Errorf("ls -lR listing (exit %d): a node below /dev's top level reached the repair:\n%s", code, stdout)
	}
	if d := cmp.Diff(before, odmState(t, a.Dir, a.ODMDir)); d != "" {
		t.Errorf("odm ghosts wrote something:\n%s", d)
	}
}

func TestOdmBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "CuDvDr"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"43\"\n\tvalue2 = \"0\"\n\tvalue3 = \"x\"\n"
	for _, tt := range []struct {
		name, content, want string
	}{
		{"unbalanced", "\nCuDvDr:\n\tresource = \"devno\n", "CuDvDr line 3: unbalanced quote"},
		{"before-header", "\tresource = \"devno\"\n", "CuDvDr line 1: descriptor resource before a class header"},
		{"nul", "\nCuDvDr:\n\tres\x00ource = \"devno\"\n", "CuDvDr line 3: NUL byte"},
		{"huge", "\nCuDvDr:\n\tvalue3 = \"" + strings.Repeat("v", 10<<20) + "\"\n", "CuDvDr line 3: line longer than"},
		{"octal", strings.Replace(good, `"43"`, `"043"`, 1), "CuDvDr line 4: value1 major: \"043\": not a strict decimal number"},
		{"empty", "", "CuDvDr: CuDvDr dump with no objects"},
		{"devno only", good, "CuDvDr: CuDvDr dump with no ddins object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := write(tt.name, tt.content)
			code, _, stderr := runCLI("odm", "ghosts", "--odm", d)
			if code != 2 || !strings.Contains(stderr, filepath.Join(d, tt.want)) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tt.want)
			}
		})
	}
	ok := write("ok", good)
	for _, argv := range [][]string{
		{"odm", "ghosts"},
		{"odm", "ghosts", "--odm", filepath.Join(dir, "missing")},
		{"odm", "ghosts", "--odm", t.TempDir()},
		{"odm", "ghosts", "--odm", ok, "--dev", "/x", "--dev-listing", "/y"},
		{"odm", "ghosts", "--odm", ok, "stray"},
		{"odm", "purge", "--odm", ok, "--dev", dir, "--out", dir},
		{"odm", "purge", "--odm", ok, "--dev", dir, "--out", dir, "--major", "0x2b"},
		{"odm", "purge", "--odm", ok, "--dev", dir, "--out", dir, "--major", "010"},
		{"odm", "purge", "--odm", ok, "--dev", dir, "--out", filepath.Join(dir, "nope", "out"), "--major", "43"},
	} {
		if code, _, stderr := runCLI(argv...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", argv, code, stderr)
		}
	}
}

func TestOdmPurgeRefusals(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	out := t.TempDir()
	before := odmState(t, a.Dir, a.ODMDir, out)
	for _, tt := range []struct {
		major, want string
	}{
		{"143", "major 143 is owned, not a ghost"},
		{"44", "major 44 is orphan-vg, not a ghost"},
		{"45", "major 45 is owned, not a ghost"},
		{"10", "major 10 is base"},
		{"99", "the data contradicts --major 99"},
		{"43,143", "major 143 is owned"},
	} {
		code, _, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--major", tt.major, "--yes")
		if code != 3 || !strings.Contains(stderr, tt.want) {
			t.Errorf("--major %s: exit %d %q, want 3 %q", tt.major, code, stderr, tt.want)
		}
	}
	if code, _, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", "/dev", "--out", out, "--major", "43", "--yes"); code != 3 || !strings.Contains(stderr, "rescue system's own") {
		t.Errorf("--dev /dev: exit %d %q", code, stderr)
	}
	// Without a CuDv dump an Available device cannot be ruled out.
	noCuDv := t.TempDir()
	for _, c := range []string{"CuDvDr", "CuAt"} {
		b, _ := os.ReadFile(filepath.Join(a.ODMDir, c))
		if err := os.WriteFile(filepath.Join(noCuDv, c), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := runCLI("odm", "purge", "--odm", noCuDv, "--dev", a.DevDir, "--output", out, "--major", "43", "--yes"); code != 3 || !strings.Contains(stderr, "CuDv dump") {
		t.Errorf("no CuDv: exit %d %q", code, stderr)
	}
	if d := cmp.Diff(before, odmState(t, a.Dir, a.ODMDir, out)); d != "" {
		t.Errorf("a refused purge wrote something:\n%s", d)
	}
}

func TestOdmPurgeDryRun(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	out := t.TempDir()
	before := odmState(t, a.Dir, a.ODMDir, out)
	code, stdout, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--all-ghosts", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	all := stdout + stderr
	for _, want := range []string{"+++ b/purge.ksh", "+\todmdelete -o CuDvDr -q", "+++ b/CuDvDr.after.add", "+++ b/undo.ksh", "dev/rghostlv02", "dev/ghostlink"} {
		if !strings.Contains(all, want) {
			t.Errorf("dry run does not show %q", want)
		}
	}
	if d := cmp.Diff(before, odmState(t, a.Dir, a.ODMDir, out)); d != "" {
		t.Errorf("dry run wrote something:\n%s", d)
	}
}

// purge with --out outside the AIX root (two ops) and inside it (one op):
// exactly the ghost's entries go, the files are written, journal undo puts
// every node back identically.
func TestOdmPurgeAndUndo(t *testing.T) {
	t.Parallel()
	for _, inside := range []bool{false, true} {
		t.Run(fmt.Sprintf("out-inside-root=%v", inside), func(t *testing.T) {
			a := odmFixture(t)
			out := t.TempDir()
			if inside {
				out = filepath.Join(a.Dir, "var/adm/xsrescue")
				if err := os.MkdirAll(out, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			before := odmState(t, a.DevDir)
			code, stdout, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--major", "43", "--yes", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var doc struct {
				Majors  []odmMajorJSON `json:"majors"`
				Removed []struct {
					Path string `json:"path"`
				} `json:"removed"`
				Files []string `json:"files"`
			}
			m := parseMutation(t, stdout, &doc)
			wantOps := 2
			if inside {
				wantOps = 1
			}
			if len(m.Ops) != wantOps || len(doc.Majors) != 1 || doc.Majors[0].Major != 43 || len(doc.Files) != 4 || m.DryRun || *m.Target.Root != a.Dir {
				t.Fatalf("purge document: %+v\n%s", doc, stdout)
			}
			// --out outside the root is another target: its files are
			// named by their absolute paths.
			for _, c := range m.Changes {
				if c.Action == "create" && filepath.IsAbs(c.Path) == inside {
					t.Errorf("change %s (--out inside the root: %v)", c.Path, inside)
				}
			}
			var removed []string
			for _, r := range doc.Removed {
				removed = append(removed, r.Path)
			}
			sort.Strings(removed)
			if d := cmp.Diff(a.GhostPaths, removed); d != "" {
				t.Errorf("removed: %s", d)
			}
			after := odmState(t, a.DevDir)
			var gone []string
			for p, s := range before {
				if after[p] != s {
					rel, _ := filepath.Rel(a.Dir, p)
					gone = append(gone, rel)
				}
			}
			sort.Strings(gone)
			if d := cmp.Diff(a.GhostPaths, gone); d != "" || len(after) != len(before)-len(a.GhostPaths) {
				t.Errorf("changed entries (-want +got):\n%s", d)
			}
			for _, f := range doc.Files {
				if _, err := os.Stat(f); err != nil {
					t.Error(err)
				}
			}
			orig, _ := os.ReadFile(filepath.Join(a.ODMDir, "CuDvDr"))
			if b, _ := os.ReadFile(filepath.Join(out, "CuDvDr.before.add")); !bytes.Equal(b, orig) {
				t.Error("CuDvDr.before.add differs from the dump")
			}
			if b, _ := os.ReadFile(filepath.Join(out, "CuDvDr.after.add")); bytes.Contains(b, []byte(`value1 = "43"`)) || !bytes.Contains(b, []byte(`value1 = "143"`)) {
				t.Errorf("CuDvDr.after.add:\n%s", b)
			}
			if ksh, err := exec.LookPath("ksh"); err == nil {
				for _, s := range []string{"purge.ksh", "undo.ksh"} {
					if o, err := exec.Command(ksh, "-n", filepath.Join(out, s)).CombinedOutput(); err != nil {
						t.Errorf("ksh -n %s: %v %s", s, err, o)
					}
				}
			}
			// A second purge: the nodes are gone and --out holds exactly its
			// files: already as requested.
			if code, stdout, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--output", out, "--major", "43", "--yes"); code != 0 || !strings.Contains(stdout, "already as requested") {
				t.Errorf("second purge into the same --out: exit %d %s %s", code, stdout, stderr)
			}
			code, _, stderr = runCLI(append(m.Op.Undo[1:], "--yes")...)
			if code != 0 {
				t.Fatalf("journal undo: exit %d: %s", code, stderr)
			}
			if d := cmp.Diff(before, odmState(t, a.DevDir)); d != "" {
				t.Errorf("undo did not recreate dev/ identically:\n%s", d)
			}
		})
	}
}

// TestOdmPurgeRerun: re-running a purge that succeeded is "already as
// requested" (exit 0, nothing written), also for a major whose only trace
// was a /dev node; --out content that is not this purge's is refused (exit
// 3) naming the file, and so is a ghost node that came back.
func TestOdmPurgeRerun(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	if err := syscall.Mknod(filepath.Join(a.DevDir, "orphan50"), syscall.S_IFCHR|0o644, 50<<8|3); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	j := filepath.Join(t.TempDir(), "j.db")
	purge := func(extra ...string) (int, string, string) {
		return runCLI(append([]string{"odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--yes", "--journal", j}, extra...)...)
	}
	if code, _, stderr := purge("--major", "43,50"); code != 0 {
		t.Fatalf("first purge: exit %d %s", code, stderr)
	}
	if _, err := os.Lstat(filepath.Join(a.DevDir, "orphan50")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("orphan50 not removed: %v", err)
	}
	done := odmState(t, a.Dir, out)
	for _, argv := range [][]string{{"--major", "43,50"}, {"--major", "50,43"}, {"--all-ghosts"}, {"--major", "43,50", "--json"}} {
		code, stdout, stderr := purge(argv...)
		if code != 0 || !strings.Contains(argv[len(argv)-1], "json") && !strings.Contains(stdout, "already as requested") {
			t.Errorf("re-run %v: exit %d %s %s", argv, code, stdout, stderr)
		}
		if argv[len(argv)-1] == "--json" && !strings.Contains(stdout, `"ops": []`) {
			t.Errorf("re-run --json: %s", stdout)
		}
	}
	if d := cmp.Diff(done, odmState(t, a.Dir, out)); d != "" {
		t.Fatalf("a re-run changed something:\n%s", d)
	}
	undo := filepath.Join(out, "undo.ksh")
	orig, err := os.ReadFile(undo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(undo, append(orig, "# edited\n"...), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := purge("--major", "43,50"); code != 3 || !strings.Contains(stderr, "already holds undo.ksh, which differs") {
		t.Errorf("edited undo.ksh: exit %d %s", code, stderr)
	}
	if err := os.WriteFile(undo, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := purge("--major", "43,51"); code != 3 || !strings.Contains(stderr, "differs from what this purge writes") {
		t.Errorf("another major set: exit %d %s", code, stderr)
	}
	if err := syscall.Mknod(filepath.Join(a.DevDir, "orphan50"), syscall.S_IFCHR|0o644, 50<<8|3); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := purge("--major", "43"); code != 3 || !strings.Contains(stderr, "major 50) is back") {
		t.Errorf("node back: exit %d %s", code, stderr)
	}
}

// With no ghost left, --all-ghosts is "already as requested": exit 0, nothing
// written, empty ops and files.
func TestOdmPurgeNothingToDo(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	b, err := os.ReadFile(filepath.Join(a.ODMDir, "CuDvDr"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, st := range strings.SplitAfter(string(b), "\n\nCuDvDr:") {
		if !strings.Contains(st, "value1 = \"43\"") {
			kept = append(kept, st)
		}
	}
	cleaned := strings.Join(kept, "")
	if !strings.HasSuffix(cleaned, "\n") {
		cleaned += "\n"
	}
	if err := os.WriteFile(filepath.Join(a.ODMDir, "CuDvDr"), []byte(cleaned), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range a.GhostPaths {
		if err := os.Remove(filepath.Join(a.Dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(a.DevDir, "sub/deep43")); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	before := odmState(t, a.Dir, a.ODMDir, out)
	code, stdout, stderr := runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--all-ghosts", "--yes", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := `{"changed":false,"changes":[],"details":{"files":[],"majors":[],"removed":[]},"dry_run":false,"op":null,"ops":[],"problems":[],"schema_version":1,` +
		`"target":{"disk":null,"partition":null,"path":null,"root":"` + a.Dir + `"}}`
	var doc any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(doc); string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if d := cmp.Diff(before, odmState(t, a.Dir, a.ODMDir, out)); d != "" {
		t.Errorf("wrote something:\n%s", d)
	}
}

// TestOdmGhostsGolden: the verdict table, the repair and the JSON document
// of the fixture's dumps (CuDvDr, CuDv, CuAt, CuDep, PdDv) with its `ls -l
// /dev` listing, against testdata/odm_ghosts.*; no mknod, so no root needed.
// Without PdDv, the idle driver's major 48 cannot be told from the vanished
// VG of 46. XSRESCUE_UPDATE_GOLDEN=1 rewrites the files.
func TestOdmGhostsGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	odmDir, listing := filepath.Join(dir, "odm"), filepath.Join(dir, "dev.ls")
	if err := fixtures.WriteAIXDumps(odmDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(listing, []byte(fixtures.AIXListing()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		golden string
		argv   []string
	}{
		{"odm_ghosts.txt", []string{"odm", "ghosts", "--odm", odmDir, "--dev-listing", listing}},
		{"odm_ghosts.json", []string{"odm", "ghosts", "--odm", odmDir, "--dev-listing", listing, "--json"}},
	} {
		code, stdout, stderr := runCLI(tt.argv...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.argv, code, stderr)
		}
		if !strings.Contains(stderr, filepath.Join(odmDir, "PdDv")+" (3 objects)") && !strings.HasSuffix(tt.golden, ".json") {
			t.Errorf("the PdDv dump is not named among the inputs read: %s", stderr)
		}
		assertGolden(t, filepath.Join("testdata", tt.golden), stdout)
	}
	if err := os.Remove(filepath.Join(odmDir, "PdDv")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("odm", "ghosts", "--odm", odmDir, "--dev-listing", listing, "--json")
	var doc struct {
		Majors []odmMajorJSON `json:"majors"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, stderr)
	}
	for _, m := range doc.Majors {
		if (m.Major == 46 || m.Major == 48) && (m.Verdict != "orphan-vg" || !strings.Contains(m.Reason, "no PdDv dump given")) {
			t.Errorf("without PdDv, major %d: %s: %s", m.Major, m.Verdict, m.Reason)
		}
	}
}

// assertGolden compares got with the file at path; XSRESCUE_UPDATE_GOLDEN=1
// rewrites the file first.
func assertGolden(t *testing.T, path, got string) {
	t.Helper()
	if os.Getenv("XSRESCUE_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-golden +got):\n%s", path, d)
	}
}

// TestOdmPurgeOutDir: a missing --out is created once the purge is
// confirmed (its parent must exist, else exit 2), never by --dry-run or a
// refusal; an --out that holds anything else is refused (exit 3) naming the
// file. With --out inside the AIX root, the new directory takes the one op.
func TestOdmPurgeOutDir(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	tmp := t.TempDir()
	purge := func(out string, extra ...string) (int, string, string) {
		return runCLI(append([]string{"odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--major", "43"}, extra...)...)
	}
	before := odmState(t, a.Dir, a.ODMDir, tmp)

	code, _, stderr := purge(filepath.Join(tmp, "no/such/out"), "--yes")
	if code != 2 || !strings.Contains(stderr, "its parent "+filepath.Join(tmp, "no/such")+" is not an existing directory") {
		t.Errorf("missing parent: exit %d %s", code, stderr)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := purge(file, "--yes"); code != 2 || !strings.Contains(stderr, "not a directory") {
		t.Errorf("--out a file: exit %d %s", code, stderr)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	code, stdout, stderr := purge(out, "--dry-run")
	for _, want := range []string{"# create directory " + out, "+++ b/purge.ksh", "+\todmdelete -o CuDvDr -q", "remove block device dev/ghostlv01"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("dry run into a new --out lacks %q (exit %d):\n%s%s", want, code, stdout, stderr)
		}
	}
	if code, _, stderr := purge(out); code != 3 || !strings.Contains(stderr, "add --yes") {
		t.Errorf("no --yes, stdin not a terminal: exit %d %s", code, stderr)
	}
	withOther := filepath.Join(tmp, "busy")
	if err := os.Mkdir(withOther, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withOther, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before[withOther] = odmState(t, withOther)[withOther]
	before[filepath.Join(withOther, "notes.txt")] = odmState(t, withOther)[filepath.Join(withOther, "notes.txt")]
	if code, _, stderr := purge(withOther, "--yes"); code != 3 || !strings.Contains(stderr, "already holds notes.txt, which this purge does not write") {
		t.Errorf("--out with other content: exit %d %s", code, stderr)
	}
	if d := cmp.Diff(before, odmState(t, a.Dir, a.ODMDir, tmp)); d != "" {
		t.Fatalf("a dry run or refusal wrote something:\n%s", d)
	}

	// Inside the AIX root: var/adm exists, var/adm/xsrescue does not.
	if err := os.MkdirAll(filepath.Join(a.Dir, "var/adm"), 0o755); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(a.Dir, "var/adm/xsrescue")
	code, stdout, stderr = purge(inside, "--yes", "--json")
	var doc struct {
		Files []string `json:"files"`
	}
	m := parseMutation(t, stdout, &doc)
	if code != 0 || len(m.Ops) != 1 || len(doc.Files) != 4 {
		t.Fatalf("purge into a new --out: exit %d %s %s", code, stdout, stderr)
	}
	for _, f := range doc.Files {
		if filepath.Dir(f) != inside {
			t.Errorf("%s not in %s", f, inside)
		}
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if !hasChange(m, plan.External, "var/adm/xsrescue") {
		t.Errorf("the op does not record the directory it created: %+v", m.Changes)
	}
	// Undo removes the files, then the directory the purge created.
	undoOps(t, m)
	if _, err := os.Lstat(inside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after undo %s is still there (%v)", inside, err)
	}
	if _, err := os.Stat(filepath.Dir(inside)); err != nil {
		t.Errorf("undo took the directory's parent too: %v", err)
	}

	// Outside the root: created, then the usual two ops; the first, the
	// files' (in the new directory's own target), records it.
	code, stdout, stderr = purge(out, "--yes", "--json")
	m = parseMutation(t, stdout, nil)
	if code != 0 || !strings.Contains(stderr, "created "+out) || len(m.Ops) != 2 || !hasChange(m, plan.External, out) {
		t.Fatalf("purge into a new --out outside the root: exit %d %s %s", code, stdout, stderr)
	}
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 4 {
		t.Errorf("%s holds %v (%v)", out, ents, err)
	}
	// Something else put there since: undo removes only the op's files,
	// and the directory stays.
	mine := filepath.Join(out, "mine.txt")
	if err := os.WriteFile(mine, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	undoOps(t, m)
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 1 || ents[0].Name() != "mine.txt" {
		t.Errorf("after undo %s holds %v (%v), want only mine.txt", out, ents, err)
	}

	// A directory that existed (empty) before the purge: undo leaves it.
	if err := os.Remove(mine); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = purge(out, "--yes", "--json")
	m = parseMutation(t, stdout, nil)
	if code != 0 || hasChange(m, plan.External, out) {
		t.Fatalf("purge into an existing empty --out: exit %d %s %s", code, stdout, stderr)
	}
	undoOps(t, m)
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 0 {
		t.Errorf("undo of a purge into an existing %s: %v (%v), want it there and empty", out, ents, err)
	}

	// An op from before the record (the same op without it): undo leaves
	// the directory, as it always did.
	old := filepath.Join(tmp, "old")
	code, stdout, stderr = purge(old, "--yes", "--json")
	m = parseMutation(t, stdout, nil)
	if code != 0 || !hasChange(m, plan.External, old) {
		t.Fatalf("purge into a new --out: exit %d %s %s", code, stdout, stderr)
	}
	db, err := sql.Open("sqlite3", m.Ops[0].Journal.Path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec("DELETE FROM changes WHERE op = ? AND kind = 'external'", m.Ops[0].ID)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("removing the record: %v (%d rows)", err, n)
	}
	db.Close()
	undoOps(t, m)
	if ents, err := os.ReadDir(old); err != nil || len(ents) != 0 {
		t.Errorf("undo of an op without the record: %s holds %v (%v), want it there and empty", old, ents, err)
	}
}

// hasChange reports whether the document lists a change with that action
// and path.
func hasChange(m *mutationOut, action plan.Kind, path string) bool {
	return slices.ContainsFunc(m.Changes, func(c mutationChange) bool { return c.Action == action && c.Path == path })
}

// undoOps undoes every op of the document, newest first, by the undo
// command each op printed.
func undoOps(t *testing.T, m *mutationOut) {
	t.Helper()
	for i := len(m.Ops) - 1; i >= 0; i-- {
		if code, _, stderr := runCLI(append(m.Ops[i].Undo[1:], "--yes")...); code != 0 {
			t.Fatalf("undo op %d: exit %d %s", m.Ops[i].ID, code, stderr)
		}
	}
}

// TestOdmFIFODump: a FIFO (or directory) where a class dump is looked for
// is invalid input naming it, for every class — never taken for an absent
// dump (which skipped the CuDv checks, or said "file does not exist" for
// CuDvDr), never read (which would hang).
func TestOdmFIFODump(t *testing.T) {
	t.Parallel()
	for _, class := range []string{"CuDvDr", "CuDv", "PdDv"} {
		a := odmFixture(t)
		dump := filepath.Join(a.ODMDir, class)
		os.Remove(dump)
		os.Remove(dump + ".odmget")
		os.Remove(dump + ".add")
		if err := syscall.Mkfifo(dump, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, argv := range [][]string{
			{"odm", "ghosts", "--odm", a.ODMDir, "--dev", a.DevDir},
			{"odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", t.TempDir(), "--all-ghosts", "--dry-run"},
		} {
			code, _, errOut := runCLI(argv...)
			if code != 2 || !strings.Contains(errOut, dump+" is a fifo, not a file") {
				t.Errorf("%s FIFO, %s: exit %d %s", class, argv[1], code, errOut)
			}
		}
	}
}

// TestOdmPurgeOutThroughLink: an --output inside the AIX root is the AIX
// system's path. Under an absolute link to a directory of the rescue host,
// nothing is created on the host (acceptance round 21 saw mkdir there); an
// absolute link whose target exists inside the root leads there.
func TestOdmPurgeOutThroughLink(t *testing.T) {
	t.Parallel()
	a := odmFixture(t)
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "adm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(a.Dir, "var")); err != nil {
		t.Fatal(err)
	}
	purge := func(out string) (int, string, string) {
		return runCLI("odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--output", out, "--major", "43", "--yes")
	}
	code, _, stderr := purge(filepath.Join(a.Dir, "var/adm/xs"))
	if code != 2 || !strings.Contains(stderr, "inside the AIX root (symlinks followed as the AIX system does)") {
		t.Errorf("--output under a link to the host: exit %d %s", code, stderr)
	}
	if _, err := os.Lstat(filepath.Join(host, "adm/xs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the rescue host's %s/adm/xs was created: %v", host, err)
	}

	// The same link target, made inside the AIX root: the purge writes there.
	inRoot := filepath.Join(a.Dir, host, "adm")
	if err := os.MkdirAll(inRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := purge(filepath.Join(a.Dir, "var/adm/xs")); code != 0 {
		t.Fatalf("--output under a link inside the root: exit %d %s %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(inRoot, "xs", "purge.ksh")); err != nil {
		t.Errorf("purge.ksh not in the AIX root's %s/adm/xs: %v", host, err)
	}
	if _, err := os.Lstat(filepath.Join(host, "adm/xs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the rescue host's %s/adm/xs was created: %v", host, err)
	}
}
