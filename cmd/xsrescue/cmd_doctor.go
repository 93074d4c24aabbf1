package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/doctor"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// doctorOptions are the flags of doctor.
type doctorOptions struct {
	targetOptions
	Installer  string
	BackupRoot string
	SaveDir    string
}

func newDoctorCommand(e *env) *cli.Command {
	var o doctorOptions
	return &cli.Command{
		Name:      "doctor",
		Usage:     "diagnose a XenServer disk or root and print the exact commands to run next",
		ArgsUsage: " ",
		Description: "Looks at a XenServer disk (--disk: partitions read in-process, nothing mounted, no\n" +
			"root needed) or an already mounted root (--root) and reports, each with its evidence and\n" +
			"the rule behind it:\n" +
			"the partition layout and roles, dirty filesystems, the version markers and what each\n" +
			"installer would do with them (or only --for-installer V), the backup partition (marker,\n" +
			"version, whether V would offer Restore, whether it was saved), the xapi database (which\n" +
			"file xapi loads, side files, schema against the target release, manifest form, space\n" +
			"encoding, tables and columns against a database written by the target xapi) and the\n" +
			"journal (ops applied, ops left interrupted).\n\n" +
			"Then the plan: numbered commands with one line of why each, in the order that never\n" +
			"loses anything (save the backup partition, set the markers, patch the database, run\n" +
			"the installer), and the alternatives (the installer's Restore). Images and reference\n" +
			"databases in the plan go to --save-dir. doctor never writes anything.\n\n" + exitHelp,
		Flags: append(o.targetOptions.flags(),
			&cli.StringFlag{Name: "for-installer", Destination: &o.Installer, Usage: "plan for the installer of `VERSION` (e.g. 5.0, 7.1, 8.2)"},
			renamedFlag(e, "installer", "for-installer", &o.Installer),
			&cli.StringFlag{Name: "backup-root", Destination: &o.BackupRoot, Usage: "an already mounted backup partition `DIR` (with --root)"},
			&cli.StringFlag{Name: "save-dir", Destination: &o.SaveDir, Usage: "`DIR` for the images and reference databases the plan writes (default .)"},
		),
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runDoctor(ctx, e, o) }),
	}
}

func runDoctor(ctx context.Context, e *env, o doctorOptions) error {
	rep, err := doctor.Run(ctx, doctor.Options{Disk: o.Disk, Root: o.Root, BackupRoot: o.BackupRoot,
		Installer: o.Installer, Journal: e.Journal, SaveDir: o.SaveDir})
	if err != nil {
		return err
	}
	e.noteMounts(rep.Mounts...)
	if err := e.emit(newDoctorDoc(rep), func(w io.Writer) error { return renderDoctor(w, rep) }); err != nil {
		return err
	}
	if broken := rep.Broken(); len(broken) > 0 {
		return xerr.Problems(fmt.Errorf("doctor: %d broken finding(s): %s", len(broken), strings.Join(broken, ", ")))
	}
	return nil
}
