package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/release"
)

// versionNeedsDisk skips a test that mounts images where it cannot run:
// not root, or a tool missing.
func versionNeedsDisk(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting an image needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test.sh installs it)", tool)
		}
	}
}

func versionRoot(t *testing.T, spec fixtures.RootSpec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	if err := fixtures.WriteXenServerRoot(dir, spec); err != nil {
		t.Fatal(err)
	}
	return dir
}

// versionTreeState describes every entry under dir (type, mode, owner,
// content hash or link target), so "nothing changed" is one comparison.
func versionTreeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state, err := fixtures.TreeState(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func sameTree(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %s was %q, now %q", what, k, v, b[k])
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

type showJSON struct {
	Root       string            `json:"root"`
	Inventory  map[string]string `json:"inventory"`
	Consistent bool              `json:"consistent"`
	Markers    []struct {
		Path, Resolved, Value string
		ProductVersion        string `json:"product_version"`
		BuildNumber           string `json:"build_number"`
		Problem               string `json:"problem"`
	} `json:"markers"`
	Verdicts []struct {
		Installer     string `json:"installer"`
		Generation    string `json:"generation"`
		OffersUpgrade bool   `json:"offers_upgrade"`
		Reason        string `json:"reason"`
		Rule          string `json:"rule"`
	} `json:"verdicts"`
	Backup *struct {
		Partition     int               `json:"partition"`
		Marker        bool              `json:"marker"`
		Inventory     map[string]string `json:"inventory"`
		OffersRestore bool              `json:"offers_restore"`
		Reason        string            `json:"reason"`
	} `json:"backup"`
}

func versionShowJSON(t *testing.T, argv ...string) showJSON {
	t.Helper()
	code, out, errOut := runCLI(append([]string{"version", "show", "--json"}, argv...)...)
	if code != 0 {
		t.Fatalf("version show %v: exit %d: %s", argv, code, errOut)
	}
	var doc showJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return doc
}

func offers(doc showJSON) map[string]bool {
	m := map[string]bool{}
	for _, v := range doc.Verdicts {
		m[v.Installer] = v.OffersUpgrade
	}
	return m
}

// TestVersionShowRoots: the JSON contract on each fixture generation, the
// verdicts of installers 5.0, 5.6, 6.2, 7.0, 7.1, 8.2, and not a byte
// written.
func TestVersionShowRoots(t *testing.T) {
	cases := []struct {
		release string
		accept  []string // of 5.0.0, 5.6.0, 6.2.0, 7.0.0, 7.1.0, 8.2.0
		markers int
	}{
		{"5.5", []string{"5.6.0"}, 2},
		{"6.2", []string{"6.2.0"}, 2},
		{"7.0", []string{"7.0.0", "7.1.0", "8.2.0"}, 5},
		{"7.1", []string{"7.1.0", "8.2.0"}, 5},
	}
	for _, c := range cases {
		t.Run(c.release, func(t *testing.T) {
			root := versionRoot(t, fixtures.RootSpec{Release: c.release})
			before := versionTreeState(t, root)
			doc := versionShowJSON(t, "--root", root)
			if !doc.Consistent || len(doc.Markers) != c.markers || doc.Backup != nil || doc.Inventory["PRODUCT_NAME"] != "xenenterprise" {
				t.Fatalf("doc: %+v", doc)
			}
			got := offers(doc)
			for _, in := range []string{"5.0.0", "5.6.0", "6.2.0", "7.0.0", "7.1.0", "8.2.0"} {
				want := false
				for _, a := range c.accept {
					want = want || a == in
				}
				if got[in] != want {
					t.Errorf("installer %s: offers_upgrade=%v want %v", in, got[in], want)
				}
			}
			one := versionShowJSON(t, "--root", root, "--installer", "8.2")
			if len(one.Verdicts) != 1 || one.Verdicts[0].Installer != "8.2.0" || one.Verdicts[0].Rule == "" {
				t.Fatalf("--installer 8.2: %+v", one.Verdicts)
			}
			code, text, _ := runCLI("version", "show", "--root", root)
			if code != 0 || !strings.Contains(text, "would the installer of version V offer Upgrade?") {
				t.Fatalf("text output (exit %d):\n%s", code, text)
			}
			sameTree(t, "version show", before, versionTreeState(t, root))
		})
	}
}

// TestVersionSetShowUndo: set for an older installer, show agrees, undo
// restores every file byte for byte (symlinked markers stay links).
func TestVersionSetShowUndo(t *testing.T) {
	cases := []struct{ release, installer, wantPV string }{
		{"5.5", "5.0", "5.0.0"},
		{"7.1", "7.0", "7.0.0"},
		{"8.2.1", "8.0", "8.0.0"},
	}
	for _, c := range cases {
		t.Run(c.release+"-for-"+c.installer, func(t *testing.T) {
			root := versionRoot(t, fixtures.RootSpec{Release: c.release})
			jpath := filepath.Join(t.TempDir(), "journal.db")
			before := versionTreeState(t, root)

			code, out, errOut := runCLI("version", "set", "--root", root, "--for-installer", c.installer, "--dry-run")
			if code != 0 || !strings.Contains(out, "+PRODUCT_VERSION='"+c.wantPV+"'") {
				t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
			}
			sameTree(t, "dry run", before, versionTreeState(t, root))

			code, out, errOut = runCLI("version", "set", "--root", root, "--for-installer", c.installer, "--yes", "--json", "--journal", jpath)
			if code != 0 {
				t.Fatalf("set: exit %d: %s", code, errOut)
			}
			var set struct {
				Op   *struct{ Op int64 } `json:"op"`
				Undo string              `json:"undo"`
			}
			if err := json.Unmarshal([]byte(out), &set); err != nil || set.Op == nil {
				t.Fatalf("set JSON: %v\n%s", err, out)
			}
			if !strings.HasPrefix(set.Undo, "xsrescue journal undo ") {
				t.Fatalf("undo command %q", set.Undo)
			}
			doc := versionShowJSON(t, "--root", root, "--installer", c.installer)
			if !doc.Consistent || !doc.Verdicts[0].OffersUpgrade || doc.Inventory["PRODUCT_VERSION"] != c.wantPV {
				t.Fatalf("after set: consistent=%v verdict=%+v", doc.Consistent, doc.Verdicts)
			}
			for _, m := range doc.Markers {
				if m.ProductVersion != "" && !strings.HasPrefix(c.wantPV, m.ProductVersion) {
					t.Errorf("marker %s still says %s", m.Path, m.ProductVersion)
				}
			}
			if l, err := os.Readlink(filepath.Join(root, "etc/redhat-release")); strings.HasPrefix(c.release, "7") && (err != nil || l != "centos-release") {
				t.Errorf("etc/redhat-release is no longer a link to centos-release: %q %v", l, err)
			}
			argv := strings.Fields(set.Undo)[1:]
			code, _, errOut = runCLI(append(argv, "--yes")...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", set.Undo, code, errOut)
			}
			sameTree(t, "after undo", before, versionTreeState(t, root))
		})
	}
}

func TestVersionErrors(t *testing.T) {
	root := versionRoot(t, fixtures.RootSpec{Release: "7.1"})
	broken := versionRoot(t, fixtures.RootSpec{Release: "7.1"})
	inv := filepath.Join(broken, "etc/xensource-inventory")
	if err := os.WriteFile(inv, []byte("PRODUCT_VERSION='7.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, root)
	cases := []struct {
		argv []string
		code int
		msg  string
	}{
		{[]string{"version", "set", "--root", root, "--to", "seven", "--yes"}, xerr.ExitInvalid, `--to "seven"`},
		{[]string{"version", "set", "--root", root, "--to", "8.4.0", "--for-installer", "8.2", "--allow-raise", "--yes"}, xerr.ExitRefused, "would not offer Upgrade"},
		{[]string{"version", "set", "--root", root, "--yes"}, xerr.ExitInvalid, "give --to"},
		{[]string{"version", "set", "--root", root, "--to", "7.0.0"}, xerr.ExitRefused, ""}, // no TTY and no --yes
		{[]string{"version", "show", "--root", root, "--installer", "1.0"}, xerr.ExitInvalid, "unknown installer"},
		{[]string{"version", "set", "--root", root, "--for-installer", "4.0", "--yes"}, xerr.ExitInvalid, `unknown installer version "4.0" (known: 5.0.0,`},
		{[]string{"version", "set", "--root", root, "--for-installer", "9.9", "--yes"}, xerr.ExitInvalid, `unknown installer version "9.9" (known: 5.0.0,`},
		{[]string{"version", "show", "--root", root, "--installer", "4.1"}, xerr.ExitInvalid, "unknown installer"},
		{[]string{"version", "show", "--root", broken}, xerr.ExitInvalid, inv + " line 1: unbalanced single quotes"},
		{[]string{"version", "set", "--root", broken, "--to", "7.0.0", "--yes"}, xerr.ExitInvalid, inv + " line 1"},
		{[]string{"version", "show"}, xerr.ExitInvalid, "no target"},
		{[]string{"version", "find", "--root", root}, xerr.ExitInvalid, "expected at least 1"},
		{[]string{"version", "show", "--root", root, "extra"}, xerr.ExitInvalid, "expected 0"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.argv...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d (%q), want %d with %q", c.argv, code, errOut, c.code, c.msg)
		}
	}
	sameTree(t, "refused commands", before, versionTreeState(t, root))
}

// TestVersionHostileLink: etc/redhat-release -> an absolute path holding a
// sentinel on the rescue system: show never prints it, set never writes it.
func TestVersionHostileLink(t *testing.T) {
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "shadow")
	const secret = "root:SENTINEL:19000::::::\n"
	if err := os.WriteFile(sentinel, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	root := versionRoot(t, fixtures.RootSpec{Release: "5.5"})
	rr := filepath.Join(root, "etc/redhat-release")
	if err := os.Remove(rr); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sentinel, rr); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{"version", "show", "--root", root, "--json"},
		{"version", "set", "--root", root, "--for-installer", "5.0", "--yes", "--journal", filepath.Join(t.TempDir(), "j.db")},
		{"version", "find", "--root", root, "SENTINEL"},
	} {
		code, out, errOut := runCLI(argv...)
		if code != 0 || strings.Contains(out+errOut, "SENTINEL:") {
			t.Fatalf("%v: exit %d\n%s\n%s", argv, code, out, errOut)
		}
	}
	if got, _ := os.ReadFile(sentinel); string(got) != secret {
		t.Fatal("the rescue system's file was written")
	}
	if l, _ := os.Readlink(rr); l != sentinel {
		t.Fatalf("the link itself changed: %q", l)
	}
}

// TestVersionMarkerLoop: a symlink loop on etc/issue and a dangling
// etc/redhat-release are listed with their problem; show prints the rest
// and set rewrites the rest, leaving both links alone.
func TestVersionMarkerLoop(t *testing.T) {
	root := versionRoot(t, fixtures.RootSpec{Release: "7.1"})
	if err := fixtures.BreakMarkerLinks(root); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(root, "etc")
	doc := versionShowJSON(t, "--root", root)
	problems := map[string]string{}
	for _, m := range doc.Markers {
		problems[m.Path] = m.Problem
	}
	if !strings.Contains(problems["etc/issue"], "too many levels of symbolic links") ||
		!strings.Contains(problems["etc/redhat-release"], "dangling symlink to etc/shadow") ||
		problems["etc/centos-release"] != "" || len(doc.Verdicts) == 0 || !doc.Consistent {
		t.Fatalf("markers %q, %d verdicts, consistent %v", problems, len(doc.Verdicts), doc.Consistent)
	}
	code, out, errOut := runCLI("version", "show", "--root", root)
	if code != 0 || !strings.Contains(out, "etc/issue  ") || !strings.Contains(out, "(too many levels of symbolic links: not read)") {
		t.Fatalf("show: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("version", "set", "--root", root, "--for-installer", "7.0", "--yes", "--journal", filepath.Join(t.TempDir(), "j.db"))
	if code != 0 || !strings.Contains(out+errOut, "etc/issue left alone: too many levels of symbolic links") {
		t.Fatalf("set: exit %d\n%s\n%s", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(etc, "centos-release")); !strings.Contains(string(got), "release 7.0.0") {
		t.Fatalf("centos-release not rewritten: %q", got)
	}
	for link, to := range fixtures.BrokenMarkerLinks {
		if l, err := os.Readlink(filepath.Join(etc, link)); err != nil || l != to {
			t.Fatalf("%s: %q %v", link, l, err)
		}
	}
}

func TestVersionFind(t *testing.T) {
	root := versionRoot(t, fixtures.RootSpec{Release: "5.5", Extra: map[string][]byte{
		"opt/xensource/libexec/xapi": append([]byte("\x7fELF\x00\x01"), []byte("xapi build 15119p")...),
		"proc/version":               []byte("15119p"),
	}})
	if err := os.Symlink("/etc", filepath.Join(root, "etc-link")); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, root)
	code, out, errOut := runCLI("version", "find", "--root", root, "15119p", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Matches []struct {
			Path   string `json:"path"`
			Line   int    `json:"line"`
			Text   string `json:"text"`
			Binary bool   `json:"binary"`
			Offset int64  `json:"offset"`
		} `json:"matches"`
		Files []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err, out)
	}
	want := []string{"etc/redhat-release", "etc/xensource-inventory", "opt/xensource/libexec/xapi"}
	if strings.Join(doc.Files, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", doc.Files, want)
	}
	last := doc.Matches[len(doc.Matches)-1]
	if !last.Binary || last.Offset != 17 || last.Line != 0 {
		t.Fatalf("binary match: %+v", last)
	}
	if m := doc.Matches[0]; m.Line != 1 || m.Text != "XenServer release 5.5.0-15119p (xenenterprise)" {
		t.Fatalf("first match: %+v", m)
	}
	code, text, _ := runCLI("version", "find", "--root", root, "15119p", "10918p")
	if code != 0 || !strings.Contains(text, "etc/redhat-release:1:XenServer release 5.5.0-15119p (xenenterprise)\n") ||
		!strings.Contains(text, "opt/xensource/libexec/xapi: binary match at offset 17\n") {
		t.Fatalf("text: exit %d\n%s", code, text)
	}
	sameTree(t, "version find", before, versionTreeState(t, root))
}

// TestVersionDisk: --disk mounts the root read-only for show (not a byte of
// the image changes), reads the backup partition (root + 1), and set/undo go
// through a read-write mount. A 5.5 DOS disk whose backup holds 5.0, and a
// 7.1 old-layout GPT disk whose backup holds 6.5.
func TestVersionDisk(t *testing.T) {
	versionNeedsDisk(t, "mke2fs", "debugfs", "losetup")
	cases := []struct {
		table, release, backup, installer, wantPV string
	}{
		{"dos", "5.5", "5.0", "5.0", "5.0.0"},
		{"gpt", "7.1", "6.5", "7.0", "7.0.0"},
		{"gpt", "8.2", "", "8.0", "8.0.0"}, // backup partition never formatted
	}
	for _, c := range cases {
		t.Run(c.table+"-"+c.release, func(t *testing.T) {
			var backup *fixtures.RootSpec
			if c.backup != "" {
				backup = &fixtures.RootSpec{Release: c.backup}
			}
			spec := fixtures.Mini("version-"+c.table, c.table, fixtures.RootSpec{Release: c.release}, backup)
			img, err := fixtures.BuildDisk(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			imgSum := func() string {
				data, err := os.ReadFile(img)
				if err != nil {
					t.Fatal(err)
				}
				s := sha256.Sum256(data)
				return hex.EncodeToString(s[:])
			}
			before := imgSum()
			doc := versionShowJSON(t, "--disk", img)
			b := doc.Backup
			switch {
			case b == nil || b.Partition != 2:
				t.Fatalf("backup: %+v", b)
			case c.backup == "" && (b.Marker || b.OffersRestore || !strings.Contains(b.Reason, "cannot read partition 2")):
				t.Fatalf("unformatted backup: %+v", b)
			case c.backup != "" && (!b.Marker || !b.OffersRestore || !strings.HasPrefix(b.Inventory["PRODUCT_VERSION"], c.backup)):
				t.Fatalf("backup: %+v", b)
			}
			if offers(doc)[c.wantPV] {
				t.Fatalf("the %s installer accepts the %s root before set", c.installer, c.release)
			}
			code, found, errOut := runCLI("version", "find", "--disk", img, "PRODUCT_VERSION='"+c.release)
			if code != 0 || !strings.Contains(found, "etc/xensource-inventory:") {
				t.Fatalf("find --disk: exit %d\n%s\n%s", code, found, errOut)
			}
			if imgSum() != before {
				t.Fatal("version show/find --disk changed the image")
			}
			jpath := filepath.Join(t.TempDir(), "journal.db")
			code, setOut, errOut := runCLI("version", "set", "--disk", img, "--for-installer", c.installer, "--yes", "--json", "--journal", jpath)
			if code != 0 {
				t.Fatalf("set --disk: exit %d: %s", code, errOut)
			}
			var set struct {
				Undo string `json:"undo"`
			}
			if err := json.Unmarshal([]byte(setOut), &set); err != nil {
				t.Fatal(err)
			}
			if doc := versionShowJSON(t, "--disk", img, "--installer", c.installer); !doc.Verdicts[0].OffersUpgrade || !doc.Consistent {
				t.Fatalf("after set --disk: consistent=%v %+v", doc.Consistent, doc.Verdicts)
			}
			code, _, errOut = runCLI(append(strings.Fields(set.Undo)[1:], "--yes")...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", set.Undo, code, errOut)
			}
			if doc := versionShowJSON(t, "--disk", img, "--installer", c.installer); doc.Verdicts[0].OffersUpgrade || !strings.HasPrefix(doc.Inventory["PRODUCT_VERSION"], c.release) {
				t.Fatalf("after undo: %+v", doc.Inventory)
			}
		})
	}
}

// TestVersionDiskXS8Gate: with --disk the partition table is read too; the
// XenServer 8 installer refuses a DOS disk behind a utility partition even
// though the inventory is within its range.
func TestVersionDiskXS8Gate(t *testing.T) {
	versionNeedsDisk(t, "mke2fs", "losetup")
	const name = "version-xs8-utility"
	rel, _ := release.Lookup("8.2")
	mib := fixtures.MiB
	spec := fixtures.DiskSpec{Name: name, Size: 100 * mib, Table: "dos", Partitions: []fixtures.PartSpec{
		{Number: 1, Start: mib, Size: 16 * mib, Type: "de"},
		{Number: 2, Start: 17 * mib, Size: 64 * mib, Type: "83", Bootable: true, FS: "ext3",
			Label: fixtures.RootLabel(name, rel), Root: &fixtures.RootSpec{Release: "8.2", Seed: name}},
		{Number: 3, Start: 81 * mib, Size: 16 * mib, Type: "83"},
	}}
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("version", "show", "--disk", img, "--installer", "8.4", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Verdicts []struct {
			OffersUpgrade bool   `json:"offers_upgrade"`
			Reason        string `json:"reason"`
			Gates         []struct {
				Name string `json:"name"`
				OK   bool   `json:"ok"`
			} `json:"gates"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	vd := doc.Verdicts[0]
	if vd.OffersUpgrade || !strings.Contains(vd.Reason, "utility partition") {
		t.Fatalf("verdict: %+v", vd)
	}
	for _, g := range vd.Gates {
		if g.Name != "disk-layout" && !g.OK {
			t.Errorf("gate %s failed too: %s", g.Name, vd.Reason)
		}
	}
}

// TestVersionDiskRootLabel: the installer finds the root by its ext label
// root-*; a root partition without it gets a failing root-label gate and
// verdict no (acceptance F-version-2). An empty root-* partition's error
// names the disk and partition, not the private mount (F-cli-2).
func TestVersionDiskRootLabel(t *testing.T) {
	versionNeedsDisk(t, "mke2fs", "losetup")
	const name = "version-nolabel"
	mib := fixtures.MiB
	spec := fixtures.DiskSpec{Name: name, Size: 100 * mib, Table: "dos", Partitions: []fixtures.PartSpec{
		{Number: 1, Start: mib, Size: 48 * mib, Type: "83", Bootable: true, FS: "ext3",
			Root: &fixtures.RootSpec{Release: "5.5", Seed: name}},
		{Number: 2, Start: 49 * mib, Size: 48 * mib, Type: "83", FS: "ext3", Label: "root-empty"},
	}}
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	doc := versionShowJSON(t, "--disk", img, "--partition", "1", "--installer", "5.5")
	vd := doc.Verdicts[0]
	if vd.OffersUpgrade || !strings.Contains(vd.Reason, `partition 1 (ext3) is labelled "", not root-*`) {
		t.Fatalf("verdict without a root-* label: %+v", vd)
	}
	code, _, errOut := runCLI("version", "show", "--disk", img, "--partition", "2")
	want := img + " partition 2: etc/xensource-inventory: no such file"
	if code != xerr.ExitInvalid || !strings.Contains(errOut, want) || strings.Contains(errOut, "xsrescue-mnt") {
		t.Fatalf("exit %d: %s\nwant %q", code, errOut, want)
	}
}

// TestVersionSetRaise: version set refuses to make a system claim to be
// newer than it is (F-version-0): without --allow-raise, and below the
// installer's lower bound even with it; nothing is written.
func TestVersionSetRaise(t *testing.T) {
	dir := versionRoot(t, fixtures.RootSpec{Release: "5.5"})
	before := versionTreeState(t, dir)
	for _, argv := range [][]string{
		{"--for-installer", "8.2"},
		{"--for-installer", "8.2", "--allow-raise"},
		{"--to", "6.0.0"},
	} {
		code, _, errOut := runCLI(append([]string{"version", "set", "--root", dir, "--yes", "--journal", filepath.Join(t.TempDir(), "j.db")}, argv...)...)
		if code != xerr.ExitRefused || !strings.Contains(errOut, "refusing") {
			t.Errorf("%v: exit %d: %s", argv, code, errOut)
		}
	}
	sameTree(t, "refused version set", before, versionTreeState(t, dir))
	code, out, errOut := runCLI("version", "set", "--root", dir, "--to", "6.0.0", "--allow-raise", "-n")
	if code != 0 || !strings.Contains(out, "PRODUCT_VERSION") {
		t.Fatalf("--allow-raise -n: exit %d: %s %s", code, out, errOut)
	}
}
