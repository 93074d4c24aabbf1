package statedb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

// FS reads files of an offline root by slash-separated paths relative to the
// root. *target.Root satisfies it (and resolves symlinks inside the root).
type FS interface {
	ReadFile(name string) ([]byte, error)
	Stat(name string) (fs.FileInfo, error)
}

// Paths inside a XenServer root (docs/statedb.md, "Which file xapi loads").
const (
	DBConfPath    = "etc/xensource/db.conf"
	DefaultDBPath = "var/lib/xcp/state.db"
	GenSuffix     = ".generation"
)

// xapiDirs are where xapi keeps its files: /var/lib/xcp since 2012, /var/xapi
// up to XS 6.2 (later a symlink to /var/lib/xcp).
var xapiDirs = []string{"var/lib/xcp", "var/xapi"}

// Roles of the files that decide what xapi loads.
const (
	RoleDBConf      = "db.conf"      // a connection from db.conf
	RoleHAMetadata  = "ha_metadata"  // prepended by Db_cache_impl.load
	RoleGenMetadata = "gen_metadata" // prepended by Db_cache_impl.load
	RoleRestore     = "restore"      // restore_db.db: wins outright
	RoleStale       = "stale"        // a state.db no connection names: never loaded
)

// SideFile is one candidate database file.
type SideFile struct {
	Path       string `json:"path"` // relative to the root
	Role       string `json:"role"`
	Size       int64  `json:"size"`
	Generation *int64 `json:"generation"` // nil: no readable .generation (xapi counts 0)
	Compress   bool   `json:"compress"`   // db.conf compress:true
	// Type is "" for a regular file, else what is there instead ("fifo",
	// "directory", "socket", "block device", "character device"): xapi
	// takes it all the same (NotAFile).
	Type string `json:"type,omitempty"`
}

// Location says which database file xapi will load and why.
type Location struct {
	DBConf string     // DBConfPath when it exists, "" when xapi uses its default
	Files  []SideFile // existing candidates, in xapi's order of preference
	Loads  string     // the file xapi loads; "" when none exists
	Reason string
	// Dangling are candidate paths that are symlinks to nothing inside the
	// root (for instance a link out of it, which is resolved within the
	// root), each as "PATH is a symlink to TARGET, ...": xapi on the host
	// finds no file there either, but the user expects one.
	Dangling []string
	// Problem, when not "", says why xapi cannot start with the file it
	// loads: it is not a regular file (a FIFO it blocks on, a directory it
	// fails to read).
	Problem string
}

// fileType names what a candidate path holds when it is not a regular
// file; "" for a regular file.
func fileType(m fs.FileMode) string {
	if m.IsRegular() {
		return ""
	}
	return infile.TypeName(m)
}

// notAFile is what xapi does with a candidate that exists but is not a
// regular file: xapi tests candidates with Sys.file_exists (true for any
// type: Db_connections.exists, xapi.ml for restore_db.db) and then reads
// the path.
func notAFile(path, typ string) string {
	what := map[string]string{
		"fifo":             "opening it blocks until something writes to it, so xapi hangs at start",
		"directory":        "reading it fails (EISDIR), so xapi fails to start",
		"socket":           "opening it fails (ENXIO), so xapi fails to start",
		"character device": "xapi reads whatever the device gives as its database (or blocks on it)",
		"block device":     "xapi reads the device's bytes as its database",
	}[typ]
	if what == "" {
		what = "xapi cannot read a database from it"
	}
	return fmt.Sprintf("/%s is a %s, not a database file, yet xapi takes it (Sys.file_exists is true for any file type): %s; move it aside", path, typ, what)
}

// linkReader is what Locate needs to explain a missing candidate that is a
// symlink; *target.Root has it.
type linkReader interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
}

// Loaded returns the SideFile xapi loads, or nil.
func (l *Location) Loaded() *SideFile {
	for i := range l.Files {
		if l.Files[i].Path == l.Loads {
			return &l.Files[i]
		}
	}
	return nil
}

// Primary is the first existing db.conf connection: the state.db xapi
// writes, and the file a patch edits by default. "" when none exists.
func (l *Location) Primary() string {
	for _, f := range l.Files {
		if f.Role == RoleDBConf {
			return f.Path
		}
	}
	return ""
}

// Competitors are the existing files other than path that xapi would load
// instead of path once it has generation gen: restore_db.db always;
// otherwise a candidate with a higher generation, or the same generation and
// an earlier place in xapi's order. A path that is not a candidate (a stale
// state.db, a --file elsewhere) is never loaded: every candidate competes.
func (l *Location) Competitors(path string, gen int64) []SideFile {
	at := -1
	for i, f := range l.Files {
		if f.Path == path && f.Role != RoleStale {
			at = i
		}
	}
	var out []SideFile
	for i, f := range l.Files {
		if f.Path == path || f.Role == RoleStale {
			continue
		}
		if f.Role == RoleRestore || at < 0 || f.gen() > gen || f.gen() == gen && i < at {
			out = append(out, f)
		}
	}
	return out
}

// PatchTarget is the file a patch edits by default: the one xapi loads, so
// that the patch takes effect. When restore_db.db wins it is a transient
// (xapi deletes it after loading) and the primary state.db is patched; the
// restore file is then a competitor to set aside.
func (l *Location) PatchTarget() string {
	if f := l.Loaded(); f != nil && f.Role != RoleRestore {
		return f.Path
	}
	return l.Primary()
}

func (f SideFile) gen() int64 {
	if f.Generation == nil {
		return 0
	}
	return *f.Generation
}

// Connection is one [path] section of db.conf.
type Connection struct {
	Path     string
	Compress bool
	Params   map[string]string
}

// ParseDBConf reads db.conf: "[path]" starts a connection, "key:value"
// lines set its parameters (xapi parse_db_conf.ml).
func ParseDBConf(data []byte, name string) ([]Connection, error) {
	var out []Connection
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			p := strings.TrimSpace(line[1 : len(line)-1])
			if !strings.HasPrefix(p, "/") {
				return nil, &xerr.SyntaxError{File: name, Line: n, Msg: fmt.Sprintf("database path %q is not absolute", p)}
			}
			out = append(out, Connection{Path: p, Params: map[string]string{}})
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || len(out) == 0 {
				return nil, &xerr.SyntaxError{File: name, Line: n, Msg: fmt.Sprintf("expected [path] or key:value, found %q", line)}
			}
			c := &out[len(out)-1]
			c.Params[strings.TrimSpace(k)] = strings.TrimSpace(v)
			if strings.TrimSpace(k) == "compress" {
				c.Compress = strings.TrimSpace(v) == "true"
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Locate applies xapi's start-up choice to an offline root (db_cache.ml populate_cache, Db_connections.choose):
// restore_db.db wins outright; otherwise, among the existing files
// ha_metadata.db, gen_metadata.db and the db.conf connections (in that
// order), the one whose .generation is highest, the earlier one on a tie.
func Locate(root FS) (*Location, error) {
	loc := &Location{}
	// Without db.conf (or with one naming no connection) xapi uses its
	// built-in path: /var/lib/xcp/state.db since 2012, /var/xapi/state.db up
	// to XS 6.2. Which one depends on the xapi, so both are candidates.
	conns := []Connection{{Path: "/" + DefaultDBPath}, {Path: "/var/xapi/state.db"}}
	if data, err := root.ReadFile(DBConfPath); err == nil {
		loc.DBConf = DBConfPath
		c, err := ParseDBConf(data, DBConfPath)
		if err != nil {
			return nil, err
		}
		if len(c) > 0 {
			conns = c
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", DBConfPath, err)
	}

	var seen, links []fs.FileInfo
	add := func(path, role string, compress bool) error {
		st, err := root.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if lr, ok := root.(linkReader); ok {
				if li, err := lr.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
					// /var/xapi -> /var/lib/xcp: the same link twice
					if to, err := lr.Readlink(path); err == nil && !slices.ContainsFunc(links, func(l fs.FileInfo) bool { return os.SameFile(l, li) }) {
						links = append(links, li)
						loc.Dangling = append(loc.Dangling, fmt.Sprintf("%s is a symlink to %s, which does not exist inside the root", path, to))
					}
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range seen {
			if os.SameFile(s, st) {
				return nil // /var/xapi -> /var/lib/xcp: the same file twice
			}
		}
		seen = append(seen, st)
		f := SideFile{Path: path, Role: role, Size: st.Size(), Compress: compress, Type: fileType(st.Mode())}
		if f.Type != "" {
			f.Size = 0
		}
		if data, err := root.ReadFile(path + GenSuffix); err == nil {
			if g, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil {
				f.Generation = &g
			}
		}
		loc.Files = append(loc.Files, f)
		return nil
	}
	for _, step := range []struct {
		name, role string
	}{{"restore_db.db", RoleRestore}, {"ha_metadata.db", RoleHAMetadata}, {"gen_metadata.db", RoleGenMetadata}} {
		for _, d := range xapiDirs {
			if err := add(d+"/"+step.name, step.role, false); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range conns {
		if err := add(strings.TrimPrefix(c.Path, "/"), RoleDBConf, c.Compress); err != nil {
			return nil, err
		}
	}
	for _, d := range xapiDirs {
		if err := add(d+"/state.db", RoleStale, false); err != nil {
			return nil, err
		}
	}
	loc.choose(conns)
	return loc, nil
}

func (loc *Location) choose(conns []Connection) {
	var best *SideFile
	var considered []string
	for i := range loc.Files {
		f := &loc.Files[i]
		if f.Role == RoleRestore {
			loc.Loads, loc.Reason = f.Path, "restore_db.db exists: xapi populates only from it, then deletes it (xapi.ml populate_db)"
			if f.Type != "" {
				loc.Problem = notAFile(f.Path, f.Type)
			}
			return
		}
		if f.Role == RoleStale {
			continue
		}
		g := "none (counts as 0)"
		if f.Generation != nil {
			g = strconv.FormatInt(*f.Generation, 10)
		}
		considered = append(considered, fmt.Sprintf("/%s generation %s", f.Path, g))
		if best == nil || f.gen() > best.gen() {
			best = f
		}
	}
	if best == nil {
		loc.Reason = fmt.Sprintf("no database file exists: xapi would create a fresh one at %s", conns[0].Path)
		if len(loc.Dangling) > 0 {
			loc.Reason = fmt.Sprintf("no database file exists: %s; xapi would create a fresh one at %s", strings.Join(loc.Dangling, "; "), conns[0].Path)
		}
		return
	}
	loc.Loads = best.Path
	if best.Type != "" {
		loc.Problem = notAFile(best.Path, best.Type)
	}
	conf := "the db.conf connections"
	if loc.DBConf == "" {
		conf = "xapi's default paths (no db.conf)"
	}
	if len(considered) == 1 {
		loc.Reason = fmt.Sprintf("the only existing database among ha_metadata.db, gen_metadata.db and %s (%s)", conf, considered[0])
		return
	}
	loc.Reason = fmt.Sprintf("highest .generation, earlier entry on a tie (Db_connections.choose): %s", strings.Join(considered, ", "))
}
