package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestDemo builds the binary and runs `xsrescue demo --json` as a user
// would: every step must succeed, the doctor must end clean and the image
// byte-identical to the start. Without root the demo runs its read-only
// part, which must succeed too. It takes about 40 s, so it runs where
// XSRESCUE_TEST_DEMO=1 asks for it: scripts/test.sh (CI) sets it, a plain
// go test ./... does not.
func TestDemo(t *testing.T) {
	if os.Getenv("XSRESCUE_TEST_DEMO") != "1" {
		t.Skip("the whole demo runs from scripts/test.sh (XSRESCUE_TEST_DEMO=1)")
	}
	testutil.NeedTools(t, "mke2fs", "debugfs")
	bin := filepath.Join(t.TempDir(), "xsrescue")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin, "demo", "--json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out, stderr.String())
	}
	checkDocument([]string{"xsrescue", "demo", "--json"}, string(out))
	var doc demoDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Failed) > 0 {
		t.Fatalf("demo failures: %v\n%s", doc.Failed, stderr.String())
	}
	if _, err := os.Stat(doc.Dir); err == nil {
		t.Errorf("demo left %s behind", doc.Dir)
	}
	for _, s := range doc.Steps {
		if s.Skipped != "" {
			t.Errorf("step skipped: %s (%s)", s.Command, s.Skipped)
		}
	}
	if !doc.Root {
		if os.Geteuid() == 0 {
			t.Fatal("demo run as root reports no root privileges")
		}
		t.Skip("not root: only the read-only part of the demo ran (it succeeded)")
	}
	if doc.ByteIdentical == nil || !*doc.ByteIdentical || doc.StartSHA != doc.EndSHA || doc.StartSHA == "" {
		t.Errorf("image not byte-identical: start %s end %s", doc.StartSHA, doc.EndSHA)
	}
	if doc.TreeIdentical == nil || !*doc.TreeIdentical {
		t.Error("root tree differs after undo")
	}
	if !strings.Contains(stderr.String(), "Plan: nothing to do.") {
		t.Error("the second doctor run has a plan")
	}
	var cmds []string
	for _, s := range doc.Steps {
		f := strings.Fields(s.Command)
		cmds = append(cmds, f[1]+" "+f[2])
	}
	want := "disk inspect,doctor --disk,disk save-partition,disk save-partition,version show,version set,version show,answerfile upgrade,statedb diff,statedb patch,doctor --disk,journal list,journal undo,journal undo,journal undo,disk restore-partition"
	if got := strings.Join(cmds, ","); got != want {
		t.Errorf("steps\n got %s\nwant %s", got, want)
	}
}
