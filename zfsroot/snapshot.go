package zfsroot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
)

// SafetySnapshot is the snapshot taken of a zone's dataset before an edit,
// and its journal record. The journal cannot know the op id before it
// runs, so the name carries the UTC time instead: ds@xsrescue-YYYYMMDDTHHMMSSZ.
func SafetySnapshot(ds, command string, now time.Time) plan.Change {
	return safetyChange(ds, ds+"@xsrescue-"+now.UTC().Format("20060102T150405Z"), command)
}

func safetyChange(ds, snap, command string) plan.Change {
	return plan.Change{
		Kind: plan.External,
		Path: ds,
		External: &plan.ExternalRecord{
			Type:     "zfs-snapshot",
			Name:     snap,
			Rollback: "zfs rollback " + snap,
		},
		Why: "snapshot of the zone's dataset before " + command,
	}
}

// TakeSafetySnapshot takes the SafetySnapshot; when two edits fall in the
// same second the name gets a -2, -3… suffix.
func (c CLI) TakeSafetySnapshot(ctx context.Context, ds, command string, now time.Time) (plan.Change, error) {
	ch := SafetySnapshot(ds, command, now)
	base := ch.External.Name
	for i := 2; ; i++ {
		err := c.Snapshot(ctx, ch.External.Name)
		if err == nil || !strings.Contains(err.Error(), "already exists") || i > 20 {
			return ch, err
		}
		ch = safetyChange(ds, fmt.Sprintf("%s-%d", base, i), command)
	}
}

// SplitSnapshot checks and splits DS@SNAP.
func SplitSnapshot(s string) (ds, snap string, err error) {
	ds, snap, ok := strings.Cut(s, "@")
	if !ok || ds == "" || snap == "" || strings.ContainsAny(s, " \t\n") || strings.Count(s, "@") != 1 {
		return "", "", xerr.Invalidf("--snapshot %q: want DATASET@SNAPSHOT", s)
	}
	return ds, snap, nil
}

// ErrNeedsClone means the snapshot can only be read through a temporary
// clone here (no .zfs/snapshot directory, as on zfs-fuse) and the caller
// asked not to make one (a dry run). The error is a *NeedsCloneError.
var ErrNeedsClone = errors.New("readable only through a temporary clone")

// NeedsCloneError names the clone SnapshotTree would have made.
type NeedsCloneError struct {
	Snapshot, Clone string
}

func (e *NeedsCloneError) Error() string {
	ds, _, _ := strings.Cut(e.Snapshot, "@")
	return fmt.Sprintf("%s has no .zfs/snapshot directory here: %v %s (zfs clone -o readonly=on %s %s)", ds, ErrNeedsClone, e.Clone, e.Snapshot, e.Clone)
}

func (e *NeedsCloneError) Unwrap() error { return ErrNeedsClone }

// SnapshotTree makes the files of DS@SNAP readable as a directory: the
// dataset's .zfs/snapshot/SNAP when the platform has it, otherwise a
// temporary read-only clone, which cleanup destroys. With noClone it makes
// nothing in the pool and fails with ErrNeedsClone (naming the clone it
// would make) where a clone is needed. how says which of the two was used.
//
// The clone's mountpoint is a new temporary directory; on a pool imported
// with an altroot (zpool import -R) every mountpoint lies below the
// altroot, so the clone goes to ALTROOT/.xsrescue-restore-N instead, and
// the directory zfs made for it is removed again by cleanup.
func (c CLI) SnapshotTree(ctx context.Context, snapshot string, noClone bool) (dir, how string, cleanup func() error, err error) {
	ds, snap, err := SplitSnapshot(snapshot)
	if err != nil {
		return "", "", nil, err
	}
	if out, err := c.zfs(ctx, "list", "-H", "-t", "snapshot", "-o", "name", snapshot); err != nil || strings.TrimSpace(out) != snapshot {
		return "", "", nil, xerr.Invalidf("--snapshot %s: no such snapshot (%v)", snapshot, err)
	}
	if mp, err := c.Get(ctx, ds, "mountpoint"); err == nil && strings.HasPrefix(mp, "/") {
		d := path.Join(mp, ".zfs", "snapshot", snap)
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, ".zfs snapshot directory", func() error { return nil }, nil
		}
	}
	pool, _, _ := strings.Cut(ds, "/")
	name := fmt.Sprintf("xsrescue-restore-%d", time.Now().UnixNano())
	clone := pool + "/" + name
	if noClone {
		return "", "", nil, &NeedsCloneError{Snapshot: snapshot, Clone: clone}
	}
	altroot, err := c.PoolProp(ctx, pool, "altroot")
	if err != nil {
		return "", "", nil, err
	}
	var mountpoint string
	var made []string // directories to remove after the clone is gone
	if altroot == "-" || altroot == "" {
		if mountpoint, err = os.MkdirTemp("", "xsrescue-snap-"); err != nil {
			return "", "", nil, err
		}
		made = append(made, mountpoint)
	} else {
		mountpoint = "/." + name
		made = append(made, path.Join(altroot, mountpoint))
	}
	if _, err := c.zfs(ctx, "clone", "-o", "readonly=on", "-o", "mountpoint="+mountpoint, snapshot, clone); err != nil {
		os.Remove(made[0])
		return "", "", nil, err
	}
	cleanup = func() error {
		// zfs-fuse answers "dataset is busy" for a moment after the last
		// file under the mount was closed.
		var err error
		for range 20 {
			if _, err = c.zfs(context.WithoutCancel(ctx), "destroy", "-f", clone); err == nil || !strings.Contains(err.Error(), "busy") {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("the temporary clone %s was not destroyed (zfs destroy %s): %w", clone, clone, err)
		}
		if err := os.Remove(made[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	fail := func(err error) (string, string, func() error, error) {
		if cerr := cleanup(); cerr != nil {
			err = fmt.Errorf("%w; also: %w", err, cerr)
		}
		return "", "", nil, err
	}
	// Whether zfs mounted the clone by itself differs between platforms
	// and with altroot; mount it only when it is not.
	if mounted, err := c.Get(ctx, clone, "mounted"); err != nil {
		return fail(err)
	} else if mounted != "yes" {
		if _, err := c.zfs(ctx, "mount", clone); err != nil {
			return fail(err)
		}
	}
	dir, err = c.Get(ctx, clone, "mountpoint") // with the altroot in front
	if err != nil {
		return fail(err)
	}
	if got, _ := DatasetOf(dir); got != clone {
		return fail(fmt.Errorf("temporary clone %s: not mounted at %s", clone, dir))
	}
	return dir, "temporary clone " + clone, cleanup, nil
}
