package kickstart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlanSteps runs the recipe's plan reader (plan_steps, taken out of
// xsrescue-pre.sh) under busybox sh on doctor documents of both step forms
// and checks what the shell gets from each line: the words of a step to
// run, or the text of a step a person does.
func TestPlanSteps(t *testing.T) {
	busybox := staticBusybox(t)
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "contrib", "kickstart", "xsrescue-pre.sh"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	start := strings.Index(s, "\nplan_steps() {")
	end := strings.Index(s[start:], "\n}\n")
	if start < 0 || end < 0 {
		t.Fatal("xsrescue-pre.sh has no plan_steps function")
	}
	lib := filepath.Join(t.TempDir(), "plan_steps.sh")
	if err := os.WriteFile(lib, []byte(s[start:start+end+3]), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each line as the recipe takes it: a step to run prints its words
	// one per line after "run", a manual step its text.
	const show = `. "$1"; plan_steps "$2" "$3" | while IFS= read -r line; do
	kind=${line%%"	"*}; rest=${line#*"	"}
	case $kind in
	manual) echo "manual: $rest" ;;
	*) eval "set -- $rest"; echo "run ($kind):"; for w in "$@"; do echo "  [$w]"; done ;;
	esac
done`
	for _, tc := range []struct{ file, mode, want string }{
		{"plan-command.json", "upgrade", `run (command):
  [xsrescue]
  [disk]
  [save-partition]
  [/tmp/i20d/plain.img]
  [--role]
  [backup]
  [--to]
  [/state/it's here/plain-p2-backup.img]
run (command):
  [xsrescue]
  [version]
  [set]
  [--disk]
  [/tmp/i20d/plain.img]
  [--for-installer]
  [5.0.0]
  [--yes]
run (command):
  [xsrescue]
  [answerfile]
  [upgrade]
  [--disk]
  [/tmp/i20d/plain.img]
  [--as]
  [disk/by-id/scsi-SATA_ST3500418AS_9VM1XSRC]
  [--source]
  [local]
  [--to]
  [/state/it's here/answerfile-upgrade-5.0.0.xml]
manual: boot the XenServer 5.0 installer and choose Upgrade (or answerfile=/state/it's here/answerfile-upgrade-5.0.0.xml)
`},
		{"plan-command.json", "restore", `run (command):
  [xsrescue]
  [disk]
  [save-partition]
  [/tmp/i20d/plain.img]
  [--role]
  [backup]
  [--to]
  [/state/it's here/plain-p2-backup.img]
manual: boot the 5.0.0 installer and choose Restore
`},
		{"plan-argv.json", "upgrade", `run (argv):
  [xsrescue]
  [disk]
  [save-partition]
  [/dev/sda]
  [--to]
  [/st/it's "q" é\x]
manual: boot the installer
`},
		{"plan-argv.json", "restore", ``},
		{"plan-argv-null.json", "upgrade", `manual: boot the installer and choose Upgrade
run (argv):
  [xsrescue]
  [version]
`},
	} {
		out, err := exec.Command(busybox, "sh", "-c", show, "sh", lib, filepath.Join("testdata", tc.file), tc.mode).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tc.file, tc.mode, err, out)
		}
		if diff := cmp.Diff(tc.want, string(out)); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tc.file, tc.mode, diff)
		}
	}
}
