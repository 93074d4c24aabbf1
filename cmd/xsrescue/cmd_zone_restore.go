package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/zfsroot"
)

func runZoneRestoreEtc(ctx context.Context, e *env, o zoneRestoreEtcOptions) error {
	paths, err := zfsroot.RestorePaths(o.Paths)
	if err != nil {
		return err
	}
	tgt, err := e.openForChange(ctx, target.Options{Root: o.ZoneRoot})
	if err != nil {
		return err
	}
	defer tgt.Close()
	doc := &zoneRestoreDoc{Source: o.Snapshot, Paths: paths, Skipped: []string{}}
	e.setTarget(targetOf(tgt))
	dir, cleanup, err := e.snapshotTree(ctx, doc)
	if err != nil || dir == "" {
		return err // a dry run that needs a clone has said so
	}
	defer func() {
		if err := cleanup(); err != nil {
			e.logf("warning: %v", err)
		}
	}()
	src, err := target.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer src.Close()
	plans, skipped, unrestored, err := zfsroot.RestorePlan(src, tgt.Root, paths)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		e.logf("not restored: %s", s)
	}
	doc.Skipped = append(doc.Skipped, skipped...)
	for i, p := range plans[1:] {
		var what []string
		for _, c := range p.Changes {
			what = append(what, fmt.Sprintf("%s %s", c.Kind, c.Path))
		}
		e.logf("then op %d of %d (the journal changes a path once per op): %s", i+2, len(plans), strings.Join(what, ", "))
	}
	if len(unrestored) > 0 && plans[0].Empty() {
		// Not "already as requested": the snapshot's files are not
		// all back, and nothing here can put them back.
		fmt.Fprintf(e.text(), "Nothing restored: %d path(s) cannot be restored (listed above).\n", len(unrestored))
	} else if err := e.applyRestore(ctx, tgt, plans, doc); err != nil {
		return err
	}
	if err := e.emitMutation(unrestored, doc, nil); err != nil || len(unrestored) == 0 {
		return err
	}
	return xerr.Problems(fmt.Errorf("zone restore-etc: %d path(s) not restored; first: %s", len(unrestored), unrestored[0]))
}

// snapshotTree finds where the snapshot can be read: its .zfs/snapshot
// directory, or a temporary read-only clone. A clone is a write to the
// pool: a dry run says what it would make instead of making it (and
// returns no directory), and a real run makes it only once asked.
func (e *env) snapshotTree(ctx context.Context, doc *zoneRestoreDoc) (string, func() error, error) {
	dir, how, cleanup, err := zfsroot.CLI{}.SnapshotTree(ctx, doc.Source, true)
	if nc := (*zfsroot.NeedsCloneError)(nil); errors.As(err, &nc) {
		if e.DryRun {
			doc.WouldClone = &nc.Clone
			e.logf("dry run: nothing was changed; %v, which a dry run does not make: the file plan is shown only by the real run", err)
			return "", nil, e.emitMutation(nil, doc, nil)
		}
		if err := e.refuseUnlessConfirmed(ctx, fmt.Sprintf("%s can be read here only through a temporary clone: make one (destroyed afterwards)?", doc.Source)); err != nil {
			return "", nil, err
		}
		dir, how, cleanup, err = zfsroot.CLI{}.SnapshotTree(ctx, doc.Source, false)
	}
	if err != nil {
		return "", nil, err
	}
	e.logf("reading %s through %s", doc.Source, how)
	doc.ReadThrough = &how
	return dir, cleanup, nil
}

// applyRestore applies the restore's ops: the first with the zone's
// safety snapshot, then those that change a path a second time (mode and
// owner after content), confirmed with the first (an operator who
// confirmed the restore confirmed its follow-up ops).
func (e *env) applyRestore(ctx context.Context, tgt *target.Target, plans []*plan.Plan, doc *zoneRestoreDoc) error {
	snap, res, err := e.applyZonePlan(ctx, tgt, plans[0], applyOptions{})
	if err != nil {
		return err
	}
	doc.Snapshot = nilIfEmpty(snap)
	for _, p := range plans[1:] {
		_, err := e.applyWith(ctx, tgt, p, applyOptions{yes: res != nil})
		if err != nil && res != nil {
			return fmt.Errorf("%w (op %d already restored the content; journal undo it to go back)", err, res.Op)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
