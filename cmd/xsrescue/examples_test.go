package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// TestExamples: every command's help has 2 to 4 examples, and each names
// an existing command with only flags that command (or a parent) shows.
func TestExamples(t *testing.T) {
	t.Parallel()
	app := newApp(newEnv(strings.NewReader(""), &strings.Builder{}, &strings.Builder{}), nil)
	seen := map[string]bool{}
	var walk func(c *cli.Command, full string, parents []*cli.Command)
	walk = func(c *cli.Command, full string, parents []*cli.Command) {
		seen[full] = true
		if c.Hidden && examples[full] == nil {
			return // test-only commands
		}
		if n := len(examples[full]); n < 2 || n > 4 {
			t.Errorf("%s: %d examples, want 2 to 4", full, n)
		}
		if !strings.Contains(c.Description, "EXAMPLES:\n   "+strings.Join(examples[full], "\n   ")) {
			t.Errorf("%s --help has no EXAMPLES section", full)
		}
		for _, sub := range c.Commands {
			walk(sub, full+" "+sub.Name, append(parents, c))
		}
	}
	walk(app, "xsrescue", nil)
	for full, lines := range examples {
		if !seen[full] && full != "xsrescue completion" {
			t.Errorf("examples for %q, which is not a command", full)
		}
		for _, l := range lines {
			checkExample(t, app, l)
		}
	}
	if code, out, _ := runCLI("completion", "bash"); code != 0 || !strings.Contains(out, "bash") {
		t.Errorf("xsrescue completion bash: exit %d", code)
	}
}

// checkExample resolves an example's command and checks each of its flags.
func checkExample(t *testing.T, app *cli.Command, line string) {
	t.Helper()
	words := strings.Fields(strings.TrimPrefix(line, "sudo "))
	for i, w := range words {
		if w == ">" || w == "|" || w == "&&" {
			words = words[:i]
			break
		}
	}
	if words[0] != "xsrescue" {
		t.Errorf("example %q does not run xsrescue", line)
		return
	}
	cmds := []*cli.Command{app}
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "-") && w != "-" {
			name := strings.TrimLeft(w, "-")
			if !slices.ContainsFunc(cmds, func(c *cli.Command) bool {
				return slices.ContainsFunc(c.VisibleFlags(), func(f cli.Flag) bool { return slices.Contains(f.Names(), name) })
			}) {
				t.Errorf("example %q: %s is not a flag of %s", line, w, cmds[len(cmds)-1].Name)
			}
			continue
		}
		if sub := cmds[len(cmds)-1].Command(w); sub != nil {
			cmds = append(cmds, sub)
		}
	}
}
