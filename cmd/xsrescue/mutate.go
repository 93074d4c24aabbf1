package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// applyPlan is the flow every mutating command goes through, on a target
// opened with openForChange (read-only, locked): render the plan as a diff;
// stop there on --dry-run or when the plan is empty ("already as
// requested", exit 0); confirm (TTY prompt or --yes; no TTY and no --yes is
// a refusal, exit 3). Up to here nothing was written anywhere: the target
// is still read-only. Then reopen the target writable (for --disk: the
// read-write mount), open the journal (--journal, $XSRESCUE_JOURNAL, or
// var/lib/xsrescue/journal.db inside the root), and Apply, which first
// checks that every path is still what the plan was made from. It prints
// the op id, the journal path and each change with its hashes. In --json
// mode it prints nothing and the caller embeds the result as "op" in its
// own document. It returns nil, nil for a dry run or an empty plan.
func applyPlan(ctx context.Context, cmd *cli.Command, tgt *target.Target, p *plan.Plan) (*plan.Result, error) {
	return applyPlanWith(ctx, cmd, tgt, p, nil)
}

// applyPlanWith is applyPlan with confirmed, run once the plan is confirmed
// and the target writable, before the journal applies it: for a write
// outside the target that must not happen on a refusal (the ZFS safety
// snapshot of a zone edit). An error from it stops the command.
func applyPlanWith(ctx context.Context, cmd *cli.Command, tgt *target.Target, p *plan.Plan, confirmed func(context.Context) error) (*plan.Result, error) {
	res, err := applyOnePlan(ctx, cmd, tgt, p, confirmed)
	// Some commands apply two or three ops (guest fix and its domain
	// config, odm purge with --out, zone restore-etc): a failure of a later
	// one must not read as if nothing had changed.
	root := cmd.Root()
	if root.Metadata == nil {
		root.Metadata = map[string]any{}
	}
	done, _ := root.Metadata["applied"].([]*plan.Result)
	if err != nil && len(done) > 0 {
		var undo []string
		for i := len(done) - 1; i >= 0; i-- {
			undo = append(undo, done[i].Undo)
		}
		return res, fmt.Errorf("%w; but this command had already applied op(s) before: undo with %s", err, strings.Join(undo, "; then "))
	}
	if res != nil {
		root.Metadata["applied"] = append(done, res)
	}
	return res, err
}

func applyOnePlan(ctx context.Context, cmd *cli.Command, tgt *target.Target, p *plan.Plan, confirmed func(context.Context) error) (*plan.Result, error) {
	o := output(cmd)
	if err := checkNoInterrupted(ctx, cmd, tgt); err != nil {
		return nil, err
	}
	if p.Empty() {
		if !o.JSON {
			fmt.Fprintln(o.Stdout(), "Nothing to change: already as requested.")
		}
		return nil, nil
	}
	diff := o.Stdout()
	if o.JSON {
		diff = io.Discard // still rendered: a plan that cannot apply fails here
	}
	if err := journal.Render(diff, tgt.Root, p); err != nil {
		return nil, err
	}
	if cmd.Bool("dry-run") {
		o.Logf("dry run: nothing was changed (%d change(s) planned on %s)", len(p.Changes), tgt.Name())
		return nil, nil
	}
	if !tgt.Locked() {
		// Every mutating command plans on openForChange's locked target;
		// anything else could lose another xsrescue's edit.
		return nil, fmt.Errorf("internal error: %s was not opened for a change (no lock); nothing was changed", tgt.Name())
	}
	if !cmd.Bool("yes") {
		if err := confirmMutation(ctx, cmd, fmt.Sprintf("Apply %d change(s) to %s?", len(p.Changes), tgt.Name())); err != nil {
			return nil, err
		}
	}
	if err := tgt.Reopen(ctx); err != nil {
		return nil, err
	}
	for _, n := range tgt.Notes {
		o.Logf("note: %s", n)
	}
	tgt.Notes = nil
	if confirmed != nil {
		if err := confirmed(ctx); err != nil {
			return nil, err
		}
	}
	jpath, err := journalPathFor(cmd, tgt, true)
	if err != nil {
		return nil, err
	}
	j, err := openJournal(ctx, cmd, jpath)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	res, err := j.Apply(ctx, tgt, recordedArgv(cmd), p)
	if err != nil {
		if errors.Is(err, journal.ErrChangedSincePlanned) && tgt.NeedsRecovery {
			err = fmt.Errorf("%w (the read-write mount replayed the partition's filesystem journal; the next run plans from the replayed filesystem)", err)
		}
		return res, err
	}
	res.Undo = undoLine(cmd, tgt, res)
	if !o.JSON {
		printOpResult(o.Stdout(), tgt, res, "applied")
		fmt.Fprintf(o.Stdout(), "Undo with: %s\n", res.Undo)
	}
	return res, nil
}

// openJournal opens the journal at path for writing, waiting --wait for
// another xsrescue that writes to it (for another target).
func openJournal(ctx context.Context, cmd *cli.Command, path string) (*journal.Journal, error) {
	return journal.OpenWith(ctx, path, journal.Options{Wait: cmd.Duration("wait")})
}

// checkNoInterrupted refuses any op, even "already as requested", on a
// target whose journal holds an interrupted op: until recover runs, what the
// files say is not what the journal will leave (journal.CheckNoInterrupted).
func checkNoInterrupted(ctx context.Context, cmd *cli.Command, tgt *target.Target) error {
	p, err := journalPathFor(cmd, tgt, false)
	if err != nil {
		return nil // no journal there yet: nothing can be interrupted
	}
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	j, err := journal.OpenReadOnly(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer j.Close()
	return j.CheckNoInterrupted(ctx, tgt)
}

// confirmMutation asks on the terminal. Without one (a pipe, /dev/null,
// kickstart %pre) nobody can answer: it refuses (exit 3) before asking.
// Ctrl-C at the prompt is a refusal too.
func confirmMutation(ctx context.Context, cmd *cli.Command, question string) error {
	in := cmd.Root().Reader
	if !isTerminal(in) {
		return xerr.Refusedf("stdin is not a terminal: add --yes to apply (or --dry-run to preview); nothing was changed")
	}
	fmt.Fprintf(output(cmd).Stderr(), "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
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
		fmt.Fprintln(output(cmd).Stderr())
		return xerr.Refusedf("interrupted at the prompt: nothing was changed")
	}
}

// journalPathFor is --journal / $XSRESCUE_JOURNAL, or the default inside the
// target root (made, with create, through the root).
func journalPathFor(cmd *cli.Command, tgt *target.Target, create bool) (string, error) {
	if p := cmd.String("journal"); p != "" {
		return p, nil
	}
	return journal.DefaultPath(tgt.Root, create)
}

// journalShown names the journal file for messages: for a --disk target the
// path inside the partition and the disk, since the private mount point is
// gone once the command ends.
func journalShown(tgt *target.Target, jpath string) string {
	if tgt == nil || tgt.Disk == "" {
		return jpath
	}
	if rel, ok := tgt.Root.Origin(jpath); ok {
		return fmt.Sprintf("/%s on %s", rel, tgt.Name())
	}
	rel, err := filepath.Rel(tgt.Root.Dir(), jpath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return jpath
	}
	return fmt.Sprintf("/%s on %s", rel, tgt.Name())
}

func printOpResult(w io.Writer, tgt *target.Target, res *plan.Result, what string) {
	fmt.Fprintf(w, "Op %d (%s) %s; journal %s\n", res.Op, res.UUID, what, journalShown(tgt, res.Journal))
	for _, c := range res.Changes {
		fmt.Fprintf(w, "  %s\n", c.Description)
		if c.BeforeSHA256 != "" || c.AfterSHA256 != "" {
			fmt.Fprintf(w, "    sha256 before %s\n    sha256 after  %s\n", hashOrDash(c.BeforeSHA256), hashOrDash(c.AfterSHA256))
		}
	}
}

func hashOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func undoLine(cmd *cli.Command, tgt *target.Target, res *plan.Result) string {
	line := fmt.Sprintf("xsrescue journal undo %d", res.Op)
	switch {
	case tgt.Disk != "":
		line += fmt.Sprintf(" --disk %s --partition %d", quoteShell(tgt.Disk), tgt.Partition)
	default:
		line += " --root " + quoteShell(tgt.Root.Dir())
	}
	if cmd.String("journal") != "" {
		line += " --journal " + quoteShell(res.Journal)
	}
	return line
}

func quoteShell(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
