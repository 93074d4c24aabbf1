package guestfix_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/guestfix"
)

// TestPygrub: for a guest the host boots with pygrub, host-kernel follows
// pygrub (Xen 3.x tools/pygrub: the config files it tries, default=,
// title entries, paths on the /boot partition) to the kernel it boots, and
// fix only ever points default= at an entry that boots.
func TestPygrub(t *testing.T) {
	t.Parallel()
	k45, k46 := fixtures.GuestKernel45, fixtures.GuestKernel46
	entry := func(k string) string {
		return "title CentOS (" + k + ")\n\troot (hd0,0)\n\tkernel /vmlinuz-" + k + " ro root=LABEL=/\n\tinitrd /initrd-" + k + ".img\n"
	}
	tests := []struct {
		name    string
		spec    func(*fixtures.GuestSpec)
		prepare func(t *testing.T, dir string)
		finding string   // "severity" of host-kernel
		has     []string // in its evidence
		// default is the default= line after the fix ("": no change)
		def string
	}{
		{name: "default boots", finding: "ok", has: []string{`boots entry 0 "CentOS (` + k46 + `)"`, "the /boot partition (etc/fstab line 2)", "a xenU kernel"}},
		{name: "no separate /boot", spec: func(s *fixtures.GuestSpec) { s.SeparateBoot = false }, finding: "ok", has: []string{"kernel /boot/vmlinuz-" + k46, "etc/fstab has no /boot"}},
		{name: "default's modules gone", spec: func(s *fixtures.GuestSpec) { s.NoModules = []string{k46} }, finding: "broken",
			has: []string{"lib/modules/" + k46 + " is missing", `entry 1 "CentOS (` + k45 + `)" boots`}, def: "default=1"},
		{name: "default=saved", spec: func(s *fixtures.GuestSpec) { s.GrubConf = "default=saved\ntimeout=5\n" + entry(k46) + entry(k45) }, finding: "broken",
			has: []string{"which pygrub the host runs is unknown: with pygrub of Xen 3.0.3/3.1, Xen 3.4.0 it reads boot/grub/grub.conf (via boot/grub/menu.lst): line 1: default=saved: pygrub sets -1 and raises ValueError",
				`with pygrub of Xen 4.0.0 it boots entry 0 "CentOS (` + k46 + `)"`}, def: "default=0"},
		{name: "default=saved, entry 0 does not boot", spec: func(s *fixtures.GuestSpec) {
			s.NoModules = []string{k46}
			s.GrubConf = "default=saved\n" + entry(k46) + entry(k45)
		}, finding: "broken", has: []string{"default=saved: pygrub sets -1", `with pygrub of Xen 4.0.0 it reads boot/grub/grub.conf (via boot/grub/menu.lst): entry 0 "CentOS (` + k46 + `)": kernel /vmlinuz-` + k46 + `, but lib/modules/` + k46 + ` is missing`}, def: "default=1"},
		// Xen 3.0.3/3.1 exec("self.kernel = r\"ARG\""): a quote that ends the
		// literal before a name is a SyntaxError; 3.4 and 4.0 setattr().
		{name: "quote in the kernel arguments", spec: func(s *fixtures.GuestSpec) {
			s.GrubConf = "default=0\n" + strings.Replace(entry(k46), "root=LABEL=/", `root=LABEL=/ foo="a b"`, 1)
		}, finding: "broken", has: []string{`with pygrub of Xen 3.0.3/3.1 it reads boot/grub/grub.conf (via boot/grub/menu.lst): line 4: kernel has a " at column 54, which ends the string in pygrub's exec("self.X = r\"ARG\"") and "a" follows: SyntaxError: the guest does not start`,
			`with pygrub of Xen 3.4.0, Xen 4.0.0 it boots entry 0`, "edit line 4 by hand so that pygrub of Xen 3.0.3/3.1 reads it"}},
		{name: "quote in a title", spec: func(s *fixtures.GuestSpec) {
			s.GrubConf = "default=1\n" + entry(k46) + strings.Replace(entry(k45), "title CentOS", `title CentOS "old"`, 1)
		}, finding: "broken", has: []string{`line 6: title has a " at column 14`, `and "old" follows: SyntaxError`}},
		{name: "title ending in a backslash", spec: func(s *fixtures.GuestSpec) {
			s.GrubConf = "default=0\n" + strings.Replace(entry(k46), "\n", "\\\n", 1)
		}, finding: "broken", has: []string{"line 2: title ends in a backslash"}},
		{name: "quote then a comment", spec: func(s *fixtures.GuestSpec) {
			s.GrubConf = "default=0\n" + strings.Replace(entry(k46), "title CentOS", `title CentOS" # old`, 1)
		}, finding: "warn", has: []string{`with pygrub of Xen 3.0.3/3.1 it reads boot/grub/grub.conf (via boot/grub/menu.lst): line 2: title has a " at column 13`, "the rest of the line runs as Python code (CVE-2007-4993)", "with pygrub of Xen 3.4.0, Xen 4.0.0 it boots entry 0"}},
		{name: "escaped quote and ignored directives", spec: func(s *fixtures.GuestSpec) {
			s.GrubConf = "default=0\nserial --unit=0 --word=\"8\"\nfoo \"x\"\n" + strings.Replace(entry(k46), "root=LABEL=/", `root=LABEL=/ x=\"y`, 1) + "\tmodule /x \"y\"\n"
		}, finding: "ok", has: []string{`pygrub (the /boot partition (etc/fstab line 2), mounted on boot/) boots entry 0`}},
		{name: "default past the entries", spec: func(s *fixtures.GuestSpec) { s.GrubConf = "default=2\n" + entry(k46) + entry(k45) }, finding: "broken",
			has: []string{"default entry 2, but there are 2 title entries"}, def: "default=0"},
		{name: "default = 0 with blanks", spec: func(s *fixtures.GuestSpec) { s.GrubConf = "default = 0\n" + entry(k46) }, finding: "broken",
			has: []string{`default "= 0": pygrub's int() raises ValueError`}, def: "default=0"},
		{name: "fallback is ignored", spec: func(s *fixtures.GuestSpec) {
			s.NoModules = []string{k46}
			s.GrubConf = "default=0\nfallback=1\n" + entry(k46) + entry(k45)
		}, finding: "broken", has: []string{"lib/modules/" + k46 + " is missing"}, def: "default=1"},
		{name: "no default line, base-flavour kernel first", spec: func(s *fixtures.GuestSpec) {
			s.Kernels = append(s.Kernels, "2.6.9-78.EL")
			s.GrubConf = "timeout=5\n" + entry("2.6.9-78.EL") + entry(k46)
		}, finding: "broken", has: []string{"the base flavour, which does not boot as a Xen guest"}, def: "default=1"},
		{name: "initrd missing", prepare: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "boot/initrd-"+k46+".img")) }, finding: "broken",
			has: []string{"pygrub cannot open /initrd-" + k46 + ".img"}, def: "default=1"},
		{name: "no entry boots", spec: func(s *fixtures.GuestSpec) { s.NoModules = []string{k45, k46} }, finding: "broken",
			has: []string{"no entry boots a Xen kernel with its modules"}},
		{name: "kernel with an unknown flavour", spec: func(s *fixtures.GuestSpec) {
			s.Kernels = []string{"2.6.32-754.el6.x86_64"}
			s.GrubConf = "default=0\n" + entry("2.6.32-754.el6.x86_64")
		}, finding: "warn", has: []string{"boots as a Xen guest is unknown"}},
		{name: "separate /boot not mounted", prepare: func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "boot"))
			os.Mkdir(filepath.Join(dir, "boot"), 0o755)
		}, finding: "warn", has: []string{"is not mounted on", "mount it there (read-only)"}},
		{name: "no etc/fstab, the readings differ", prepare: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "etc/fstab")) }, finding: "warn",
			has: []string{"the readings differ: pygrub (no etc/fstab; read as the root filesystem) reads", "/ pygrub (no etc/fstab; read as a /boot partition mounted on boot/) boots entry 0"}},
		{name: "no etc/fstab, both readings broken", spec: func(s *fixtures.GuestSpec) { s.NoModules = []string{fixtures.GuestKernel45, fixtures.GuestKernel46} },
			prepare: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "etc/fstab")) }, finding: "broken",
			has: []string{"read as a /boot partition mounted on boot/", "lib/modules/" + k46 + " is missing"}},
		{name: "no grub config", prepare: func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "boot/grub")) }, finding: "broken",
			has: []string{"pygrub finds none of /boot/grub/menu.lst, /boot/grub/grub.conf, /grub/menu.lst, /grub/grub.conf"}},
		{name: "menu.lst read before grub.conf", prepare: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "boot/grub/menu.lst"))
			write(t, dir, "boot/grub/menu.lst", "default=0\n"+entry("2.6.9-1.ELxenU"))
		}, finding: "broken", has: []string{"boot/grub/menu.lst: entry 0", "pygrub cannot open /vmlinuz-2.6.9-1.ELxenU"}, def: ""},
		{name: "bootloader_args choose the entry", prepare: nil, spec: func(s *fixtures.GuestSpec) { s.Extra = "3\"\nbootloader_args = \"--entry=1" }, finding: "warn", has: []string{"bootloader_args on line"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := guestCase{name: tc.name, spec: fixtures.CentOS46PygrubGuest(), domain: true}
			if tc.spec != nil {
				tc.spec(&c.spec)
			}
			dir, _, opts := setup(t, c)
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			opts.Only = []string{"host-kernel"}
			f := hostKernelFinding(t, dir, opts)
			if string(f.Severity) != tc.finding {
				t.Fatalf("host-kernel %s, want %s: %s", f.Severity, tc.finding, f.Evidence)
			}
			for _, h := range tc.has {
				if !strings.Contains(f.Evidence, h) {
					t.Errorf("evidence lacks %q: %s", h, f.Evidence)
				}
			}
			file := "boot/grub/grub.conf"
			if tc.def == "" {
				file = ""
			}
			before, after, planned := fixFile(t, dir, opts, file)
			if !planned {
				return
			}
			// Only the default line changes (or one is added before the
			// first title); menu.lst is still the link.
			var want []string
			added := false
			for _, l := range strings.SplitAfter(before, "\n") {
				switch {
				case strings.HasPrefix(l, "default"):
					l, added = tc.def+"\n", true
				case strings.HasPrefix(l, "title") && !added:
					want, added = append(want, tc.def+"\n"), true
				}
				want = append(want, l)
			}
			if d := cmp.Diff(strings.Join(want, ""), after); d != "" {
				t.Errorf("grub.conf after the fix (-want +got):\n%s", d)
			}
			if link, err := os.Readlink(filepath.Join(dir, "boot/grub/menu.lst")); err != nil || link != "./grub.conf" {
				t.Errorf("menu.lst: %q %v", link, err)
			}
			if f := hostKernelFinding(t, dir, opts); f.Severity != guestfix.OK {
				t.Errorf("after the fix: %s %s", f.Severity, f.Evidence)
			}
		})
	}
}

func hostKernelFinding(t *testing.T, dir string, opts guestfix.Options) guestfix.Finding {
	t.Helper()
	return findingBy(t, dir, opts, "host-kernel/")
}

// TestPygrubUnsafeLink: a grub config that is a symlink to another file is
// not read and never edited; the rule is broken and plans nothing.
func TestPygrubUnsafeLink(t *testing.T) {
	t.Parallel()
	c := guestCase{name: "link", spec: fixtures.CentOS46PygrubGuest(), domain: true}
	c.spec.NoModules = []string{fixtures.GuestKernel46}
	dir, _, opts := setup(t, c)
	relink(t, dir, "boot/grub/menu.lst", "/etc/shadow")
	rep, err := guestfix.Check(openRoot(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		if f.ID == "host-kernel/menu.lst" && f.Severity == guestfix.Broken && strings.Contains(f.Evidence, "is a symlink to etc/shadow: not read, not edited") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no broken host-kernel/menu.lst finding: %+v", rep.Findings)
	}
	opts.Only = []string{"host-kernel"}
	if _, err := guestfix.Plan(openRoot(t, dir), opts); err == nil {
		t.Fatal("fix --only host-kernel planned through a link to etc/shadow")
	}
}

// TestPygrubRunlevel: pygrub hands the kernel the default entry's
// arguments, so a runlevel there is the one init boots into.
func TestPygrubRunlevel(t *testing.T) {
	t.Parallel()
	c := guestCase{name: "runlevel", spec: fixtures.CentOS46PygrubGuest(), domain: true}
	c.spec.SerialConsole, c.spec.SerialGettyLevels = true, "23"
	c.spec.GrubConf = "default=0\ntitle CentOS\n\troot (hd0,0)\n\tkernel /vmlinuz-" + fixtures.GuestKernel46 + " ro root=LABEL=/ 4\n\tinitrd /initrd-" + fixtures.GuestKernel46 + ".img\n"
	dir, _, opts := setup(t, c)
	opts.Only = []string{"serial-console"}
	if got := findingOf(t, dir, opts, "serial-console/inittab broken"); got != "serial-console/inittab broken" {
		t.Fatalf("got %s", got)
	}
	rep, _ := guestfix.Check(openRoot(t, dir), opts)
	for _, f := range rep.Findings {
		if f.ID == "serial-console/inittab" && !strings.Contains(f.Evidence, "boot/grub/grub.conf (via boot/grub/menu.lst) line 4 kernel") {
			t.Errorf("evidence does not name the grub line: %s", f.Evidence)
		}
	}
}
