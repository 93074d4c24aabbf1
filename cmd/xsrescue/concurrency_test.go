package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/zfsroot"
)

// pairOutcome checks one pair of concurrent edits: each edit is applied,
// or its command was refused (exit 3); never two exit 0 and a lost edit.
func pairOutcome(t *testing.T, i int, codes [2]int, applied [2]bool, outputs [2]string) (refused int) {
	t.Helper()
	for k := range 2 {
		switch {
		case codes[k] == 0 && applied[k]:
		case codes[k] == 3 && !applied[k]:
			refused++
		default:
			t.Fatalf("pair %d, command %d: exit %d, edit applied %v (want exit 0 with the edit, or exit 3 without it)\n%s", i, k, codes[k], applied[k], outputs[k])
		}
	}
	if refused == 2 {
		t.Fatalf("pair %d: both refused\n%s\n%s", i, outputs[0], outputs[1])
	}
	return refused
}

// stickyOf is the sticky value of publisher pub in a pkg5.image.
func stickyOf(t *testing.T, cfg []byte, pub string) string {
	t.Helper()
	in := false
	for _, line := range strings.Split(string(cfg), "\n") {
		if strings.HasPrefix(line, "[") {
			in = line == "[authority_"+pub+"]"
			continue
		}
		if v, ok := strings.CutPrefix(line, "sticky = "); ok && in {
			return v
		}
	}
	t.Fatalf("no sticky for %s in\n%s", pub, cfg)
	return ""
}

// TestConcurrentEditsRoot is the lost update of issue 13 (two zone edits on
// one root at once: in 22 of 30 runs both exited 0 and one edit was gone),
// with two processes of the real binary per pair, 50 pairs: each pair ends
// with both edits in the file, or one in it and the other command refused.
func TestConcurrentEditsRoot(t *testing.T) {
	bin := realBinary(t)
	zr := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(zr, "var/pkg"), 0o755))
	cfgPath := filepath.Join(zr, zfsroot.ImageFilePkg5)
	orig := zfsrootTestdata(t, "ips/pkg5.image.s11")
	lockDir := t.TempDir()
	refusals := 0
	for i := range 50 {
		testutil.Must(t, os.WriteFile(cfgPath, orig, 0o644))
		var procs [2]*exec.Cmd
		var outs [2]*syncBuffer
		for k, pub := range []string{"solaris", "opensolaris.org"} {
			c := exec.Command(bin, "zone", "set-sticky", pub, "false", "--zone-root", zr, "--yes")
			c.Env = append(os.Environ(), "XSRESCUE_LOCK_DIR="+lockDir, "XSRESCUE_JOURNAL=")
			outs[k] = &syncBuffer{}
			c.Stdout, c.Stderr = outs[k], outs[k]
			procs[k] = c
		}
		for _, c := range procs {
			testutil.Must(t, c.Start())
		}
		var codes [2]int
		for k, c := range procs {
			if err := c.Wait(); err != nil {
				codes[k] = c.ProcessState.ExitCode()
			}
		}
		cfg, err := os.ReadFile(cfgPath)
		testutil.Must(t, err)
		applied := [2]bool{stickyOf(t, cfg, "solaris") == "False", stickyOf(t, cfg, "opensolaris.org") == "False"}
		refusals += pairOutcome(t, i, codes, applied, [2]string{outs[0].String(), outs[1].String()})
	}
	t.Logf("50 pairs: %d command(s) refused, every other edit applied", refusals)
}

// TestConcurrentEditsImage: the same on one disk image, 50 pairs of
// read-modify-write appends to one file of its ext3 root (each process
// plans on the image read in-process, then mounts read-write): every line of a
// command that exited 0 is in the file exactly once.
func TestConcurrentEditsImage(t *testing.T) {
	needRootMount(t)
	root := fixtures.RootSpec{Release: "7.1", Populate: func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "etc/motd"), []byte("lines:\n"), 0o644)
	}}
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("pairs", "dos", root, nil))
	testutil.Must(t, err)
	lockDir := t.TempDir()
	var want []string
	refusals := 0
	for i := range 50 {
		var procs [2]*xsProc
		lines := [2]string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)}
		for k := range 2 {
			procs[k] = startXS(t, nil, lockDir, nil, "zz-journal-test-write", "etc/motd", "--append", lines[k], "--disk", img, "--yes")
		}
		var codes [2]int
		for k, p := range procs {
			codes[k] = p.wait(t, 60*time.Second)
		}
		content := readFromImage(t, img, 1, "/etc/motd")
		var applied [2]bool
		for k, l := range lines {
			applied[k] = strings.Contains(content, "\n"+l+"\n")
			if applied[k] {
				want = append(want, l)
			}
		}
		refusals += pairOutcome(t, i, codes, applied, [2]string{procs[0].stderr.String(), procs[1].stderr.String()})
	}
	content := readFromImage(t, img, 1, "/etc/motd")
	if got := strings.Count(content, "\n"); got != len(want)+1 {
		t.Errorf("%d lines in etc/motd, want %d:\n%s", got, len(want)+1, content)
	}
	t.Logf("50 pairs: %d command(s) refused, every other edit applied", refusals)
}

// readFromImage reads a file of partition n's ext filesystem with debugfs
// (no mount).
func readFromImage(t *testing.T, img string, n int, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat "+path, img+"?offset="+strconv.FormatInt(partitionStart(t, img, n), 10)).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

// A second command on a target another xsrescue holds (here: waiting at its
// prompt) waits --wait, then is refused (exit 3) naming the holder's pid and
// command line; once the holder is gone it goes through.
func TestLockHolderNamed(t *testing.T) {
	dir := journalTestRoot(t)
	lockDir := t.TempDir()
	master, slave := openPTY(t)
	holder := startXS(t, slave, lockDir, nil, "zz-journal-test-write", "etc/inventory", "--append", "first", "--root", dir)
	holder.waitFor(t, "[y/N]", 30*time.Second)

	start := time.Now()
	code, out, errOut := xs(t, nil, lockDir, "zz-journal-test-write", "etc/inventory", "--append", "second", "--root", dir, "--yes", "--wait", "400ms")
	waited := time.Since(start)
	want := fmt.Sprintf("%s is in use by another xsrescue (held by pid %d: %s zz-journal-test-write etc/inventory --append first --root %s; waited 400ms): nothing was changed",
		dir, holder.cmd.Process.Pid, os.Args[0], dir)
	if code != 3 || !strings.Contains(errOut, want) || strings.Contains(errOut, "interrupted") {
		t.Fatalf("second command: exit %d, want 3 and\n%s\n%s\n%s", code, want, out, errOut)
	}
	if waited < 400*time.Millisecond {
		t.Errorf("the second command gave up after %s, before --wait 400ms", waited)
	}
	// The holder answers: applied. Then the second goes through, on top.
	_, err := master.WriteString("y\n")
	testutil.Must(t, err)
	if code := holder.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("holder: exit %d\n%s", code, holder.stderr)
	}
	if code, out, errOut := xs(t, nil, lockDir, "zz-journal-test-write", "etc/inventory", "--append", "second", "--root", dir, "--yes"); code != 0 {
		t.Fatalf("after the holder: exit %d\n%s\n%s", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "etc/inventory")); !strings.HasSuffix(string(got), "\nfirst\nsecond\n") {
		t.Errorf("inventory:\n%s", got)
	}
}

// While an op is applying (held there on purpose), a second command on the
// same target is never told that op was "interrupted": it waits for the
// lock, and is refused naming the holder if the wait runs out, or goes
// through once the op is committed. A second journal path changes nothing.
func TestLiveOpNotInterrupted(t *testing.T) {
	dir := journalTestRoot(t)
	lockDir := t.TempDir()
	j1, j2 := filepath.Join(t.TempDir(), "j1.db"), filepath.Join(t.TempDir(), "j2.db")
	slow := startXS(t, nil, lockDir, []string{"XSRESCUE_TEST_PAUSE_AT=applying:2s"},
		"zz-journal-test-write", "etc/inventory", "--append", "slow", "--root", dir, "--journal", j1, "--yes")
	// The op is recorded as applying before the pause.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(j1); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow op never created its journal\n%s", slow.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, j := range []string{j1, j2} {
		code, out, errOut := xs(t, nil, lockDir, "zz-journal-test-write", "etc/inventory", "--append", "quick", "--root", dir, "--journal", j, "--yes", "--wait", "100ms")
		if code != 3 || !strings.Contains(errOut, "in use by another xsrescue (held by pid "+strconv.Itoa(slow.cmd.Process.Pid)) || strings.Contains(errOut, "interrupted") {
			t.Fatalf("--journal %s during the op: exit %d\n%s\n%s", j, code, out, errOut)
		}
	}
	code, out, errOut := xs(t, nil, lockDir, "zz-journal-test-write", "etc/inventory", "--append", "quick", "--root", dir, "--journal", j2, "--yes", "--wait", "30s")
	if code != 0 || strings.Contains(errOut, "interrupted") {
		t.Fatalf("waiting for the op: exit %d\n%s\n%s", code, out, errOut)
	}
	if code := slow.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("slow op: exit %d\n%s", code, slow.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "etc/inventory")); !strings.HasSuffix(string(got), "\nslow\nquick\n") {
		t.Errorf("inventory:\n%s", got)
	}
}
