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
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// RestorePaths cleans the --paths of a restore, relative to the zone root,
// and refuses (exit 2) one that names the zone root itself or leaves it.
// Callers check them before reaching the pool, dry run included.
func RestorePaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		c := path.Clean(strings.TrimPrefix(p, "/"))
		if c == "." || c == ".." || strings.HasPrefix(c, "../") {
			return nil, xerr.Invalidf("--paths %q: must name something below the zone root", p)
		}
		out = append(out, c)
	}
	return out, nil
}

// RestorePlan copies paths (relative, e.g. "etc" or "etc/passwd") from src
// (a snapshot's tree) into dst (the zone root) as journal plans, to be
// applied in order: changed files are rewritten, missing files and symlinks
// created, and files and directories get the snapshot's mode and owner
// back. The journal takes one change per path in a plan, so a file whose
// content and mode (or owner) both differ gets its chown and chmod in a
// second and third plan; a re-run after all plans applied finds nothing to
// do. Files that exist only in the zone root are kept and listed in
// skipped, as is what the journal cannot do (create a directory, replace
// one type by another): never silently dropped. unrestored is the part of
// skipped that stays unlike the snapshot (all but the kept files): the
// restore was not done as asked. There is always at least one plan (empty
// with nothing unrestored: "already as requested").
func RestorePlan(src, dst *target.Root, paths []string) (plans []*plan.Plan, skipped, unrestored []string, err error) {
	plans = []*plan.Plan{{Command: "zone restore-etc"}}
	paths, err = RestorePaths(paths)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, p := range paths {
		if _, err := src.Lstat(p); err != nil {
			return nil, nil, nil, xerr.Invalidf("--paths %q: not in the snapshot: %w", p, err)
		}
		err := src.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			note, changes, err := restoreOne(src, dst, name)
			if err != nil {
				return err
			}
			if note != "" {
				skipped = append(skipped, name+": "+note)
				unrestored = append(unrestored, name+": "+note)
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			for i, c := range changes {
				if i == len(plans) {
					plans = append(plans, &plan.Plan{Command: plans[0].Command})
				}
				plans[i].Changes = append(plans[i].Changes, c)
			}
			if d.IsDir() {
				only, err := onlyInZone(src, dst, name)
				if err != nil {
					return err
				}
				skipped = append(skipped, only...)
			}
			return nil
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("restore %s: %w", p, err)
		}
	}
	return plans, skipped, unrestored, nil
}

// onlyInZone lists the entries of directory name that the zone root has and
// the snapshot lacks.
func onlyInZone(src, dst *target.Root, name string) ([]string, error) {
	have, err := dst.ReadDir(name)
	if err != nil {
		return nil, err
	}
	var only []string
	for _, e := range have {
		n := path.Join(name, e.Name())
		if _, err := src.Lstat(n); errors.Is(err, fs.ErrNotExist) {
			only = append(only, n+": only in the zone root (kept, not restored)")
		} else if err != nil {
			return nil, err
		}
	}
	return only, nil
}

// restoreOne returns what makes name in dst as in src: a note when it
// cannot, else the changes in the order they must apply (content first,
// then owner, then mode: a chown clears set-id bits).
func restoreOne(src, dst *target.Root, name string) (string, []plan.Change, error) {
	si, err := src.Lstat(name)
	if err != nil {
		return "", nil, err
	}
	di, err := dst.Lstat(name)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return "", nil, err
	}
	const why = "restore from snapshot"
	var changes []plan.Change
	switch {
	case si.IsDir():
		if missing {
			return "directory missing in the zone root (the journal does not create directories): create it, then rerun", nil, nil
		}
		if !di.IsDir() {
			return "a directory in the snapshot but a " + typeName(di) + " in the zone root", nil, nil
		}
	case si.Mode()&fs.ModeSymlink != 0:
		link, err := src.Readlink(name)
		if err != nil {
			return "", nil, err
		}
		if missing {
			return "", []plan.Change{{Kind: plan.CreateSymlink, Path: name, LinkTarget: link, Why: why}}, nil
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
			return "", []plan.Change{{Kind: plan.Create, Path: name, Content: data, Mode: si.Mode().Perm(), UID: uid, GID: gid, Why: why}}, nil
		}
		if !di.Mode().IsRegular() {
			return "a file in the snapshot but a " + typeName(di) + " in the zone root", nil, nil
		}
		cur, err := readPlain(dst, name)
		if err != nil {
			return "", nil, err
		}
		if !bytes.Equal(cur, data) {
			changes = append(changes, plan.Change{Kind: plan.Write, Path: name, Content: data, Why: why})
		}
	default:
		return typeName(si) + " not restored", nil, nil
	}
	suid, sgid := owner(si)
	duid, dgid := owner(di)
	if suid >= 0 && duid >= 0 && (suid != duid || sgid != dgid) {
		changes = append(changes, plan.Change{Kind: plan.Chown, Path: name, UID: suid, GID: sgid, Why: why})
	}
	if perm(si) != perm(di) || (len(changes) > 0 && changes[len(changes)-1].Kind == plan.Chown && perm(si)&(fs.ModeSetuid|fs.ModeSetgid) != 0) {
		changes = append(changes, plan.Change{Kind: plan.Chmod, Path: name, Mode: perm(si), Why: why})
	}
	return "", changes, nil
}

// perm is the permission and set-id/sticky bits of fi, as chmod sets them.
func perm(fi fs.FileInfo) fs.FileMode {
	return fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
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
