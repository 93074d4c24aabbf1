package zfsroot

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
)

// SafetySnapshot is the snapshot taken of a zone's dataset before an edit,
// and its journal record. The journal cannot know the op id before it
// runs, so the name carries the UTC time instead: ds@xsrescue-YYYYMMDDTHHMMSSZ.
func SafetySnapshot(ds, command string, now time.Time) journal.Change {
	return safetyChange(ds, ds+"@xsrescue-"+now.UTC().Format("20060102T150405Z"), command)
}

func safetyChange(ds, snap, command string) journal.Change {
	return journal.Change{
		Kind: journal.External,
		Path: ds,
		External: &journal.ExternalRecord{
			Type:     "zfs-snapshot",
			Name:     snap,
			Rollback: "zfs rollback " + snap,
		},
		Why: "snapshot of the zone's dataset before " + command,
	}
}

// TakeSafetySnapshot takes the SafetySnapshot; when two edits fall in the
// same second the name gets a -2, -3… suffix.
func (c CLI) TakeSafetySnapshot(ctx context.Context, ds, command string, now time.Time) (journal.Change, error) {
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

// SnapshotTree makes the files of DS@SNAP readable as a directory: the
// dataset's .zfs/snapshot/SNAP when the platform has it, otherwise a
// temporary read-only clone mounted under a new temporary directory, which
// cleanup destroys. how says which of the two was used.
func (c CLI) SnapshotTree(ctx context.Context, snapshot string) (dir, how string, cleanup func() error, err error) {
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
	mnt, err := os.MkdirTemp("", "xsrescue-snap-")
	if err != nil {
		return "", "", nil, err
	}
	pool, _, _ := strings.Cut(ds, "/")
	clone := fmt.Sprintf("%s/xsrescue-restore-%d", pool, time.Now().UnixNano())
	if _, err := c.zfs(ctx, "clone", "-o", "readonly=on", "-o", "mountpoint="+mnt, snapshot, clone); err != nil {
		os.Remove(mnt)
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
		if err == nil {
			err = os.Remove(mnt)
		}
		return err
	}
	if mounted, _ := DatasetOf(mnt); mounted != clone {
		if _, err := c.zfs(ctx, "mount", clone); err != nil {
			return "", "", nil, fmt.Errorf("%w (cleanup: %v)", err, cleanup())
		}
	}
	return mnt, "temporary clone " + clone, cleanup, nil
}
