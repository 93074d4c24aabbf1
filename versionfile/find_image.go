package versionfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"

	"github.com/xsrescue/xsrescue/extfs"
	"github.com/xsrescue/xsrescue/internal/infile"
)

// queuedFileMin: files larger than this are searched by whichever worker
// is free.
const queuedFileMin = 1 << 20

// wholeFileMax: files up to this size are read whole and scanned like a
// mounted file; larger ones are streamed (scanStream), holes skipped.
const wholeFileMax = 8 << 20

// imageFinder is Find over an ext filesystem read in-process: the same
// walk (never through a symlink, SkipTop skipped), by inode number, so no
// path is looked up twice; every directory is entered once, whatever a
// corrupt tree links where.
type imageFinder struct {
	x       *extfs.FS
	needles [][]byte
	tally

	mu       sync.Mutex // seen, matches, problems
	seen     map[uint32]bool
	matches  []Match
	problems []string
}

// imageItem is a directory to read or, with in set, a large file to
// search: large files are queued rather than searched by the worker that
// read their directory, so that a directory of large files (lib/) keeps
// every worker busy.
type imageItem struct {
	rel string
	ino uint32
	in  *extfs.Inode
}

func findImage(ctx context.Context, x *extfs.FS, needles [][]byte, progress func(files, bytes int64), workers int) ([]Match, FindStats, error) {
	f := &imageFinder{x: x, needles: needles, tally: tally{progress: progress}, seen: map[uint32]bool{extfs.RootIno: true}}
	bufs := make([][]byte, workers)
	err := parallel(workers, imageItem{".", extfs.RootIno, nil}, func(it imageItem, worker int) []imageItem {
		switch {
		case ctx.Err() != nil:
			return nil
		case it.in != nil:
			bufs[worker] = f.searchFile(it.rel, it.ino, it.in, bufs[worker])
			return nil
		}
		var more []imageItem
		more, bufs[worker] = f.readDir(it, bufs[worker])
		return f.unseen(more)
	})
	if err != nil {
		return nil, FindStats{}, err
	}
	return finish(ctx, f.matches, f.files.Load(), f.bytes.Load(), f.problems)
}

// unseen drops the directories already walked (a directory linked into
// itself), with a problem line for each.
func (f *imageFinder) unseen(items []imageItem) []imageItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	fresh := items[:0]
	for _, d := range items {
		if d.in == nil && f.seen[d.ino] {
			f.problems = append(f.problems, fmt.Sprintf("%s: directory inode %d reached twice (a directory cycle): not searched again", d.rel, d.ino))
			continue
		}
		if d.in == nil {
			f.seen[d.ino] = true
		}
		fresh = append(fresh, d)
	}
	return fresh
}

func (f *imageFinder) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *imageFinder) readDir(dir imageItem, buf []byte) ([]imageItem, []byte) {
	in, err := f.x.Inode(dir.ino)
	if err == nil && in.FileMode().IsDir() {
		var ents []extfs.Dirent
		if ents, err = f.x.ReadDirInode(in); err == nil {
			var subdirs []imageItem
			for _, e := range ents {
				rel := e.Name
				if dir.rel != "." {
					rel = dir.rel + "/" + e.Name
				}
				t := e.Type
				var child *extfs.Inode
				if t == fs.ModeIrregular { // no file type in the entry (ext2 without filetype)
					if child, err = f.x.Inode(e.Ino); err != nil {
						f.problem("%s: %v", rel, err)
						continue
					}
					t = child.FileMode().Type()
				}
				switch {
				case t.IsDir():
					if dir.rel == "." && slices.Contains(SkipTop, e.Name) {
						continue
					}
					subdirs = append(subdirs, imageItem{rel, e.Ino, nil})
				case t.IsRegular():
					if child == nil {
						if child, err = f.x.Inode(e.Ino); err != nil {
							f.problem("%s: %v", rel, err)
							continue
						}
					}
					if child.Size > queuedFileMin {
						subdirs = append(subdirs, imageItem{rel, e.Ino, child})
						continue
					}
					buf = f.searchFile(rel, e.Ino, child, buf)
				}
			}
			return subdirs, buf
		}
	}
	if err == nil {
		err = fmt.Errorf("inode %d is not a directory", dir.ino)
	}
	f.problem("%s: %v", dir.rel, err)
	return nil, buf
}

func (f *imageFinder) searchFile(rel string, ino uint32, in *extfs.Inode, buf []byte) []byte {
	if in == nil {
		var err error
		if in, err = f.x.Inode(ino); err != nil {
			f.problem("%s: %v", rel, err)
			return buf
		}
	}
	if !in.FileMode().IsRegular() {
		f.problem("%s: the directory entry says a regular file, the inode a %s", rel, infile.Describe(in.FileMode()))
		return buf
	}
	size := in.Size
	f.count(size)
	if size == 0 {
		return buf
	}
	fl, err := f.x.OpenInode(in, rel)
	if err != nil {
		f.problem("%s: %v", rel, err)
		return buf
	}
	// Most files hold no needle: look for one in the data in place (the
	// page cache through the disk's memory map, no copy); only a file that
	// holds one is read again for its lines.
	hit, err := containsAny(fl, f.needles)
	if err != nil {
		f.problem("%s: %v", rel, err)
		return buf
	}
	if !hit {
		return buf
	}
	if size > wholeFileMax {
		var spans []span
		for _, e := range fl.DataExtents() {
			spans = append(spans, span{e.Off, e.Len})
		}
		ms, err := scanStream(rel, fl, size, spans, f.needles, 1<<20)
		if err != nil {
			f.problem("%s: %v", rel, err)
		}
		f.add(ms)
		return buf
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	if _, err := fl.ReadAt(buf[:size], 0); err != nil && err != io.EOF {
		f.problem("%s: %v", rel, err)
		return buf
	}
	f.add(scan(rel, buf[:size], f.needles))
	return buf
}

func (f *imageFinder) add(ms []Match) {
	if len(ms) > 0 {
		f.mu.Lock()
		f.matches = append(f.matches, ms...)
		f.mu.Unlock()
	}
}

// containsAny reports whether any needle occurs in fl: in each stretch of
// data, and across the boundary of two stretches that touch. Holes are
// zeros, which no needle contains.
func containsAny(fl *extfs.File, needles [][]byte) (hit bool, err error) {
	maxLen := 0
	for _, n := range needles {
		maxLen = max(maxLen, len(n))
	}
	var tail []byte // the last maxLen-1 bytes before end
	end := int64(-1)
	in := func(b []byte) bool {
		for _, n := range needles {
			if bytes.Contains(b, n) {
				return true
			}
		}
		return false
	}
	if ferr := extfs.Guard(func() {
		err = fl.Views(func(off int64, b []byte) error {
			if off != end {
				tail = tail[:0]
			}
			if (len(tail) > 0 && in(append(tail, b[:min(len(b), maxLen-1)]...))) || in(b) {
				hit = true
				return errFound
			}
			tail = append(tail, b[max(0, len(b)-(maxLen-1)):]...)
			tail = tail[max(0, len(tail)-(maxLen-1)):]
			end = off + int64(len(b))
			return nil
		})
	}); ferr != nil {
		return false, ferr
	}
	if err == errFound {
		err = nil
	}
	return hit, err
}

var errFound = errors.New("found")

// span is a stretch of a file that holds data; the rest reads as zeros.
type span struct{ off, n int64 }

// scanStream is scan for a file too large to hold in memory, read through
// r in chunks of about chunk bytes: the same matches, the same line
// numbers and texts, the same binary verdict. Holes (outside spans) are
// zeros, which no needle contains (command-line strings cannot hold a
// NUL), so they are skipped, not read: a sparse file of terabytes costs
// only its data.
func scanStream(rel string, r io.ReaderAt, size int64, spans []span, needles [][]byte, chunk int) ([]Match, error) {
	maxLen := 0
	for _, n := range needles {
		maxLen = max(maxLen, len(n))
	}
	holeAt := func(from, to int64) bool { // a hole somewhere in [from, to)
		for _, s := range spans {
			if s.off > from {
				return true
			}
			from = max(from, s.off+s.n)
			if from >= to {
				return false
			}
		}
		return from < to
	}
	probe := min(size, binaryProbe)
	binary := holeAt(0, probe)
	if !binary {
		head := make([]byte, probe)
		if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
			return nil, err
		}
		binary = bytes.IndexByte(head, 0) >= 0
	}

	// Pass 1: every offset of every needle, as scan collects them.
	found := make([]int, len(needles))
	var offs []int64
	truncated := false
	buf := make([]byte, 0, chunk+maxLen)
	for _, s := range spans {
		carry := 0
		for pos := s.off; pos < s.off+s.n; {
			n := min(int64(chunk), s.off+s.n-pos)
			buf = buf[:carry+int(n)]
			if _, err := r.ReadAt(buf[carry:], pos); err != nil && err != io.EOF {
				return nil, err
			}
			base := pos - int64(carry) // file offset of buf[0]
			for i, nd := range needles {
				for p := 0; found[i] <= 16*MaxFileMatches; p++ {
					j := bytes.Index(buf[p:], nd)
					if j < 0 {
						break
					}
					p += j
					if p+len(nd) <= carry {
						continue // wholly in the carried bytes: found last round
					}
					if found[i] == 16*MaxFileMatches {
						truncated = true
						found[i]++
						break
					}
					found[i]++
					offs = append(offs, base+int64(p))
				}
			}
			carry = min(maxLen-1, len(buf))
			copy(buf, buf[len(buf)-carry:])
			pos += n
		}
	}
	if len(offs) == 0 {
		return nil, nil
	}
	slices.Sort(offs)
	if binary {
		return []Match{binaryMatch(rel, int(offs[0]))}, nil
	}

	// Pass 2: the line of each offset: start, end, number, and whether it
	// holds a NUL anywhere (a hole in it does).
	type lineOf struct {
		start, end, no int64
		nul            bool
	}
	lines := make([]lineOf, len(offs))
	var (
		next  int   // offs[next] is the first offset not yet reached
		open  []int // offsets on the current line, waiting for its end
		start int64 // where the current line starts
		no    int64 = 1
		nul   bool  // a NUL on the current line so far
	)
	reach := func(upto int64) { // the offsets before upto are on the current line
		for next < len(offs) && offs[next] < upto {
			lines[next] = lineOf{start: start, no: no}
			open = append(open, next)
			next++
		}
	}
	endLine := func(at int64) {
		for _, k := range open {
			lines[k].end, lines[k].nul = at, nul
		}
		open = open[:0]
	}
	step := func(data []byte, at int64) { // data is the file from at
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				nul = nul || bytes.IndexByte(data, 0) >= 0
				reach(at + int64(len(data)))
				return
			}
			nul = nul || bytes.IndexByte(data[:i], 0) >= 0
			reach(at + int64(i) + 1) // an offset at the newline is on this line
			endLine(at + int64(i))
			at += int64(i) + 1
			data = data[i+1:]
			start, no, nul = at, no+1, false
		}
	}
	done := func() bool { return next == len(offs) && len(open) == 0 }
	readBuf := make([]byte, chunk)
	pos := int64(0)
	for _, s := range append(slices.Clone(spans), span{size, 0}) {
		if done() {
			break
		}
		if s.off > pos { // a hole: zeros, no newline
			nul = true
			reach(s.off)
			pos = s.off
		}
		for pos < s.off+s.n && !done() {
			n := min(int64(chunk), s.off+s.n-pos)
			if _, err := r.ReadAt(readBuf[:n], pos); err != nil && err != io.EOF {
				return nil, err
			}
			step(readBuf[:n], pos)
			pos += n
		}
	}
	reach(size)
	endLine(size)

	// The loop of scan, on what pass 2 found.
	var out []Match
	lineEnd := int64(-1)
	for k, o := range offs {
		if o < lineEnd {
			continue
		}
		l := lines[k]
		lineEnd = l.end
		if l.nul {
			return []Match{binaryMatch(rel, int(offs[0]))}, nil
		}
		if len(out) == MaxFileMatches {
			return append(out, moreMatches(rel, int(l.no), int(o))), nil
		}
		text, err := lineTextAt(r, l.start, l.end, o-l.start)
		if err != nil {
			return nil, err
		}
		out = append(out, Match{Path: rel, Line: int(l.no), Text: text, Offset: o})
	}
	if truncated && len(out) > 0 {
		last := out[len(out)-1]
		out = append(out, moreMatches(rel, last.Line, int(last.Offset)))
	}
	return out, nil
}

// lineTextAt is lineText for the line [start, end) of r, reading only what
// is shown (and the CRs lineText trims).
func lineTextAt(r io.ReaderAt, start, end, at int64) (string, error) {
	if end-start <= 64<<10 {
		b := make([]byte, end-start)
		if _, err := r.ReadAt(b, start); err != nil && err != io.EOF {
			return "", err
		}
		return lineText(b, int(at)), nil
	}
	// Trim trailing CRs without reading the whole line.
	n := end - start
	tail := make([]byte, 4096)
	for n > 0 {
		k := min(n, int64(len(tail)))
		if _, err := r.ReadAt(tail[:k], start+n-k); err != nil && err != io.EOF {
			return "", err
		}
		t := bytes.TrimRight(tail[:k], "\r")
		n -= k - int64(len(t))
		if len(t) > 0 {
			break
		}
	}
	s, e := lineWindow(int(n), int(at))
	b := make([]byte, e-s)
	if _, err := r.ReadAt(b, start+int64(s)); err != nil && err != io.EOF {
		return "", err
	}
	return cutText(b, s > 0, int64(e) < n), nil
}
