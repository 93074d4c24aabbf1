package guestfix_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aymanbagabas/go-udiff"
	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/guestfix"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow dates the shadow line of the dbus fix, so goldens are stable.
var fixedNow = time.Date(2008, 1, 15, 12, 0, 0, 0, time.UTC)

// guestCase is a fixture root with the host-side facts a check is run with.
type guestCase struct {
	name       string
	spec       fixtures.GuestSpec
	hostKernel string
	domain     bool // pass the fixture's domain config
}

var cases = []guestCase{
	{name: "centos46", spec: fixtures.CentOS46Guest(), domain: true},
	{name: "centos46-gone-kernel", spec: fixtures.CentOS46Guest(), hostKernel: fixtures.GuestKernelGone},
	{name: "centos45", spec: fixtures.CentOS45Guest(), domain: true},
	{name: "systemd", spec: fixtures.SystemdGuest()},
	{name: "centos46-pygrub-gone-modules", spec: pygrubGoneModules(), domain: true},
}

// pygrubGoneModules: pygrub's default (the newest kernel) lost its
// modules; the older entry still boots.
func pygrubGoneModules() fixtures.GuestSpec {
	s := fixtures.CentOS46PygrubGuest()
	s.NoModules = []string{fixtures.GuestKernel46}
	return s
}

// setup writes the fixture root (and its domain config in a host directory)
// and returns the root dir and the options.
func setup(t *testing.T, c guestCase) (string, string, guestfix.Options) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "guest")
	if err := fixtures.WriteGuestRoot(dir, c.spec); err != nil {
		t.Fatal(err)
	}
	opts := guestfix.Options{HostKernel: c.hostKernel, Now: fixedNow}
	cfgPath := ""
	if c.domain {
		host := filepath.Join(t.TempDir(), "etc-xen")
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		cfgPath = filepath.Join(host, c.spec.Name)
		if err := os.WriteFile(cfgPath, fixtures.GuestDomainConfig(c.spec), 0o644); err != nil {
			t.Fatal(err)
		}
		opts.Domain = parseDomain(t, cfgPath)
	}
	return dir, cfgPath, opts
}

// parseDomain reads a domain config named by its base name, so that error
// messages and goldens do not carry temporary paths.
func parseDomain(t *testing.T, p string) *guestfix.DomainConfig {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := guestfix.ParseDomainConfig(bytes.NewReader(data), "etc-xen/"+filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openRoot(t *testing.T, dir string) *target.Root {
	t.Helper()
	r, err := target.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, d)
	}
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// renderPlan is a plan as text: one line per change and, for a Write, the
// unified diff against the file as it is.
func renderPlan(t *testing.T, dir string, p *plan.Plan) string {
	t.Helper()
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s", c.Kind, c.Path)
		if c.NewPath != "" {
			fmt.Fprintf(&b, " -> %s", c.NewPath)
		}
		fmt.Fprintf(&b, "  (%s)\n", c.Why)
		if c.Kind == plan.Write {
			before, err := os.ReadFile(filepath.Join(dir, c.Path))
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString(udiff.Unified("a/"+c.Path, "b/"+c.Path, string(before), string(c.Content)))
		}
	}
	return b.String()
}

func TestCheckGolden(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, _, opts := setup(t, c)
			rep, err := guestfix.Check(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "check-"+c.name+".json", jsonOf(t, rep))
		})
	}
}

func TestPlanGolden(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, cfg, opts := setup(t, c)
			fix, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			text := renderPlan(t, dir, fix.Guest)
			if fix.Domain != nil {
				text += "--- domain config (root " + filepath.Base(filepath.Dir(cfg)) + ")\n" + renderPlan(t, filepath.Dir(cfg), fix.Domain)
			}
			for _, f := range fix.Manual {
				text += fmt.Sprintf("manual %s %s: %s\n", f.Severity, f.ID, f.Evidence)
			}
			golden(t, "plan-"+c.name+".txt", []byte(text))
		})
	}
}

// treeState is the state of the guest tree, leaving out the journal.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state, err := fixtures.TreeState(dir, func(rel string) bool { return rel == "var" })
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func TestCheckWritesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, cfg, opts := setup(t, c)
			before := treeState(t, dir)
			var cfgBefore []byte
			if cfg != "" {
				cfgBefore, _ = os.ReadFile(cfg)
			}
			if _, err := guestfix.Check(openRoot(t, dir), opts); err != nil {
				t.Fatal(err)
			}
			if _, err := guestfix.Plan(openRoot(t, dir), opts); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(before, treeState(t, dir)); d != "" {
				t.Errorf("check changed the root (-before +after):\n%s", d)
			}
			if cfg != "" {
				after, _ := os.ReadFile(cfg)
				if !bytes.Equal(cfgBefore, after) {
					t.Error("check changed the domain config")
				}
			}
		})
	}
}

// withRootJournal opens the root at dir writable and the journal at jpath,
// runs fn, and closes both (the journal is locked while open).
func withRootJournal(t *testing.T, dir, jpath string, fn func(ctx context.Context, tgt *target.Target, j *journal.Journal)) {
	t.Helper()
	ctx := context.Background()
	tgt, err := target.Open(ctx, target.Options{Root: dir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	j, err := journal.Open(jpath)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	fn(ctx, tgt, j)
}

// apply runs plan through the real journal on a root at dir.
func apply(t *testing.T, dir, jpath string, p *plan.Plan) (res *plan.Result) {
	t.Helper()
	withRootJournal(t, dir, jpath, func(ctx context.Context, tgt *target.Target, j *journal.Journal) {
		var err error
		if res, err = j.Apply(ctx, tgt, []string{"xsrescue", "guest", "fix"}, p); err != nil {
			t.Fatalf("apply: %v", err)
		}
	})
	return res
}

func undo(t *testing.T, dir, jpath string, op int64) {
	t.Helper()
	withRootJournal(t, dir, jpath, func(ctx context.Context, tgt *target.Target, j *journal.Journal) {
		if _, err := j.Undo(ctx, tgt, op, false); err != nil {
			t.Fatalf("undo op %d: %v", op, err)
		}
	})
}

// TestFixCheckUndo: fix through the journal, check is clean for every fixed
// rule, a second fix plans nothing, and undo restores the tree byte for
// byte, symlinks included.
func TestFixCheckUndo(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, cfg, opts := setup(t, c)
			jpath := filepath.Join(t.TempDir(), "journal.db")
			before := treeState(t, dir)
			var cfgBefore []byte
			if cfg != "" {
				cfgBefore, _ = os.ReadFile(cfg)
			}
			fix, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			var ops []int64
			for round := 1; ; round++ {
				if !fix.Guest.Empty() {
					ops = append(ops, apply(t, dir, jpath, fix.Guest).Op)
				}
				if !fix.Again {
					break
				}
				if round == 3 {
					t.Fatal("fix still asks for another round after 3")
				}
				if fix, err = guestfix.Plan(openRoot(t, dir), opts); err != nil {
					t.Fatal(err)
				}
			}
			var domainOp int64
			if fix.Domain != nil && !fix.Domain.Empty() {
				domainOp = apply(t, filepath.Dir(cfg), jpath, fix.Domain).Op
				opts.Domain = parseDomain(t, cfg)
			}

			rep, err := guestfix.Check(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			fixable := map[string]bool{}
			for _, r := range guestfix.Rules {
				fixable[r.Name] = r.Fixable
			}
			manual := map[string]bool{}
			for _, f := range fix.Manual {
				manual[f.ID] = true
			}
			for _, f := range rep.Findings {
				if fixable[f.Rule] && f.Severity != guestfix.OK && !manual[f.ID] {
					t.Errorf("after fix: %s is %s: %s", f.ID, f.Severity, f.Evidence)
				}
			}
			golden(t, "fixed-"+c.name+".json", jsonOf(t, rep))

			again, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Guest.Empty() || again.Domain != nil && !again.Domain.Empty() {
				t.Errorf("second fix is not empty:\n%s", renderPlan(t, dir, again.Guest))
			}

			if domainOp != 0 {
				undo(t, filepath.Dir(cfg), jpath, domainOp)
				after, _ := os.ReadFile(cfg)
				if !bytes.Equal(cfgBefore, after) {
					t.Errorf("undo left the domain config different:\n%s", udiff.Unified("before", "after", string(cfgBefore), string(after)))
				}
			}
			for i := len(ops) - 1; i >= 0; i-- {
				undo(t, dir, jpath, ops[i])
			}
			if d := cmp.Diff(before, treeState(t, dir)); d != "" {
				t.Errorf("undo is not byte-identical (-before +after):\n%s", d)
			}
		})
	}
}

func TestOnly(t *testing.T) {
	t.Parallel()
	dir, _, opts := setup(t, cases[0])
	opts.Only = []string{"tls"}
	fix, err := guestfix.Plan(openRoot(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range fix.Guest.Changes {
		got = append(got, fmt.Sprintf("%s %s %s", c.Kind, c.Path, c.NewPath))
	}
	want := []string{"rename lib/tls.disabled lib/tls.disabled.old"}
	if d := cmp.Diff(want, got); d != "" || !fix.Again {
		t.Errorf("--only tls (again %v, -want +got):\n%s", fix.Again, d)
	}
	if fix.Domain != nil && !fix.Domain.Empty() {
		t.Errorf("--only tls changes the domain config")
	}

	opts.Only = []string{"tls", "no-such-rule"}
	_, err = guestfix.Plan(openRoot(t, dir), opts)
	if xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(fmt.Sprint(err), `unknown rule "no-such-rule"`) {
		t.Errorf("unknown rule: got %v (exit %d)", err, xerr.Code(err))
	}
}

// TestMalformed: a broken file of the guest is a broken finding of its
// rule, named by file and line; every other rule is still reported and
// planned, and the check then exits 2.
func TestMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, content, rule, id, want string
	}{
		{"etc/yum.conf", "[main]\ncachedir=/var/cache/yum\nthis line is junk\n", "installonlypkgs", "installonlypkgs/yum.conf", "etc/yum.conf line 3: expected 'name = value' or '[section]', got \"this line is junk\""},
		{"etc/yum.conf", "gpgcheck=1\n[main]\n", "installonlypkgs", "installonlypkgs/yum.conf", "etc/yum.conf line 1: option \"gpgcheck=1\" before any [section] header"},
		{"etc/yum.conf", "[main\n", "installonlypkgs", "installonlypkgs/yum.conf", "etc/yum.conf line 1: section header \"[main\" has no closing ']'"},
		{"etc/inittab", "id:3:initdefault:\nsi::sysinit\n", "serial-console", "serial-console/inittab", "etc/inittab line 2: expected id:runlevels:action:process, got \"si::sysinit\""},
		{"etc/inittab", "id:3:initdefault:\n\n1:2345:respwn:/sbin/mingetty tty1\n", "serial-console", "serial-console/inittab", "etc/inittab line 3: unknown action \"respwn\""},
		{"etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbroken:x:81\n", "dbus-user", "dbus-user/passwd", "etc/passwd line 2: expected 7 colon-separated fields, got 3"},
		{"etc/group", "root:x:zero:root\n", "dbus-user", "dbus-user/group", "etc/group line 1: id \"zero\" is not a number"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			dir, _, opts := setup(t, cases[0])
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := guestfix.Check(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			err = rep.Err()
			if err == nil || err.Error() != tc.want || xerr.Code(err) != xerr.ExitInvalid {
				t.Errorf("got %v (exit %d), want %q (exit 2)", err, xerr.Code(err), tc.want)
			}
			rules := map[string]bool{}
			for _, f := range rep.Findings {
				rules[f.Rule] = true
				if f.ID == tc.id && (f.Severity != guestfix.Broken || f.Evidence != tc.want) {
					t.Errorf("finding %+v, want broken %q", f, tc.want)
				}
			}
			if len(rules) != len(guestfix.Rules) {
				t.Errorf("findings of %d rules, want all %d: %+v", len(rules), len(guestfix.Rules), rep.Findings)
			}

			fix, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			if xerr.Code(fix.Err()) != xerr.ExitInvalid {
				t.Errorf("fix.Err() = %v, want exit 2", fix.Err())
			}
			touched := map[string]bool{}
			for _, c := range fix.Guest.Changes {
				touched[c.Path] = true
			}
			if touched[tc.file] || !touched["lib/tls.disabled"] && !touched["lib/tls"] {
				t.Errorf("changes %v: want none to %s and the other rules' (tls)", slices.Collect(maps.Keys(touched)), tc.file)
			}
			if fix.Domain != nil && !fix.Domain.Empty() && tc.rule == "serial-console" {
				t.Errorf("the refused serial-console rule still edits the domain config")
			}

			opts.Only = []string{tc.rule, "tls"}
			if _, err := guestfix.Plan(openRoot(t, dir), opts); xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("--only %s: got %v (exit %d), want exit 2", tc.rule, err, xerr.Code(err))
			}
		})
	}
}

// TestUnsafeLinks: a rule reads and edits a file only under its own name or
// through a symlink to a regular file of the same base name that is not an
// account file. Anything else is a broken finding of that rule, which then
// changes nothing (refused, exit 3, when asked for with --only); the other
// rules go on.
func TestUnsafeLinks(t *testing.T) {
	t.Parallel()
	console := []string{"etc/securetty", "etc/inittab"}
	var services []string
	for _, l := range []string{"2", "3", "4", "5"} {
		services = append(services, "etc/rc.d/rc"+l+".d/S15mdmonitor", "etc/rc.d/rc"+l+".d/S26lvm2-monitor", "etc/rc.d/rc"+l+".d/S98haldaemon")
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		rule    string
		id      string
		want    string   // evidence
		forbid  []string // paths the refused rule would have changed
	}{
		{"inittab clamped to etc/passwd", func(t *testing.T, dir string) { relink(t, dir, "etc/inittab", "../../../../../etc/passwd") },
			"serial-console", "serial-console/inittab", "etc/inittab is a symlink to etc/passwd: not read, not edited", console},
		{"yum.conf to another name", func(t *testing.T, dir string) { relink(t, dir, "etc/yum.conf", "yum.conf.rpmnew") },
			"installonlypkgs", "installonlypkgs/yum.conf", "etc/yum.conf is a symlink to etc/yum.conf.rpmnew: not read, not edited", []string{"etc/yum.conf"}},
		{"passwd to a passwd elsewhere", func(t *testing.T, dir string) {
			write(t, dir, "root/passwd", "root:x:0:0:root:/root:/bin/bash\n")
			relink(t, dir, "etc/passwd", "/root/passwd")
		}, "dbus-user", "dbus-user/passwd", "", nil}, // same base name: read and edited through the link
		{"group to gshadow", func(t *testing.T, dir string) {
			write(t, dir, "etc/gshadow", "root:::\n")
			write(t, dir, "var/group", "")
			relink(t, dir, "var/group", "/etc/gshadow")
			relink(t, dir, "etc/group", "../var/group")
		}, "dbus-user", "dbus-user/group", "etc/group is a symlink to etc/gshadow: not read, not edited", []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "var/group"}},
		{"securetty a fifo", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "etc/securetty")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "serial-console", "serial-console/securetty", "etc/securetty is not a regular file (a fifo, mode prw-------): not read, not edited", console},
		{"init script to shadow", func(t *testing.T, dir string) { relink(t, dir, "etc/rc.d/init.d/haldaemon", "../../shadow") },
			"services", "services/haldaemon", "etc/rc.d/init.d/haldaemon is a symlink to etc/shadow: not read, not edited", services},
		{"rpmnew base to shadow", func(t *testing.T, dir string) { relink(t, dir, "etc/yum.conf", "shadow") },
			"rpmnew", "rpmnew/yum.conf", "etc/yum.conf is a symlink to etc/shadow: not read, not edited", []string{"etc/yum.conf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, opts := setup(t, cases[0])
			tc.prepare(t, dir)
			before, err := fixtures.TreeState(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := guestfix.Check(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Err() != nil {
				t.Errorf("an unsafe link is a finding, not an error: %v", rep.Err())
			}
			var got *guestfix.Finding
			rules := map[string]bool{}
			for i, f := range rep.Findings {
				rules[f.Rule] = true
				if f.ID == tc.id && f.Severity == guestfix.Broken {
					if got != nil {
						t.Errorf("%s reported twice: %+v", tc.id, f)
					}
					got = &rep.Findings[i]
				}
			}
			if len(rules) != len(guestfix.Rules) {
				t.Errorf("findings of %d rules, want all %d", len(rules), len(guestfix.Rules))
			}
			fix, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if got != nil || len(fix.Problems) > 0 {
					t.Errorf("a same-name link is refused: %+v %v", got, fix.Problems)
				}
				return
			}
			if got == nil || got.Severity != guestfix.Broken || got.Evidence != tc.want {
				t.Errorf("finding %s = %+v, want broken %q", tc.id, got, tc.want)
			}
			for _, c := range fix.Guest.Changes {
				if slices.Contains(tc.forbid, c.Path) || strings.Contains(string(c.Content), "ttyS0") && !slices.Contains(console, c.Path) {
					t.Errorf("the refused rule %s still plans %s %s", tc.rule, c.Kind, c.Path)
				}
			}
			if !slices.ContainsFunc(fix.Manual, func(f guestfix.Finding) bool { return f.ID == tc.id }) {
				t.Errorf("manual %+v lacks %s", fix.Manual, tc.id)
			}
			opts.Only = []string{tc.rule}
			if _, err := guestfix.Plan(openRoot(t, dir), opts); xerr.Code(err) != xerr.ExitRefused || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("--only %s: got %v (exit %d), want exit 3 naming %q", tc.rule, err, xerr.Code(err), tc.want)
			}
			after, err := fixtures.TreeState(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(before, after); d != "" {
				t.Errorf("check or plan wrote to the guest:\n%s", d)
			}
		})
	}
}

// TestSameNameLink: a link to a file of the same base name is read and its
// parse errors name the file actually read.
func TestSameNameLink(t *testing.T) {
	t.Parallel()
	dir, _, opts := setup(t, cases[0])
	write(t, dir, "usr/etc/inittab", "id:3:initdefault:\nx::bogus:/bin/sh\n")
	relink(t, dir, "etc/inittab", "/usr/etc/inittab")
	rep, err := guestfix.Check(openRoot(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := `usr/etc/inittab (via etc/inittab) line 2: unknown action "bogus"`
	if err := rep.Err(); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// relink replaces name in the guest by a symlink to link.
func relink(t *testing.T, dir, name, link string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(link, p); err != nil {
		t.Fatal(err)
	}
}

// TestHostileSymlink: an absolute link inside the guest is resolved inside
// the guest root, never on the rescue system.
func TestHostileSymlink(t *testing.T) {
	t.Parallel()
	dir, _, opts := setup(t, cases[0])
	outside := filepath.Join(t.TempDir(), "securetty")
	if err := os.WriteFile(outside, []byte("ttyS0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "etc/securetty")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, p); err != nil {
		t.Fatal(err)
	}
	rep, err := guestfix.Check(openRoot(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.ID == "serial-console/securetty" && !strings.HasPrefix(f.Evidence, "etc/securetty is a dangling symlink (to "+outside[1:]+")") {
			t.Errorf("etc/securetty -> %s was read outside the root: %s", outside, f.Evidence)
		}
	}
}

// BenchmarkCheck runs every rule on the CentOS 4.6 fixture with a
// CentOS-sized etc (1500 extra files for the rpmnew walk).
func BenchmarkCheck(b *testing.B) {
	dir := b.TempDir()
	spec := fixtures.CentOS46Guest()
	spec.EtcFiles = 1500
	if err := fixtures.WriteGuestRoot(dir, spec); err != nil {
		b.Fatal(err)
	}
	cfg, err := guestfix.ParseDomainConfig(bytes.NewReader(fixtures.GuestDomainConfig(spec)), "cfg")
	if err != nil {
		b.Fatal(err)
	}
	r, err := target.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := guestfix.Check(r, guestfix.Options{Domain: cfg}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEdgeCases changes the CentOS 4.6 fixture one way each and checks the
// finding and the planned changes of the rule concerned.
func TestEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    string
		spec    func(*fixtures.GuestSpec) // changes the fixture before it is written
		prepare func(t *testing.T, dir string)
		finding string // "id severity" expected among the findings
		changes []string
	}{
		{"upstart root skips inittab", "serial-console", nil, func(t *testing.T, dir string) {
			write(t, dir, "sbin/initctl", "initctl\n")
			write(t, dir, "etc/init/serial.conf", "start on runlevel [2345]\n")
		}, "serial-console/inittab ok", []string{"write etc/securetty"}},
		{"tls.disabled.old taken too", "tls", nil, func(t *testing.T, dir string) {
			write(t, dir, "lib/tls.disabled.old/libc.so", "old\n")
		}, "tls warn", []string{"rename lib/tls.disabled lib/tls.disabled.old.1"}},
		{"uid 81 taken", "dbus-user", nil, func(t *testing.T, dir string) {
			appendTo(t, dir, "etc/passwd", "avahi:x:81:70:Avahi:/:/sbin/nologin\n")
		}, "dbus-user broken", nil},
		{"K link already there", "services", nil, func(t *testing.T, dir string) {
			for _, s := range []string{"haldaemon", "mdmonitor", "lvm2-monitor", "irqbalance"} {
				for _, l := range []string{"2", "3", "4", "5"} {
					matches, _ := filepath.Glob(filepath.Join(dir, "etc/rc.d/rc"+l+".d/S*"+s))
					for _, m := range matches {
						os.Remove(m)
					}
				}
			}
			if err := os.Symlink("../init.d/haldaemon", filepath.Join(dir, "etc/rc.d/rc3.d/S98haldaemon")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../init.d/haldaemon", filepath.Join(dir, "etc/rc.d/rc3.d/K02haldaemon")); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}, "services/haldaemon warn", []string{"symlink-remove etc/rc.d/rc3.d/S98haldaemon"}},
		{name: "pygrub guest without grub.conf", rule: "host-kernel", spec: func(s *fixtures.GuestSpec) { s.HostKernel = "" }, finding: "host-kernel broken"},
		{"existing installonlypkgs over two lines", "installonlypkgs", nil, func(t *testing.T, dir string) {
			write(t, dir, "etc/yum.conf", "[main]\ngpgcheck=1\ninstallonlypkgs=kernel kernel-smp\n  kernel-xenU\n[base]\nname=x\n")
		}, "installonlypkgs warn", []string{"write etc/yum.conf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cases[0]
			if tc.spec != nil {
				tc.spec(&c.spec)
			}
			dir, _, opts := setup(t, c)
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			opts.Only = []string{tc.rule}
			rep, err := guestfix.Check(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.ID+" "+string(f.Severity))
			}
			if !slices.Contains(got, tc.finding) {
				t.Errorf("findings %q lack %q", got, tc.finding)
			}
			fix, err := guestfix.Plan(openRoot(t, dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			var changes []string
			for _, c := range fix.Guest.Changes {
				changes = append(changes, strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Kind, c.Path, c.NewPath)))
			}
			if d := cmp.Diff(tc.changes, changes); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
		})
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, dir, name, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}
