package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
)

// TestReadOnlyUnprivileged runs every read-only --disk command of the
// static binary, and the dry runs of two mutating ones, as an unprivileged
// user (uid 65534): once as such, and
// once in a chroot that holds nothing but the binary and the disk images —
// no /proc, /sys, /dev or /tmp, no loop device, no e2fsprogs. Each must
// succeed and say what it read; the images must not change by a byte.
func TestReadOnlyUnprivileged(t *testing.T) {
	testutil.NeedRoot(t, "to chroot and to run as uid 65534")
	testutil.NeedTools(t, "mke2fs", "gcc")
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "xsrescue")
	if out, err := exec.Command("bash", "../../scripts/build.sh", bin).CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	images := map[string]fixtures.DiskSpec{"rescue.img": fixtures.MiniRescue("unpriv")}
	for name, spec := range images {
		p, err := fixtures.BuildDisk(dir, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	guest, err := fixtures.BuildGuestDisk(dir, fixtures.CentOS45Guest())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(guest, filepath.Join(dir, "guest.img")); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, name := range []string{"rescue.img", "guest.img"} {
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
		if before[name], err = fixtures.FileSHA256(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Fatalf("the chroot holds %d entries, want the binary and two images", len(ents))
	}

	commands := []struct {
		name  string
		args  []string
		codes []int
		want  []string // substrings of the JSON document
	}{
		{"disk inspect", []string{"disk", "inspect", "DIR/rescue.img", "--json"}, []int{0},
			[]string{`"PRODUCT_VERSION": "5.5.0"`, `"marker": true`, `"marker_error": null`}},
		{"version show", []string{"version", "show", "--disk", "DIR/rescue.img", "--json"}, []int{0},
			[]string{`"PRODUCT_VERSION": "5.5.0"`, `"marker": true`}},
		{"version find", []string{"version", "find", "--disk", "DIR/rescue.img", "15119p", "--json"}, []int{0},
			[]string{`"etc/xensource-inventory"`, `"problems": []`}},
		{"statedb show", []string{"statedb", "show", "--disk", "DIR/rescue.img", "--json"}, []int{0},
			[]string{`"schema_major"`, `"xapi_loads"`}},
		{"doctor", []string{"doctor", "--disk", "DIR/rescue.img", "--installer", "5.0", "--json"}, []int{0, 4},
			[]string{`"installer-verdict/5.0.0"`, `"statedb-schema"`}},
		{"guest check", []string{"guest", "check", "--disk", "DIR/guest.img", "--partition", "1", "--json"}, []int{0, 4},
			[]string{`"tls"`}},
		{"journal list", []string{"journal", "list", "--disk", "DIR/rescue.img", "--json"}, []int{0},
			[]string{`"ops": []`}},
		// A dry run plans exactly as the real command does, on the same
		// in-process view, and takes no lock: nothing to write, not even
		// a lock file.
		{"version set --dry-run", []string{"version", "set", "--disk", "DIR/rescue.img", "--for-installer", "5.0", "--dry-run", "--json"}, []int{0, 4},
			[]string{`"dry_run": true`, `"PRODUCT_VERSION": "5.0.0"`, `"op": null`}},
		{"guest fix --dry-run", []string{"guest", "fix", "--disk", "DIR/guest.img", "--partition", "1", "--dry-run", "--json"}, []int{0, 4},
			[]string{`"dry_run": true`, `"new_path": "lib/tls.disabled"`, `"op": null`}},
		// Applying needs root: refused before anything is planned or
		// asked, not after the confirmation with a loop-device error.
		{"version set --yes", []string{"version", "set", "--disk", "DIR/rescue.img", "--for-installer", "5.0", "--yes", "--json"}, []int{3},
			[]string{`"exit_code": 3`, `needs root`, `--dry-run`}},
	}
	for _, mode := range []string{"unprivileged", "chroot"} {
		for _, c := range commands {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				where, exe := dir, bin
				attr := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				if mode == "chroot" {
					where, exe = "", "/xsrescue"
					attr.Chroot = dir
				}
				args := make([]string, len(c.args))
				for i, a := range c.args {
					args[i] = strings.Replace(a, "DIR", where, 1)
				}
				cmd := exec.Command(exe, args...)
				cmd.SysProcAttr, cmd.Dir, cmd.Env = attr, "/", []string{"PATH=/nonexistent"}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(c.codes, code) {
					t.Fatalf("exit %d, want %v\n%s\n%s", code, c.codes, out, stderr.String())
				}
				var doc map[string]any
				if err := json.Unmarshal(out, &doc); err != nil {
					t.Fatalf("not one JSON document: %v\n%s", err, out)
				}
				for _, w := range c.want {
					if !strings.Contains(string(out), w) {
						t.Errorf("output lacks %s:\n%s\n%s", w, out, stderr.String())
					}
				}
				if strings.Contains(string(out), "root-not-examined") || strings.Contains(stderr.String(), "mount") {
					t.Errorf("something was mounted or not examined:\n%s\n%s", out, stderr.String())
				}
			})
		}
	}
	for name, sum := range before {
		if after, _ := fixtures.FileSHA256(filepath.Join(dir, name)); after != sum {
			t.Errorf("%s changed", name)
		}
	}
}
