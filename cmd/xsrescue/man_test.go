package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/urfave/cli/v3"
)

var update = flag.Bool("update", false, "rewrite docs/xsrescue.8 from the command tree")

// manPath is the checked-in page (embedded by cmd_man.go; docs/xsrescue.8
// links to it).
var manPath = "xsrescue.8"

// TestManPage: docs/xsrescue.8 is exactly what `xsrescue man` prints, it
// documents every command and flag of the tree, and groff renders it
// without a warning.
func TestManPage(t *testing.T) {
	t.Parallel()
	page, err := manPage()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(manPath, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", manPath)
	}
	golden, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatalf("%v (run `go test ./cmd/xsrescue -run TestManPage -update`)", err)
	}
	if string(golden) != page {
		t.Errorf("docs/xsrescue.8 is stale: run `go test ./cmd/xsrescue -run TestManPage -update`\n%s",
			udiff.Unified("docs/xsrescue.8", "xsrescue man", string(golden), page))
	}
	if again, _ := manPage(); again != page {
		t.Error("manPage is not deterministic: two calls differ")
	}

	t.Run("covers the tree", func(t *testing.T) {
		app := newApp(newEnv(strings.NewReader(""), io.Discard, io.Discard), nil)
		for _, f := range app.VisibleFlags() {
			wantFlag(t, page, "xsrescue", f)
		}
		var walk func(c *cli.Command, full string)
		walk = func(c *cli.Command, full string) {
			for _, sub := range c.Commands {
				name := full + " " + sub.Name
				if sub.Hidden {
					if strings.Contains(page, ".SS "+name+"\n") {
						t.Errorf("hidden command %q has a section", name)
					}
					continue
				}
				if !strings.Contains(page, ".SS "+name+"\n") {
					t.Errorf("no section for %q", name)
				}
				for _, f := range sub.VisibleFlags() {
					wantFlag(t, page, name, f)
				}
				walk(sub, name)
			}
		}
		walk(app, "xsrescue")
		for _, s := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS",
			"EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"} {
			if !strings.Contains(page, "\n.SH "+s+"\n") {
				t.Errorf("no %s section", s)
			}
		}
		for _, s := range []string{"XSRESCUE_JOURNAL", "var/lib/xsrescue/journal.db", "docs/exit-codes.md"} {
			if !strings.Contains(page, s) {
				t.Errorf("page does not mention %s", s)
			}
		}
	})

	t.Run("renders without warnings", func(t *testing.T) {
		var argv []string
		switch {
		case lookPath("groff"):
			argv = []string{"groff", "-man", "-ww", "-z"}
		case lookPath("mandoc"):
			argv = []string{"mandoc", "-T", "lint", "-W", "error"}
		default:
			t.Skip("neither groff nor mandoc installed (scripts/test.sh installs groff)")
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin = strings.NewReader(page)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil || out.Len() > 0 {
			t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
		}
	})
}

func lookPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// wantFlag checks that every name of f is in the page as a bold option.
func wantFlag(t *testing.T, page, cmd string, f cli.Flag) {
	t.Helper()
	for _, n := range f.Names() {
		opt := "--" + n
		if len(n) == 1 {
			opt = "-" + n
		}
		if !strings.Contains(page, `\fB`+opt) && !strings.Contains(page, ", "+opt+`\fP`) {
			t.Errorf("%s: option %s is not in the page", cmd, opt)
		}
	}
}

// TestManCommand: the hidden `xsrescue man` prints the page and nothing
// else, and is not in the command list.
func TestManCommand(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI("man")
	if code != 0 || stderr != "" {
		t.Fatalf("xsrescue man: exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, ".TH XSRESCUE 8 ") {
		t.Errorf("xsrescue man: page does not start with .TH: %.80q", stdout)
	}
	if page, _ := manPage(); stdout != page {
		t.Error("xsrescue man prints something other than manPage() (after -update, run the tests again: the page is embedded)")
	}
	if docs, err := os.ReadFile("../../docs/xsrescue.8"); err != nil || string(docs) != manual {
		t.Errorf("docs/xsrescue.8 is not the embedded page (it links to cmd/xsrescue/xsrescue.8): %v", err)
	}
	if code, _, stderr := runCLI("man", "extra"); code != 2 {
		t.Errorf("xsrescue man extra: exit %d, want 2 (stderr %q)", code, stderr)
	}
	_, help, _ := runCLI("--help")
	for _, l := range strings.Split(help, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.TrimSuffix(f[0], ",") == "man" {
			t.Errorf("--help lists the hidden man command: %q", l)
		}
	}
}
