package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// schemaVersion is the version of every JSON document xsrescue prints
// (docs/json.md): raised when a field is renamed or removed, never for an
// added one.
const schemaVersion = 1

// mutationDoc is the one document every mutating verb prints under --json,
// dry run or not (docs/json.md, "The mutation document"); what only one
// verb has to say is under "details".
type mutationDoc struct {
	SchemaVersion int `json:"schema_version"`
	// Mounted: the partitions of the disk the verb read that are mounted
	// right now, as in every read-only document (docs/json.md); absent
	// when none is.
	Mounted []partition.Mount `json:"mounted,omitempty"`
	// Changed: the command changed something — under --dry-run, it would
	// (Ansible's check mode reads it so).
	Changed  bool             `json:"changed"`
	DryRun   bool             `json:"dry_run"`
	Target   mutationTarget   `json:"target"`
	Changes  []mutationChange `json:"changes"`
	Op       *opDoc           `json:"op"`  // the last (or only) op applied; null: none
	Ops      []*opDoc         `json:"ops"` // every op applied, in apply order
	Problems []string         `json:"problems"`
	Details  any              `json:"details"`
	// Error is the error the command exits with after the document (a
	// later op failed after earlier ones applied, a malformed input file).
	Error *errorInfo `json:"error,omitempty"`
}

// mutationTarget is what a mutating command worked on: an offline root
// (root), a partition of a disk (disk, partition), or a file (path); the
// fields that do not apply are null.
type mutationTarget struct {
	Root      *string `json:"root"`
	Disk      *string `json:"disk"`
	Partition *int    `json:"partition"`
	Path      *string `json:"path"`
}

// mutationChange is one planned (and, once applied, made) change.
type mutationChange struct {
	Path    string    `json:"path"`
	NewPath *string   `json:"new_path"`
	Action  plan.Kind `json:"action"`
	Why     string    `json:"why"`
	// Diff is the unified diff the text output prints; null for binary,
	// large or streamed content and for changes that are not content.
	Diff         *string `json:"diff"`
	BeforeSHA256 *string `json:"before_sha256"`
	AfterSHA256  *string `json:"after_sha256"`
	Description  string  `json:"description"`
}

// opDoc is one applied op: its number, where it is recorded, and the
// command that undoes it (argv; null when there is nothing to undo).
type opDoc struct {
	ID      int64          `json:"id"`
	UUID    string         `json:"uuid"`
	Status  string         `json:"status"`
	Journal journalRef     `json:"journal"`
	Undo    []string       `json:"undo"`
	Changes []changeResult `json:"changes"`
}

// journalRef names a journal file: for a journal inside a --disk target
// the disk, partition and path inside the partition (the private mount
// point is gone once the command ends); else its absolute path.
type journalRef struct {
	Disk      string `json:"disk,omitempty"`
	Partition int    `json:"partition,omitempty"`
	Path      string `json:"path"`
}

// changeResult is plan.ChangeResult with the null convention.
type changeResult struct {
	Action       plan.Kind `json:"action"`
	Path         string    `json:"path"`
	NewPath      *string   `json:"new_path"`
	BeforeSHA256 *string   `json:"before_sha256"`
	AfterSHA256  *string   `json:"after_sha256"`
	Description  string    `json:"description"`
}

// mutation is the common part of the mutation document as the command
// builds it: the target, the changes shown, the ops applied.
type mutation struct {
	target  mutationTarget
	changes []mutationChange
	ops     []*opDoc
	// pending is the index in changes of the first change of the plan
	// being applied: addOp fills in the hashes only the apply knew (a
	// streamed rewrite's).
	pending int
	// reverts: the range in changes of the reverted changes of each op
	// (by id) journal undo or recover puts back (addReverts).
	reverts map[int64][2]int
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// key compares targets by value.
func (t mutationTarget) key() string {
	return fmt.Sprintf("%s|%s|%d|%s", deref(t.Root), deref(t.Disk), deref0(t.Partition), deref(t.Path))
}

// targetOf names tgt as the user gave it.
func targetOf(tgt *target.Target) mutationTarget {
	if tgt.Disk != "" {
		d, p := tgt.Disk, tgt.Partition
		return mutationTarget{Disk: &d, Partition: &p}
	}
	dir := tgt.Root.Dir()
	return mutationTarget{Root: &dir}
}

// fileTarget is a file the command changes or writes (statedb patch FILE).
func fileTarget(path string) mutationTarget {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return mutationTarget{Path: &path}
}

// setTarget records what the command works on (the first call wins: a
// guest fix's domain config is a second target of the same command). A
// disk or file named relative to the current directory is made absolute:
// a script reads the document from anywhere.
func (e *env) setTarget(t mutationTarget) {
	if e.mut.target.key() != (mutationTarget{}).key() {
		return
	}
	for _, p := range []**string{&t.Root, &t.Disk} {
		if *p != nil {
			a := absPath(**p)
			*p = &a
		}
	}
	if t.Path != nil && t.Disk == nil { // with a disk: the path inside its partition
		a := absPath(*t.Path)
		t.Path = &a
	}
	e.mut.target = t
}

// addShown records the changes journal.Show returned for a plan on tgt.
// Paths are relative to the document's target; a change in another one
// (guest fix's domain config) has its absolute path.
func (e *env) addShown(tgt *target.Target, shown []journal.Shown) {
	e.mut.pending = len(e.mut.changes)
	other := targetOf(tgt).key() != e.mut.target.key()
	for _, s := range shown {
		path := s.Path
		// An external record's path is no file's (a dataset, say), but
		// "." is the target root itself: a directory created for the op.
		if other && (s.Kind != plan.External && s.Kind != plan.RawWrite || path == ".") {
			path = filepath.Join(tgt.Root.Dir(), path)
		}
		e.mut.changes = append(e.mut.changes, mutationChange{
			Path: path, NewPath: nullable(s.NewPath), Action: s.Kind, Why: s.Why, Diff: s.Diff,
			BeforeSHA256: nullable(s.BeforeSHA256), AfterSHA256: nullable(s.AfterSHA256), Description: s.Description,
		})
	}
}

// addChange records a change made outside the journal's file changes (an
// output file, a partition image).
func (e *env) addChange(c mutationChange) {
	e.mut.changes = append(e.mut.changes, c)
}

// addOp records an applied op, filling in the hashes of the changes it
// was planned from (added last by addShown) that only the apply knew.
func (e *env) addOp(tgt *target.Target, res *plan.Result, undo []string) *opDoc {
	op := newOpDoc(tgt, res, undo)
	if shown := e.mut.changes[min(e.mut.pending, len(e.mut.changes)):]; len(shown) == len(res.Changes) {
		for i, r := range res.Changes {
			shown[i].BeforeSHA256, shown[i].AfterSHA256 = nullable(r.BeforeSHA256), nullable(r.AfterSHA256)
		}
	}
	e.mut.pending = len(e.mut.changes)
	e.mut.ops = append(e.mut.ops, op)
	return op
}

// addRevertOp records an op that reverted the changes addReverts listed
// (journal undo, journal recover). res lists the op's changes as it made
// them, in apply order and with its forward hashes: each reverted change
// takes the hashes of its own path (and new_path), swapped, never those
// of the change at the same index.
func (e *env) addRevertOp(tgt *target.Target, res *plan.Result) {
	made := map[string]plan.ChangeResult{}
	for _, r := range res.Changes {
		made[r.Path+"\x00"+r.NewPath] = r
	}
	span, ok := e.mut.reverts[res.Op]
	for i := span[0]; ok && i < span[1]; i++ {
		c := &e.mut.changes[i]
		if r, ok := made[c.Path+"\x00"+deref(c.NewPath)]; ok && r.Kind == c.Action {
			c.BeforeSHA256, c.AfterSHA256 = nullable(r.AfterSHA256), nullable(r.BeforeSHA256)
		}
	}
	e.mut.ops = append(e.mut.ops, newOpDoc(tgt, res, nil)) // an undone op cannot be undone again
}

func newOpDoc(tgt *target.Target, res *plan.Result, undo []string) *opDoc {
	op := &opDoc{ID: res.Op, UUID: res.UUID, Status: res.Status, Journal: journalOf(tgt, res.Journal), Undo: undo, Changes: []changeResult{}}
	for _, c := range res.Changes {
		op.Changes = append(op.Changes, changeResult{Action: c.Kind, Path: c.Path, NewPath: nullable(c.NewPath),
			BeforeSHA256: nullable(c.BeforeSHA256), AfterSHA256: nullable(c.AfterSHA256), Description: c.Description})
	}
	return op
}

// journalOf names the journal file jpath of an op on tgt (journalRef).
func journalOf(tgt *target.Target, jpath string) journalRef {
	if tgt == nil || tgt.Disk == "" {
		return journalRef{Path: jpath}
	}
	rel, ok := tgt.Root.Origin(jpath)
	if !ok {
		r, err := filepath.Rel(tgt.Root.Dir(), jpath)
		if err != nil || r == ".." || strings.HasPrefix(r, "../") {
			return journalRef{Path: jpath}
		}
		rel = r
	}
	return journalRef{Disk: tgt.Disk, Partition: tgt.Partition, Path: "/" + filepath.ToSlash(rel)}
}

// mutationDocument is the document of this run's mutation: what was
// recorded with setTarget, addShown, addChange and addOp, the problems
// that remain, and the verb's own details.
func (e *env) mutationDocument(problems []string, details any) *mutationDoc {
	doc := &mutationDoc{SchemaVersion: schemaVersion, Mounted: e.mounts, DryRun: e.DryRun, Target: e.mut.target,
		Changes: e.mut.changes, Ops: e.mut.ops, Problems: problems, Details: details}
	if doc.Changes == nil {
		doc.Changes = []mutationChange{}
	}
	if doc.Ops == nil {
		doc.Ops = []*opDoc{}
	}
	if doc.Problems == nil {
		doc.Problems = []string{}
	}
	if n := len(doc.Ops); n > 0 {
		doc.Op = doc.Ops[n-1]
	}
	// Changes are recorded only once planned non-empty; without --dry-run
	// every one of them was made by the time the document is printed (a
	// failure before that is an error).
	doc.Changed = len(doc.Changes) > 0
	return doc
}

// emitMutation prints the mutation document under --json, or the text
// (text nil: nothing more to say).
func (e *env) emitMutation(problems []string, details any, text func(io.Writer) error) error {
	return e.emit(e.mutationDocument(problems, details), text)
}
