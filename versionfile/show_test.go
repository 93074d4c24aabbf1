package versionfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

// fixtureRoot writes a XenServer root of release rel and opens it.
func fixtureRoot(t *testing.T, spec fixtures.RootSpec) *target.Root {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	if err := fixtures.WriteXenServerRoot(dir, spec); err != nil {
		t.Fatal(err)
	}
	r, err := target.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mustInstaller(t *testing.T, v string) versionfile.Installer {
	t.Helper()
	in, err := versionfile.LookupInstaller(v)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestVerdicts checks fixture roots (given as directories: the disk gates
// are unknown) against installers of several generations: the file gates
// decide, and the root-partition gate keeps every verdict at "unknown" at
// best.
func TestVerdicts(t *testing.T) {
	t.Parallel()
	installers := []string{"5.0", "5.6", "6.2", "7.0", "7.1", "8.2"}
	cases := []struct {
		release string
		files   map[string]bool // installer -> every gate but root-partition passes
		why     map[string]string
	}{
		{"5.5", map[string]bool{"5.6": true},
			map[string]string{"5.0": `PRODUCT_VERSION "5.5.0-15119p" (5.5.0 build 15119) is newer than the installer's own 5.0.0`, "6.2": "is older than 5.6.0",
				"7.0": "missing from etc/xensource-inventory: PLATFORM_VERSION"}},
		{"6.2", map[string]bool{"6.2": true},
			map[string]string{"5.6": "is newer than the installer's own 5.6.0", "8.2": "missing from etc/xensource-inventory: PLATFORM_VERSION"}},
		{"7.0", map[string]bool{"7.0": true, "7.1": true, "8.2": true},
			map[string]string{"5.0": "is newer than the installer's own 5.0.0", "7.0": `PLATFORM_VERSION "2.1.0-125380c" ([2, 1, 0] build 125380) is within [1.0.99, 2.1.0]`}},
		{"7.1", map[string]bool{"7.1": true, "8.2": true},
			map[string]string{"7.0": "is newer than the installer's own 2.1.0", "8.2": "within [2.1.0, 3.2.0]"}},
	}
	for _, c := range cases {
		t.Run(c.release, func(t *testing.T) {
			st, err := versionfile.Inspect(fixtureRoot(t, fixtures.RootSpec{Release: c.release}))
			if err != nil {
				t.Fatal(err)
			}
			if !st.Consistent {
				t.Errorf("fixture markers reported inconsistent: %+v", st.Markers)
			}
			if fb := st.FirstbootSummary(); !fb.OK {
				t.Errorf("firstboot gate: %s", fb.Reason)
			}
			for _, iv := range installers {
				vd := st.Verdict(mustInstaller(t, iv))
				wantOutcome := versionfile.OutcomeNo
				if c.files[iv] {
					wantOutcome = versionfile.OutcomeUnknown
				}
				if vd.OffersUpgrade || vd.Outcome != wantOutcome {
					t.Errorf("installer %s: offers_upgrade=%v outcome %s, want %s (%s)", iv, vd.OffersUpgrade, vd.Outcome, wantOutcome, vd.Reason)
				}
				if vd.Gates[0].Name != versionfile.GateRoot || vd.Gates[0].Status != versionfile.StatusUnknown {
					t.Errorf("installer %s: root gate %+v with --root", iv, vd.Gates[0])
				}
				if w := c.why[iv]; w != "" && !strings.Contains(vd.Reason+fmt.Sprint(vd.Gates), w) {
					t.Errorf("installer %s: reason %q does not say %q", iv, vd.Reason, w)
				}
				if vd.Generation == "" || vd.Rule == "" || vd.Source == "" {
					t.Errorf("installer %s: generation %q rule %q source %q", iv, vd.Generation, vd.Rule, vd.Source)
				}
			}
		})
	}
}

func TestVerdictGates(t *testing.T) {
	t.Parallel()
	gateOf := func(vd versionfile.Verdict, name string) versionfile.Gate {
		for _, g := range append(append([]versionfile.Gate{}, vd.Gates...), vd.DuringUpgrade...) {
			if g.Name == name {
				return g
			}
		}
		t.Fatalf("no gate %s in %+v", name, vd)
		return versionfile.Gate{}
	}
	t.Run("never booted", func(t *testing.T) {
		st, err := versionfile.Inspect(fixtureRoot(t, fixtures.RootSpec{Release: "8.1", NeverBooted: true}))
		if err != nil {
			t.Fatal(err)
		}
		vd := st.Verdict(mustInstaller(t, "8.2"))
		if vd.OffersUpgrade || !strings.Contains(gateOf(vd, versionfile.GateFirstboot).Reason, "never booted") {
			t.Fatalf("never-booted root: %s", vd.Reason)
		}
	})
	t.Run("firstboot script without state", func(t *testing.T) {
		r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
		script := filepath.Join(r.Dir(), "etc/firstboot.d/70-new-script")
		if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		st, err := versionfile.Inspect(r)
		if err != nil {
			t.Fatal(err)
		}
		if fb := st.FirstbootSummary(); fb.OK || !strings.Contains(fb.Reason, "70-new-script") {
			t.Fatalf("firstboot gate: %+v", fb)
		}
		// The 6.0-6.2 installers' per-script test never fails.
		if g := gateOf(st.Verdict(mustInstaller(t, "6.2")), versionfile.GateFirstboot); g.Status != versionfile.StatusOK {
			t.Fatalf("6.2 firstboot gate: %+v", g)
		}
	})
	t.Run("missing identity and product name", func(t *testing.T) {
		r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
		p := filepath.Join(r.Dir(), versionfile.InventoryPath)
		data, _ := os.ReadFile(p)
		data = []byte(strings.Replace(strings.Replace(string(data), "CONTROL_DOMAIN_UUID=", "X_CONTROL_DOMAIN_UUID=", 1),
			"PRODUCT_NAME='xenenterprise'", "PRODUCT_NAME='xcp'", 1))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := versionfile.Inspect(r)
		if err != nil {
			t.Fatal(err)
		}
		vd := st.Verdict(mustInstaller(t, "8.2"))
		if vd.OffersUpgrade || !strings.Contains(gateOf(vd, versionfile.GateProductName).Reason, `name is "xcp"`) ||
			!strings.Contains(gateOf(vd, versionfile.CheckUpgradeKeys).Reason, "CONTROL_DOMAIN_UUID") {
			t.Fatalf("verdict: %s", vd.Reason)
		}
	})
}

// TestBackupVerdict: per-installer Restore verdicts of a backup tree.
func TestBackupVerdict(t *testing.T) {
	t.Parallel()
	ins := versionfile.Installers()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.0", Backup: true})
	b, err := versionfile.InspectBackup(r, 2, ins, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasMarker() || !b.OffersRestore || b.Installer != "5.0.0" || b.Inventory["PRODUCT_VERSION"] != "5.0.0" {
		t.Fatalf("backup: %+v", b)
	}
	got := map[string]string{}
	for _, v := range b.Verdicts {
		got[v.Installer] = v.Status
	}
	// No version check before 8.0: every 5.x/6.x installer offers the 5.0
	// backup; 7.0 on need PLATFORM_VERSION; 5.6 SP2's code is not public.
	want := map[string]string{"5.0.0": "yes", "5.6.0": "yes", "6.5.0": "yes", "5.6.199": "unknown", "7.0.0": "no", "8.2.0": "no"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("installer %s: restore %s, want %s", k, got[k], w)
		}
	}
	r71 := fixtureRoot(t, fixtures.RootSpec{Release: "7.1", Backup: true})
	b, err = versionfile.InspectBackup(r71, 2, ins, nil)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, v := range b.Verdicts {
		got[v.Installer] = v.Status
	}
	// 6.5, 7.0 and 7.1 restore a 7.1 backup (no version check before 8.0,
	// only the keys); 8.0 on check [2.1.0, own]: 8.2 does, 5.0 wants only
	// PRIMARY_DISK.
	for k, w := range map[string]string{"5.0.0": "yes", "6.5.0": "yes", "7.0.0": "yes", "8.2.0": "yes", "5.6.199": "unknown"} {
		if got[k] != w {
			t.Errorf("7.1 backup, installer %s: %s, want %s", k, got[k], w)
		}
	}
	plain := fixtureRoot(t, fixtures.RootSpec{Release: "6.5"})
	b, err = versionfile.InspectBackup(plain, 2, ins, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Marker == nil || *b.Marker || b.OffersRestore || !strings.Contains(b.Reason, "no .xen-backup-partition") {
		t.Fatalf("no marker: %+v", b)
	}
}

// TestBackupVerdictUnknown: what could not be read on a partition (the
// marker, the inventory) makes its Restore verdicts unknown — never "no
// marker" — unless what was read already rules the backup out.
func TestBackupVerdictUnknown(t *testing.T) {
	t.Parallel()
	ins := versionfile.Installers()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.0", Backup: true})
	known, err := versionfile.InspectBackup(r, 2, ins, nil)
	if err != nil {
		t.Fatal(err)
	}
	why := "partition 2: inode 2: directory entry: record length 3 is below the minimum 12 (byte 68947968): corrupt filesystem"
	unknownMarker := partition.Backup{Partition: 2, MarkerError: &why, Inventory: known.Inventory}
	b := versionfile.NewBackup(unknownMarker, ins, nil)
	if b.Marker != nil || b.MarkerError == nil || b.OffersRestore || !strings.HasPrefix(b.Reason, "unknown: whether .xen-backup-partition is there could not be read ("+why) {
		t.Fatalf("unknown marker: %+v", b)
	}
	for _, v := range b.Verdicts {
		// With the marker, 5.0 and 6.5 would offer it and 7.0, 8.2 not
		// (TestBackupVerdict): without knowing it, "yes" becomes unknown
		// and "no" stays no.
		want := map[string]string{"5.0.0": "unknown", "6.5.0": "unknown", "7.0.0": "no", "8.2.0": "no"}[v.Installer]
		if want != "" && (v.Status != want || v.OffersRestore) {
			t.Errorf("unknown marker, installer %s: %s (%s), want %s", v.Installer, v.Status, v.Reason, want)
		}
	}
	unknownInv := partition.Backup{Partition: 2, Marker: ptr(true), InventoryError: &why}
	b = versionfile.NewBackup(unknownInv, ins, nil)
	if b.OffersRestore || !strings.HasPrefix(b.Reason, "unknown: etc/xensource-inventory could not be read") {
		t.Fatalf("unknown inventory: %+v", b)
	}
	for _, v := range b.Verdicts {
		if v.Status != "unknown" || v.OffersRestore {
			t.Errorf("unknown inventory, installer %s: %s (%s), want unknown", v.Installer, v.Status, v.Reason)
		}
	}
	absent := partition.Backup{Partition: 2, Marker: ptr(false), MarkerError: nil, InventoryError: &why}
	if b = versionfile.NewBackup(absent, ins, nil); !strings.HasPrefix(b.Reason, "no .xen-backup-partition") {
		t.Fatalf("no marker, unknown inventory: %+v", b)
	}
}

func ptr[T any](v T) *T { return &v }

func TestInspectErrors(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
	p := filepath.Join(r.Dir(), versionfile.InventoryPath)
	if err := os.WriteFile(p, []byte("PRODUCT_VERSION='7.1.0'\nBROKEN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// readKeyValueFile reads the line as BROKE=BROKEN: a note, no error.
	st, err := versionfile.Inspect(r)
	if err != nil || st.Inventory.Value("PRODUCT_VERSION") != "7.1.0" || len(st.Inventory.Problems()) != 1 {
		t.Fatalf("inventory with a line without '=': %v", err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err = versionfile.Inspect(r)
	if xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "not a XenServer root") {
		t.Fatalf("missing inventory: %v", err)
	}
}

// TestHostileMarkerLink: etc/redhat-release -> an absolute path on the
// rescue system. The rescue system's file is never read (its content never
// shows up) and never written; a link to a non-marker file inside the root
// (its own etc/shadow) is not read either.
func TestHostileMarkerLink(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "shadow")
	secret := "root:SENTINEL-HASH:19000:0:99999:7:::\n"
	if err := os.WriteFile(sentinel, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{sentinel, "/etc/shadow"} {
		t.Run(link, func(t *testing.T) {
			r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1", Extra: map[string][]byte{"etc/shadow": []byte("root:ROOT-OWN-HASH:::\n")}})
			rr := filepath.Join(r.Dir(), "etc/redhat-release")
			if err := os.Remove(rr); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, rr); err != nil {
				t.Fatal(err)
			}
			st, err := versionfile.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range st.Markers {
				if strings.Contains(m.Value, "HASH") {
					t.Fatalf("marker %s shows a shadow file: %q", m.Path, m.Value)
				}
			}
			sp, err := versionfile.PlanSet(r, versionfile.SetRequest{To: "7.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range sp.Plan.Changes {
				if c.Path != versionfile.InventoryPath && !strings.HasPrefix(c.Path, "etc/") || strings.Contains(c.Path, "shadow") {
					t.Fatalf("plan writes %s", c.Path)
				}
			}
			if got, _ := os.ReadFile(sentinel); string(got) != secret {
				t.Fatal("sentinel changed")
			}
		})
	}
}

// TestHostileMarkerFiles: a FIFO would block a plain read forever and a
// huge file would be read whole; both are reported, not read.
func TestHostileMarkerFiles(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.5"})
	issue := filepath.Join(r.Dir(), "etc/issue")
	if err := os.Remove(issue); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(issue, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir(), "etc/redhat-release"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	problems := markerProblems(t, r)
	if !strings.Contains(problems["etc/issue"], "not a regular file") || !strings.Contains(problems["etc/redhat-release"], "larger than") {
		t.Fatalf("problems: %q", problems)
	}
	inv := filepath.Join(r.Dir(), versionfile.InventoryPath)
	if err := os.Remove(inv); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(inv, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := versionfile.Inspect(r); xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO inventory: %v", err)
	}
}

// TestMarkerLinkProblems: a symlink loop on one marker and a dangling link
// on another are listed with a problem; every other marker is still read,
// and set skips the unreadable ones (acceptance report #6, #20).
func TestMarkerLinkProblems(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
	if err := fixtures.BreakMarkerLinks(r.Dir()); err != nil {
		t.Fatal(err)
	}
	problems := markerProblems(t, r)
	want := map[string]string{
		"etc/issue":          "too many levels of symbolic links",
		"etc/redhat-release": "dangling symlink to etc/shadow",
		"etc/centos-release": "",
	}
	for p, w := range want {
		got, ok := problems[p]
		if !ok || (w == "") != (got == "") || !strings.Contains(got, w) {
			t.Errorf("%s: problem %q (listed %v), want %q", p, got, ok, w)
		}
	}
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: "7.0"})
	if err != nil {
		t.Fatal(err)
	}
	var wrote []string
	for _, c := range sp.Plan.Changes {
		wrote = append(wrote, c.Path)
	}
	if !slices.Contains(wrote, versionfile.InventoryPath) || !slices.Contains(wrote, "etc/centos-release") || slices.ContainsFunc(wrote, func(p string) bool { return strings.Contains(p, "issue") || strings.Contains(p, "shadow") }) {
		t.Fatalf("plan writes %q", wrote)
	}
	notes := strings.Join(sp.Explain, "\n")
	if !strings.Contains(notes, "etc/issue left alone: too many levels") || !strings.Contains(notes, "etc/redhat-release left alone: dangling") {
		t.Fatalf("notes do not report the skipped markers:\n%s", notes)
	}
}

// markerProblems inspects r and maps each listed marker to its problem.
func markerProblems(t *testing.T, r *target.Root) map[string]string {
	t.Helper()
	st, err := versionfile.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	problems := map[string]string{}
	for _, m := range st.Markers {
		problems[m.Path] = m.Problem
	}
	return problems
}

// TestBackupMarkerAsTheInstallerTests: InspectBackup's marker is
// os.path.exists on the mounted backup: a directory counts, a dangling
// link does not, and a link out of the tree is unknown.
func TestBackupMarkerAsTheInstallerTests(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		make func(p string) error
		want string
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "true"},
		{"dangling link", func(p string) error { return os.Symlink("gone", p) }, "false"},
		{"absolute link", func(p string) error { return os.Symlink("/bin/sh", p) }, "leads out of the root"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			marker := func(dir string) error {
				p := filepath.Join(dir, versionfile.BackupMarkerPath)
				if err := os.Remove(p); err != nil {
					return err
				}
				return tt.make(p)
			}
			r := fixtureRoot(t, fixtures.RootSpec{Release: "6.0", Backup: true, Populate: marker})
			b, err := versionfile.InspectBackup(r, 2, versionfile.Installers(), nil)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.want {
			case "true", "false":
				if b.Marker == nil || *b.Marker != (tt.want == "true") {
					t.Fatalf("marker %v (%v), want %s", b.Marker, b.MarkerError, tt.want)
				}
			default:
				if b.Marker != nil || b.MarkerError == nil || !strings.Contains(*b.MarkerError, tt.want) {
					t.Fatalf("marker %v (%v), want unknown", b.Marker, b.MarkerError)
				}
			}
		})
	}
}
