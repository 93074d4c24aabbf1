package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/flock"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// commands holds a constructor for every command group; each group's file
// registers itself from init, so adding a group never touches this file.
// Constructors, not values: urfave/cli keeps flag values inside the command
// and flag structs, so every run (and every in-process test) gets a fresh
// tree and nothing leaks from one run into the next.
var (
	commands   []func() *cli.Command
	extensions = map[string][]func() []*cli.Command{}
)

func register(c func() *cli.Command) { commands = append(commands, c) }

// extend adds subcommands to the group named group, from another file.
func extend(group string, subs func() []*cli.Command) {
	extensions[group] = append(extensions[group], subs)
}

const exitHelp = `EXIT STATUS:
   0  success (also "already as requested")
   1  the operation failed
   2  usage error or invalid input (the message names the file and line or offset)
   3  refused for safety, nothing changed (mounted device, drift since an op, data that
      would be lost, another xsrescue holds the target, changed since it was planned)
   4  completed, and problems were found or remain (the report is complete)
   130, 143  cut short by Ctrl-C or SIGTERM (a second one exits at once)
`

// globalFlags are persistent: accepted before or after the command and its
// arguments (`xsrescue disk inspect IMG --json`). Built per app because flag
// values live in the flag structs, so concurrent runs must not share them.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print exactly one JSON document on stdout (logs go to stderr)"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "show what a mutating command would change (as a diff) and touch nothing, not even the journal"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation before a mutation (required when stdin is not a terminal)"},
		&cli.StringFlag{Name: "journal", Usage: "journal database `PATH` (default: var/lib/xsrescue/journal.db inside the target root)", Sources: cli.EnvVars("XSRESCUE_JOURNAL")},
		&cli.DurationFlag{Name: "wait", Value: flock.DefaultWait, Usage: "how long a mutating command waits for another xsrescue changing the same target (or journal) before it refuses, naming it (`DURATION`, e.g. 30s, 2m; 0: do not wait)", Sources: cli.EnvVars("XSRESCUE_WAIT")},
	}
}

// usageError marks a command-line mistake (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.Command {
	cmds := make([]*cli.Command, 0, len(commands))
	for _, build := range commands {
		c := build()
		for _, subs := range extensions[c.Name] {
			c.Commands = append(c.Commands, subs()...)
		}
		cmds = append(cmds, c)
	}
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	app := &cli.Command{
		Name:    "xsrescue",
		Usage:   "offline disk and metadata repair for XenServer, AIX, Solaris and Xen guests",
		Version: version,
		Description: "Run it from a live USB or a kickstart %pre against a machine whose own OS is not running.\n" +
			"Read-only commands never write a byte. Every mutation is planned, shown as a diff,\n" +
			"snapshotted into the journal, applied atomically, verified, and can be undone\n" +
			"(xsrescue journal undo OP).\n\n" + exitHelp,
		Flags:                 globalFlags(),
		Commands:              cmds,
		Reader:                stdin,
		Writer:                stdout,
		ErrWriter:             stderr,
		EnableShellCompletion: false,
		Suggest:               true,
		// Errors are rendered once, by run; the library must not exit the process.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	markUsageErrors(app)
	return app
}

// markUsageErrors makes every flag-parsing failure anywhere in the tree a
// usage error, so an unknown flag exits 2 and is never taken as an argument.
func markUsageErrors(c *cli.Command) {
	c.OnUsageError = func(_ context.Context, cmd *cli.Command, err error, _ bool) error {
		return usageError{explainUsage(cmd, err)}
	}
	if c.Action == nil && len(c.Commands) > 0 {
		c.Action = func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usageError{fmt.Errorf("%s: unknown command %q (see '%s --help')", cmd.FullName(), cmd.Args().First(), cmd.FullName())}
			}
			return cli.ShowSubcommandHelp(cmd)
		}
	}
	for _, sub := range c.Commands {
		markUsageErrors(sub)
	}
}

// explainUsage rewrites the flag package's terse messages ("flag provided
// but not defined: -bogus") into what a user can act on.
func explainUsage(cmd *cli.Command, err error) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	if i := strings.Index(msg, undefined); i >= 0 {
		name := strings.TrimLeft(msg[i+len(undefined):], "-")
		dashes := "--"
		if len(name) == 1 {
			dashes = "-"
		}
		return fmt.Errorf("%s: unknown flag %s%s (see '%s --help')", cmd.FullName(), dashes, name, cmd.FullName())
	}
	return fmt.Errorf("%s: %w (see '%s --help')", cmd.FullName(), err, cmd.FullName())
}

// reportedError is an error whose command already printed its one JSON
// document (with the error inside); run must not print a second one.
type reportedError struct{ err error }

func (r reportedError) Error() string { return r.err.Error() }
func (r reportedError) Unwrap() error { return r.err }

// alreadyReported marks err as carried by the document the command printed.
func alreadyReported(err error) error {
	if err == nil {
		return nil
	}
	return reportedError{err}
}

// run is main without the process: testable with any argv and writers.
// A panic anywhere in the command becomes exit 1 with a one-line message
// (and, under --json, the error document): never a Go stack for the user.
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := runApp(ctx, argv, stdin, stdout, stderr)
	if err == nil {
		return xerr.ExitOK
	}
	code := exitCode(err)
	if sig := interruptedBy.Load(); sig != 0 {
		code = 128 + int(sig) // cut short by Ctrl-C (130) or SIGTERM (143)
	}
	if ctx.Err() != nil && strings.Contains(err.Error(), context.Canceled.Error()) {
		// Ctrl-C or SIGTERM: what was cut short says "context canceled".
		err = errors.New(strings.ReplaceAll(err.Error(), context.Canceled.Error(), "interrupted"))
	}
	var rep reportedError
	if jsonRequested(argv) && !errors.As(err, &rep) {
		doc := map[string]any{"error": map[string]any{"message": err.Error(), "exit_code": code}}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(doc)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "xsrescue:") && !strings.HasPrefix(msg, "xsrescue ") {
		msg = "xsrescue: " + msg // usage errors already start with the command's name
	}
	fmt.Fprintln(stderr, msg)
	return code
}

// errPanic is what a recovered panic becomes.
var errPanic = errors.New("internal error")

// runApp runs the command tree, turning a panic into an error. Deferred
// cleanups of the command (unmount, lock release) have run by then: the
// panic unwound through them.
func runApp(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v (a bug in xsrescue; please report it with the command line)", errPanic, oneLine(fmt.Sprint(r)))
		}
	}()
	return newApp(stdin, stdout, stderr).Run(ctx, argv)
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return xerr.ExitInvalid
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if isFlagError(err) {
		return xerr.ExitInvalid
	}
	code := xerr.Code(err)
	if code == xerr.ExitFailed && (errors.Is(err, target.ErrTooManyLinks) || errors.Is(err, unix.ELOOP)) {
		// A symlink loop in a root (or among the paths given) is bad
		// input, whichever command ran into it.
		return xerr.ExitInvalid
	}
	return code
}

// isFlagError recognises the parse errors urfave/cli returns without going
// through OnUsageError (for example a missing flag value at the root).
func isFlagError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"flag provided but not defined", "flag needs an argument", "invalid value", "Required flag", "Required flags"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// jsonRequested looks for --json before "--" so that errors raised before the
// flags were parsed are still rendered as JSON.
func jsonRequested(argv []string) bool {
	for _, a := range argv[1:] {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "-json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// out bundles what a command needs to render its result.
type out struct {
	cmd  *cli.Command
	JSON bool
}

func output(cmd *cli.Command) out { return out{cmd: cmd, JSON: cmd.Bool("json")} }

// Stdout and Stderr are the writers given to the app (os.Stdout/os.Stderr in main).
func (o out) Stdout() io.Writer { return o.cmd.Root().Writer }
func (o out) Stderr() io.Writer { return o.cmd.Root().ErrWriter }

// Emit prints doc as one indented JSON document when --json is set, and calls
// text otherwise.
func (o out) Emit(doc any, text func(w io.Writer) error) error {
	if o.JSON {
		enc := json.NewEncoder(o.Stdout())
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(doc)
	}
	return text(o.Stdout())
}

// Logf writes a progress or log line to stderr (never to stdout, which may
// carry JSON).
func (o out) Logf(format string, args ...any) {
	fmt.Fprintf(o.Stderr(), format+"\n", args...)
}

// args checks the positional argument count and returns them.
func args(cmd *cli.Command, min, max int) ([]string, error) {
	a := cmd.Args().Slice()
	if len(a) < min || (max >= 0 && len(a) > max) {
		want := fmt.Sprintf("%d", min)
		switch {
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		case max != min:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return nil, usageError{fmt.Errorf("%s: expected %s argument(s), got %d (usage: %s %s)", cmd.FullName(), want, len(a), cmd.FullName(), cmd.ArgsUsage)}
	}
	return a, nil
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

// writeNewFile streams write into the new file path, or to stdout for "-",
// and returns the byte count and sha256 of what was written. The content
// goes to a hidden file beside path first (.NAME.xsrescue-partial), is
// fsynced, and only then takes its name with a rename that refuses to
// replace anything (RENAME_NOREPLACE): an existing path is refused (exit 3,
// nothing is overwritten), and a failure, Ctrl-C or even a kill never leaves
// a partial file under the name. A partial file left by a kill is named so.
func writeNewFile(ctx context.Context, cmd *cli.Command, path string, write func(io.Writer) error) (int64, string, error) {
	h := sha256.New()
	if path == "-" {
		cw := &countWriter{ctx: ctx, w: io.MultiWriter(output(cmd).Stdout(), h)}
		if err := write(cw); err != nil {
			return 0, "", fmt.Errorf("write to stdout: %w", err)
		}
		return cw.n, hex.EncodeToString(h.Sum(nil)), nil
	}
	refuse := func() error { return xerr.Refusedf("%s already exists: nothing was written (give a new name)", path) }
	if err := checkNewFile(path); err != nil {
		return 0, "", err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".xsrescue-partial")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return 0, "", fmt.Errorf("write %s: %w (nothing was written)", path, pe.Err)
	}
	if err != nil {
		return 0, "", err
	}
	cw := &countWriter{ctx: ctx, w: io.MultiWriter(f, h)}
	err = write(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) {
			os.Remove(tmp)
			return 0, "", refuse()
		}
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == tmp {
			err = pe.Err // the partial file is gone: name the file asked for
		}
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		return 0, "", fmt.Errorf("write %s: %w (nothing was left there)", path, err)
	}
	return cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkNewFile gives the refusals writeNewFile gives before it writes: an
// existing path (exit 3), a directory that is not there (exit 2). "-" is
// stdout and always fine.
func checkNewFile(path string) error {
	if path == "-" {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return xerr.Refusedf("%s already exists: nothing was written (give a new name)", path)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return xerr.Invalidf("%s: %s is not a directory: nothing was written", path, filepath.Dir(path))
	}
	return nil
}

// countOnly runs write into nothing and returns the byte count and sha256
// of what it produced (what a dry run reports it would write).
func countOnly(ctx context.Context, write func(io.Writer) error) (int64, string, error) {
	h := sha256.New()
	cw := &countWriter{ctx: ctx, w: h}
	if err := write(cw); err != nil {
		return 0, "", err
	}
	return cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// countWriter counts what goes through it and stops the copy once ctx is
// cancelled (Ctrl-C, SIGTERM).
type countWriter struct {
	ctx context.Context
	w   io.Writer
	n   int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
