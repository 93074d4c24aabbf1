package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestMain doubles as the xsrescue program: with XSRESCUE_TEST_MAIN=1 the
// test binary runs main (signal handling and exit codes included) with
// the test-only commands below, so that tests can run it as a user runs
// the binary: several processes at once, on a terminal, killed by signals.
func TestMain(m *testing.M) {
	if os.Getenv("XSRESCUE_TEST_MAIN") == "1" {
		os.Exit(mainWith(testCommands()))
	}
	code := m.Run()
	if !checkSchemaCoverage() && code == 0 {
		code = 1
	}
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// testCommands are the hidden test-only commands of the test binary
// (zz-journal-test-write is in journal_test.go).
func testCommands() []commandFunc {
	return []commandFunc{newTestPanicCommand, newTestHangCommand, newTestRollbackCommand, newJournalTestWriteCommand}
}

func newTestPanicCommand(*env) *cli.Command {
	return &cli.Command{
		Name:   "zz-test-panic",
		Hidden: true,
		Usage:  "test only: panic",
		Action: func(context.Context, *cli.Command) error {
			var m map[string]int
			m["boom"]++ // a nil map write: a real runtime panic, not a panic(string)
			return nil
		},
	}
}

func newTestHangCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "zz-test-hang",
		Hidden: true,
		Usage:  "test only: say so, then block and ignore the context (a command stuck in a system call)",
		Action: func(context.Context, *cli.Command) error {
			e.logf("hanging")
			time.Sleep(time.Hour)
			return nil
		},
	}
}

// newTestRollbackCommand stands for a partition restore: on a signal it
// "rolls back" for a second (what partimage.Restore does after a cancel),
// holding rollingBack as restoreBlocks does.
func newTestRollbackCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "zz-test-rollback",
		Hidden: true,
		Usage:  "test only: wait for a signal, then take a second to roll back",
		Action: func(ctx context.Context, _ *cli.Command) error {
			rollingBack.Add(1)
			defer rollingBack.Add(-1)
			e.logf("writing")
			<-ctx.Done()
			time.Sleep(time.Second)
			return fmt.Errorf("%w; rolled back: nothing changed", ctx.Err())
		},
	}
}

// xsProc is one xsrescue process (the test binary as xsrescue).
type xsProc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer safe to read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startXS starts xsrescue with args; stdin nil is /dev/null. lockDir is
// the lock directory the process uses (processes that must contend share
// it); env adds variables.
func startXS(t *testing.T, stdin *os.File, lockDir string, env []string, args ...string) *xsProc {
	t.Helper()
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), "XSRESCUE_TEST_MAIN=1", "XSRESCUE_JOURNAL=", "XSRESCUE_LOCK_DIR="+lockDir)
	c.Env = append(c.Env, env...)
	if stdin != nil {
		c.Stdin = stdin
	}
	p := &xsProc{cmd: c, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	c.Stdout, c.Stderr = p.stdout, p.stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.ProcessState == nil {
			c.Process.Kill()
			c.Wait()
		}
	})
	return p
}

// wait waits for the process (at most limit) and returns its exit code.
func (p *xsProc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("xsrescue %s did not exit within %s\nstdout: %s\nstderr: %s", strings.Join(p.cmd.Args[1:], " "), limit, p.stdout, p.stderr)
		return -1
	}
}

// waitFor waits until the process's stderr contains s.
func (p *xsProc) waitFor(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("xsrescue %s: no %q on stderr within %s:\n%s", strings.Join(p.cmd.Args[1:], " "), s, limit, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// xs runs xsrescue to the end (30 s at most) and returns its exit code
// and output.
func xs(t *testing.T, stdin *os.File, lockDir string, args ...string) (int, string, string) {
	t.Helper()
	p := startXS(t, stdin, lockDir, nil, args...)
	code := p.wait(t, 30*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// builtDir holds the real binary once realBinary built it.
var (
	builtDir  string
	buildOnce sync.Once
	builtErr  error
)

// realBinary builds xsrescue (as scripts/build.sh does, minus the static
// link check) once per test run.
func realBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if builtDir, builtErr = os.MkdirTemp("", "xsrescue-bin-"); builtErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(builtDir, "xsrescue"), ".").CombinedOutput()
		if err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return filepath.Join(builtDir, "xsrescue")
}

// openPTY opens a pseudo-terminal pair with the ioctls util-linux uses
// (posix_openpt, unlockpt, ptsname): the slave is the terminal a command
// reads its answer from, the master is where the test types it.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	// Drain what the terminal echoes, so that it never fills up.
	go io.Copy(io.Discard, m)
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// answerAtPrompt runs xsrescue on a terminal and types answer at its
// [y/N] prompt.
func answerAtPrompt(t *testing.T, lockDir, answer string, args ...string) (int, string, string) {
	t.Helper()
	master, slave := openPTY(t)
	p := startXS(t, slave, lockDir, nil, args...)
	p.waitFor(t, "[y/N]", 30*time.Second)
	if _, err := master.WriteString(answer + "\n"); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, 30*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// devNull is stdin without a terminal (kickstart %pre).
func devNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// onDisk is the state of files and trees as "nothing was written" must
// keep it: every image hashed whole (fixtures.FileSHA256), every tree
// entry with type, mode, owner, device, link, content and mtime.
func stateOnDisk(t *testing.T, paths ...string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(h, "%s absent\n", p)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().IsRegular() {
			sum, err := fixtures.FileSHA256(p)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%s %s %s\n", p, fi.ModTime(), sum)
			continue
		}
		state, err := fixtures.TreeState(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(state))
		for k := range state {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			mt := ""
			if fi, err := os.Lstat(filepath.Join(p, k)); err == nil && fi.Mode().IsRegular() {
				mt = fi.ModTime().String()
			}
			fmt.Fprintf(h, "%s/%s %s %s\n", p, k, state[k], mt)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func needRootMount(t *testing.T) {
	t.Helper()
	testutil.NeedRoot(t, "loop devices and mount")
	testutil.NeedTools(t, "mkfs.ext3", "debugfs")
}
