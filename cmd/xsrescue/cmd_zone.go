package main

import (
	"context"
	"errors"
	"fmt"
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

// zoneEditWarning is the WARNING of every zone command that edits.
const zoneEditWarning = "WARNING: for an offline zone root only (its system must not be running). Before the edit,\n" +
	"when the zone root is a ZFS dataset, xsrescue takes zfs snapshot <dataset>@xsrescue-<UTC time>\n" +
	"and records it in the journal (roll back by hand: zfs rollback <snapshot>); the file itself\n" +
	"is snapshotted into the journal, written atomically with its mode and owner kept, and\n" +
	"can be undone with xsrescue journal undo OP --root ZONEROOT. Refuses (exit 3) an image\n" +
	"whose variant.opensolaris.zone is not nonglobal unless --force.\n\n"

func newZoneCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "zone",
		Usage:       "inspect and repair Solaris zone roots: zones, zone boot environments, IPS publishers",
		Description: "Remedies for non-global zones that fail zoneadm attach -u after an OpenSolaris to\nSolaris 11 move. See docs/zfs.md.",
		Commands: []*cli.Command{newZoneListCommand(e), newZonePublishersCommand(e), newZoneUnsetPublisherCommand(e),
			newZoneSetStickyCommand(e), newZoneRestoreEtcCommand(e)},
	}
}

func zoneRootFlag(dir *string) cli.Flag {
	return &cli.StringFlag{Name: "root", Aliases: []string{"zone-root"}, Destination: dir, Usage: "the zone's root `DIR` (zonepath/root), mounted here", Required: true}
}

// zonePkgFlag chooses whose reading of the image configuration is shown
// and edited (zfsroot.Readers).
func zonePkgFlag(pkg *string) cli.Flag {
	return &cli.StringFlag{Name: "pkg", Destination: pkg, Value: zfsroot.DefaultReader,
		Usage: "read and edit the configuration as this pkg reads it: `NAME` solaris11 (the Solaris 11 global zone's pkg, which zoneadm attach -u runs on the zone), snv_134 (the zone's own OpenSolaris pkg; only a cfg_cache written before 2010-10) or python3 (OpenIndiana's current pkg)"}
}

func zoneForceFlag(force *bool) cli.Flag {
	return &cli.BoolFlag{Name: "force", Destination: force, Usage: "edit an image that is not a non-global zone image"}
}

// zoneListOptions are the flags of zone list.
type zoneListOptions struct {
	targetOptions
	GlobalBE string
}

func newZoneListCommand(e *env) *cli.Command {
	var o zoneListOptions
	return &cli.Command{
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
		Flags: append(o.targetOptions.flags(),
			&cli.StringFlag{Name: "global-be", Destination: &o.GlobalBE, Usage: "the global boot environment the zones belong to: `NAME`, pool/ROOT/NAME or its org.opensolaris.libbe:uuid (default: the pool's bootfs)"}),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runZoneList(ctx, e, o) }),
	}
}

// zonePublishersOptions are the flags of zone publishers.
type zonePublishersOptions struct {
	ZoneRoot, GlobalRoot, Pkg string
}

func newZonePublishersCommand(e *env) *cli.Command {
	var o zonePublishersOptions
	return &cli.Command{
		Name:      "publishers",
		Usage:     "list the IPS publishers of a zone image and flag suspects",
		ArgsUsage: " ",
		Description: "Reads var/pkg/pkg5.image, else var/pkg/cfg_cache, and var/pkg/disabled_auth, of the zone\n" +
			"root exactly as the pkg named by --pkg reads them. The default is the pkg that acts on a\n" +
			"zone image: zoneadm attach -u runs the Solaris 11 global zone's pkg on the zone root, and\n" +
			"it reads even an OpenSolaris cfg_cache with the version 3 definitions (what Python 3 pkg\n" +
			"refuses is checked too); --pkg snv_134 reads a cfg_cache written before 2010-10 as the\n" +
			"zone's own pkg did. Lists each publisher with origins, mirrors, sticky, disabled,\n" +
			"search order and preferred, as pkg sees them (a missing sticky is True for snv_134 pkg\n" +
			"and False in a version 3 configuration; a repeated key's last value wins). Lists as\n" +
			"problems, with file and line, what makes that pkg refuse the image (an invalid boolean\n" +
			"in a version 3 configuration, a repeated key or section for Python 3 pkg, a file it\n" +
			"cannot parse such as one with a UTF-8 BOM, ...): then the exit status is 4. Flags suspects for zoneadm attach -u: publishers the global zone lacks\n" +
			"(with --global-root), leftover temporary za<digits> publishers, a sticky opensolaris.org,\n" +
			"origins on hosts that no longer serve packages. Read-only; unlike Solaris 11 pkg -R it\n" +
			"never converts the image.\n\n" + exitHelp,
		Flags: []cli.Flag{zoneRootFlag(&o.ZoneRoot), zonePkgFlag(&o.Pkg),
			&cli.StringFlag{Name: "global-root", Destination: &o.GlobalRoot, Usage: "the global zone's root `DIR`, to find zone-only publishers"}},
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runZonePublishers(ctx, e, o) }),
	}
}

// zoneEditOptions are the flags of zone unset-publisher and set-sticky.
type zoneEditOptions struct {
	ZoneRoot, Pkg string
	Force         bool
}

func newZoneUnsetPublisherCommand(e *env) *cli.Command {
	var o zoneEditOptions
	return &cli.Command{
		Name:      "unset-publisher",
		Usage:     "remove a publisher from a zone image's configuration",
		ArgsUsage: "NAME",
		Description: "Removes publisher NAME offline the way pkg unset-publisher changes the configuration:\n" +
			"every section that holds it (repeats and disabled_auth included), its entry in\n" +
			"publisher-search-order, and, in a cfg_cache written before 2010-10, a preferred-authority\n" +
			"naming it moved to the new first publisher (later pkg leaves preferred-authority alone).\n" +
			"Every other line stays byte-identical. Refuses (exit 3) to leave no enabled publisher.\n" +
			"An absent publisher is \"already as requested\" (exit 0).\n\n" +
			zoneEditWarning + exitHelp,
		Flags: []cli.Flag{zoneRootFlag(&o.ZoneRoot), zonePkgFlag(&o.Pkg), zoneForceFlag(&o.Force)},
		Action: action(1, 1, func(ctx context.Context, a []string) error {
			return runZoneEdit(ctx, e, o, a[0], func(img *zfsroot.Image) (*plan.Plan, error) { return img.UnsetPublisherPlan(a[0]) })
		}),
	}
}

func newZoneSetStickyCommand(e *env) *cli.Command {
	var o zoneEditOptions
	return &cli.Command{
		Name:      "set-sticky",
		Usage:     "set a publisher of a zone image sticky or non-sticky",
		ArgsUsage: "NAME true|false",
		Description: "Sets sticky = False (or True) in every section that holds the publisher (the one pkg\n" +
			"uses and a copy it ignores, in disabled_auth or cfg_cache), adding the key where it is\n" +
			"absent (absent means True for snv_134 pkg but False in a version 3 configuration) and\n" +
			"removing earlier repeats of it, which pkg would otherwise read or refuse. The result is\n" +
			"read back as the --pkg pkg would (and by the other two) before anything is written. The lighter remedy for a\n" +
			"sticky opensolaris.org that keeps installed packages from moving to the solaris\n" +
			"publisher.\n\n" + zoneEditWarning + exitHelp,
		Flags: []cli.Flag{zoneRootFlag(&o.ZoneRoot), zonePkgFlag(&o.Pkg), zoneForceFlag(&o.Force)},
		Action: action(2, 2, func(ctx context.Context, a []string) error {
			sticky, err := strconv.ParseBool(a[1])
			if err != nil {
				return usagef("xsrescue zone set-sticky: %q is not true or false", a[1])
			}
			return runZoneEdit(ctx, e, o, a[0], func(img *zfsroot.Image) (*plan.Plan, error) { return img.SetStickyPlan(a[0], sticky) })
		}),
	}
}

// zoneRestoreEtcOptions are the flags of zone restore-etc.
type zoneRestoreEtcOptions struct {
	ZoneRoot, Snapshot string
	Paths              []string
}

func newZoneRestoreEtcCommand(e *env) *cli.Command {
	var o zoneRestoreEtcOptions
	return &cli.Command{
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
			"dropped.\n\n" + zoneEditWarning + exitHelp,
		Flags: []cli.Flag{zoneRootFlag(&o.ZoneRoot),
			&cli.StringFlag{Name: "snapshot", Destination: &o.Snapshot, Usage: "the snapshot `DATASET@SNAP` to restore from", Required: true},
			&cli.StringSliceFlag{Name: "paths", Destination: &o.Paths, Usage: "paths below the zone root to restore", Value: []string{"etc"}}},
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runZoneRestoreEtc(ctx, e, o) }),
	}
}

func runZoneList(ctx context.Context, e *env, o zoneListOptions) error {
	tgt, err := e.openTarget(ctx, o.target())
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
	doc := &zoneListDoc{Root: tgt.Root.Dir(), Skipped: append([]zfsroot.SkippedLine{}, idx.Skipped...), Zones: []zoneDoc{}}
	for _, ze := range idx.Zones {
		if ze.Name == "global" {
			continue
		}
		z := newZoneDoc(tgt.Root, ze)
		switch {
		case zfsErr != nil:
			z.ZBENote = "no zfs command here: zone boot environments not shown"
		case ze.State == "configured":
			z.ZBENote = "configured only: no zone boot environments yet"
		default:
			r, err := zfsroot.FindZBEs(ctx, zfsroot.CLI{}, ze.Zonepath, tgt.Root.Dir(), o.GlobalBE)
			if errors.Is(err, zfsroot.ErrNoSuchBE) || xerr.Code(err) == xerr.ExitInvalid {
				return err
			}
			if err != nil {
				z.ZBENote = err.Error() + " (import the pool read-only with -R " + tgt.Root.Dir() + "; see xsrescue zfs labels)"
			}
			z.ZBE = r
		}
		doc.Zones = append(doc.Zones, z)
	}
	return e.emit(doc, doc.render)
}

// newZoneDoc is a zone of the index with what its XML says, and what
// zoneadm would make of its index line.
func newZoneDoc(root *target.Root, ze zfsroot.ZoneEntry) zoneDoc {
	z := zoneDoc{Name: ze.Name, State: ze.State, Zonepath: ze.Zonepath, UUID: ze.UUID, Datasets: []string{}, Problems: []string{},
		ZoneRoot: zfsroot.ZoneRoot(ze.Zonepath), Here: path.Join(root.Dir(), zfsroot.ZoneRoot(ze.Zonepath))}
	if ze.UUIDCleared != "" {
		z.Problems = append(z.Problems, fmt.Sprintf("etc/zones/index line %d: uuid %q is not a uuid: getzoneent clears it", ze.Line, ze.UUIDCleared))
	}
	if !strings.HasPrefix(ze.Zonepath, "/") {
		z.Problems = append(z.Problems, fmt.Sprintf("etc/zones/index line %d: zonepath %q is not absolute: getzoneent returns it as is", ze.Line, ze.Zonepath))
	}
	name := "etc/zones/" + ze.Name + ".xml"
	xf, err := root.Open(name)
	if pe := (*fs.PathError)(nil); errors.Is(err, fs.ErrNotExist) {
		z.Config = name + " missing: zoneadm cannot attach it"
		return z
	} else if errors.As(err, &pe) {
		z.Config = name + ": " + pe.Err.Error()
		return z
	} else if err != nil {
		z.Config = err.Error()
		return z
	}
	c, err := zfsroot.ParseZoneXML(xf, name)
	xf.Close()
	if err != nil {
		z.Config = err.Error()
		return z
	}
	z.Brand, z.Datasets = c.Brand, append(z.Datasets, c.Datasets...)
	if c.Zonepath != ze.Zonepath {
		z.Config = fmt.Sprintf("%s says zonepath %s, the index %s", name, c.Zonepath, ze.Zonepath)
	}
	return z
}

// openZoneRoot opens --root and loads its pkg image; forChange opens
// it as a mutating command's target (openForChange: read-only, locked).
func (e *env) openZoneRoot(ctx context.Context, dir, pkg string, forChange bool) (*target.Target, *zfsroot.Image, error) {
	o := target.Options{Root: dir}
	var tgt *target.Target
	var err error
	if forChange {
		tgt, err = e.openForChange(ctx, o)
	} else {
		tgt, err = target.Open(ctx, o)
	}
	if err != nil {
		return nil, nil, err
	}
	img, err := zfsroot.LoadImageAs(tgt.Root.FS(), pkg)
	if err != nil {
		tgt.Close()
		if errors.Is(err, zfsroot.ErrNoImage) || errors.Is(err, fs.ErrNotExist) {
			return nil, nil, xerr.Invalidf("%s: %w", tgt.Root.Dir(), err)
		}
		return nil, nil, fmt.Errorf("%s: %w", tgt.Root.Dir(), err)
	}
	return tgt, img, nil
}

func runZonePublishers(ctx context.Context, e *env, o zonePublishersOptions) error {
	tgt, img, err := e.openZoneRoot(ctx, o.ZoneRoot, o.Pkg, false)
	if err != nil {
		return err
	}
	defer tgt.Close()
	var global *zfsroot.Image
	if o.GlobalRoot != "" {
		gt, err := target.Open(ctx, target.Options{Root: o.GlobalRoot})
		if err != nil {
			return err
		}
		defer gt.Close()
		if global, err = zfsroot.LoadImage(gt.Root.FS()); err != nil {
			return xerr.Invalidf("--global-root %s: %w", o.GlobalRoot, err)
		}
	}
	img.FlagSuspects(global)
	doc := newPublishersDoc(tgt.Root.Dir(), img)
	if err := e.emit(doc, doc.render); err != nil || len(img.Problems) == 0 {
		return err
	}
	return xerr.Problems(fmt.Errorf("zone publishers: %d problem(s) make pkg refuse the image; first: %s", len(img.Problems), img.Problems[0]))
}

func runZoneEdit(ctx context.Context, e *env, o zoneEditOptions, publisher string, edit func(*zfsroot.Image) (*plan.Plan, error)) error {
	tgt, img, err := e.openZoneRoot(ctx, o.ZoneRoot, o.Pkg, true)
	if err != nil {
		return err
	}
	defer tgt.Close()
	if !o.Force {
		if err := img.CheckZone(); err != nil {
			return err
		}
	}
	p, err := edit(img)
	if err != nil {
		return err
	}
	doc := &zoneEditDoc{File: img.File, Publisher: publisher}
	if pub, ok := img.Publisher(publisher); ok {
		doc.File = pub.File
	}
	e.setTarget(targetOf(tgt))
	snap, _, err := e.applyZonePlan(ctx, tgt, p, applyOptions{})
	if err != nil {
		return err
	}
	doc.Snapshot = nilIfEmpty(snap)
	return e.emitMutation(nil, doc, nil)
}

// applyZonePlan runs the plan through the journal with the safety snapshot
// of the zone root's dataset (if it is on ZFS) first in it, as an external
// record. The snapshot is shown with the plan and taken only once the plan
// is confirmed (a refusal or --dry-run makes none). It returns the
// snapshot's name ("" when none was taken).
func (e *env) applyZonePlan(ctx context.Context, tgt *target.Target, p *plan.Plan, o applyOptions) (string, *plan.Result, error) {
	if p.Empty() {
		res, err := e.applyWith(ctx, tgt, p, o)
		return "", res, err
	}
	ds, err := zfsroot.DatasetOf(tgt.Root.Dir())
	if err != nil {
		return "", nil, err
	}
	snap, taken := "", false
	if ds != "" {
		ch := zfsroot.SafetySnapshot(ds, p.Command, time.Now())
		snap = ch.External.Name
		p.Changes = append([]plan.Change{ch}, p.Changes...)
		o.confirmed = func(ctx context.Context) error {
			ch, err := (zfsroot.CLI{}).TakeSafetySnapshot(ctx, ds, p.Command, time.Now())
			if err != nil {
				return xerr.Refusedf("no edit without the safety snapshot of %s (is the pool imported read-only?); nothing changed: %w", ds, err)
			}
			e.logf("took safety snapshot %s (roll back by hand: %s)", ch.External.Name, ch.External.Rollback)
			p.Changes[0], snap, taken = ch, ch.External.Name, true
			return nil
		}
	}
	res, err := e.applyWith(ctx, tgt, p, o)
	if err != nil && taken {
		err = fmt.Errorf("%w (the safety snapshot %s was kept; zfs destroy it if unwanted)", err, snap)
	}
	if e.DryRun {
		snap = ""
	}
	return snap, res, err
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
