package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partimage"
)

// TestFIFOInputs: a FIFO where a file (or disk) is expected blocked forever
// in open(2) — and Ctrl-C could not stop it. Each is now refused as invalid
// input (exit 2, "... is a fifo, not a file") within a second.
func TestFIFOInputs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	testutil.Must(t, syscall.Mkfifo(fifo, 0o600))
	// A restore's snapshot and its sidecar, both FIFOs.
	snap := filepath.Join(dir, "snap.img")
	testutil.Must(t, syscall.Mkfifo(snap, 0o600))
	testutil.Must(t, syscall.Mkfifo(partimage.SidecarPath(snap), 0o600))
	db := filepath.Join(dir, "state.db")
	testutil.Must(t, fixtures.WriteStateDBFile(db, fixtures.StateDBSpec{Release: "7.1", VMs: 1, Seed: "fifo"}, false))
	guest, _ := guestTree(t, fixtures.CentOS45Guest())
	odmDumps := filepath.Join(dir, "odm")
	testutil.Must(t, fixtures.WriteAIXDumps(odmDumps))
	lockDir := t.TempDir()
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"disk", "inspect", fifo}, fifo + " is a fifo, not a file or block device"},
		{[]string{"version", "show", "--disk", fifo}, "disk " + fifo + " is a fifo, not a file or block device"},
		{[]string{"version", "set", "--disk", fifo, "--for-installer", "5.0", "--yes"}, "is a fifo"},
		{[]string{"zfs", "labels", fifo}, fifo + " is a fifo"},
		{[]string{"disk", "save-partition", fifo, "--partition", "1", "--to", filepath.Join(dir, "x.img")}, fifo + " is a fifo"},
		{[]string{"journal", "list", "--journal", fifo}, "journal " + fifo + " is a fifo, not a file"},
		{[]string{"zz-journal-test-write", "etc/inventory", "--content", "x", "--root", journalTestRoot(t), "--journal", fifo, "--yes"}, "journal " + fifo + " is a fifo"},
		{[]string{"statedb", "show", fifo}, fifo + " is a fifo, not a file"},
		{[]string{"statedb", "diff", fifo, db}, fifo + " is a fifo"},
		{[]string{"statedb", "diff", db, fifo}, fifo + " is a fifo"},
		{[]string{"statedb", "patch", db, "--like", fifo, "--dry-run"}, fifo + " is a fifo"},
		{[]string{"statedb", "patch", fifo, "--to-release", "7.0", "--dry-run"}, fifo + " is a fifo"},
		{[]string{"guest", "check", "--root", guest, "--domain-config", fifo}, fifo + " is a fifo"},
		{[]string{"guest", "fix", "--root", guest, "--domain-config", fifo, "--dry-run"}, fifo + " is a fifo"},
		{[]string{"odm", "ghosts", "--odm", odmDumps, "--dev-listing", fifo}, fifo + " is a fifo"},
		{[]string{"answerfile", "upgrade", "--disk", "sda", "--source", "local", "--to", fifo}, fifo + " is a fifo"},
		{[]string{"answerfile", "restore", "--disk", fifo}, fifo + " is a fifo"},
		{[]string{"answerfile", "restore", "--disk", cliImage(t), "--for-installer", "6.2", "--to", fifo}, fifo + " is a fifo"},
		{[]string{"disk", "restore-partition", cliImage(t), "--partition", "1", "--from", snap, "--dry-run"}, partimage.SidecarPath(snap) + " is a fifo"},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			p := startXS(t, nil, lockDir, nil, tc.args...)
			start := time.Now()
			code := p.wait(t, 10*time.Second)
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %s", took)
			}
			if code != 2 || !strings.Contains(p.stderr.String(), tc.says) {
				t.Errorf("xsrescue %s: exit %d, want 2 and %q\n%s", strings.Join(tc.args, " "), code, tc.says, p.stderr)
			}
		})
	}
}

// SIGTERM during a long read-only parse (statedb show of a 100 MB
// database) stops it at once: exit 143 (130 for SIGINT), "interrupted",
// and under --json the error document with that exit code.
func TestSIGTERMDuringStatedbShow(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	testutil.Must(t, fixtures.WriteStateDBFile(db, fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 100 << 20 / (9 << 10), Seed: "sigterm"}, true))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		p := startXS(t, nil, t.TempDir(), nil, "statedb", "show", db, "--json")
		time.Sleep(150 * time.Millisecond) // well inside the parse (it takes seconds)
		testutil.Must(t, p.cmd.Process.Signal(sig))
		start := time.Now()
		code := p.wait(t, 10*time.Second)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: exited %s after the signal", sig, took)
		}
		if code != 128+int(sig) || !strings.Contains(p.stderr.String(), "interrupted") || strings.Contains(p.stdout.String(), "schema_major") ||
			!strings.Contains(p.stdout.String(), fmt.Sprintf(`"exit_code": %d`, 128+int(sig))) {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", sig, code, 128+int(sig), p.stdout, p.stderr)
		}
	}
}

// A command stuck where it cannot check its context ignores the first
// SIGTERM; the second exits at once (143) and says so.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := startXS(t, nil, t.TempDir(), nil, "zz-test-hang")
	p.waitFor(t, "hanging", 30*time.Second)
	testutil.Must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, "stopping and rolling back (send it again to exit at once)", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if p.cmd.ProcessState != nil {
		t.Fatal("exited on the first signal: the test command does not hang as it should")
	}
	testutil.Must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	start := time.Now()
	code := p.wait(t, 10*time.Second)
	if took := time.Since(start); code != 143 || took > time.Second || !strings.Contains(p.stderr.String(), "exiting at once") {
		t.Errorf("second SIGTERM: exit %d after %s\n%s", code, took, p.stderr)
	}
}

// While a partition restore rolls back after the first SIGTERM, a second
// one does not exit (that would leave the partition half restored): the
// rollback finishes and the command exits 143 with its account.
func TestSecondSignalWaitsForRollback(t *testing.T) {
	p := startXS(t, nil, t.TempDir(), nil, "zz-test-rollback")
	p.waitFor(t, "writing", 30*time.Second)
	testutil.Must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, "stopping and rolling back", 5*time.Second)
	testutil.Must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, "this waits for the rollback", 5*time.Second)
	code := p.wait(t, 10*time.Second)
	if code != 143 || !strings.Contains(p.stderr.String(), "rolled back: nothing changed") || strings.Contains(p.stderr.String(), "exiting at once") {
		t.Errorf("exit %d\n%s", code, p.stderr)
	}
}

// Ctrl-C at the confirmation prompt refuses (nothing written) and exits 130.
func TestSignalAtPrompt(t *testing.T) {
	dir := journalTestRoot(t)
	before := stateOnDisk(t, dir)
	_, slave := openPTY(t)
	p := startXS(t, slave, t.TempDir(), nil, "zz-journal-test-write", "etc/inventory", "--append", "x", "--root", dir)
	p.waitFor(t, "[y/N]", 30*time.Second)
	testutil.Must(t, p.cmd.Process.Signal(syscall.SIGINT))
	if code := p.wait(t, 5*time.Second); code != 130 || !strings.Contains(p.stderr.String(), "interrupted at the prompt: nothing was changed") {
		t.Errorf("exit %d\n%s", code, p.stderr)
	}
	if stateOnDisk(t, dir) != before {
		t.Error("Ctrl-C at the prompt wrote something")
	}
}

// A panic is exit 1 with one line on stderr and, under --json, the error
// document on stdout: never a Go stack.
func TestPanicIsOneLine(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		argv := []string{"xsrescue", "zz-test-panic"}
		if asJSON {
			argv = append(argv, "--json")
		}
		var o, e strings.Builder
		code := run(context.Background(), argv, strings.NewReader(""), &o, &e)
		if code != 1 || strings.Count(e.String(), "\n") != 1 || strings.Contains(e.String(), "goroutine") ||
			!strings.HasPrefix(e.String(), "xsrescue: internal error: assignment to entry in nil map (a bug in xsrescue") {
			t.Errorf("json %v: exit %d\nstderr: %s", asJSON, code, e.String())
		}
		var doc struct {
			Error struct {
				Message  string `json:"message"`
				ExitCode int    `json:"exit_code"`
			} `json:"error"`
		}
		switch {
		case asJSON && (json.Unmarshal([]byte(o.String()), &doc) != nil || doc.Error.ExitCode != 1 || !strings.Contains(doc.Error.Message, "internal error")):
			t.Errorf("--json: stdout is not the error document:\n%s", o.String())
		case !asJSON && o.String() != "":
			t.Errorf("stdout: %s", o.String())
		}
	}
}

// Bad input is exit 2 (docs/exit-codes.md): a symlink loop in the root, a
// --journal that is not an xsrescue journal.
func TestBadInputExit2(t *testing.T) {
	t.Parallel()
	loopRoot := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(loopRoot, "etc"), 0o755))
	testutil.Must(t, os.Symlink("xensource-inventory", filepath.Join(loopRoot, "etc/xensource-inventory")))
	testutil.Must(t, os.MkdirAll(filepath.Join(loopRoot, "var"), 0o755))
	testutil.Must(t, os.Symlink("../var/xapi", filepath.Join(loopRoot, "var/xapi")))
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	testutil.Must(t, os.WriteFile(notDB, []byte("shopping list\n"), 0o644))
	otherDB := filepath.Join(t.TempDir(), "other.db")
	testutil.Must(t, fixtures.WriteStateDBFile(otherDB, fixtures.StateDBSpec{Release: "7.1", VMs: 1, Seed: "x"}, false)) // XML, not SQLite
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"version", "set", "--root", loopRoot, "--for-installer", "7.0", "--yes"}, "too many levels of symbolic links"},
		{[]string{"statedb", "show", "--root", loopRoot}, "too many levels of symbolic links"},
		{[]string{"journal", "list", "--journal", notDB}, "not an xsrescue journal"},
		{[]string{"journal", "list", "--journal", otherDB}, "not an xsrescue journal"},
		{[]string{"zz-journal-test-write", "etc/inventory", "--content", "x", "--root", journalTestRoot(t), "--journal", notDB, "--yes"}, "not an xsrescue journal"},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.says) {
			t.Errorf("xsrescue %s: exit %d, want 2 and %q\n%s\n%s", strings.Join(tc.args, " "), code, tc.says, out, errOut)
		}
	}
	if b, _ := os.ReadFile(notDB); string(b) != "shopping list\n" {
		t.Errorf("the file given as --journal was changed: %q", b)
	}
}
