package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestCommandGroupNames: each group builds the command its table entry
// names, so a run that builds only the group it was asked for builds the
// right one.
func TestCommandGroupNames(t *testing.T) {
	t.Parallel()
	e := newEnv(strings.NewReader(""), io.Discard, io.Discard)
	for _, g := range commandGroups() {
		if c := g.build(e); c.Name != g.name {
			t.Errorf("commandGroups entry %q builds %q", g.name, c.Name)
		}
	}
}

// TestGroupTree: a command line that starts with a group gets that group
// alone (demo and everything else the whole tree), and says and does
// exactly what it would with the whole tree: help, examples, usage errors
// and their suggestions, completion, the command's output.
func TestGroupTree(t *testing.T) {
	t.Parallel()
	img := cliImage(t)
	for argv, want := range map[string][]string{
		"xsrescue disk inspect x": {"disk"},
		"xsrescue zone":           {"zone"},
		"xsrescue demo --help":    nil,
		"xsrescue --json disk":    nil,
		"xsrescue help disk":      nil,
		"xsrescue dsk inspect":    nil,
		"xsrescue":                nil,
	} {
		app := newApp(newEnv(strings.NewReader(""), io.Discard, io.Discard), nil, strings.Fields(argv)...)
		var got []string
		for _, c := range app.Commands {
			got = append(got, c.Name)
		}
		if want == nil && len(got) < len(commandGroups()) || want != nil && strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: tree has %v, want %v", argv, got, map[bool]any{true: "all groups", false: want}[want == nil])
		}
	}

	lines := [][]string{
		{"disk", "inspect", img, "--json"},
		{"disk", "inspect", img},
		{"disk", "inspect", "--json", img, "--quiet", "--verbose"},
		{"disk", "inspct", img},
		{"disk", "inspect", "--jsn", img},
		{"disk", "inspect"},
		{"disk"},
		{"disk", "--generate-shell-completion"},
		{"version", "show", "--generate-shell-completion"},
	}
	for _, g := range commandGroups() {
		if g.name != "demo" {
			lines = append(lines, []string{g.name, "--help"}, []string{g.name, "help"})
		}
	}
	app := newApp(newEnv(strings.NewReader(""), io.Discard, io.Discard), nil)
	for _, group := range app.Commands {
		for _, sub := range group.Commands {
			lines = append(lines, []string{group.Name, sub.Name, "--help"})
		}
	}
	run := func(argv []string, whole bool) string {
		var out, errOut bytes.Buffer
		e := newEnv(strings.NewReader(""), &out, &errOut)
		full := append([]string{"xsrescue"}, argv...)
		tree := newApp(e, nil, full...)
		if whole {
			tree = newApp(e, nil)
		}
		err := runApp(context.Background(), tree, full)
		return fmt.Sprintf("error: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	for _, argv := range lines {
		if group, whole := run(argv, false), run(argv, true); group != whole {
			t.Errorf("xsrescue %s: the group alone and the whole tree differ\ngroup alone:\n%s\nwhole tree:\n%s", strings.Join(argv, " "), group, whole)
		}
	}
}
