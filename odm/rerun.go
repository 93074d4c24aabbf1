package odm

import (
	"bytes"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// CheckOutFiles compares the --out files found (by name; a missing file is
// absent from found) with what this purge writes. It returns the purge the
// files are exactly the output of, or the name of the first file that
// differs or is missing.
//
// A purge that ran already removed the /dev entries, so a re-run sees none
// and would write scripts without them (and, for a major that had nothing
// but /dev entries, does not see the major at all). When p has no /dev
// entries, the entries are read back from the found undo.ksh (its mk_node
// and mk_link lines), their majors added, and both scripts rebuilt: the
// files match only if that rebuild is byte-identical, so a hand-edited
// script never does. The caller must still check that the returned purge's
// majors have no /dev entries now.
func (p *Purge) CheckOutFiles(found map[string][]byte) (*Purge, string) {
	want := p
	if len(p.Nodes) == 0 {
		if nodes, ok := undoNodes(found[FileUndo]); ok && len(nodes) > 0 {
			q := *p
			q.Nodes = nodes
			q.Majors = slices.Clone(p.Majors)
			for _, n := range nodes {
				if n.Type != Symlink {
					q.Majors = append(q.Majors, n.Major)
				}
			}
			slices.Sort(q.Majors)
			q.Majors = slices.Compact(q.Majors)
			q.Script, q.Undo = purgeScript(&q), undoScript(&q)
			want = &q
		}
	}
	content := map[string][]byte{FileAfter: want.After, FileBefore: want.Before, FilePurge: want.Script, FileUndo: want.Undo}
	for _, name := range OutFiles {
		got, ok := found[name]
		if !ok || !bytes.Equal(got, content[name]) {
			return nil, name
		}
	}
	return want, ""
}

// undoNodes reads the /dev entries an undo.ksh recreates, in Purge.Nodes
// order (symlinks first, then specials; undoScript writes the specials in
// reverse). ok is false when a line does not parse.
func undoNodes(undo []byte) (nodes []Node, ok bool) {
	var links, specials []Node
	for line := range strings.Lines(string(undo)) {
		line = strings.TrimSuffix(line, "\n")
		cmd, rest, _ := strings.Cut(line, " ")
		if cmd != "mk_node" && cmd != "mk_link" || !strings.HasPrefix(rest, "'") {
			continue
		}
		w, ok := shWords(rest)
		if !ok || len(w) == 0 || !baseName(w[0]) {
			return nil, false
		}
		if cmd == "mk_link" {
			if len(w) != 2 {
				return nil, false
			}
			links = append(links, Node{Path: path.Join("dev", w[0]), Type: Symlink, Link: w[1], UID: -1, GID: -1})
			continue
		}
		if len(w) != 7 || (w[1] != "b" && w[1] != "c") {
			return nil, false
		}
		var num [5]int
		for i, s := range w[2:] {
			base := 10
			if i == 2 {
				base = 8 // the mode
			}
			n, err := strconv.ParseInt(s, base, 64)
			if err != nil || n < 0 || n > 1<<31 {
				return nil, false
			}
			num[i] = int(n)
		}
		t := Char
		if w[1] == "b" {
			t = Block
		}
		specials = append(specials, Node{Path: path.Join("dev", w[0]), Type: t, Major: num[0], Minor: num[1],
			Mode: fs.FileMode(num[2]) & fs.ModePerm, UID: num[3], GID: num[4]})
	}
	slices.Reverse(specials)
	return append(links, specials...), true
}

// shWords splits s into words: bare ones, and single-quoted ones as
// shQuote writes them (a quote inside as quote, backslash, quote, quote).
func shWords(s string) ([]string, bool) {
	var words []string
	for s != "" {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] != '\'' {
			w, rest, _ := strings.Cut(s, " ")
			words, s = append(words, w), rest
			continue
		}
		var w strings.Builder
		for {
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, false
			}
			w.WriteString(s[1 : 1+end])
			s = s[end+2:]
			if !strings.HasPrefix(s, `\''`) {
				break
			}
			w.WriteByte('\'')
			s = s[2:]
		}
		if s != "" && s[0] != ' ' {
			return nil, false // 'a'b: one word in ksh, never written by shQuote
		}
		words = append(words, w.String())
	}
	return words, true
}

// baseName: undo.ksh names entries of $DEVDIR by their base name only.
func baseName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.Contains(s, "/")
}
