package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/zfsroot"
)

// readOnlyVerbs never write anything, with or without --dry-run.
var readOnlyVerbs = []string{
	"disk inspect", "doctor", "guest check", "journal list", "journal show", "odm ghosts",
	"statedb show", "statedb diff", "statedb check", "version show", "version find", "zfs labels", "zone list", "zone publishers",
}

// leafVerbs lists every visible command of the tree ("group sub", or
// "name" for a command without subcommands).
func leafVerbs() []string {
	var out []string
	var walk func(c *cli.Command, path string)
	walk = func(c *cli.Command, path string) {
		for _, s := range c.Commands {
			if s.Hidden {
				continue
			}
			p := strings.TrimSpace(path + " " + s.Name)
			if len(s.Commands) == 0 {
				out = append(out, p)
			}
			walk(s, p)
		}
	}
	walk(newApp(newEnv(strings.NewReader(""), io.Discard, io.Discard), nil), "")
	return out
}

// TestDryRunEveryVerb runs every command that writes anything — to a
// target, a disk, a pool, or a new file — with -n on real fixtures, and
// checks that nothing changed on disk: images and trees hashed whole,
// files it would create absent, $TMPDIR left empty. A verb added to the
// tree without a row here (or in readOnlyVerbs) fails the test.
func TestDryRunEveryVerb(t *testing.T) {
	needRootMount(t)
	type row struct {
		args  []string      // the command line, without -n
		watch []string      // paths whose state must not change (absent ones must stay absent)
		more  func() string // any other state that must not change (a pool's datasets)
	}
	rows := map[string]func(t *testing.T) row{
		"answerfile upgrade": func(t *testing.T) row {
			out := filepath.Join(t.TempDir(), "answer.xml")
			return row{args: []string{"answerfile", "upgrade", "--disk", "sda", "--source", "local", "--to", out}, watch: []string{out}}
		},
		"answerfile restore": func(t *testing.T) row {
			img := cliImage(t)
			out := filepath.Join(t.TempDir(), "restore.xml")
			return row{args: []string{"answerfile", "restore", "--disk", img, "--for-installer", "6.2", "--to", out}, watch: []string{img, out}}
		},
		"demo": func(t *testing.T) row {
			return row{args: []string{"demo"}}
		},
		"disk save-partition": func(t *testing.T) row {
			img := cliImage(t)
			to := filepath.Join(t.TempDir(), "p2.img")
			return row{args: []string{"disk", "save-partition", img, "--role", "backup", "--to", to}, watch: []string{img, filepath.Dir(to)}}
		},
		"disk restore-partition": func(t *testing.T) row {
			img := cliImage(t)
			to := filepath.Join(t.TempDir(), "p2.img")
			if code, out, errOut := runCLI("disk", "save-partition", img, "--partition", "2", "--to", to); code != 0 {
				t.Fatalf("save: exit %d\n%s\n%s", code, out, errOut)
			}
			scribble(t, img, partitionStart(t, img, 2)+4096)
			return row{args: []string{"disk", "restore-partition", img, "--partition", "2", "--from", to}, watch: []string{img, filepath.Dir(to)}}
		},
		"guest fix": func(t *testing.T) row {
			root, cfg := guestTree(t, fixtures.CentOS45Guest())
			return row{args: []string{"guest", "fix", "--root", root, "--domain-config", cfg}, watch: []string{root, cfg}}
		},
		"journal undo": func(t *testing.T) row {
			dir := journalTestRoot(t)
			if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "x\n", "--root", dir, "--yes"); code != 0 {
				t.Fatalf("apply: exit %d %s", code, errOut)
			}
			return row{args: []string{"journal", "undo", "1", "--root", dir}, watch: []string{dir}}
		},
		"journal recover": func(t *testing.T) row {
			dir := journalTestRoot(t)
			if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "x\n", "--root", dir, "--yes"); code != 0 {
				t.Fatalf("apply: exit %d %s", code, errOut)
			}
			markInterrupted(t, filepath.Join(dir, "var/lib/xsrescue/journal.db"), false)
			return row{args: []string{"journal", "recover", "--root", dir}, watch: []string{dir}}
		},
		"journal export": func(t *testing.T) row {
			dir := journalTestRoot(t)
			if code, _, errOut := runCLI("zz-journal-test-write", "etc/inventory", "--content", "x\n", "--root", dir, "--yes"); code != 0 {
				t.Fatalf("apply: exit %d %s", code, errOut)
			}
			out := filepath.Join(t.TempDir(), "op1.tar.gz")
			return row{args: []string{"journal", "export", "1", out, "--root", dir}, watch: []string{dir, out}}
		},
		"odm purge": func(t *testing.T) row {
			a := odmFixture(t)
			out := t.TempDir()
			return row{args: []string{"odm", "purge", "--odm", a.ODMDir, "--dev", a.DevDir, "--out", out, "--all-ghosts"}, watch: []string{a.Dir, a.ODMDir, out}}
		},
		"statedb patch": func(t *testing.T) row {
			dir := statedbRoot(t, "7.1", fixtures.StateDBSpec{Release: "8.2.1", Schema: 603, VMs: 3, Seed: "host1"}, nil)
			out := filepath.Join(t.TempDir(), "patched.db")
			return row{args: []string{"statedb", "patch", "--root", dir, "--to-release", "7.1", "--drop-data"}, watch: []string{dir, out}}
		},
		"version set": func(t *testing.T) row {
			img := cliImage(t)
			return row{args: []string{"version", "set", "--disk", img, "--for-installer", "5.0"}, watch: []string{img}}
		},
		"zone unset-publisher": func(t *testing.T) row {
			zr := pkg5Zone(t)
			return row{args: []string{"zone", "unset-publisher", "opensolaris.org", "--zone-root", zr}, watch: []string{zr}}
		},
		"zone set-sticky": func(t *testing.T) row {
			zr := pkg5Zone(t)
			return row{args: []string{"zone", "set-sticky", "solaris", "false", "--zone-root", zr}, watch: []string{zr}}
		},
		"zone restore-etc": func(t *testing.T) row {
			testutil.NeedTools(t, "zfs")
			z := zoneLayout(t)
			snap := z.ZBE + "@before"
			if _, err := fixtures.ZFS("snapshot", snap); err != nil {
				t.Fatal(err)
			}
			testutil.Must(t, os.WriteFile(filepath.Join(z.ZoneRoot, "etc/passwd"), []byte("broken\n"), 0o644))
			datasets := func() string { return poolDatasets(z.ZBE) }
			return row{args: []string{"zone", "restore-etc", "--zone-root", z.ZoneRoot, "--snapshot", snap}, watch: []string{z.ZoneRoot}, more: datasets}
		},
	}
	for _, verb := range leafVerbs() {
		if _, ok := rows[verb]; !ok && !slices.Contains(readOnlyVerbs, verb) {
			t.Errorf("%q: neither read-only nor in this test's dry-run table: add it", verb)
		}
	}
	// statedb patch -o: a second line of the same verb.
	rows["statedb patch -o"] = func(t *testing.T) row {
		r := rows["statedb patch"](t)
		r.args = append(r.args, "-o", r.watch[1])
		return r
	}
	for verb, setup := range rows {
		t.Run(verb, func(t *testing.T) {
			r := setup(t)
			tmp := t.TempDir()
			state := func() string {
				s := stateOnDisk(t, append(r.watch, tmp)...)
				if r.more != nil {
					s += r.more()
				}
				return s
			}
			before := state()
			p := startXS(t, nil, t.TempDir(), []string{"TMPDIR=" + tmp}, append(r.args, "-n")...)
			code := p.wait(t, 60*time.Second)
			if code != 0 {
				t.Errorf("xsrescue %s -n: exit %d\n%s\n%s", strings.Join(r.args, " "), code, p.stdout, p.stderr)
			}
			if state() != before {
				t.Errorf("xsrescue %s -n changed something on disk\n%s", strings.Join(r.args, " "), p.stderr)
			}
		})
	}
}

// pkg5Zone is a zone root on a plain directory holding a Solaris 11
// pkg5.image (no ZFS: no safety snapshot).
func pkg5Zone(t *testing.T) string {
	t.Helper()
	zr := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(zr, "var/pkg"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(zr, zfsroot.ImageFilePkg5), zfsrootTestdata(t, "ips/pkg5.image.s11"), 0o644))
	return zr
}

// partitionStart is the byte offset of partition n of img.
func partitionStart(t *testing.T, img string, n int) int64 {
	t.Helper()
	f, err := os.Open(img)
	testutil.Must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	testutil.Must(t, err)
	d, err := partition.Inspect(f, fi.Size())
	testutil.Must(t, err)
	return d.Partition(n).Start
}
