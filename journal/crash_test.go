package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"

	"github.com/xsrescue/xsrescue/target"
)

// TestMain doubles as two helper processes. With XSRESCUE_JOURNAL_CRASHER=ROOT
// (TestCrashRecovery) it applies crashPlan to ROOT with the journal at
// ROOT.journal, and exits 0 once the op is applied; the test kills it at
// random moments, or crashEnv makes it kill itself at a phase. With
// XSRESCUE_JOURNAL_HOLD=PATH (TestJournalTwoProcesses) it opens the journal,
// says so on stdout, and holds it until its stdin closes.
func TestMain(m *testing.M) {
	if p := os.Getenv("XSRESCUE_JOURNAL_HOLD"); p != "" {
		j, err := Open(p)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("holding")
		io.Copy(io.Discard, os.Stdin)
		j.Close()
		os.Exit(0)
	}
	if dir := os.Getenv("XSRESCUE_JOURNAL_CRASHER"); dir != "" {
		if err := crasher(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crasher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crasher(dir string) error {
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	if err != nil {
		return err
	}
	defer tgt.Close()
	j, err := Open(dir + ".journal")
	if err != nil {
		return err
	}
	defer j.Close()
	if os.Getenv("XSRESCUE_JOURNAL_CRASHER_UNDO") != "" {
		_, err = j.Undo(context.Background(), tgt, 1, false)
		return err
	}
	_, err = j.Apply(context.Background(), tgt, []string{"crasher"}, crashPlan())
	return err
}

// crashPlan changes several files of crashRoot, large enough that a random
// kill lands in the middle of copying as well as between changes.
func crashPlan() *plan.Plan {
	return &plan.Plan{Command: "crash test", Changes: []plan.Change{
		{Kind: plan.Write, Path: "etc/a.conf", Content: bytes.Repeat([]byte("new a line\n"), 20000)},
		{Kind: plan.Write, Path: "etc/b.conf", Content: bytes.Repeat([]byte("new b\n"), 50000)},
		{Kind: plan.Create, Path: "etc/c.conf", Content: []byte("created\n"), Mode: 0o640, UID: -1, GID: -1},
		{Kind: plan.Remove, Path: "etc/old.conf"},
		{Kind: plan.RemoveSymlink, Path: "etc/rc3.d/S10net"},
		{Kind: plan.Rename, Path: "lib/tls", NewPath: "lib/tls.disabled"},
		{Kind: plan.Chmod, Path: "etc/secret", Mode: 0o600},
		// Streamed, as statedb patch writes it: produced once, while the
		// before-image is snapshotted.
		{Kind: plan.Write, Path: "var/state.db", Stream: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("<row/>\n"), 100000))), nil
		}},
	}}
}

const crashPlanChanges = 8

func crashRoot(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{"etc/rc3.d", "lib/tls", "var"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	files := map[string][]byte{
		"etc/a.conf":      bytes.Repeat([]byte("old a line\n"), 15000),
		"etc/b.conf":      bytes.Repeat([]byte("old b\n"), 40000),
		"etc/old.conf":    []byte("to be removed\n"),
		"etc/secret":      []byte("s\n"),
		"lib/tls/libc.so": []byte("\x7fELF"),
		"var/state.db":    bytes.Repeat([]byte("<old/>\n"), 90000),
	}
	for p, b := range files {
		testutil.Must(t, os.WriteFile(filepath.Join(dir, p), b, 0o644))
	}
	testutil.Must(t, os.Symlink("../init.d/net", filepath.Join(dir, "etc/rc3.d/S10net")))
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	if os.Geteuid() == 0 {
		// SIGKILL loses nothing that was written, fsynced or not, so a tmpfs
		// tests the same orderings as a disk, without the cost of fsync.
		testutil.Must(t, syscall.Mount("tmpfs", base, "tmpfs", 0, "size=256m"))
		t.Cleanup(func() { syscall.Unmount(base, syscall.MNT_DETACH) })
	}
	// The state a complete run leaves, and how long one takes.
	ref := filepath.Join(base, "ref")
	crashRoot(t, ref)
	start := time.Now()
	runCrasher(t, ref, "", 0)
	full := time.Since(start)
	want := treeState(t, ref, false)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	phases := []string{"planned", "applying", "staged", "committed"}
	for i := 1; i <= crashPlanChanges; i++ {
		phases = append(phases, "change-"+strconv.Itoa(i))
	}
	const random = 200
	var rolledBack, applied, undone int
	for i := 0; i < random+len(phases); i++ {
		dir := filepath.Join(base, strconv.Itoa(i))
		crashRoot(t, dir)
		before := snapshotTree(t, dir)
		phase, delay := "", time.Duration(0)
		if i < len(phases) {
			phase = phases[i]
		} else {
			delay = time.Duration(rng.Int64N(int64(full)))
		}
		runCrasher(t, dir, phase, delay)

		tgt, err := target.Open(context.Background(), target.Options{Root: dir})
		testutil.Must(t, err)
		j, err := Open(dir + ".journal")
		testutil.Must(t, err)
		rec, err := j.Recover(context.Background(), tgt, false)
		if err != nil {
			t.Fatalf("run %d (phase %q, kill after %s): recover: %v", i, phase, delay, err)
		}
		ops, err := j.List(context.Background())
		testutil.Must(t, err)
		switch {
		case len(ops) == 1 && ops[0].Status == StatusApplied:
			if len(rec) != 0 {
				t.Fatalf("run %d: recover touched an applied op", i)
			}
			if got := treeState(t, dir, false); !maps.Equal(got, want) {
				t.Fatalf("run %d (phase %q, kill after %s): applied op, but the tree is not the planned one:\n%v\nwant\n%v", i, phase, delay, got, want)
			}
			applied++
			if _, err := j.Undo(context.Background(), tgt, ops[0].ID, false); err != nil {
				t.Fatalf("run %d: undo: %v", i, err)
			}
			undone++
		case len(ops) == 0 || ops[0].Status == StatusRolledBack:
			rolledBack++
		default:
			t.Fatalf("run %d (phase %q, kill after %s): op left %s", i, phase, delay, ops[0].Status)
		}
		if got := snapshotTree(t, dir); !maps.Equal(got, before) {
			t.Fatalf("run %d (phase %q, kill after %s): not the exact before-state:\n%v\nwant\n%v", i, phase, delay, got, before)
		}
		if left, err := StaleTemps(tgt.Root); err != nil || len(left) != 0 {
			t.Fatalf("run %d (phase %q, kill after %s): staging files left after recover: %v %v", i, phase, delay, left, err)
		}
		j.Close()
		tgt.Close()
		os.RemoveAll(dir)
	}
	t.Logf("crash safety: %d kills (%d at phase boundaries, %d at random moments within %s): %d rolled back by recover, %d had completed and were undone",
		random+len(phases), len(phases), random, full.Round(time.Millisecond), rolledBack, applied)
	if rolledBack == 0 || undone == 0 {
		t.Errorf("the kills never hit both sides of the commit (%d rolled back, %d applied)", rolledBack, applied)
	}
}

// An undo killed halfway leaves some paths restored and some not: recover
// finishes it (the user was going back), the op becomes undone and the tree
// is exactly as before the op.
func TestCrashDuringUndo(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	for _, phase := range []string{"restored-8", "restored-5", "restored-1"} {
		dir := filepath.Join(base, phase)
		crashRoot(t, dir)
		before := snapshotTree(t, dir)
		runCrasher(t, dir, "", 0)
		runCrasher(t, dir, phase, 0, "XSRESCUE_JOURNAL_CRASHER_UNDO=1")

		tgt, err := target.Open(context.Background(), target.Options{Root: dir})
		testutil.Must(t, err)
		j, err := Open(dir + ".journal")
		testutil.Must(t, err)
		ops, err := j.Interrupted(context.Background())
		testutil.Must(t, err)
		if len(ops) != 1 || !UndoInterrupted(ops[0]) {
			t.Fatalf("%s: interrupted %+v, want op 1 (applied, undo interrupted)", phase, ops)
		}
		rec, err := j.Recover(context.Background(), tgt, false)
		if err != nil || len(rec) != 1 || rec[0].Status != StatusUndone {
			t.Fatalf("%s: recover %+v %v", phase, rec, err)
		}
		if got := snapshotTree(t, dir); !maps.Equal(got, before) {
			t.Fatalf("%s: not the exact before-state:\n%v\nwant\n%v", phase, got, before)
		}
		if left, err := StaleTemps(tgt.Root); err != nil || len(left) != 0 {
			t.Fatalf("%s: staging files left: %v %v", phase, left, err)
		}
		op, err := j.Op(context.Background(), 1)
		testutil.Must(t, err)
		if op.Status != StatusUndone || op.Error != nil && *op.Error != "" {
			t.Errorf("%s: op after recover: %s (error %v)", phase, op.Status, op.Error)
		}
		j.Close()
		tgt.Close()
	}
}

// While an op is interrupted, a new op on the target is refused: recover
// would put the old op's before-images back over it. And recover refuses a
// path changed since the crash unless forced.
func TestInterruptedOpGuards(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "root")
	crashRoot(t, dir)
	runCrasher(t, dir, "", 0)
	runCrasher(t, dir, "restored-1", 0, "XSRESCUE_JOURNAL_CRASHER_UNDO=1")
	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(t, err)
	defer tgt.Close()
	j, err := Open(dir + ".journal")
	testutil.Must(t, err)
	defer j.Close()

	_, err = j.Apply(context.Background(), tgt, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "etc/secret", Content: []byte("x\n")}}})
	if !errors.Is(err, xerr.ErrRefused) || !strings.Contains(err.Error(), "run xsrescue journal recover first") {
		t.Fatalf("apply while op 1's undo is interrupted: %v", err)
	}
	// Someone edits a file the interrupted undo already restored.
	edited := filepath.Join(dir, "etc/a.conf")
	testutil.Must(t, os.WriteFile(edited, []byte("edited since\n"), 0o644))
	if _, err := j.Recover(context.Background(), tgt, false); !errors.Is(err, ErrDrift) {
		t.Fatalf("recover over an edited file: %v", err)
	}
	if got, _ := os.ReadFile(edited); string(got) != "edited since\n" {
		t.Fatal("recover overwrote the edit")
	}
	if rec, err := j.Recover(context.Background(), tgt, true); err != nil || len(rec) != 1 {
		t.Fatalf("recover --force: %v %v", rec, err)
	}
}

// One journal, two targets: A's interrupted op neither blocks B nor is
// touched by B's recover.
func TestInterruptedOtherTarget(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	crashRoot(t, a)
	crashRoot(t, b)
	runCrasher(t, a, "committed", 0) // op 1 of a.journal: applying
	tb, err := target.Open(context.Background(), target.Options{Root: b})
	testutil.Must(t, err)
	defer tb.Close()
	j, err := Open(a + ".journal")
	testutil.Must(t, err)
	defer j.Close()
	if _, err := j.Apply(context.Background(), tb, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "etc/secret", Content: []byte("b\n")}}}); err != nil {
		t.Fatalf("apply on b while a has an interrupted op: %v", err)
	}
	if rec, err := j.Recover(context.Background(), tb, false); err != nil || len(rec) != 0 {
		t.Fatalf("recover on b: %v %v", rec, err)
	}
	ta, err := target.Open(context.Background(), target.Options{Root: a})
	testutil.Must(t, err)
	defer ta.Close()
	if rec, err := j.Recover(context.Background(), ta, false); err != nil || len(rec) != 1 || rec[0].Status != StatusRolledBack {
		t.Fatalf("recover on a: %v %v", rec, err)
	}
}

// Undo, even forced, of one op is refused while another op of the target
// is interrupted: recover would then redo or revert under it.
func TestUndoWhileAnotherInterrupted(t *testing.T) {
	t.Parallel()
	tgt, _ := testRoot(t)
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	testutil.Must(t, err)
	defer j.Close()
	ctx := context.Background()
	first, err := j.Apply(ctx, tgt, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "etc/motd", Content: []byte("one\n")}}})
	testutil.Must(t, err)
	second, err := j.Apply(ctx, tgt, nil, &plan.Plan{Changes: []plan.Change{{Kind: plan.Write, Path: "etc/centos-release", Content: []byte("two\n")}}})
	testutil.Must(t, err)
	testutil.Must(t, j.setStatus(second.Op, StatusApplying, "")) // as a crash leaves it
	if _, err := j.Undo(ctx, tgt, first.Op, true); !errors.Is(err, xerr.ErrRefused) || !strings.Contains(err.Error(), "run xsrescue journal recover first") {
		t.Fatalf("undo --force while op %d is interrupted: %v", second.Op, err)
	}
}

// runCrasher runs the crasher on dir (env: XSRESCUE_JOURNAL_CRASHER_UNDO=1
// makes it undo op 1 instead of applying); with phase it kills itself
// there, with delay the test kills it after delay.
func runCrasher(t *testing.T, dir, phase string, delay time.Duration, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "XSRESCUE_JOURNAL_CRASHER="+dir, crashEnv+"="+phase), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	testutil.Must(t, cmd.Start())
	if delay > 0 {
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
	}
	err := cmd.Wait()
	killed := false
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed = true
		}
	}
	if err != nil && !killed {
		t.Fatalf("crasher: %v: %s", err, stderr.String())
	}
	if phase != "" && !killed {
		t.Fatalf("crasher did not stop at phase %q", phase)
	}
}

// A kill while staging an op the journal at hand does not know (the journal
// was deleted, or the op was journaled with another --journal) leaves
// full-size staging files that no op names. StaleTemps finds them by their
// pattern, RemoveStaleTemps removes them, and nothing else in the tree moves.
func TestStaleTempsOfUnknownOp(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	crashRoot(t, dir)
	// A file that only looks like one: another uuid form, kept.
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "etc/.xsrescue-notes.tmp"), []byte("mine\n"), 0o644))
	before := snapshotTree(t, dir)
	runCrasher(t, dir, "staged", 0)
	testutil.Must(t, os.Remove(dir+".journal")) // the op is now unknown
	os.Remove(dir + ".journal-wal")
	os.Remove(dir + ".journal-shm")

	tgt, err := target.Open(context.Background(), target.Options{Root: dir})
	testutil.Must(t, err)
	defer tgt.Close()
	j, err := Open(filepath.Join(base, "other.journal"))
	testutil.Must(t, err)
	defer j.Close()
	rec, err := j.Recover(context.Background(), tgt, false)
	testutil.Must(t, err)
	if len(rec) != 0 {
		t.Fatalf("recover rolled back %d ops of an empty journal", len(rec))
	}
	temps, err := StaleTemps(tgt.Root)
	testutil.Must(t, err)
	// Staged: the three Write/Create changes (1, 2, 3 and 8) each have a
	// full-size copy next to their file.
	var names []string
	for _, p := range temps {
		names = append(names, filepath.Dir(p)+"/"+strings.TrimSuffix(strings.SplitAfterN(filepath.Base(p), "-", 7)[6], ".tmp"))
	}
	slices.Sort(names)
	if want := []string{"etc/1", "etc/2", "etc/3", "var/8"}; !slices.Equal(names, want) {
		t.Fatalf("stale temps %v (%v), want %v", names, temps, want)
	}
	removed, err := RemoveStaleTemps(tgt.Root, temps)
	testutil.Must(t, err)
	if !slices.Equal(removed, temps) {
		t.Fatalf("removed %v, want %v", removed, temps)
	}
	if got := snapshotTree(t, dir); !maps.Equal(got, before) {
		t.Fatalf("tree after removing the staging files:\n%v\nwant\n%v", got, before)
	}
	if left, err := StaleTemps(tgt.Root); err != nil || len(left) != 0 {
		t.Fatalf("still left: %v %v", left, err)
	}
}
