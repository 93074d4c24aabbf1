package versionfile_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

// TestModelRows: every release the model knows has a row, every public row
// names its source for each gate, and the rows' bounds parse.
func TestModelRows(t *testing.T) {
	t.Parallel()
	ins := versionfile.Installers()
	for _, r := range release.All() {
		v, _ := release.ParseVersion(r.Product)
		if v[0] < 5 {
			continue
		}
		if !slices.ContainsFunc(ins, func(in versionfile.Installer) bool { return in.Release.Product == r.Product }) {
			t.Errorf("release %s has no installer row", r.Name)
		}
	}
	for _, g := range versionfile.Generations() {
		if g.NotPublic != "" {
			continue
		}
		for _, name := range []string{versionfile.GateRoot, versionfile.GateKeys, versionfile.GateVersion, versionfile.GateProductName, versionfile.GateFirstboot, "restore", versionfile.CheckUpgradeKeys} {
			if g.Sources[name] == "" {
				t.Errorf("row %s: no source for %s", g.ID, name)
			}
		}
		if _, err := g.Class.Parse(g.Min); err != nil {
			t.Errorf("row %s: minimum %s: %v", g.ID, g.Min, err)
		}
		if g.Commit == "" || g.Repo == "" {
			t.Errorf("row %s: no commit", g.ID)
		}
	}
}

// caseState builds the case's disk image and, from the same spec, its root
// as a directory: the files the gates read come from the root, the table
// from the image (no mount needed).
func caseState(t *testing.T, dir string, c fixtures.GenerationCase) (*versionfile.State, *partition.Disk) {
	t.Helper()
	img, err := fixtures.BuildDisk(dir, c.Disk)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := partition.Inspect(f, c.Disk.Size)
	if err != nil {
		t.Fatal(err)
	}
	rootDir := filepath.Join(dir, c.Name+"-root")
	if err := fixtures.WriteXenServerRoot(rootDir, c.RootSpec()); err != nil {
		t.Fatal(err)
	}
	r, err := target.OpenRoot(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	st, err := versionfile.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	st.Disk = &versionfile.DiskFacts{Disk: d, Partition: c.Root}
	return st, d
}

// statusTable is every installer's verdict on one disk: outcome and the
// status of each gate and check, one line per installer.
func statusTable(st *versionfile.State) string {
	var b strings.Builder
	for _, v := range st.Verdicts(versionfile.Installers()) {
		fmt.Fprintf(&b, "%-8s %-7s %-18s", v.Installer, v.Generation, v.Outcome)
		for _, g := range append(append([]versionfile.Gate{}, v.Gates...), v.DuringUpgrade...) {
			fmt.Fprintf(&b, " %s=%s", g.Name, g.Status)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestGenerationCases: for each installer generation a disk built to fail
// exactly one of its gates or checks; golden verdict tables of every
// installer on it (testdata/verdicts/CASE.txt, -update rewrites them); and
// the 4096-byte-sector twin of each disk gives the same roles and the same
// verdicts.
func TestGenerationCases(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "mke2fs")
	twins := fixtures.GenerationCases(4096)
	for i, c := range fixtures.GenerationCases(512) {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			st, d := caseState(t, dir, c)
			in, err := versionfile.LookupInstaller(c.Installer)
			if err != nil {
				t.Fatal(err)
			}
			vd := st.Verdict(in)
			if got := vd.FailedGates(); !slices.Equal(got, []string{c.Fails}) {
				t.Errorf("installer %s fails %v, want exactly %s:\n%s", c.Installer, got, c.Fails, vd.Reason)
			}
			var full strings.Builder
			fmt.Fprintf(&full, "# %s: the %s installer fails exactly %s\n# outcome %s: %s\n", c.Name, in.Release.Product, c.Fails, vd.Outcome, vd.Reason)
			for _, g := range append(append([]versionfile.Gate{}, vd.Gates...), vd.DuringUpgrade...) {
				fmt.Fprintf(&full, "#   %-18s %-11s %s\n", g.Name, g.Status, g.Reason)
			}
			table := statusTable(st)
			golden(t, filepath.Join("testdata", "verdicts", c.Name+".txt"), full.String()+table)

			tw := twins[i]
			st4, d4 := caseState(t, dir, tw)
			if d4.SectorSize != 4096 || d.SectorSize != 512 {
				t.Fatalf("sector sizes %d and %d", d.SectorSize, d4.SectorSize)
			}
			if diff := cmp.Diff(roles(d), roles(d4)); diff != "" {
				t.Errorf("4K twin: roles differ (-512 +4096):\n%s", diff)
			}
			if diff := cmp.Diff(table, statusTable(st4)); diff != "" {
				t.Errorf("4K twin: verdicts differ (-512 +4096):\n%s", diff)
			}
		})
	}
}

func roles(d *partition.Disk) []string {
	var out []string
	for _, p := range d.Partitions {
		out = append(out, fmt.Sprintf("%d %s %s %s %s bootable=%v", p.Number, p.Type, p.FS, p.Label, p.Role, p.Bootable))
	}
	if d.XenServer != nil {
		for _, c := range d.XenServer.RootByGeneration {
			out = append(out, fmt.Sprintf("%s: %s %d %v", c.Rule, c.Status, c.Partition, c.Candidates))
		}
	}
	return out
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	// -update is defined by inventory_test.go (same test binary).
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
