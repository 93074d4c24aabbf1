package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// journalListDoc is the --json document of journal list (docs/json.md).
type journalListDoc struct {
	Ops []journal.OpInfo `json:"ops"`
	// ImageJournal: with --disk, the ops on that disk in the journal
	// beside it that disk save-partition and restore-partition write by
	// default; nil when there is none.
	ImageJournal *imageJournalDoc `json:"image_journal"`

	shown    string // the journal, as messages name it
	none     error  // errNoJournal: the target has no journal
	imagesOf string // --disk, whose image journal was looked for
}

// imageJournalDoc is a journal of partition images and its ops on a disk.
type imageJournalDoc struct {
	Path string           `json:"path"`
	Ops  []journal.OpInfo `json:"ops"`
}

func (d *journalListDoc) render(w io.Writer) error {
	if d.none != nil {
		fmt.Fprintf(w, "No journal: xsrescue has not changed the files of this target (%v).\n", d.none)
	} else if err := renderOps(w, d.Ops, d.shown); err != nil {
		return err
	}
	switch {
	case d.ImageJournal != nil:
		fmt.Fprintf(w, "\nPartition images of %s (disk save-partition, restore-partition; journal beside the disk):\n", d.imagesOf)
		if err := renderOps(w, d.ImageJournal.Ops, d.ImageJournal.Path); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "Show one with: xsrescue journal show OP --journal %s\n", shquote.Quote(d.ImageJournal.Path))
		return err
	case d.imagesOf != "":
		_, err := fmt.Fprintf(w, "disk save-partition and restore-partition record their ops in %s beside the image file (or in --journal): none beside %s records an op on it; list one with journal list --journal DIR/%s.\n",
			imageJournalName, d.imagesOf, imageJournalName)
		return err
	}
	return nil
}

// renderOps prints ops as a table, then the journal they are in.
func renderOps(w io.Writer, ops []journal.OpInfo, shown string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OP\tSTATUS\tSTARTED\tCHANGES\tCOMMAND")
	for _, o := range ops {
		status := o.Status
		if journal.UndoInterrupted(o) {
			status += " (undo interrupted: run journal recover)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", o.ID, status, o.Started, o.Changes, shquote.Join(o.Argv))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "journal %s\n", shown)
	return err
}

// journalShowDoc is the --json document of journal show.
type journalShowDoc struct {
	Op *journal.OpDetail `json:"op"`

	shown string
}

func (d *journalShowDoc) render(w io.Writer) error {
	op := d.Op
	fmt.Fprintf(w, "Op %d (%s): %s\n", op.ID, op.UUID, op.Status)
	fmt.Fprintf(w, "  command  %s\n  target   %s (%s)\n  started  %s\n", shquote.Join(op.Argv), op.Target, opWhere(op.OpInfo), op.Started)
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
			fmt.Fprintf(w, "     sha256 before %s\n     sha256 after  %s\n", orDash(deref(c.BeforeSHA256)), orDash(deref(c.AfterSHA256)))
		}
	}
	_, err := fmt.Fprintf(w, "journal %s\n", d.shown)
	return err
}

// undoDoc is the "details" of journal undo's mutation document: the op
// number undone (the document's op is null when nothing was left to
// restore).
type undoDoc struct {
	Undone int64 `json:"undone"`
}

// exportDoc is the --json document of journal export.
type exportDoc struct {
	Bytes  int64  `json:"bytes"`
	DryRun bool   `json:"-"`
	File   string `json:"file"`
	Op     int64  `json:"op"`
	SHA256 string `json:"sha256"`
}

func (d *exportDoc) render(w io.Writer) error {
	if d.DryRun {
		_, err := fmt.Fprintf(w, "Dry run: nothing was written; op %d would be exported to %s (%d bytes, sha256 %s)\n", d.Op, outName(d.File), d.Bytes, d.SHA256)
		return err
	}
	_, err := fmt.Fprintf(w, "Op %d exported to %s (%d bytes, sha256 %s)\n", d.Op, d.File, d.Bytes, d.SHA256)
	return err
}

// recoverDoc is what journal recover reports: the ops rolled back and the
// staging files removed (paths relative to the root).
type recoverDoc struct {
	Interrupted  []journal.OpInfo `json:"interrupted"`   // found (what a dry run would recover)
	StagingFiles []string         `json:"staging_files"` // found, no op accounting for them
	Recovered    []*plan.Result   `json:"recovered"`
	RemovedTemps []string         `json:"removed_temps"`
}

// renderFound says what recover is about to do.
func (d *recoverDoc) renderFound(w io.Writer) {
	for _, op := range d.Interrupted {
		if op.Status == journal.StatusApplied {
			fmt.Fprintf(w, "Op %d (%s) was being undone when it was interrupted; the undo will be finished.\n", op.ID, shquote.Join(op.Argv))
			continue
		}
		fmt.Fprintf(w, "Op %d (%s) was interrupted while %s; it will be rolled back.\n", op.ID, shquote.Join(op.Argv), op.Status)
	}
	for _, t := range d.StagingFiles {
		fmt.Fprintf(w, "Staging file %s was left by an interrupted op; it will be removed.\n", t)
	}
}

// render says what recover did: reverted holds each recovered op's
// reverted changes (env.revertsOf).
func (d *recoverDoc) render(w io.Writer, tgt *target.Target, reverted func(op int64) []mutationChange) error {
	for _, r := range d.Recovered {
		printRevertResult(w, tgt, r, "rolled back", reverted(r.Op))
	}
	for _, t := range d.RemovedTemps {
		fmt.Fprintf(w, "Removed staging file %s\n", t)
	}
	return nil
}

// printRevertResult says what an undo or a recovery did to op res: the
// op's changes as they were reverted (last first, "revert: ..."), each
// with the hashes of the revert — before what the path held, after what
// it holds again — as the mutation document's changes have them
// (addReverts, addRevertOp); never the op's own forward hashes. The op's
// records of actions outside the files follow, each saying what becomes
// of it (a directory the op created is removed if empty, a ZFS snapshot
// is rolled back by hand).
func printRevertResult(w io.Writer, tgt *target.Target, res *plan.Result, what string, reverted []mutationChange) {
	fmt.Fprintf(w, "Op %d (%s) %s; journal %s\n", res.Op, res.UUID, what, journalShown(tgt, res.Journal))
	for _, c := range reverted {
		fmt.Fprintf(w, "  %s\n", c.Description)
		if c.BeforeSHA256 != nil || c.AfterSHA256 != nil {
			fmt.Fprintf(w, "    sha256 before %s\n    sha256 after  %s\n", orDash(deref(c.BeforeSHA256)), orDash(deref(c.AfterSHA256)))
		}
	}
	for _, c := range res.Changes {
		if c.Kind != plan.External {
			continue
		}
		fmt.Fprintf(w, "  record: %s\n", c.Description)
	}
}

// opWhere names where an op was made: the disk and partition, the mount
// point only as detail (it existed while that command ran), or the root.
func opWhere(op journal.OpInfo) string {
	if op.Disk != nil && strings.HasPrefix(op.Command, "disk ") {
		// A partition image was saved or restored: nothing was mounted
		// (the op's root is the journal's directory).
		return fmt.Sprintf("disk %s partition %d", *op.Disk, deref0(op.Partition))
	}
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
