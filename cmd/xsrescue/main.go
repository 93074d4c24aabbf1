// Command xsrescue repairs offline XenServer, AIX, Solaris and Xen-guest
// disks and metadata. See README.md and docs/.
//
// The package is the command layer only: app.go builds the command tree
// and turns an error into its exit code and message, env.go is what every
// command is given (streams, global flags, the output helpers), mutate.go
// the flow of every change. Each command group has cmd_<group>.go (its
// flags parsed into an options struct, and runX(ctx, env, opts, args):
// one call into the domain package) and render_<group>.go (its JSON
// documents and their text renderings). docs/dev/architecture.md has the
// layers.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/ansiblemod"
	"github.com/xsrescue/xsrescue/target"
)

func main() {
	if len(os.Args) > 0 {
		if name, ok := ansiblemod.ModuleName(os.Args[0]); ok {
			os.Exit(ansibleModule(name))
		}
	}
	os.Exit(mainWith(nil))
}

// ansibleModule runs the binary as the Ansible module name (started as
// AnsiballZ_<name> ARGSFILE): each xsrescue command the module needs runs
// in this process, through the same command tree, and the module prints
// the one result Ansible reads.
func ansibleModule(name string) int {
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	onSignals(cancel)
	run := func(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
		p := program{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}
		return p.run(ctx, argv)
	}
	return ansiblemod.Main(ctx, name, os.Args[1:], run, os.Stdout)
}

// rollingBack counts the raw writes under way that roll back by themselves
// when stopped (partition restores): see onSignals.
var rollingBack atomic.Int32

// mainWith is main with commands beyond the built-in ones (the test binary
// adds hidden ones): it returns the exit code.
func mainWith(extra []commandFunc) int {
	// A closed pipe (xsrescue … | head) must surface as a write error, so the
	// command returns and its deferred unmount and loop detach still run.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	sig := onSignals(cancel)
	p := program{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, extra: extra,
		interrupted: func() int { return int(sig.Load()) }}
	return p.run(ctx, os.Args)
}

// onSignals handles SIGINT and SIGTERM. The first cancels ctx: the command
// stops at its next check, rolls back what it had begun and releases its
// mounts and locks on the way out. A second one exits at once (130 or 143)
// after detaching what it can (ReleaseNow): a command stuck in a system
// call never holds the user hostage. It returns the first signal's number
// (0 until one came): a command it cut short exits 128+signal (130, 143),
// as shells report.
//
// While rollingBack is above zero (a partition restore, which rolls its
// blocks back when stopped), a second signal does not exit: the rollback is
// what makes stopping safe.
func onSignals(cancel context.CancelFunc) *atomic.Int32 {
	var first atomic.Int32
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := (<-ch).(syscall.Signal)
		first.Store(int32(s))
		cancel()
		fmt.Fprintf(os.Stderr, "xsrescue: %s: stopping and rolling back (send it again to exit at once)\n", s)
		s = (<-ch).(syscall.Signal)
		for rollingBack.Load() > 0 {
			fmt.Fprintf(os.Stderr, "xsrescue: %s again: the partition restore is being rolled back; exiting now would leave it half restored, so this waits for the rollback\n", s)
			s = (<-ch).(syscall.Signal)
		}
		target.ReleaseNow()
		fmt.Fprintf(os.Stderr, "xsrescue: %s again: exiting at once; run xsrescue journal recover if an op was being applied\n", s)
		os.Exit(128 + int(s))
	}()
	return &first
}
