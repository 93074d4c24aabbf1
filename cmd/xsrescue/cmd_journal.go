package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func newJournalCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "journal",
		Usage: "list, show, undo, recover and export the ops recorded in the journal",
		Description: "Every mutation xsrescue makes is an op in the journal: an SQLite file, by default\n" +
			"var/lib/xsrescue/journal.db inside the target root (--journal PATH or $XSRESCUE_JOURNAL\n" +
			"put it elsewhere). An op holds the command line, the target's identity, and for each\n" +
			"change the before-image (content, mode, owner, mtime, xattrs, type, device numbers,\n" +
			"link target) and the after-hash. With --disk DISK and no --journal, show, export and\n" +
			"undo OP also find an op disk save-partition or restore-partition recorded on DISK in\n" +
			"xsrescue-journal.db beside it, when the root's journal has no op OP. See docs/journal.md.",
		Commands: []*cli.Command{
			newJournalListCommand(e), newJournalShowCommand(e), newJournalUndoCommand(e),
			newJournalRecoverCommand(e), newJournalExportCommand(e),
		},
	}
}

// journalOptions are the flags of the journal commands: the target whose
// journal it is (or --journal alone), and --force for undo and recover.
type journalOptions struct {
	targetOptions
	Force  bool
	Output string // journal export: the archive (also its positional FILE)
	name   string // "xsrescue journal VERB", for messages
}

func newJournalOptions(verb string) journalOptions {
	return journalOptions{name: "xsrescue journal " + verb}
}

func forceFlag(force *bool) cli.Flag {
	return &cli.BoolFlag{Name: "force", Destination: force, Usage: "restore even files that changed since the op"}
}

func newJournalListCommand(e *env) *cli.Command {
	o := newJournalOptions("list")
	return &cli.Command{
		Name:      "list",
		Usage:     "every op, oldest first",
		ArgsUsage: " ",
		Description: "Lists the ops of the journal of --root DIR / --disk DEV, or of --journal PATH.\n" +
			"With --disk DISK (and no --journal) it also lists, under \"Partition images of DISK\",\n" +
			"the ops disk save-partition and restore-partition recorded on DISK in\n" +
			"xsrescue-journal.db beside it (they keep their journal beside the image file; one\n" +
			"elsewhere is listed with --journal DIR/xsrescue-journal.db).\n" +
			"Read-only: never writes a byte.\n\n" + exitHelp,
		Flags:  o.flags(),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runJournalList(ctx, e, o) }),
	}
}

func newJournalShowCommand(e *env) *cli.Command {
	o := newJournalOptions("show")
	return &cli.Command{
		Name:      "show",
		Usage:     "one op with every change and its before/after hashes",
		ArgsUsage: "OP",
		Description: "Shows op OP (its number in 'journal list'): status, command line, target, and each\n" +
			"change with its before-state and after-hash. Read-only: never writes a byte.\n\n" + exitHelp,
		Flags:  o.flags(),
		Action: o.opAction(1, func(ctx context.Context, a []string) error { return runJournalShow(ctx, e, o, a[0]) }),
	}
}

func newJournalUndoCommand(e *env) *cli.Command {
	o := newJournalOptions("undo")
	return &cli.Command{
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
		Flags:  append(o.flags(), forceFlag(&o.Force)),
		Action: o.opAction(1, func(ctx context.Context, a []string) error { return runJournalUndo(ctx, e, o, a[0]) }),
	}
}

func newJournalRecoverCommand(e *env) *cli.Command {
	o := newJournalOptions("recover")
	return &cli.Command{
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
		Flags:  append(o.flags(), forceFlag(&o.Force)),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runJournalRecover(ctx, e, o) }),
	}
}

func newJournalExportCommand(e *env) *cli.Command {
	o := newJournalOptions("export")
	return &cli.Command{
		Name:      "export",
		Usage:     "write an op and its before-images as a tar.gz",
		ArgsUsage: "OP [FILE]",
		Description: "Writes op.json (what 'journal show --json' prints) and every before-image under before/\n" +
			"with its mode, owner, mtime, xattrs and device numbers, as FILE or --output FILE (default\n" +
			"xsrescue-op-OP.tar.gz in the current directory; '-' for stdout). Reads the target\n" +
			"read-only.\n\n" + exitHelp,
		Flags: append(o.flags(), &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.Output,
			Usage: "the archive `FILE` to create (never overwritten; - for stdout); the same as the FILE argument"}),
		Action: o.opAction(2, func(ctx context.Context, a []string) error { return runJournalExport(ctx, e, o, a) }),
	}
}

// opNumber parses the OP argument.
func (o journalOptions) opNumber(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%s: OP must be an op number from 'xsrescue journal list' (1, 2, ...), got %q", o.name, s)
	}
	return id, nil
}

// opAction is action(1, max, run) for a verb whose first argument is OP,
// checked before the count: a word such as -1 is no flag to urfave/cli,
// which then takes it and every word after it (--disk IMG --yes) as
// arguments, so the count alone would say "expected 1 argument(s), got 4".
func (o journalOptions) opAction(max int, run func(ctx context.Context, args []string) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		if a := cmd.Args().Slice(); len(a) > 0 {
			if _, err := o.opNumber(a[0]); err != nil {
				return err
			}
		}
		return action(1, max, run)(ctx, cmd)
	}
}

// errNoJournal: nothing was ever changed on the target.
var errNoJournal = errors.New("no journal")

// openJournalRO opens the journal for list/show/export: --journal, or the
// default inside the target opened read-only. A missing journal is
// errNoJournal. The returned closer releases both; at names the journal
// for messages (see journalShown) and documents (journalOf: never the
// private copy a --disk journal is read from).
func (e *env) openJournalRO(ctx context.Context, o journalOptions) (j *journal.Journal, done func(), at journalAt, err error) {
	var tgt *target.Target
	p := e.Journal
	if p == "" {
		if !o.given() {
			return nil, nil, journalAt{}, usagef("%s: give the target (--root DIR or --disk DEV) or --journal PATH", o.name)
		}
		if tgt, err = e.openTarget(ctx, o.target()); err != nil {
			return nil, nil, journalAt{}, err
		}
		if p, err = journal.DefaultPath(tgt.Root, false); err != nil {
			tgt.Close()
			return nil, nil, journalAt{}, err
		}
	}
	j, err = journal.OpenReadOnlyAs(p, journalShown(tgt, p))
	if errors.Is(err, fs.ErrNotExist) { // missing, or empty (journal.ErrNoJournal)
		tgt.Close()
		return nil, nil, journalAt{}, fmt.Errorf("%w at %s", errNoJournal, journalShown(tgt, p))
	}
	if err != nil {
		tgt.Close()
		return nil, nil, journalAt{}, err
	}
	return j, func() { j.Close(); tgt.Close() }, journalAt{shown: journalShown(tgt, j.Path()), ref: journalOf(tgt, j.Path())}, nil
}

// journalAt is where a journal opened for reading is.
type journalAt struct {
	shown string
	ref   journalRef
}

// target is the journal as the target of a command that reads it: the
// disk, partition and path inside it for a journal on a --disk target,
// else its absolute path.
func (a journalAt) target() mutationTarget {
	p := a.ref.Path
	if a.ref.Disk == "" {
		return mutationTarget{Path: &p}
	}
	d, n := a.ref.Disk, a.ref.Partition
	return mutationTarget{Disk: &d, Partition: &n, Path: &p}
}

func runJournalList(ctx context.Context, e *env, o journalOptions) error {
	j, done, at, err := e.openJournalRO(ctx, o)
	var none error
	switch {
	case errors.Is(err, errNoJournal):
		none = err
	case err != nil:
		return err
	default:
		defer done()
	}
	doc := &journalListDoc{Ops: []journal.OpInfo{}, shown: at.shown, none: none}
	if none == nil {
		if doc.Ops, err = j.List(ctx); err != nil {
			return err
		}
	}
	if e.Journal == "" && o.Disk != "" {
		doc.imagesOf = o.Disk
		if doc.ImageJournal, err = imageJournalOps(ctx, o.Disk, o.Partition); err != nil {
			return err
		}
	}
	return e.emit(doc, doc.render)
}

// imageJournalOps lists the ops on disk (on its partition n, 0: any) in
// the journal disk save-partition and restore-partition keep beside their
// image files (externalJournal): the one beside the disk image, where
// those images usually are. nil when there is none, or it holds no op of
// this disk. Read-only, like journal list: the journal is opened
// read-only and nothing is created.
func imageJournalOps(ctx context.Context, disk string, n int) (*imageJournalDoc, error) {
	disk = absPath(disk)
	p := filepath.Join(filepath.Dir(disk), imageJournalName)
	if _, err := os.Lstat(p); err != nil {
		return nil, nil
	}
	j, err := journal.OpenReadOnly(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer j.Close()
	ops, err := j.List(ctx)
	if err != nil {
		return nil, err
	}
	doc := &imageJournalDoc{Path: p, Ops: []journal.OpInfo{}}
	for _, op := range ops {
		if op.Disk != nil && sameFile(*op.Disk, disk) && (n == 0 || (op.Partition != nil && *op.Partition == n)) {
			doc.Ops = append(doc.Ops, op)
		}
	}
	if len(doc.Ops) == 0 {
		return nil, nil
	}
	return doc, nil
}

// findOpJournal makes show, export and undo of op id with --disk and no
// --journal find it where journal list --disk shows it: in the target's
// own journal, else in the journal of partition images beside the disk
// (imageJournalOps), which it then uses as --journal. When both hold an op
// id, the target's is used (what the number always meant) and a note says
// how to reach the other.
func (e *env) findOpJournal(ctx context.Context, o journalOptions, id int64) error {
	if e.Journal != "" || o.Disk == "" {
		return nil
	}
	img, err := imageJournalOps(ctx, o.Disk, o.Partition)
	if err != nil || img == nil || !slices.ContainsFunc(img.Ops, func(op journal.OpInfo) bool { return op.ID == id }) {
		return err
	}
	j, done, at, err := e.openJournalRO(ctx, o)
	switch {
	case errors.Is(err, errNoJournal):
	case err != nil:
		return err
	default:
		_, err := j.Op(ctx, id)
		done()
		if err == nil {
			e.logf("note: this is op %d of %s; op %d of the partition images of %s is another: %s %d --journal %s",
				id, at.shown, id, o.Disk, o.name, id, shquote.Quote(img.Path))
			return nil
		}
		if !errors.Is(err, journal.ErrNoSuchOp) {
			return err
		}
	}
	e.Journal = img.Path
	return nil
}

// sameFile: a and b name the same file (the same path, or a link to it).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

func runJournalShow(ctx context.Context, e *env, o journalOptions, arg string) error {
	id, err := o.opNumber(arg)
	if err != nil {
		return err
	}
	if err := e.findOpJournal(ctx, o, id); err != nil {
		return err
	}
	j, done, at, err := e.openJournalRO(ctx, o)
	if err != nil {
		return err
	}
	defer done()
	op, err := j.Op(ctx, id)
	if err != nil {
		return err
	}
	doc := &journalShowDoc{Op: op, shown: at.shown}
	return e.emit(doc, doc.render)
}

func runJournalExport(ctx context.Context, e *env, o journalOptions, a []string) error {
	id, err := o.opNumber(a[0])
	if err != nil {
		return err
	}
	doc := &exportDoc{Op: id, File: fmt.Sprintf("xsrescue-op-%d.tar.gz", id), DryRun: e.DryRun}
	switch {
	case len(a) == 2 && o.Output != "" && a[1] != o.Output:
		return usagef("%s: FILE %q and --output %q name two archives; give one", o.name, a[1], o.Output)
	case len(a) == 2:
		doc.File = a[1]
	case o.Output != "":
		doc.File = o.Output
	}
	if doc.File == "-" && e.JSON {
		return usagef("%s: --json and FILE '-' both want stdout", o.name)
	}
	if err := e.findOpJournal(ctx, o, id); err != nil {
		return err
	}
	j, done, at, err := e.openJournalRO(ctx, o)
	if err != nil {
		return err
	}
	defer done()
	e.setTarget(at.target())
	export := func(w io.Writer) error { return j.Export(ctx, id, w) }
	if e.DryRun {
		// Everything but the write: the same refusals, and the archive
		// produced and counted, so the size and hash are what a real run
		// writes.
		if err = checkNewFile(doc.File); err == nil {
			doc.Bytes, doc.SHA256, err = countOnly(ctx, export)
		}
	} else {
		doc.Bytes, doc.SHA256, err = e.writeNewFile(ctx, doc.File, export)
	}
	if err != nil || (doc.File == "-" && !e.DryRun) {
		return err
	}
	e.addChange(mutationChange{Path: absPath(doc.File), Action: plan.Create, Why: fmt.Sprintf("the export of op %d (a tar.gz of its record and before-images)", id),
		AfterSHA256: &doc.SHA256, Description: fmt.Sprintf("create %s (%d bytes)", absPath(doc.File), doc.Bytes)})
	return e.emitMutation(nil, doc, doc.render)
}
