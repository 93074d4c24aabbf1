package odm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// NodeType is the kind of a /dev entry that belongs to a major.
type NodeType string

const (
	Block   NodeType = "block"
	Char    NodeType = "char"
	Symlink NodeType = "symlink"
)

// Node is a top-level /dev entry: a special file, or a symlink that resolves
// to one (then Major and Minor are its target's).
type Node struct {
	Path  string   `json:"path"` // relative to the root that holds dev/, e.g. "dev/lv01"
	Type  NodeType `json:"type"`
	Minor int      `json:"minor"`
	Major int      `json:"-"`
	// Mode, UID and GID are what undo must recreate (from lstat, or from an
	// ls -l line where UID/GID are -1 because ls shows names).
	Mode     fs.FileMode `json:"-"`
	UID, GID int         `json:"-"`
	Link     string      `json:"-"` // symlink: the raw link text
	Target   string      `json:"-"` // symlink: the node it resolves to (a Path)
}

// Name is the base name of the node.
func (n Node) Name() string { return path.Base(n.Path) }

// ScanDev lists the top level of dir (a directory of root, normally "dev")
// with lstat: character and block specials with their major and minor
// (unix.Major/Minor of st_rdev — never the raw value, whose encoding differs
// between AIX and Linux), and symlinks that resolve to one of them. Nothing
// below the top level is read, and no symlink is followed out of root.
func ScanDev(root *target.Root, dir string) ([]Node, error) {
	where := path.Join(root.Dir(), dir)
	resolved, err := root.Resolve(dir)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", where, err)
	}
	// The directory as a root of its own: one fstatat per entry, and
	// still no way out of it.
	devRoot, err := root.Sub(resolved)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", where, err)
	}
	defer devRoot.Close()
	ents, err := devRoot.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", where, err)
	}
	var nodes []Node
	byPath := map[string]int{} // by resolved path, as Resolve returns link targets
	var links []Node
	for _, e := range ents {
		if e.Type()&(fs.ModeDevice|fs.ModeSymlink|fs.ModeIrregular) == 0 {
			continue // regular files and directories
		}
		p := path.Join(dir, e.Name())
		fi, err := devRoot.Lstat(e.Name())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while scanning
			}
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
		mode := fi.Mode()
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch {
		case mode&fs.ModeSymlink != 0:
			link, err := devRoot.Readlink(e.Name())
			if err != nil {
				return nil, fmt.Errorf("scan %s: %w", p, err)
			}
			n := Node{Path: p, Type: Symlink, Mode: mode, Link: link, UID: -1, GID: -1}
			if st != nil {
				n.UID, n.GID = int(st.Uid), int(st.Gid)
			}
			links = append(links, n)
		case mode&fs.ModeDevice != 0 && st != nil:
			t := Block
			if mode&fs.ModeCharDevice != 0 {
				t = Char
			}
			rdev := uint64(st.Rdev)
			byPath[path.Join(resolved, e.Name())] = len(nodes)
			nodes = append(nodes, Node{Path: p, Type: t, Major: int(unix.Major(rdev)), Minor: int(unix.Minor(rdev)),
				Mode: mode, UID: int(st.Uid), GID: int(st.Gid)})
		}
	}
	for _, l := range links {
		resolved, err := root.Resolve(devLinkPath(dir, l.Link))
		if err != nil {
			continue // a loop or an unreadable link resolves to nothing of ours
		}
		if i, ok := byPath[resolved]; ok {
			l.Target, l.Major, l.Minor = nodes[i].Path, nodes[i].Major, nodes[i].Minor
			nodes = append(nodes, l)
		}
	}
	sortNodes(nodes)
	return nodes, nil
}

// devLinkPath turns a link text found in dir into a path inside the root.
// "/dev/x" means dir/x even when dir is a copy with another name.
func devLinkPath(dir, link string) string {
	if strings.HasPrefix(link, "/dev/") {
		return path.Join(dir, link[len("/dev/"):])
	}
	if path.IsAbs(link) {
		return link
	}
	return path.Join(dir, link)
}

func sortNodes(nodes []Node) {
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].Major != nodes[j].Major {
			return nodes[i].Major < nodes[j].Major
		}
		return nodes[i].Path < nodes[j].Path
	})
}

// ParseListing reads an `ls -l /dev` (or `ls -al`) listing taken on the AIX
// side. The size column of a special file is "major, minor" — "38, 0" or,
// with a minor of three digits or more, "38,128" in one field; both numbers
// must be strict decimal. Paths are reported as "dev/NAME". Symlinks
// ("name -> target") are kept when they point at a listed special file.
//
// Like ScanDev, only the top level of /dev counts: in an `ls -lR /dev`
// listing the entries under a sub-directory header ("/dev/old:") are
// skipped, because reporting /dev/old/lv01 as /dev/lv01 would make the
// repair remove a different, possibly live, node. A listing whose first
// directory header is not /dev, or that names one top-level entry twice, is
// refused.
func ParseListing(r io.Reader, file string) ([]Node, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	var nodes []Node
	byName := map[string]int{}
	lineOf := map[string]int{}
	var links []Node
	line := 0
	top, inSub := "", false // the first directory header, if any
	seen := func(name string) error {
		if prev, dup := lineOf[name]; dup {
			return &xerr.SyntaxError{File: file, Line: line,
				Msg: fmt.Sprintf("/dev/%s listed twice (line %d): give the output of one `ls -l /dev`", name, prev), Err: ErrSyntax}
		}
		lineOf[name] = line
		return nil
	}
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.IndexByte(text, 0) >= 0 {
			return nil, &xerr.SyntaxError{File: file, Line: line, Msg: "NUL byte", Err: ErrSyntax}
		}
		f := strings.Fields(text)
		if len(f) == 0 || f[0] == "total" {
			continue
		}
		if strings.HasSuffix(text, ":") && !isModeString(f[0]) {
			dir := path.Clean(strings.TrimSpace(strings.TrimSuffix(text, ":")))
			if top == "" {
				if !isDevDir(dir) {
					return nil, &xerr.SyntaxError{File: file, Line: line,
						Msg: fmt.Sprintf("listing of %q, not of /dev: give the output of `ls -l /dev`", dir), Err: ErrSyntax}
				}
				top = dir
			}
			// Only the first header's own directory is the top level: a
			// later "/dev/x/dev:" is a sub-directory however it ends.
			inSub = dir != top
			continue
		}
		if inSub {
			continue // below /dev's top level: never a candidate
		}
		typ := f[0][0]
		if typ != 'b' && typ != 'c' && typ != 'l' {
			continue // regular files, directories, sockets, pipes
		}
		bad := func(msg string, a ...any) error {
			return &xerr.SyntaxError{File: file, Line: line, Msg: fmt.Sprintf(msg, a...), Err: ErrSyntax}
		}
		if len(f) < 8 {
			return nil, bad("too few columns for an ls -l line: %q", text)
		}
		if typ == 'l' {
			// perms links owner group size mon day time|year name -> target
			if len(f) < 9 {
				return nil, bad("too few columns for an ls -l line: %q", text)
			}
			rest := fieldsFrom(text, 8)
			name, link, ok := strings.Cut(rest, " -> ")
			if !ok || name == "" || strings.Contains(name, "/") {
				return nil, bad("symlink without \" -> \": %q", text)
			}
			if err := seen(name); err != nil {
				return nil, err
			}
			links = append(links, Node{Path: "dev/" + name, Type: Symlink, Link: link, UID: -1, GID: -1})
			continue
		}
		// perms links owner group MAJ, MIN mon day time name  |  ... MAJ,MIN mon ...
		majS, minS, nameAt := "", "", 0
		if j := strings.IndexByte(f[4], ','); j >= 0 && j < len(f[4])-1 {
			majS, minS, nameAt = f[4][:j], f[4][j+1:], 8
		} else if j == len(f[4])-1 && len(f) >= 9 {
			majS, minS, nameAt = f[4][:j], f[5], 9
		} else {
			return nil, bad("special file without \"major, minor\" in the size column: %q", text)
		}
		major, err := ParseNumber(majS)
		if err != nil {
			return nil, bad("major: %v", err)
		}
		minor, err := ParseNumber(minS)
		if err != nil {
			return nil, bad("minor: %v", err)
		}
		if len(f) < nameAt+1 {
			return nil, bad("no file name: %q", text)
		}
		name := fieldsFrom(text, nameAt)
		if name == "" || strings.Contains(name, "/") {
			return nil, bad("bad file name %q", name)
		}
		t := Block
		if typ == 'c' {
			t = Char
		}
		if err := seen(name); err != nil {
			return nil, err
		}
		byName[name] = len(nodes)
		nodes = append(nodes, Node{Path: "dev/" + name, Type: t, Major: major, Minor: minor, Mode: permBits(f[0]), UID: -1, GID: -1})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &xerr.SyntaxError{File: file, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine), Err: ErrSyntax}
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, l := range links {
		name := l.Link
		if strings.HasPrefix(name, "/dev/") {
			name = name[len("/dev/"):]
		}
		if i, ok := byName[name]; ok && !strings.Contains(name, "/") {
			l.Target, l.Major, l.Minor = nodes[i].Path, nodes[i].Major, nodes[i].Minor
			nodes = append(nodes, l)
		}
	}
	sortNodes(nodes)
	return nodes, nil
}

// isModeString reports whether s reads like the mode column of ls -l
// ("crw-rw----", "drwxr-xr-x.", "-rw-r--r--+"), telling an entry whose name
// ends in ":" from a directory header.
func isModeString(s string) bool {
	if len(s) < 10 || !strings.ContainsRune("-bcdlpsD", rune(s[0])) {
		return false
	}
	for _, c := range s[1:10] {
		if !strings.ContainsRune("rwxsStTl-", c) {
			return false
		}
	}
	return true
}

// isDevDir reports whether the first ls -lR directory header names /dev
// itself: "/dev", "dev", "." (ls -lR run inside /dev) or a copy ending in
// "/dev".
func isDevDir(d string) bool {
	return d == "/dev" || d == "dev" || d == "." || strings.HasSuffix(d, "/dev")
}

// fieldsFrom returns text from its n-th field (0-based, fields as
// strings.Fields splits them) to the end, so that a name with spaces stays
// whole.
func fieldsFrom(text string, n int) string {
	inField, k := false, -1
	for i, r := range text {
		if unicode.IsSpace(r) {
			inField = false
			continue
		}
		if !inField {
			inField = true
			if k++; k == n {
				return text[i:]
			}
		}
	}
	return ""
}

// permBits reads the rwx columns of an ls mode string such as "crw-rw----".
func permBits(s string) fs.FileMode {
	var m fs.FileMode
	if len(s) < 10 {
		return 0
	}
	for i, c := range s[1:10] {
		if c != '-' {
			m |= 1 << (8 - i)
		}
	}
	return m
}
