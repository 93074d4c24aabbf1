package ansiblemod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// module is one Ansible module: the xsrescue command it runs, chosen by
// the selector option's value when it runs more than one, and the options
// that are the command's arguments rather than its flags.
type module struct {
	selector   string              // "state", "command", or "" (one command)
	commands   map[string][]string // selector value ("" without one) -> command path
	positional []string            // options given as arguments, in order
	facts      bool                // read-only: sets ansible_facts.xsrescue
}

// modules are the collection's modules (contrib/ansible/plugins/modules
// holds their documentation).
var modules = map[string]module{
	"xsrescue_facts":   {facts: true},
	"xsrescue_version": {commands: map[string][]string{"": {"version", "set"}}},
	"xsrescue_statedb": {commands: map[string][]string{"": {"statedb", "patch"}}, positional: []string{"database"}},
	"xsrescue_guest":   {commands: map[string][]string{"": {"guest", "fix"}}},
	"xsrescue_odm":     {commands: map[string][]string{"": {"odm", "purge"}}},
	"xsrescue_partition_image": {selector: "state", positional: []string{"disk"}, commands: map[string][]string{
		"saved": {"disk", "save-partition"}, "restored": {"disk", "restore-partition"}}},
	"xsrescue_journal": {selector: "state", positional: []string{"op"}, commands: map[string][]string{
		"undone": {"journal", "undo"}, "recovered": {"journal", "recover"}}},
	"xsrescue_zone": {selector: "command", positional: []string{"name", "sticky"}, commands: map[string][]string{
		"unset-publisher": {"zone", "unset-publisher"}, "set-sticky": {"zone", "set-sticky"}, "restore-etc": {"zone", "restore-etc"}}},
}

// call is one run of a module.
type call struct {
	name string
	args *args
	run  Runner
}

// output is what one in-process xsrescue run printed.
type output struct {
	argv   []string
	code   int
	stdout []byte
	stderr string
}

func (c *call) exec(ctx context.Context, argv []string) output {
	var out, errb bytes.Buffer
	code := c.run(ctx, argv, &out, &errb)
	return output{argv: argv, code: code, stdout: out.Bytes(), stderr: errb.String()}
}

func (m module) run(ctx context.Context, c *call) *Result {
	if m.facts {
		return runFacts(ctx, c)
	}
	path, err := m.command(c.args)
	if err != nil {
		return failf(2, "%s: %v", c.name, err)
	}
	var pos []string
	for _, p := range m.positional {
		v, ok, err := c.args.take(p)
		if err != nil {
			return failf(2, "%s: %v", c.name, err)
		}
		if ok {
			pos = append(pos, v)
		}
	}
	flags, err := c.args.flags()
	if err != nil {
		return failf(2, "%s: %v", c.name, err)
	}
	// Positional arguments after "--": a value starting with "-" stays an
	// argument.
	line := func(mode ...string) []string {
		argv := append(append([]string{"xsrescue"}, path...), flags...)
		argv = append(append(argv, mode...), "--")
		return append(argv, pos...)
	}
	if slices.Equal(path, []string{"journal", "undo"}) {
		if r := undoneAlready(ctx, c, flags, pos); r != nil {
			return r
		}
	}
	var diffs []Diff
	if c.args.diff && !c.args.checkMode {
		// The diff is of the plan, so it is taken before the apply.
		pre := c.exec(ctx, line("--json", "--dry-run"))
		if d := readDocument(pre, true); d.legacy && pre.code == 0 {
			diffs = legacyDiffs(ctx, c, line("--dry-run"))
		}
	}
	mode := "--yes"
	if c.args.checkMode {
		mode = "--dry-run"
	}
	out := c.exec(ctx, line("--json", mode))
	d := readDocument(out, c.args.checkMode)
	if c.args.diff {
		switch {
		case !d.legacy:
			diffs = d.diffs
		case c.args.checkMode && out.code == 0:
			diffs = legacyDiffs(ctx, c, line("--dry-run"))
		}
	}
	res := d.result(out, c.args.checkMode)
	res.Diff = diffs
	return res
}

// undoneAlready is the result of state=undone for an op that is undone
// already (journal show says so): ok, unchanged, as Ansible expects of a
// second run; nil otherwise, and the undo runs (and says why it cannot).
func undoneAlready(ctx context.Context, c *call, flags, pos []string) *Result {
	argv := []string{"xsrescue", "journal", "show"}
	for _, f := range flags {
		for _, keep := range []string{"--root=", "--disk=", "--partition=", "--journal=", "--wait="} {
			if strings.HasPrefix(f, keep) {
				argv = append(argv, f)
			}
		}
	}
	out := c.exec(ctx, append(append(argv, "--json", "--"), pos...))
	doc, err := decode(out.stdout)
	if out.code != 0 || err != nil {
		return nil
	}
	op, _ := doc["op"].(map[string]any)
	if status, _ := op["status"].(string); status != "undone" {
		return nil
	}
	return &Result{Msg: fmt.Sprintf("op %s is undone already: nothing to change", strings.Join(pos, " ")),
		Cmd: out.argv, Op: op, Ops: []any{}, Undo: [][]string{}, Stderr: out.stderr}
}

// command is the command path the selector option chooses.
func (m module) command(a *args) ([]string, error) {
	if m.selector == "" {
		return m.commands[""], nil
	}
	v, ok, err := a.take(m.selector)
	if err != nil {
		return nil, err
	}
	choices := make([]string, 0, len(m.commands))
	for k := range m.commands {
		choices = append(choices, k)
	}
	slices.Sort(choices)
	if !ok {
		return nil, fmt.Errorf("option %s is required: one of %s", m.selector, strings.Join(choices, ", "))
	}
	path, ok := m.commands[v]
	if !ok {
		return nil, fmt.Errorf("option %s: %q is not one of %s", m.selector, v, strings.Join(choices, ", "))
	}
	return path, nil
}

// runFacts reads the disk (disk inspect) and diagnoses it (doctor) into
// ansible_facts.xsrescue: {"disk": …, "doctor": …, "problems": bool}.
// Both are read-only, so check mode changes nothing about it. Doctor's
// exit status 4 (problems found) is the answer, not a failure.
func runFacts(ctx context.Context, c *call) *Result {
	sector, _, err := c.args.take("sector_size")
	if err != nil {
		return failf(2, "%s: %v", c.name, err)
	}
	disk, _, err := c.args.take("disk")
	if err != nil {
		return failf(2, "%s: %v", c.name, err)
	}
	flags, err := c.args.flags()
	if err != nil {
		return failf(2, "%s: %v", c.name, err)
	}
	facts := map[string]any{}
	res := &Result{Undo: [][]string{}, Ops: []any{}, Facts: map[string]any{"xsrescue": facts}}
	if disk != "" {
		argv := []string{"xsrescue", "disk", "inspect", "--json"}
		if sector != "" {
			argv = append(argv, "--sector-size="+sector)
		}
		out := c.exec(ctx, append(argv, "--", disk))
		doc, err := decode(out.stdout)
		res.Stderr += out.stderr
		if out.code != 0 || err != nil {
			return failOutput(out, doc, err)
		}
		facts["disk"] = doc
		flags = append([]string{"--disk=" + disk}, flags...)
	}
	out := c.exec(ctx, append(append([]string{"xsrescue", "doctor"}, flags...), "--json"))
	doc, err := decode(out.stdout)
	res.Stderr += out.stderr
	res.Cmd = out.argv
	if (out.code != 0 && out.code != 4) || err != nil {
		return failOutput(out, doc, err)
	}
	facts["doctor"] = doc
	facts["problems"] = out.code == 4
	res.Rc = out.code
	res.Msg = "no problems found"
	if out.code == 4 {
		res.Msg = "problems found: see ansible_facts.xsrescue.doctor.findings and .plan"
	}
	return res
}

// failOutput is a failed run as a module failure: the error the command
// reported, else its last line on stderr.
func failOutput(out output, doc map[string]any, err error) *Result {
	code := out.code
	if code == 0 {
		code = 1
	}
	msg := errorMessage(doc)
	if msg == "" {
		msg = lastLine(out.stderr)
	}
	if msg == "" && err != nil {
		msg = fmt.Sprintf("%s printed no JSON document: %v", strings.Join(out.argv, " "), err)
	}
	r := failf(code, "%s", msg)
	r.Cmd, r.Stderr = out.argv, out.stderr
	if doc != nil {
		r.Document = doc
	}
	return r
}

func decode(b []byte) (map[string]any, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

func errorMessage(doc map[string]any) string {
	if e, ok := doc["error"].(map[string]any); ok {
		if m, ok := e["message"].(string); ok {
			return m
		}
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
