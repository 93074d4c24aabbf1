// Command xsrescue repairs offline XenServer, AIX, Solaris and Xen-guest
// disks and metadata. See README.md and docs/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/xsrescue/xsrescue/target"
)

func main() {
	// A closed pipe (xsrescue … | head) must surface as a write error, so the
	// command returns and its deferred unmount and loop detach still run.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	onSignals(cancel)
	os.Exit(run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// interruptedBy is the first SIGINT or SIGTERM this process got (0: none):
// a command it cut short exits 128+signal (130, 143), as shells report.
var interruptedBy atomic.Int32

// onSignals handles SIGINT and SIGTERM. The first cancels ctx: the command
// stops at its next check, rolls back what it had begun and releases its
// mounts and locks on the way out. A second one exits at once (130 or 143)
// after detaching what it can (ReleaseNow): a command stuck in a system
// call never holds the user hostage.
func onSignals(cancel context.CancelFunc) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := (<-ch).(syscall.Signal)
		interruptedBy.Store(int32(s))
		cancel()
		fmt.Fprintf(os.Stderr, "xsrescue: %s: stopping and rolling back (send it again to exit at once)\n", s)
		s = (<-ch).(syscall.Signal)
		target.ReleaseNow()
		fmt.Fprintf(os.Stderr, "xsrescue: %s again: exiting at once; run xsrescue journal recover if an op was being applied\n", s)
		os.Exit(128 + int(s))
	}()
}
