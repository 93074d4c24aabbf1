package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// step is one Change resolved against the root, with the state it finds
// (before) and the state it must leave (after).
type step struct {
	seq     int
	c       plan.Change
	path    string // resolved, relative to the root
	newPath string // Rename: resolved destination
	before  state
	after   state
	blob    string // loaded ops: the sha256 of the stored before-image, "" if none was stored
	// rawBefore: a RawWrite's before-bytes, read by prepare (raw.go).
	rawBefore []byte
}

// prepare resolves every change of plan and captures its before-state,
// refusing a plan that cannot apply as written. It reads but never writes.
func prepare(root *target.Root, pl *plan.Plan) ([]*step, error) {
	steps := make([]*step, 0, len(pl.Changes))
	seen := map[string]int{}
	for i, c := range pl.Changes {
		s := &step{seq: i + 1, c: c}
		if err := s.prepare(root); err != nil {
			return nil, fmt.Errorf("change %d (%s %s): %w", i+1, c.Kind, c.Path, err)
		}
		for _, p := range []string{s.path, s.newPath} {
			if p == "" {
				continue
			}
			if prev, ok := seen[p]; ok {
				return nil, fmt.Errorf("change %d (%s %s): %s is already changed by change %d; one change per path", i+1, c.Kind, c.Path, p, prev)
			}
			seen[p] = i + 1
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func (s *step) prepare(root *target.Root) error {
	c := s.c
	if c.Kind == plan.External {
		if c.External == nil || c.External.Type == "" || c.External.Name == "" {
			return fmt.Errorf("external change without a record (type and name)")
		}
		if c.External.Type == plan.DirCreated && !fs.ValidPath(c.Path) {
			return fmt.Errorf("%s record of %s: %q is not a path inside the root", plan.DirCreated, c.External.Name, c.Path)
		}
		return nil
	}
	if c.Kind == plan.RawWrite {
		return s.prepareRaw()
	}
	if strings.TrimSpace(strings.Trim(c.Path, "/.")) == "" {
		return fmt.Errorf("empty path")
	}
	follow := c.Kind == plan.Write || c.Kind == plan.Chmod || c.Kind == plan.Chown
	var err error
	if follow {
		s.path, err = root.Resolve(c.Path)
	} else {
		s.path, err = root.ResolveParent(c.Path)
	}
	if err != nil {
		return err
	}
	if s.path == "." {
		return fmt.Errorf("the root itself cannot be changed")
	}
	// The old file of a streamed rewrite (a large database) is hashed by
	// the snapshot, beside the staging, rather than here in the sequence.
	hash := hashCached
	if c.Kind == plan.Write && c.Stream != nil {
		hash = noHash
	}
	s.before, err = captureAtHashing(root, s.path, hash)
	if err != nil {
		return err
	}
	b := s.before
	need := func(types ...string) error {
		if !b.Exists {
			return fmt.Errorf("%s does not exist", s.path)
		}
		for _, t := range types {
			if b.Type == t {
				return nil
			}
		}
		return fmt.Errorf("%s is a %s, want %s", s.path, b.Type, strings.Join(types, " or "))
	}
	absent := func(p string) error {
		st, err := captureAt(root, p)
		if err != nil {
			return err
		}
		if st.Exists {
			return fmt.Errorf("%s already exists", p)
		}
		parent, err := captureAt(root, path.Dir(p))
		if err != nil {
			return err
		}
		if path.Dir(p) != "." && (!parent.Exists || parent.Type != "dir") {
			return fmt.Errorf("parent directory %s does not exist", path.Dir(p))
		}
		return nil
	}
	switch c.Kind {
	case plan.Write:
		if err := need("file"); err != nil {
			return err
		}
		s.after = b
		s.after.Mtime = 0
		s.after.SHA256, s.after.Size = contentHash(c)
	case plan.Create:
		if err := absent(s.path); err != nil {
			return err
		}
		parent, err := captureAt(root, path.Dir(s.path))
		if err != nil {
			return err
		}
		mode := unixMode(c.Mode)
		if c.Mode == 0 {
			mode = 0o644
		}
		s.after = state{Exists: true, Type: "file", Mode: mode, UID: c.UID, GID: c.GID}
		if c.UID < 0 {
			s.after.UID = parent.UID
		}
		if c.GID < 0 {
			s.after.GID = parent.GID
		}
		s.after.SHA256, s.after.Size = contentHash(c)
	case plan.Remove:
		if err := need("file"); err != nil {
			return err
		}
	case plan.RemoveNode:
		if err := need("char", "block", "fifo", "socket"); err != nil {
			return err
		}
	case plan.RemoveSymlink:
		if err := need("symlink"); err != nil {
			return err
		}
	case plan.CreateSymlink:
		if c.LinkTarget == "" {
			return fmt.Errorf("symlink without a target")
		}
		if err := absent(s.path); err != nil {
			return err
		}
		s.after = state{Exists: true, Type: "symlink", Link: c.LinkTarget}
	case plan.Rename:
		if err := need("file", "dir", "symlink", "char", "block", "fifo", "socket"); err != nil {
			return err
		}
		if s.newPath, err = root.ResolveParent(c.NewPath); err != nil {
			return err
		}
		if s.newPath == "." || strings.HasPrefix(s.newPath+"/", s.path+"/") {
			return fmt.Errorf("cannot rename %s to %s", s.path, s.newPath)
		}
		if err := absent(s.newPath); err != nil {
			return err
		}
		s.after = b
	case plan.Chmod:
		if err := need("file", "dir", "char", "block", "fifo", "socket"); err != nil {
			return err
		}
		s.after = b
		s.after.Mode = unixMode(c.Mode)
	case plan.Chown:
		if err := need("file", "dir", "symlink", "char", "block", "fifo", "socket"); err != nil {
			return err
		}
		s.after = b
		if c.UID >= 0 {
			s.after.UID = c.UID
		}
		if c.GID >= 0 {
			s.after.GID = c.GID
		}
		if s.after.Type != "dir" && (s.after.UID != b.UID || s.after.GID != b.GID) {
			// The kernel clears set-id bits when a non-directory changes owner.
			s.after.Mode &^= unix.S_ISUID | unix.S_ISGID
		}
	default:
		return fmt.Errorf("unknown change kind %q", c.Kind)
	}
	return nil
}

// contentHash is the after-hash of planned bytes; a Stream is hashed when it
// is staged.
func contentHash(c plan.Change) (string, int64) {
	if c.Stream != nil {
		return "", 0
	}
	sum, n, _ := hashReader(bytes.NewReader(c.Content))
	return sum, n
}

// openContent opens the new bytes of c, streamed or in memory.
func openContent(c plan.Change) (io.ReadCloser, error) {
	if c.Stream != nil {
		return c.Stream()
	}
	return io.NopCloser(bytes.NewReader(c.Content)), nil
}

// captureAt captures the state of the resolved path rel (not following it).
func captureAt(root *target.Root, rel string) (state, error) {
	return captureAtHashing(root, rel, hashFile)
}

func captureAtHashing(root *target.Root, rel string, hash hashing) (state, error) {
	if root.Image() != nil {
		return captureImage(root, rel, hash)
	}
	if rel == "." {
		fi, err := writer(root).Stat(".")
		if err != nil {
			return state{}, err
		}
		return state{Exists: true, Type: "dir", Mode: uint32(fi.Mode().Perm())}, nil
	}
	d, err := openDirAt(root, rel)
	if err != nil {
		if isNotExist(err) {
			return state{}, nil
		}
		return state{}, err
	}
	defer d.Close()
	return d.capture(d.base, hash)
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// matches reports whether have is want: type, content, link, device, owner,
// mode and xattrs, and the mtime when want records one (never for a
// directory, whose mtime moves with every entry renamed in or out).
func matches(have, want state) bool {
	if have.Exists != want.Exists {
		return false
	}
	if !want.Exists {
		return true
	}
	if have.Type != want.Type || have.Link != want.Link || have.Rdev != want.Rdev {
		return false
	}
	if want.SHA256 != "" && have.SHA256 != want.SHA256 {
		return false
	}
	if have.UID != want.UID || have.GID != want.GID {
		return false
	}
	if want.Type != "symlink" && have.Mode != want.Mode {
		return false
	}
	if want.Type != "dir" && !maps.EqualFunc(have.Xattrs, want.Xattrs, bytes.Equal) {
		return false
	}
	if want.Type != "dir" && want.Mtime != 0 && have.Mtime != want.Mtime {
		return false
	}
	return true
}

// describe is the one line shown for a change in a plan and a result.
func (s *step) describe() string {
	c, b := s.c, s.before
	switch c.Kind {
	case plan.Write:
		return fmt.Sprintf("write %s (%d -> %s)", s.path, b.Size, sizeText(s.after))
	case plan.Create:
		return fmt.Sprintf("create %s (mode %04o, owner %d:%d, %s)", s.path, s.after.Mode, s.after.UID, s.after.GID, sizeText(s.after))
	case plan.Remove:
		return fmt.Sprintf("remove %s (%d bytes)", s.path, b.Size)
	case plan.RemoveNode:
		if b.Type == "char" || b.Type == "block" {
			return fmt.Sprintf("remove %s device %s (major %d, minor %d, mode %04o, owner %d:%d)", b.Type, s.path, unix.Major(b.Rdev), unix.Minor(b.Rdev), b.Mode, b.UID, b.GID)
		}
		return fmt.Sprintf("remove %s %s (mode %04o, owner %d:%d)", b.Type, s.path, b.Mode, b.UID, b.GID)
	case plan.RemoveSymlink:
		return fmt.Sprintf("remove symlink %s -> %s", s.path, b.Link)
	case plan.CreateSymlink:
		return fmt.Sprintf("create symlink %s -> %s", s.path, c.LinkTarget)
	case plan.Rename:
		return fmt.Sprintf("rename %s %s to %s", b.Type, s.path, s.newPath)
	case plan.Chmod:
		return fmt.Sprintf("chmod %s %04o -> %04o", s.path, b.Mode, s.after.Mode)
	case plan.Chown:
		return fmt.Sprintf("chown %s %d:%d -> %d:%d", s.path, b.UID, b.GID, s.after.UID, s.after.GID)
	case plan.RawWrite:
		return s.describeRaw()
	case plan.External:
		e := c.External
		if e.Type == plan.DirCreated {
			return fmt.Sprintf("directory %s created for the op's files (undo removes it if it is empty then)", e.Name)
		}
		d := fmt.Sprintf("external %s %s", e.Type, e.Name)
		if e.Rollback != "" {
			d += " (roll back by hand: " + e.Rollback + ")"
		}
		return d
	}
	return string(c.Kind) + " " + s.path
}

func sizeText(s state) string {
	if s.SHA256 == "" {
		return "size known once written"
	}
	return fmt.Sprintf("%d bytes", s.Size)
}

func (s *step) result() plan.ChangeResult {
	r := plan.ChangeResult{Kind: s.c.Kind, Path: s.path, NewPath: s.newPath, Description: s.describe()}
	if s.c.Kind == plan.External {
		r.Path = s.c.Path
		r.AfterSHA256 = s.c.External.SHA256
		return r
	}
	r.BeforeSHA256 = s.before.SHA256
	if s.after.Exists {
		r.AfterSHA256 = s.after.SHA256
	}
	return r
}
