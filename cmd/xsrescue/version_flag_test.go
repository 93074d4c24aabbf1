package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestVersionFlag: --version names the version, commit, build date and Go
// version; with --json it is a document; -v is --verbose now.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("--version")
	if code != 0 || !strings.HasPrefix(out, "xsrescue version "+version+" (commit ") || !strings.Contains(out, ", go1.") {
		t.Errorf("--version: exit %d %q", code, out)
	}
	code, out, _ = runCLI("--version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version != version || v.Go == "" || v.Commit == "" {
		t.Errorf("--version --json: exit %d %v %s", code, err, out)
	}
	if code, out, _ := runCLI("-v"); code != 0 || strings.Contains(out, "xsrescue version") {
		t.Errorf("-v printed the version: %s", out)
	}
}

// TestOneVersionSource: the binary and the man page show one version,
// app.go's: scripts/build.sh adds the commit and date, and never sets
// main.version (it set `git describe` there, while the man page said
// 0.1.0-dev).
func TestOneVersionSource(t *testing.T) {
	t.Parallel()
	build, err := os.ReadFile("../../scripts/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(build), "main.version") || !strings.Contains(string(build), "-X main.commit=") || !strings.Contains(string(build), "-X main.date=") {
		t.Errorf("scripts/build.sh must set main.commit and main.date and leave main.version alone")
	}
	man, err := os.ReadFile("../../docs/xsrescue.8")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.SplitN(string(man), "\n", 3)[0]+strings.SplitN(string(man), "\n", 3)[1], `"xsrescue `+version+`"`) {
		t.Errorf("docs/xsrescue.8 header does not show version %s", version)
	}
}

// TestFlagNames: the new names work, the old ones still do (saying they
// are deprecated, unless --quiet), and a contradiction is a usage error
// naming both flags.
func TestFlagNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := dir + "/a.xml"
	code, _, errOut := runCLI("answerfile", "upgrade", "--disk", "/dev/sda", "--source", "local", "--to", out)
	if code != 0 || !strings.Contains(errOut, "--to is deprecated, use --output") {
		t.Errorf("--to: exit %d %q", code, errOut)
	}
	code, _, errOut = runCLI("answerfile", "upgrade", "--disk", "/dev/sda", "--source", "local", "--to", dir+"/b.xml", "-q")
	if code != 0 || errOut != "" {
		t.Errorf("--to -q: exit %d %q, want no note", code, errOut)
	}
	if code, _, errOut := runCLI("answerfile", "upgrade", "--disk", "/dev/sda", "--source", "local", "-o", dir+"/c.xml"); code != 0 || strings.Contains(errOut, "deprecated") {
		t.Errorf("-o: exit %d %q", code, errOut)
	}
	for _, f := range []string{"a.xml", "b.xml", "c.xml"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Error(err)
		}
	}
	// --installer is the old name of --for-installer on every command that
	// takes an installer version.
	for _, argv := range [][]string{{"version", "set", "--root", dir + "/missing"}, {"version", "show", "--root", dir + "/missing"},
		{"doctor", "--root", dir + "/missing"}, {"answerfile", "restore", "--disk", dir + "/missing"}} {
		if _, _, errOut := runCLI(append(argv, "--installer", "5.0")...); strings.Contains(errOut, "flag provided but not defined") || strings.Contains(errOut, "unknown flag") {
			t.Errorf("%q --installer: %q", argv, errOut)
		}
	}
	// --root is the zone root of the zone commands (--zone-root its alias).
	for _, flag := range []string{"--root", "--zone-root"} {
		if _, _, errOut := runCLI("zone", "publishers", flag, dir+"/missing"); strings.Contains(errOut, "unknown flag") || strings.Contains(errOut, "Required flag") {
			t.Errorf("zone publishers %s: %q", flag, errOut)
		}
	}
	for _, c := range []struct {
		argv []string
		both string
	}{
		{[]string{"version", "set", "--root", dir, "--to", "5.0.0", "--for-installer", "5.0"}, "--to 5.0.0 and --for-installer 5.0"},
		{[]string{"disk", "inspect", dir, "-q", "-v"}, "--quiet and --verbose"},
		{[]string{"version", "show", "--root", dir, "--disk", dir}, "--root and --disk"},
		{[]string{"doctor", "--root", dir, "--installer", "5.0", "--for-installer", "5.0"}, "--for-installer and --installer"},
	} {
		if code, _, errOut := runCLI(c.argv...); code != 2 || !strings.Contains(errOut, c.both) {
			t.Errorf("%q: exit %d %q, want 2 naming %s", c.argv, code, errOut, c.both)
		}
	}
}
