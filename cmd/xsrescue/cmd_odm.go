package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/odm"
	"github.com/xsrescue/xsrescue/target"
)

func newODMCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "odm",
		Usage: "AIX ODM: find and remove ghost device majors (CuDvDr objects and /dev nodes)",
		Description: "alt_disk_copy and nimadm stop with \"0516-082 lchangelv: Unable to access a special\n" +
			"device file\" when CuDvDr devno objects and /dev nodes are left behind for a major that no\n" +
			"ddins object owns: lvlstmajor lists that major as free, genmajor hands it to the next VG,\n" +
			"and the new VG collides with the leftovers. These commands read odmget dumps (and the AIX\n" +
			"root's dev/ or an `ls -l /dev` listing), give every major a verdict, and remove ghosts\n" +
			"through the journal, with ksh scripts that do the same on the AIX side.",
		Commands: []*cli.Command{newOdmGhostsCommand(e), newOdmPurgeCommand(e)},
	}
}

func odmDirFlag(dir *string) cli.Flag {
	return &cli.StringFlag{Name: "odm", Required: true, Destination: dir,
		Usage: "`DIR` of odmget dumps: CuDvDr (required), CuDv, CuAt, CuDep, PdDv, each named X, X.odmget or X.add"}
}

// odmGhostsOptions are the flags of odm ghosts.
type odmGhostsOptions struct {
	ODM, Dev, DevListing string
}

func newOdmGhostsCommand(e *env) *cli.Command {
	var o odmGhostsOptions
	return &cli.Command{
		Name:      "ghosts",
		Usage:     "list every device major with its verdict (ghost, orphan-devno, orphan-vg, owned, base) and the repair for ghosts",
		ArgsUsage: " ",
		Description: "Reads the dumps in --odm (make them on AIX with `odmget CuDvDr > CuDvDr` and likewise\n" +
			"for CuDv, CuAt, CuDep and PdDv) and the special files of --dev (the dev directory of the\n" +
			"AIX root, top level only, never following a link out of the root) or --dev-listing (an\n" +
			"`ls -l /dev` taken on AIX; of an `ls -lR` only the top level counts). Verdicts, by the\n" +
			"rules of docs/odm.md:\n" +
			"   ghost         devno objects and/or nodes, but no ddins object allocates the major\n" +
			"   orphan-devno  allocated, but devno objects name devices CuDv does not hold (report only)\n" +
			"   orphan-vg     allocated to a VG that is gone: no CuDv object, and its minor 0, its /dev\n" +
			"                 node, or nothing at all left on the major; never a PdDv driver name\n" +
			"                 (report only: exportvg)\n" +
			"   owned         allocated to a driver or a present VG, or in use by an Available device\n" +
			"   base          majors 0-10 and value3=\";\" objects (never touched)\n" +
			"Reads only; never writes a byte.\n\n" + exitHelp,
		Flags: []cli.Flag{
			odmDirFlag(&o.ODM),
			&cli.StringFlag{Name: "dev", Destination: &o.Dev, Usage: "the AIX root's dev `DIR` (its parent is taken as the root for symlinks)"},
			&cli.StringFlag{Name: "dev-listing", Destination: &o.DevListing, Usage: "an \"ls -l /dev\" listing `FILE` instead of --dev"},
		},
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runOdmGhosts(ctx, e, o) }),
	}
}

// odmPurgeOptions are the flags of odm purge.
type odmPurgeOptions struct {
	ODM, Dev, Out string
	Majors        []string
	AllGhosts     bool
}

func newOdmPurgeCommand(e *env) *cli.Command {
	var o odmPurgeOptions
	return &cli.Command{
		Name:      "purge",
		Usage:     "remove ghost majors: write cleaned CuDvDr and AIX scripts to --output, remove the ghost /dev nodes",
		ArgsUsage: " ",
		Description: "WARNING: removes /dev special files and symlinks of the AIX root. Only majors that are\n" +
			"ghosts by the rules are accepted (see `xsrescue odm ghosts`); anything else is refused.\n\n" +
			"Through the journal it creates in --output:\n" +
			"   CuDvDr.after.add   CuDvDr without the ghosts' devno objects\n" +
			"   CuDvDr.before.add  CuDvDr as read (restore reference)\n" +
			"   purge.ksh          the AIX side: backup of odmget CuDvDr/CuDv/CuAt/CuDep and of\n" +
			"                      $ODMDIR/CuDvDr, odmdelete -o CuDvDr -q \"resource='devno' and value1='M'\",\n" +
			"                      removal of exactly the listed nodes, savebase, verification with\n" +
			"                      lvlstmajor and odmget; stops at the first failure; honours ODMDIR\n" +
			"   undo.ksh           odmadd of the removed objects, mknod of the nodes, savebase\n" +
			"and removes the ghost nodes and the symlinks to them from --dev; the journal records type,\n" +
			"major, minor, mode and owner, so `xsrescue journal undo OP` recreates them. When --output is\n" +
			"inside the AIX root (the parent of --dev) this is one op; otherwise two: the --output files\n" +
			"first, then the nodes (both in the same journal). --dry-run prints all of it and writes\n" +
			"nothing. Needs a CuDv dump (to rule out Available devices).\n\n" +
			"Refuses (exit 3, also with --dry-run) a --dev that is the rescue system's own /dev\n" +
			"whatever its path: a bind mount of /dev (the usual chroot preparation), anything on\n" +
			"the filesystem mounted on /dev, any devtmpfs or devpts.\n\n" +
			"--output is a directory of its own: anything in it but these four files is refused. A\n" +
			"missing --output is created (mode 0755) once the purge is confirmed, never by --dry-run;\n" +
			"its parent must exist. journal undo removes the files, and the directory too when the\n" +
			"purge created it and nothing else was put in it since.\n\n" + exitHelp,
		Flags: []cli.Flag{
			odmDirFlag(&o.ODM),
			&cli.StringFlag{Name: "dev", Required: true, Destination: &o.Dev, Usage: "the AIX root's dev `DIR`"},
			&cli.StringSliceFlag{Name: "major", Destination: &o.Majors, Usage: "purge major `M` (repeat or comma-separate); must be a ghost"},
			&cli.BoolFlag{Name: "all-ghosts", Destination: &o.AllGhosts, Usage: "purge every major whose verdict is ghost"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.Out, Usage: "`DIR` for the .add files and the AIX scripts: empty, or new (its parent must exist; required)"},
			renamedFlag(e, "out", "output", &o.Out),
		},
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runOdmPurge(ctx, e, o) }),
	}
}

func runOdmGhosts(_ context.Context, e *env, o odmGhostsOptions) error {
	if o.Dev != "" && o.DevListing != "" {
		return usagef("odm ghosts: --dev and --dev-listing are mutually exclusive")
	}
	m, err := e.loadODM(o.ODM)
	if err != nil {
		return err
	}
	var nodes []odm.Node
	switch {
	case o.Dev != "":
		if _, nodes, err = odm.ScanDevDir(o.Dev, false); err != nil {
			return err
		}
	case o.DevListing != "":
		f, err := infile.Open(o.DevListing, infile.File)
		if err != nil {
			return xerr.Invalidf("--dev-listing: %w", err)
		}
		nodes, err = odm.ParseListingFile(f, o.DevListing)
		f.Close()
		if err != nil {
			return err
		}
	}
	doc := &odmGhostsDoc{Majors: odm.Analyze(m, nodes), opts: o}
	return e.emit(doc, doc.render)
}

// loadODM reads the dumps and builds the model, saying what it read.
func (e *env) loadODM(dir string) (*odm.Model, error) {
	dumps, m, err := odm.Load(dir)
	if err != nil {
		return nil, err
	}
	if !e.JSON {
		var read []string
		for _, c := range odm.DumpClasses {
			if f, ok := dumps.Files[c]; ok {
				read = append(read, fmt.Sprintf("%s (%d objects)", f, dumps.Objects[c]))
			}
		}
		e.logf("read %s", strings.Join(read, ", "))
	}
	return m, nil
}

// request is the purge the flags ask for.
func (o odmPurgeOptions) request() (odm.PurgeRequest, error) {
	req := odm.PurgeRequest{AllGhosts: o.AllGhosts}
	for _, s := range o.Majors {
		n, err := odm.ParseNumber(strings.TrimSpace(s))
		if err != nil {
			return req, xerr.Invalidf("--major: %w", err)
		}
		req.Majors = append(req.Majors, n)
	}
	switch {
	case len(req.Majors) > 0 && req.AllGhosts:
		return req, usagef("odm purge: give --major M (one or more) or --all-ghosts, not both")
	case len(req.Majors) == 0 && !req.AllGhosts:
		return req, usagef("odm purge: give --major M (one or more) or --all-ghosts")
	}
	return req, nil
}

func runOdmPurge(ctx context.Context, e *env, o odmPurgeOptions) error {
	if o.Out == "" {
		return usagef("odm purge: give the directory for the .add files and AIX scripts with --output DIR")
	}
	req, err := o.request()
	if err != nil {
		return err
	}
	out, err := odm.CheckOut(o.Out)
	if err != nil {
		return err
	}
	m, err := e.loadODM(o.ODM)
	if err != nil {
		return err
	}
	// The AIX root and --output are this purge's targets: opened read-only
	// and locked before /dev and --output are read for the plan.
	pt, err := e.openPurgeTargets(ctx, o.Dev, out)
	if err != nil {
		return err
	}
	defer pt.close()
	_, nodes, err := odm.ScanDevDir(o.Dev, true)
	if err != nil {
		return err
	}
	if err := out.Read(); err != nil {
		return err
	}
	req.Out = out
	majors := odm.Analyze(m, nodes)
	p, err := odm.PlanPurge(m, majors, req)
	if err != nil {
		return err
	}
	doc := newPurgeDoc(p, majors, out, e.DryRun)
	e.setTarget(targetOf(pt.tgts[pt.root]))
	switch {
	case p.Done:
		doc.Files = out.Files()
	case !p.Empty():
		doc.Files = out.Files()
		if err = e.applyPurge(ctx, pt, p, out); err != nil {
			return err
		}
	case !e.JSON:
		e.logf("odm purge: no ghost majors, nothing to do")
	}
	return e.emitMutation(nil, doc, doc.render)
}

// purgeTargets are the roots a purge changes, opened read-only and locked:
// the AIX root holding --dev and, when it lies outside that root, --output.
type purgeTargets struct {
	root string
	tgts map[string]*target.Target
}

func (pt *purgeTargets) close() {
	for _, t := range pt.tgts {
		t.Close()
	}
}

// openPurgeTargets opens, for a change, the root holding --dev and, when
// it lies outside that root, --output (in that order). A missing --output is not
// opened here: it is created, then opened (openOut), only once the purge
// is confirmed.
func (e *env) openPurgeTargets(ctx context.Context, dev string, out *odm.OutDir) (*purgeTargets, error) {
	rootDir, _, err := odm.DevRoot(dev)
	if err != nil {
		return nil, err
	}
	t, err := e.openForChange(ctx, target.Options{Root: rootDir})
	if err != nil {
		return nil, err
	}
	pt := &purgeTargets{root: rootDir, tgts: map[string]*target.Target{rootDir: t}}
	if err := reRootOut(t.Root, rootDir, out); err != nil {
		t.Close()
		return nil, err
	}
	if !out.Missing {
		if err := e.openOut(ctx, pt, out); err != nil {
			t.Close()
			return nil, err
		}
	}
	return pt, nil
}

// reRootOut makes an --output inside the AIX root the AIX system's path:
// a symlink on the way is followed as there (an absolute target re-rooted
// at the root), as the journal resolves the files written into it, and
// never into the rescue system's own tree (acceptance round 21: a missing
// --output under an absolute link was created on the rescue host).
func reRootOut(root *target.Root, rootDir string, out *odm.OutDir) error {
	rel, inside := out.Inside(rootDir)
	if !inside {
		return nil
	}
	res, err := root.Resolve(rel)
	if err != nil {
		return xerr.Invalidf("--output %s: %w", out.Dir, err)
	}
	if res == rel {
		return nil
	}
	again, err := odm.CheckOut(filepath.Join(rootDir, filepath.FromSlash(res)))
	if err != nil {
		return fmt.Errorf("--output %s is %s inside the AIX root (symlinks followed as the AIX system does): %w", out.Dir, res, err)
	}
	*out = *again
	return nil
}

// openOut opens and locks --output as a target of its own when it lies
// outside the AIX root (inside it, the root's target covers it).
func (e *env) openOut(ctx context.Context, pt *purgeTargets, out *odm.OutDir) error {
	if _, inside := out.Inside(pt.root); inside {
		return nil
	}
	t, err := e.openForChange(ctx, target.Options{Root: out.Dir})
	if err != nil {
		return err
	}
	pt.tgts[out.Dir] = t
	return nil
}

// applyPurge applies the purge's ops (one, or the --output files and then the
// nodes: both in the AIX root's journal). A missing --output is created once
// confirmed (removed again if the purge fails before writing into it); a
// dry run shows its files, since the journal renders only into
// directories that exist.
func (e *env) applyPurge(ctx context.Context, pt *purgeTargets, p *odm.Purge, out *odm.OutDir) (err error) {
	if out.Missing && !e.DryRun {
		if err := e.createOut(ctx, out.Dir); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				os.Remove(out.Dir) // fails unless still empty: no op wrote into it
			}
		}()
		out.Missing, out.Created = false, true
		if err := e.openOut(ctx, pt, out); err != nil {
			return err
		}
	}
	var o applyOptions
	if out.Missing {
		n, err := e.renderNewOut(e.text(), out, pt.tgts[pt.root].Root, p)
		if err != nil {
			return err
		}
		e.logf("dry run: --output %s does not exist yet; a run creates it (its parent exists)", out.Dir)
		if _, inside := out.Inside(pt.root); inside {
			o.unshown = n // the run's one op holds them with the nodes
		} else {
			e.logf("dry run: nothing was changed (%d change(s) planned in %s)", n, out.Dir)
		}
	}
	split := p.Ops(pt.root, out)
	if len(split) > 1 && e.Journal == "" {
		root := pt.tgts[pt.root].Root
		o.journal = func(create bool) (string, error) { return journal.DefaultPath(root, create) }
	}
	for _, s := range split {
		if _, err := e.applyWith(ctx, pt.tgts[s.Dir], s.Plan, o); err != nil {
			return err
		}
	}
	return nil
}

// createOut makes the missing --output, after the user agreed (or --yes):
// nothing is written before a confirmed plan. The plan's own prompt follows
// (with the diff), so --yes is not implied by this one.
func (e *env) createOut(ctx context.Context, dir string) error {
	if err := e.refuseUnlessConfirmed(ctx, fmt.Sprintf("--output %s does not exist: create it for the purge? (the changes are shown next and asked for again)", dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	e.logf("created %s", dir)
	return nil
}
