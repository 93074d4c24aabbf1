package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/doctor"
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
	rep, err := doctor.Run(ctx, doctor.Options{Disk: cmd.String("disk"), Root: cmd.String("root"), BackupRoot: cmd.String("backup-root"),
		Installer: cmd.String("installer"), Journal: cmd.String("journal"), SaveDir: cmd.String("save-dir")})
	if err != nil {
		return err
	}
	return output(cmd).Emit(rep, func(w io.Writer) error { return renderDoctor(w, rep) })
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
