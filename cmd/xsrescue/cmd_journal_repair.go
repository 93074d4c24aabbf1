package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func runJournalUndo(ctx context.Context, e *env, o journalOptions, arg string) error {
	id, err := o.opNumber(arg)
	if err != nil {
		return err
	}
	j, tgt, op, err := e.openUndo(ctx, o, id)
	if err != nil {
		return err
	}
	defer tgt.Close()
	defer func() { j.Close() }()
	e.setTarget(targetOf(tgt))
	if none, err := j.NothingToUndo(ctx, tgt, id); err != nil || none {
		if err != nil {
			return err
		}
		return e.emitMutation(nil, &undoDoc{Undone: id}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "Nothing to restore: every path op %d changed is already as before it (already as requested; the journal is left as it is, the op stays %s).\n", id, op.Status)
			return err
		})
	}
	fmt.Fprintf(e.text(), "Undo op %d (%s) on %s:\n", op.ID, shquote.Join(op.Argv), tgt.Name())
	for i := len(op.Changes) - 1; i >= 0; i-- {
		fmt.Fprintf(e.text(), "  revert: %s\n", op.Changes[i].Description)
	}
	e.addReverts(op, fmt.Sprintf("undo op %d", id))
	doc := &undoDoc{Undone: id}
	if e.DryRun {
		e.logf("dry run: nothing was changed")
		return e.emitMutation(nil, doc, nil)
	}
	if err := e.refuseUnlessConfirmed(ctx, fmt.Sprintf("Undo op %d on %s?", id, tgt.Name())); err != nil {
		return err
	}
	if j, err = e.reopenForRepair(ctx, j, tgt); err != nil {
		return err
	}
	res, err := j.Undo(ctx, tgt, id, o.Force)
	if err != nil {
		return err
	}
	e.addRevertOp(tgt, res)
	return e.emitMutation(nil, doc, func(w io.Writer) error {
		printRevertResult(w, tgt, res, "undone", e.revertsOf(res.Op))
		return nil
	})
}

// addReverts records, in the mutation document, what undoing (or rolling
// back) op puts back: its changes, last first, each with the hashes
// swapped (the before-state is what it will be). Records of actions
// outside the root are not put back by xsrescue.
func (e *env) addReverts(op *journal.OpDetail, why string) {
	start := len(e.mut.changes)
	defer func() {
		if e.mut.reverts == nil {
			e.mut.reverts = map[int64][2]int{}
		}
		e.mut.reverts[op.ID] = [2]int{start, len(e.mut.changes)}
	}()
	for i := len(op.Changes) - 1; i >= 0; i-- {
		c := op.Changes[i]
		if c.Kind == plan.External {
			continue
		}
		e.addChange(mutationChange{Path: c.Path, NewPath: c.NewPath, Action: c.Kind, Why: why + ": " + c.Description,
			BeforeSHA256: c.AfterSHA256, AfterSHA256: c.BeforeSHA256, Description: "revert: " + c.Description})
	}
}

// revertsOf is what addReverts listed for op, with the hashes addRevertOp
// filled in once it was reverted.
func (e *env) revertsOf(op int64) []mutationChange {
	span, ok := e.mut.reverts[op]
	if !ok {
		return nil
	}
	return e.mut.changes[span[0]:span[1]]
}

// openUndo opens, for looking, the target and journal of op id
// (openForRepair), and refuses (another target, already undone, drift,
// only external actions) before anything is listed: a list of what will
// not happen only misleads.
func (e *env) openUndo(ctx context.Context, o journalOptions, id int64) (*journal.Journal, *target.Target, *journal.OpDetail, error) {
	if err := e.findOpJournal(ctx, o, id); err != nil {
		return nil, nil, nil, err
	}
	if err := e.undoNeedsTarget(ctx, id); err != nil {
		return nil, nil, nil, err
	}
	j, tgt, err := e.openForRepair(ctx, o, false, func(j *journal.Journal) (*journal.OpInfo, error) {
		op, err := j.Op(ctx, id)
		if err != nil {
			return nil, err
		}
		return &op.OpInfo, nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	op, err := j.Op(ctx, id)
	if err == nil {
		err = journal.ExternalOnly(op)
	}
	if err == nil {
		err = j.CheckUndo(ctx, tgt, id, o.Force)
	}
	if err != nil {
		j.Close()
		tgt.Close()
		return nil, nil, nil, err
	}
	return j, tgt, op, nil
}

// undoNeedsTarget refuses, before the target is opened, an op undo cannot
// put back (journal.ExternalOnly): opening a --disk target mounts the
// partition, read-write for an undo, and a partition that was only imaged
// must not be written. It needs the journal outside the target (--journal
// or $XSRESCUE_JOURNAL); a journal inside the root is checked by Undo.
func (e *env) undoNeedsTarget(ctx context.Context, id int64) error {
	if e.Journal == "" {
		return nil
	}
	if _, err := os.Stat(e.Journal); err != nil {
		return nil // openForRepair reports it
	}
	j, err := journal.OpenReadOnly(e.Journal)
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

func runJournalRecover(ctx context.Context, e *env, o journalOptions) error {
	j, tgt, err := e.openForRepair(ctx, o, true, interruptedTarget(ctx))
	if err != nil {
		return err
	}
	doc := &recoverDoc{Interrupted: []journal.OpInfo{}, StagingFiles: []string{}, Recovered: []*plan.Result{}, RemovedTemps: []string{}}
	if tgt == nil {
		// --journal alone and nothing interrupted: no target to look into.
		e.setTarget(mutationTarget{Path: &e.Journal})
		return e.emitMutation(nil, doc, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, "Nothing to recover: no op was interrupted.")
			return err
		})
	}
	defer tgt.Close()
	defer func() { j.Close() }()
	if err := doc.find(ctx, j, tgt, o.Force); err != nil {
		return err
	}
	e.setTarget(targetOf(tgt))
	if len(doc.Interrupted) == 0 && len(doc.StagingFiles) == 0 {
		return e.emitMutation(nil, doc, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, "Nothing to recover: no op was interrupted, no staging file is left.")
			return err
		})
	}
	doc.renderFound(e.text())
	for _, info := range doc.Interrupted {
		op, err := j.Op(ctx, info.ID)
		if err != nil {
			return err
		}
		e.addReverts(op, fmt.Sprintf("op %d was interrupted while %s: put back", info.ID, info.Status))
	}
	for _, t := range doc.StagingFiles {
		e.addChange(mutationChange{Path: t, Action: plan.Remove, Why: "a staging file no op accounts for", Description: "remove staging file " + t})
	}
	if e.DryRun {
		e.logf("dry run: nothing was changed")
		return e.emitMutation(nil, doc, nil)
	}
	q := fmt.Sprintf("Roll back (or finish undoing) %d interrupted op(s) and remove %d staging file(s) on %s?", len(doc.Interrupted), len(doc.StagingFiles), tgt.Name())
	if err := e.refuseUnlessConfirmed(ctx, q); err != nil {
		return err
	}
	if j, err = e.reopenForRepair(ctx, j, tgt); err != nil {
		return err
	}
	if err := doc.recover(ctx, j, tgt, o.Force); err != nil {
		return err
	}
	for _, r := range doc.Recovered {
		e.addRevertOp(tgt, r)
	}
	return e.emitMutation(nil, doc, func(w io.Writer) error { return doc.render(w, tgt, e.revertsOf) })
}

// interruptedTarget picks the op whose target recover works on, when only
// --journal is given: the interrupted ops', which must all be one.
func interruptedTarget(ctx context.Context) func(*journal.Journal) (*journal.OpInfo, error) {
	return func(j *journal.Journal) (*journal.OpInfo, error) {
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
	}
}

// find lists what recover would do: the interrupted ops of the target (j
// nil: nothing was journaled, but staging files may be left) and the
// staging files no op accounts for. A path changed since (drift) is
// refused first, unless force.
func (doc *recoverDoc) find(ctx context.Context, j *journal.Journal, tgt *target.Target, force bool) error {
	var ops []journal.OpInfo
	if j != nil {
		var err error
		if ops, err = j.InterruptedOn(ctx, tgt); err != nil {
			return err
		}
		if err := j.CheckRecover(ctx, tgt, force); err != nil {
			return err
		}
	}
	temps, err := journal.StaleTemps(tgt.Root)
	if err != nil {
		return err
	}
	doc.Interrupted, doc.StagingFiles = append(doc.Interrupted, ops...), append(doc.StagingFiles, temps...)
	return nil
}

// recover rolls the interrupted ops back (or finishes their undo), then
// removes the staging files left: rolling back removed the temps of the
// ops it knew; the rest go now.
func (doc *recoverDoc) recover(ctx context.Context, j *journal.Journal, tgt *target.Target, force bool) error {
	if j != nil {
		res, err := j.Recover(ctx, tgt, force)
		if err != nil {
			return err
		}
		doc.Recovered = append(doc.Recovered, res...)
	}
	temps, err := journal.StaleTemps(tgt.Root)
	if err != nil {
		return err
	}
	removed, err := journal.RemoveStaleTemps(tgt.Root, temps)
	doc.RemovedTemps = append(doc.RemovedTemps, removed...)
	return err
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
func (e *env) openForRepair(ctx context.Context, o journalOptions, orNone bool, recorded func(*journal.Journal) (*journal.OpInfo, error)) (*journal.Journal, *target.Target, error) {
	if o.given() {
		tgt, err := e.openForChange(ctx, o.target())
		if err != nil {
			return nil, nil, err
		}
		j, err := e.openRepairJournal(tgt, orNone)
		if err != nil {
			tgt.Close()
			return nil, nil, err
		}
		return j, tgt, nil
	}
	if e.Journal == "" {
		return nil, nil, usagef("%s: give the target (--root DIR or --disk DEV) or --journal PATH", o.name)
	}
	j, err := journal.OpenReadOnly(e.Journal)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	op, err := recorded(j)
	j.Close()
	if err != nil || op == nil {
		return nil, nil, err
	}
	to := target.Options{Root: op.Root}
	if op.Disk != nil {
		to = target.Options{Disk: *op.Disk, Partition: deref0(op.Partition)}
	}
	tgt, err := e.openForChange(ctx, to)
	if err != nil {
		return nil, nil, fmt.Errorf("the target op %d recorded: %w", op.ID, err)
	}
	if j, err = journal.OpenReadOnly(e.Journal); err != nil {
		tgt.Close()
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	return j, tgt, nil
}

// openRepairJournal opens tgt's journal (--journal, or the default inside
// the root) read-only; with orNone a missing one is nil.
func (e *env) openRepairJournal(tgt *target.Target, orNone bool) (*journal.Journal, error) {
	p, err := e.journalFor(tgt, false, applyOptions{})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j, err := journal.OpenReadOnlyAs(p, journalShown(tgt, p))
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
func (e *env) reopenForRepair(ctx context.Context, j *journal.Journal, tgt *target.Target) (*journal.Journal, error) {
	if j == nil {
		return nil, tgt.Reopen(ctx)
	}
	j.Close()
	if err := tgt.Reopen(ctx); err != nil {
		return nil, err
	}
	p, err := e.journalFor(tgt, false, applyOptions{})
	if err != nil {
		return nil, err
	}
	return e.openJournal(ctx, p)
}

func deref0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
