package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestInventoryLinkOutOfRoot: etc/xensource-inventory -> /etc/inv.real
// names a file of the installer's ramdisk, not the root's: the verdict is
// unknown (never upgrade), version set refuses without writing, and doctor
// plans replacing the link by hand, nothing else.
func TestInventoryLinkOutOfRoot(t *testing.T) {
	t.Parallel()
	versionNeedsDisk(t, "mke2fs")
	for _, to := range []string{"/etc/inv.real", "../../../../etc/inv.real"} {
		t.Run(to, func(t *testing.T) {
			move := func(dir string) error {
				inv := filepath.Join(dir, "etc/xensource-inventory")
				if err := os.Rename(inv, filepath.Join(dir, "etc/inv.real")); err != nil {
					return err
				}
				return os.Symlink(to, inv)
			}
			spec := fixtures.Mini("inv-link", "dos", fixtures.RootSpec{Release: "6.2", Populate: move}, nil)
			img, err := fixtures.BuildDisk(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			vd := versionShowJSON(t, "--disk", img, "--installer", "6.2").Verdicts[0]
			if vd.Outcome != "unknown" || vd.Gates[1].Name != "inventory-keys" || vd.Gates[1].Status != "unknown" || !strings.Contains(vd.Gates[1].Reason, "leads out of the root") {
				t.Fatalf("verdict %s: %+v", vd.Outcome, vd.Gates[1])
			}
			before := testutil.FileSHA256(t, img)
			code, _, errOut := runCLI("version", "set", "--disk", img, "--for-installer", "6.0", "--yes", "--journal", filepath.Join(t.TempDir(), "j.db"))
			if code != 3 || !strings.Contains(errOut, "does not read the file xsrescue would change") || testutil.FileSHA256(t, img) != before {
				t.Fatalf("version set: exit %d: %s", code, errOut)
			}
			code, out, errOut := runCLI("doctor", "--disk", img, "--for-installer", "6.0")
			_, plan, _ := strings.Cut(out, "\nPlan:")
			if !strings.Contains(out, "inventory-outside-root") || !strings.Contains(plan, "(by hand) on the root partition mounted read-write") || strings.Contains(plan, "xsrescue version set") {
				t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
			}
		})
	}
}
