// Package journal is the only code that mutates a target. A Plan is rendered
// as a diff, every before-image is snapshotted into one SQLite file, each
// change is applied atomically and verified, and an op can be undone or, after
// a crash, recovered.
//
// API contract shared by every command (see docs/dev/api.md).
package journal

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/xsrescue/xsrescue/target"
)

var errNotYet = errors.New("journal: not implemented yet")

// Kind is what a Change does.
type Kind string

const (
	Write         Kind = "write"          // replace the content of an existing regular file; keeps mode, owner, xattrs
	Create        Kind = "create"         // create a new regular file (Mode, UID, GID)
	Remove        Kind = "remove"         // remove a regular file
	RemoveNode    Kind = "node-remove"    // remove a device node or FIFO (recreated by undo)
	RemoveSymlink Kind = "symlink-remove" // remove a symlink itself
	CreateSymlink Kind = "symlink-create" // create a symlink Path -> LinkTarget
	Rename        Kind = "rename"         // rename Path to NewPath (file, symlink or directory); NewPath must not exist
	Chmod         Kind = "chmod"          // set permission bits to Mode
	Chown         Kind = "chown"          // set owner to UID, GID
	External      Kind = "external"       // a record of something done outside the root (e.g. a ZFS snapshot)
)

// Change is one step of a Plan. Paths are slash-separated and relative to
// the target root; they are resolved through target.Root.
type Change struct {
	Kind       Kind
	Path       string
	Content    []byte                        // Write/Create: the new bytes
	Stream     func() (io.ReadCloser, error) // Write/Create: new bytes too large for memory (instead of Content)
	Mode       fs.FileMode                   // Create, Chmod
	UID, GID   int                           // Create (-1: the parent's), Chown
	LinkTarget string                        // CreateSymlink
	NewPath    string                        // Rename
	External   *ExternalRecord               // External
	Why        string                        // one line shown with the plan
}

// ExternalRecord describes an action taken outside the file tree, recorded so
// that it can be listed and rolled back by hand.
type ExternalRecord struct {
	Type     string // e.g. "zfs-snapshot", "partition-image"
	Name     string // e.g. "rpool/zones/z1/ROOT/zbe@xsrescue-7"
	SHA256   string // for files such as partition images
	Rollback string // the command that undoes it
}

// Plan is what a mutating command wants to change, in order.
type Plan struct {
	Command string // e.g. "version set"
	Changes []Change
}

// Empty reports whether there is nothing to change ("already as requested").
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Journal is one opened journal database.
type Journal struct {
	path string
}

// Open opens (creating and migrating) the journal at path.
func Open(path string) (*Journal, error) { return nil, errNotYet }

// Path is the journal file.
func (j *Journal) Path() string { return j.path }

// Close closes the database.
func (j *Journal) Close() error { return nil }

// ChangeResult is one applied change with its hashes.
type ChangeResult struct {
	Kind         Kind   `json:"kind"`
	Path         string `json:"path"`
	NewPath      string `json:"new_path,omitempty"`
	BeforeSHA256 string `json:"before_sha256,omitempty"`
	AfterSHA256  string `json:"after_sha256,omitempty"`
	Description  string `json:"description,omitempty"`
}

// Result is what a mutating command reports.
type Result struct {
	Op      int64          `json:"op"`
	UUID    string         `json:"uuid"`
	Journal string         `json:"journal"`
	Status  string         `json:"status"`
	Changes []ChangeResult `json:"changes"`
}

// Apply runs the whole flow for plan on tgt: begin, snapshot every
// before-image, apply each change atomically, verify, commit. argv is
// recorded with the op.
func (j *Journal) Apply(ctx context.Context, tgt *target.Target, argv []string, plan *Plan) (*Result, error) {
	return nil, errNotYet
}

// Render writes the plan as a unified diff (text files) or a one-line
// description (nodes, links, binaries) without touching anything.
func Render(w io.Writer, root *target.Root, plan *Plan) error { return errNotYet }
