package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// TestExitCode: damage on the disk exits 2 whichever reader met it — the
// in-process ext reader (its sentinels are marked) or the kernel through
// a mount (EUCLEAN, ext4's and xfs's EFSCORRUPTED; ELOOP); an I/O error
// stays 1.
func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("d.img partition 1: etc/xensource-inventory (inode 20): %w", extfs.ErrCorrupt), xerr.ExitInvalid},
		{&fs.PathError{Op: "read", Path: "/tmp/xsrescue-mnt-1/var/xapi/state.db", Err: syscall.EUCLEAN}, xerr.ExitInvalid},
		{&fs.PathError{Op: "open", Path: "etc/loop", Err: syscall.ELOOP}, xerr.ExitInvalid},
		{&fs.PathError{Op: "read", Path: "/dev/sda", Err: syscall.EIO}, xerr.ExitFailed},
		{xerr.Refused(fmt.Errorf("mounted: %w", syscall.EUCLEAN)), xerr.ExitRefused},
		{errors.New("internal error"), xerr.ExitFailed},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
