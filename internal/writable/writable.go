// Package writable hands out the writable side of a target.Root: the
// *os.Root behind a directory root. A target.Root's own methods only read;
// whoever may write gets the *os.Root from here. Only journal (which
// writes, through its plan-diff-snapshot-apply-verify flow) and target
// (which makes the roots) may import this package: Go cannot restrict who
// calls an exported function, so internal/layers checks the importers.
package writable

import "os"

// Root is the write access to one directory root. Outside journal and
// target it can be held and passed on, not used.
type Root struct{ os *os.Root }

// New wraps r (by target, when it opens a directory root).
func New(r *os.Root) *Root { return &Root{os: r} }

// OS is the *os.Root to write through; nil for a nil Root (an image root,
// which is read-only).
func OS(w *Root) *os.Root {
	if w == nil {
		return nil
	}
	return w.os
}
