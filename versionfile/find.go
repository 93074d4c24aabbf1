package versionfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/safego"
	"github.com/xsrescue/xsrescue/target"
)

// Match is one hit of Find. For a binary file there is one Match, with the
// byte offset of the first hit and no line.
type Match struct {
	Path   string `json:"path"`
	Line   int    `json:"line"` // 1-based; 0 for a binary match
	Text   string `json:"text"` // the matched line (valid UTF-8; a long line cut to MaxMatchText bytes around the match, "…" where cut)
	Binary bool   `json:"binary"`
	Offset int64  `json:"offset"` // byte offset of the match in the file
}

// MaxMatchText bounds the line text reported per match (without the
// "…" marks of a cut).
const MaxMatchText = 1024

// MaxFileMatches bounds the lines reported per file, so that a huge log
// that names the version on every line cannot exhaust memory.
const MaxFileMatches = 1000

// SkipTop are the top-level directories of a root that Find never enters:
// kernel views on a live system, device nodes on an offline one.
var SkipTop = []string{"proc", "sys", "dev"}

// FindStats counts what Find read.
type FindStats struct {
	Files    int64    `json:"files"`
	Bytes    int64    `json:"bytes"`
	Problems []string `json:"problems"` // unreadable files and directories, one line each
}

// FindOptions tune Find.
type FindOptions struct {
	Workers  int                      // 0: 2 × GOMAXPROCS
	Progress func(files, bytes int64) // called every 256 files, from the workers
}

// binaryProbe is how much of a file is checked for NUL bytes, like grep.
const binaryProbe = 8 << 10

// mmapThreshold: files above it are mapped instead of read.
const mmapThreshold = 4 << 20

// Find searches every regular file under root for any of the needles, in
// parallel. It never follows a symlink (directories are opened one
// component at a time, and entries that are links are skipped), skips
// SkipTop, and reports matches sorted by path and offset. A directory root
// is read through its os.Root; an image root (a --disk partition) in-process
// (findImage), with the same results.
func Find(ctx context.Context, root *target.Root, needles []string, opts FindOptions) ([]Match, FindStats, error) {
	if len(needles) == 0 {
		return nil, FindStats{}, errors.New("no search string")
	}
	nb := make([][]byte, 0, len(needles))
	for _, n := range needles {
		if n == "" {
			return nil, FindStats{}, errors.New("empty search string")
		}
		nb = append(nb, []byte(n))
	}
	w := opts.Workers
	if w <= 0 {
		w = 2 * runtime.GOMAXPROCS(0)
	}
	if x := root.Image(); x != nil {
		return findImage(ctx, x, nb, opts.Progress, w)
	}
	f := &finder{root: root, needles: nb, tally: tally{progress: opts.Progress}}
	bufs := make([][]byte, w)
	err := parallel(w, dirItem{rel: ".", fd: -1}, func(dir dirItem, worker int) []dirItem {
		var subdirs []dirItem
		subdirs, bufs[worker] = f.readDir(ctx, dir, bufs[worker])
		return subdirs
	})
	if err != nil {
		return nil, FindStats{}, err
	}
	return finish(ctx, f.matches, f.files.Load(), f.bytes.Load(), f.problems)
}

// parallel runs work, with n workers, on first and on every item work
// returns, last in first out (a depth-first walk keeps few directories
// open), until none is left and no worker is busy. worker numbers the
// calling worker (0 to n-1), for per-worker buffers. A panic in work ends
// the walk (the items left are dropped) and is returned as an error
// (safego.ErrPanic), never a crash of the process.
func parallel[T any](n int, first T, work func(item T, worker int) []T) error {
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		queue    = []T{first}
		pending  = 1 // queued + being worked on
		wg       sync.WaitGroup
		panicErr error
	)
	safeWork := func(item T, worker int) (more []T) {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				if panicErr == nil {
					panicErr = safego.Error(r)
				}
				mu.Unlock()
				more = nil
			}
		}()
		mu.Lock()
		stop := panicErr != nil
		mu.Unlock()
		if stop {
			return nil
		}
		return work(item, worker)
	}
	for worker := range n {
		wg.Go(func() {
			for {
				mu.Lock()
				for len(queue) == 0 && pending > 0 {
					cond.Wait()
				}
				if pending == 0 {
					mu.Unlock()
					return
				}
				item := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				mu.Unlock()

				more := safeWork(item, worker)

				mu.Lock()
				queue = append(queue, more...)
				pending += len(more) - 1
				if pending == 0 {
					cond.Broadcast() // done: release every waiting worker
				} else {
					for range min(len(more), n) {
						cond.Signal()
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return panicErr
}

// finish sorts what a search found: matches by path and offset, problems.
func finish(ctx context.Context, matches []Match, files, bytes int64, problems []string) ([]Match, FindStats, error) {
	st := FindStats{Files: files, Bytes: bytes, Problems: problems}
	slices.Sort(st.Problems)
	slices.SortFunc(matches, func(a, b Match) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return int(a.Offset - b.Offset)
	})
	return matches, st, ctx.Err()
}

type finder struct {
	root    *target.Root
	needles [][]byte
	tally

	mu       sync.Mutex // matches and problems
	matches  []Match
	problems []string

	heldFDs atomic.Int64 // directory fds waiting in the queue
}

// tally counts the files searched and their bytes, and reports progress.
type tally struct {
	progress     func(files, bytes int64)
	files, bytes atomic.Int64
}

func (t *tally) count(size int64) {
	n := t.files.Add(1)
	b := t.bytes.Add(size)
	if t.progress != nil && n%256 == 0 {
		t.progress(n, b)
	}
}

// dirItem is a directory to read: already open (fd >= 0, opened relative
// to its parent) or, beyond maxHeldDirs, by path through the os.Root.
type dirItem struct {
	rel string
	fd  int
}

// maxHeldDirs bounds the directory fds kept open in the queue; a wider
// tree falls back to opening by path (a few more syscalls per directory).
const maxHeldDirs = 1024

func (f *finder) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// readDir searches the regular files of dir and returns its
// subdirectories. Once cancelled it only releases dir.
func (f *finder) readDir(ctx context.Context, dir dirItem, buf []byte) ([]dirItem, []byte) {
	var df *os.File
	if dir.fd >= 0 {
		f.heldFDs.Add(-1)
		df = os.NewFile(uintptr(dir.fd), dir.rel)
	} else if ctx.Err() == nil {
		var err error
		if df, err = f.root.OpenDir(dir.rel); err != nil {
			f.problem("%s: %v", dir.rel, err)
			return nil, buf
		}
	}
	if df == nil {
		return nil, buf
	}
	defer df.Close()
	if ctx.Err() != nil {
		return nil, buf
	}
	entries, err := df.ReadDir(-1)
	if err != nil {
		f.problem("%s: %v", dir.rel, err)
	}
	dirfd := int(df.Fd())
	var subdirs []dirItem
	for _, e := range entries {
		name := e.Name()
		rel := name
		if dir.rel != "." {
			rel = dir.rel + "/" + name
		}
		switch t := e.Type(); {
		case t.IsDir():
			if dir.rel == "." && slices.Contains(SkipTop, name) {
				continue
			}
			if sub, ok := f.openSubdir(dirfd, name, rel); ok {
				subdirs = append(subdirs, sub)
			}
		case t.IsRegular():
			buf = f.searchFile(dirfd, name, rel, buf)
		}
	}
	return subdirs, buf
}

// openSubdir opens a subdirectory relative to its parent — one component,
// never through a symlink, so it stays inside the root — while few are
// held; otherwise it is queued by path. A directory replaced by a symlink
// since getdents is skipped.
func (f *finder) openSubdir(dirfd int, name, rel string) (dirItem, bool) {
	if f.heldFDs.Load() >= maxHeldDirs {
		return dirItem{rel: rel, fd: -1}, true
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		f.problem("%s: %v", rel, err)
		return dirItem{}, false
	}
	f.heldFDs.Add(1)
	return dirItem{rel: rel, fd: fd}, true
}

// searchFile opens name, one component from getdents, relative to a
// directory opened through the os.Root, without following a symlink: it
// cannot leave the root. Raw syscalls skip what os.File adds per open (a
// poller registration, a stat), a third of the system time on small files.
func (f *finder) searchFile(dirfd int, name, rel string, buf []byte) []byte {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		f.problem("%s: %v", rel, err)
		return buf
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return buf // replaced by something else since getdents
	}
	size := st.Size
	f.count(size)
	if size == 0 {
		return buf
	}
	if size > mmapThreshold {
		m, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			f.problem("%s: mmap: %v", rel, err)
			return buf
		}
		defer unix.Munmap(m)
		ms, err := scanMapped(rel, m, f.needles)
		if err != nil {
			f.problem("%s: %v", rel, err)
		}
		f.add(ms)
		return buf
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	got, err := readFull(fd, buf[:size])
	if err != nil {
		f.problem("%s: %v", rel, err)
		return buf
	}
	f.add(scan(rel, buf[:got], f.needles))
	return buf
}

// readFull reads until b is full or the file ends (it may have shrunk).
func readFull(fd int, b []byte) (int, error) {
	got := 0
	for got < len(b) {
		n, err := unix.Read(fd, b[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return got, err
		}
		if n == 0 {
			break
		}
		got += n
	}
	return got, nil
}

func (f *finder) add(ms []Match) {
	if len(ms) > 0 {
		f.mu.Lock()
		f.matches = append(f.matches, ms...)
		f.mu.Unlock()
	}
}

// scanMapped scans a mapped file. A file truncated while mapped (a live
// log on a mounted root) raises SIGBUS on access; that becomes an error
// for this file instead of a crash.
func scanMapped(rel string, data []byte, needles [][]byte) (ms []Match, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			ms, err = nil, fmt.Errorf("file shrank while being read: %v", r)
		}
	}()
	return scan(rel, data, needles), nil
}

// scan returns the matches of needles in data, one per matching line, or
// one "binary match" for a file with NUL bytes in its first 8 KiB or in a
// matching line.
func scan(rel string, data []byte, needles [][]byte) []Match {
	var offs []int
	truncated := false
	for _, n := range needles {
		// Offsets beyond this cap could only add lines past MaxFileMatches
		// (unless one line holds thousands of hits), and would cost memory.
		found := 0
		for pos := 0; ; found++ {
			i := bytes.Index(data[pos:], n)
			if i < 0 {
				break
			}
			if found == 16*MaxFileMatches {
				truncated = true
				break
			}
			offs = append(offs, pos+i)
			pos += i + 1
		}
	}
	if len(offs) == 0 {
		return nil
	}
	slices.Sort(offs)
	if bytes.IndexByte(data[:min(len(data), binaryProbe)], 0) >= 0 {
		return []Match{binaryMatch(rel, offs[0])}
	}
	var out []Match
	line, counted := 1, 0 // line number of data[counted:]
	lineEnd := -1
	for _, o := range offs {
		if o < lineEnd {
			continue // same line as the previous match
		}
		start := bytes.LastIndexByte(data[:o], '\n') + 1
		line += bytes.Count(data[counted:start], []byte{'\n'})
		counted = start
		end := bytes.IndexByte(data[o:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += o
		}
		lineEnd = end
		text := data[start:end]
		if bytes.IndexByte(text, 0) >= 0 {
			return []Match{binaryMatch(rel, offs[0])}
		}
		if len(out) == MaxFileMatches {
			return append(out, moreMatches(rel, line, o))
		}
		out = append(out, Match{Path: rel, Line: line, Text: lineText(text, o-start), Offset: int64(o)})
	}
	if truncated && len(out) > 0 {
		last := out[len(out)-1]
		out = append(out, moreMatches(rel, last.Line, int(last.Offset)))
	}
	return out
}

func moreMatches(rel string, line, off int) Match {
	return Match{Path: rel, Line: line, Text: fmt.Sprintf("… more than %d matching lines; the rest are not listed", MaxFileMatches), Offset: int64(off)}
}

func binaryMatch(rel string, off int) Match {
	return Match{Path: rel, Binary: true, Text: fmt.Sprintf("binary match at offset %d", off), Offset: int64(off)}
}

// lineText is the line b, or for a line longer than MaxMatchText the
// MaxMatchText bytes around the match at b[at:], marked "…" where cut: the
// start of a 3 MB line says nothing about a match at its end.
func lineText(b []byte, at int) string {
	b = bytes.TrimRight(b, "\r")
	start, end := lineWindow(len(b), at)
	return cutText(b[start:end], start > 0, end < len(b))
}

// lineWindow is the part [start, end) of a line of n bytes (trailing CRs
// trimmed) that lineText shows for a match at at.
func lineWindow(n, at int) (start, end int) {
	if n <= MaxMatchText {
		return 0, n
	}
	start = max(0, at-MaxMatchText/4)
	end = min(n, start+MaxMatchText)
	return end - MaxMatchText, end
}

// cutText is the shown text, "…" where the line goes on.
func cutText(b []byte, head, tail bool) string {
	// A rune cut in half becomes U+FFFD.
	text := strings.ToValidUTF8(string(b), "\uFFFD")
	if head {
		text = "…" + text
	}
	if tail {
		text += "…"
	}
	return text
}

// MatchPaths lists each matching file once, in order.
func MatchPaths(ms []Match) []string {
	var out []string
	for _, m := range ms {
		if len(out) == 0 || out[len(out)-1] != m.Path {
			out = append(out, m.Path)
		}
	}
	return out
}
