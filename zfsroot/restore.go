package zfsroot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/target"
)

// RestorePlan copies paths (relative, e.g. "etc" or "etc/passwd") from src
// (a snapshot's tree) into dst (the zone root) as a journal plan: changed
// files are rewritten, missing files and symlinks created with the
// snapshot's mode and owner, files whose only difference is their mode get
// a chmod. Files that exist only in the zone root are kept. What the journal
// cannot do (create a directory, replace one type by another) is returned as
// skipped notes, never silently dropped.
func RestorePlan(src, dst *target.Root, paths []string) (*journal.Plan, []string, error) {
	plan := &journal.Plan{Command: "zone restore-etc"}
	var skipped []string
	for _, p := range paths {
		p = path.Clean(strings.TrimPrefix(p, "/"))
		if p == "." || p == ".." || strings.HasPrefix(p, "../") {
			return nil, nil, xerr.Invalidf("--paths %q: must name something below the zone root", p)
		}
		if _, err := src.Lstat(p); err != nil {
			return nil, nil, xerr.Invalidf("--paths %q: not in the snapshot: %w", p, err)
		}
		err := src.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			note, change, err := restoreOne(src, dst, name, d)
			if err != nil {
				return err
			}
			if note != "" {
				skipped = append(skipped, name+": "+note)
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			if change != nil {
				plan.Changes = append(plan.Changes, *change)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("restore %s: %w", p, err)
		}
	}
	return plan, skipped, nil
}

func restoreOne(src, dst *target.Root, name string, d fs.DirEntry) (string, *journal.Change, error) {
	si, err := src.Lstat(name)
	if err != nil {
		return "", nil, err
	}
	di, err := dst.Lstat(name)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return "", nil, err
	}
	why := "restore from snapshot"
	switch {
	case si.IsDir():
		if missing {
			return "directory missing in the zone root (the journal does not create directories): create it, then rerun", nil, nil
		}
		if !di.IsDir() {
			return "a directory in the snapshot but a " + typeName(di) + " in the zone root", nil, nil
		}
		return "", nil, nil
	case si.Mode()&fs.ModeSymlink != 0:
		link, err := src.Readlink(name)
		if err != nil {
			return "", nil, err
		}
		if missing {
			return "", &journal.Change{Kind: journal.CreateSymlink, Path: name, LinkTarget: link, Why: why}, nil
		}
		if di.Mode()&fs.ModeSymlink != 0 {
			if cur, err := dst.Readlink(name); err == nil && cur == link {
				return "", nil, nil
			}
		}
		return "a symlink to " + link + " in the snapshot, differs in the zone root", nil, nil
	case si.Mode().IsRegular():
		data, err := readPlain(src, name)
		if err != nil {
			return "", nil, err
		}
		if missing {
			uid, gid := owner(si)
			return "", &journal.Change{Kind: journal.Create, Path: name, Content: data, Mode: si.Mode().Perm(), UID: uid, GID: gid, Why: why}, nil
		}
		if !di.Mode().IsRegular() {
			return "a file in the snapshot but a " + typeName(di) + " in the zone root", nil, nil
		}
		cur, err := readPlain(dst, name)
		if err != nil {
			return "", nil, err
		}
		if !bytes.Equal(cur, data) {
			return "", &journal.Change{Kind: journal.Write, Path: name, Content: data, Why: why}, nil
		}
		if si.Mode().Perm() != di.Mode().Perm() {
			return "", &journal.Change{Kind: journal.Chmod, Path: name, Mode: si.Mode().Perm(), Why: why}, nil
		}
		return "", nil, nil
	}
	return typeName(si) + " not restored", nil, nil
}

// readPlain reads name without following a final symlink (callers have
// checked it is a regular file).
func readPlain(r *target.Root, name string) ([]byte, error) {
	p, err := r.ResolveParent(name)
	if err != nil {
		return nil, err
	}
	return r.ReadFile(p)
}

func owner(fi fs.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

func typeName(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	default:
		return "special file"
	}
}
