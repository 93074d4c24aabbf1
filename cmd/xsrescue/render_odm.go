package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aymanbagabas/go-udiff"

	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/odm"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// odmGhostsDoc is the --json document of odm ghosts (docs/json.md, odm).
type odmGhostsDoc struct {
	Majors []odm.Major `json:"majors"`

	opts odmGhostsOptions
}

func (d *odmGhostsDoc) render(w io.Writer) error {
	printMajors(w, d.Majors)
	var ghosts []string
	for _, r := range d.Majors {
		if r.Verdict == odm.Ghost {
			ghosts = append(ghosts, fmt.Sprint(r.Major))
			printRepair(w, r)
		}
	}
	if len(ghosts) == 0 {
		fmt.Fprintln(w, "\nno ghost majors")
	} else if d.opts.Dev != "" {
		fmt.Fprintf(w, "\nor let xsrescue do it (journalled, undoable):\n  xsrescue odm purge --odm %s --dev %s --major %s --output DIR\n",
			d.opts.ODM, d.opts.Dev, strings.Join(ghosts, ","))
	}
	return nil
}

func printMajors(w io.Writer, majors []odm.Major) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAJOR\tVERDICT\tOWNER\tDEVNO\tNODES\tREASON")
	for _, r := range majors {
		owner := "-"
		if r.Owner != nil {
			owner = *r.Owner
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", r.Major, r.Verdict, owner, len(r.Devno), len(r.Nodes), r.Reason)
	}
	tw.Flush()
}

// printRepair shows the manual repair on AIX for one ghost major.
func printRepair(w io.Writer, r odm.Major) {
	fmt.Fprintf(w, "\nghost major %d:\n", r.Major)
	for _, d := range r.Devno {
		fmt.Fprintf(w, "  devno object  %d,%d  %s\n", r.Major, d.Minor, d.Device)
	}
	for _, n := range r.Nodes {
		if n.Type == odm.Symlink {
			fmt.Fprintf(w, "  symlink       /%s -> %s\n", n.Path, n.Link)
		} else {
			fmt.Fprintf(w, "  %-13s /%s  %d,%d\n", n.Type, n.Path, n.Major, n.Minor)
		}
	}
	fmt.Fprintf(w, "  repair on AIX (as root; back up first: odmget CuDvDr > /tmp/CuDvDr.add):\n")
	fmt.Fprintf(w, "    odmget -q \"resource='ddins' and value2='%d'\" CuDvDr   # must print nothing\n", r.Major)
	if len(r.Devno) > 0 {
		fmt.Fprintf(w, "    odmdelete -o CuDvDr -q \"resource='devno' and value1='%d'\"\n", r.Major)
	}
	// Symlinks first, so that none is left dangling if the list is cut short.
	for _, links := range []bool{true, false} {
		for _, n := range r.Nodes {
			if (n.Type == odm.Symlink) == links {
				fmt.Fprintf(w, "    rm /dev/%s\n", n.Name())
			}
		}
	}
	fmt.Fprintf(w, "    savebase\n")
}

// odmPurgeDoc is the --json document of odm purge (docs/json.md, odm).
type odmPurgeDoc struct {
	Files   []string    `json:"files"`
	Majors  []odm.Major `json:"majors"` // the majors purged
	Removed []odm.Node  `json:"removed"`
	DryRun  bool        `json:"-"`

	purge *odm.Purge
	out   *odm.OutDir
}

func newPurgeDoc(p *odm.Purge, majors []odm.Major, out *odm.OutDir, dryRun bool) *odmPurgeDoc {
	doc := &odmPurgeDoc{DryRun: dryRun, Files: []string{}, Majors: []odm.Major{},
		Removed: append([]odm.Node{}, p.Nodes...), purge: p, out: out}
	for _, r := range majors {
		if slices.Contains(p.Majors, r.Major) {
			doc.Majors = append(doc.Majors, r)
		}
	}
	return doc
}

func (d *odmPurgeDoc) render(w io.Writer) error {
	p := d.purge
	if p.Done {
		fmt.Fprintf(w, "already as requested: ghost major(s) %s: %s holds exactly the files this purge writes and the /dev entries are gone\n", odm.JoinMajors(p.Majors), d.out.Dir)
		return nil
	}
	if !p.Empty() && !d.DryRun {
		fmt.Fprintf(w, "ghost major(s) %s purged: %d devno object(s) left out of %s, %d /dev entries removed\n",
			odm.JoinMajors(p.Majors), len(p.Removed), d.Files[0], len(p.Nodes))
		fmt.Fprintf(w, "on AIX, as root: ksh %s   (undo: ksh %s)\n", d.Files[2], d.Files[3])
	}
	return nil
}

// renderNewOut shows, for a dry run, the files a purge would write into the
// --output directory that does not exist yet, as the journal shows new files,
// and records them in the mutation document named as the real run names
// them: relative to the AIX root when --output is inside it (one op with the
// nodes), else absolute (an op of its own). It returns how many changes
// there are: the directory's record (odm.CreatedChange) and the files.
// The owner is left out: the files take the new directory's.
func (e *env) renderNewOut(w io.Writer, out *odm.OutDir, root *target.Root, p *odm.Purge) (int, error) {
	fmt.Fprintf(w, "# create directory %s (--output; its parent exists)\n", out.Dir)
	rel, inside := out.Inside(root.Dir())
	if !inside {
		rel = "."
	}
	// A record only: nothing of the root is read for it.
	rec, err := journal.Describe(root, &plan.Plan{Changes: []plan.Change{odm.CreatedChange(out.Dir, rel)}})
	if err != nil {
		return 0, err
	}
	name := rec[0].Path
	if !inside {
		name = out.Dir
	}
	e.addChange(mutationChange{Path: name, Action: plan.External, Why: odm.CreatedWhy, Description: rec[0].Description})
	changes := p.OutChanges(rel)
	for _, c := range changes {
		name := c.Path // as the journal names it in its op's target
		if !inside {
			name = filepath.Join(out.Dir, c.Path)
		}
		desc := fmt.Sprintf("create %s (mode %04o, %d bytes)", c.Path, c.Mode, len(c.Content))
		fmt.Fprintf(w, "# %s\n#    why: %s\n", desc, c.Why)
		d := udiff.Unified("/dev/null", "b/"+c.Path, "", string(c.Content))
		if _, err := io.WriteString(w, d); err != nil {
			return 0, err
		}
		sum := sha256.Sum256(c.Content)
		after := hex.EncodeToString(sum[:])
		e.addChange(mutationChange{Path: name, Action: plan.Create, Why: c.Why, Diff: &d, AfterSHA256: &after, Description: desc})
	}
	return 1 + len(changes), nil
}
