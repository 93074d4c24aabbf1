package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second lock on the same file (a second open file description, as a
// second process has) waits, then fails with ErrBusy naming this process
// and its command line; a cancelled context stops the wait; once the
// first is closed the second gets it.
func TestWait(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	open := func() *os.File {
		f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	ctx := context.Background()
	if err := Wait(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := Wait(ctx, b, 200*time.Millisecond)
	var be *BusyError
	if !errors.As(err, &be) || !errors.Is(err, ErrBusy) || time.Since(start) < 200*time.Millisecond ||
		!strings.HasPrefix(be.Holder, "held by pid "+strconv.Itoa(os.Getpid())+": "+os.Args[0]) {
		t.Fatalf("second lock: %v after %s", err, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := Wait(cctx, b, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	time.AfterFunc(100*time.Millisecond, func() { a.Close() })
	if err := Wait(ctx, b, 5*time.Second); err != nil {
		t.Errorf("after the holder closed: %v", err)
	}
}

func TestSameDevIno(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		same       bool
	}{
		{"08:02:131", "08:02:131", true},
		{"fe:00:131", "fe:00:131", true},
		{"00:2a:99", "00:2a:99", true},
		{"8:2:131", "08:02:131", true},
		{"08:02:131", "08:02:132", false},
		{"08:03:131", "08:02:131", false},
		{"junk", "08:02:131", false},
	} {
		if got := sameDevIno(tc.have, tc.want); got != tc.same {
			t.Errorf("sameDevIno(%q, %q) = %v", tc.have, tc.want, got)
		}
	}
}
