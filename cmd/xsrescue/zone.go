package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/zfsroot"
)

func init() {
	zoneRoot := &cli.StringFlag{Name: "zone-root", Usage: "the zone's root `DIR` (zonepath/root), mounted here", Required: true}
	force := &cli.BoolFlag{Name: "force", Usage: "edit an image that is not a non-global zone image"}
	editWarning := "WARNING: for an offline zone root only (its system must not be running). Before the edit,\n" +
		"when the zone root is a ZFS dataset, xsrescue takes zfs snapshot <dataset>@xsrescue-<UTC time>\n" +
		"and records it in the journal (roll back by hand: zfs rollback <snapshot>); the file itself\n" +
		"is snapshotted into the journal, written atomically with its mode and owner kept, and\n" +
		"can be undone with xsrescue journal undo OP --root ZONEROOT. Refuses (exit 3) an image\n" +
		"whose variant.opensolaris.zone is not nonglobal unless --force.\n\n"
	register(func() *cli.Command {
		return &cli.Command{
			Name:        "zone",
			Usage:       "inspect and repair Solaris zone roots: zones, zone boot environments, IPS publishers",
			Description: "Remedies for non-global zones that fail zoneadm attach -u after an OpenSolaris to\nSolaris 11 move. See docs/zfs.md.",
			Commands: []*cli.Command{
				{
					Name:      "list",
					Usage:     "list the zones of a global zone root with their boot environments",
					ArgsUsage: " ",
					Description: "Reads etc/zones/index and etc/zones/<zone>.xml of the global zone root (--root, or\n" +
						"--disk/--partition) and shows each zone's state, zonepath, zone root and brand. When the\n" +
						"zfs command can see the pool (Solaris media, OpenZFS, zfs-fuse; import it read-only with\n" +
						"-R set to the root), it also lists the zone boot environments (zbe datasets under\n" +
						"<zonepath dataset>/ROOT or /rpool/ROOT) with org.opensolaris.libbe:active/parentbe,\n" +
						"which one the brand scripts take as current for the global BE, and the error zoneadm\n" +
						"would give (\"no active dataset.\", \"multiple active datasets.\") with the command that\n" +
						"fixes it; zone BEs are listed in numeric order (zbe-2 before zbe-10).\n\n" +
						"The global BE is the pool's bootfs (the BE active on the next boot) unless --global-be\n" +
						"names one. The ipkg brand takes the BE that is booted (beadm's N flag) or mounted at the\n" +
						"alternate root: after beadm activate without a reboot the two differ, so name the BE the\n" +
						"zone will be attached from with --global-be.\n\n" +
						"The index is read as illumos getzoneent reads it: lines it skips (a last line without a\n" +
						"newline, an unknown state such as Solaris 11's unavailable, an empty name) are listed with\n" +
						"the reason; a uuid it cannot parse is shown as cleared. Read-only.\n\n" + exitHelp,
					Flags: append(targetFlags(),
						&cli.StringFlag{Name: "global-be", Usage: "the global boot environment the zones belong to: `NAME`, pool/ROOT/NAME or its org.opensolaris.libbe:uuid (default: the pool's bootfs)"}),
					Action: runZoneList,
				},
				{
					Name:      "publishers",
					Usage:     "list the IPS publishers of a zone image and flag suspects",
					ArgsUsage: " ",
					Description: "Reads var/pkg/pkg5.image, else var/pkg/cfg_cache, and var/pkg/disabled_auth, of the zone\n" +
						"root exactly as the pkg of the file's era reads them: a cfg_cache written before 2010-10\n" +
						"as snv_134 pkg, a version 3 cfg_cache and pkg5.image as Solaris 11 pkg (what Python 3 pkg\n" +
						"refuses is checked too). Lists each publisher with origins, mirrors, sticky, disabled,\n" +
						"search order and preferred, as pkg sees them (a missing sticky is True for snv_134 pkg\n" +
						"and False in a version 3 configuration; a repeated key's last value wins). Lists as\n" +
						"problems, with file and line, what makes that pkg refuse the image (an invalid boolean\n" +
						"in a version 3 configuration, a repeated key or section for Python 3 pkg, ...): then the\n" +
						"exit status is 4. Flags suspects for zoneadm attach -u: publishers the global zone lacks\n" +
						"(with --global-root), leftover temporary za<digits> publishers, a sticky opensolaris.org,\n" +
						"origins on hosts that no longer serve packages. Read-only; unlike Solaris 11 pkg -R it\n" +
						"never converts the image.\n\n" + exitHelp,
					Flags: []cli.Flag{zoneRoot,
						&cli.StringFlag{Name: "global-root", Usage: "the global zone's root `DIR`, to find zone-only publishers"}},
					Action: runZonePublishers,
				},
				{
					Name:      "unset-publisher",
					Usage:     "remove a publisher from a zone image's configuration",
					ArgsUsage: "NAME",
					Description: "Removes publisher NAME offline the way pkg unset-publisher changes the configuration:\n" +
						"every section that holds it (repeats and disabled_auth included), its entry in\n" +
						"publisher-search-order, and, in a cfg_cache written before 2010-10, a preferred-authority\n" +
						"naming it moved to the new first publisher (later pkg leaves preferred-authority alone).\n" +
						"Every other line stays byte-identical. Refuses (exit 3) to leave no enabled publisher.\n" +
						"An absent publisher is \"already as requested\" (exit 0).\n\n" +
						editWarning + exitHelp,
					Flags:  []cli.Flag{zoneRoot, force},
					Action: runZoneUnsetPublisher,
				},
				{
					Name:      "set-sticky",
					Usage:     "set a publisher of a zone image sticky or non-sticky",
					ArgsUsage: "NAME true|false",
					Description: "Sets sticky = False (or True) in every section that holds the publisher (the one pkg\n" +
						"uses and a copy it ignores, in disabled_auth or cfg_cache), adding the key where it is\n" +
						"absent (absent means True for snv_134 pkg but False in a version 3 configuration) and\n" +
						"removing earlier repeats of it, which pkg would otherwise read or refuse. The result is\n" +
						"read back as the file's pkg would before anything is written. The lighter remedy for a\n" +
						"sticky opensolaris.org that keeps installed packages from moving to the solaris\n" +
						"publisher.\n\n" + editWarning + exitHelp,
					Flags:  []cli.Flag{zoneRoot, force},
					Action: runZoneSetSticky,
				},
				{
					Name:      "restore-etc",
					Usage:     "copy etc (or given paths) from a ZFS snapshot back into the zone root",
					ArgsUsage: " ",
					Description: "Copies etc, or the --paths given, from DATASET@SNAP into the zone root through the\n" +
						"journal: changed files rewritten, missing files and symlinks created, and files and\n" +
						"directories given the snapshot's mode and owner. The journal changes a path once per\n" +
						"op, so a file whose content and mode (or owner) both differ takes a second (and\n" +
						"third) op in the same run, listed before the first is applied; undo them newest\n" +
						"first. A second run is \"already as requested\". Files that exist only in the zone\n" +
						"root are kept and listed as not restored. The snapshot is read through\n" +
						"<mountpoint>/.zfs/snapshot/SNAP when present (OpenZFS, Solaris), otherwise through a\n" +
						"temporary read-only clone destroyed afterwards (zfs-fuse; on a pool imported with -R\n" +
						"it is mounted at ALTROOT/.xsrescue-restore-N). --dry-run never makes a clone: where\n" +
						"one is needed it names the clone and shows no file plan. What the journal cannot do\n" +
						"(create a directory, replace a file by a directory) is listed, never silently\n" +
						"dropped.\n\n" + editWarning + exitHelp,
					Flags: []cli.Flag{zoneRoot,
						&cli.StringFlag{Name: "snapshot", Usage: "the snapshot `DATASET@SNAP` to restore from", Required: true},
						&cli.StringSliceFlag{Name: "paths", Usage: "paths below the zone root to restore", Value: []string{"etc"}}},
					Action: runZoneRestoreEtc,
				},
			},
		}
	})
}

// zoneDoc is one zone of `zone list --json`.
type zoneDoc struct {
	Name     string             `json:"name"`
	State    string             `json:"state"`
	Zonepath string             `json:"zonepath"`
	ZoneRoot string             `json:"zone_root"`
	Here     string             `json:"zone_root_here"` // the zone root on this system: pass it as --zone-root
	UUID     string             `json:"uuid"`
	Problems []string           `json:"problems"` // what zoneadm would make of the index line (cleared uuid, relative zonepath)
	Brand    string             `json:"brand"`
	Datasets []string           `json:"datasets"`
	Config   string             `json:"config_error,omitempty"`
	ZBE      *zfsroot.ZBEReport `json:"zbe"`
	ZBENote  string             `json:"zbe_note,omitempty"`
}

func runZoneList(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	tgt, err := openTarget(ctx, cmd, false)
	if err != nil {
		return err
	}
	defer tgt.Close()
	f, err := tgt.Root.Open("etc/zones/index")
	if err != nil {
		return xerr.Invalidf("%s: %w", tgt.Name(), err)
	}
	idx, err := zfsroot.ParseZoneIndex(f, "etc/zones/index")
	f.Close()
	if err != nil {
		return err
	}
	_, zfsErr := exec.LookPath("zfs")
	zones := []zoneDoc{}
	for _, e := range idx.Zones {
		if e.Name == "global" {
			continue
		}
		z := zoneDoc{Name: e.Name, State: e.State, Zonepath: e.Zonepath, UUID: e.UUID, Datasets: []string{}, Problems: []string{},
			ZoneRoot: zfsroot.ZoneRoot(e.Zonepath), Here: path.Join(tgt.Root.Dir(), zfsroot.ZoneRoot(e.Zonepath))}
		if e.UUIDCleared != "" {
			z.Problems = append(z.Problems, fmt.Sprintf("etc/zones/index line %d: uuid %q is not a uuid: getzoneent clears it", e.Line, e.UUIDCleared))
		}
		if !strings.HasPrefix(e.Zonepath, "/") {
			z.Problems = append(z.Problems, fmt.Sprintf("etc/zones/index line %d: zonepath %q is not absolute: getzoneent returns it as is", e.Line, e.Zonepath))
		}
		name := "etc/zones/" + e.Name + ".xml"
		if xf, err := tgt.Root.Open(name); errors.Is(err, fs.ErrNotExist) {
			z.Config = name + " missing: zoneadm cannot attach it"
		} else if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			z.Config = name + ": " + pe.Err.Error()
		} else if err != nil {
			z.Config = err.Error()
		} else {
			c, err := zfsroot.ParseZoneXML(xf, name)
			xf.Close()
			if err != nil {
				z.Config = err.Error()
			} else {
				z.Brand, z.Datasets = c.Brand, append(z.Datasets, c.Datasets...)
				if c.Zonepath != e.Zonepath {
					z.Config = fmt.Sprintf("%s says zonepath %s, the index %s", name, c.Zonepath, e.Zonepath)
				}
			}
		}
		switch {
		case zfsErr != nil:
			z.ZBENote = "no zfs command here: zone boot environments not shown"
		case e.State == "configured":
			z.ZBENote = "configured only: no zone boot environments yet"
		default:
			r, err := zfsroot.FindZBEs(ctx, zfsroot.CLI{}, e.Zonepath, tgt.Root.Dir(), cmd.String("global-be"))
			if errors.Is(err, zfsroot.ErrNoSuchBE) || xerr.Code(err) == xerr.ExitInvalid {
				return err
			}
			if err != nil {
				z.ZBENote = err.Error() + " (import the pool read-only with -R " + tgt.Root.Dir() + "; see xsrescue zfs labels)"
			}
			z.ZBE = r
		}
		zones = append(zones, z)
	}
	doc := map[string]any{"root": tgt.Root.Dir(), "zones": zones, "skipped_lines": append([]zfsroot.SkippedLine{}, idx.Skipped...)}
	return output(cmd).Emit(doc, func(w io.Writer) error {
		for _, s := range idx.Skipped {
			fmt.Fprintf(w, "etc/zones/index line %d ignored (%s): %s\n", s.Line, s.Reason, s.Text)
		}
		for _, z := range zones {
			fmt.Fprintf(w, "%s  %s  brand %s  zonepath %s  zone root %s (here %s)\n", z.Name, z.State, orDash(z.Brand), z.Zonepath, z.ZoneRoot, z.Here)
			if z.Config != "" {
				fmt.Fprintf(w, "  problem: %s\n", z.Config)
			}
			for _, p := range z.Problems {
				fmt.Fprintf(w, "  problem: %s\n", p)
			}
			if z.ZBENote != "" {
				fmt.Fprintf(w, "  zbe: %s\n", z.ZBENote)
			}
			if r := z.ZBE; r != nil {
				from := "--global-be"
				if r.GlobalBESource == "bootfs" {
					from = "the pool's bootfs: active on reboot, not necessarily booted"
				}
				fmt.Fprintf(w, "  zbe container %s (%s layout); global BE %s uuid %s (%s)\n", orDash(r.Container), orDash(r.Layout), orDash(r.GlobalBE), orDash(r.GlobalUUID), from)
				for _, b := range r.ZBEs {
					mark := " "
					if b.Current {
						mark = "*"
					}
					fmt.Fprintf(w, "  %s %s  active=%s parentbe=%s canmount=%s zoned=%s mountpoint=%s\n", mark, b.Name, b.Active, b.ParentBE, b.Canmount, b.Zoned, b.Mountpoint)
				}
				if r.Error != "" {
					fmt.Fprintf(w, "  zoneadm would fail: %s\n  fix: %s\n", r.Error, r.Fix)
				}
			}
		}
		return nil
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openZoneRoot opens --zone-root and loads its pkg image; forChange opens
// it as a mutating command's target (openForChange: read-only, locked).
func openZoneRoot(ctx context.Context, cmd *cli.Command, forChange bool) (*target.Target, *zfsroot.Image, error) {
	o := target.Options{Root: cmd.String("zone-root")}
	var tgt *target.Target
	var err error
	if forChange {
		tgt, err = openForChange(ctx, cmd, o)
	} else {
		tgt, err = target.Open(ctx, o)
	}
	if err != nil {
		return nil, nil, err
	}
	img, err := zfsroot.LoadImage(tgt.Root.FS())
	if err != nil {
		tgt.Close()
		if errors.Is(err, zfsroot.ErrNoImage) || errors.Is(err, fs.ErrNotExist) {
			return nil, nil, xerr.Invalidf("%s: %w", tgt.Root.Dir(), err)
		}
		return nil, nil, fmt.Errorf("%s: %w", tgt.Root.Dir(), err)
	}
	return tgt, img, nil
}

func runZonePublishers(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	tgt, img, err := openZoneRoot(ctx, cmd, false)
	if err != nil {
		return err
	}
	defer tgt.Close()
	var global *zfsroot.Image
	if g := cmd.String("global-root"); g != "" {
		gt, err := target.Open(ctx, target.Options{Root: g})
		if err != nil {
			return err
		}
		defer gt.Close()
		if global, err = zfsroot.LoadImage(gt.Root.FS()); err != nil {
			return xerr.Invalidf("--global-root %s: %w", g, err)
		}
	}
	img.FlagSuspects(global)
	doc := map[string]any{"zone_root": tgt.Root.Dir(), "file": img.File, "era": img.Era, "read_as": img.Reader(), "zone": img.Zone,
		"preferred": img.Preferred, "search_order": append([]string{}, img.SearchOrder...), "publishers": img.Publishers,
		"problems": append([]zfsroot.Problem{}, img.Problems...), "notes": append([]zfsroot.Problem{}, img.Notes...)}
	err = output(cmd).Emit(doc, func(w io.Writer) error {
		fmt.Fprintf(w, "%s: %s (%s, read as %s; variant.opensolaris.zone = %s)\n", tgt.Root.Dir(), img.File, img.Era, img.Reader(), orDash(img.Zone))
		for _, p := range img.Publishers {
			flags := []string{}
			for _, f := range []struct {
				on   bool
				name string
			}{{p.Preferred, "preferred"}, {p.Sticky, "sticky"}, {!p.Sticky, "non-sticky"}, {p.Disabled, "disabled"}} {
				if f.on {
					flags = append(flags, f.name)
				}
			}
			rank := "-"
			if p.Rank > 0 {
				rank = strconv.Itoa(p.Rank)
			}
			fmt.Fprintf(w, "%s %s  %s  origins %s  mirrors %s  (%s)\n", rank, p.Name, strings.Join(flags, ","), orDash(strings.Join(p.Origins, " ")), orDash(strings.Join(p.Mirrors, " ")), p.File)
			if p.StickyNote != "" {
				fmt.Fprintf(w, "    sticky: %s\n", p.StickyNote)
			}
			for _, s := range p.Shadowed {
				fmt.Fprintf(w, "    ignored copy: %s\n", s)
			}
			for _, s := range p.Suspects {
				fmt.Fprintf(w, "    suspect: %s\n", s)
			}
		}
		for _, n := range img.Notes {
			fmt.Fprintf(w, "note (%s pkg): %s\n", n.Pkg, n)
		}
		for _, p := range img.Problems {
			fmt.Fprintf(w, "PROBLEM (%s pkg refuses the image): %s\n", p.Pkg, p)
		}
		return nil
	})
	if err != nil || len(img.Problems) == 0 {
		return err
	}
	return alreadyReported(xerr.Problems(fmt.Errorf("zone publishers: %d problem(s) make pkg refuse the image; first: %s", len(img.Problems), img.Problems[0])))
}

// applyZonePlan runs the plan through the journal with the safety snapshot
// of the zone root's dataset (if it is on ZFS) first in it, as an external
// record. The snapshot is shown with the plan and taken only once the plan
// is confirmed (a refusal or --dry-run makes none).
func applyZonePlan(ctx context.Context, cmd *cli.Command, tgt *target.Target, p *plan.Plan) (string, *plan.Result, error) {
	if p.Empty() {
		res, err := applyPlan(ctx, cmd, tgt, p)
		return "", res, err
	}
	ds, err := zfsroot.DatasetOf(tgt.Root.Dir())
	if err != nil {
		return "", nil, err
	}
	snap, taken := "", false
	var confirmed func(context.Context) error
	if ds != "" {
		ch := zfsroot.SafetySnapshot(ds, p.Command, time.Now())
		snap = ch.External.Name
		p.Changes = append([]plan.Change{ch}, p.Changes...)
		confirmed = func(ctx context.Context) error {
			ch, err := (zfsroot.CLI{}).TakeSafetySnapshot(ctx, ds, p.Command, time.Now())
			if err != nil {
				return xerr.Refusedf("no edit without the safety snapshot of %s (is the pool imported read-only?); nothing changed: %w", ds, err)
			}
			output(cmd).Logf("took safety snapshot %s (roll back by hand: %s)", ch.External.Name, ch.External.Rollback)
			p.Changes[0], snap, taken = ch, ch.External.Name, true
			return nil
		}
	}
	res, err := applyPlanWith(ctx, cmd, tgt, p, confirmed)
	if err != nil && taken {
		err = fmt.Errorf("%w (the safety snapshot %s was kept; zfs destroy it if unwanted)", err, snap)
	}
	if cmd.Bool("dry-run") {
		snap = ""
	}
	return snap, res, err
}

func zoneEditDoc(cmd *cli.Command, tgt *target.Target, file, publisher, snap string, res *plan.Result) error {
	doc := map[string]any{"zone_root": tgt.Root.Dir(), "file": file, "publisher": publisher, "snapshot": nilIfEmpty(snap), "op": res}
	return output(cmd).Emit(doc, func(io.Writer) error { return nil })
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func runZoneUnsetPublisher(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 1, 1)
	if err != nil {
		return err
	}
	return zoneEdit(ctx, cmd, a[0], func(img *zfsroot.Image) (*plan.Plan, error) { return img.UnsetPublisherPlan(a[0]) })
}

func runZoneSetSticky(ctx context.Context, cmd *cli.Command) error {
	a, err := args(cmd, 2, 2)
	if err != nil {
		return err
	}
	sticky, err := strconv.ParseBool(a[1])
	if err != nil {
		return usageError{fmt.Errorf("%s: %q is not true or false", cmd.FullName(), a[1])}
	}
	return zoneEdit(ctx, cmd, a[0], func(img *zfsroot.Image) (*plan.Plan, error) { return img.SetStickyPlan(a[0], sticky) })
}

func zoneEdit(ctx context.Context, cmd *cli.Command, publisher string, edit func(*zfsroot.Image) (*plan.Plan, error)) error {
	tgt, img, err := openZoneRoot(ctx, cmd, true)
	if err != nil {
		return err
	}
	defer tgt.Close()
	if !cmd.Bool("force") {
		if err := img.CheckZone(); err != nil {
			return err
		}
	}
	pl, err := edit(img)
	if err != nil {
		return err
	}
	file := img.File
	if p, ok := img.Publisher(publisher); ok {
		file = p.File
	}
	snap, res, err := applyZonePlan(ctx, cmd, tgt, pl)
	if err != nil {
		return err
	}
	return zoneEditDoc(cmd, tgt, file, publisher, snap, res)
}

func runZoneRestoreEtc(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	paths, err := zfsroot.RestorePaths(cmd.StringSlice("paths"))
	if err != nil {
		return err
	}
	dryRun := cmd.Bool("dry-run")
	source := cmd.String("snapshot")
	tgt, err := openForChange(ctx, cmd, target.Options{Root: cmd.String("zone-root")})
	if err != nil {
		return err
	}
	defer tgt.Close()
	doc := map[string]any{"zone_root": tgt.Root.Dir(), "source": source, "read_through": nil, "would_clone": nil,
		"paths": paths, "skipped": []string{}, "snapshot": nil, "op": nil, "ops": []*plan.Result{}}
	dir, how, cleanup, err := zfsroot.CLI{}.SnapshotTree(ctx, source, true)
	if nc := (*zfsroot.NeedsCloneError)(nil); errors.As(err, &nc) {
		// A clone is a write to the pool: a dry run says what it would
		// make instead of making it, and a real run makes it only once
		// asked (a refusal writes nothing).
		if dryRun {
			doc["would_clone"] = nc.Clone
			output(cmd).Logf("dry run: nothing was changed; %v, which a dry run does not make: the file plan is shown only by the real run", err)
			return output(cmd).Emit(doc, func(io.Writer) error { return nil })
		}
		if !cmd.Bool("yes") {
			if err := confirmMutation(ctx, cmd, fmt.Sprintf("%s can be read here only through a temporary clone: make one (destroyed afterwards)?", source)); err != nil {
				return err
			}
		}
		dir, how, cleanup, err = zfsroot.CLI{}.SnapshotTree(ctx, source, false)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := cleanup(); err != nil {
			output(cmd).Logf("warning: %v", err)
		}
	}()
	output(cmd).Logf("reading %s through %s", source, how)
	doc["read_through"] = how
	src, err := target.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer src.Close()
	plans, skipped, err := zfsroot.RestorePlan(src, tgt.Root, paths)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		output(cmd).Logf("not restored: %s", s)
	}
	doc["skipped"] = append([]string{}, skipped...)
	for i, p := range plans[1:] {
		var what []string
		for _, c := range p.Changes {
			what = append(what, fmt.Sprintf("%s %s", c.Kind, c.Path))
		}
		output(cmd).Logf("then op %d of %d (the journal changes a path once per op): %s", i+2, len(plans), strings.Join(what, ", "))
	}
	snap, res, err := applyZonePlan(ctx, cmd, tgt, plans[0])
	if err != nil {
		return err
	}
	doc["snapshot"], doc["op"] = nilIfEmpty(snap), res
	ops := []*plan.Result{}
	if res != nil {
		ops = append(ops, res)
		// The operator confirmed the restore, follow-up ops included.
		if err := cmd.Set("yes", "true"); err != nil {
			return err
		}
	}
	for _, p := range plans[1:] {
		r, err := applyPlan(ctx, cmd, tgt, p)
		if err != nil && len(ops) > 0 {
			return fmt.Errorf("%w (op %d already restored the content; journal undo it to go back)", err, ops[0].Op)
		}
		if err != nil {
			return err
		}
		if r != nil {
			ops = append(ops, r)
		}
	}
	doc["ops"] = ops
	return output(cmd).Emit(doc, func(io.Writer) error { return nil })
}
