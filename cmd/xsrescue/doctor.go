package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/doctor"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/target"
	"github.com/xsrescue/xsrescue/versionfile"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:      "doctor",
			Usage:     "diagnose a XenServer disk or root and print the exact commands to run next",
			ArgsUsage: " ",
			Description: "Looks at a XenServer disk (--disk: partitions read in-process, nothing mounted, no\n" +
				"root needed) or an already mounted root (--root) and reports, each with its evidence and\n" +
				"the rule behind it:\n" +
				"the partition layout and roles, dirty filesystems, the version markers and what each\n" +
				"installer would do with them (or only --installer V), the backup partition (marker,\n" +
				"version, whether V would offer Restore, whether it was saved), the xapi database (which\n" +
				"file xapi loads, side files, schema against the target release, manifest form, space\n" +
				"encoding, tables and columns against a database written by the target xapi) and the\n" +
				"journal (ops applied, ops left interrupted).\n\n" +
				"Then the plan: numbered commands with one line of why each, in the order that never\n" +
				"loses anything (save the backup partition, set the markers, patch the database, run\n" +
				"the installer), and the alternatives (the installer's Restore). Images and reference\n" +
				"databases in the plan go to --save-dir. doctor never writes anything.\n\n" + exitHelp,
			Flags: append(targetFlags(),
				&cli.StringFlag{Name: "installer", Usage: "plan for the installer of `VERSION` (e.g. 5.0, 7.1, 8.2)"},
				&cli.StringFlag{Name: "backup-root", Usage: "an already mounted backup partition `DIR` (with --root)"},
				&cli.StringFlag{Name: "save-dir", Usage: "`DIR` for the images and reference databases the plan writes (default .)"},
			),
			Action: runDoctor,
		}
	})
}

func runDoctor(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	rep, err := Doctor(ctx, DoctorOptions{Disk: cmd.String("disk"), Root: cmd.String("root"), BackupRoot: cmd.String("backup-root"),
		Installer: cmd.String("installer"), Journal: cmd.String("journal"), SaveDir: cmd.String("save-dir")})
	if err != nil {
		return err
	}
	return output(cmd).Emit(rep, func(w io.Writer) error { return renderDoctor(w, rep) })
}

// DoctorOptions are doctor's flags (also used by xsrescue demo).
type DoctorOptions struct {
	Disk, Root, BackupRoot string
	Installer              string
	Journal                string
	SaveDir                string
}

// Doctor opens what it can, read-only, and diagnoses it.
func Doctor(ctx context.Context, o DoctorOptions) (*doctor.Report, error) {
	if (o.Disk == "") == (o.Root == "") {
		return nil, usageError{fmt.Errorf("doctor: give exactly one of --disk DEV and --root DIR")}
	}
	if o.Installer != "" {
		if _, err := versionfile.LookupInstaller(o.Installer); err != nil {
			return nil, xerr.Invalidf("--installer: %w", err)
		}
	}
	in := doctor.Input{DiskPath: o.Disk, Installer: o.Installer, JournalPath: o.Journal, SaveDir: o.SaveDir}
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	open := func(opts target.Options) (*target.Root, error) {
		t, err := target.Open(ctx, opts)
		if err != nil {
			return nil, err
		}
		closers = append(closers, t.Close)
		if in.RootName == "" {
			in.RootName = t.Name()
		}
		return t.Root, nil
	}
	if o.Disk != "" {
		d, err := inspectDisk(ctx, o.Disk)
		if err != nil {
			return nil, err
		}
		in.Disk = d
		if d.XenServer == nil {
			in.Unlabelled = unlabelledRoots(ctx, o.Disk, d)
		}
		if x := d.XenServer; x != nil {
			// The backup first, and closed again: one partition open at a
			// time.
			if b := x.Backup; b != nil {
				if p := d.Partition(b.Partition); p != nil && strings.HasPrefix(p.FS, "ext") {
					if bt, err := target.Open(ctx, target.Options{Disk: o.Disk, Partition: b.Partition}); err == nil {
						in.Backup = doctor.ReadBackup(bt.Root, b.Partition, o.Installer)
						in.Backup.Dir = ""
						bt.Close()
					}
				}
			}
			in.Root, err = open(target.Options{Disk: o.Disk, Partition: x.RootPartition})
			if err != nil {
				in.RootNote = fmt.Sprintf("root partition %d cannot be read (%v): markers, the xapi database and the journal inside the root were not examined", x.RootPartition, err)
			}
		}
	} else {
		var err error
		if in.Root, err = open(target.Options{Root: o.Root}); err != nil {
			return nil, err
		}
		if o.BackupRoot != "" {
			bt, err := open(target.Options{Root: o.BackupRoot})
			if err != nil {
				return nil, err
			}
			in.Backup = doctor.ReadBackup(bt, 0, o.Installer)
		}
	}
	jpath := o.Journal
	if jpath == "" && in.Root != nil {
		// Inside an image root the journal is read from a private copy.
		p, err := journal.DefaultPath(in.Root, false)
		in.JournalErr = err
		jpath = p
		if rel, ok := in.Root.Origin(p); ok {
			in.JournalShown = fmt.Sprintf("/%s on %s", rel, in.RootName)
		}
	}
	if jpath != "" {
		j, err := journal.OpenReadOnly(jpath)
		switch {
		case err == nil:
			closers = append(closers, j.Close)
			in.Journal = j
		case !errors.Is(err, fs.ErrNotExist): // missing or empty: no op recorded
			return nil, err
		}
	}
	return doctor.Diagnose(ctx, in)
}

// unlabelledRoots finds the ext partitions that hold a XenServer root (an
// inventory and no .xen-backup-partition) but lost the root-* label the
// installer finds the root by. Each is read in-process, in turn.
func unlabelledRoots(ctx context.Context, diskPath string, d *partition.Disk) []doctor.UnlabelledRoot {
	var found []doctor.UnlabelledRoot
	for _, p := range d.Partitions {
		if !strings.HasPrefix(p.FS, "ext") || strings.HasPrefix(p.Label, "root-") {
			continue
		}
		t, err := target.Open(ctx, target.Options{Disk: diskPath, Partition: p.Number})
		if err != nil {
			continue
		}
		if _, err := t.Root.Lstat(strings.TrimPrefix(partition.BackupMarker, "/")); errors.Is(err, fs.ErrNotExist) {
			if inv, err := versionfile.ReadInventory(t.Root); err == nil {
				found = append(found, doctor.UnlabelledRoot{Partition: p, ProductVersion: inv.Value("PRODUCT_VERSION")})
			}
		}
		t.Close()
	}
	return found
}

func renderDoctor(w io.Writer, r *doctor.Report) error {
	subject := r.Disk
	if subject == "" {
		subject = r.Root
	}
	fmt.Fprintf(w, "%s: layout %s", subject, r.Layout)
	if v := r.Installed["product_version"]; v != "" {
		fmt.Fprintf(w, ", installed %s %s", orDefault(r.Installed["product_brand"], "XenServer"), v)
	}
	if r.Installer != "" {
		fmt.Fprintf(w, ", planning for the %s installer", r.Installer)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nFindings:")
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  [%-6s] %s: %s\n", f.Severity, f.ID, f.Evidence)
		fmt.Fprintf(w, "           rule: %s\n", f.Rule)
	}
	if len(r.Plan) == 0 {
		fmt.Fprintln(w, "\nPlan: nothing to do.")
	} else {
		fmt.Fprintln(w, "\nPlan:")
		renderSteps(w, r.Plan)
	}
	for _, a := range r.Alternatives {
		fmt.Fprintf(w, "\nAlternative (%s): %s\n", a.Name, a.Why)
		renderSteps(w, a.Steps)
	}
	return nil
}

func renderSteps(w io.Writer, steps []doctor.Step) {
	for _, s := range steps {
		prefix := "$ "
		if s.Manual {
			prefix = "(by hand) "
		}
		fmt.Fprintf(w, "  %d. %s%s\n     why: %s\n", s.Step, prefix, s.Command, s.Why)
	}
}
