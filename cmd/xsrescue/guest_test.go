package main

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// guestTree writes a fixture guest root and its domain config (in a
// directory of its own, as on the host) and returns both paths.
func guestTree(t *testing.T, spec fixtures.GuestSpec) (root, cfg string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "guest")
	if err := fixtures.WriteGuestRoot(root, spec); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(t.TempDir(), spec.Name)
	if err := os.WriteFile(cfg, fixtures.GuestDomainConfig(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, cfg
}

// guestState is the state of a tree, leaving out the journal.
func guestState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state, err := fixtures.TreeState(dir, func(rel string) bool { return rel == "var" })
	if err != nil {
		t.Fatal(err)
	}
	return state
}

type guestCheckJSON struct {
	Root         string  `json:"root"`
	DomainConfig *string `json:"domain_config"`
	Init         string  `json:"init"`
	HostKernel   string  `json:"host_kernel"`
	VCPUs        int     `json:"vcpus"`
	Clean        bool    `json:"clean"`
	Findings     []struct {
		ID, Severity, Evidence, Rule string
	} `json:"findings"`
	Notes []string `json:"notes"`
}

func guestCheck(t *testing.T, argv ...string) guestCheckJSON {
	t.Helper()
	code, out, errOut := runCLI(append([]string{"guest", "check", "--json"}, argv...)...)
	var doc guestCheckJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("guest check: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	// Exit 4 exactly when a finding is broken.
	want := 0
	if slices.ContainsFunc(doc.Findings, func(f struct{ ID, Severity, Evidence, Rule string }) bool { return f.Severity == "broken" }) {
		want = 4
	}
	if code != want {
		t.Fatalf("guest check: exit %d, want %d\n%s%s", code, want, out, errOut)
	}
	return doc
}

func severities(doc guestCheckJSON) map[string]string {
	m := map[string]string{}
	for _, f := range doc.Findings {
		m[f.ID] = f.Severity
	}
	return m
}

func TestGuestCheckReadOnly(t *testing.T) {
	t.Parallel()
	root, cfg := guestTree(t, fixtures.CentOS46Guest())
	before, cfgBefore := guestState(t, root), guestState(t, filepath.Dir(cfg))
	doc := guestCheck(t, "--root", root, "--domain-config", cfg, "--host-kernel", fixtures.GuestKernelGone)
	if doc.Clean || doc.HostKernel != fixtures.GuestKernelGone || doc.VCPUs != 1 || doc.Init != "sysv" || doc.DomainConfig == nil {
		t.Errorf("doc %+v", doc)
	}
	sev := severities(doc)
	for id, want := range map[string]string{
		"installonlypkgs": "warn", "host-kernel": "broken", "tls": "warn", "serial-console/inittab": "warn",
		"serial-console/domain-config": "warn", "services/irqbalance": "warn", "dbus-user": "broken",
		"rpmnew/etc/yum.conf.rpmnew": "warn",
	} {
		if sev[id] != want {
			t.Errorf("%s: %q, want %q", id, sev[id], want)
		}
	}
	code, out, _ := runCLI("guest", "check", "--root", root)
	if code != 4 || !strings.Contains(out, "BROKEN  dbus-user") || !strings.Contains(out, "note: serial-console: host side") {
		t.Errorf("text check: exit %d\n%s", code, out)
	}
	if d := cmp.Diff(before, guestState(t, root)); d != "" {
		t.Errorf("check wrote to the guest:\n%s", d)
	}
	if d := cmp.Diff(cfgBefore, guestState(t, filepath.Dir(cfg))); d != "" {
		t.Errorf("check wrote to the domain config:\n%s", d)
	}
}

// TestGuestFixEndToEnd: dry run touches nothing; fix; check is clean but
// for the rules never fixed automatically; a second fix changes nothing;
// journal undo of every op restores both trees byte for byte.
func TestGuestFixEndToEnd(t *testing.T) {
	t.Parallel()
	root, cfg := guestTree(t, fixtures.CentOS46Guest())
	before, cfgBefore := guestState(t, root), guestState(t, filepath.Dir(cfg))

	code, out, errOut := runCLI("guest", "fix", "--root", root, "--domain-config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "+S0:2345:respawn:/sbin/agetty ttyS0 38400 vt100-nav") || !strings.Contains(out, `+extra = "ro 3 xencons=ttyS console=ttyS0"`) {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "var")); err == nil {
		t.Error("dry run created the journal")
	}
	if d := cmp.Diff(before, guestState(t, root)); d != "" {
		t.Errorf("dry run wrote:\n%s", d)
	}

	if code, _, errOut := runCLI("guest", "fix", "--root", root); code != 3 {
		t.Errorf("no --yes and no terminal: exit %d, want 3: %s", code, errOut)
	}

	code, out, errOut = runCLI("guest", "fix", "--root", root, "--domain-config", cfg, "--yes", "--json")
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", code, out, errOut)
	}
	var details struct {
		DomainConfig *string `json:"domain_config"`
		Manual       []struct{ ID string }
	}
	doc := parseMutation(t, out, &details)
	// Two ops on the guest (lib/tls is renamed in the second), then the
	// domain config's, which is the last: op.
	if len(doc.Ops) != 3 || doc.Op.ID != 3 || !doc.Changed || len(details.Manual) != 3 || details.DomainConfig == nil {
		t.Errorf("fix doc: %d ops, %d changes, %d manual\n%s", len(doc.Ops), len(doc.Changes), len(details.Manual), out)
	}
	var domain int
	for _, c := range doc.Changes {
		if filepath.IsAbs(c.Path) {
			domain++
			if c.Path != *details.DomainConfig || c.Diff == nil {
				t.Errorf("domain config change %s (diff %v), want %s with its diff", c.Path, c.Diff != nil, *details.DomainConfig)
			}
		}
	}
	if domain == 0 || len(doc.Changes)-domain != 22 {
		t.Errorf("%d guest changes (want 22) and %d of the domain config (want some)", len(doc.Changes)-domain, domain)
	}

	after := guestCheck(t, "--root", root, "--domain-config", cfg)
	for _, f := range after.Findings {
		if f.Severity != "ok" && f.Rule != "rpmnew" {
			t.Errorf("after fix: %s %s: %s", f.Severity, f.ID, f.Evidence)
		}
	}

	code, out, _ = runCLI("guest", "fix", "--root", root, "--domain-config", cfg, "--yes")
	if code != 0 || !strings.Contains(out, "already as requested") {
		t.Errorf("second fix: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "lib/tls.disabled.old/libc-2.3.4.so")); err != nil {
		t.Errorf("the earlier lib/tls.disabled was not kept: %v", err)
	}

	// Every op's undo argv, last op first, runs as it is.
	for i := len(doc.Ops) - 1; i >= 0; i-- {
		undo := doc.Ops[i].Undo
		if len(undo) < 4 || undo[0] != "xsrescue" {
			t.Fatalf("op %d: undo %q", doc.Ops[i].ID, undo)
		}
		if code, out, errOut := runCLI(append(undo[1:], "--yes")...); code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", undo, code, out, errOut)
		}
	}
	if d := cmp.Diff(before, guestState(t, root)); d != "" {
		t.Errorf("undo is not byte-identical (-before +after):\n%s", d)
	}
	if d := cmp.Diff(cfgBefore, guestState(t, filepath.Dir(cfg))); d != "" {
		t.Errorf("domain config after undo (-before +after):\n%s", d)
	}
}

func TestGuestSystemdSkipsInittab(t *testing.T) {
	t.Parallel()
	root, _ := guestTree(t, fixtures.SystemdGuest())
	doc := guestCheck(t, "--root", root)
	if doc.Init != "systemd" || severities(doc)["serial-console/inittab"] != "ok" {
		t.Errorf("systemd root: %+v", doc)
	}
	found := false
	for _, n := range doc.Notes {
		found = found || strings.Contains(n, "inittab check is skipped")
	}
	if !found {
		t.Errorf("no note about the skipped inittab rule: %q", doc.Notes)
	}
}

func TestGuestErrors(t *testing.T) {
	t.Parallel()
	root, cfg := guestTree(t, fixtures.CentOS45Guest())
	if err := os.WriteFile(filepath.Join(root, "etc/inittab"), []byte("id:3:initdefault:\nbroken line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(badCfg, []byte("name = \"x\"\nextra = \"unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		argv []string
		code int
		want string
	}{
		{[]string{"guest", "check", "--root", root}, 2, `etc/inittab line 2: expected id:runlevels:action:process, got "broken line"`},
		{[]string{"guest", "fix", "--root", root, "--yes"}, 2, "etc/inittab line 2:"},
		{[]string{"guest", "fix", "--root", root, "--only", "bogus"}, 2, `unknown rule "bogus"`},
		{[]string{"guest", "check", "--root", root, "--domain-config", badCfg}, 2, badCfg + " line 2: string is never closed"},
		{[]string{"guest", "check", "--root", root, "--domain-config", cfg + ".missing"}, 2, "--domain-config:"},
		{[]string{"guest", "check"}, 2, "no target"},
		{[]string{"guest", "check", "--root", root, "extra-arg"}, 2, "expected 0 argument"},
	} {
		code, _, errOut := runCLI(tc.argv...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d with %q", tc.argv, code, errOut, tc.code, tc.want)
		}
	}
	// Without the broken inittab rule, the rest still works.
	if code, _, errOut := runCLI("guest", "fix", "--root", root, "--only", "tls,services", "--yes"); code != 0 {
		t.Errorf("--only tls,services: exit %d: %s", code, errOut)
	}
}

// TestGuestDisk: a guest disk image (DOS table, ext3 root made by mkfs -d),
// mounted by xsrescue itself: check leaves the image byte-identical; fix,
// then check again through a fresh mount.
func TestGuestDisk(t *testing.T) {
	t.Parallel()
	testutil.NeedRoot(t, "mounts the guest image through a loop device")
	img, err := fixtures.BuildGuestDisk(t.TempDir(), fixtures.CentOS45Guest())
	if err != nil {
		t.Fatal(err)
	}
	sum := func() [32]byte {
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(data)
	}
	before := sum()
	disk := []string{"--disk", img, "--partition", "1", "--host-kernel", fixtures.GuestKernel45}
	doc := guestCheck(t, disk...)
	if severities(doc)["tls"] != "warn" || severities(doc)["host-kernel"] != "ok" {
		t.Errorf("check of the image: %+v", doc.Findings)
	}
	if sum() != before {
		t.Fatal("guest check changed the image")
	}
	jpath := filepath.Join(t.TempDir(), "journal.db")
	if code, out, errOut := runCLI(append([]string{"guest", "fix", "--yes", "--journal", jpath}, disk...)...); code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", code, out, errOut)
	}
	after := guestCheck(t, disk...)
	for _, f := range after.Findings {
		// Without a domain config the vCPU count, and so irqbalance, stays open.
		if f.Severity != "ok" && f.ID != "services/irqbalance" {
			t.Errorf("after fix: %s %s: %s", f.Severity, f.ID, f.Evidence)
		}
	}
}

// TestGuestUnsafeLink is the acceptance repro: etc/inittab -> /etc/passwd
// must never be read or edited as inittab, and etc/securetty -> /etc/shadow
// (which pam_securetty follows, so it is judged) never edited.
func TestGuestUnsafeLink(t *testing.T) {
	t.Parallel()
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	for name, link := range map[string]string{"etc/inittab": "/etc/passwd", "etc/securetty": "/etc/shadow"} {
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(link, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	const evidence = "etc/inittab is a symlink to etc/passwd: not read, not edited"
	before := guestState(t, root)
	for _, argv := range [][]string{
		{"guest", "fix", "--root", root, "--only", "serial-console", "--dry-run"},
		{"guest", "fix", "--root", root, "--only", "serial-console", "--yes"},
	} {
		code, out, errOut := runCLI(argv...)
		if code != 3 || !strings.Contains(errOut, evidence) || strings.Contains(out, "ttyS0") {
			t.Errorf("%q: exit %d, want 3 naming %q\n%s%s", argv, code, evidence, out, errOut)
		}
	}
	if d := cmp.Diff(before, guestState(t, root)); d != "" {
		t.Fatalf("a refused fix wrote to the guest:\n%s", d)
	}

	doc := guestCheck(t, "--root", root)
	if sev := severities(doc); sev["serial-console/inittab"] != "broken" || sev["serial-console/securetty"] != "warn" || sev["dbus-user"] != "broken" || sev["tls"] != "warn" {
		t.Errorf("findings %+v", doc.Findings)
	}

	code, out, errOut := runCLI("guest", "fix", "--root", root, "--yes")
	// Completed, and a broken finding remains: exit 4.
	if code != 4 || !strings.Contains(out, "BROKEN serial-console/inittab: "+evidence) || !strings.Contains(errOut, "remain") {
		t.Errorf("fix: exit %d, want 4 listing the refused rule\n%s%s", code, out, errOut)
	}
	for name, want := range map[string]string{"etc/shadow": "dbus:!!:", "etc/passwd": "dbus:x:81:"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "ttyS0") || !strings.Contains(string(data), want) {
			t.Errorf("%s after fix (the dbus line only):\n%s", name, data)
		}
	}
	for name, want := range map[string]string{"etc/inittab": "/etc/passwd", "etc/securetty": "/etc/shadow"} {
		if link, err := os.Readlink(filepath.Join(root, name)); err != nil || link != want {
			t.Errorf("%s is now %q, %v", name, link, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "lib/tls.disabled")); err != nil {
		t.Errorf("the other rules were not applied: %v", err)
	}
}

// TestGuestMalformedFile: one malformed file is a finding of its rule; the
// other rules are reported (one JSON document) and fixed, then exit 2.
func TestGuestMalformedFile(t *testing.T) {
	t.Parallel()
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	if err := os.WriteFile(filepath.Join(root, "etc/inittab"), []byte("id:3:initdefault:\n0:root:x:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const msg = `etc/inittab line 2: unknown action "x"`
	code, out, errOut := runCLI("guest", "check", "--root", root, "--json")
	var doc guestCheckJSON
	var docErr struct {
		Error struct {
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out[:dec.InputOffset()]), &docErr); err != nil {
		t.Fatal(err)
	}
	if rest := strings.TrimSpace(out[dec.InputOffset():]); rest != "" {
		t.Errorf("check --json printed more than one document; after the first: %s", rest)
	}
	if code != 2 || errOut != "xsrescue: "+msg+"\n" || docErr.Error.Message != msg || docErr.Error.ExitCode != 2 {
		t.Errorf("check --json: exit %d, error %+v, stderr %q; want exit 2 with %q", code, docErr.Error, errOut, msg)
	}
	sev := severities(doc)
	for id, want := range map[string]string{"serial-console/inittab": "broken", "serial-console/securetty": "warn", "dbus-user": "broken", "tls": "warn", "installonlypkgs": "warn"} {
		if sev[id] != want {
			t.Errorf("%s: %q, want %q", id, sev[id], want)
		}
	}

	code, out, errOut = runCLI("guest", "check", "--root", root)
	if code != 2 || !regexp.MustCompile(`(?m)^BROKEN +serial-console/inittab +`+regexp.QuoteMeta(msg)+`$`).MatchString(out) || !strings.Contains(out, "BROKEN  dbus-user") || errOut != "xsrescue: "+msg+"\n" {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}

	before := guestState(t, root)
	code, out, errOut = runCLI("guest", "fix", "--root", root, "--yes")
	if code != 2 || !strings.Contains(out, "BROKEN serial-console/inittab: "+msg) {
		t.Errorf("fix: exit %d, want 2\n%s%s", code, out, errOut)
	}
	after := guestState(t, root)
	if after["etc/inittab"] != before["etc/inittab"] || after["etc/securetty"] != before["etc/securetty"] {
		t.Errorf("the serial-console rule was applied despite the malformed inittab")
	}
	if _, ok := after["lib/tls.disabled"]; !ok {
		t.Errorf("the other rules were not applied")
	}

	// The acceptance repro: a link clamped at the root onto etc/passwd.
	if err := os.Remove(filepath.Join(root, "etc/inittab")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../etc/passwd", filepath.Join(root, "etc/inittab")); err != nil {
		t.Fatal(err)
	}
	doc = guestCheck(t, "--root", root)
	for _, f := range doc.Findings {
		if f.ID == "serial-console/inittab" && (f.Severity != "broken" || f.Evidence != "etc/inittab is a symlink to etc/passwd: not read, not edited") {
			t.Errorf("inittab finding %+v", f)
		}
	}
}

// TestGuestFixLeftBroken: dbus installed, uid 81 taken by another user. The
// rule changes nothing; asked for with --only that is a refusal (exit 3,
// also in a dry run and with --json as the error document); as part of a
// full fix the rest is applied and, once nothing is left to apply, the
// remainder is listed as work by hand, never as "already as requested".
func TestGuestFixLeftBroken(t *testing.T) {
	t.Parallel()
	root, _ := guestTree(t, fixtures.CentOS46Guest())
	passwd := filepath.Join(root, "etc/passwd")
	b, err := os.ReadFile(passwd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passwd, append(b, "avahi:x:81:81::/:/sbin/nologin\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	before := guestState(t, root)
	for _, argv := range [][]string{{"--dry-run"}, {"--yes"}} {
		code, out, errOut := runCLI(append([]string{"guest", "fix", "--root", root, "--only", "dbus-user"}, argv...)...)
		if code != 3 || strings.Contains(out, "already as requested") ||
			!strings.Contains(errOut, "nothing was changed; still broken, to fix by hand: dbus-user: ") || !strings.Contains(errOut, "uid 81 belongs to avahi") {
			t.Errorf("--only dbus-user %v: exit %d\n%s%s", argv, code, out, errOut)
		}
	}
	code, out, _ := runCLI("--json", "guest", "fix", "--root", root, "--only", "dbus-user", "--yes")
	var doc struct {
		Error struct {
			ExitCode int    `json:"exit_code"`
			Message  string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 3 || doc.Error.ExitCode != 3 || !strings.Contains(doc.Error.Message, "uid 81 belongs to avahi") {
		t.Errorf("--json: exit %d %v\n%s", code, err, out)
	}
	if d := cmp.Diff(before, guestState(t, root)); d != "" {
		t.Errorf("a refused fix wrote:\n%s", d)
	}
	// Without --only: the other rules are fixed, dbus-user listed; it
	// remains broken: exit 4.
	code, out, errOut := runCLI("guest", "fix", "--root", root, "--yes")
	if code != 4 || !strings.Contains(out, "not fixed automatically:\n") || !strings.Contains(out, "BROKEN dbus-user: ") {
		t.Errorf("full fix: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI("guest", "fix", "--root", root, "--yes", "--json")
	if m := parseMutation(t, out, nil); code != 4 || m.Changed || len(m.Problems) != 1 || !strings.HasPrefix(m.Problems[0], "dbus-user: ") {
		t.Errorf("second full fix --json: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI("guest", "fix", "--root", root, "--yes")
	if code != 4 || strings.Contains(out, "already as requested") || !strings.HasPrefix(out, "Nothing was changed; left to do by hand:\n") || !strings.Contains(out, "BROKEN dbus-user: ") {
		t.Errorf("second full fix: exit %d\n%s%s", code, out, errOut)
	}
	// A requested rule that is already fine is still "already as requested".
	if code, out, errOut := runCLI("guest", "fix", "--root", root, "--only", "tls", "--yes"); code != 0 || out != "Nothing to change: already as requested.\n" {
		t.Errorf("--only tls after the fix: exit %d\n%s%s", code, out, errOut)
	}
}

// TestGuestPygrub: a pygrub guest whose grub.conf default lost its
// modules is broken; fix --only host-kernel points default= at the entry
// that boots (one line of boot/grub/grub.conf, through menu.lst's link),
// and its undo gives the bytes back.
func TestGuestPygrub(t *testing.T) {
	t.Parallel()
	spec := fixtures.CentOS46PygrubGuest()
	spec.NoModules = []string{fixtures.GuestKernel46}
	root, cfg := guestTree(t, spec)
	before := guestState(t, root)
	if doc := guestCheck(t, "--root", root, "--domain-config", cfg); severities(doc)["host-kernel"] != "broken" {
		t.Fatalf("check: %+v", doc.Findings)
	}
	code, out, errOut := runCLI("guest", "fix", "--root", root, "--domain-config", cfg, "--only", "host-kernel", "--yes", "--json")
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", code, out, errOut)
	}
	doc := parseMutation(t, out, nil)
	if len(doc.Changes) != 1 || doc.Changes[0].Path != "boot/grub/grub.conf" {
		t.Fatalf("changes: %+v", doc.Changes)
	}
	if got := severities(guestCheck(t, "--root", root, "--domain-config", cfg))["host-kernel"]; got != "ok" {
		t.Errorf("after fix: host-kernel %s", got)
	}
	undo := doc.Ops[len(doc.Ops)-1].Undo
	if code, out, errOut := runCLI(append(undo[1:], "--yes")...); code != 0 {
		t.Fatalf("%q: exit %d\n%s%s", undo, code, out, errOut)
	}
	if d := cmp.Diff(before, guestState(t, root)); d != "" {
		t.Errorf("undo is not byte-identical (-before +after):\n%s", d)
	}
}
