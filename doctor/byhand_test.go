package doctor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBrokenFindingsGetAStep (acceptance acc21a #13): a broken finding no
// automatic step repairs gets a step by hand saying what to do, then
// doctor again; the plan is never empty beside a broken finding.
func TestBrokenFindingsGetAStep(t *testing.T) {
	t.Parallel()
	truncate := func(root string) {
		p := filepath.Join(root, "var/xapi/state.db")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, b[:len(b)/2], 0o644)
	}
	fifo := func(root string) {
		p := filepath.Join(root, "var/xapi/state.db")
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noInventory := func(root string) { os.Remove(filepath.Join(root, "etc/xensource-inventory")) }
	for _, tc := range []struct {
		name      string
		extra     func(string)
		installer string
		finding   string
		step      string
		again     bool // then doctor again
	}{
		{"truncated state.db", truncate, "", "statedb-unreadable", "put back the database xapi loads from a copy", true},
		{"truncated state.db for 5.0", truncate, "5.0", "statedb-unreadable", "put back the database xapi loads from a copy", true},
		{"fifo state.db", fifo, "", "statedb-not-a-file", "keep the damaged file (move it aside)", true},
		{"no inventory, no installer", noInventory, "", "inventory-missing", "put back etc/xensource-inventory", true},
		{"installer too new", nil, "8.2", "installer-verdict/8.2.0/version-set", "use an installer that accepts it (xsrescue version show --root ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, backup := rescueTrees(t, tc.extra)
			rep := diagnose(t, root, backup, tc.installer)
			if severities(rep)[tc.finding] != Broken {
				t.Fatalf("findings %v", severities(rep))
			}
			cmds := commands(rep)
			var found *Step
			for i, s := range rep.Plan {
				if strings.Contains(s.Command, tc.step) {
					found = &rep.Plan[i]
				}
			}
			if found == nil || !found.Manual {
				t.Fatalf("no step by hand %q for %s: %q", tc.step, tc.finding, cmds)
			}
			if last := cmds[len(cmds)-1]; strings.HasPrefix(last, "xsrescue doctor ") != tc.again {
				t.Errorf("the plan ends by diagnosing again: %q, want %v", cmds, tc.again)
			}
			for _, s := range rep.Plan {
				if strings.HasPrefix(s.Command, "boot the ") && strings.Contains(s.Command, "choose Upgrade") {
					t.Errorf("the installer is promised to accept a disk with %s broken: %q", tc.finding, cmds)
				}
			}
		})
	}
}

// TestVersionSetStepNamesEveryGate: a 5.5 root planned for the 5.0
// installer: version set lowers PRODUCT_VERSION (gate version); its step
// says so.
func TestVersionSetStepNamesEveryGate(t *testing.T) {
	t.Parallel()
	root, backup := rescueTrees(t, nil)
	rep := diagnose(t, root, backup, "5.0")
	for _, s := range rep.Plan {
		if strings.Contains(s.Command, "version set") {
			if !strings.Contains(s.Why, "PRODUCT_VERSION 5.5.0 -> 5.0.0 (gate version)") {
				t.Errorf("why: %s", s.Why)
			}
			return
		}
	}
	t.Fatalf("no version set step: %q", commands(rep))
}

// TestOneBadByteInAValue (acc22 N8): one byte that is not UTF-8 in a VM's
// name gets a step that replaces that byte, naming where it is, not "put
// back the database"; the step's shell line, run as it is, makes the
// database readable. A longer bad sequence keeps the general remedy.
func TestOneBadByteInAValue(t *testing.T) {
	t.Parallel()
	insert := func(b []byte) func(string) {
		return func(root string) {
			p := filepath.Join(root, "var/xapi/state.db")
			d, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(d, []byte(`<table name="VM"`))
			j := bytes.Index(d[i:], []byte(`name__label="`))
			if i < 0 || j < 0 {
				t.Fatal("no VM name__label in the fixture database")
			}
			at := i + j + len(`name__label="`)
			if err := os.WriteFile(p, append(append(d[:at:at], b...), d[at:]...), 0o600); err != nil || os.Chmod(p, 0o600) != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("e9", func(t *testing.T) {
		t.Parallel()
		root, backup := rescueTrees(t, insert([]byte{0xe9}))
		rep := diagnose(t, root, backup, "")
		if severities(rep)["statedb-unreadable"] != Broken {
			t.Fatalf("findings %v", severities(rep))
		}
		var s Step
		for _, p := range rep.Plan {
			if strings.Contains(p.Command, "put back") {
				t.Errorf("the whole database put back for one byte: %s", p.Command)
			}
			if strings.Contains(p.Command, "head -c ") {
				s = p
			}
		}
		if !s.Manual {
			t.Fatalf("no step by hand for the byte: %q", commands(rep))
		}
		for _, want := range []string{"0xe9 at offset ", "table VM, row ", "attribute name__label", `"é"`} {
			if !strings.Contains(s.Why, want) {
				t.Errorf("why lacks %q: %s", want, s.Why)
			}
		}
		if !strings.Contains(s.Command, "cp -p "+filepath.Join(root, "var/xapi/state.db")+" /save/state-damaged.db (keep it); then F=") {
			t.Errorf("no copy kept first: %s", s.Command)
		}
		// the edit as the step gives it
		_, edit, _ := strings.Cut(s.Command, "; then F=")
		edit, _, _ = strings.Cut(edit, "; then xsrescue doctor ")
		if out, err := exec.Command("sh", "-c", "F="+edit).CombinedOutput(); err != nil {
			t.Fatalf("F=%s: %v\n%s", edit, err, out)
		}
		if fi, err := os.Stat(filepath.Join(root, "var/xapi/state.db")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("after the edit: %v %v, want mode 0600 kept", fi.Mode(), err)
		}
		if after := diagnose(t, root, backup, ""); severities(after)["statedb-unreadable"] != "" {
			t.Errorf("after the step: %v", severities(after))
		}
	})
	t.Run("f4 90 80 80", func(t *testing.T) {
		t.Parallel()
		root, backup := rescueTrees(t, insert([]byte{0xf4, 0x90, 0x80, 0x80}))
		rep := diagnose(t, root, backup, "")
		if c := strings.Join(commands(rep), "\n"); !strings.Contains(c, "put back the database xapi loads from a copy") || strings.Contains(c, "head -c") {
			t.Errorf("plan %q", c)
		}
	})
}
