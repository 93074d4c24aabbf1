package versionfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

// applyChanges writes a plan's Write changes straight into the directory:
// enough to check what the plan says, without the journal (tested in cmd).
func applyChanges(t *testing.T, r *target.Root, p *plan.Plan) {
	t.Helper()
	for _, c := range p.Changes {
		if c.Kind != plan.Write {
			t.Fatalf("unexpected change kind %s", c.Kind)
		}
		if err := os.WriteFile(filepath.Join(r.Dir(), c.Path), c.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func planPaths(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Path)
	}
	return out
}

func TestPlanSetForInstaller(t *testing.T) {
	t.Parallel()
	cases := []struct {
		release, installer string
		paths              []string
		values             map[string]string
		files              map[string]string // path -> expected content after
		remaining          string            // the gate still failing after the set
	}{
		{
			release: "5.5", installer: "5.0",
			paths:  []string{versionfile.InventoryPath, "etc/redhat-release", "etc/issue"},
			values: map[string]string{"PRODUCT_VERSION": "5.0.0", "PRODUCT_VERSION_TEXT": "5.0", "PRODUCT_VERSION_TEXT_SHORT": "5.0", "BUILD_NUMBER": "10918p"},
			files: map[string]string{
				"etc/redhat-release": "XenServer release 5.0.0-10918p (xenenterprise)\n",
				"etc/issue":          "Citrix XenServer 5.0\n\nYour XenServer host has now finished booting.\n",
			},
		},
		{
			// 7.x: redhat-release and system-release link to centos-release,
			// which is edited once.
			release: "7.1", installer: "7.0",
			paths:  []string{versionfile.InventoryPath, "etc/centos-release", "etc/os-release", "etc/issue"},
			values: map[string]string{"PRODUCT_VERSION": "7.0.0", "PRODUCT_VERSION_TEXT": "7.0", "PRODUCT_VERSION_TEXT_SHORT": "7.0", "PLATFORM_VERSION": "2.1.0", "BUILD_NUMBER": "125380c"},
			files: map[string]string{
				"etc/centos-release": "XenServer release 7.0.0 (xenenterprise)\n",
				"etc/os-release":     "NAME=\"XenServer\"\nVERSION=\"7.0.0\"\nID=\"xenenterprise\"\nVERSION_ID=\"7.0.0\"\nPRETTY_NAME=\"XenServer 7.0\"\n",
			},
		},
		{
			// "8.2 CU1" is a version text, replaced as a phrase.
			release: "8.2.1", installer: "8.0",
			paths:  []string{versionfile.InventoryPath, "etc/centos-release", "etc/os-release", "etc/issue"},
			values: map[string]string{"PRODUCT_VERSION": "8.0.0", "PRODUCT_VERSION_TEXT": "8.0", "PRODUCT_VERSION_TEXT_SHORT": "8.0", "PLATFORM_VERSION": "3.0.0", "BUILD_NUMBER": "release/naples/master/45"},
			// 8.1 and later leave init-service markers, not the state
			// directory the 8.0 installer wants: repaired only on request.
			remaining: versionfile.GateFirstboot,
			files: map[string]string{
				"etc/os-release": "NAME=\"Citrix Hypervisor\"\nVERSION=\"8.0.0\"\nID=\"xenenterprise\"\nVERSION_ID=\"8.0.0\"\nPRETTY_NAME=\"Citrix Hypervisor 8.0\"\n",
				"etc/issue":      "Citrix Hypervisor 8.0\n\nYour XenServer host has now finished booting.\n",
			},
		},
		{
			// An 8.x build (release/stockholm/master/7) is not one the 7.1
			// installer's class parses: the release table's 7.1 build is
			// written, never the 8.x build kept.
			release: "8.2", installer: "7.1",
			paths:     []string{versionfile.InventoryPath, "etc/centos-release", "etc/os-release", "etc/issue"},
			values:    map[string]string{"PRODUCT_VERSION": "7.1.0", "PRODUCT_VERSION_TEXT": "7.1", "PRODUCT_VERSION_TEXT_SHORT": "7.1", "PLATFORM_VERSION": "2.2.0", "BUILD_NUMBER": "137272c"},
			remaining: versionfile.GateFirstboot,
		},
		{
			// The 5.6 installer refuses its own version: the newest release
			// below it is chosen.
			release: "6.2", installer: "5.6",
			paths:  []string{versionfile.InventoryPath, "etc/redhat-release", "etc/issue"},
			values: map[string]string{"PRODUCT_VERSION": "5.5.0", "PRODUCT_VERSION_TEXT": "5.5", "PRODUCT_VERSION_TEXT_SHORT": "5.5", "BUILD_NUMBER": "15119p"},
			files:  map[string]string{"etc/redhat-release": "XenServer release 5.5.0-15119p (xenenterprise)\n"},
		},
	}
	for _, c := range cases {
		t.Run(c.release+"-for-"+c.installer, func(t *testing.T) {
			r := fixtureRoot(t, fixtures.RootSpec{Release: c.release})
			in := mustInstaller(t, c.installer)
			before, err := versionfile.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			if before.Verdict(in).OffersUpgrade {
				t.Fatalf("fixture already accepted by %s", c.installer)
			}
			sp, err := versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: c.installer})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.paths, planPaths(sp.Plan)); diff != "" {
				t.Errorf("planned paths:\n%s", diff)
			}
			if diff := cmp.Diff(c.values, sp.Values); diff != "" {
				t.Errorf("values:\n%s", diff)
			}
			if len(sp.Explain) == 0 {
				t.Error("no explanation")
			}
			applyChanges(t, r, sp.Plan)
			for p, want := range c.files {
				got, _ := os.ReadFile(filepath.Join(r.Dir(), p))
				if string(got) != want {
					t.Errorf("%s:\n%s", p, cmp.Diff(want, string(got)))
				}
			}
			after, err := versionfile.Inspect(r)
			if err != nil {
				t.Fatal(err)
			}
			// Given as a directory, the root-partition gate stays unknown;
			// every other gate passes but the one left to the user.
			for _, g := range append(after.Verdict(in).Gates, after.Verdict(in).DuringUpgrade...) {
				want := versionfile.StatusOK
				switch g.Name {
				case versionfile.GateRoot:
					want = versionfile.StatusUnknown
				case c.remaining:
					want = versionfile.StatusFail
				}
				if g.Status != want {
					t.Errorf("after set, installer %s gate %s: %s (%s), want %s", c.installer, g.Name, g.Status, g.Reason, want)
				}
			}
			if got := fmt.Sprint(sp.Remaining); (c.remaining == "") != (len(sp.Remaining) == 0) || !strings.Contains(got, c.remaining) {
				t.Errorf("remaining gates %s, want %q", got, c.remaining)
			}
			if !after.Consistent {
				t.Errorf("after set the markers disagree: %+v", after.Markers)
			}
			// Only the version keys changed in the inventory.
			bm, am := before.Inventory.Map(), after.Inventory.Map()
			for k, v := range bm {
				if _, changed := c.values[k]; !changed && am[k] != v {
					t.Errorf("key %s changed from %q to %q", k, v, am[k])
				}
			}
			// A second run has nothing left to do.
			again, err := versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: c.installer})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Plan.Empty() {
				t.Errorf("second run plans %v", planPaths(again.Plan))
			}
		})
	}
}

func TestPlanSetRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		req  versionfile.SetRequest
		code int
		msg  string
	}{
		{"not dotted", versionfile.SetRequest{To: "5.x"}, xerr.ExitInvalid, `--to "5.x": the version must be dotted numbers`},
		{"empty arc", versionfile.SetRequest{To: "5..0"}, xerr.ExitInvalid, "dotted numbers"},
		{"bad build", versionfile.SetRequest{To: "5.0.0-"}, xerr.ExitInvalid, "build"},
		{"bad platform", versionfile.SetRequest{To: "7.0.0", Platform: "two"}, xerr.ExitInvalid, "--platform-version"},
		{"unknown installer", versionfile.SetRequest{ForInstaller: "3.0"}, xerr.ExitInvalid, "unknown installer"},
		{"installer before 5.0", versionfile.SetRequest{ForInstaller: "4.0"}, xerr.ExitInvalid, `unknown installer version "4.0": the model starts with 5.0 (known: 5.0.0, `},
		{"installer not in table", versionfile.SetRequest{ForInstaller: "9.9"}, xerr.ExitInvalid, `unknown installer version "9.9" (known: 5.0.0, `},
		{"too new for installer", versionfile.SetRequest{To: "8.4.0", ForInstaller: "8.2", AllowRaise: true}, xerr.ExitRefused, "is newer than the installer's own 3.2.0"},
		{"raise", versionfile.SetRequest{To: "7.2.0"}, xerr.ExitRefused, "PRODUCT_VERSION 7.2.0 is newer than the installed 7.1.0"},
		{"7.x not in table", versionfile.SetRequest{To: "7.0.5"}, xerr.ExitInvalid, "every 7.0+ installer compares PLATFORM_VERSION, not PRODUCT_VERSION (installed: 2.2.0): give --platform-version"},
		{"raise platform", versionfile.SetRequest{To: "7.1.0", Platform: "2.3.0"}, xerr.ExitRefused, "PLATFORM_VERSION 2.3.0 is newer than the installed 2.2.0"},
		{"below 2.1.0", versionfile.SetRequest{To: "7.0.0", Platform: "1.9.0", ForInstaller: "8.2"}, xerr.ExitRefused, "older than 2.1.0"},
		{"nothing asked", versionfile.SetRequest{}, xerr.ExitInvalid, "--to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
			inv, _ := os.ReadFile(filepath.Join(r.Dir(), versionfile.InventoryPath))
			_, err := versionfile.PlanSet(r, c.req)
			if xerr.Code(err) != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (exit %d), want exit %d with %q", err, xerr.Code(err), c.code, c.msg)
			}
			if now, _ := os.ReadFile(filepath.Join(r.Dir(), versionfile.InventoryPath)); string(now) != string(inv) {
				t.Fatal("a refused set changed the inventory")
			}
		})
	}
}

// TestPlanSetBelowInstallerFloor: a 5.5 system is below the 8.x
// installer's deliberate floor (PLATFORM_VERSION 2.1.0, "Prevent upgrades
// from versions of XS prior to 7"); faking it past that is refused even with
// --allow-raise (acceptance F-version-0), while an explicit raise the
// installer range allows goes through.
func TestPlanSetBelowInstallerFloor(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.5"})
	for _, req := range []versionfile.SetRequest{
		{ForInstaller: "8.2"},
		{ForInstaller: "8.2", AllowRaise: true},
		{ForInstaller: "7.0", AllowRaise: true},
	} {
		_, err := versionfile.PlanSet(r, req)
		if xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "below the") || !strings.Contains(err.Error(), "lower bound") {
			t.Errorf("%+v: got %v (exit %d), want a refusal naming the lower bound", req, err, xerr.Code(err))
		}
	}
	if _, err := versionfile.PlanSet(r, versionfile.SetRequest{To: "5.6.0"}); xerr.Code(err) != xerr.ExitRefused {
		t.Errorf("raise 5.5 -> 5.6 without --allow-raise: %v", err)
	}
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{To: "5.6.0", AllowRaise: true})
	if err != nil || sp.Values["PRODUCT_VERSION"] != "5.6.0" {
		t.Fatalf("raise with --allow-raise: %v %+v", err, sp)
	}
}

func TestPlanSetTo(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "5.5"})
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{To: "5.0.0-12345x"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"PRODUCT_VERSION": "5.0.0", "PRODUCT_VERSION_TEXT": "5.0", "PRODUCT_VERSION_TEXT_SHORT": "5.0", "BUILD_NUMBER": "12345x"}
	if diff := cmp.Diff(want, sp.Values); diff != "" {
		t.Fatal(diff)
	}
	applyChanges(t, r, sp.Plan)
	got, _ := os.ReadFile(filepath.Join(r.Dir(), "etc/redhat-release"))
	if string(got) != "XenServer release 5.0.0-12345x (xenenterprise)\n" {
		t.Fatalf("redhat-release %q", got)
	}
}

// TestPlanSetUnknownPlatform: a 7.x version the release table does not know
// (refused alone, TestPlanSetRefusals: acceptance F-version-3) is planned
// with --platform-version.
func TestPlanSetUnknownPlatform(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "7.6"})
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{To: "7.1.1", Platform: "2.2.0"})
	if err != nil || sp.Values["PLATFORM_VERSION"] != "2.2.0" {
		t.Fatalf("with --platform-version: %v %+v", err, sp)
	}
}

// TestPlanSetBuildNote: the BUILD_NUMBER note says how the 6.0 installer's
// version class reads a build (acceptance F-version-1).
func TestPlanSetBuildNote(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "6.2"})
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: "6.0"})
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, e := range sp.Explain {
		if strings.HasPrefix(e, "BUILD_NUMBER") {
			note = e
		}
	}
	if !strings.Contains(note, "purely numeric one as part of the version") {
		t.Errorf("BUILD_NUMBER note for the 6.0 installer: %q", note)
	}
}

// TestPlanSetKeepsAcceptedVersion: --for-installer V on a system V already
// accepts (7.1 for the 8.2 installer) keeps its version — choosing V's own
// release would make it claim to be 8.2 and be refused as a raise, which
// blocked every gate repair (acceptance round 14) — and plans nothing
// else when the gates pass.
func TestPlanSetKeepsAcceptedVersion(t *testing.T) {
	t.Parallel()
	r := fixtureRoot(t, fixtures.RootSpec{Release: "7.1"})
	sp, err := versionfile.PlanSet(r, versionfile.SetRequest{ForInstaller: "8.2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Values) != 0 || !sp.Plan.Empty() || !strings.Contains(strings.Join(sp.Explain, "\n"), "PRODUCT_VERSION 7.1.0 kept") {
		t.Errorf("values %v, plan %v, explain %q", sp.Values, planPaths(sp.Plan), sp.Explain)
	}
}
