package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/flock"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// globalOptions are the flags every command accepts, anywhere on the line
// (`xsrescue disk inspect IMG --json`).
type globalOptions struct {
	JSON    bool          // --json: exactly one JSON document on stdout
	DryRun  bool          // --dry-run, -n: show the plan, write nothing
	Yes     bool          // --yes, -y: no confirmation prompt
	Journal string        // --journal, $XSRESCUE_JOURNAL ("": inside the target root)
	Wait    time.Duration // --wait, $XSRESCUE_WAIT: for another xsrescue holding the target or journal
	Quiet   bool          // --quiet, -q: no notes or progress on stderr, only errors
	Verbose bool          // --verbose, -v: also say how the target and journal were opened
}

func (g *globalOptions) flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Destination: &g.JSON, Usage: "print exactly one JSON document on stdout (logs go to stderr)"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &g.DryRun, Usage: "show what a mutating command would change (as a diff) and touch nothing, not even the journal"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Destination: &g.Yes, Usage: "do not ask for confirmation before a mutation (required when stdin is not a terminal)"},
		&cli.StringFlag{Name: "journal", Destination: &g.Journal, Usage: "journal database `PATH` (default: var/lib/xsrescue/journal.db inside the target root)", Sources: cli.EnvVars("XSRESCUE_JOURNAL")},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Destination: &g.Quiet, Usage: "print nothing on stderr but errors (no notes, no progress)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Destination: &g.Verbose, Usage: "also say on stderr how the target and the journal were opened (-v is no longer --version)"},
		&cli.DurationFlag{Name: "wait", Value: flock.DefaultWait, Destination: &g.Wait, Usage: "how long a mutating command waits for another xsrescue changing the same target (or journal) before it refuses, naming it (`DURATION`, e.g. 30s, 2m; 0: do not wait)", Sources: cli.EnvVars("XSRESCUE_WAIT")},
	}
}

// env is what every command is given: the streams, the global flags, and
// what this run did so far. One per run.
type env struct {
	globalOptions
	stdin          io.Reader
	stdout, stderr io.Writer

	// argv is the command line as it can be run again (recordedArgv),
	// recorded with every op.
	argv []string
	// applied are the ops this command applied, oldest first: a later
	// failure says how to undo them.
	applied []*plan.Result
	// mut is the mutation document's common part as the command built it.
	mut mutation
	// started: a command's action began; an error before that is the
	// command line's.
	started bool
	// emitted: the command printed its JSON document; an error after that
	// is inside it (or beside it), never a second document.
	emitted bool
	// mounts are the partitions of the disk the command read that are
	// mounted right now (noteMounts): said first in its output, and a
	// read-write one makes a read-only command exit 4.
	mounts      []partition.Mount
	mountsShown bool
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{stdin: stdin, stdout: &pipeWriter{w: stdout}, stderr: stderr}
}

// pipeWriter is stdout, noting that the reader went away (EPIPE: `xsrescue
// disk inspect IMG | head -1`): the command then ends as coreutils end,
// quietly, exit 141 (run).
type pipeWriter struct {
	w      io.Writer
	closed bool
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.closed = true
	}
	return n, err
}

// stdoutClosed reports whether a write to stdout found its reader gone.
func (e *env) stdoutClosed() bool {
	p, ok := e.stdout.(*pipeWriter)
	return ok && p.closed
}

// wrapActions makes every command's action note that it started and the
// command line to record.
func (e *env) wrapActions(c *cli.Command) {
	if act := c.Action; act != nil {
		c.Action = func(ctx context.Context, cmd *cli.Command) error {
			e.started, e.argv = true, recordedArgv(cmd)
			if err := e.checkFlags(cmd); err != nil {
				return err
			}
			err := act(ctx, cmd)
			if err == nil {
				return e.mountedProblem()
			}
			if !e.mountsShown {
				// Failed before its output: the mount may be why.
				for _, m := range e.mounts {
					e.logf("WARNING: %s", m)
				}
			}
			return err
		}
	}
	for _, sub := range c.Commands {
		e.wrapActions(sub)
	}
}

// checkFlags refuses (exit 2) values every command would misread: a
// partition number below 1 (partitions are numbered from 1; 0 read as
// "the default"), a negative --wait, --quiet with --verbose.
func (e *env) checkFlags(cmd *cli.Command) error {
	if cmd.IsSet("partition") {
		if n := cmd.Int("partition"); n < 1 {
			return usagef("%s: --partition %d: partitions are numbered from 1 (leave it out for the default)", cmd.FullName(), n)
		}
	}
	if e.Wait < 0 {
		return usagef("%s: --wait %s: give a duration of 0 or more (0: do not wait)", cmd.FullName(), e.Wait)
	}
	if e.Quiet && e.Verbose {
		return usagef("%s: --quiet and --verbose contradict each other: give one", cmd.FullName())
	}
	return nil
}

// emit prints doc as one indented JSON document when --json is set, and
// calls text otherwise (text nil: nothing more to say).
func (e *env) emit(doc any, text func(w io.Writer) error) error {
	_, mutation := doc.(*mutationDoc)
	e.mountsShown = true
	if e.JSON {
		e.emitted = true
		if len(e.mounts) > 0 && !mutation {
			for _, m := range e.mounts {
				e.logf("WARNING: %s", m)
			}
			return e.writeJSON(withMounts{doc, e.mounts})
		}
		return e.writeJSON(doc)
	}
	if text == nil {
		return nil
	}
	for _, m := range e.mounts {
		fmt.Fprintf(e.stdout, "WARNING: %s\n\n", m)
	}
	return text(e.stdout)
}

// withMounts is a read-only command's document with "mounted" (the
// partitions mounted while it read them, docs/json.md) after
// schema_version.
type withMounts struct {
	doc    any
	mounts []partition.Mount
}

func (w withMounts) MarshalJSON() ([]byte, error) {
	b, err := marshalPlain(w.doc)
	if err != nil || len(b) < 2 || b[0] != '{' {
		return b, err
	}
	m, err := marshalPlain(w.mounts)
	if err != nil {
		return nil, err
	}
	sep := ","
	if string(b) == "{}" {
		sep = ""
	}
	return append(append([]byte(`{"mounted":`), m...), append([]byte(sep), b[1:]...)...), nil
}

// marshalPlain is json.Marshal without HTML escaping, as writeJSON writes.
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSpace(buf.Bytes()), err
}

// noteMounts records the mounted partitions of the disk a read-only
// command reads (partition.Disk.Mounts, target.Target.Mount), once each.
func (e *env) noteMounts(ms ...partition.Mount) {
	for _, m := range ms {
		if !slices.Contains(e.mounts, m) {
			e.mounts = append(e.mounts, m)
		}
	}
}

// mountedRW is the first partition noted mounted read-write, or nil.
func (e *env) mountedRW() *partition.Mount {
	for i := range e.mounts {
		if e.mounts[i].ReadWrite {
			return &e.mounts[i]
		}
	}
	return nil
}

// mountedProblem is exit 4 for a read-only command that read a partition
// mounted read-write: it completed, but what it read may be stale, so its
// answers about that partition's files are unknown (docs/exit-codes.md).
func (e *env) mountedProblem() error {
	var rw []string
	for _, m := range e.mounts {
		if m.ReadWrite {
			rw = append(rw, fmt.Sprintf("partition %d is mounted read-write on %s", m.Partition, m.Point))
		}
	}
	if len(rw) == 0 {
		return nil
	}
	return xerr.Problems(fmt.Errorf("%s: what was read from it may be stale, so its answers are unknown; unmount it and run the command again", strings.Join(rw, ", ")))
}

// writeJSON prints doc indented, with "schema_version" first in it
// (every document carries it; docs/json.md).
func (e *env) writeJSON(doc any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	b := bytes.TrimSpace(buf.Bytes())
	if len(b) > 1 && b[0] == '{' && !bytes.HasPrefix(b, []byte(`{"schema_version":`)) {
		rest := b[1:]
		sep := ","
		if len(rest) == 1 { // {}
			sep = ""
		}
		b = append([]byte(fmt.Sprintf(`{"schema_version":%d%s`, schemaVersion, sep)), rest...)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := e.stdout.Write(out.Bytes())
	return err
}

// logf writes a progress or log line to stderr (never to stdout, which may
// carry JSON).
func (e *env) logf(format string, args ...any) {
	if e.Quiet {
		return
	}
	fmt.Fprintf(e.stderr, format+"\n", args...)
}

// verbosef is a log line for --verbose only.
func (e *env) verbosef(format string, args ...any) {
	if e.Verbose {
		fmt.Fprintf(e.stderr, "xsrescue: "+format+"\n", args...)
	}
}

// text is where a command's text output goes: stdout, or nowhere under
// --json (the document carries it).
func (e *env) text() io.Writer {
	if e.JSON {
		return io.Discard
	}
	return e.stdout
}

// confirm asks on the terminal. Without one (a pipe, /dev/null, kickstart
// %pre) nobody can answer: it refuses (exit 3) before asking. Ctrl-C at
// the prompt is a refusal too.
func (e *env) confirm(ctx context.Context, question string) error {
	if !isTerminal(e.stdin) {
		return xerr.Refusedf("stdin is not a terminal: add --yes to apply (or --dry-run to preview); nothing was changed")
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return nil
		}
		return xerr.Refusedf("not confirmed: nothing was changed")
	case <-ctx.Done():
		fmt.Fprintln(e.stderr)
		return xerr.Refusedf("interrupted at the prompt: nothing was changed")
	}
}

// isTerminal asks the tty driver: a character device such as /dev/null is
// not a terminal, so it gets no prompt and no progress bar.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS)
	return err == nil
}

// progress is a progress bar on stderr for work of total bytes (-1:
// unknown) when stderr is a terminal and --json is off, else nil (which
// does nothing).
func (e *env) progress(what string, total int64) *progressBar {
	if e.JSON || e.Quiet || !isTerminal(e.stderr) {
		return nil
	}
	return startProgress(e.stderr, what, total, time.Now)
}

// lockOptions are --wait for the target lock.
func (e *env) lockOptions() *target.LockOptions {
	return &target.LockOptions{Wait: e.Wait}
}

// openTarget opens a target for reading. A read-only --disk open of an
// ext2/3/4 partition reads it in-process (no mount), which never replays a
// dirty journal; xfs and vfat are mounted ro,norecovery and ro. What the
// user must know about the open goes to stderr: a dirty filesystem journal
// that applying (a read-write mount) will replay is said before anything
// is confirmed.
func (e *env) openTarget(ctx context.Context, o target.Options) (*target.Target, error) {
	tgt, err := target.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	how := "read-only"
	if o.Writable {
		how = "writable"
	}
	e.verbosef("opened %s %s (identity %s)", tgt.Name(), how, tgt.Identity)
	for _, n := range tgt.Notes {
		e.logf("note: %s", n)
	}
	if tgt.Mount != nil {
		e.noteMounts(*tgt.Mount)
	}
	if !o.Writable && tgt.NeedsRecovery && (e.DryRun || o.Lock != nil) {
		if tgt.Mount != nil {
			// The mount's own journal, not an unclean shutdown's:
			// nothing for applying to replay (it refuses a mounted
			// partition), as disk inspect and doctor say.
			e.logf("note: partition %d: %s", tgt.Partition, tgt.Mount.JournalInUse())
			return tgt, nil
		}
		e.logf("note: partition %d has a dirty filesystem journal: read with its committed transactions replayed in memory (what the mount will show); applying mounts it read-write and the kernel replays it for real (writes to the disk)", tgt.Partition)
	}
	return tgt, nil
}

// openForChange opens the target a mutating command plans on: read-only,
// holding the target's writer lock (--wait) from now until it is closed, so
// that nobody else changes it between the plan and its apply. apply
// reopens it writable once the plan is confirmed. A dry run takes no lock:
// like any read-only command it writes nothing anywhere, not even a lock
// file.
func (e *env) openForChange(ctx context.Context, o target.Options) (*target.Target, error) {
	if o.Disk != "" && !e.DryRun && os.Geteuid() != 0 {
		// Applying to a partition of --disk attaches a loop device and
		// writes through the kernel, which only root may do: say so before
		// anything is planned or confirmed, not after (acceptance round 13:
		// "open /dev/loop-control: permission denied", exit 1). A dry run
		// needs nothing of the kind.
		return nil, xerr.Refusedf("changing a partition of --disk %s needs root (a loop device and a read-write filesystem): run it as root, or add --dry-run to see the plan; nothing was changed", o.Disk)
	}
	o.Writable = false
	if !e.DryRun {
		o.Lock = e.lockOptions()
	}
	return e.openTarget(ctx, o)
}

// recordedArgv rebuilds the command line for the journal record so that it
// can be run again: command path, every flag that was set (a list flag once
// per value, as --name=value), then the arguments.
func recordedArgv(cmd *cli.Command) []string {
	argv := cmd.Path()
	seen := map[string]bool{}
	lineage := cmd.Lineage()
	slices.Reverse(lineage)
	for _, c := range lineage {
		for _, f := range c.Flags {
			name := f.Names()[0]
			if seen[name] || !cmd.IsSet(name) {
				continue
			}
			seen[name] = true
			v := cmd.Value(name)
			if b, ok := v.(bool); ok {
				if b {
					argv = append(argv, "--"+name)
				}
				continue
			}
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Slice {
				argv = append(argv, fmt.Sprintf("--%s=%v", name, v))
				continue
			}
			for i := range rv.Len() {
				argv = append(argv, fmt.Sprintf("--%s=%v", name, rv.Index(i).Interface()))
			}
		}
	}
	return append(argv, cmd.Args().Slice()...)
}
