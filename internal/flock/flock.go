// Package flock takes exclusive flock(2) locks with a bounded wait and names
// the process that holds one, so that a second xsrescue can say who it waited
// for instead of failing with "resource temporarily unavailable".
package flock

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultWait is how long a second xsrescue waits for a lock by default.
const DefaultWait = 10 * time.Second

// ErrBusy is returned (as a *BusyError) when the lock is still held after
// the wait.
var ErrBusy = errors.New("in use by another xsrescue")

// BusyError says who held the lock and how long the caller waited.
type BusyError struct {
	Holder string        // "held by pid 123: xsrescue version set ..." (Holder)
	Waited time.Duration // the wait that ran out
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v (%s; waited %s)", ErrBusy, e.Holder, e.Waited)
}

func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// poll is how often a waiter tries again. flock has no timed form, and a
// blocking flock in a goroutine could not be abandoned without leaving the
// lock to be taken later behind the caller's back.
const poll = 25 * time.Millisecond

// Wait takes an exclusive lock on f, trying again until wait has passed or
// ctx is done. On timeout the error is a *BusyError naming the holder.
// wait <= 0 tries once.
func Wait(ctx context.Context, f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("lock: %w", err)
		}
		if !time.Now().Before(deadline) {
			return &BusyError{Holder: Holder(f), Waited: wait}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Holder names the process holding a flock on the file f is open on, from
// /proc/locks and /proc/PID/cmdline: "held by pid 123: xsrescue version set
// ...". Without /proc it says that it cannot tell.
func Holder(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return "holder unknown"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "holder unknown"
	}
	pid := holderPid(uint64(st.Dev), st.Ino)
	if pid <= 0 {
		return "holder unknown (no /proc/locks entry)"
	}
	return fmt.Sprintf("held by pid %d: %s", pid, Cmdline(pid))
}

// holderPid finds the FLOCK entry for device dev, inode ino in /proc/locks.
// A line reads "1: FLOCK  ADVISORY  WRITE 4711 08:02:131 0 EOF"; lines of
// waiters start with "1: ->" and are skipped.
func holderPid(dev, ino uint64) int {
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] == "->" || f[1] != "FLOCK" {
			continue
		}
		if !sameDevIno(f[5], want) {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err == nil {
			return pid
		}
	}
	return 0
}

// sameDevIno compares "MAJ:MIN:INO" fields; the kernel prints major and
// minor in hex with at least two digits.
func sameDevIno(have, want string) bool {
	h, w := strings.Split(have, ":"), strings.Split(want, ":")
	if len(h) != 3 || len(w) != 3 {
		return false
	}
	for i := range 2 {
		a, err1 := strconv.ParseUint(h[i], 16, 32)
		b, err2 := strconv.ParseUint(w[i], 16, 32)
		if err1 != nil || err2 != nil || a != b {
			return false
		}
	}
	return h[2] == w[2]
}

// Cmdline is the command line of process pid, its arguments joined by
// spaces, or "command line unknown".
func Cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return "command line unknown"
	}
	return strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ")
}
