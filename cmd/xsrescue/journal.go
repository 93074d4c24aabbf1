package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "journal",
			Usage: "list, show, undo, recover and export the ops recorded in the journal",
			Description: "Every mutation xsrescue makes is an op in the journal: an SQLite file, by default\n" +
				"var/lib/xsrescue/journal.db inside the target root (--journal PATH or $XSRESCUE_JOURNAL\n" +
				"put it elsewhere). An op holds the command line, the target's identity, and for each\n" +
				"change the before-image (content, mode, owner, mtime, xattrs, type, device numbers,\n" +
				"link target) and the after-hash. See docs/journal.md.",
			Commands: []*cli.Command{
				{
					Name:      "list",
					Usage:     "every op, oldest first",
					ArgsUsage: " ",
					Description: "Lists the ops of the journal of --root DIR / --disk DEV, or of --journal PATH.\n" +
						"Read-only: never writes a byte.\n\n" + exitHelp,
					Flags:  targetFlags(),
					Action: runJournalList,
				},
				{
					Name:      "show",
					Usage:     "one op with every change and its before/after hashes",
					ArgsUsage: "OP",
					Description: "Shows op OP (its number in 'journal list'): status, command line, target, and each\n" +
						"change with its before-state and after-hash. Read-only: never writes a byte.\n\n" + exitHelp,
					Flags:  targetFlags(),
					Action: runJournalShow,
				},
				{
					Name:      "undo",
					Usage:     "restore every before-image of an op",
					ArgsUsage: "OP",
					Description: "Puts every file the op changed back as it was, byte- and metadata-identical (content,\n" +
						"mode, owner, mtime, xattrs; device nodes recreated with the same type, major, minor;\n" +
						"symlinks with the same target; renames reversed), then verifies it.\n" +
						"The target defaults to the one the op recorded; a target whose identity (filesystem\n" +
						"UUID or directory) differs is refused. If a file changed since the op, undo refuses\n" +
						"and changes nothing, unless --force.\n\n" +
						"WARNING: --force overwrites whatever was changed since the op.\n\n" + exitHelp,
					Flags: append(targetFlags(),
						&cli.BoolFlag{Name: "force", Usage: "restore even files that changed since the op"}),
					Action: runJournalUndo,
				},
				{
					Name:      "recover",
					Usage:     "roll back ops a crash left unfinished",
					ArgsUsage: " ",
					Description: "An op interrupted by a crash or power cut is left 'planned' or 'applying'. recover\n" +
						"rolls each one back, all or nothing: every file the op had already replaced gets its\n" +
						"before-image back, staging files are removed, and the op becomes 'rolled-back'. Run the\n" +
						"original command again afterwards. An undo a crash interrupted is finished instead (the\n" +
						"op becomes 'undone'). While an op is interrupted, new ops on its target are refused.\n" +
						"The target defaults to the one the op recorded.\n" +
						"Staging files no op accounts for (.xsrescue-UUID-N.tmp anywhere in the root, e.g. left\n" +
						"by an op journaled elsewhere) are removed too and reported.\n\n" +
						"A path that is neither as the op left it nor as before (changed since, by hand or\n" +
						"another tool) stops recover (exit 3) with nothing changed; --force restores anyway.\n\n" +
						"WARNING: this writes to the target (only to put back what the op changed).\n\n" + exitHelp,
					Flags: append(targetFlags(),
						&cli.BoolFlag{Name: "force", Usage: "restore even files that changed since the op"}),
					Action: runJournalRecover,
				},
				{
					Name:      "export",
					Usage:     "write an op and its before-images as a tar.gz",
					ArgsUsage: "OP [FILE]",
					Description: "Writes op.json (what 'journal show --json' prints) and every before-image under before/\n" +
						"with its mode, owner, mtime, xattrs and device numbers, as FILE (default\n" +
						"xsrescue-op-OP.tar.gz in the current directory; '-' for stdout). Reads the target\n" +
						"read-only.\n\n" + exitHelp,
					Flags:  targetFlags(),
					Action: runJournalExport,
				},
			},
		}
	})
}

// opArg parses the OP argument.
func opArg(cmd *cli.Command, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("%s: OP must be an op number from 'xsrescue journal list', got %q", cmd.FullName(), s)}
	}
	return id, nil
}

func hasTargetFlags(cmd *cli.Command) bool {
	return cmd.String("root") != "" || cmd.String("disk") != ""
}

// errNoJournal: nothing was ever changed on the target.
var errNoJournal = errors.New("no journal")

// openJournalRO opens the journal for list/show/export: --journal, or the
// default inside the target opened read-only. A missing journal is
// errNoJournal. The returned closer releases both; shown names the journal
// for messages (see journalShown).
func openJournalRO(ctx context.Context, cmd *cli.Command) (j *journal.Journal, done func(), shown string, err error) {
	var tgt *target.Target
	p := cmd.String("journal")
	if p == "" {
		if !hasTargetFlags(cmd) {
			return nil, nil, "", usageError{fmt.Errorf("%s: give the target (--root DIR or --disk DEV) or --journal PATH", cmd.FullName())}
		}
		if tgt, err = openTarget(ctx, cmd, false); err != nil {
			return nil, nil, "", err
		}
		if p, err = journalPathFor(cmd, tgt, false); err != nil {
			tgt.Close()
			return nil, nil, "", err
		}
	}
	j, err = journal.OpenReadOnly(p)
	if errors.Is(err, fs.ErrNotExist) { // missing, or empty (journal.ErrNoJournal)
		tgt.Close()
		return nil, nil, "", fmt.Errorf("%w at %s", errNoJournal, journalShown(tgt, p))
	}
	if err != nil {
		tgt.Close()
		return nil, nil, "", err
	}
	return j, func() { j.Close(); tgt.Close() }, journalShown(tgt, j.Path()), nil
}

func runJournalList(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	j, done, shown, err := openJournalRO(ctx, cmd)
	if errors.Is(err, errNoJournal) {
		return output(cmd).Emit(map[string]any{"ops": []journal.OpInfo{}}, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, "No journal: xsrescue has not changed this target.")
			return err
		})
	}
	if err != nil {
		return err
	}
	defer done()
	ops, err := j.List(ctx)
	if err != nil {
		return err
	}
	return output(cmd).Emit(map[string]any{"ops": ops}, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OP\tSTATUS\tSTARTED\tCHANGES\tCOMMAND")
		for _, o := range ops {
			status := o.Status
			if journal.UndoInterrupted(o) {
				status += " (undo interrupted: run journal recover)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", o.ID, status, o.Started, o.Changes, shellLine(o.Argv))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "journal %s\n", shown)
		return err
	})
}

func runJournalShow(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	id, err := opArg(cmd, a[0])
	if err != nil {
		return err
	}
	j, done, shown, err := openJournalRO(ctx, cmd)
	if err != nil {
		return err
	}
	defer done()
	op, err := j.Op(ctx, id)
	if err != nil {
		return err
	}
	return output(cmd).Emit(map[string]any{"op": op}, func(w io.Writer) error {
		fmt.Fprintf(w, "Op %d (%s): %s\n", op.ID, op.UUID, op.Status)
		fmt.Fprintf(w, "  command  %s\n  target   %s (%s)\n  started  %s\n", shellLine(op.Argv), op.Target, opWhere(op.OpInfo), op.Started)
		if op.Finished != nil {
			fmt.Fprintf(w, "  finished %s\n", *op.Finished)
		}
		if op.Error != nil {
			fmt.Fprintf(w, "  error    %s\n", *op.Error)
		}
		for _, c := range op.Changes {
			fmt.Fprintf(w, "  %d. %s\n", c.Seq, c.Description)
			if c.Why != "" {
				fmt.Fprintf(w, "     why: %s\n", c.Why)
			}
			if c.BeforeSHA256 != nil || c.AfterSHA256 != nil {
				fmt.Fprintf(w, "     sha256 before %s\n     sha256 after  %s\n", hashOrDash(deref(c.BeforeSHA256)), hashOrDash(deref(c.AfterSHA256)))
			}
		}
		_, err := fmt.Fprintf(w, "journal %s\n", shown)
		return err
	})
}

// shellLine is a recorded argv as one line that can be pasted into a shell.
func shellLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quoteShell(a)
	}
	return strings.Join(q, " ")
}

// opWhere names where an op was made: the disk and partition, the mount
// point only as detail (it existed while that command ran), or the root.
func opWhere(op journal.OpInfo) string {
	if op.Disk != nil {
		return fmt.Sprintf("disk %s partition %d, mounted at %s then", *op.Disk, deref0(op.Partition), op.Root)
	}
	return "root " + op.Root
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// openForRepair opens the target undo/recover work on and its journal, for
// looking only: the target read-only and locked (openForChange), the journal
// read-only, opened once the lock is held so that it shows what the last
// writer left. The target is --root/--disk if given (the journal defaulting
// inside it), else the one the op recorded (which then needs --journal);
// recorded picks that op. With orNone, a target without a journal gives a
// nil journal instead of an error. reopenForRepair makes both writable once
// the repair is confirmed: until then nothing is written, not even by a
// read-write mount.
func openForRepair(ctx context.Context, cmd *cli.Command, orNone bool, recorded func(*journal.Journal) (*journal.OpInfo, error)) (*journal.Journal, *target.Target, error) {
	if hasTargetFlags(cmd) {
		tgt, err := openForChange(ctx, cmd, targetOptions(cmd, false))
		if err != nil {
			return nil, nil, err
		}
		j, err := openRepairJournal(cmd, tgt, orNone)
		if err != nil {
			tgt.Close()
			return nil, nil, err
		}
		return j, tgt, nil
	}
	p := cmd.String("journal")
	if p == "" {
		return nil, nil, usageError{fmt.Errorf("%s: give the target (--root DIR or --disk DEV) or --journal PATH", cmd.FullName())}
	}
	j, err := journal.OpenReadOnly(p)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	op, err := recorded(j)
	j.Close()
	if err != nil || op == nil {
		return nil, nil, err
	}
	o := target.Options{Root: op.Root}
	if op.Disk != nil {
		o = target.Options{Disk: *op.Disk, Partition: deref0(op.Partition)}
	}
	tgt, err := openForChange(ctx, cmd, o)
	if err != nil {
		return nil, nil, fmt.Errorf("the target op %d recorded: %w", op.ID, err)
	}
	if j, err = journal.OpenReadOnly(p); err != nil {
		tgt.Close()
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	return j, tgt, nil
}

// openRepairJournal opens tgt's journal (--journal, or the default inside
// the root) read-only; with orNone a missing one is nil.
func openRepairJournal(cmd *cli.Command, tgt *target.Target, orNone bool) (*journal.Journal, error) {
	p, err := journalPathFor(cmd, tgt, false)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j, err := journal.OpenReadOnly(p)
	if errors.Is(err, fs.ErrNotExist) {
		if orNone {
			return nil, nil
		}
		return nil, fmt.Errorf("%w at %s", errNoJournal, journalShown(tgt, p))
	}
	return j, err
}

// reopenForRepair makes tgt writable (for --disk: the read-write mount) and
// reopens its journal (nil stays nil) for writing, once a repair is
// confirmed. The read-only journal is closed either way.
func reopenForRepair(ctx context.Context, cmd *cli.Command, j *journal.Journal, tgt *target.Target) (*journal.Journal, error) {
	if j == nil {
		return nil, tgt.Reopen(ctx)
	}
	j.Close()
	if err := tgt.Reopen(ctx); err != nil {
		return nil, err
	}
	p, err := journalPathFor(cmd, tgt, false)
	if err != nil {
		return nil, err
	}
	return openJournal(ctx, cmd, p)
}

func deref0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func runJournalUndo(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	id, err := opArg(cmd, a[0])
	if err != nil {
		return err
	}
	if err := undoNeedsTarget(ctx, cmd, id); err != nil {
		return err
	}
	j, tgt, err := openForRepair(ctx, cmd, false, func(j *journal.Journal) (*journal.OpInfo, error) {
		op, err := j.Op(ctx, id)
		if err != nil {
			return nil, err
		}
		return &op.OpInfo, nil
	})
	if err != nil {
		return err
	}
	defer tgt.Close()
	defer func() { j.Close() }()
	o := output(cmd)
	op, err := j.Op(ctx, id)
	if err != nil {
		return err
	}
	// Refusals (another target, already undone, drift) come before the
	// revert list: a list of what will not happen only misleads.
	if err := journal.ExternalOnly(op); err != nil {
		return err
	}
	if err := j.CheckUndo(ctx, tgt, id, cmd.Bool("force")); err != nil {
		return err
	}
	if none, err := j.NothingToUndo(ctx, tgt, id); err != nil {
		return err
	} else if none {
		return o.Emit(map[string]any{"op": nil}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Nothing to restore: every path op %d changed is already as before it (already as requested; the journal is left as it is, the op stays %s).\n", id, op.Status)
			return err
		})
	}
	if !o.JSON {
		fmt.Fprintf(o.Stdout(), "Undo op %d (%s) on %s:\n", op.ID, shellLine(op.Argv), tgt.Name())
		for i := len(op.Changes) - 1; i >= 0; i-- {
			fmt.Fprintf(o.Stdout(), "  revert: %s\n", op.Changes[i].Description)
		}
	}
	if cmd.Bool("dry-run") {
		o.Logf("dry run: nothing was changed")
		return nil
	}
	if !cmd.Bool("yes") {
		if err := confirmMutation(ctx, cmd, fmt.Sprintf("Undo op %d on %s?", id, tgt.Name())); err != nil {
			return err
		}
	}
	if j, err = reopenForRepair(ctx, cmd, j, tgt); err != nil {
		return err
	}
	res, err := j.Undo(ctx, tgt, id, cmd.Bool("force"))
	if err != nil {
		return err
	}
	return o.Emit(map[string]any{"op": res}, func(w io.Writer) error {
		printOpResult(w, tgt, res, "undone")
		return nil
	})
}

// undoNeedsTarget refuses, before the target is opened, an op undo cannot
// put back (journal.ExternalOnly): opening a --disk target mounts the
// partition, read-write for an undo, and a partition that was only imaged
// must not be written. It needs the journal outside the target (--journal
// or $XSRESCUE_JOURNAL); a journal inside the root is checked by Undo.
func undoNeedsTarget(ctx context.Context, cmd *cli.Command, id int64) error {
	p := cmd.String("journal")
	if p == "" {
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		return nil // openForRepair reports it
	}
	j, err := journal.OpenReadOnly(p)
	if err != nil {
		return err
	}
	defer j.Close()
	op, err := j.Op(ctx, id)
	if err != nil {
		return err
	}
	return journal.ExternalOnly(op)
}

// recoverDoc is what journal recover reports: the ops rolled back and the
// staging files removed (paths relative to the root).
type recoverDoc struct {
	Interrupted  []journal.OpInfo `json:"interrupted"`   // found (what a dry run would recover)
	StagingFiles []string         `json:"staging_files"` // found, no op accounting for them
	Recovered    []*plan.Result   `json:"recovered"`
	RemovedTemps []string         `json:"removed_temps"`
}

func runJournalRecover(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	j, tgt, err := openForRepair(ctx, cmd, true, func(j *journal.Journal) (*journal.OpInfo, error) {
		ops, err := j.Interrupted(ctx)
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		for _, op := range ops[1:] {
			if op.Target != ops[0].Target {
				return nil, xerr.Invalidf("interrupted ops of several targets (%s, %s): give --root or --disk", ops[0].Target, op.Target)
			}
		}
		return &ops[0], nil
	})
	if err != nil {
		return err
	}
	o := output(cmd)
	doc := recoverDoc{Interrupted: []journal.OpInfo{}, StagingFiles: []string{}, Recovered: []*plan.Result{}, RemovedTemps: []string{}}
	if tgt == nil {
		// --journal alone and nothing interrupted: no target to look into.
		return o.Emit(doc, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, "Nothing to recover: no op was interrupted.")
			return err
		})
	}
	defer tgt.Close()
	defer func() { j.Close() }()
	var ops []journal.OpInfo
	if j != nil { // nil: nothing was journaled, but staging files may be left
		if ops, err = j.InterruptedOn(ctx, tgt); err != nil {
			return err
		}
		// Refusals (drift) before the list of what will not happen.
		if err := j.CheckRecover(ctx, tgt, cmd.Bool("force")); err != nil {
			return err
		}
	}
	temps, err := journal.StaleTemps(tgt.Root)
	if err != nil {
		return err
	}
	doc.Interrupted, doc.StagingFiles = append([]journal.OpInfo{}, ops...), append([]string{}, temps...)
	if len(ops) == 0 && len(temps) == 0 {
		return o.Emit(doc, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, "Nothing to recover: no op was interrupted, no staging file is left.")
			return err
		})
	}
	if !o.JSON {
		for _, op := range ops {
			if op.Status == journal.StatusApplied {
				fmt.Fprintf(o.Stdout(), "Op %d (%s) was being undone when it was interrupted; the undo will be finished.\n", op.ID, shellLine(op.Argv))
				continue
			}
			fmt.Fprintf(o.Stdout(), "Op %d (%s) was interrupted while %s; it will be rolled back.\n", op.ID, shellLine(op.Argv), op.Status)
		}
		for _, t := range temps {
			fmt.Fprintf(o.Stdout(), "Staging file %s was left by an interrupted op; it will be removed.\n", t)
		}
	}
	if cmd.Bool("dry-run") {
		o.Logf("dry run: nothing was changed")
		return o.Emit(doc, func(io.Writer) error { return nil })
	}
	if !cmd.Bool("yes") {
		q := fmt.Sprintf("Roll back (or finish undoing) %d interrupted op(s) and remove %d staging file(s) on %s?", len(ops), len(temps), tgt.Name())
		if err := confirmMutation(ctx, cmd, q); err != nil {
			return err
		}
	}
	if j, err = reopenForRepair(ctx, cmd, j, tgt); err != nil {
		return err
	}
	if j != nil {
		res, err := j.Recover(ctx, tgt, cmd.Bool("force"))
		if err != nil {
			return err
		}
		doc.Recovered = append(doc.Recovered, res...)
	}
	// Rolling back removed the temps of the ops it knew; the rest go now.
	if temps, err = journal.StaleTemps(tgt.Root); err != nil {
		return err
	}
	removed, err := journal.RemoveStaleTemps(tgt.Root, temps)
	doc.RemovedTemps = append(doc.RemovedTemps, removed...)
	if err != nil {
		return err
	}
	return o.Emit(doc, func(w io.Writer) error {
		for _, r := range doc.Recovered {
			printOpResult(w, tgt, r, "rolled back")
		}
		for _, t := range doc.RemovedTemps {
			fmt.Fprintf(w, "Removed staging file %s\n", t)
		}
		return nil
	})
}

func runJournalExport(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 2)
	if err != nil {
		return err
	}
	id, err := opArg(cmd, a[0])
	if err != nil {
		return err
	}
	file := fmt.Sprintf("xsrescue-op-%d.tar.gz", id)
	if len(a) == 2 {
		file = a[1]
	}
	o := output(cmd)
	if file == "-" && o.JSON {
		return usageError{fmt.Errorf("%s: --json and FILE '-' both want stdout", cmd.FullName())}
	}
	j, done, _, err := openJournalRO(ctx, cmd)
	if err != nil {
		return err
	}
	defer done()
	export := func(w io.Writer) error { return j.Export(ctx, id, w) }
	dry := cmd.Bool("dry-run")
	var n int64
	var sum string
	if dry {
		// Everything but the write: the same refusals, and the archive
		// produced and counted, so the size and hash are what a real run
		// writes.
		if err = checkNewFile(file); err == nil {
			n, sum, err = countOnly(ctx, export)
		}
	} else {
		n, sum, err = writeNewFile(ctx, cmd, file, export)
	}
	if err != nil || (file == "-" && !dry) {
		return err
	}
	return o.Emit(map[string]any{"op": id, "file": file, "bytes": n, "sha256": sum, "dry_run": dry}, func(w io.Writer) error {
		if dry {
			_, err := fmt.Fprintf(w, "Dry run: nothing was written; op %d would be exported to %s (%d bytes, sha256 %s)\n", id, outName(file), n, sum)
			return err
		}
		_, err := fmt.Fprintf(w, "Op %d exported to %s (%d bytes, sha256 %s)\n", id, file, n, sum)
		return err
	})
}
