package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestClosedStdout: `xsrescue version find … | head -1` ends as coreutils
// end when head has read its line (seq 1 1000000 | head -1 exits 141, no
// message): exit 128+SIGPIPE, no error message — not "write
// /dev/stdout: broken pipe" and exit 1.
func TestClosedStdout(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	// Far more than a pipe holds (64 KiB): version find lists up to 1000
	// matches per file.
	for i := range 40 {
		testutil.Must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("etc/big%d", i)), []byte(strings.Repeat("PRODUCT_VERSION='5.5.0' 15119\n", 2000)), 0o644))
	}
	for _, json := range []bool{false, true} {
		args := []string{"version", "find", "--root", root, "15119"}
		if json {
			args = append(args, "--json")
		}
		c := exec.Command(os.Args[0], args...)
		c.Env = append(os.Environ(), "XSRESCUE_TEST_MAIN=1")
		out, err := c.StdoutPipe()
		testutil.Must(t, err)
		var stderr strings.Builder
		c.Stderr = &stderr
		testutil.Must(t, c.Start())
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		out.Close() // what head does once it has its line
		err = c.Wait()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != exitPipe || strings.Contains(stderr.String(), "pipe") || strings.Contains(stderr.String(), "xsrescue:") {
			t.Errorf("json %v: %v, stderr %q; want exit %d and no error message", json, err, stderr.String(), exitPipe)
		}
	}
}

// TestVersionFindUnreadable: a file version find cannot read (a block
// map pointing outside the filesystem) makes the search incomplete: exit
// 4 with the file listed, never 0 "no matches" (a script would take it
// for a complete "not found").
func TestVersionFindUnreadable(t *testing.T) {
	t.Parallel()
	testutil.NeedTools(t, "debugfs")
	img := cliImage(t)
	p1 := fmt.Sprintf("%s?offset=%d", img, fixtures.MiB)
	if out, err := exec.Command("debugfs", "-w", "-R", "sif /etc/xensource-inventory block[0] 99999999", p1).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	code, out, errOut := runCLI("version", "find", "--disk", img, "NO-SUCH-STRING")
	if code != 4 || !strings.Contains(errOut, "etc/xensource-inventory") || !strings.Contains(errOut, "could not be read") {
		t.Errorf("exit %d, want 4 naming the file\n%s\n%s", code, out, errOut)
	}
}
