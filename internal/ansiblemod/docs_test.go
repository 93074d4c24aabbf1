package ansiblemod

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDocumentedOptionsAreFlags holds the collection's documentation to
// the commands: every option a module documents is a flag of the command
// it runs (as --help lists it), an argument, or the selector; every module
// has its documentation stub and every stub its module.
func TestDocumentedOptionsAreFlags(t *testing.T) {
	root := repoRoot(t)
	stubs, err := filepath.Glob(filepath.Join(root, "contrib", "ansible", "plugins", "modules", "*.py"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, s := range stubs {
		documented = append(documented, strings.TrimSuffix(filepath.Base(s), ".py"))
	}
	if !slices.Equal(documented, Names()) {
		t.Fatalf("documentation stubs %v, modules %v", documented, Names())
	}
	bin := builtBinary(t)
	for _, name := range Names() {
		m := modules[name]
		opts, frags := docOptions(t, filepath.Join(root, "contrib", "ansible", "plugins", "modules", name+".py"))
		for _, f := range frags {
			o, _ := docOptions(t, filepath.Join(root, "contrib", "ansible", "plugins", "doc_fragments", f+".py"))
			opts = append(opts, o...)
		}
		paths := [][]string{}
		for _, p := range m.commands {
			paths = append(paths, p)
		}
		if m.facts {
			paths = [][]string{{"doctor"}, {"disk", "inspect"}}
		}
		help := ""
		for _, p := range paths {
			out, err := exec.Command(bin, append(p, "--help")...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v --help: %v\n%s", bin, p, err, out)
			}
			help += string(out)
		}
		for _, o := range opts {
			if o == m.selector || slices.Contains(m.positional, o) || (m.facts && o == "disk") {
				continue
			}
			flag := "--" + strings.ReplaceAll(o, "_", "-") + " "
			if !strings.Contains(help, flag) {
				t.Errorf("%s documents option %s, but no command it runs has %s", name, o, flag)
			}
		}
	}
}

var optionLine = regexp.MustCompile(`^  ([a-z_]+):$`)

// docOptions are the options a stub's DOCUMENTATION lists, and the
// collection's fragments it extends.
func docOptions(t *testing.T, path string) (opts, frags []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(b), "EXAMPLES")
	section := ""
	for _, line := range strings.Split(doc, "\n") {
		if line != "" && line[0] != ' ' {
			section = strings.TrimSuffix(line, ":")
			continue
		}
		switch {
		case section == "options" && optionLine.MatchString(line):
			opts = append(opts, optionLine.FindStringSubmatch(line)[1])
		case section == "extends_documentation_fragment":
			frags = append(frags, strings.TrimPrefix(strings.TrimSpace(line), "- xsrescue.rescue."))
		}
	}
	if len(opts) == 0 {
		t.Fatalf("%s: no options found", path)
	}
	return opts, frags
}

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  string
)

// builtBinary is xsrescue built once for the package's tests.
func builtBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xsrescue-ansiblemod-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		builtDir = dir
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "xsrescue"), "./cmd/xsrescue")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err.Error() + "\n" + string(out)
		}
	})
	if buildErr != "" {
		t.Fatalf("go build: %s", buildErr)
	}
	return filepath.Join(builtDir, "xsrescue")
}

func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}
