package versionfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/xerr"
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

// TestVerdicts checks each fixture root against the rules of installers
// 5.0, 5.6, 6.2, 7.0, 7.1 and 8.2 (xenserver.md §3.2): ≤ 6.5 compare
// PRODUCT_VERSION ([4.1.0, own], [5.5.0, own), [5.6.0, own]); 7.0 compares
// PLATFORM_VERSION in [1.0.99, own]; 8.x in [2.1.0, own].
func TestVerdicts(t *testing.T) {
	installers := []string{"5.0", "5.6", "6.2", "7.0", "7.1", "8.2"}
	cases := []struct {
		release string
		want    map[string]bool // installer -> offers upgrade
		why     map[string]string
	}{
		{"5.5", map[string]bool{"5.6": true},
			map[string]string{"5.0": "PRODUCT_VERSION 5.5.0 is newer than the installer's own 5.0.0", "6.2": "PRODUCT_VERSION 5.5.0 is older than 5.6.0",
				"7.0": "PLATFORM_VERSION is missing or empty"}},
		{"6.2", map[string]bool{"6.2": true},
			map[string]string{"5.6": "PRODUCT_VERSION 6.2.0 is newer than the installer's own 5.6.0", "8.2": "PLATFORM_VERSION is missing"}},
		{"7.0", map[string]bool{"7.0": true, "7.1": true, "8.2": true},
			map[string]string{"5.0": "PRODUCT_VERSION 7.0.0 is newer", "7.0": "PLATFORM_VERSION 2.1.0 is within [1.0.99, 2.1.0]"}},
		{"7.1", map[string]bool{"7.1": true, "8.2": true},
			map[string]string{"7.0": "PLATFORM_VERSION 2.2.0 is newer than the installer's own 2.1.0", "8.2": "within [2.1.0, 3.2.0]"}},
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
			if !st.Firstboot.OK {
				t.Errorf("firstboot gate: %s", st.Firstboot.Reason)
			}
			for _, iv := range installers {
				vd := st.Verdict(mustInstaller(t, iv))
				if vd.OffersUpgrade != c.want[iv] {
					t.Errorf("installer %s: offers_upgrade=%v, want %v (%s)", iv, vd.OffersUpgrade, c.want[iv], vd.Reason)
				}
				if w := c.why[iv]; w != "" && !strings.Contains(vd.Reason, w) {
					t.Errorf("installer %s: reason %q does not say %q", iv, vd.Reason, w)
				}
				wantGen := versionfile.GenPlatformVersion
				if iv < "7" {
					wantGen = versionfile.GenProductVersion
				}
				if vd.Generation != wantGen || vd.Rule == "" || vd.Source == "" {
					t.Errorf("installer %s: generation %q rule %q source %q", iv, vd.Generation, vd.Rule, vd.Source)
				}
			}
		})
	}
}

func TestVerdictGates(t *testing.T) {
	t.Run("never booted", func(t *testing.T) {
		st, err := versionfile.Inspect(fixtureRoot(t, fixtures.RootSpec{Release: "7.1", NeverBooted: true}))
		if err != nil {
			t.Fatal(err)
		}
		vd := st.Verdict(mustInstaller(t, "8.2"))
		if vd.OffersUpgrade || !strings.Contains(vd.Reason, "never booted") {
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
		if st.Firstboot.OK || !strings.Contains(st.Firstboot.Reason, "70-new-script") {
			t.Fatalf("firstboot gate: %+v", st.Firstboot)
		}
	})
	t.Run("missing key and product name", func(t *testing.T) {
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
		if vd.OffersUpgrade || !strings.Contains(vd.Reason, "CONTROL_DOMAIN_UUID") || !strings.Contains(vd.Reason, `PRODUCT_NAME is "xcp"`) {
			t.Fatalf("verdict: %s", vd.Reason)
		}
	})
}

func TestInstallerBoundaries(t *testing.T) {
	cases := []struct {
		installer, value string
		ok               bool
	}{
		{"5.6", "5.6.0", false}, // the 5.6 installer's upper bound is exclusive
		{"5.6", "5.5.0", true},
		{"5.6", "5.4.9", false},
		{"5.0", "4.1.0", true},
		{"5.0", "4.0.0", false},
		{"8.2", "2.1.0", true},
		{"8.2", "2.0.9", false},
		{"7.0", "2.0.9", true}, // 2016 installers accept platform 1.0.99 on
		{"8.2", "3.2.0-1234", true},
		{"8.2", "3.2.0.1", false}, // longer is greater, as xcp.version compares
		{"8.2", "x.y", false},
		{"8.2", "", false},
	}
	for _, c := range cases {
		ok, why := mustInstaller(t, c.installer).Accepts(c.value)
		if ok != c.ok {
			t.Errorf("installer %s value %q: %v (%s), want %v", c.installer, c.value, ok, why, c.ok)
		}
	}
	if _, err := versionfile.LookupInstaller("9.9"); err == nil {
		t.Error("unknown installer accepted")
	}
}

func TestBackupVerdict(t *testing.T) {
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.0", Backup: true})
	b, err := versionfile.InspectBackup(r, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasMarker() || !b.OffersRestore || b.Installer != "5.0.0" || b.Inventory["PRODUCT_VERSION"] != "5.0.0" {
		t.Fatalf("backup: %+v", b)
	}
	in := mustInstaller(t, "8.2")
	b, err = versionfile.InspectBackup(r, 2, &in)
	if err != nil {
		t.Fatal(err)
	}
	if b.OffersRestore || !strings.Contains(b.Reason, "PLATFORM_VERSION is missing") {
		t.Fatalf("8.2 installer and a 5.0 backup: %+v", b)
	}
	plain := fixtureRoot(t, fixtures.RootSpec{Release: "6.5"})
	b, err = versionfile.InspectBackup(plain, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Marker == nil || *b.Marker || b.OffersRestore || !strings.Contains(b.Reason, "no .xen-backup-partition") {
		t.Fatalf("no marker: %+v", b)
	}
}

func TestInspectErrors(t *testing.T) {
	r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
	p := filepath.Join(r.Dir(), versionfile.InventoryPath)
	if err := os.WriteFile(p, []byte("PRODUCT_VERSION='7.1.0'\nBROKEN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := versionfile.Inspect(r)
	if xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), p+" line 2: no '='") {
		t.Fatalf("malformed inventory: %v (exit %d)", err, xerr.Code(err))
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

// TestXS8DiskGate: the XenServer 8 installer refuses a DOS disk with a
// utility partition; other installers have no such gate.
func TestXS8DiskGate(t *testing.T) {
	st, err := versionfile.Inspect(fixtureRoot(t, fixtures.RootSpec{Release: "8.2"}))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		disk      versionfile.DiskFacts
		installer string
		offers    bool
	}{
		{versionfile.DiskFacts{Table: "dos", Utility: true}, "8.4", false},
		{versionfile.DiskFacts{Table: "dos"}, "8.4", true},
		{versionfile.DiskFacts{Table: "gpt", Utility: true}, "8.4", true},
		{versionfile.DiskFacts{Table: "dos", Utility: true}, "8.2", true},
	}
	for _, c := range cases {
		st.Disk = &c.disk
		vd := st.Verdict(mustInstaller(t, c.installer))
		if vd.OffersUpgrade != c.offers {
			t.Errorf("%+v installer %s: %s", c.disk, c.installer, vd.Reason)
		}
		if !c.offers && !strings.Contains(vd.Reason, "utility partition") {
			t.Errorf("reason %q", vd.Reason)
		}
	}
}

// TestMarkerLinkProblems: a symlink loop on one marker and a dangling link
// on another are listed with a problem; every other marker is still read,
// and set skips the unreadable ones (acceptance report #6, #20).
func TestMarkerLinkProblems(t *testing.T) {
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
