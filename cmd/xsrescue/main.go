// Command xsrescue repairs offline XenServer, AIX, Solaris and Xen-guest
// disks and metadata. See README.md and docs/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A closed pipe (xsrescue … | head) must surface as a write error, so the
	// command returns and its deferred unmount and loop detach still run.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
