package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/target"
)

// staleTemp matches every staging file Apply and undo create (tempName, and
// tempName + ".undo"): the op's uuid and the change's number.
var staleTemp = lazyre.New(`^\.xsrescue-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]+\.tmp(\.undo)?$`)

// StaleTemps lists the staging files left anywhere in root, as paths
// relative to it. Recover removes those of the ops it rolls back; these are
// the rest: a kill while staging an op this journal does not know (the
// journal was deleted, or the op was journaled elsewhere with --journal)
// leaves a full-size copy of the new content nobody would otherwise see.
// The walk stays on the root's filesystem and never follows a symlink.
// Staging files are only in use while an xsrescue applies to the root, so
// the caller holds the journal lock and no other xsrescue must be applying
// to the same root with another journal.
func StaleTemps(root *target.Root) ([]string, error) {
	top, err := root.Lstat(".")
	if err != nil {
		return nil, err
	}
	dev := devOf(top)
	var found []string
	err = root.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil // changed under the walk, or not ours to read
			}
			return err
		}
		if d.IsDir() {
			if p == "." {
				return nil
			}
			if fi, err := d.Info(); err == nil && devOf(fi) != dev {
				return fs.SkipDir // another filesystem mounted inside the root
			}
			return nil
		}
		if d.Type().IsRegular() && staleTemp().MatchString(d.Name()) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return found, fmt.Errorf("look for staging files in %s: %w", root.Name(), err)
	}
	return found, nil
}

func devOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}

// RemoveStaleTemps removes the staging files StaleTemps listed (a name that
// no longer matches the pattern is left alone) and returns those removed.
func RemoveStaleTemps(root *target.Root, paths []string) ([]string, error) {
	var removed []string
	var errs []error
	for _, p := range paths {
		if !staleTemp().MatchString(path.Base(p)) {
			continue
		}
		d, err := openDirAt(root, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = d.remove(d.base, false)
		if err == nil {
			err = d.sync()
		}
		d.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}
