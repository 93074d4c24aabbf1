package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// cliImage builds a small XenServer 5.5 disk whose backup holds 5.0.
func cliImage(t *testing.T) string {
	t.Helper()
	testutil.NeedTools(t, "mke2fs", "debugfs")
	img, err := fixtures.BuildDisk(t.TempDir(), fixtures.Mini("cli", "dos", fixtures.RootSpec{Release: "5.5"}, &fixtures.RootSpec{Release: "5.0"}))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// run is xsrescue with the test-only commands, on the given streams.
// run runs argv in-process; a JSON document it prints is checked against
// its schema (checkDocument).
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var out bytes.Buffer
	code := program{stdin: stdin, stdout: io.MultiWriter(stdout, &out), stderr: stderr, extra: testCommands()}.run(ctx, argv)
	checkDocument(argv, out.String())
	return code
}

func runCLI(argv ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), append([]string{"xsrescue"}, argv...), strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// TestCommandLines is the command-line table of issue 2 §1: global flags
// anywhere on the line, "--" ends flags, unknown flags and commands are
// usage errors (exit 2), never arguments, and the exit codes.
func TestCommandLines(t *testing.T) {
	t.Parallel()
	img := cliImage(t)
	empty := filepath.Join(t.TempDir(), "empty.img")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const (
		isJSON  = "json"  // stdout is one JSON document of disk inspect
		isText  = "text"  // stdout is the text table
		isError = "error" // stdout is the JSON error document
	)
	tests := []struct {
		argv   []string
		code   int
		stdout string // isJSON, isText, isError, or a substring
		stderr string // substring
	}{
		{[]string{"disk", "inspect", "IMG"}, 0, isText, ""},
		{[]string{"disk", "inspect", "IMG", "--json"}, 0, isJSON, ""},
		{[]string{"--json", "disk", "inspect", "IMG"}, 0, isJSON, ""},
		{[]string{"disk", "--json", "inspect", "IMG"}, 0, isJSON, ""},
		{[]string{"disk", "inspect", "--json", "IMG"}, 0, isJSON, ""},
		{[]string{"disk", "inspect", "IMG", "--json=false"}, 0, isText, ""},
		{[]string{"disk", "inspect", "IMG", "--", "--json"}, 2, "", "expected 1 argument(s), got 2"},
		{[]string{"disk", "inspect", "IMG", "--bogus"}, 2, "", "xsrescue disk inspect: unknown flag --bogus (see 'xsrescue disk inspect --help')"},
		{[]string{"--bogus", "disk", "inspect", "IMG"}, 2, "", "xsrescue: unknown flag --bogus (see 'xsrescue --help')"},
		// A flag within two edits of one the command has is suggested: its
		// own, or a global one, before or after the command.
		{[]string{"disk", "inspect", "IMG", "--jsno"}, 2, "", "xsrescue disk inspect: unknown flag --jsno: did you mean --json? (see 'xsrescue disk inspect --help')"},
		{[]string{"--dryrun", "disk", "inspect", "IMG"}, 2, "", "xsrescue: unknown flag --dryrun: did you mean --dry-run? (see 'xsrescue --help')"},
		{[]string{"odm", "purge", "--dryrun"}, 2, "", "xsrescue odm purge: unknown flag --dryrun: did you mean --dry-run? (see 'xsrescue odm purge --help')"},
		{[]string{"journal", "undo", "1", "--froce"}, 2, "", "xsrescue journal undo: unknown flag --froce: did you mean --force?"},
		{[]string{"disk", "inspect", "IMG", "--json", "--jsno"}, 2, isError, "did you mean --json?"},
		// Not a hidden old name (--out), the visible one (--output).
		{[]string{"odm", "purge", "--outt", "x"}, 2, "", "unknown flag --outt: did you mean --output?"},
		// Three edits away, or one letter: no guess.
		{[]string{"odm", "purge", "--wet-run"}, 2, "", "xsrescue odm purge: unknown flag --wet-run (see 'xsrescue odm purge --help')"},
		{[]string{"disk", "inspect", "IMG", "-z"}, 2, "", "xsrescue disk inspect: unknown flag -z (see 'xsrescue disk inspect --help')"},
		{[]string{"disk", "inspect", "IMG", "--json", "--bogus"}, 2, isError, "bogus"},
		{[]string{"disk", "inspect"}, 2, "", "expected 1 argument(s), got 0"},
		{[]string{"disk", "inspect", "IMG", "IMG"}, 2, "", "expected 1 argument(s), got 2"},
		{[]string{"disk", "frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"disk", "inspect", "/nonexistent/disk.img", "--json"}, 2, isError, "no such file or directory"},
		{[]string{"disk", "inspect", "EMPTY", "--json"}, 2, isError, "empty.img: byte 0: empty (0 bytes)"},
		{[]string{"disk", "inspect", "DIR"}, 2, "", "is a directory"},
		{[]string{"--version"}, 0, "xsrescue version " + version, ""},
		{[]string{"disk", "inspect", "--help"}, 0, "EXIT STATUS", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			argv := append([]string(nil), tt.argv...)
			for i, a := range argv {
				argv[i] = map[string]string{"IMG": img, "EMPTY": empty, "DIR": t.TempDir()}[a]
				if argv[i] == "" {
					argv[i] = a
				}
			}
			code, stdout, stderr := runCLI(argv...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			switch tt.stdout {
			case isJSON:
				var doc struct {
					Path      string
					Table     string
					XenServer *struct{ RootPartition int } `json:"xenserver"`
				}
				if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc.Path != img || doc.Table != "dos" || doc.XenServer == nil {
					t.Errorf("stdout is not the inspect document (%v):\n%s", err, stdout)
				}
			case isText:
				if !strings.Contains(stdout, "table dos, layout legacy") || strings.HasPrefix(stdout, "{") {
					t.Errorf("stdout is not the text table:\n%s", stdout)
				}
			case isError:
				var doc struct {
					Error struct {
						ExitCode int `json:"exit_code"`
					}
				}
				if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc.Error.ExitCode != tt.code {
					t.Errorf("stdout is not the JSON error document (%v):\n%s", err, stdout)
				}
			default:
				if !strings.Contains(stdout, tt.stdout) {
					t.Errorf("stdout does not contain %q:\n%s", tt.stdout, stdout)
				}
			}
		})
	}
}

// TestDryRunAfterArguments: a --dry-run (or -n) written after the positional
// arguments of a mutating command is honoured — with urfave/cli v2 it became
// an argument and the mutation happened. The mutating command is the journal
// tests' zz-journal-test-write, which goes through apply like every
// domain command.
func TestDryRunAfterArguments(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{
		{"zz-journal-test-write", "etc/motd", "--root", "ROOT", "--content", "new", "--yes", "--dry-run"},
		{"zz-journal-test-write", "etc/motd", "--dry-run", "--root", "ROOT", "--content", "new", "--yes"},
		{"zz-journal-test-write", "etc/motd", "--root", "ROOT", "--content", "new", "-y", "-n"},
		{"--dry-run", "zz-journal-test-write", "etc/motd", "--root", "ROOT", "--content", "new", "--yes"},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			root := t.TempDir()
			motd := filepath.Join(root, "etc", "motd")
			if err := os.MkdirAll(filepath.Dir(motd), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(motd, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := append([]string(nil), argv...)
			for i := range argv {
				if argv[i] == "ROOT" {
					argv[i] = root
				}
			}
			code, stdout, stderr := runCLI(argv...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if b, _ := os.ReadFile(motd); string(b) != "old" {
				t.Errorf("dry run changed the file to %q", b)
			}
			if _, err := os.Stat(filepath.Join(root, "var", "lib", "xsrescue")); err == nil {
				t.Error("dry run created the journal")
			}
			if !strings.Contains(stderr, "dry run") {
				t.Errorf("stderr does not say dry run: %s", stderr)
			}
		})
	}
	t.Run("without --dry-run the same line mutates", func(t *testing.T) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "motd"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI("zz-journal-test-write", "motd", "--root", root, "--content", "new", "--yes")
		if b, _ := os.ReadFile(filepath.Join(root, "motd")); code != 0 || string(b) != "new" {
			t.Errorf("exit %d, file %q\nstdout: %s\nstderr: %s", code, b, stdout, stderr)
		}
	})
	t.Run("no --yes and no terminal is refused", func(t *testing.T) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "motd"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI("zz-journal-test-write", "motd", "--root", root, "--content", "new")
		if code != xerr.ExitRefused {
			t.Errorf("exit %d, want %d: %s", code, xerr.ExitRefused, stderr)
		}
		if b, _ := os.ReadFile(filepath.Join(root, "motd")); string(b) != "old" {
			t.Errorf("refused mutation wrote %q", b)
		}
	})
}

// TestDiskInspectReadOnly: the command leaves the image byte for byte as it
// was (sha256 of the whole image).
func TestDiskInspectReadOnly(t *testing.T) {
	t.Parallel()
	img := cliImage(t)
	sum := func() string {
		s, err := fixtures.FileSHA256(img)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := sum()
	for _, argv := range [][]string{{"disk", "inspect", img}, {"disk", "inspect", img, "--json"}} {
		if code, _, stderr := runCLI(argv...); code != 0 {
			t.Fatalf("%v: exit %d: %s", argv, code, stderr)
		}
	}
	if sum() != before {
		t.Fatal("disk inspect changed the image")
	}
}

// TestDiskInspectGolden: the text table and the JSON document of a small
// 5.5 disk whose backup holds 5.0, against testdata/disk_inspect_cli.*.
// XSRESCUE_UPDATE_GOLDEN=1 rewrites them.
func TestDiskInspectGolden(t *testing.T) {
	t.Parallel()
	img := cliImage(t)
	for _, tt := range []struct {
		golden string
		argv   []string
	}{
		{"disk_inspect_cli.txt", []string{"disk", "inspect", img}},
		{"disk_inspect_cli.json", []string{"disk", "inspect", img, "--json"}},
	} {
		code, stdout, stderr := runCLI(tt.argv...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.argv, code, stderr)
		}
		got := strings.ReplaceAll(stdout, img, "cli.img")
		path := filepath.Join("testdata", tt.golden)
		if os.Getenv("XSRESCUE_UPDATE_GOLDEN") != "" {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs:\n--- want\n%s\n--- got\n%s", path, want, got)
		}
	}
}

// markInterrupted leaves the ops of the journal at jpath (with last, only
// the newest) "applying", as a crash after their last change does.
func markInterrupted(t *testing.T, jpath string, last bool) {
	t.Helper()
	db, err := sql.Open("sqlite3", jpath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := "UPDATE ops SET status = 'applying', finished = ''"
	if last {
		q += " WHERE id = (SELECT max(id) FROM ops)"
	}
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}
