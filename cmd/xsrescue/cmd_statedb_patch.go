package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/statedb"
	"github.com/xsrescue/xsrescue/target"
)

func runStatedbPatch(ctx context.Context, e *env, o statedbPatchOptions, a []string) error {
	ro, err := o.reader()
	if err != nil {
		return err
	}
	t, _, err := o.choose(ctx, e, "patch", ro)
	if err != nil {
		return err
	}
	outExists, err := o.checkOutput(e.JSON)
	if err != nil {
		return err
	}
	pt, err := e.openPatchTarget(ctx, o, a)
	if err != nil {
		return err
	}
	defer pt.tgt.Close()
	pt.req.Target, pt.req.Options = t, statedb.PatchOptions{DropData: o.DropData, Reader: ro}
	rp, err := statedb.PlanPatchIn(pt.tgt.Root, pt.shown, pt.req)
	if rp != nil && pt.req.File == "" {
		pt.shown = "/" + rp.Path
	}
	report := e.text() // the database itself may go to stdout
	if o.Output == "-" && !e.JSON {
		report = e.stderr
	}
	if rp != nil {
		printStatedbPatch(report, pt.shown, rp)
	}
	if err != nil {
		return err
	}
	if o.KeepCopy != "" && !rp.Patch.Empty() {
		if err := checkKeptCopy(ctx, pt.tgt.Root, rp.Path, o.KeepCopy, pt.shown); err != nil {
			return err
		}
	}
	doc := newPatchDoc(pt.shown, rp)
	if err := checkUnwritten(pt.tgt.Root, rp, doc.Check, e.DryRun, report); err != nil {
		return err
	}
	if pt.req.File != "" {
		e.setTarget(fileTarget(pt.shown))
	} else {
		e.setTarget(targetOf(pt.tgt))
	}
	var res *plan.Result
	if o.Output != "" {
		doc.Output, err = e.writePatched(ctx, pt.tgt.Root, rp, o.Output, outExists, pt.shown, report)
	} else {
		res, err = e.apply(ctx, pt.tgt, rp.Plan)
	}
	if err != nil {
		return err
	}
	if res != nil || doc.Output != nil {
		fmt.Fprintf(report, "Checked (%s): xapi of %s loads the patched database.\n", doc.Check.When, doc.Check.Target)
	}
	return e.emitMutation(nil, doc, nil) // the text went out as it happened
}

// checkOutput refuses what --output cannot do, and an OUT that is there but
// not a regular file, or has no directory: known before the database is
// read. exists: OUT is a regular file, which the patched database may
// already be (writePatched compares).
func (o statedbPatchOptions) checkOutput(json bool) (exists bool, err error) {
	switch out := o.Output; {
	case out == "-" && json:
		return false, usagef("statedb patch: --output - writes the database to stdout, which --json needs too; give a file")
	case out != "" && o.SetAside:
		return false, usagef("statedb patch: --set-aside renames files in the root; --output changes nothing there")
	case out == "" || out == "-":
		return false, nil
	}
	if fi, err := os.Lstat(o.Output); err == nil {
		if !fi.Mode().IsRegular() {
			return false, xerr.Refusedf("--output %s already exists and is not a file: nothing was written (give a new name)", o.Output)
		}
		return true, nil
	}
	if fi, err := os.Stat(filepath.Dir(o.Output)); err != nil || !fi.IsDir() {
		return false, usagef("statedb patch: --output %s: %s is not a directory", o.Output, filepath.Dir(o.Output))
	}
	return false, nil
}

// patchTarget is what statedb patch works on: a plain database FILE (the
// target is its directory, locked by the file's identity), or --root/--disk.
type patchTarget struct {
	tgt   *target.Target
	req   statedb.PatchRequest
	shown string // the database as the user knows it
}

// openPatchTarget opens the target of a patch: for a change (read-only,
// locked), or with --output, which changes nothing in it, for reading.
func (e *env) openPatchTarget(ctx context.Context, o statedbPatchOptions, a []string) (*patchTarget, error) {
	pt := &patchTarget{req: statedb.PatchRequest{In: o.File, SetAside: o.SetAside}}
	var err error
	switch {
	case len(a) == 1 && o.given():
		return nil, usagef("statedb patch: give FILE or --root/--disk, not both")
	case len(a) == 0 && !o.given():
		return nil, usagef("statedb patch: give FILE, --root DIR or --disk DISK")
	case len(a) == 1:
		abs, err := filepath.Abs(a[0])
		if err != nil {
			return nil, err
		}
		if o.Output == "" {
			pt.tgt, err = e.openForChange(ctx, target.Options{File: abs})
		} else {
			pt.tgt, err = target.Open(ctx, target.Options{File: abs})
		}
		if err != nil {
			return nil, err
		}
		pt.req.File, pt.shown = filepath.Base(abs), abs
		return pt, nil
	case o.Output == "":
		pt.tgt, err = e.openForChange(ctx, o.target())
	default:
		pt.tgt, err = e.openTarget(ctx, o.target())
	}
	if err != nil {
		return nil, err
	}
	pt.shown = pt.tgt.Name()
	return pt, nil
}

// checkUnwritten runs the target's check on what the patch would write when
// nothing will be written: a dry run, or a database already as requested.
// A patch that writes checks its output as it is written (a failure ends
// the stream: nothing is committed).
func checkUnwritten(root *target.Root, rp *statedb.RootPatch, c *patchCheck, dryRun bool, report io.Writer) error {
	if !dryRun && !rp.Patch.Empty() {
		return nil
	}
	c.When = "dry run"
	if rp.Patch.Empty() {
		c.When = "as it is"
	}
	f, err := root.Open(rp.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := rp.Patch.CheckOutput(f); err != nil {
		return err
	}
	fmt.Fprintf(report, "Checked (%s): xapi of %s would load the patched database.\n", c.When, c.Target)
	return nil
}

// writePatched streams the patched database (gzip kept) to the new file out,
// or to stdout for "-", with writeNewFile: never over a file, never a
// partial file under its name. A dry run writes nothing and returns nil.
//
// An OUT that exists already is never overwritten: when it holds exactly the
// patched database (a second run of the same command), that is "already as
// requested"; anything else is refused (exit 3).
func (e *env) writePatched(ctx context.Context, root *target.Root, rp *statedb.RootPatch, out string, exists bool, shown string, report io.Writer) (*patchOutput, error) {
	patched := rp.Patch.Stream(func() (io.ReadCloser, error) { return root.Open(rp.Path) }, rp.Compressed)
	if exists {
		n, sum, err := countOpened(ctx, patched)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() != n || fileSHA256(out) != sum {
			return nil, xerr.Refusedf("--output %s already exists and holds something else than the patched database: nothing was written (give a new name)", out)
		}
		fmt.Fprintf(report, "Already as requested: %s holds exactly the patched database (%d bytes, sha256 %s); nothing was written.\n", out, n, sum)
		return &patchOutput{Path: out, Bytes: n, SHA256: sum, Generation: rp.Patch.Generation}, nil
	}
	if e.DryRun {
		e.addChange(mutationChange{Path: outName(out), Action: plan.Create, Why: "the patched database (--output)",
			Description: fmt.Sprintf("create %s", outName(out))})
		e.logf("dry run: nothing was written (the patched database would go to %s)", outName(out))
		return nil, nil
	}
	src, err := patched()
	if err != nil {
		return nil, err
	}
	defer src.Close()
	n, sum, err := e.writeNewFile(ctx, out, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
	if err != nil {
		return nil, err
	}
	wrote := &patchOutput{Path: out, Bytes: n, SHA256: sum, Generation: rp.Patch.Generation}
	e.addChange(mutationChange{Path: outName(out), Action: plan.Create, Why: "the patched database (--output)",
		AfterSHA256: &sum, Description: fmt.Sprintf("create %s (%d bytes)", outName(out), n)})
	fmt.Fprintf(report, "Wrote the patched database to %s (%d bytes, sha256 %s); %s is unchanged.\n", outName(out), wrote.Bytes, wrote.SHA256, shown)
	fmt.Fprintf(report, "To use it: put it in place of %s and write %d (no newline) to %s%s, or run this command without --output, which does both through the journal.\n", shown, wrote.Generation, shown, statedb.GenSuffix)
	return wrote, nil
}

func outName(out string) string {
	if out == "-" {
		return "stdout"
	}
	return out
}

// fileSHA256 is the hex sha256 of the file at path ("" when it cannot be
// read: then it equals no hash).
func fileSHA256(path string) string {
	f, err := infile.Open(path, infile.File)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkKeptCopy refuses a patch unless the file kept holds exactly the bytes
// of the database it is about to change: the step that made the copy may
// have failed without saying so (debugfs exits 0 when dump fails), and a
// plan runner must not drop data then.
func checkKeptCopy(ctx context.Context, root *target.Root, path, kept, shown string) error {
	want, wantSum, err := countOpened(ctx, func() (io.ReadCloser, error) { return root.Open(path) })
	if err != nil {
		return err
	}
	fi, err := os.Stat(kept)
	switch {
	case err != nil:
		return xerr.Refusedf("--keep-copy %s: %v: the copy of %s is not there, so nothing was written (make the copy first)", kept, errors.Unwrap(err), shown)
	case !fi.Mode().IsRegular():
		return xerr.Refusedf("--keep-copy %s is a %s, not a copy of %s: nothing was written", kept, infile.TypeName(fi.Mode()), shown)
	case fi.Size() != want || fileSHA256(kept) != wantSum:
		return xerr.Refusedf("--keep-copy %s (%d bytes) does not hold exactly %s (%d bytes, sha256 %s): nothing was written (make the copy again)", kept, fi.Size(), shown, want, wantSum)
	}
	return nil
}

// countOpened is the size and sha256 of what open gives.
func countOpened(ctx context.Context, open func() (io.ReadCloser, error)) (int64, string, error) {
	return countOnly(ctx, func(w io.Writer) error {
		src, err := open()
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
}
