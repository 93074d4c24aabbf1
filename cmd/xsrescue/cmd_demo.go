package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/partimage"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// demoOptions are the flags of demo.
type demoOptions struct {
	Keep bool
}

func newDemoCommand(e *env) *cli.Command {
	var o demoOptions
	return &cli.Command{
		Name:      "demo",
		Usage:     "rehearse a whole XenServer rescue on a scratch disk image",
		ArgsUsage: " ",
		Description: "Builds, in a temporary directory, the disk of a XenServer 5.5 host whose downgrade to\n" +
			"5.0 failed (the 5.0 installer refused the newer system; the backup partition still holds\n" +
			"5.0), and walks through the rescue with the real commands, printing each one:\n" +
			"disk inspect, doctor, save the backup partition, version set for the 5.0 installer (the\n" +
			"verdict flips), what the 5.0 installer and xapi leave behind (simulated: a fresh 5.0\n" +
			"state.db beside the carried-over 5.5 one), statedb diff, statedb patch --like, doctor\n" +
			"again (clean), journal list, then undo everything and prove the image byte-identical\n" +
			"to the start.\n\n" +
			"Mounting needs root; without it the demo says so and runs the read-only part.\n" +
			"Touches nothing outside its temporary directory (--keep keeps it).\n\n" + exitHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "keep", Destination: &o.Keep, Usage: "keep the temporary directory (image, snapshots, journal)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return runDemo(ctx, e, o, func(argv []string) bool { return hasCommand(cmd.Root(), argv) })
		},
	}
}

type demo struct {
	ctx     context.Context
	self    string    // this binary, run for every step
	w       io.Writer // narration and the commands' output
	doc     *demoDoc
	journal string
	has     func(argv []string) bool // the command is in this build
}

func runDemo(ctx context.Context, e *env, o demoOptions, has func(argv []string) bool) error {
	w := e.stdout
	if e.JSON {
		w = e.stderr // stdout carries the one JSON document
	}
	if e.DryRun {
		// The demo is nothing but writes to its scratch image.
		fmt.Fprintf(w, "dry run: nothing was written; the demo would build an 80 GiB sparse disk image in a new directory under %s, run the rescue on it and remove it again%s\n",
			os.TempDir(), map[bool]string{true: " (--keep: kept)", false: ""}[o.Keep])
		return e.emit(&demoDoc{Steps: []demoStep{}, Failed: []string{}}, nil)
	}
	dir, err := os.MkdirTemp("", "xsrescue-demo-")
	if err != nil {
		return err
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	d := &demo{ctx: ctx, self: self, w: w, has: has, doc: &demoDoc{Dir: dir, Steps: []demoStep{}, Failed: []string{}}, journal: filepath.Join(dir, "journal.db")}
	runErr := d.run(dir)
	if o.Keep {
		d.say("Everything is kept in %s.", dir)
	}
	if runErr != nil {
		d.doc.Failed = append(d.doc.Failed, runErr.Error())
	}
	if err := e.emit(d.doc, nil); err != nil {
		return err
	}
	if len(d.doc.Failed) > 0 {
		return fmt.Errorf("demo: %s", strings.Join(d.doc.Failed, "; "))
	}
	return nil
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.w, "\n"+format+"\n", args...)
}

// xs runs one xsrescue command as a child process of this very binary (the
// commands a user would type, with their real exit codes), prints it and
// its output, and records a failure when the exit code is not want.
func (d *demo) xs(want int, argv ...string) (string, int) {
	line := "xsrescue " + shquote.Join(argv)
	if !d.has(argv) {
		why := fmt.Sprintf("%s %s is not in this build", argv[0], argv[1])
		fmt.Fprintf(d.w, "\n$ %s\n(skipped: %s)\n", line, why)
		d.doc.Steps = append(d.doc.Steps, demoStep{Command: line, ExitCode: -1, Skipped: why})
		return "", -1
	}
	fmt.Fprintf(d.w, "\n$ %s\n", line)
	var out bytes.Buffer
	c := exec.CommandContext(d.ctx, d.self, argv...)
	c.Stdout = io.MultiWriter(d.w, &out)
	c.Stderr = d.w
	c.Env = append(os.Environ(), "XSRESCUE_JOURNAL=") // only the --journal given here
	code := 0
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			d.doc.Failed = append(d.doc.Failed, fmt.Sprintf("%q: %v", line, err))
			return "", -1
		}
		code = ee.ExitCode()
	}
	d.doc.Steps = append(d.doc.Steps, demoStep{Command: line, ExitCode: code})
	if code != want {
		d.doc.Failed = append(d.doc.Failed, fmt.Sprintf("%q exited %d, expected %d", line, code, want))
	}
	return out.String(), code
}

// hasCommand reports whether "GROUP SUB" at the start of argv (e.g.
// "statedb patch") is in the command tree root: the demo grows as command
// groups land.
func hasCommand(root *cli.Command, argv []string) bool {
	g := root.Command(argv[0])
	if g == nil {
		return false
	}
	return len(argv) < 2 || strings.HasPrefix(argv[1], "-") || g.Command(argv[1]) != nil
}

func (d *demo) run(dir string) error {
	d.say("== xsrescue demo: a XenServer 5.5 host whose downgrade to 5.0 failed ==\n\n"+
		"The host ran XenServer 5.0, was upgraded to 5.5 (the installer copied the 5.0 system to\n"+
		"the backup partition), and then had to go back to 5.0. The 5.0 installer refused the\n"+
		"disk: it does not upgrade a newer system. Building that disk (80 GiB, sparse) in\n%s ...", dir)
	img, err := fixtures.BuildDisk(dir, fixtures.RescueDisk())
	if err != nil {
		return err
	}
	d.doc.Image = img
	start, err := partimage.Fingerprint(d.ctx, img)
	if err != nil {
		return err
	}
	d.doc.StartSHA = start
	d.say("Image fingerprint at the start (sha256 of every non-zero block and its offset): %s", start)

	d.say("1. What is on the disk, read the way the installer reads it (no mount, no write):")
	d.xs(0, "disk", "inspect", img)

	d.doc.Root = os.Geteuid() == 0
	if !d.doc.Root {
		d.say("2. The diagnosis (read in-process: no root needed to read a disk):")
		d.xs(xerr.ExitProblems, "doctor", "--disk", img, "--for-installer", "5.0", "--save-dir", dir) // broken findings: exit 4
		d.say("The rest of the rescue mounts the partitions read-write and needs root:\n  sudo go run ./cmd/xsrescue demo")
		return nil
	}
	treeStart, err := d.tree(img)
	if err != nil {
		return err
	}
	rootImg := d.prepare(dir, img)
	if err := d.rescue(dir, img); err != nil {
		return err
	}
	return d.undoAndCompare(img, rootImg, start, treeStart)
}

// prepare diagnoses the disk, saves its partitions and sets the markers
// for the 5.0 installer (steps 2 to 4). It returns the root's image.
func (d *demo) prepare(dir, img string) string {
	j := []string{"--journal", d.journal}

	d.say("2. The diagnosis: findings with their evidence and rule, and the plan for the 5.0 installer\n" +
		"(exit status 4: broken findings).")
	d.xs(xerr.ExitProblems, append([]string{"doctor", "--disk", img, "--for-installer", "5.0", "--save-dir", dir}, j...)...)

	d.say("3. Before anything else, image the backup partition: every installer run reformats it,\n" +
		"and with it the 5.0 installer's Restore. The root is imaged too, only so that this demo\n" +
		"can return the disk to its exact bytes at the end (mounting ext3 read-write changes\n" +
		"superblock fields that no file-level undo restores).")
	backupImg := filepath.Join(dir, "xs55-failed-downgrade-p2-backup.img")
	rootImg := filepath.Join(dir, "xs55-failed-downgrade-p1-root.img")
	d.xs(0, append([]string{"disk", "save-partition", img, "--role", "backup", "--output", backupImg}, j...)...)
	d.xs(0, append([]string{"disk", "save-partition", img, "--role", "root", "--output", rootImg, "--compress"}, j...)...)

	d.say("4. The 5.0 installer compares PRODUCT_VERSION with its own. Its verdict now:")
	d.xs(0, "version", "show", "--disk", img, "--for-installer", "5.0")
	d.say("Set every marker to values the 5.0 installer accepts, through the journal:")
	d.xs(0, append([]string{"version", "set", "--disk", img, "--for-installer", "5.0", "--yes"}, j...)...)
	d.say("And the verdict flips:")
	d.xs(0, "version", "show", "--disk", img, "--for-installer", "5.0")
	return rootImg
}

// rescue simulates the 5.0 installer and xapi, and patches the database
// xapi loads (steps 5 to 9).
func (d *demo) rescue(dir, img string) error {
	j := []string{"--journal", d.journal}
	d.say("5. Booted with the answer file, the 5.0 installer upgrades the disk and carries\n" +
		"var/xapi/state.db (schema 57, written by xapi 5.5) over verbatim; xapi 5.0 refuses it.\n" +
		"Started once without a database, xapi 5.0 writes a fresh one (schema 55). This demo\n" +
		"simulates that step: it writes the fresh database as var/xapi/state.db.fresh beside the\n" +
		"carried-over one (through the journal, so it can be undone too).")
	d.xs(0, "answerfile", "upgrade", "--disk", "sda", "--source", "local")
	if err := d.simulateXapi(img); err != nil {
		return err
	}
	carried, fresh := filepath.Join(dir, "carried-5.5.db"), filepath.Join(dir, "fresh-5.0.db")
	if err := d.copyOut(img, map[string]string{"var/xapi/state.db": carried, "var/xapi/state.db.fresh": fresh}); err != nil {
		return err
	}
	d.say("Copied both databases out of the root (read in-process, read-only) to compare them:\n  %s\n  %s", carried, fresh)

	d.say("6. What differs between the carried-over database and the one xapi 5.0 writes:")
	d.xs(0, "statedb", "diff", carried, fresh)

	d.say("7. Patch the database xapi loads to what xapi 5.0 reads, taking schema, manifest form,\n" +
		"tables and columns from the fresh database (the engineer's method, done properly):")
	d.xs(0, append([]string{"statedb", "patch", "--disk", img, "--like", fresh, "--drop-data", "--yes"}, j...)...)

	d.say("8. The doctor again:")
	out, _ := d.xs(0, append([]string{"doctor", "--disk", img, "--for-installer", "5.0", "--save-dir", dir}, j...)...)
	if strings.Contains(out, "[broken]") || strings.Contains(out, "[warn") {
		d.doc.Failed = append(d.doc.Failed, "the doctor is not clean after the rescue")
	}

	d.say("9. Every change is in the journal:")
	d.xs(0, append([]string{"journal", "list"}, j...)...)
	return nil
}

// undoAndCompare undoes every op and proves the image byte-identical to
// the start (steps 10 and 11).
func (d *demo) undoAndCompare(img, rootImg, start, treeStart string) error {
	j := []string{"--journal", d.journal}
	d.say("10. Undo everything, newest first (partition images stay, they change nothing):")
	if err := d.undoAll(); err != nil {
		return err
	}
	treeEnd, err := d.tree(img)
	if err != nil {
		return err
	}
	same := treeStart == treeEnd
	d.doc.TreeIdentical = &same
	d.say("Root file tree (content, mode, owner, link targets) identical to the start: %v", yesNo(same))
	if !same {
		d.doc.Failed = append(d.doc.Failed, "the root tree differs from the start after undo")
	}

	d.say("11. The root's ext3 metadata (mount counts, times, journal blocks) changed with every\n" +
		"read-write mount; the root image saved in step 3 puts back those blocks, and only those:")
	d.xs(0, append([]string{"disk", "restore-partition", img, "--partition", "1", "--from", rootImg, "--yes"}, j...)...)
	end, err := partimage.Fingerprint(d.ctx, img)
	if err != nil {
		return err
	}
	d.doc.EndSHA = end
	ident := end == start
	d.doc.ByteIdentical = &ident
	d.say("Image fingerprint at the end:   %s\nImage fingerprint at the start: %s\nByte-identical to the start: %s", end, start, yesNo(ident))
	if !ident {
		d.doc.Failed = append(d.doc.Failed, "the image is not byte-identical to the start")
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// simulateXapi writes what xapi 5.0 leaves when it starts without a
// database, as a journal op on the root.
func (d *demo) simulateXapi(img string) error {
	fresh, err := fixtures.FreshStateDB("5.0")
	if err != nil {
		return err
	}
	tgt, err := target.Open(d.ctx, target.Options{Disk: img, Writable: true})
	if err != nil {
		return err
	}
	defer tgt.Close()
	j, err := journal.Open(d.journal)
	if err != nil {
		return err
	}
	defer j.Close()
	p := &plan.Plan{Command: "demo: xapi 5.0 writes a fresh database (simulated)", Changes: []plan.Change{{
		Kind: plan.Create, Path: "var/xapi/state.db.fresh", Content: fresh, Mode: 0o600, UID: 0, GID: 0,
		Why: "the database xapi 5.0 creates when it starts without one",
	}}}
	res, err := j.Apply(d.ctx, tgt, []string{"xsrescue", "demo"}, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.w, "\n(simulated) op %d: created var/xapi/state.db.fresh (%d bytes, schema 55)\n", res.Op, len(fresh))
	return nil
}

// copyOut copies files out of the root, read in-process (read-only).
func (d *demo) copyOut(img string, files map[string]string) error {
	tgt, err := target.Open(d.ctx, target.Options{Disk: img})
	if err != nil {
		return err
	}
	defer tgt.Close()
	for from, to := range files {
		b, err := tgt.Root.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// undoAll undoes every applied op that changed files, newest first.
func (d *demo) undoAll() error {
	j, err := journal.OpenReadOnly(d.journal)
	if err != nil {
		return err
	}
	ops, err := j.List(d.ctx)
	j.Close()
	if err != nil {
		return err
	}
	sort.Slice(ops, func(a, b int) bool { return ops[a].ID > ops[b].ID })
	for _, op := range ops {
		if op.Status != journal.StatusApplied || strings.HasPrefix(op.Command, "disk ") {
			continue
		}
		d.xs(0, "journal", "undo", fmt.Sprint(op.ID), "--journal", d.journal, "--yes")
	}
	return nil
}

// tree fingerprints the root's file tree: every path with its type, mode,
// owner, size, content hash and link target.
func (d *demo) tree(img string) (string, error) {
	tgt, err := target.Open(d.ctx, target.Options{Disk: img})
	if err != nil {
		return "", err
	}
	defer tgt.Close()
	h := sha256.New()
	err = tgt.Root.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := tgt.Root.Lstat(p)
		if err != nil {
			return err
		}
		uid, gid := -1, -1
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
		fmt.Fprintf(h, "%s %v %d:%d", p, fi.Mode(), uid, gid)
		switch {
		case fi.Mode().IsRegular():
			b, err := tgt.Root.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			fmt.Fprintf(h, " %d %s", len(b), hex.EncodeToString(s[:]))
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := tgt.Root.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " -> %s", l)
		}
		h.Write([]byte{'\n'})
		return nil
	})
	if err != nil && !errors.Is(err, fs.SkipAll) {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
