package shquote

import (
	"bytes"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"xsrescue", "xsrescue"},
		{"/dev/sda", "/dev/sda"},
		{"--partition=3", "--partition=3"},
		{"a,b:c@d+e", "a,b:c@d+e"},
		{"", "''"},
		{"two words", "'two words'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$HOME", "'$HOME'"},
		{"*", "'*'"},
		{"~root", "'~root'"},
		{"#x", "'#x'"},
		{"a\nb", "'a\nb'"},
		{"\xff\x01", "'\xff\x01'"},
		{"é", "'é'"},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := Join([]string{"xsrescue", "journal", "undo", "2", "--root", "/mnt/it's here"}),
		`xsrescue journal undo 2 --root '/mnt/it'\''s here'`; got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
	if got := Join(nil); got != "" {
		t.Errorf("Join(nil) = %q", got)
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   []string
		strict bool // Split accepts it (else only Fields does)
	}{
		{"xsrescue journal undo 1 --disk /dev/sda --partition 1", []string{"xsrescue", "journal", "undo", "1", "--disk", "/dev/sda", "--partition", "1"}, true},
		{`xsrescue journal undo 2 --root '/mnt/it'\''s here'`, []string{"xsrescue", "journal", "undo", "2", "--root", "/mnt/it's here"}, true},
		{"", nil, true},
		{"  a  ''  b ", []string{"a", "", "b"}, true},
		{"\ta\tb\t", []string{"a", "b"}, true},
		{`a\ b c`, []string{"a b", "c"}, true},
		{`'a'b'c'`, []string{"abc"}, true},
		{"'a;b|c$d'", []string{"a;b|c$d"}, true},
		{"'\xff\n'", []string{"\xff\n"}, true},
		{"% ! ^ ] =", []string{"%", "!", "^", "]", "="}, true},
		// More than a plain command: Split refuses, Fields reads literally.
		{"a | b", []string{"a", "|", "b"}, false},
		{"a; b", []string{"a;", "b"}, false},
		{`"$(losetup -f)"`, []string{`"$(losetup`, `-f)"`}, false},
		{"a*", []string{"a*"}, false},
		{"~/x", []string{"~/x"}, false},
		{"a #b", []string{"a", "#b"}, false},
		{"a\nb", []string{"a\nb"}, false},
		{"a 'b", []string{"a", "b"}, false},
		{`a\`, []string{"a"}, false},
		{"a\\\nb", []string{"a\nb"}, false},
		{"a\x00", []string{"a\x00"}, false},
	} {
		if diff := cmp.Diff(tc.want, Fields(tc.in)); diff != "" {
			t.Errorf("Fields(%q) (-want +got):\n%s", tc.in, diff)
		}
		got, err := Split(tc.in)
		switch {
		case tc.strict && err != nil:
			t.Errorf("Split(%q): %v", tc.in, err)
		case tc.strict:
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Split(%q) (-want +got):\n%s", tc.in, diff)
			}
			if sh := shellWords(t, tc.in); !slices.Equal(sh, tc.want) {
				t.Errorf("sh reads %q as %q, not %q", tc.in, sh, tc.want)
			}
		case !errors.Is(err, ErrSyntax) || got != nil:
			t.Errorf("Split(%q) = %q, %v; want ErrSyntax", tc.in, got, err)
		}
	}
	if _, err := Split("a 'b"); err == nil || !strings.Contains(err.Error(), "offset 2: quote never closed") {
		t.Errorf("unclosed quote: %v", err)
	}
}

// shellWords is what a real POSIX shell makes of line as the arguments of
// a command.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `printf '%s\0' x `+line)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v: %s", line, err, stderr.Bytes())
	}
	words := strings.Split(string(out), "\x00")
	return words[1 : len(words)-1] // the marker x, the last NUL
}

// argvOf is a fuzz input as argv: NUL, which no argv word can hold,
// separates the words.
func argvOf(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// FuzzRoundTrip: the shell reads Join(argv) back as argv, and so do Split
// and Fields.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "xsrescue\x00journal\x00undo\x007", "it's\x00\x00a b", "\xff\x01\n\t\r", "$(id)\x00`id`\x00*\x00~\x00#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv := argvOf(s)
		line := Join(argv)
		if got := shellWords(t, line); !slices.Equal(got, argv) {
			t.Fatalf("sh read %q as %q, want %q", line, got, argv)
		}
		got, err := Split(line)
		if err != nil || !slices.Equal(got, argv) {
			t.Fatalf("Split(%q) = %q, %v; want %q", line, got, err, argv)
		}
		if got := Fields(line); !slices.Equal(got, argv) {
			t.Fatalf("Fields(%q) = %q; want %q", line, got, argv)
		}
	})
}

// FuzzSplit: a line Split accepts is the words a real shell reads; Fields
// never fails.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"a b", `a\ b 'c'\''d'`, "a | b", "'unclosed", `tail\`, "$(x)", "\xff'\x01'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		Fields(line)
		words, err := Split(line)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Split(%q): %v, not ErrSyntax", line, err)
			}
			return
		}
		if got := shellWords(t, line); !slices.Equal(got, words) {
			t.Fatalf("Split(%q) = %q; sh reads %q", line, words, got)
		}
	})
}
