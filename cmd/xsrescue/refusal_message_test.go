package main

import (
	"strings"
	"testing"
)

// TestVersionSetBelowBoundNamesEachKeyOnce: the refusal of a system below
// the installer's lower bound names the version it compares once (it said
// "PRODUCT_VERSION 5.5.0, PRODUCT_VERSION 5.5.0" when the installer
// compares PRODUCT_VERSION itself).
func TestVersionSetBelowBoundNamesEachKeyOnce(t *testing.T) {
	t.Parallel()
	img := cliImage(t)
	code, _, errOut := runCLI("version", "set", "--disk", img, "--for-installer", "6.2", "--dry-run")
	if code != 3 || !strings.Contains(errOut, "the installed system (PRODUCT_VERSION 5.5.0) is below the ") {
		t.Errorf("exit %d, want 3 naming PRODUCT_VERSION 5.5.0 once:\n%s", code, errOut)
	}
}
