package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// TestDocFlags: every command line the documentation shows — a code span
// or code block line that starts with xsrescue or a top-level command
// (`statedb show|check --disk`: each alternative) — names existing
// commands with only flags they have (acceptance acc22 N10: docs/safety.md
// listed a `statedb diff --disk` that does not exist).
func TestDocFlags(t *testing.T) {
	t.Parallel()
	app := newApp(newEnv(strings.NewReader(""), &strings.Builder{}, &strings.Builder{}), nil)
	top := map[string]bool{}
	for _, c := range app.Commands {
		top[c.Name] = true
	}
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	span := regexp.MustCompile("`([^`]+)`")
	n := 0
	for _, f := range append(files, "../../README.md") {
		t.Run(filepath.Base(f), func(t *testing.T) { n += checkDocFlags(t, app, f, top, span) })
	}
	if n < 100 {
		t.Errorf("only %d command lines found in the documentation", n)
	}
}

// checkDocFlags checks the command lines of one file; it returns how many.
func checkDocFlags(t *testing.T, app *cli.Command, f string, top map[string]bool, span *regexp.Regexp) (n int) {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var text strings.Builder // outside code blocks
	inBlock := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			lines = append(lines, l)
			continue
		}
		text.WriteString(l + "\n")
	}
	// A code span may go on over a line break (`statedb\nshow --disk`),
	// never over a blank line.
	for _, m := range span.FindAllStringSubmatch(text.String(), -1) {
		if !strings.Contains(m[1], "\n\n") {
			lines = append(lines, strings.ReplaceAll(m[1], "\n", " "))
		}
	}
	for _, l := range lines {
		l = strings.ReplaceAll(l, `\|`, "|") // a pipe in a table cell
		words := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "sudo "))
		named := len(words) > 0 && words[0] == "xsrescue"
		if named {
			words = words[1:]
		}
		if i := slices.Index(words, "#"); i >= 0 {
			words = words[:i]
		}
		for i, w := range words {
			if name, _, ok := strings.Cut(w, "="); ok && strings.HasPrefix(w, "--") {
				words[i] = name // --partition=2
			}
		}
		if len(words) < 2 || !top[words[0]] || wrongOnPurpose[strings.Join(words, " ")] {
			continue
		}
		for _, v := range alternatives(words) {
			// Without "xsrescue" in front, `zfs list -d 1` or `man -l`
			// is the system's command: only TOP SUB lines are ours.
			if !named && app.Command(v[0]).Command(v[1]) == nil {
				continue
			}
			n++
			checkExample(t, app, "xsrescue "+strings.Join(v, " "))
		}
	}
	return n
}

// wrongOnPurpose are command lines the documentation shows to quote the
// error they give.
var wrongOnPurpose = map[string]bool{
	"odm purge --dryrun": true, // README: "did you mean --dry-run?"
}

// alternatives expands the words of a documented command line whose
// subcommand is written `show|diff|check`, or a flag `--root/--disk`, into
// one line per alternative.
func alternatives(words []string) [][]string {
	for i, w := range words {
		sep := "|"
		if strings.HasPrefix(w, "--") && strings.Contains(w, "/--") {
			sep = "/" // --root/--disk
		}
		if i > 0 && strings.Contains(w, sep) && w != "|" && (i < 3 || sep == "/") {
			var out [][]string
			for _, alt := range strings.Split(w, sep) {
				v := append(append(append([]string{}, words[:i]...), alt), words[i+1:]...)
				out = append(out, alternatives(v)...)
			}
			return out
		}
	}
	return [][]string{words}
}
