// Package journal is the only code that changes files inside a target root:
// it alone obtains a writable root (internal/writable). A plan.Plan is
// rendered as a diff, every before-image is snapshotted into one SQLite
// file, each change is applied atomically and verified, and an op can be
// undone or, after a crash, recovered. The other writers of xsrescue (raw
// partition images, zfs snapshots, mounts, new output files) and their
// safeguards are listed in docs/dev/architecture.md.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3" // the journal is one SQLite file
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/flock"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// plannedFrom is where one change starts: its resolved path(s) and the
// state found there (content hash, size, inode, times, owner, mode, xattrs).
type plannedFrom struct {
	path, newPath string
	before        state
}

// Op statuses.
const (
	StatusPlanned    = "planned"
	StatusApplying   = "applying"
	StatusApplied    = "applied"
	StatusFailed     = "failed"
	StatusRolledBack = "rolled-back"
	StatusUndone     = "undone"
)

// Sentinel errors callers branch on with errors.Is. Each carries its exit
// code as an xerr mark, so every error that wraps one exits the same way,
// whoever wrapped it:
var (
	// exit 3, refused for safety; nothing was changed
	ErrDrift               = xerr.Refused(errors.New("changed since the op"))
	ErrWrongTarget         = xerr.Refused(errors.New("op belongs to another target"))
	ErrNotUndoable         = xerr.Refused(errors.New("op cannot be undone"))
	ErrJournalBusy         = xerr.Refused(errors.New("in use by another xsrescue"))
	ErrChangedSincePlanned = xerr.Refused(errors.New("changed since it was planned")) // a path is no longer what the plan was made from
	// A journal a newer xsrescue wrote may hold what this one cannot
	// read back or undo: it is not touched.
	ErrSchemaTooNew = xerr.Refused(errors.New("journal schema is newer than this xsrescue"))

	// exit 2, invalid input
	ErrNoSuchOp = xerr.Invalid(errors.New("no such op"))
)

// Journal is one opened journal database.
type Journal struct {
	path     string
	shown    string // how messages name it: path, or what OpenReadOnlyAs was given
	db       *sql.DB
	lock     *os.File
	readOnly bool
}

// name is the journal as messages name it.
func (j *Journal) name() string {
	if j.shown != "" {
		return j.shown
	}
	return j.path
}

// schemaVersion is PRAGMA user_version of the newest schema; migrations[i]
// moves a database from version i to i+1.
const schemaVersion = 1

var migrations = []string{`
CREATE TABLE ops (
	id        INTEGER PRIMARY KEY,
	uuid      TEXT NOT NULL UNIQUE,
	command   TEXT NOT NULL,
	argv      TEXT NOT NULL,
	target    TEXT NOT NULL,
	root      TEXT NOT NULL,
	disk      TEXT NOT NULL DEFAULT '',
	partition INTEGER NOT NULL DEFAULT 0,
	status    TEXT NOT NULL CHECK (status IN ('planned','applying','applied','failed','rolled-back','undone')),
	started   TEXT NOT NULL,
	finished  TEXT NOT NULL DEFAULT '',
	error     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE blobs (
	sha256 TEXT PRIMARY KEY,
	size   INTEGER NOT NULL,
	stored INTEGER NOT NULL
);
CREATE TABLE blob_chunks (
	sha256 TEXT NOT NULL REFERENCES blobs(sha256) ON DELETE CASCADE,
	seq    INTEGER NOT NULL,
	data   BLOB NOT NULL,
	PRIMARY KEY (sha256, seq)
);
CREATE TABLE changes (
	op        INTEGER NOT NULL REFERENCES ops(id) ON DELETE CASCADE,
	seq       INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	path      TEXT NOT NULL,
	resolved  TEXT NOT NULL,
	new_path  TEXT NOT NULL DEFAULT '',
	why       TEXT NOT NULL DEFAULT '',
	before    TEXT NOT NULL,
	before_sha256 TEXT REFERENCES blobs(sha256),
	after     TEXT NOT NULL,
	external  TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (op, seq)
);
CREATE INDEX ops_status ON ops(status);
`}

// Options tune Open.
type Options struct {
	// Wait is how long a second xsrescue waits for a journal another one
	// is writing before refusing (exit 3, naming it); 0 tries once.
	Wait time.Duration
}

// Open opens (creating and migrating) the journal at path, waiting up to
// 10 s for another xsrescue writing to it (OpenWith).
func Open(path string) (*Journal, error) {
	return OpenWith(context.Background(), path, Options{Wait: flock.DefaultWait})
}

// OpenWith opens (creating and migrating) the journal at path. It takes an
// exclusive lock on the file while it is open: a second xsrescue writing
// to the same journal (another target) waits o.Wait, then is refused
// (ErrJournalBusy, exit 3) with the holder's pid and command line. A new
// journal is created complete, under a temporary name, and only then takes
// its name: a reader never finds a half-made one.
func OpenWith(ctx context.Context, path string, o Options) (*Journal, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := infile.Check(abs, infile.File); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("journal %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("journal %s: %w", abs, err)
	}
	if err := create(abs); err != nil {
		return nil, fmt.Errorf("journal %s: %w", abs, err)
	}
	lock, err := os.OpenFile(abs, os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", abs, err)
	}
	if err := flock.Wait(ctx, lock, o.Wait); err != nil {
		lock.Close()
		if be := (*flock.BusyError)(nil); errors.As(err, &be) {
			return nil, xerr.Refusedf("journal %s is %w (%s; waited %s): nothing was changed; run the command again once it has finished, or give --wait a longer DURATION", abs, ErrJournalBusy, be.Holder, be.Waited)
		}
		return nil, fmt.Errorf("journal %s: %w", abs, err)
	}
	db, err := sql.Open("sqlite3", dsn(abs))
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("journal %s: %w", abs, err)
	}
	j := &Journal{path: abs, db: db, lock: lock}
	if err := j.migrate(); err != nil {
		j.Close()
		return nil, fmt.Errorf("journal %s: %w", abs, err)
	}
	return j, nil
}

func dsn(abs string) string {
	return "file:" + escapeURI(abs) + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate"
}

// create makes the journal at abs if there is none: built and migrated
// under a hidden name in the same directory, fsynced, then renamed into
// place without replacing anything (another xsrescue may have created it
// meanwhile; then that one is used).
func create(abs string) error {
	if _, err := os.Lstat(abs); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".xsrescue-new-"+uuid.NewString())
	defer os.Remove(tmp)
	db, err := sql.Open("sqlite3", dsn(tmp))
	if err != nil {
		return err
	}
	j := &Journal{path: tmp, db: db}
	err = j.migrate()
	// Closing the last connection checkpoints the WAL into the file and
	// removes the -wal and -shm files.
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, abs, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	d, err := os.Open(filepath.Dir(abs))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrNoJournal: the file is there but empty (an older xsrescue made it
// before it made the database): no op was ever recorded in it.
var ErrNoJournal = fmt.Errorf("empty, no op recorded: %w", fs.ErrNotExist)

// errNotJournal makes "this is not an xsrescue journal" invalid input (exit 2).
func errNotJournal(abs, why string) error {
	return xerr.Invalidf("journal %s: not an xsrescue journal (%s): give the journal.db an xsrescue command named, or a new path", abs, why)
}

// OpenReadOnly opens an existing journal for list, show and export: it
// creates nothing, takes no lock, and works on a read-only mount. An empty
// file is ErrNoJournal (wrapping fs.ErrNotExist); a file that is not an
// xsrescue journal is invalid input (exit 2).
func OpenReadOnly(path string) (*Journal, error) { return OpenReadOnlyAs(path, "") }

// OpenReadOnlyAs is OpenReadOnly of a journal its messages name shown
// ("" for its path): a --disk partition's journal is read from a private
// copy, whose temporary path means nothing to the user.
func OpenReadOnlyAs(path, shown string) (*Journal, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	name := abs
	if shown != "" {
		name = shown
	}
	if err := infile.Check(abs, infile.File); err != nil {
		if xerr.Code(err) == xerr.ExitInvalid {
			return nil, fmt.Errorf("journal %w", err)
		}
		return nil, fmt.Errorf("journal %s: %w", name, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.Size() == 0 {
		return nil, fmt.Errorf("journal %s: %w", name, ErrNoJournal)
	}
	// immutable=1 needs no -shm or -wal file and so works on a ro,noload
	// mount. It is tried first when there is no -wal file (nothing was left
	// unchecked-pointed, no writer is active): a plain read-only open of a
	// WAL database creates -shm and -wal, a write a read-only command must
	// not make. With a -wal file, immutable would miss its committed ops.
	modes := []string{"mode=ro", "mode=ro&immutable=1"}
	if _, err := os.Lstat(abs + "-wal"); errors.Is(err, fs.ErrNotExist) {
		modes = []string{"mode=ro&immutable=1"}
	}
	var lastErr error
	for _, extra := range modes {
		db, err := sql.Open("sqlite3", "file:"+escapeURI(abs)+"?"+extra+"&_busy_timeout=2000")
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", name, err)
		}
		j := &Journal{path: abs, shown: shown, db: db, readOnly: true}
		var v int
		if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			lastErr = err
			db.Close()
			continue
		}
		if v > schemaVersion {
			db.Close()
			return nil, fmt.Errorf("journal %s: %w (version %d, this xsrescue knows %d)", name, ErrSchemaTooNew, v, schemaVersion)
		}
		if v < 1 {
			db.Close()
			return nil, errNotJournal(name, fmt.Sprintf("user_version %d", v))
		}
		return j, nil
	}
	if isNotADatabase(lastErr) {
		return nil, errNotJournal(name, lastErr.Error())
	}
	return nil, fmt.Errorf("journal %s: %w", name, lastErr)
}

// isNotADatabase recognises SQLite's SQLITE_NOTADB ("file is not a database").
func isNotADatabase(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrNotADB
	}
	return err != nil && strings.Contains(err.Error(), "file is not a database")
}

func escapeURI(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

func (j *Journal) migrate() error {
	var v int
	if err := j.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		if isNotADatabase(err) {
			return errNotJournal(j.path, err.Error())
		}
		return err
	}
	if v == 0 {
		// A database with tables of its own is someone else's: never
		// add ours to it.
		var tables int
		if err := j.db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
			return err
		}
		if tables > 0 {
			return errNotJournal(j.path, "user_version 0, and tables of its own")
		}
	}
	if v > schemaVersion {
		return fmt.Errorf("%w (version %d, this xsrescue knows %d)", ErrSchemaTooNew, v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		tx, err := j.db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to schema %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", v+1, err)
		}
	}
	return nil
}

// Path is the journal file.
func (j *Journal) Path() string { return j.path }

// Close closes the database.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	var err error
	if j.db != nil {
		err = j.db.Close()
	}
	if j.lock != nil {
		err = errors.Join(err, j.lock.Close())
	}
	return err
}

// DefaultRel is where the journal lives inside a target root by default, so
// that it survives a live-USB reboot and travels with the disk.
const DefaultRel = "var/lib/xsrescue/journal.db"

// DefaultPath is the journal inside root. The directory is resolved and,
// with create, made through the root, so that a symlinked var/ in a hostile
// root cannot put the journal outside it; a journal.db that is not a
// regular file is refused.
//
// An image root (a read-only --disk open) is no directory: the journal is
// copied out of it (target.Root.LocalPath) to be read, and create is
// refused.
func DefaultPath(root *target.Root, create bool) (string, error) {
	dir, base := path.Split(DefaultRel)
	rel, err := root.Resolve(dir)
	if err != nil {
		return "", fmt.Errorf("journal directory %s in %s: %w", dir, root.Name(), err)
	}
	if root.Image() != nil {
		return imageJournal(root, path.Join(rel, base), create)
	}
	if create {
		if err := writer(root).MkdirAll(rel, 0o700); err != nil {
			return "", fmt.Errorf("journal directory %s in %s: %w", rel, root.Dir(), err)
		}
		again, err := root.Resolve(dir)
		if err != nil || again != rel {
			return "", fmt.Errorf("journal directory %s in %s moved while it was created", dir, root.Dir())
		}
	}
	p := path.Join(rel, base)
	if fi, err := writer(root).Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return "", xerr.Refusedf("journal %s in %s is a %s, not a file", p, root.Dir(), infile.TypeName(fi.Mode()))
	}
	return filepath.Join(root.Dir(), filepath.FromSlash(p)), nil
}
