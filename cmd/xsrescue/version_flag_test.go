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
