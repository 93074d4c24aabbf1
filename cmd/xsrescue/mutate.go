package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// applyOptions refine apply for a command that applies more than one op,
// or writes outside the target once a plan is confirmed.
type applyOptions struct {
	// journal, when set, is the journal the op is checked against and
	// recorded in, instead of --journal or the default inside the target:
	// where an earlier op of the command went (odm purge's two ops, guest
	// fix's domain config). create is false to look, true once the plan
	// is confirmed (the default journal's directory may then be made).
	journal func(create bool) (string, error)
	// confirmed runs once the plan is confirmed and the target writable,
	// before the journal applies it: a write outside the target that must
	// not happen on a refusal (the ZFS safety snapshot of a zone edit).
	// An error from it stops the command.
	confirmed func(context.Context) error
	// yes: the user confirmed this already (a follow-up op of a confirmed
	// restore).
	yes bool
	// unshown: changes of the same op a dry run showed itself, outside
	// the plan (odm purge's files for an --output the run creates
	// first), counted with the plan's.
	unshown int
}

// apply is the flow every mutating command goes through, on a target
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
func (e *env) apply(ctx context.Context, tgt *target.Target, p *plan.Plan) (*plan.Result, error) {
	return e.applyWith(ctx, tgt, p, applyOptions{})
}

// applyWith is apply with options. A command applying two or three ops
// (guest fix and its domain config, odm purge with --output, zone
// restore-etc) keeps them in e.applied: a failure of a later one must not
// read as if nothing had changed.
func (e *env) applyWith(ctx context.Context, tgt *target.Target, p *plan.Plan, o applyOptions) (*plan.Result, error) {
	res, err := e.applyOne(ctx, tgt, p, o)
	if err != nil && len(e.applied) > 0 {
		var undo []string
		for i := len(e.applied) - 1; i >= 0; i-- {
			undo = append(undo, e.applied[i].Undo)
		}
		return res, fmt.Errorf("%w; but this command had already applied op(s) before: undo with %s", err, strings.Join(undo, "; then "))
	}
	if res != nil {
		e.applied = append(e.applied, res)
	}
	return res, err
}

func (e *env) applyOne(ctx context.Context, tgt *target.Target, p *plan.Plan, o applyOptions) (*plan.Result, error) {
	if err := e.checkNoInterrupted(ctx, tgt, o); err != nil {
		return nil, err
	}
	if p.Empty() {
		fmt.Fprintln(e.text(), "Nothing to change: already as requested.")
		return nil, nil
	}
	// Shown under --json too (the document carries the diff): a plan that
	// cannot apply fails here.
	shown, err := journal.Show(tgt.Root, p)
	if err != nil {
		return nil, err
	}
	if err := journal.WriteShown(e.text(), shown); err != nil {
		return nil, err
	}
	e.setTarget(targetOf(tgt))
	e.addShown(tgt, shown)
	if e.DryRun {
		e.logf("dry run: nothing was changed (%d change(s) planned on %s)", len(p.Changes)+o.unshown, tgt.Name())
		return nil, nil
	}
	if !tgt.Locked() {
		// Every mutating command plans on openForChange's locked target;
		// anything else could lose another xsrescue's edit.
		return nil, fmt.Errorf("internal error: %s was not opened for a change (no lock); nothing was changed", tgt.Name())
	}
	if !e.Yes && !o.yes {
		if err := e.confirm(ctx, fmt.Sprintf("Apply %d change(s) to %s?", len(p.Changes), tgt.Name())); err != nil {
			return nil, err
		}
	}
	if err := tgt.Reopen(ctx); err != nil {
		return nil, err
	}
	e.verbosef("reopened %s writable to apply the plan", tgt.Name())
	for _, n := range tgt.Notes {
		e.logf("note: %s", n)
	}
	tgt.Notes = nil
	if o.confirmed != nil {
		if err := o.confirmed(ctx); err != nil {
			return nil, err
		}
	}
	res, err := e.record(ctx, tgt, p, o)
	if err != nil {
		if errors.Is(err, journal.ErrChangedSincePlanned) && tgt.NeedsRecovery {
			err = fmt.Errorf("%w (the read-write mount replayed the partition's filesystem journal; the next run plans from the replayed filesystem)", err)
		}
		return res, err
	}
	undo := e.undoArgv(tgt, res, o)
	res.Undo = shquote.Join(undo)
	e.addOp(tgt, res, undo)
	if !e.JSON {
		printOpResult(e.stdout, tgt, res, "applied")
		fmt.Fprintf(e.stdout, "Undo with: %s\n", res.Undo)
	}
	return res, nil
}

// record opens the op's journal, creating it, and applies the plan.
func (e *env) record(ctx context.Context, tgt *target.Target, p *plan.Plan, o applyOptions) (*plan.Result, error) {
	jpath, err := e.journalFor(tgt, true, o)
	if err != nil {
		return nil, err
	}
	j, err := e.openJournal(ctx, jpath)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	e.verbosef("journal %s", journalShown(tgt, jpath))
	return j.Apply(ctx, tgt, e.argv, p)
}

// openJournal opens the journal at path for writing, waiting --wait for
// another xsrescue that writes to it (for another target).
func (e *env) openJournal(ctx context.Context, path string) (*journal.Journal, error) {
	return journal.OpenWith(ctx, path, journal.Options{Wait: e.Wait})
}

// checkNoInterrupted refuses any op, even "already as requested", on a
// target whose journal holds an interrupted op: until recover runs, what the
// files say is not what the journal will leave (journal.CheckNoInterrupted).
func (e *env) checkNoInterrupted(ctx context.Context, tgt *target.Target, o applyOptions) error {
	p, err := e.journalFor(tgt, false, o)
	if err != nil {
		return nil // no journal there yet: nothing can be interrupted
	}
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	j, err := journal.OpenReadOnlyAs(p, journalShown(tgt, p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer j.Close()
	return j.CheckNoInterrupted(ctx, tgt)
}

// journalFor is the journal of an op on tgt: the one the options name,
// --journal / $XSRESCUE_JOURNAL, or the default inside the target root
// (made, with create, through the root).
func (e *env) journalFor(tgt *target.Target, create bool, o applyOptions) (string, error) {
	switch {
	case o.journal != nil:
		return o.journal(create)
	case e.Journal != "":
		return e.Journal, nil
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
			fmt.Fprintf(w, "    sha256 before %s\n    sha256 after  %s\n", orDash(c.BeforeSHA256), orDash(c.AfterSHA256))
		}
	}
}

// undoArgv is the complete command line that undoes res: the target as
// the op recorded it, and the journal when it is not the default one.
func (e *env) undoArgv(tgt *target.Target, res *plan.Result, o applyOptions) []string {
	argv := []string{"xsrescue", "journal", "undo", fmt.Sprint(res.Op)}
	switch {
	case tgt.Disk != "":
		argv = append(argv, "--disk", tgt.Disk, "--partition", fmt.Sprint(tgt.Partition))
	default:
		argv = append(argv, "--root", tgt.Root.Dir())
	}
	if e.Journal != "" || o.journal != nil {
		argv = append(argv, "--journal", res.Journal)
	}
	return argv
}

// refuseUnlessConfirmed asks before a write outside every target that only
// a confirmed command may make (creating odm purge's --output, a ZFS clone):
// --yes has answered already.
func (e *env) refuseUnlessConfirmed(ctx context.Context, question string) error {
	if e.Yes {
		return nil
	}
	return e.confirm(ctx, question)
}
