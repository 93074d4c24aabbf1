package main

import (
	"strings"

	"github.com/xsrescue/xsrescue/doctor"
	"github.com/xsrescue/xsrescue/internal/shquote"
)

// doctorDoc is the `doctor --json` document: the report, with each plan
// step as an argv array a script can run without a shell (docs/json.md).
type doctorDoc struct {
	*doctor.Report
	Plan         []doctorStep        `json:"plan"`
	Alternatives []doctorAlternative `json:"alternatives"`
}

// doctorStep is one step of a plan: argv (null for a step done by hand:
// booting an installer, a decision), the shell line the text output
// prints, why, and whether it writes anything.
type doctorStep struct {
	Step    int      `json:"step"`
	Argv    []string `json:"argv"`
	Command string   `json:"command"`
	Why     string   `json:"why"`
	Manual  bool     `json:"manual"`
	Mutates bool     `json:"mutates"`
}

type doctorAlternative struct {
	Name  string       `json:"name"`
	Why   string       `json:"why"`
	Steps []doctorStep `json:"steps"`
}

func newDoctorDoc(r *doctor.Report) *doctorDoc {
	doc := &doctorDoc{Report: r, Plan: doctorSteps(r.Plan), Alternatives: []doctorAlternative{}}
	for _, a := range r.Alternatives {
		doc.Alternatives = append(doc.Alternatives, doctorAlternative{Name: a.Name, Why: a.Why, Steps: doctorSteps(a.Steps)})
	}
	return doc
}

func doctorSteps(steps []doctor.Step) []doctorStep {
	out := []doctorStep{}
	for _, s := range steps {
		d := doctorStep{Step: s.Step, Command: s.Command, Why: s.Why, Manual: s.Manual, Mutates: true}
		if !s.Manual {
			// Split, not Fields: a step is a line to paste into a
			// shell, and one a shell would do more with than split
			// into words (a pipe, a substitution) has no argv that does
			// the same.
			d.Argv, _ = shquote.Split(s.Command)
		}
		if len(d.Argv) > 1 && d.Argv[0] == "xsrescue" {
			d.Mutates = !readOnlyCommand(d.Argv[1:])
		}
		out = append(out, d)
	}
	return out
}

// readOnlyCommand reports whether an xsrescue command line (without the
// program name) names a command that never writes.
func readOnlyCommand(args []string) bool {
	cmd := args[0]
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		cmd += " " + args[1]
	}
	switch cmd {
	case "doctor", "disk inspect", "version show", "version find", "statedb show", "statedb diff", "statedb check",
		"odm ghosts", "zfs labels", "zone list", "zone publishers", "guest check", "journal list", "journal show":
		return true
	}
	return false
}
