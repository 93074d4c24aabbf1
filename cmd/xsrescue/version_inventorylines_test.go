package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
)

// TestInventoryLinesAsTheInstallerReads: a carriage return or a NUL byte
// in a line the installer never uses, and an inventory over 1 MiB, change
// nothing the 6.2 installer decides (readKeyValueFile reads them; checked
// against the real code): version show says upgrade (exit 0) and notes
// the lines; an all-CRLF file is judged from its values (no), and doctor
// plans removing the carriage returns, not restoring the file.
func TestInventoryLinesAsTheInstallerReads(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs")
	appendLine := func(line string) func(string) error {
		return func(dir string) error {
			f, err := os.OpenFile(filepath.Join(dir, "etc/xensource-inventory"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString(line)
			return err
		}
	}
	crlf := func(dir string) error {
		p := filepath.Join(dir, "etc/xensource-inventory")
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "\n", "\r\n")), 0o644)
	}
	cases := []struct {
		name     string
		populate func(string) error
		outcome  string
		note     string
	}{
		{"CR on an unused line", appendLine("DOM0_MEM='752'\r\n"), "upgrade", "(DOM0_MEM): carriage return at end of line"},
		{"NUL in an unused value", appendLine("XEN_NOTE='a\x00b'\n"), "upgrade", "(XEN_NOTE): NUL byte at column 12"},
		{"over 1 MiB", appendLine("PAD='" + strings.Repeat("x", 1200000) + "'\n"), "upgrade", ""},
		{"every line CRLF", crlf, "no", "(PRODUCT_NAME): carriage return"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := fixtures.Mini("inv-lines", "dos", fixtures.RootSpec{Release: "6.2", Populate: c.populate}, nil)
			img, err := fixtures.BuildDisk(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI("version", "show", "--json", "--disk", img, "--installer", "6.2")
			var doc struct {
				Verdicts []struct{ Outcome string }
				Notes    []string
			}
			if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Verdicts) != 1 {
				t.Fatalf("version show: exit %d: %s", code, errOut)
			}
			if doc.Verdicts[0].Outcome != c.outcome {
				t.Errorf("outcome %s, want %s", doc.Verdicts[0].Outcome, c.outcome)
			}
			if c.note != "" && !strings.Contains(strings.Join(doc.Notes, "\n"), c.note) {
				t.Errorf("notes %q lack %q", doc.Notes, c.note)
			}
			_, out, _ = runCLI("doctor", "--disk", img, "--for-installer", "6.2")
			if strings.Contains(out, "inventory-unreadable") || strings.Contains(out, "from a copy") {
				t.Errorf("doctor:\n%s", out)
			}
			if c.name == "every line CRLF" && !strings.Contains(out, `(by hand) on the root partition mounted read-write (ROOT): sed -i 's/\r$//' ROOT/etc/xensource-inventory`) {
				t.Errorf("doctor plans no sed:\n%s", out)
			}
		})
	}
}
