// Package ansiblemod makes the xsrescue binary an Ansible binary module.
//
// Ansible copies a binary module to the host as
// <tmpdir>/AnsiballZ_<module file name> and runs it with one argument, the
// path of a JSON file holding the task's options plus the _ansible_*
// internals (ansible-core lib/ansible/plugins/action/__init__.py,
// _execute_module: module_style "binary"; no extra argument can be passed).
// The module is therefore chosen by the name the binary was started as
// (argv[0]): the collection ships the one static binary under every module
// name (plugins/modules/xsrescue_facts, …), and ModuleName recognises them.
//
// A module runs the xsrescue command line its options describe, in this
// process, through the same command tree as the CLI (Runner): options are
// the command's long flags with underscores, so the CLI's own parsing,
// defaults and errors apply, and the docs of one serve the other.
package ansiblemod

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Runner runs one xsrescue command line (argv[0] is the program name) in
// this process with stdin not a terminal, and returns its exit code.
type Runner func(ctx context.Context, argv []string, stdout, stderr io.Writer) int

// ansiballzPrefix is what Ansible puts before a module's file name when it
// copies the module to the host.
const ansiballzPrefix = "AnsiballZ_"

// ModuleName says whether argv0 names one of the collection's modules,
// as Ansible runs it (AnsiballZ_xsrescue_facts) or as a user does to try
// one by hand (xsrescue_facts ARGS.json).
func ModuleName(argv0 string) (string, bool) {
	name := strings.TrimPrefix(filepath.Base(argv0), ansiballzPrefix)
	_, ok := modules[name]
	return name, ok
}

// Names are the module names, sorted.
func Names() []string {
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Main runs module name with argv (the arguments after the program name:
// the path of the arguments file) and writes the one JSON result Ansible
// reads to stdout. It returns the exit status: 0, or 1 when the task
// failed (as AnsibleModule's exit_json and fail_json).
func Main(ctx context.Context, name string, argv []string, run Runner, stdout io.Writer) int {
	res := runModule(ctx, name, argv, run)
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(os.Stderr, "%s: writing the result: %v\n", name, err)
		return 1
	}
	if res.Failed {
		return 1
	}
	return 0
}

func runModule(ctx context.Context, name string, argv []string, run Runner) *Result {
	if len(argv) != 1 {
		return failf(2, "%s is an Ansible module: run it as %s ARGS.json (the JSON file of its options), or use the xsrescue command", name, name)
	}
	a, err := readArgs(argv[0])
	if err != nil {
		return failf(2, "%s: %v", name, err)
	}
	m := modules[name]
	return m.run(ctx, &call{name: name, args: a, run: run})
}

// Result is what a module returns to Ansible. Rc is the xsrescue exit code
// (docs/exit-codes.md); Undo is, newest first, the command lines that undo
// what the task applied; Document is the command's JSON document.
type Result struct {
	Changed  bool           `json:"changed"`
	Failed   bool           `json:"failed"`
	Msg      string         `json:"msg"`
	Rc       int            `json:"rc"`
	Cmd      []string       `json:"cmd,omitempty"`
	Op       any            `json:"op"`
	Ops      []any          `json:"ops"`
	Undo     [][]string     `json:"undo"`
	Stderr   string         `json:"stderr"`
	Diff     []Diff         `json:"diff,omitempty"`
	Document any            `json:"document,omitempty"`
	Facts    map[string]any `json:"ansible_facts,omitempty"`
	// Skipped and Invocation are not used: Ansible fills in what it needs.
}

// Diff is one entry of Ansible's diff list, as its callback renders it:
// the unified diff of Before and After under their headers, then
// Prepared, printed as it is.
type Diff struct {
	BeforeHeader string `json:"before_header"`
	AfterHeader  string `json:"after_header"`
	Before       string `json:"before"`
	After        string `json:"after"`
	Prepared     string `json:"prepared,omitempty"`
}

func failf(rc int, format string, args ...any) *Result {
	return &Result{Failed: true, Rc: rc, Msg: fmt.Sprintf(format, args...), Undo: [][]string{}, Ops: []any{}}
}
