package versionfile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/xsrescue/xsrescue/internal/safego"
	"github.com/xsrescue/xsrescue/target"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	bin := "\x7fELF\x00\x00" + strings.Repeat("x", 100) + "build 15119p here"
	writeTree(t, root, map[string]string{
		"etc/redhat-release":        "XenServer release 5.5.0-15119p (xenenterprise)\n",
		"etc/issue":                 "Citrix XenServer Host 5.5.0-15119p\nline two 15119p and 15119p again\n\n",
		"etc/xensource-inventory":   "PRODUCT_VERSION='5.5.0'\nBUILD_NUMBER='15119p'",
		"opt/xensource/bin/xapi":    bin,
		"usr/share/doc/a/b/c/NEWS":  "nothing here\n",
		"var/log/messages":          "a\r\nxapi 15119p started\r\n",
		"proc/version":              "15119p",
		"sys/kernel/x":              "15119p",
		"dev/fake":                  "15119p",
		"var/dev/kept":              "15119p only top-level dev is skipped",
		"etc/other":                 "GEORGE build\n",
		"usr/lib/big":               strings.Repeat("filler line\n", 500000) + "late 15119p\n",
		"home/latin1":               "caf\xe9 15119p\n",
		"home/crlf-and-long-line":   strings.Repeat("y", 3000) + "15119p\n",
		"home/empty":                "",
		"home/needle-at-start-EOF":  "15119p",
		"home/two-needles-one-line": "GEORGE 15119p\n",
	})
	writeTree(t, outside, map[string]string{"secret": "15119p outside the root\n"})
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "etc/link-to-outside")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "outside-dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../etc", filepath.Join(root, "home/etc-link")); err != nil {
		t.Fatal(err)
	}
	for _, r := range findRoots(t, root) {
		testFind(t, r)
	}
}

// findRoots is root as a directory and, when mke2fs is installed, as an
// ext3 image read in-process: Find must give the same answer on both.
func findRoots(t testing.TB, root string) []*target.Root {
	t.Helper()
	r, err := target.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	roots := []*target.Root{r}
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Log("mke2fs not installed: the image root is not searched")
		return roots
	}
	img := filepath.Join(t.TempDir(), "root.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext3", "-b", "1024", "-d", root, img, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	ir, err := target.OpenImage(img, 0, 64<<20, "root.img")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ir.Close() })
	return append(roots, ir)
}

func testFind(t *testing.T, r *target.Root) {
	for _, workers := range []int{1, 0} {
		ms, st, err := Find(context.Background(), r, []string{"15119p", "GEORGE"}, FindOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		type hit struct {
			Path   string
			Line   int
			Text   string
			Binary bool
		}
		var got []hit
		for _, m := range ms {
			text := m.Text
			if len(text) > 60 {
				text = text[:10] + "…" + text[len(text)-10:]
			}
			got = append(got, hit{m.Path, m.Line, text, m.Binary})
		}
		want := []hit{
			{"etc/issue", 1, "Citrix XenServer Host 5.5.0-15119p", false},
			{"etc/issue", 2, "line two 15119p and 15119p again", false},
			{"etc/other", 1, "GEORGE build", false},
			{"etc/redhat-release", 1, "XenServer release 5.5.0-15119p (xenenterprise)", false},
			{"etc/xensource-inventory", 2, "BUILD_NUMBER='15119p'", false},
			{"home/crlf-and-long-line", 1, "…yyyyyyy…yyyy15119p", false},
			{"home/latin1", 1, "caf\uFFFD 15119p", false},
			{"home/needle-at-start-EOF", 1, "15119p", false},
			{"home/two-needles-one-line", 1, "GEORGE 15119p", false},
			{"opt/xensource/bin/xapi", 0, "binary match at offset 112", true},
			{"usr/lib/big", 500001, "late 15119p", false},
			{"var/dev/kept", 1, "15119p only top-level dev is skipped", false},
			{"var/log/messages", 2, "xapi 15119p started", false},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s workers=%d matches:\n%s", r.Name(), workers, diff)
		}
		if ms[9].Offset != 112 {
			t.Errorf("binary offset %d", ms[9].Offset)
		}
		if st.Files != 14 || len(st.Problems) != 0 {
			t.Errorf("%s: stats %+v", r.Name(), st)
		}
		if got := MatchPaths(ms); len(got) != 12 {
			t.Errorf("MatchPaths: %v", got)
		}
	}
	if _, _, err := Find(context.Background(), r, nil, FindOptions{}); err == nil {
		t.Error("no needles accepted")
	}
	if _, _, err := Find(context.Background(), r, []string{""}, FindOptions{}); err == nil {
		t.Error("empty needle accepted")
	}
}

func TestFindCancelled(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/b": "x"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range findRoots(t, root) {
		if _, _, err := Find(ctx, r, []string{"x"}, FindOptions{}); err == nil {
			t.Fatalf("%s: cancelled search reported success", r.Name())
		}
	}
}

func BenchmarkFind(b *testing.B) {
	root := b.TempDir()
	files := map[string]string{}
	text := strings.Repeat("the quick brown fox jumps over the lazy dog 1234567890\n", 200)
	for i := range 2000 {
		files[filepath.Join("d"+string(rune('a'+i%26)), "sub", "f"+strings.Repeat("x", i%7)+string(rune('a'+i/26%26))+string(rune('a'+i%26)))] = text
	}
	files["etc/issue"] = "XenServer 15119p\n"
	for name, data := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	r, err := target.OpenRoot(root)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ResetTimer()
	for b.Loop() {
		ms, st, err := Find(context.Background(), r, []string{"15119p"}, FindOptions{})
		if err != nil || len(ms) != 1 {
			b.Fatal(err, ms)
		}
		b.SetBytes(st.Bytes)
	}
}

// FuzzScan: the matcher never panics, reports offsets that hold a needle,
// and line numbers that count the newlines before them.
func FuzzScan(f *testing.F) {
	f.Add([]byte("a\n15119p\n"), "15119p")
	f.Add([]byte("\x00\x0015119p"), "15119p")
	f.Add([]byte("15119p15119p\r\n\n15119p"), "15119p")
	f.Add([]byte("xx"), "xxx")
	f.Fuzz(func(t *testing.T, data []byte, needle string) {
		if needle == "" {
			return
		}
		for _, m := range scan("f", data, [][]byte{[]byte(needle)}) {
			if !bytes.HasPrefix(data[m.Offset:], []byte(needle)) {
				t.Fatalf("offset %d holds no needle", m.Offset)
			}
			if !m.Binary && m.Line != bytes.Count(data[:m.Offset], []byte("\n"))+1 {
				t.Fatalf("line %d for offset %d", m.Line, m.Offset)
			}
			plain := utf8.ValidString(needle) && !strings.ContainsAny(needle, "\r\n") && len(needle) <= MaxMatchText/2
			if !m.Binary && plain && !strings.HasPrefix(m.Text, "… more than") && !strings.Contains(m.Text, needle) {
				t.Fatalf("text %q does not show the match", m.Text)
			}
		}
	})
}

// TestScanMappedShrunk: a mapped file truncated under the scan (a live log)
// raises SIGBUS; that is an error for the file, not a crash.
func TestScanMappedShrunk(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 1<<20, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := scanMapped("log", m, [][]byte{[]byte("15119p")}); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("scanMapped on a truncated mapping: %v", err)
	}
}

func TestScanManyMatches(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("build 15119p\n"), MaxFileMatches+50)
	ms := scan("log", data, [][]byte{[]byte("15119p")})
	if len(ms) != MaxFileMatches+1 || ms[MaxFileMatches-1].Line != MaxFileMatches || !strings.Contains(ms[MaxFileMatches].Text, "more than 1000") {
		t.Fatalf("%d matches, last %+v", len(ms), ms[len(ms)-1])
	}
}

// TestMatchWindow: for a line longer than MaxMatchText, text is the part
// around the match, not the start of the line (acceptance report #20).
func TestMatchWindow(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("z", n) }
	cases := []struct {
		name, line   string
		prefix, tail bool // "…" expected before/after
	}{
		{"short", "a 15119p b", false, false},
		{"exactly the cap", "15119p" + long(MaxMatchText-6), false, false},
		{"at the start", "15119p" + long(3_000_000), false, true},
		{"in the middle", long(1_500_000) + "15119p" + long(1_500_000), true, true},
		{"at the end", long(3_000_000) + "15119p", true, false},
		{"just after the cap", long(MaxMatchText) + "15119p", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte("first line\n" + c.line + "\nlast\n")
			ms := scan("f", data, [][]byte{[]byte("15119p")})
			if len(ms) != 1 {
				t.Fatalf("%d matches", len(ms))
			}
			text := ms[0].Text
			body := strings.TrimSuffix(strings.TrimPrefix(text, "…"), "…")
			if !strings.Contains(text, "15119p") || len(body) > MaxMatchText ||
				strings.HasPrefix(text, "…") != c.prefix || strings.HasSuffix(text, "…") != c.tail {
				t.Fatalf("text %.40q…%q (%d bytes)", text, text[max(0, len(text)-40):], len(text))
			}
			if !strings.Contains(c.line, body) {
				t.Fatal("text is not a part of the line")
			}
			if ms[0].Line != 2 || ms[0].Offset != int64(len("first line\n")+strings.Index(c.line, "15119p")) {
				t.Fatalf("line %d offset %d", ms[0].Line, ms[0].Offset)
			}
		})
	}
}

// FuzzScanStream: the streaming scan of large image files gives exactly
// what scan gives on the whole content, whatever the chunk size, with the
// zero stretches of the data declared as holes (not read) or as data.
func FuzzScanStream(f *testing.F) {
	f.Add([]byte("a\n15119p\n"), "15119p", "GEORGE", uint8(3), false)
	f.Add([]byte("\x00\x0015119p"), "15119p", "15", uint8(1), true)
	f.Add([]byte("15119p15119p\r\n\n15119p"), "15119p", "\n", uint8(5), false)
	f.Add([]byte("x\x00\x00\x00\x00\x00y 15119p\n\x00\x00\x00\x00\n15119p\r\r\r"), "15119p", "y", uint8(2), true)
	f.Add([]byte(strings.Repeat("z", 3000)+"15119p"+strings.Repeat("\r", 9)+"\n"), "15119p", "zz", uint8(7), false)
	f.Fuzz(func(t *testing.T, data []byte, n1, n2 string, chunk uint8, holes bool) {
		var needles [][]byte
		for _, n := range []string{n1, n2} {
			if n != "" && !strings.Contains(n, "\x00") {
				needles = append(needles, []byte(n))
			}
		}
		if len(needles) == 0 {
			return
		}
		spans := []span{{0, int64(len(data))}}
		if holes {
			spans = nil
			for i := 0; i < len(data); {
				if data[i] == 0 {
					i++
					continue
				}
				j := i
				for j < len(data) && data[j] != 0 {
					j++
				}
				spans = append(spans, span{int64(i), int64(j - i)})
				i = j
			}
		}
		want := scan("f", data, needles)
		got, err := scanStream("f", bytes.NewReader(data), int64(len(data)), spans, needles, int(chunk)%64+1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("scanStream differs from scan (-scan +stream):\n%s", diff)
		}
	})
}

// TestFindImageLargeFiles: files past wholeFileMax are streamed with the
// same answers as on a mounted tree: a long line, many matches, a sparse
// file with data beyond a hole, and a binary one.
func TestFindImageLargeFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	big := strings.Repeat("filler line\n", 1_000_000) // 12 MB
	writeTree(t, root, map[string]string{
		"big/late":     big + "late 15119p\n",
		"big/many":     strings.Repeat("15119p build\n", 900_000),
		"big/longline": strings.Repeat("y", 10<<20) + "15119p" + strings.Repeat("\r", 5) + "\nnext",
		"big/binary":   "\x00" + big + "15119p",
	})
	f, err := os.Create(filepath.Join(root, "big/sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("head 15119p\n"), 0)
	f.WriteAt([]byte("\ntail 15119p\n"), 40<<20)
	f.Close()
	roots := findRoots(t, root)
	if len(roots) < 2 {
		t.Skip("no image to compare with")
	}
	var results [2][]Match
	for i, r := range roots {
		ms, st, err := Find(context.Background(), r, []string{"15119p"}, FindOptions{})
		if err != nil || len(st.Problems) != 0 {
			t.Fatalf("%s: %v %v", r.Name(), err, st.Problems)
		}
		results[i] = ms
	}
	if diff := cmp.Diff(results[0], results[1]); diff != "" {
		t.Fatalf("image differs from directory (-dir +image):\n%s", diff)
	}
	if len(results[1]) < 5 {
		t.Fatalf("only %d matches", len(results[1]))
	}
}

// TestParallelPanic: a panic in a worker (the search of one file or
// directory) ends the walk with an error of the command, not a Go stack:
// the other workers finish, nothing hangs.
func TestParallelPanic(t *testing.T) {
	var done atomic.Int64
	err := parallel(4, 0, func(n, _ int) []int {
		done.Add(1)
		if n == 37 {
			var m map[int]int
			m[n] = n // the runtime panics: assignment to entry in nil map
		}
		if n >= 100 {
			return nil
		}
		return []int{2*n + 1, 2*n + 2}
	})
	if !errors.Is(err, safego.ErrPanic) || !strings.Contains(err.Error(), "internal error: assignment to entry in nil map (a bug in xsrescue") {
		t.Errorf("parallel = %v after %d items", err, done.Load())
	}
	if err := parallel(4, 0, func(n, _ int) []int { return nil }); err != nil {
		t.Errorf("parallel without a panic = %v", err)
	}
}
