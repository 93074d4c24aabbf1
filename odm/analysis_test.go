package odm_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/odm"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// aixFixture builds the AIX fixture and returns it with its model and scan.
func aixFixture(t *testing.T) (*fixtures.AIX, *odm.Model, []odm.Node) {
	t.Helper()
	testutil.NeedRoot(t, "the fixture's dev/ is made with mknod")
	a, err := fixtures.BuildAIX(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a, loadModel(t, a.ODMDir), scan(t, a.Dir)
}

func loadModel(t *testing.T, dir string) *odm.Model {
	t.Helper()
	d, err := odm.LoadDumps(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func scan(t *testing.T, rootDir string) []odm.Node {
	t.Helper()
	root, err := target.OpenRoot(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	nodes, err := odm.ScanDev(root, "dev")
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func TestAnalyzeFixture(t *testing.T) {
	t.Parallel()
	a, m, nodes := aixFixture(t)
	majors := odm.Analyze(m, nodes)
	got := map[int]odm.Verdict{}
	for _, r := range majors {
		got[r.Major] = r.Verdict
	}
	want := map[int]odm.Verdict{
		0: odm.Base, 1: odm.Base, 2: odm.Base, 3: odm.Base, 4: odm.Base, 5: odm.Base, 6: odm.Base,
		7: odm.Base, 8: odm.Base, 9: odm.Base, 10: odm.Base,
		19: odm.Owned, 20: odm.OrphanDevno, 36: odm.Owned, 37: odm.Owned, 43: odm.Ghost,
		44: odm.OrphanVG, 45: odm.Owned, 46: odm.OrphanVG, 48: odm.Owned, 143: odm.Owned,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	for _, r := range majors {
		var paths []string
		for _, n := range r.Nodes {
			paths = append(paths, n.Path)
		}
		switch r.Major {
		case a.Ghost:
			if r.Owner != nil {
				t.Errorf("ghost has owner %q", *r.Owner)
			}
			if d := cmp.Diff(a.GhostPaths, paths); d != "" {
				t.Errorf("ghost nodes (-want +got):\n%s", d)
			}
			wantDevno := []odm.DevnoRef{{0, "ghostvg"}, {1, "ghostlv01"}, {2, "ghostlv02"}}
			if d := cmp.Diff(wantDevno, r.Devno); d != "" {
				t.Errorf("ghost devno: %s", d)
			}
		case a.Decoy:
			if d := cmp.Diff([]string{"dev/decoy143", "dev/rmt0", "dev/rmt0.1"}, paths); d != "" {
				t.Errorf("decoy nodes: %s", d)
			}
		case 37:
			if !strings.Contains(r.Reason, "altinst_rootvg") {
				t.Errorf("altinst_rootvg reason: %s", r.Reason)
			}
		case 45:
			if !strings.Contains(r.Reason, "hdisk9") || !strings.Contains(r.Reason, "Available") {
				t.Errorf("in-use reason: %s", r.Reason)
			}
		case 46:
			if !strings.Contains(r.Reason, "no devno object, no /dev node") || strings.Contains(r.Reason, "PdDv") {
				t.Errorf("vanished VG reason: %s", r.Reason)
			}
		case 48:
			if !strings.Contains(r.Reason, "driver idledd (a PdDv DvDr)") {
				t.Errorf("idle driver reason: %s", r.Reason)
			}
		}
	}
}

func TestScanDevNodes(t *testing.T) {
	t.Parallel()
	_, _, nodes := aixFixture(t)
	byPath := map[string]odm.Node{}
	for _, n := range nodes {
		byPath[n.Path] = n
	}
	for _, tt := range []struct {
		path         string
		typ          odm.NodeType
		major, minor int
	}{
		{"dev/ghostlv01", odm.Block, 43, 1},
		{"dev/rghostlv01", odm.Char, 43, 1},
		{"dev/ghostlink", odm.Symlink, 43, 1},  // absolute link /dev/ghostlv01
		{"dev/rghostlink", odm.Symlink, 43, 2}, // relative link
		{"dev/bootlink", odm.Symlink, 10, 1},
		{"dev/decoy143", odm.Block, 143, 43},
	} {
		n, ok := byPath[tt.path]
		if !ok || n.Type != tt.typ || n.Major != tt.major || n.Minor != tt.minor {
			t.Errorf("%s: got %+v", tt.path, n)
		}
	}
	for _, p := range []string{"dev/sub/deep43", "dev/escape", "dev/loop", "dev/README", "dev/sub"} {
		if _, ok := byPath[p]; ok {
			t.Errorf("%s must not be listed", p)
		}
	}
	if n := byPath["dev/ghostlv02"]; n.UID != 2 || n.GID != 2 || n.Mode.Perm() != 0o600 {
		t.Errorf("owner/mode not recorded: %+v", n)
	}
}

// An `ls -l` listing of the same dev/ gives the same nodes as the scan.
func TestParseListingMatchesScan(t *testing.T) {
	t.Parallel()
	a, _, nodes := aixFixture(t)
	cmd := exec.Command("ls", "-l", a.DevDir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	listing, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := odm.ParseListing(strings.NewReader(string(listing)), "dev.ls")
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		Path         string
		Type         odm.NodeType
		Major, Minor int
	}
	keys := func(ns []odm.Node) []key {
		var k []key
		for _, n := range ns {
			k = append(k, key{n.Path, n.Type, n.Major, n.Minor})
		}
		return k
	}
	if d := cmp.Diff(keys(nodes), keys(parsed)); d != "" {
		t.Errorf("listing vs scan (-scan +listing):\n%s", d)
	}
	// The fixture's own listing (used where mknod is not available) too.
	own, err := odm.ParseListing(strings.NewReader(fixtures.AIXListing()), "fixture.ls")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(keys(nodes), keys(own)); d != "" {
		t.Errorf("fixtures.AIXListing vs scan (-scan +listing):\n%s", d)
	}
}

func TestParseListingAIX(t *testing.T) {
	t.Parallel()
	in := `total 0
crw-rw----    1 root     system       10,  0 Nov 22 01:02 rootvg
brw-rw----    1 root     system       43,  1 Nov 22 01:02 ghostlv01
crw-rw----    1 root     system       43,  1 Nov 22 01:02 rghostlv01
crw-rw-rw-    1 root     system      143, 43 Nov 22 01:02 decoy143
crw-rw----    1 root     system       38,128 Nov 22  2025 rhdisk128
drwxr-xr-x    2 root     system          512 Nov 22 01:02 pts
-rw-r--r--    1 root     system           12 Nov 22 01:02 README
lrwxrwxrwx    1 root     system           14 Nov 22 01:02 ghostlink -> /dev/ghostlv01
lrwxrwxrwx    1 root     system            9 Nov 22 01:02 elsewhere -> /tmp/x
`
	nodes, err := odm.ParseListing(strings.NewReader(in), "dev.ls")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, strings.Join([]string{n.Path, string(n.Type), strconv.Itoa(n.Major), strconv.Itoa(n.Minor)}, " "))
	}
	want := []string{"dev/rootvg char 10 0", "dev/rhdisk128 char 38 128", "dev/ghostlink symlink 43 1",
		"dev/ghostlv01 block 43 1", "dev/rghostlv01 char 43 1", "dev/decoy143 char 143 43"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	for _, bad := range []struct{ in, want string }{
		{"total 0\ncrw-rw---- 1 root system 010, 0 Nov 22 01:02 x\n", "dev.ls line 2: major: \"010\""},
		{"crw-rw---- 1 root system 0x2b, 0 Nov 22 01:02 x\n", "dev.ls line 1: major"},
		{"crw-rw---- 1 root system 43,00 Nov 22 01:02 x\n", "dev.ls line 1: minor"},
		{"crw-rw---- 1 root system 512 Nov 22 01:02 x\n", "dev.ls line 1: special file without"},
		{"crw-rw---- 1 root\n", "dev.ls line 1: too few columns"},
		{"crw-rw---- 1 root system 4\x00, 0 Nov 22 01:02 x\n", "dev.ls line 1: NUL byte"},
	} {
		_, err := odm.ParseListing(strings.NewReader(bad.in), "dev.ls")
		if err == nil || !errors.Is(err, odm.ErrSyntax) || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want %q", bad.in, err, bad.want)
		}
	}
}

// TestParseListingRecursive: in an ls -lR /dev listing only the top level
// counts; /dev/old/lv01 (44,1) must never be reported as /dev/lv01, whose
// live node is 43,1 (acceptance F-odm-1).
func TestParseListingRecursive(t *testing.T) {
	t.Parallel()
	const top = `/dev:
total 8
brw-rw----    1 root     system       43,  1 Nov 15 2019  lv01
crw-rw----    1 root     system       44,  0 Nov 15 2019  ghostvg
drwxr-xr-x    2 root     system          512 Jan 01 2020  old
lrwxrwxrwx    1 root     system            6 Jan 01 2020  ol -> old/lv01
`
	for _, tc := range []struct{ name, sub string }{
		{"abs", "\n/dev/old:\ntotal 0\nbrw-rw----    1 root     system       44,  1 Nov 15 12:34 lv01\n"},
		{"nested dev", "\n/dev/old/dev:\nbrw-rw----    1 root     system       44,  1 Nov 15 12:34 lv01\n"},
	} {
		nodes, err := odm.ParseListing(strings.NewReader(top+tc.sub), "l4.ls")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, n := range nodes {
			got = append(got, fmt.Sprintf("%s %s %d,%d", n.Path, n.Type, n.Major, n.Minor))
		}
		want := []string{"dev/lv01 block 43,1", "dev/ghostvg char 44,0"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	inDev := ".:\nbrw-rw---- 1 root system 43, 1 Nov 15 2019 lv01\n\n./old:\nbrw-rw---- 1 root system 44, 1 Nov 15 2019 lv01\n"
	if nodes, err := odm.ParseListing(strings.NewReader(inDev), "l.ls"); err != nil || len(nodes) != 1 || nodes[0].Major != 43 {
		t.Errorf("ls -lR inside /dev: %+v, %v", nodes, err)
	}
	for _, bad := range []struct{ in, want string }{
		{"/tmp:\nbrw-rw---- 1 root system 44, 1 Nov 15 2019 lv01\n", `l.ls line 1: listing of "/tmp", not of /dev`},
		{"/dev:\nbrw-rw---- 1 root system 43, 1 Nov 15 2019 lv01\n\n/dev:\nbrw-rw---- 1 root system 44, 1 Nov 15 2019 lv01\n",
			"l.ls line 5: /dev/lv01 listed twice (line 2)"},
	} {
		_, err := odm.ParseListing(strings.NewReader(bad.in), "l.ls")
		if err == nil || !errors.Is(err, odm.ErrSyntax) || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestModelErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, in, want string }{
		{"octal-looking major", "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"010\"\n\tvalue2 = \"0\"\n\tvalue3 = \"x\"\n", "CuDvDr line 4: value1 major: \"010\": not a strict decimal number"},
		{"hex minor", "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"43\"\n\tvalue2 = \"0x1\"\n\tvalue3 = \"x\"\n", "CuDvDr line 5: value2 minor"},
		{"space in ddins major", "\nCuDvDr:\n\tresource = \"ddins\"\n\tvalue1 = \"x\"\n\tvalue2 = \" 43\"\n\tvalue3 = \"\"\n", "CuDvDr line 5: value2 major"},
		{"missing major", "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue3 = \"x\"\n", "CuDvDr line 2: CuDvDr object has no value1"},
		{"empty dump", "", "CuDvDr: CuDvDr dump with no objects: a real one always holds the base ddins objects (majors 0-10)"},
		{"devno objects only", "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"44\"\n\tvalue2 = \"0\"\n\tvalue3 = \"x\"\n", "CuDvDr: CuDvDr dump with no ddins object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "CuDvDr"), []byte(tt.in), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := odm.LoadDumps(os.DirFS(dir), "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Model()
			if err == nil || !errors.Is(err, odm.ErrSyntax) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	dir := t.TempDir()
	for _, n := range []string{"CuDvDr", "CuDvDr.add"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Neither file is malformed: the message must not say so; still exit 2.
	if _, err := odm.LoadDumps(os.DirFS(dir), dir); err == nil || !strings.Contains(err.Error(), "ambiguous") ||
		errors.Is(err, odm.ErrSyntax) || xerr.Code(err) != xerr.ExitInvalid {
		t.Errorf("two CuDvDr dumps: %v (exit %d)", err, xerr.Code(err))
	}
	// A CuDv dump saved as CuDvDr holds objects, none of them CuDvDr.
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "CuDvDr"), []byte("\nCuDv:\n\tname = \"hdisk0\"\n\nCuDv:\n\tname = \"hdisk1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := dir + "/CuDvDr: no CuDvDr objects: its 2 objects are of class CuDv (saved under the wrong name?)"
	if _, err := odm.LoadDumps(os.DirFS(dir), dir); err == nil || err.Error() != want || xerr.Code(err) != xerr.ExitInvalid {
		t.Errorf("CuDv saved as CuDvDr: %v (exit %d), want %q, exit 2", err, xerr.Code(err), want)
	}
	if _, err := odm.LoadDumps(os.DirFS(t.TempDir()), "empty"); err == nil || !strings.Contains(err.Error(), "no CuDvDr dump") {
		t.Errorf("no CuDvDr: %v", err)
	}
}

// Without /dev and without CuDv: the dumps alone still give verdicts, and a
// nodes-only ghost (no devno objects) is a ghost too.
func TestAnalyzeDumpsOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := fixtures.WriteAIXDumps(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "CuDv")); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, dir)
	extra := odm.Node{Path: "dev/stale", Type: odm.Char, Major: 47, Minor: 3}
	majors := odm.Analyze(m, []odm.Node{extra})
	verdict := map[int]odm.Major{}
	for _, r := range majors {
		verdict[r.Major] = r
	}
	if r := verdict[43]; r.Verdict != odm.Ghost || !strings.Contains(r.Reason, "no CuDv dump") {
		t.Errorf("43: %+v", r)
	}
	if r := verdict[47]; r.Verdict != odm.Ghost || len(r.Nodes) != 1 || len(r.Devno) != 0 {
		t.Errorf("47: %+v", r)
	}
	// Without CuDv, 45 (hdisk9 Available) cannot be told from a ghost; purge refuses.
	if _, err := odm.PlanPurge(m, majors, odm.PurgeRequest{Majors: []int{43}}); !errors.Is(err, xerr.ErrRefused) {
		t.Errorf("purge without CuDv: %v", err)
	}
}

// TestOrphanVG: a ddins owner whose volume group is gone (no CuDv object, no
// devno object, no /dev node of its major) is orphan-vg; a PdDv driver name
// never is, and every input the verdict leans on is named when missing.
func TestOrphanVG(t *testing.T) {
	t.Parallel()
	const base = "\nCuDvDr:\n\tresource = \"ddins\"\n\tvalue1 = \"rootvg\"\n\tvalue2 = \"10\"\n\tvalue3 = \";\"\n"
	ddins := func(owner string) string {
		return "\nCuDvDr:\n\tresource = \"ddins\"\n\tvalue1 = \"" + owner + "\"\n\tvalue2 = \"50\"\n\tvalue3 = \"\"\n"
	}
	devno := func(minor, dev string) string {
		return "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"50\"\n\tvalue2 = \"" + minor + "\"\n\tvalue3 = \"" + dev + "\"\n"
	}
	cudv := "\nCuDv:\n\tname = \"rootvg\"\n\tstatus = 1\n\tPdDvLn = \"logical_volume/vgsubclass/vgtype\"\n"
	pddv := func(dvdr string) string {
		return "\nPdDv:\n\ttype = \"t\"\n\tDvDr = \"" + dvdr + "\"\n\tuniquetype = \"c/s/t\"\n"
	}
	noDev := []odm.Node(nil)
	emptyDev := []odm.Node{}
	for _, tt := range []struct {
		name             string
		cudvdr, cudv, pd string // "" = no such dump
		nodes            []odm.Node
		want             odm.Verdict
		reason, notIn    string
	}{
		{"gone, dev scanned, no PdDv", base + ddins("gonevg"), cudv, "", emptyDev, odm.OrphanVG,
			"nothing else is left on major 50: no devno object, no /dev node (no PdDv dump given: a driver with no configured device would look the same)", "not checked"},
		{"gone, PdDv without it", base + ddins("gonevg"), cudv, pddv("scsidisk") + pddv(""), emptyDev, odm.OrphanVG,
			"allocated to gonevg, which has no CuDv object; nothing else is left on major 50: no devno object, no /dev node: what a volume group removed without a complete exportvg leaves", "PdDv"},
		{"gone, no /dev given", base + ddins("gonevg"), cudv, pddv("scsidisk"), noDev, odm.OrphanVG,
			"no devno object (no --dev or --dev-listing given: /dev not checked)", "PdDv"},
		{"driver in PdDv", base + ddins("idledd"), cudv, pddv("idledd"), emptyDev, odm.Owned,
			"allocated to driver idledd (a PdDv DvDr)", ""},
		{"a node is left", base + ddins("gonevg"), cudv, "", []odm.Node{{Path: "dev/lv9", Type: odm.Block, Major: 50, Minor: 9}}, odm.Owned,
			"allocated to gonevg by a ddins object", ""},
		{"no CuDv dump", base + ddins("gonevg"), "", "", emptyDev, odm.Owned,
			"no CuDv dump given: owner not checked", ""},
		{"VG-shaped but a PdDv driver", base + ddins("oddvg") + devno("0", "oddvg"), cudv, pddv("oddvg"), emptyDev, odm.OrphanDevno,
			"allocated to oddvg, but 1 devno object(s) name devices not in CuDv: oddvg", ""},
		{"VG minor 0 left", base + ddins("oldvg") + devno("0", "oldvg"), cudv, pddv("scsidisk"), emptyDev, odm.OrphanVG,
			"devno minor 0 of major 50 still names it, as a VG's does", ""},
		{"VG char node left", base + ddins("oldvg"), cudv, "", []odm.Node{{Path: "dev/oldvg", Type: odm.Char, Major: 50, Minor: 0}}, odm.OrphanVG,
			"/dev/oldvg (major 50, minor 0) is still there, a VG's char node", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range map[string]string{"CuDvDr": tt.cudvdr, "CuDv": tt.cudv, "PdDv.odmget": tt.pd} {
				if text == "" {
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m := loadModel(t, dir)
			if tt.pd != "" && !m.HavePdDv() {
				t.Fatal("PdDv.odmget not read")
			}
			var got *odm.Major
			for _, r := range odm.Analyze(m, tt.nodes) {
				if r.Major == 50 {
					got = &r
				}
			}
			if got == nil {
				t.Fatal("no verdict for major 50")
			}
			if got.Verdict != tt.want || !strings.Contains(got.Reason, tt.reason) || (tt.notIn != "" && strings.Contains(got.Reason, tt.notIn)) {
				t.Errorf("got %s: %s\nwant %s: ...%s...", got.Verdict, got.Reason, tt.want, tt.reason)
			}
		})
	}
}

// The public PdDv sample (IBM's odmget example) names its driver.
func TestPdDvSample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/samples/pddv-mpioapdisk.ibmdoc.odmget")
	if err != nil {
		t.Fatal(err)
	}
	cudvdr := "\nCuDvDr:\n\tresource = \"ddins\"\n\tvalue1 = \"rootvg\"\n\tvalue2 = \"10\"\n\tvalue3 = \";\"\n"
	for name, text := range map[string]string{"CuDvDr": cudvdr, "PdDv": string(b)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := odm.LoadDumps(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Objects["PdDv"] != 1 || d.Files["PdDv"] != filepath.Join(dir, "PdDv") {
		t.Errorf("PdDv read as %d objects from %q", d.Objects["PdDv"], d.Files["PdDv"])
	}
	if m, err := d.Model(); err != nil || !cmp.Equal(m.Drivers, map[string]bool{"scsidisk": true}) {
		t.Errorf("drivers %v, %v", m.Drivers, err)
	}
}

func TestPlanPurge(t *testing.T) {
	t.Parallel()
	a, m, nodes := aixFixture(t)
	majors := odm.Analyze(m, nodes)
	for _, tt := range []struct {
		name  string
		major int
		want  string
	}{
		{"decoy", 143, "major 143 is owned, not a ghost"},
		{"base", 7, "major 7 is base, not a ghost"},
		{"orphan vg", 44, "major 44 is orphan-vg, not a ghost"},
		{"orphan devno", 20, "major 20 is orphan-devno"},
		{"in use", 45, "major 45 is owned"},
		{"contradicted", 99, "major 99: no ddins or devno object and no /dev node has it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := odm.PlanPurge(m, majors, odm.PurgeRequest{Majors: []int{43, tt.major}})
			if !errors.Is(err, xerr.ErrRefused) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want refusal %q", err, tt.want)
			}
		})
	}
	for _, req := range []odm.PurgeRequest{{Majors: []int{43}}, {AllGhosts: true}, {Majors: []int{43, 43}, AllGhosts: true}} {
		p, err := odm.PlanPurge(m, majors, req)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]int{43}, p.Majors); d != "" {
			t.Fatal(d)
		}
		var removed []string
		for _, s := range p.Removed {
			v3, _ := s.Get("value3")
			removed = append(removed, v3)
		}
		if d := cmp.Diff([]string{"ghostvg", "ghostlv01", "ghostlv02"}, removed); d != "" {
			t.Errorf("removed devno: %s", d)
		}
		// after + removed = before, in order; nothing else is dropped.
		before, _ := odm.ReadAll(strings.NewReader(string(p.Before)), "before")
		after, _ := odm.ReadAll(strings.NewReader(string(p.After)), "after")
		if len(before) != len(m.CuDvDr) || len(after) != len(before)-3 {
			t.Errorf("before %d, after %d objects (model %d)", len(before), len(after), len(m.CuDvDr))
		}
		orig, err := os.ReadFile(filepath.Join(a.ODMDir, "CuDvDr"))
		if err != nil {
			t.Fatal(err)
		}
		if string(orig) != string(p.Before) {
			t.Error("CuDvDr.before.add is not byte-identical to the dump")
		}
		for _, s := range after {
			if v1, _ := s.Get("value1"); v1 == "43" {
				t.Errorf("after still holds %+v", s)
			}
		}
		var kinds []string
		for _, c := range p.NodeChanges() {
			kinds = append(kinds, string(c.Kind)+" "+c.Path)
		}
		want := []string{"symlink-remove dev/ghostlink", "symlink-remove dev/rghostlink",
			"node-remove dev/ghostlv01", "node-remove dev/ghostlv02", "node-remove dev/ghostvg",
			"node-remove dev/rghostlv01", "node-remove dev/rghostlv02"}
		if d := cmp.Diff(want, kinds); d != "" {
			t.Errorf("node changes: %s", d)
		}
		var out []string
		for _, c := range p.OutChanges("out") {
			if c.Kind != plan.Create {
				t.Errorf("%s: %s", c.Path, c.Kind)
			}
			out = append(out, c.Path)
		}
		if d := cmp.Diff([]string{"out/CuDvDr.after.add", "out/CuDvDr.before.add", "out/purge.ksh", "out/undo.ksh"}, out); d != "" {
			t.Error(d)
		}
	}
	// The fixture has one ghost; with it gone nothing is a ghost.
	if !slices.ContainsFunc(majors, func(r odm.Major) bool { return r.Verdict == odm.Ghost }) {
		t.Fatal("fixture without a ghost")
	}
}

// FuzzParseListing: an ls -l listing never panics the parser, and every node
// it returns has a name and a type.
func FuzzParseListing(f *testing.F) {
	for _, s := range []string{
		"total 0\ncrw-rw---- 1 root system 43, 0 Nov 22 01:02 ghostvg\n",
		"brw-rw---- 1 root system 38,128 Nov 22 2025 hdisk128\n",
		"lrwxrwxrwx 1 root system 14 Nov 22 01:02 l -> /dev/ghostvg\ncrw-rw---- 1 root system 43, 0 Nov 22 01:02 ghostvg\n",
		"crw-rw---- 1 root system 010, 0 Nov 22 01:02 x\n",
		"c 1 2 3 4, 5\n",
		"l a b c d e f g h\n",
		"crw-rw---- 1 root system 43,\n",
		"/dev:\nbrw-rw---- 1 root system 43, 1 Nov 15 2019 lv01\n\n/dev/old:\nbrw-rw---- 1 root system 44, 1 Nov 15 2019 lv01\n",
		"/tmp:\nx\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		nodes, err := odm.ParseListing(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, odm.ErrSyntax) {
				t.Fatalf("error without ErrSyntax: %v", err)
			}
			return
		}
		for _, n := range nodes {
			if n.Path == "dev/" || n.Type == "" {
				t.Fatalf("bad node %+v", n)
			}
		}
	})
}
