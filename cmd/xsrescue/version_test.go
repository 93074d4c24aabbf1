package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/release"
)

// versionNeedsDisk skips a test that mounts images where it cannot run:
// not root, or a tool missing.
func versionNeedsDisk(t *testing.T, tools ...string) {
	t.Helper()
	testutil.NeedRoot(t, "mounting an image")
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
		Installer     string     `json:"installer"`
		Generation    string     `json:"generation"`
		OffersUpgrade bool       `json:"offers_upgrade"`
		Outcome       string     `json:"outcome"`
		Reason        string     `json:"reason"`
		Rule          string     `json:"rule"`
		Gates         []gateJSON `json:"gates"`
		DuringUpgrade []gateJSON `json:"during_upgrade"`
	} `json:"verdicts"`
	Backups []struct {
		Partition int `json:"partition"`
		Verdicts  []struct {
			Installer string `json:"installer"`
			Status    string `json:"status"`
		} `json:"verdicts"`
	} `json:"backups"`
	BackupsNote string `json:"backups_note"`
	Backup      *struct {
		Partition     int               `json:"partition"`
		Marker        *bool             `json:"marker"`
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

type gateJSON struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// outcomes maps each installer to its verdict's outcome.
func outcomes(doc showJSON) map[string]string {
	m := map[string]string{}
	for _, v := range doc.Verdicts {
		m[v.Installer] = v.Outcome
	}
	return m
}

func offers(doc showJSON) map[string]bool {
	m := map[string]bool{}
	for _, v := range doc.Verdicts {
		m[v.Installer] = v.OffersUpgrade
	}
	return m
}

// TestVersionShowRoots: the JSON contract on each fixture generation, the
// verdicts of installers 5.0, 5.6, 6.2, 7.0, 7.1, 8.2 (given as a
// directory, the root-partition gate is unknown: "unknown" where every
// file gate passes, never "upgrade"), and not a byte written.
func TestVersionShowRoots(t *testing.T) {
	t.Parallel()
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
			got := outcomes(doc)
			for _, in := range []string{"5.0.0", "5.6.0", "6.2.0", "7.0.0", "7.1.0", "8.2.0"} {
				want := "no"
				for _, a := range c.accept {
					if a == in {
						want = "unknown"
					}
				}
				if got[in] != want || offers(doc)[in] {
					t.Errorf("installer %s: outcome %s offers %v, want %s", in, got[in], offers(doc)[in], want)
				}
			}
			one := versionShowJSON(t, "--root", root, "--installer", "8.2")
			if len(one.Verdicts) != 1 || one.Verdicts[0].Installer != "8.2.0" || one.Verdicts[0].Rule == "" {
				t.Fatalf("--installer 8.2: %+v", one.Verdicts)
			}
			code, text, _ := runCLI("version", "show", "--root", root)
			if code != 0 || !strings.Contains(text, "would the installer of version V offer Upgrade, and would the upgrade get through?") {
				t.Fatalf("text output (exit %d):\n%s", code, text)
			}
			sameTree(t, "version show", before, versionTreeState(t, root))
		})
	}
}

// TestVersionSetShowUndo: set for an older installer, show agrees, undo
// restores every file byte for byte (symlinked markers stay links).
func TestVersionSetShowUndo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		release, installer, wantPV string
		code                       int // 4: a gate still fails (8.1+ roots lack the state directory 8.0 wants)
	}{
		{"5.5", "5.0", "5.0.0", 0},
		{"7.1", "7.0", "7.0.0", 0},
		{"8.2.1", "8.0", "8.0.0", xerr.ExitProblems},
	}
	for _, c := range cases {
		t.Run(c.release+"-for-"+c.installer, func(t *testing.T) {
			root := versionRoot(t, fixtures.RootSpec{Release: c.release})
			jpath := filepath.Join(t.TempDir(), "journal.db")
			before := versionTreeState(t, root)

			code, out, errOut := runCLI("version", "set", "--root", root, "--for-installer", c.installer, "--dry-run")
			if code != c.code || !strings.Contains(out, "+PRODUCT_VERSION='"+c.wantPV+"'") {
				t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
			}
			sameTree(t, "dry run", before, versionTreeState(t, root))

			code, out, errOut = runCLI("version", "set", "--root", root, "--for-installer", c.installer, "--yes", "--json", "--journal", jpath)
			if code != c.code {
				t.Fatalf("set: exit %d, want %d: %s", code, c.code, errOut)
			}
			set := parseMutation(t, out, nil)
			if set.Op == nil || !set.Changed || len(set.Changes) == 0 || set.Changes[0].Diff == nil || set.Changes[0].BeforeSHA256 == nil || set.Changes[0].AfterSHA256 == nil {
				t.Fatalf("set JSON:\n%s", out)
			}
			if !slices.Equal(set.Op.Undo[:3], []string{"xsrescue", "journal", "undo"}) || (c.code == xerr.ExitProblems) != (len(set.Problems) > 0) {
				t.Fatalf("undo %q, problems %q", set.Op.Undo, set.Problems)
			}
			doc := versionShowJSON(t, "--root", root, "--installer", c.installer)
			if !doc.Consistent || doc.Inventory["PRODUCT_VERSION"] != c.wantPV {
				t.Fatalf("after set: consistent=%v verdict=%+v", doc.Consistent, doc.Verdicts)
			}
			for _, g := range doc.Verdicts[0].Gates {
				if g.Status == "fail" && !(c.code == xerr.ExitProblems && g.Name == "firstboot") {
					t.Errorf("after set: gate %s fails: %s", g.Name, g.Reason)
				}
			}
			for _, m := range doc.Markers {
				if m.ProductVersion != "" && !strings.HasPrefix(c.wantPV, m.ProductVersion) {
					t.Errorf("marker %s still says %s", m.Path, m.ProductVersion)
				}
			}
			if l, err := os.Readlink(filepath.Join(root, "etc/redhat-release")); strings.HasPrefix(c.release, "7") && (err != nil || l != "centos-release") {
				t.Errorf("etc/redhat-release is no longer a link to centos-release: %q %v", l, err)
			}
			code, _, errOut = runCLI(append(set.Op.Undo[1:], "--yes")...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", set.Op.Undo, code, errOut)
			}
			sameTree(t, "after undo", before, versionTreeState(t, root))
		})
	}
}

func TestVersionErrors(t *testing.T) {
	t.Parallel()
	root := versionRoot(t, fixtures.RootSpec{Release: "7.1"})
	broken := versionRoot(t, fixtures.RootSpec{Release: "7.1"})
	inv := filepath.Join(broken, "etc/xensource-inventory")
	// Every line is read as the installer reads it (TestInventoryLinesAsTheInstallerReads);
	// what is refused is an inventory over xsrescue's bound.
	if err := os.WriteFile(inv, []byte("PRODUCT_VERSION='7.1.0'\nPAD='"+strings.Repeat("x", 16<<20)+"'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := versionTreeState(t, root)
	cases := []struct {
		argv []string
		code int
		msg  string
	}{
		{[]string{"version", "set", "--root", root, "--to", "seven", "--yes"}, xerr.ExitInvalid, `--to "seven"`},
		{[]string{"version", "set", "--root", root, "--to", "8.4.0", "--for-installer", "8.2", "--allow-raise", "--yes"}, xerr.ExitInvalid, "--to 8.4.0 and --for-installer 8.2: give one"},
		{[]string{"version", "set", "--root", root, "--yes"}, xerr.ExitInvalid, "give --to"},
		{[]string{"version", "set", "--root", root, "--to", "7.0.0"}, xerr.ExitRefused, ""}, // no TTY and no --yes
		{[]string{"version", "show", "--root", root, "--installer", "1.0"}, xerr.ExitInvalid, "unknown installer"},
		{[]string{"version", "set", "--root", root, "--for-installer", "4.0", "--yes"}, xerr.ExitInvalid, `unknown installer version "4.0": the model starts with 5.0 (known: 5.0.0,`},
		{[]string{"version", "set", "--root", root, "--for-installer", "9.9", "--yes"}, xerr.ExitInvalid, `unknown installer version "9.9" (known: 5.0.0,`},
		{[]string{"version", "show", "--root", root, "--installer", "4.1"}, xerr.ExitInvalid, "unknown installer"},
		{[]string{"version", "show", "--root", broken}, xerr.ExitInvalid, inv + ": larger than 16777216 bytes"},
		{[]string{"version", "set", "--root", broken, "--to", "7.0.0", "--yes"}, xerr.ExitInvalid, inv + ": larger than"},
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// TestVersionDisk: --disk reads the root in-process for show (not a byte of
// the image changes), reads the table and every partition's backup marker,
// and set/undo go through a read-write mount. A 5.5 DOS disk whose backup
// holds 5.0, a 7.1 old-layout GPT disk whose backup holds 6.5, an 8.2 disk
// whose backup partition was never formatted.
func TestVersionDisk(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs", "debugfs", "losetup")
	cases := []struct {
		table, release, backup, installer, wantPV string
	}{
		{"dos", "5.5", "5.0", "5.0", "5.0.0"},
		{"gpt", "7.1", "6.5", "7.0", "7.0.0"},
		{"gpt", "8.2", "", "8.1", "8.1.0"}, // backup partition never formatted
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
			case c.backup == "" && (b.Marker == nil || *b.Marker || b.OffersRestore || !strings.Contains(b.Reason, "no .xen-backup-partition")):
				t.Fatalf("unformatted backup: %+v", b)
			case c.backup != "" && (b.Marker == nil || !*b.Marker || !b.OffersRestore || !strings.HasPrefix(b.Inventory["PRODUCT_VERSION"], c.backup)):
				t.Fatalf("backup: %+v", b)
			}
			if offers(doc)[c.wantPV] {
				t.Fatalf("the %s installer accepts the %s root before set", c.installer, c.release)
			}
			if len(doc.Backups) != map[bool]int{true: 1, false: 0}[c.backup != ""] || doc.BackupsNote == "" {
				t.Fatalf("backups: %+v (note %q)", doc.Backups, doc.BackupsNote)
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
			set := parseMutation(t, setOut, nil)
			if doc := versionShowJSON(t, "--disk", img, "--installer", c.installer); !doc.Verdicts[0].OffersUpgrade || !doc.Consistent {
				t.Fatalf("after set --disk: consistent=%v %+v", doc.Consistent, doc.Verdicts)
			}
			code, _, errOut = runCLI(append(set.Op.Undo[1:], "--yes")...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", set.Op.Undo, code, errOut)
			}
			if doc := versionShowJSON(t, "--disk", img, "--installer", c.installer); doc.Verdicts[0].OffersUpgrade || !strings.HasPrefix(doc.Inventory["PRODUCT_VERSION"], c.release) {
				t.Fatalf("after undo: %+v", doc.Inventory)
			}
		})
	}
}

// TestVersionDiskClearedInode: a directory entry to an inode debugfs clri
// cleared (acceptance acc21a #11) is a corrupt filesystem: invalid input,
// exit 2 naming the byte, as a bad superblock is — for show and for set,
// which writes nothing.
func TestVersionDiskClearedInode(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs", "debugfs")
	spec := fixtures.Mini("version-clri", "dos", fixtures.RootSpec{Release: "6.2"}, nil)
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("%s?offset=%d", img, spec.Partitions[0].Start)
	if out, err := exec.Command("debugfs", "-w", "-R", "clri /etc/xensource-inventory", dev).CombinedOutput(); err != nil {
		t.Fatalf("debugfs clri: %v: %s", err, out)
	}
	before, err := fixtures.FileSHA256(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{"version", "show", "--disk", img},
		{"version", "show", "--disk", img, "--json"},
		{"version", "set", "--disk", img, "--for-installer", "6.0", "--yes", "--journal", filepath.Join(t.TempDir(), "j.db")},
	} {
		code, out, errOut := runCLI(argv...)
		msg := errOut
		if slices.Contains(argv, "--json") {
			msg = out
		}
		if code != xerr.ExitInvalid || !strings.Contains(msg, "etc/xensource-inventory (inode ") ||
			!strings.Contains(msg, "inode is not in use") || !strings.Contains(msg, "(byte ") || !strings.Contains(msg, "corrupt filesystem") {
			t.Errorf("%v: exit %d, want 2 naming the inode and byte\n%s%s", argv, code, out, errOut)
		}
		if slices.Contains(argv, "--json") && !strings.Contains(out, `"exit_code": 2`) {
			t.Errorf("%v: error document %s", argv, out)
		}
	}
	if after, err := fixtures.FileSHA256(img); err != nil || after != before {
		t.Fatalf("the image changed (%v)", err)
	}
}

// TestVersionDiskXS8Gate: with --disk the partition table is read too; the
// XenServer 8 installer offers Upgrade of an 8.2 root on a DOS disk, then
// aborts in doBackup ("Util partition detected on DOS partition type"),
// whether or not a utility partition is there: its own verdict, with the
// cause.
func TestVersionDiskXS8Gate(t *testing.T) {
	t.Parallel()
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
	doc := versionShowJSON(t, "--disk", img, "--installer", "8.4")
	vd := doc.Verdicts[0]
	if !vd.OffersUpgrade || vd.Outcome != "aborts" || !strings.Contains(vd.Reason, "Util partition detected on DOS partition type") {
		t.Fatalf("verdict: %+v", vd)
	}
	for _, g := range vd.Gates {
		if g.Status != "ok" {
			t.Errorf("gate %s: %s", g.Name, g.Reason)
		}
	}
	// The 8.2 installer has no such check.
	if doc := versionShowJSON(t, "--disk", img, "--installer", "8.2"); doc.Verdicts[0].Outcome != "upgrade" {
		t.Fatalf("8.2 installer: %+v", doc.Verdicts[0])
	}
}

// TestVersionDiskRootLabel: from 5.6 on the installer finds the root by its
// ext label root-*; a root partition without it is not found (acceptance
// F-version-2), while 5.0 and 5.5 look only at partition 1, label or not.
// An empty root-* partition's error names the disk and partition, not the
// private mount (F-cli-2).
func TestVersionDiskRootLabel(t *testing.T) {
	t.Parallel()
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
	doc := versionShowJSON(t, "--disk", img, "--partition", "1", "--installer", "5.6")
	vd := doc.Verdicts[0]
	if vd.OffersUpgrade || !strings.Contains(vd.Reason, "no partition with the active flag, type 83 and an ext label root-*") {
		t.Fatalf("5.6 verdict without a root-* label on partition 1: %+v", vd)
	}
	doc = versionShowJSON(t, "--disk", img, "--partition", "1", "--installer", "5.5")
	if vd := doc.Verdicts[0]; vd.Gates[0].Status != "ok" || vd.Outcome != "upgrade" {
		t.Fatalf("5.5 looks only at partition 1: %+v", vd)
	}
	code, _, errOut := runCLI("version", "show", "--disk", img, "--partition", "2")
	want := img + " partition 2: etc/xensource-inventory: no such file"
	if code != xerr.ExitInvalid || !strings.Contains(errOut, want) || strings.Contains(errOut, "xsrescue-mnt") {
		t.Fatalf("exit %d: %s\nwant %q", code, errOut, want)
	}
}

// outsideSum hashes the image without partition n: what a change of the
// table must leave byte-identical after undo (the root's filesystem
// metadata moves with every read-write mount; its files are compared as a
// tree).
func outsideSum(t *testing.T, img string, start, end int64) string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, start)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, end, st.Size()-end)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestVersionSetActiveFlag: the 6.x installers find the root by the active
// flag (DOS) or the legacy BIOS bootable attribute (GPT); version set
// --for-installer plans a journaled raw write of the table, shown as a
// diff, after which sfdisk/sgdisk read the flag and the installer would
// offer Upgrade; journal undo makes the image byte-identical again. Also
// with 4096-byte sectors (read through a loop device by sgdisk).
func TestVersionSetActiveFlag(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs", "losetup", "sfdisk", "sgdisk")
	cases := []struct {
		name, table, release, installer string
		sectorSize                      int
		tool                            []string
		want                            string
	}{
		{"dos", "dos", "6.2", "6.2", 512, []string{"sfdisk", "-d"}, "type=83, bootable"},
		{"gpt", "gpt", "6.5", "6.5", 512, []string{"sgdisk", "--attributes=1:show"}, "legacy BIOS bootable"},
		{"gpt-4k", "gpt", "6.5", "6.5", 4096, []string{"sgdisk", "--attributes=1:show"}, "legacy BIOS bootable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := fixtures.Mini("flag-"+c.name, c.table, fixtures.RootSpec{Release: c.release}, nil)
			spec.Partitions[0].Bootable = false
			spec.SectorSize = c.sectorSize
			img, err := fixtures.BuildDisk(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			p1 := spec.Partitions[0]
			before := testutil.FileSHA256(t, img)
			outside := outsideSum(t, img, p1.Start, p1.Start+p1.Size)
			doc := versionShowJSON(t, "--disk", img, "--installer", c.installer)
			if vd := doc.Verdicts[0]; vd.Outcome != "no" || vd.Gates[0].Name != "root-partition" || vd.Gates[0].Status != "fail" {
				t.Fatalf("before: %+v", vd)
			}
			code, out, errOut := runCLI("version", "set", "--disk", img, "--for-installer", c.installer, "--dry-run")
			if code != 0 || !strings.Contains(out, "raw write") || !strings.Contains(out, "+partition 1:") || !strings.Contains(out, "for the "+c.installer+".0 installer's root-partition") {
				t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
			}
			if testutil.FileSHA256(t, img) != before {
				t.Fatal("the dry run changed the image")
			}
			jpath := filepath.Join(t.TempDir(), "j.db")
			code, out, errOut = runCLI("version", "set", "--disk", img, "--for-installer", c.installer, "--yes", "--json", "--journal", jpath)
			if code != 0 {
				t.Fatalf("set: exit %d: %s", code, errOut)
			}
			var set struct {
				Repairs []struct{ Gate, Change string }
			}
			m := parseMutation(t, out, &set)
			if len(m.Changes) != 1 || m.Changes[0].Action != "raw-write" || m.Changes[0].Diff == nil || len(set.Repairs) != 1 || set.Repairs[0].Gate != "root-partition" {
				t.Fatalf("set: %+v\n%s", set, out)
			}
			dev := img
			if c.sectorSize != 512 {
				out, err := exec.Command("losetup", "--find", "--show", "--read-only", "--sector-size", "4096", img).Output()
				if err != nil {
					t.Fatal(err)
				}
				dev = strings.TrimSpace(string(out))
			}
			got, err := exec.Command(c.tool[0], c.tool[1], dev).CombinedOutput()
			if dev != img {
				exec.Command("losetup", "-d", dev).Run()
			}
			if err != nil || !strings.Contains(string(got), c.want) {
				t.Fatalf("%s: %v\n%s", c.tool[0], err, got)
			}
			if doc := versionShowJSON(t, "--disk", img, "--installer", c.installer); doc.Verdicts[0].Outcome != "upgrade" {
				t.Fatalf("after set: %+v", doc.Verdicts[0])
			}
			code, _, errOut = runCLI(append(m.Op.Undo[1:], "--yes")...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", m.Op.Undo, code, errOut)
			}
			if outsideSum(t, img, p1.Start, p1.Start+p1.Size) != outside {
				t.Fatal("after journal undo the image (outside the root partition) differs from before")
			}
		})
	}
}

// TestVersionSetMovesActiveFlag: a Dell utility partition holds the DOS
// active flag: version set refuses (exit 3, not a byte written) and says
// so; --move-active-flag moves it.
func TestVersionSetMovesActiveFlag(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs", "losetup", "sfdisk")
	const name = "flag-dell"
	rel, _ := release.Lookup("6.2")
	mib := fixtures.MiB
	spec := fixtures.DiskSpec{Name: name, Size: 100 * mib, Table: "dos", Partitions: []fixtures.PartSpec{
		{Number: 1, Start: mib, Size: 16 * mib, Type: "de", Bootable: true},
		{Number: 2, Start: 17 * mib, Size: 64 * mib, Type: "83", FS: "ext3",
			Label: fixtures.RootLabel(name, rel), Root: &fixtures.RootSpec{Release: "6.2", Seed: name}},
		{Number: 3, Start: 81 * mib, Size: 16 * mib, Type: "83"},
	}}
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// The root is mounted read-write before the plan is made (until
	// plan-first opens land): compare the table and the other partitions.
	before := outsideSum(t, img, 17*mib, 81*mib)
	jpath := filepath.Join(t.TempDir(), "j.db")
	code, _, errOut := runCLI("version", "set", "--disk", img, "--for-installer", "6.2", "--yes", "--journal", jpath)
	if code != xerr.ExitRefused || !strings.Contains(errOut, "partition 1 (type de, utility)") || !strings.Contains(errOut, "--move-active-flag") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if outsideSum(t, img, 17*mib, 81*mib) != before {
		t.Fatal("the refusal changed the table")
	}
	code, _, errOut = runCLI("version", "set", "--disk", img, "--for-installer", "6.2", "--move-active-flag", "--yes", "--journal", jpath)
	if code != 0 {
		t.Fatalf("--move-active-flag: exit %d: %s", code, errOut)
	}
	out, _ := exec.Command("sfdisk", "-d", img).Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "type=de") == strings.Contains(line, "bootable") && strings.Contains(line, "type=") && !strings.Contains(line, "type=83") {
			t.Fatalf("utility partition still active:\n%s", out)
		}
	}
	if !strings.Contains(string(out), "type=83, bootable") {
		t.Fatalf("root not active:\n%s", out)
	}
}

// TestVersionSetRepairsKeys: the 5.5 installer aborts the upgrade without
// BACKUP_PARTITION and does not list the installation without
// BUILD_NUMBER: version set adds both, the first named as the installer
// names the backup partition of PRIMARY_DISK.
func TestVersionSetRepairsKeys(t *testing.T) {
	t.Parallel()
	root := versionRoot(t, fixtures.RootSpec{Release: "5.5", Populate: func(dir string) error {
		p := filepath.Join(dir, "etc/xensource-inventory")
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var keep []string
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if !strings.HasPrefix(l, "BACKUP_PARTITION=") && !strings.HasPrefix(l, "BUILD_NUMBER=") {
				keep = append(keep, l)
			}
		}
		return os.WriteFile(p, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
	}})
	doc := versionShowJSON(t, "--root", root, "--installer", "5.5")
	if vd := doc.Verdicts[0]; vd.Outcome != "no" || !strings.Contains(vd.Reason, "BUILD_NUMBER") {
		t.Fatalf("before: %+v", vd)
	}
	code, out, errOut := runCLI("version", "set", "--root", root, "--for-installer", "5.5", "--yes", "--json", "--journal", filepath.Join(t.TempDir(), "j.db"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var set struct {
		Values  map[string]string `json:"values"`
		Repairs []struct{ Gate, Change string }
	}
	parseMutation(t, out, &set)
	if set.Values["BACKUP_PARTITION"] != fixtures.DefaultPrimaryDisk+"-part2" || set.Values["BUILD_NUMBER"] != "15119p" {
		t.Fatalf("values: %+v", set.Values)
	}
	gates := map[string]bool{}
	for _, r := range set.Repairs {
		gates[r.Gate] = true
	}
	if !gates["upgrade-keys"] || !gates["inventory-keys"] {
		t.Fatalf("repairs: %+v", set.Repairs)
	}
	for _, g := range append(versionShowJSON(t, "--root", root, "--installer", "5.5").Verdicts[0].Gates, versionShowJSON(t, "--root", root, "--installer", "5.5").Verdicts[0].DuringUpgrade...) {
		if g.Status == "fail" {
			t.Errorf("after set: %s fails: %s", g.Name, g.Reason)
		}
	}
}

// TestVersionSetFirstboot: a first-boot script that never ran fails the
// firstboot gate; version set names it and ends with exit 4 (nothing
// marked), and only --mark-firstboot-done writes its state file, which
// journal undo removes again.
func TestVersionSetFirstboot(t *testing.T) {
	t.Parallel()
	root := versionRoot(t, fixtures.RootSpec{Release: "7.1", Populate: func(dir string) error {
		return os.Remove(filepath.Join(dir, "etc/firstboot.d/state/60-import-keys"))
	}})
	before := versionTreeState(t, root)
	jpath := filepath.Join(t.TempDir(), "j.db")
	code, out, errOut := runCLI("version", "set", "--root", root, "--for-installer", "7.1", "--yes", "--journal", jpath)
	if code != xerr.ExitProblems || !strings.Contains(out+errOut, "60-import-keys") || !strings.Contains(errOut, "--mark-firstboot-done") {
		t.Fatalf("without the flag: exit %d\n%s\n%s", code, out, errOut)
	}
	// The verdict line says its outcome once (the re-test saw "no: no:").
	if !strings.Contains(out, "installer 7.1.0: no: firstboot: ") || strings.Contains(out, "no: no:") {
		t.Errorf("verdict line:\n%s", out)
	}
	sameTree(t, "firstboot left alone", before, versionTreeState(t, root))
	code, out, errOut = runCLI("version", "set", "--root", root, "--for-installer", "7.1", "--mark-firstboot-done", "--yes", "--json", "--journal", jpath)
	if code != 0 {
		t.Fatalf("--mark-firstboot-done: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/firstboot.d/state/60-import-keys")); err != nil {
		t.Fatal(err)
	}
	var set struct {
		Explain []string `json:"explain"`
	}
	m := parseMutation(t, out, &set)
	if !strings.Contains(strings.Join(set.Explain, "\n"), "WARNING: --mark-firstboot-done") {
		t.Fatalf("%+v", set)
	}
	if code, _, errOut = runCLI(append(m.Op.Undo[1:], "--yes")...); code != 0 {
		t.Fatalf("undo: exit %d: %s", code, errOut)
	}
	sameTree(t, "after undo", before, versionTreeState(t, root))
}

// TestVersionSetRaise: version set refuses to make a system claim to be
// newer than it is (F-version-0): without --allow-raise, and below the
// installer's lower bound even with it; nothing is written.
func TestVersionSetRaise(t *testing.T) {
	t.Parallel()
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
