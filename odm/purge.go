package odm

import (
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
)

// Files a purge writes into its --out directory. odmadd tries "<arg>.add"
// first, so every stanza file ends in .add and is passed by its full name.
const (
	FileAfter  = "CuDvDr.after.add"  // CuDvDr as it is to be: every object but the ghosts' devno
	FileBefore = "CuDvDr.before.add" // CuDvDr as it was (the restore reference)
	FilePurge  = "purge.ksh"         // the AIX-side purge
	FileUndo   = "undo.ksh"          // the AIX-side undo
)

// OutFiles lists the files of a purge in the order they are written.
var OutFiles = []string{FileAfter, FileBefore, FilePurge, FileUndo}

// PurgeRequest names the majors to purge.
type PurgeRequest struct {
	Majors    []int // --major
	AllGhosts bool  // --all-ghosts
	// Rerun accepts a major the data does not show at all: an earlier run
	// removed its only traces, the /dev entries (the --out files then say
	// whether that run is complete: CheckOutFiles). Set when Out holds
	// purge files.
	Rerun bool
	// Out is the --out directory (CheckOut, then Read); nil: not looked at.
	Out *OutDir
}

// Purge is everything a purge removes and writes.
type Purge struct {
	Majors  []int    // the ghost majors, ascending
	Removed []Stanza // the devno objects deleted from CuDvDr
	Nodes   []Node   // the /dev entries removed: symlinks first, then specials
	Before  []byte   // CuDvDr.before.add
	After   []byte   // CuDvDr.after.add
	Script  []byte   // purge.ksh
	Undo    []byte   // undo.ksh
	// Done: Out holds exactly the files of this purge and its /dev
	// entries are gone: an earlier run completed it ("already as
	// requested").
	Done bool
}

// PlanPurge checks the request against the analysis and builds the purge.
// It refuses (xerr.ErrRefused) a major that is not a ghost by the rules, a
// major the data does not show at all, and any purge without a CuDv dump
// (without it, an Available device on the major cannot be ruled out). With
// req.Out it recognises a re-run (Done), and refuses files in --out that
// are not this purge's.
func PlanPurge(m *Model, majors []Major, req PurgeRequest) (*Purge, error) {
	if req.Out != nil && len(req.Out.Found) > 0 {
		req.Rerun = true
	}
	if !m.HaveCuDv() {
		return nil, xerr.Refusedf("purge needs a CuDv dump next to CuDvDr: without it a device that is Available on the major cannot be ruled out")
	}
	byMajor := map[int]*Major{}
	for i := range majors {
		byMajor[majors[i].Major] = &majors[i]
	}
	var want []int
	if req.AllGhosts {
		for _, r := range majors {
			if r.Verdict == Ghost {
				want = append(want, r.Major)
			}
		}
	}
	for _, n := range req.Majors {
		r, ok := byMajor[n]
		switch {
		case !ok && req.Rerun:
			byMajor[n] = &Major{Major: n}
		case !ok:
			return nil, xerr.Refusedf("major %d: no ddins or devno object and no /dev node has it; the data contradicts --major %d", n, n)
		case r.Verdict != Ghost:
			return nil, xerr.Refusedf("major %d is %s, not a ghost: %s", n, r.Verdict, r.Reason)
		}
		want = append(want, n)
	}
	slices.Sort(want)
	want = slices.Compact(want)

	p := &Purge{Majors: want}
	drop := map[int]bool{}
	for _, d := range m.Devno {
		if slices.Contains(want, d.Major) {
			drop[d.Index] = true
		}
	}
	var after []Stanza
	for i, s := range m.CuDvDr {
		if drop[i] {
			p.Removed = append(p.Removed, s)
		} else {
			after = append(after, s)
		}
	}
	var specials []Node
	for _, n := range want {
		for _, node := range byMajor[n].Nodes {
			if node.Type == Symlink {
				p.Nodes = append(p.Nodes, node)
			} else {
				specials = append(specials, node)
			}
		}
	}
	p.Nodes = append(p.Nodes, specials...)
	p.Before = Format(m.CuDvDr)
	p.After = Format(after)
	p.Script = purgeScript(p)
	p.Undo = undoScript(p)
	if req.Out != nil {
		var err error
		if p.Done, err = p.checkDone(req.Out, majors); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Empty reports whether there is nothing to purge.
func (p *Purge) Empty() bool { return len(p.Majors) == 0 }

// OutChanges creates the four output files in dir (relative to the root the
// plan is applied to).
func (p *Purge) OutChanges(dir string) []plan.Change {
	content := map[string][]byte{FileAfter: p.After, FileBefore: p.Before, FilePurge: p.Script, FileUndo: p.Undo}
	why := map[string]string{
		FileAfter:  "CuDvDr without the devno objects of the ghost majors (odmadd input)",
		FileBefore: "CuDvDr as read (restore reference)",
		FilePurge:  "AIX-side purge: backup, odmdelete -q, rm, savebase, verify",
		FileUndo:   "AIX-side undo: odmadd, mknod, savebase",
	}
	var out []plan.Change
	for _, name := range OutFiles {
		mode := fs.FileMode(0o644)
		if path.Ext(name) == ".ksh" {
			mode = 0o755
		}
		out = append(out, plan.Change{Kind: plan.Create, Path: path.Join(dir, name), Content: content[name],
			Mode: mode, UID: -1, GID: -1, Why: why[name]})
	}
	return out
}

// NodeChanges removes the ghost /dev entries (paths relative to the root
// that holds dev/). The journal records type, major, minor, mode and owner,
// so `xsrescue journal undo` recreates them.
func (p *Purge) NodeChanges() []plan.Change {
	var out []plan.Change
	for _, n := range p.Nodes {
		c := plan.Change{Kind: plan.RemoveNode, Path: n.Path,
			Why: fmt.Sprintf("ghost major %d: %s special file, minor %d", n.Major, n.Type, n.Minor)}
		if n.Type == Symlink {
			c.Kind = plan.RemoveSymlink
			c.Why = fmt.Sprintf("ghost major %d: symlink to %s", n.Major, n.Target)
		}
		out = append(out, c)
	}
	return out
}
