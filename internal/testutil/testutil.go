// Package testutil holds the helpers every package's tests share: failing
// on an error, skipping where a test cannot run (no root, a tool missing),
// and hashing files and images whole. Test code only.
//
// A skip names its reason and how to get the missing piece: scripts/test.sh
// installs every tool and runs as root, so in CI nothing is skipped.
package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"testing"
)

// Must fails the test at once on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// NeedRoot skips a test that needs root privileges; why says what for
// ("loop devices and mount", "mknod").
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s", why)
	}
}

// NeedTools skips a test when one of the tools is not installed.
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test.sh installs it)", tool)
		}
	}
}

// FileSHA256 is the lower-case hex sha256 of the whole file at path: what
// a test compares before and after a command that must not write a byte.
func FileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	Must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	Must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}
