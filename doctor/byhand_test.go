package doctor

import (
	"os"
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
