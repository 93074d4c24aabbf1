package main

import (
	"fmt"
	"io"

	"github.com/xsrescue/xsrescue/doctor"
	"github.com/xsrescue/xsrescue/versionfile"
)

// doctor's document is the *doctor.Report itself (docs/json.md, doctor).

func renderDoctor(w io.Writer, r *doctor.Report) error {
	subject := r.Disk
	if subject == "" {
		subject = r.Root
	}
	fmt.Fprintf(w, "%s: layout %s", subject, r.Layout)
	if v := r.Installed["product_version"]; v != "" {
		fmt.Fprintf(w, ", installed %s %s", versionfile.Shown(orDefault(r.Installed["product_brand"], "XenServer")), versionfile.Shown(v))
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
