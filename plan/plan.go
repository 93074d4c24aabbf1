// Package plan is the vocabulary of a change: what a domain package wants
// changed in a target (a Plan of Changes), and what the journal reports
// once it applied one (a Result). It imports nothing but the standard
// library, so a package that only plans — versionfile, statedb, odm,
// zfsroot, guestfix — links neither the journal nor its SQLite driver,
// and cannot write: only journal turns a Plan into writes.
package plan

import (
	"io"
	"io/fs"
)

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

	// RawWrite replaces bytes of a disk outside every filesystem — a
	// partition table entry, a GPT header — at fixed offsets (Raw). Unlike
	// the file kinds it is not atomic on its own: the journal stores the
	// before-bytes before the first byte is written, writes each extent in
	// the planned order (a GPT's backup copy before its primary) and
	// fsyncs it, and recover writes the before-bytes back after a crash.
	RawWrite Kind = "raw-write"
)

// Change is one step of a Plan. Paths are slash-separated and relative to
// the target root; the journal resolves them through target.Root.
type Change struct {
	Kind       Kind
	Path       string
	Content    []byte                        // Write/Create: the new bytes
	Stream     func() (io.ReadCloser, error) // Write/Create: new bytes too large for memory (instead of Content)
	Mode       fs.FileMode                   // Create (0: 0644), Chmod
	UID, GID   int                           // Create (-1: the parent's), Chown (-1: unchanged)
	LinkTarget string                        // CreateSymlink
	NewPath    string                        // Rename
	External   *ExternalRecord               // External
	Raw        *RawRecord                    // RawWrite: where its Content goes
	Why        string                        // one line shown with the plan
}

// ExternalRecord describes an action taken outside the file tree, recorded so
// that it can be listed and rolled back by hand.
type ExternalRecord struct {
	Type     string `json:"type"`               // e.g. "zfs-snapshot", "partition-image"
	Name     string `json:"name"`               // e.g. "rpool/zones/z1/ROOT/zbe@xsrescue-7"
	SHA256   string `json:"sha256,omitempty"`   // for files such as partition images
	Rollback string `json:"rollback,omitempty"` // the command that undoes it
}

// DirCreated is the ExternalRecord type of a directory the command created
// for the op's files just before the op (odm purge's new --output): the
// change's Path is it, relative to the target root ("." for the root
// itself), Name its absolute path. Undo and rollback (the journal's own,
// and recover's) remove it after the op's files, and only if it is then an
// empty directory. It is the op's first change, so that it is rolled
// back last. An op without the record, or an xsrescue that predates
// it (which skips every external record), leaves the directory.
const DirCreated = "directory-created"

// RawRecord says where a RawWrite change writes. The new bytes are the
// Change's Content: the extents' new contents, concatenated in order.
type RawRecord struct {
	Device  string      `json:"device"`  // absolute path of the image file or block device
	Size    int64       `json:"size"`    // the device's size when planned: a different disk is refused
	Extents []RawExtent `json:"extents"` // in write order, not overlapping
	// Diff shows the change in the plan (the table before and after);
	// Check re-reads what was written in the domain's terms (is the table
	// as planned?) after every extent is written and verified. Neither is
	// stored: undo checks the bytes.
	Diff  string       `json:"-"`
	Check func() error `json:"-"`
}

// Total is the number of bytes the record's extents cover.
func (r *RawRecord) Total() int64 {
	var n int64
	for _, e := range r.Extents {
		n += e.Length
	}
	return n
}

// RawExtent is one byte range of a RawRecord.
type RawExtent struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// Plan is what a mutating command wants to change, in order.
type Plan struct {
	Command string // e.g. "version set"
	Changes []Change

	// Basis is the journal's record of the state of every path as the plan
	// was made from it: set the first time the plan is shown
	// (journal.Render, journal.Describe), checked by journal.Apply, which
	// refuses to change anything the target no longer shows exactly so.
	// Nothing but the journal reads or sets it.
	Basis any
}

// Empty reports whether there is nothing to change ("already as requested").
func (p *Plan) Empty() bool { return p == nil || len(p.Changes) == 0 }

// ChangeResult is one applied (or planned) change with its hashes.
type ChangeResult struct {
	Kind         Kind   `json:"kind"`
	Path         string `json:"path"`
	NewPath      string `json:"new_path,omitempty"`
	BeforeSHA256 string `json:"before_sha256,omitempty"`
	AfterSHA256  string `json:"after_sha256,omitempty"`
	Description  string `json:"description,omitempty"`
}

// Result is what the journal reports for an op it applied, undid or
// rolled back.
type Result struct {
	Op      int64          `json:"op"`
	UUID    string         `json:"uuid"`
	Journal string         `json:"journal"`
	Status  string         `json:"status"`
	Changes []ChangeResult `json:"changes"`
	// Undo is the complete command line that undoes an applied op, set by
	// the caller that knows how the target was named (absolute paths).
	Undo string `json:"undo,omitempty"`
}
