// Command dmgen generates statedb's datamodel history (datamodel.json) from
// a clone of github.com/xapi-project/xen-api: for every schema_minor_vsn it
// evaluates the datamodel (ocaml/idl/datamodel*.ml) at one commit and
// records, for every table and column, the schema range in which it exists,
// its type, its default as the database writes it and whether it persists.
// No xen-api code is copied: the datamodel is read and evaluated here.
//
//	go run ./statedb/internal/dmgen -git /path/to/xen-api/.git -out statedb/datamodel.json
//
// The samples, and why each commit was chosen, are in the output and in
// docs/statedb.md.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	gitDir := flag.String("git", "", "git directory of a xen-api clone (required)")
	out := flag.String("out", "statedb/datamodel.json", "output file")
	head := flag.String("head", "HEAD", "the mainline branch or commit to read")
	only := flag.String("at", "", "evaluate one commit and print its model (for debugging)")
	flag.Parse()
	if *gitDir == "" {
		fmt.Fprintln(os.Stderr, "dmgen: -git is required")
		os.Exit(2)
	}
	g, err := openGit(*gitDir)
	if err != nil {
		fail(err)
	}
	defer g.close()
	if *only != "" {
		m, err := evalCommit(g, *only)
		if err != nil {
			fail(err)
		}
		for _, w := range m.Warnings {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		fmt.Printf("schema %d: %d tables (%d evaluation steps)\n", m.Schema, len(m.Tables), m.Steps)
		for _, t := range m.Tables {
			var cs []string
			for _, c := range t.Columns {
				s := c.Name + ":" + c.Type
				if c.Default != nil {
					s += "=" + strconv.Quote(*c.Default)
				}
				if !c.Persist {
					s += "(np)"
				}
				if c.Release != "" {
					s += "@" + c.Release
				}
				cs = append(cs, s)
			}
			fmt.Printf("%s persist=%v @%s (%d): %s\n", t.Name, t.Persist, t.Release, len(t.Columns), strings.Join(cs, " "))
		}
		return
	}
	h, err := g.run("rev-parse", *head)
	if err != nil {
		fail(err)
	}
	hist, err := generate(g, strings.TrimSpace(h))
	if err != nil {
		fail(err)
	}
	data, err := json.MarshalIndent(hist, "", " ")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "dmgen: %d samples, %d tables -> %s\n", len(hist.Samples), len(hist.Tables), *out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dmgen:", err)
	os.Exit(1)
}

// git runs git commands and reads blobs through one cat-file --batch.
type git struct {
	dir   string
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	trees map[string][]string
}

func openGit(dir string) (*git, error) {
	g := &git{dir: dir, trees: map[string][]string{}}
	g.cmd = exec.Command("git", "--git-dir", dir, "cat-file", "--batch")
	var err error
	if g.in, err = g.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	g.out = bufio.NewReaderSize(stdout, 1<<20)
	return g, g.cmd.Start()
}

func (g *git) close() {
	g.in.Close()
	g.cmd.Wait()
}

func (g *git) run(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", g.dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// blob returns the content of commit:path, or ok=false when it does not exist.
func (g *git) blob(commit, path string) (string, bool, error) {
	if _, err := fmt.Fprintf(g.in, "%s:%s\n", commit, path); err != nil {
		return "", false, err
	}
	line, err := g.out.ReadString('\n')
	if err != nil {
		return "", false, err
	}
	if strings.HasSuffix(line, " missing\n") {
		return "", false, nil
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return "", false, fmt.Errorf("cat-file: %q", line)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		return "", false, err
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(g.out, buf); err != nil {
		return "", false, err
	}
	return string(buf[:n]), true, nil
}

// files lists the paths of commit under ocaml/.
func (g *git) files(commit string) ([]string, error) {
	if f, ok := g.trees[commit]; ok {
		return f, nil
	}
	out, err := g.run("ls-tree", "-r", "--name-only", commit, "--", "ocaml")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	g.trees[commit] = f
	return f, nil
}

// evalCommit evaluates the datamodel at commit.
func evalCommit(g *git, commit string) (*Model, error) {
	files, err := g.files(commit)
	if err != nil {
		return nil, err
	}
	// Modules are looked up in ocaml/idl first; Constants (defaults) lives
	// elsewhere in later trees.
	paths := map[string]string{}
	for _, f := range files {
		base := f[strings.LastIndexByte(f, '/')+1:]
		if !strings.HasSuffix(base, ".ml") {
			continue
		}
		mod := strings.ToUpper(base[:1]) + strings.TrimSuffix(base[1:], ".ml")
		switch {
		case strings.HasPrefix(f, "ocaml/idl/") && strings.Count(f, "/") == 2:
			paths[mod] = f
		case mod == "Constants" && paths[mod] == "":
			paths[mod] = f
		}
	}
	return evalModules(paths, func(p string) (string, bool, error) { return g.blob(commit, p) }, commit)
}

// evalModules evaluates the Datamodel module; paths maps module names to
// files, read returns a file's content.
func evalModules(paths map[string]string, read func(path string) (string, bool, error), where string) (*Model, error) {
	ev := &evaluator{overrides: datamodelOverrides()}
	cache := map[string]*vModule{}
	ev.loader = func(name string) (*vModule, error) {
		if m, ok := cache[name]; ok {
			return m, nil
		}
		p, ok := paths[name]
		if !ok {
			return nil, nil
		}
		cache[name] = &vModule{name: name, env: newEnv(nil)} // cycles end here
		src, ok, err := read(p)
		if err != nil || !ok {
			return nil, err
		}
		items, skipped, err := parseFile(p, src)
		if err != nil {
			ev.warnf("%v", err)
			return cache[name], nil
		}
		for _, s := range skipped {
			ev.warnf("skipped: %s", s)
		}
		m := cache[name]
		saved := ev.file
		ev.file = p
		ev.evalStructure(items, m.env, p)
		ev.file = saved
		return m, nil
	}
	dm, err := ev.loader("Datamodel")
	if err != nil || dm == nil {
		return nil, fmt.Errorf("%s: no ocaml/idl/datamodel.ml (%v)", where, err)
	}
	ev.file = paths["Datamodel"]
	m, err := buildModel(ev, dm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if ev.steps > maxSteps {
		return nil, fmt.Errorf("%s: the datamodel needs more than %d evaluation steps: not evaluated completely", where, maxSteps)
	}
	m.Steps = ev.steps
	if m.Schema == 0 {
		if c, err := ev.loader("Datamodel_common"); err == nil && c != nil {
			if t, ok := ev.lookupVar(c.env, "schema_minor_vsn"); ok {
				if n, ok := ev.force(t).(vInt); ok {
					m.Schema = int(n)
				}
			}
		}
	}
	return m, nil
}

var schemaLine = regexp.MustCompile(`(?m)^let schema_minor_vsn *= *([0-9]+)`)

// schemaAt reads the schema constant at commit without evaluating.
func schemaAt(g *git, commit string) (int, error) {
	for _, p := range []string{"ocaml/idl/datamodel_common.ml", "ocaml/idl/datamodel.ml"} {
		src, ok, err := g.blob(commit, p)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		if m := schemaLine.FindStringSubmatch(src); m != nil {
			return strconv.Atoi(m[1])
		}
	}
	return 0, fmt.Errorf("%s: no schema_minor_vsn", commit)
}
