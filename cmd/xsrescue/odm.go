package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aymanbagabas/go-udiff"
	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/odm"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "odm",
			Usage: "AIX ODM: find and remove ghost device majors (CuDvDr objects and /dev nodes)",
			Description: "alt_disk_copy and nimadm stop with \"0516-082 lchangelv: Unable to access a special\n" +
				"device file\" when CuDvDr devno objects and /dev nodes are left behind for a major that no\n" +
				"ddins object owns: lvlstmajor lists that major as free, genmajor hands it to the next VG,\n" +
				"and the new VG collides with the leftovers. These commands read odmget dumps (and the AIX\n" +
				"root's dev/ or an `ls -l /dev` listing), give every major a verdict, and remove ghosts\n" +
				"through the journal, with ksh scripts that do the same on the AIX side.",
			Commands: []*cli.Command{odmGhostsCommand(), odmPurgeCommand()},
		}
	})
}

func odmDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "odm", Required: true,
		Usage: "`DIR` of odmget dumps: CuDvDr (required), CuDv, CuAt, CuDep, PdDv, each named X, X.odmget or X.add"}
}

func odmGhostsCommand() *cli.Command {
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
			odmDirFlag(),
			&cli.StringFlag{Name: "dev", Usage: "the AIX root's dev `DIR` (its parent is taken as the root for symlinks)"},
			&cli.StringFlag{Name: "dev-listing", Usage: "an \"ls -l /dev\" listing `FILE` instead of --dev"},
		},
		Action: runOdmGhosts,
	}
}

func odmPurgeCommand() *cli.Command {
	return &cli.Command{
		Name:      "purge",
		Usage:     "remove ghost majors: write cleaned CuDvDr and AIX scripts to --out, remove the ghost /dev nodes",
		ArgsUsage: " ",
		Description: "WARNING: removes /dev special files and symlinks of the AIX root. Only majors that are\n" +
			"ghosts by the rules are accepted (see `xsrescue odm ghosts`); anything else is refused.\n\n" +
			"Through the journal it creates in --out:\n" +
			"   CuDvDr.after.add   CuDvDr without the ghosts' devno objects\n" +
			"   CuDvDr.before.add  CuDvDr as read (restore reference)\n" +
			"   purge.ksh          the AIX side: backup of odmget CuDvDr/CuDv/CuAt/CuDep and of\n" +
			"                      $ODMDIR/CuDvDr, odmdelete -o CuDvDr -q \"resource='devno' and value1='M'\",\n" +
			"                      removal of exactly the listed nodes, savebase, verification with\n" +
			"                      lvlstmajor and odmget; stops at the first failure; honours ODMDIR\n" +
			"   undo.ksh           odmadd of the removed objects, mknod of the nodes, savebase\n" +
			"and removes the ghost nodes and the symlinks to them from --dev; the journal records type,\n" +
			"major, minor, mode and owner, so `xsrescue journal undo OP` recreates them. When --out is\n" +
			"inside the AIX root (the parent of --dev) this is one op; otherwise two: the --out files\n" +
			"first, then the nodes (both in the same journal). --dry-run prints all of it and writes\n" +
			"nothing. Needs a CuDv dump (to rule out Available devices).\n\n" +
			"Refuses (exit 3, also with --dry-run) a --dev that is the rescue system's own /dev\n" +
			"whatever its path: a bind mount of /dev (the usual chroot preparation), anything on\n" +
			"the filesystem mounted on /dev, any devtmpfs or devpts.\n\n" +
			"--out is a directory of its own: anything in it but these four files is refused. A\n" +
			"missing --out is created (mode 0755) once the purge is confirmed, never by --dry-run;\n" +
			"its parent must exist. journal undo removes the files and leaves the directory.\n\n" + exitHelp,
		Flags: []cli.Flag{
			odmDirFlag(),
			&cli.StringFlag{Name: "dev", Required: true, Usage: "the AIX root's dev `DIR`"},
			&cli.StringSliceFlag{Name: "major", Usage: "purge major `M` (repeat or comma-separate); must be a ghost"},
			&cli.BoolFlag{Name: "all-ghosts", Usage: "purge every major whose verdict is ghost"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "`DIR` for the .add files and the AIX scripts: empty, or new (its parent must exist)"},
		},
		Action: runOdmPurge,
	}
}

// loadODM reads the dumps and builds the model; bad dumps are invalid input.
func loadODM(cmd *cli.Command, dir string) (*odm.Model, error) {
	dumps, m, err := odm.Load(dir)
	if err != nil {
		return nil, err
	}
	if o := output(cmd); !o.JSON {
		var read []string
		for _, c := range odm.DumpClasses {
			if f, ok := dumps.Files[c]; ok {
				read = append(read, fmt.Sprintf("%s (%d objects)", f, dumps.Objects[c]))
			}
		}
		o.Logf("read %s", strings.Join(read, ", "))
	}
	return m, nil
}

func runOdmGhosts(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	dev, listing := cmd.String("dev"), cmd.String("dev-listing")
	if dev != "" && listing != "" {
		return usageError{errors.New("odm ghosts: --dev and --dev-listing are mutually exclusive")}
	}
	m, err := loadODM(cmd, cmd.String("odm"))
	if err != nil {
		return err
	}
	var nodes []odm.Node
	switch {
	case dev != "":
		if _, nodes, err = odm.ScanDevDir(dev, false); err != nil {
			return err
		}
	case listing != "":
		f, err := infile.Open(listing, infile.File)
		if err != nil {
			return xerr.Invalidf("--dev-listing: %w", err)
		}
		nodes, err = odm.ParseListingFile(f, listing)
		f.Close()
		if err != nil {
			return err
		}
	}
	majors := odm.Analyze(m, nodes)
	doc := map[string]any{"majors": majors}
	return output(cmd).Emit(doc, func(w io.Writer) error {
		printMajors(w, majors)
		var ghosts []string
		for _, r := range majors {
			if r.Verdict == odm.Ghost {
				ghosts = append(ghosts, fmt.Sprint(r.Major))
				printRepair(w, r)
			}
		}
		if len(ghosts) == 0 {
			fmt.Fprintln(w, "\nno ghost majors")
		} else if dev != "" {
			fmt.Fprintf(w, "\nor let xsrescue do it (journalled, undoable):\n  xsrescue odm purge --odm %s --dev %s --major %s --out DIR\n",
				cmd.String("odm"), dev, strings.Join(ghosts, ","))
		}
		return nil
	})
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

func runOdmPurge(ctx context.Context, cmd *cli.Command) (retErr error) {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	req := odm.PurgeRequest{AllGhosts: cmd.Bool("all-ghosts")}
	for _, s := range cmd.StringSlice("major") {
		n, err := odm.ParseNumber(strings.TrimSpace(s))
		if err != nil {
			return xerr.Invalidf("--major: %w", err)
		}
		req.Majors = append(req.Majors, n)
	}
	if (len(req.Majors) > 0) == req.AllGhosts {
		return usageError{errors.New("odm purge: give --major M (one or more) or --all-ghosts")}
	}
	out, err := odm.CheckOut(cmd.String("out"))
	if err != nil {
		return err
	}
	outDir := out.Dir
	m, err := loadODM(cmd, cmd.String("odm"))
	if err != nil {
		return err
	}
	// The AIX root and --out are this purge's targets: opened read-only
	// and locked before /dev and --out are read for the plan.
	tgts, err := openPurgeTargets(ctx, cmd, out)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range tgts {
			t.Close()
		}
	}()
	rootDir, nodes, err := odm.ScanDevDir(cmd.String("dev"), true)
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
	o := output(cmd)
	files := []string{}
	results := []*plan.Result{}
	if p.Done {
		files = out.Files()
	} else if !p.Empty() {
		files = out.Files()
		if out.Missing && !cmd.Bool("dry-run") {
			created, err := createOutDir(ctx, cmd, outDir)
			if err != nil {
				return err
			}
			defer func() {
				if created && retErr != nil {
					// Still empty when no op wrote into it: leave no trace.
					os.Remove(outDir)
				}
			}()
			out.Missing = false
			if err := openOutTarget(ctx, cmd, tgts, rootDir, out); err != nil {
				return err
			}
		}
		if out.Missing {
			// The journal renders only into directories that exist: the new
			// files are shown here, the node removals by the journal.
			if !o.JSON {
				if err := renderNewOut(o.Stdout(), outDir, p); err != nil {
					return err
				}
			}
			o.Logf("dry run: --out %s does not exist yet; a run creates it (its parent exists)", outDir)
		}
		ops := p.Ops(rootDir, out)
		if len(ops) > 1 && !cmd.IsSet("journal") {
			// Both ops in the journal of the AIX root, not in --out.
			if err := cmd.Set("journal", filepath.Join(rootDir, "var/lib/xsrescue/journal.db")); err != nil {
				return err
			}
		}
		for _, s := range ops {
			res, err := applyPlan(ctx, cmd, tgts[s.Dir], s.Plan)
			if err != nil {
				return err
			}
			if res != nil {
				results = append(results, res)
			}
		}
	} else if !o.JSON {
		o.Logf("odm purge: no ghost majors, nothing to do")
	}
	purged := []odm.Major{}
	for _, r := range majors {
		if slices.Contains(p.Majors, r.Major) {
			purged = append(purged, r)
		}
	}
	doc := map[string]any{
		"majors":  purged,
		"removed": append([]odm.Node{}, p.Nodes...),
		"files":   files,
		"dry_run": cmd.Bool("dry-run"),
		"ops":     results,
	}
	return o.Emit(doc, func(w io.Writer) error {
		if p.Done {
			fmt.Fprintf(w, "already as requested: ghost major(s) %s: %s holds exactly the files this purge writes and the /dev entries are gone\n", odm.JoinMajors(p.Majors), outDir)
			return nil
		}
		if !p.Empty() && !cmd.Bool("dry-run") {
			fmt.Fprintf(w, "ghost major(s) %s purged: %d devno object(s) left out of %s, %d /dev entries removed\n",
				odm.JoinMajors(p.Majors), len(p.Removed), files[0], len(p.Nodes))
			fmt.Fprintf(w, "on AIX, as root: ksh %s   (undo: ksh %s)\n", files[2], files[3])
		}
		return nil
	})
}

// createOutDir makes the missing --out, after the user agreed (or --yes):
// nothing is written before a confirmed plan. The plan's own prompt follows
// (with the diff), so --yes is not implied by this one.
func createOutDir(ctx context.Context, cmd *cli.Command, dir string) (bool, error) {
	if !cmd.Bool("yes") {
		if err := confirmMutation(ctx, cmd, fmt.Sprintf("--out %s does not exist: create it for the purge? (the changes are shown next and asked for again)", dir)); err != nil {
			return false, err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return false, fmt.Errorf("--out: %w", err)
	}
	output(cmd).Logf("created %s", dir)
	return true, nil
}

// renderNewOut shows, for a dry run, the files a purge would write into the
// --out directory that does not exist yet, as the journal shows new files.
func renderNewOut(w io.Writer, dir string, p *odm.Purge) error {
	fmt.Fprintf(w, "# create directory %s (--out; its parent exists)\n", dir)
	for _, c := range p.OutChanges(".") {
		name := filepath.Join(dir, c.Path)
		fmt.Fprintf(w, "# create %s (mode %04o, %d bytes)\n#    why: %s\n", name, c.Mode, len(c.Content), c.Why)
		if _, err := io.WriteString(w, udiff.Unified("/dev/null", "b"+name, "", string(c.Content))); err != nil {
			return err
		}
	}
	return nil
}

// openPurgeTargets opens, for a change, the root holding --dev and, when
// it lies outside that root, --out (in that order), keyed by directory.
//
// A missing --out is not opened here: it is created, then opened by
// openOutTarget, only once the purge is confirmed.
func openPurgeTargets(ctx context.Context, cmd *cli.Command, out *odm.OutDir) (map[string]*target.Target, error) {
	rootDir, _, err := odm.DevRoot(cmd.String("dev"))
	if err != nil {
		return nil, err
	}
	t, err := openForChange(ctx, cmd, target.Options{Root: rootDir})
	if err != nil {
		return nil, err
	}
	tgts := map[string]*target.Target{rootDir: t}
	if !out.Missing {
		if err := openOutTarget(ctx, cmd, tgts, rootDir, out); err != nil {
			t.Close()
			return nil, err
		}
	}
	return tgts, nil
}

// openOutTarget opens and locks --out as a target of its own when it lies
// outside the AIX root (inside it, the root's target covers it).
func openOutTarget(ctx context.Context, cmd *cli.Command, tgts map[string]*target.Target, rootDir string, out *odm.OutDir) error {
	if _, inside := out.Inside(rootDir); inside {
		return nil
	}
	t, err := openForChange(ctx, cmd, target.Options{Root: out.Dir})
	if err != nil {
		return err
	}
	tgts[out.Dir] = t
	return nil
}
