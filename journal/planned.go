package journal

import (
	"fmt"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// prepareShown prepares plan for showing it (Render, Describe): the first
// time, it records what every change is planned from; later it checks that
// nothing moved since. Each path is also checked against what root served
// to the code that made the plan (target.Root.Served): the file must still
// be the very one that was read (same inode, size, times, and the same
// bytes when they were read whole), so there is no gap between the read the
// plan was computed from and the state Apply will check.
func prepareShown(root *target.Root, p *plan.Plan) ([]*step, error) {
	steps, err := prepare(root, p)
	if err != nil {
		if p.Basis != nil {
			return nil, changedSincePlanned(err)
		}
		return nil, err
	}
	for _, s := range steps {
		if err := checkServed(root, s); err != nil {
			return nil, err
		}
	}
	from, ok := p.Basis.([]plannedFrom)
	if !ok {
		p.Basis = plannedFromSteps(steps)
		return steps, nil
	}
	return steps, checkFrom(from, steps)
}

func plannedFromSteps(steps []*step) []plannedFrom {
	from := make([]plannedFrom, len(steps))
	for i, s := range steps {
		from[i] = plannedFrom{path: s.path, newPath: s.newPath, before: s.before}
	}
	return from
}

// checkServed compares the state prepare found at s.path with what the
// root served for it while the plan was made.
func checkServed(root *target.Root, s *step) error {
	if s.c.Kind == plan.External || s.path == "" {
		return nil
	}
	sv, ok := root.Served(s.path)
	if !ok {
		return nil
	}
	b := s.before
	same := b.Exists && b.Type == "file" && b.Ino == sv.Ino && b.Size == sv.Size && b.Mtime == sv.Mtime && b.Ctime == sv.Ctime
	if same && sv.SHA256 != "" && b.SHA256 != "" && sv.SHA256 != b.SHA256 {
		same = false
	}
	if !same {
		return xerr.Refusedf("/%s changed while the plan was made from it: %w; nothing was changed; run the command again", s.path, ErrChangedSincePlanned)
	}
	return nil
}

// checkFrom refuses (exit 3, ErrChangedSincePlanned) steps that no longer
// start where the plan was made: a path that resolves elsewhere now, or
// whose content, size, inode, times, owner, mode or xattrs changed.
func checkFrom(from []plannedFrom, steps []*step) error {
	if len(steps) != len(from) {
		return xerr.Refusedf("the plan changed since it was shown (%d changes, shown %d): %w; nothing was changed; run the command again", len(steps), len(from), ErrChangedSincePlanned)
	}
	for i, s := range steps {
		f := from[i]
		if s.c.Kind == plan.External {
			continue
		}
		if s.path != f.path || s.newPath != f.newPath {
			return xerr.Refusedf("/%s now resolves to /%s: %w; nothing was changed; run the command again", f.path, s.path, ErrChangedSincePlanned)
		}
		if !samePlanned(s.before, f.before) {
			return xerr.Refusedf("/%s %w (planned from %s, now %s); nothing was changed; run the command again", f.path, ErrChangedSincePlanned, brief(f.before), brief(s.before))
		}
	}
	return nil
}

// samePlanned is matches plus what tells that a file is still the very one:
// its size and change time (which every write, chmod or rename-into-place
// moves, and nobody can set back). Not the inode number: a --disk plan is
// made on the read-only view (the in-process reader, or a mount for vfat)
// and checked on the read-write mount, and vfat numbers its inodes afresh
// on every mount.
func samePlanned(have, want state) bool {
	if !matches(have, want) {
		return false
	}
	if !want.Exists || want.Type == "dir" {
		return true
	}
	return have.Size == want.Size && have.Ctime == want.Ctime
}

// changedSincePlanned makes a plan that no longer prepares (a file it
// creates exists now, one it changes is gone) a refusal.
func changedSincePlanned(err error) error {
	return xerr.Refused(fmt.Errorf("%w: %w; nothing was changed; run the command again", ErrChangedSincePlanned, err))
}
