package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
	"github.com/xsrescue/xsrescue/internal/safego"
)

// version is the one version of the program and its man page (the .TH
// line of docs/xsrescue.8): raised here for a release, never set by the
// build. scripts/build.sh sets commit and date with -ldflags "-X
// main.commit=... -X main.date=..."; a plain go build takes the commit from
// the Go toolchain's VCS stamp.
var (
	version = "0.1.0-dev"
	commit  = ""
	date    = ""
)

// versionInfo is what --version prints (with --json: as JSON).
type versionInfo struct {
	SchemaVersion int    `json:"schema_version"`
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	Date          string `json:"date"`
	Go            string `json:"go"`
	Platform      string `json:"platform"`
}

func buildInfo() versionInfo {
	v := versionInfo{SchemaVersion: schemaVersion, Version: version, Commit: commit, Date: date,
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && v.Commit == "":
				v.Commit = s.Value
			case s.Key == "vcs.time" && v.Date == "":
				v.Date = s.Value
			case s.Key == "vcs.modified" && s.Value == "true" && !strings.HasSuffix(v.Commit, "-dirty") && v.Commit != "":
				v.Commit += "-dirty"
			}
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.Date == "" {
		v.Date = "unknown"
	}
	return v
}

// printVersion is --version: one line, or the JSON document with --json.
func printVersion(cmd *cli.Command) {
	v := buildInfo()
	w := cmd.Root().Writer
	if cmd.Bool("json") {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "xsrescue version %s (commit %s, built %s, %s %s)\n", v.Version, v.Commit, v.Date, v.Go, v.Platform)
}

// commandFunc builds a command (or group) for one run. Commands are built
// per run, from the root down: urfave/cli keeps flag values in the flag
// structs, and each command's flags are parsed into an options struct of
// its own, so nothing leaks from one run (or in-process test) to the next.
type commandFunc func(*env) *cli.Command

// commandGroups are the command groups, in the order of --help.
func init() {
	// -v is --verbose, as in most Linux tools; --version has no short form.
	cli.VersionPrinter = printVersion
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version, commit, build date and Go version (with --json: as JSON)", HideDefault: true, Local: true}
}

func commandGroups() []commandGroup {
	return []commandGroup{
		{"answerfile", newAnswerfileCommand}, {"demo", newDemoCommand},
		{"disk", newDiskCommand}, {"doctor", newDoctorCommand},
		{"guest", newGuestCommand}, {"journal", newJournalCommand},
		{"man", newManCommand}, {"odm", newODMCommand},
		{"statedb", newStatedbCommand}, {"version", newVersionCommand},
		{"zfs", newZFSCommand}, {"zone", newZoneCommand},
	}
}

// commandGroup is a top-level command by the name it builds (checked by
// TestCommandGroupNames), so a run can build the one it needs.
type commandGroup struct {
	name  string
	build commandFunc
}

const exitHelp = `EXIT STATUS:
   0  success (also "already as requested")
   1  the operation failed
   2  usage error or invalid input (the message names the file and line or offset)
   3  refused for safety, nothing changed (mounted device, drift since an op, data that
      would be lost, another xsrescue holds the target, changed since it was planned)
   4  completed, and problems were found or remain (the report is complete): doctor and
      guest check found a broken finding, guest fix left one, statedb check found a
      reason xapi refuses the database, zone publishers a reason pkg refuses the image,
      zone restore-etc a path it could not restore
   141  stdout was closed by its reader (| head): ends quietly, as coreutils do
   130, 143  cut short by Ctrl-C or SIGTERM (a second one exits at once)
`

// exitPipe is the exit status of a command whose stdout reader went away:
// 128+SIGPIPE, what a shell reports for coreutils' `seq 1 1000000 | head -1`.
const exitPipe = 128 + int(syscall.SIGPIPE)

// program is one run of xsrescue: its streams, commands beyond the
// built-in ones (the tests add hidden ones), and which signal cut it
// short (0: none; set by main's signal handler).
type program struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	extra          []commandFunc
	interrupted    func() int
}

// run runs argv and returns the exit code. A command's error ends as one
// line on stderr and, under --json, as the error document on stdout —
// unless the command printed its own document already (the error is then
// in it, or beside it). A panic is exit 1 with one line: never a Go stack.
func (p program) run(ctx context.Context, argv []string) int {
	e := newEnv(p.stdin, p.stdout, p.stderr)
	err := runApp(ctx, newApp(e, p.extra, argv...), argv)
	if e.stdoutClosed() {
		// The reader of stdout went away (| head): nobody reads the rest,
		// nor an error document. End as coreutils do when SIGPIPE kills
		// them: no message, 128+SIGPIPE (docs/exit-codes.md). The command
		// returned first, so its unmounts and lock releases ran.
		return exitPipe
	}
	if err == nil {
		return 0
	}
	if !e.started && !errors.Is(err, safego.ErrPanic) {
		// What fails before a command's action ran is the command line:
		// the CLI library's parse errors, unknown flags and commands.
		err = usage(err)
	}
	code := exitCode(err)
	if p.interrupted != nil && p.interrupted() != 0 {
		code = 128 + p.interrupted() // cut short by Ctrl-C (130) or SIGTERM (143)
	}
	if ctx.Err() != nil && strings.Contains(err.Error(), context.Canceled.Error()) {
		// Ctrl-C or SIGTERM: what was cut short says "context canceled".
		err = errors.New(strings.ReplaceAll(err.Error(), context.Canceled.Error(), "interrupted"))
	}
	if jsonRequested(argv) && !e.emitted {
		_ = e.writeJSON(errorDoc{Error: errorInfoCode(err, code)})
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "xsrescue:") && !strings.HasPrefix(msg, "xsrescue ") {
		msg = "xsrescue: " + msg // usage errors already start with the command's name
	}
	fmt.Fprintln(p.stderr, msg)
	return code
}

// runApp runs the command tree, turning a panic into an error. Deferred
// cleanups of the command (unmount, lock release) have run by then: the
// panic unwound through them.
func runApp(ctx context.Context, app *cli.Command, argv []string) (err error) {
	defer safego.Recover(&err)
	return app.Run(ctx, argv)
}

// newApp builds the command tree for one run: the global flags parsed into
// e, every command group, and the commands of extra. Given the command line
// (argv), a run whose first argument names a group gets that group alone:
// nothing outside it can run or be suggested then, and setting up the
// whole tree (help flags, examples, checks on every command) is most of a
// short command's start-up (docs/disk.md, "Speed").
func newApp(e *env, extra []commandFunc, argv ...string) *cli.Command {
	var cmds []*cli.Command
	only := groupNamed(argv)
	for _, g := range commandGroups() {
		if only == "" || g.name == only {
			cmds = append(cmds, g.build(e))
		}
	}
	for _, build := range extra {
		cmds = append(cmds, build(e))
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
		Flags:                 e.globalOptions.flags(),
		Commands:              cmds,
		Reader:                e.stdin,
		Writer:                e.stdout,
		ErrWriter:             e.stderr,
		EnableShellCompletion: true, // xsrescue completion bash|zsh|fish
		Suggest:               true,
		// Errors are rendered once, by run; the library must not exit the process.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	e.wrapActions(app)
	markUsageErrors(app)
	addExamples(app, app.Name)
	return app
}

// groupNamed is the group argv's first argument names ("" for none), if
// that group runs on its own: demo runs the other commands, so it needs
// the whole tree.
func groupNamed(argv []string) string {
	if len(argv) < 2 || argv[1] == "demo" {
		return ""
	}
	for _, g := range commandGroups() {
		if g.name == argv[1] {
			return g.name
		}
	}
	return ""
}

// markUsageErrors makes every flag-parsing failure anywhere in the tree a
// usage error with a message a user can act on, so an unknown flag exits 2
// and is never taken as an argument; a group given an unknown command is
// one too.
func markUsageErrors(c *cli.Command) {
	c.OnUsageError = func(_ context.Context, cmd *cli.Command, err error, _ bool) error {
		return usage(explainUsage(cmd, err))
	}
	if c.Action == nil && len(c.Commands) > 0 {
		c.Action = func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				typed := cmd.Args().First()
				if near := nearestCommand(cmd, typed); near != "" {
					return usagef("%s: unknown command %q: did you mean %q? (see '%s --help')", cmd.FullName(), typed, near, cmd.FullName())
				}
				return usagef("%s: unknown command %q (see '%s --help')", cmd.FullName(), typed, cmd.FullName())
			}
			return cli.ShowSubcommandHelp(cmd)
		}
	}
	for _, sub := range c.Commands {
		markUsageErrors(sub)
	}
}

// nearestCommand is the visible subcommand of c closest to a mistyped name
// (at most two edits: inpsect -> inspect), or "" when none is that close.
func nearestCommand(c *cli.Command, typed string) string {
	best, bestD := "", 3
	for _, sub := range c.VisibleCommands() {
		for _, name := range append([]string{sub.Name}, sub.Aliases...) {
			if d := editDistance(typed, name); d < bestD {
				best, bestD = sub.Name, d
			}
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment: a swap of two neighbours is one edit).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// explainUsage rewrites the flag package's terse messages ("flag provided
// but not defined: -bogus") into what a user can act on, with the flag
// they probably meant (urfave/cli suggests commands only).
func explainUsage(cmd *cli.Command, err error) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	if i := strings.Index(msg, undefined); i >= 0 {
		name := strings.TrimLeft(msg[i+len(undefined):], "-")
		near := ""
		if n := nearestFlag(cmd, name); n != "" {
			near = ": did you mean --" + n + "?"
		}
		return fmt.Errorf("%s: unknown flag %s%s (see '%s --help')", cmd.FullName(), flagDashes(name), near, cmd.FullName())
	}
	return fmt.Errorf("%s: %w (see '%s --help')", cmd.FullName(), err, cmd.FullName())
}

// flagDashes is name as it is written on a command line: -n, --dry-run.
func flagDashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// nearestFlag is the visible flag of cmd, its own or a global one, closest
// to a mistyped name (at most two edits: dryrun -> dry-run, yse -> yes),
// or "" when none is that close. One-letter names take no part: every
// letter is one edit from every other.
func nearestFlag(cmd *cli.Command, typed string) string {
	if len(typed) < 2 {
		return ""
	}
	best, bestD := "", 3
	for _, f := range append(cmd.VisibleFlags(), cmd.VisiblePersistentFlags()...) {
		for _, name := range f.Names() {
			if d := editDistance(typed, name); len(name) > 1 && d < bestD {
				best, bestD = name, d
			}
		}
	}
	return best
}

// renamedFlag is the hidden old name of the string flag now, kept so that
// scripts go on working: it sets the same destination and says on stderr
// that it is deprecated. Both names at once is a usage error naming both.
func renamedFlag(e *env, old, now string, dest *string) cli.Flag {
	return &cli.StringFlag{Name: old, Hidden: true, Destination: dest,
		Action: func(_ context.Context, cmd *cli.Command, _ string) error {
			if cmd.IsSet(now) {
				return usagef("%s: --%s and --%s are the same flag (--%s is its old name): give one", cmd.FullName(), now, old, old)
			}
			e.logf("xsrescue: note: --%s is deprecated, use --%s", old, now)
			return nil
		}}
}

// action is a command's action: its positional arguments checked (min to
// max of them; max -1: no limit), then run with them.
func action(min, max int, run func(ctx context.Context, args []string) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		a, err := args(cmd, min, max)
		if err != nil {
			return err
		}
		return run(ctx, a)
	}
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
		return nil, usagef("%s: expected %s argument(s), got %d (usage: %s %s)", cmd.FullName(), want, len(a), cmd.FullName(), cmd.ArgsUsage)
	}
	return a, nil
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
