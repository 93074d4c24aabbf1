package odm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The public samples (testdata/samples, sources in its README) must
// round-trip byte for byte.
func TestRoundTripSamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/samples/*.odmget")
	if err != nil || len(files) != 6 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			st, err := ReadAll(bytes.NewReader(in), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) == 0 {
				t.Fatal("no stanzas")
			}
			if out := Format(st); !bytes.Equal(out, in) {
				t.Errorf("round trip differs:\n%s", cmp.Diff(string(in), string(out)))
			}
		})
	}
}

func TestReadOdmaddForms(t *testing.T) {
	t.Parallel()
	type kv = [2]string
	tests := []struct {
		name string
		in   string
		want [][]kv // per stanza: class first, then name/value pairs
	}{
		{"odmget", "\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"19\"\n", [][]kv{{{"CuDvDr", ""}, {"resource", "devno"}, {"value1", "19"}}}},
		{"no leading blank, spaces, CRLF", "CuDv:\r\n  name=\"hdisk0\"\r\nstatus   =   1   \r\n", [][]kv{{{"CuDv", ""}, {"name", "hdisk0"}, {"status", "1"}}}},
		{"comments", "* banner\n# another\nCuDvDr: # header comment\n\tresource = \"ddins\" # inline\n* mid-stanza\n\tvalue1 = sysram * star\n", [][]kv{{{"CuDvDr", ""}, {"resource", "ddins"}, {"value1", "sysram"}}}},
		{"comment chars inside quotes", "A:\n\tv = \"a#b*c\"\n", [][]kv{{{"A", ""}, {"v", "a#b*c"}}}},
		{"escapes", "A:\n\tv = \"q\\\"b\\\\s\\tt\\nn\\x\"\n", [][]kv{{{"A", ""}, {"v", "q\"b\\s\tt\nnx"}}}},
		{"odmget newline form", "A:\n\tv = \"line1\\n\\\nline2\"\n", [][]kv{{{"A", ""}, {"v", "line1\nline2"}}}},
		{"quoted over lines", "A:\n\tv = \"one\ntwo\"\n\tw = 1\n", [][]kv{{{"A", ""}, {"v", "one\ntwo"}, {"w", "1"}}}},
		{"continuation outside quotes", "A:\n\tv = abc\\\ndef\n", [][]kv{{{"A", ""}, {"v", "abcdef"}}}},
		{"repeated descriptor, last wins", "A:\n\tv = \"1\"\n\tw = \"x\"\n\tv = \"2\"\n", [][]kv{{{"A", ""}, {"v", "2"}, {"w", "x"}}}},
		{"header ends stanza", "A:\n\tv = 1\nB:\n\tw = 2\n", [][]kv{{{"A", ""}, {"v", "1"}}, {{"B", ""}, {"w", "2"}}}},
		{"mixed quoting", "A:\n\tv = \"ab\"cd  \n", [][]kv{{{"A", ""}, {"v", "abcd"}}}},
		{"empty and unknown", "\n\n\nA:\n\tv =\n\tinst = \"x\"\n\n\n", [][]kv{{{"A", ""}, {"v", ""}, {"inst", "x"}}}},
		{"empty stanza", "A:\n\nB:\n\tv = 1\n", [][]kv{{{"A", ""}}, {{"B", ""}, {"v", "1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ReadAll(strings.NewReader(tt.in), "in")
			if err != nil {
				t.Fatal(err)
			}
			var got [][]kv
			for _, s := range st {
				g := []kv{{s.Class, ""}}
				for _, f := range s.Fields {
					g = append(g, kv{f.Name, f.Value})
				}
				got = append(got, g)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Error(d)
			}
			// Whatever was read writes out in a form that reads back the same.
			again, err := ReadAll(bytes.NewReader(Format(st)), "again")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(values(st), values(again)); d != "" {
				t.Errorf("write/read changed values: %s", d)
			}
		})
	}
}

func values(st []Stanza) [][]string {
	var out [][]string
	for _, s := range st {
		v := []string{s.Class}
		for _, f := range s.Fields {
			v = append(v, f.Name, f.Value)
		}
		out = append(out, v)
	}
	return out
}

func TestWriteLayout(t *testing.T) {
	t.Parallel()
	st := []Stanza{{Class: "CuAt", Fields: []Field{
		{Name: "name", Value: "hd4", Quoted: true},
		{Name: "value", Value: "a \"q\" b\\c\nd", Quoted: true},
		{Name: "nls_index", Value: "-3"},
		{Name: "odd", Value: "has space"},
		{Name: "empty", Value: ""},
	}}, {Class: "CuDep"}}
	want := "\nCuAt:\n\tname = \"hd4\"\n\tvalue = \"a \\\"q\\\" b\\\\c\\n\\\nd\"\n\tnls_index = -3\n\todd = \"has space\"\n\tempty = \"\"\n\nCuDep:\n"
	if got := string(Format(st)); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"unbalanced quote", "\nCuDvDr:\n\tresource = \"devno\n\tvalue1 = \"19\"\n", "CuDvDr.add line 3: unbalanced quote in the value of resource"},
		{"descriptor before header", "\tresource = \"devno\"\n", "CuDvDr.add line 1: descriptor resource before a class header"},
		{"descriptor after blank line", "A:\n\tv = 1\n\n\tw = 2\n", "CuDvDr.add line 4: descriptor w before a class header"},
		{"NUL byte", "A:\n\tv = \"a\x00b\"\n", "CuDvDr.add line 2: NUL byte at column 8"},
		{"garbage line", "A:\n\tjust words\n", "CuDvDr.add line 2: expected a class header"},
		{"bad class", "Cu Dv:\n", "CuDvDr.add line 1: bad class name"},
		{"text after header", "CuDv: x\n", "CuDvDr.add line 1: unexpected \"x\" after class header"},
		{"bad descriptor name", "A:\n\tva-lue = 1\n", "CuDvDr.add line 2: bad descriptor name"},
		{"10 MB value on one line", "A:\n\tv = \"" + strings.Repeat("x", 10<<20) + "\"\n", "CuDvDr.add line 2: line longer than 1048576 bytes"},
		{"10 MB value over lines", "A:\n\tv = \"" + strings.Repeat(strings.Repeat("x", 999)+"\n", 10<<10) + "\"\n", "CuDvDr.add line 2: value of v longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadAll(strings.NewReader(tt.in), "CuDvDr.add")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("%v does not wrap ErrSyntax", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestParseNumber(t *testing.T) {
	t.Parallel()
	for _, ok := range []struct {
		in   string
		want int
	}{{"0", 0}, {"43", 43}, {"143", 143}, {"4294967295", 4294967295}} {
		if n, err := ParseNumber(ok.in); err != nil || n != ok.want {
			t.Errorf("ParseNumber(%q) = %d, %v", ok.in, n, err)
		}
	}
	for _, bad := range []string{"", "010", "00", "0x2b", " 43", "43 ", "+43", "-1", "4294967296", "99999999999", "4e1", "４３"} {
		if _, err := ParseNumber(bad); !errors.Is(err, ErrNumber) {
			t.Errorf("ParseNumber(%q): %v, want ErrNumber", bad, err)
		}
	}
}

// FuzzParseStanzas: the reader never panics; whatever it accepts, the
// writer prints in a form that reads back to the same values and prints
// again byte-identically.
func FuzzParseStanzas(f *testing.F) {
	for _, s := range []string{
		"\nCuDvDr:\n\tresource = \"devno\"\n\tvalue1 = \"19\"\n\tvalue2 = \"8\"\n\tvalue3 = \"hdisk0\"\n",
		"* c\nA:\n\tv = \"x\\n\\\ny\" # c\n\tw = 1\n\n",
		"A:\n\tv = \"unbalanced\n",
		"\tv = 1\n",
		"A:\n\tv = \"a\x00\"\n",
		"A:\n\tv = a\\\n",
		"A:\n\tv = \"\\",
		"A:\nB:\n\tv=\"\"\"\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := ReadAll(bytes.NewReader(in), "fuzz")
		if classes, serr := skipAll(in); (serr == nil) != (err == nil) || (err != nil && serr.Error() != err.Error()) {
			t.Fatalf("Skip disagrees with Next: %v vs %v", serr, err)
		} else if err == nil && len(classes) != len(st) {
			t.Fatalf("Skip read %d stanzas, Next %d", len(classes), len(st))
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error without ErrSyntax: %v", err)
			}
			return
		}
		out := Format(st)
		again, err := ReadAll(bytes.NewReader(out), "out")
		if err != nil {
			t.Fatalf("written form does not read back: %v\n%q", err, out)
		}
		if d := cmp.Diff(values(st), values(again)); d != "" {
			t.Fatalf("values changed: %s\n%q", d, out)
		}
		if out2 := Format(again); !bytes.Equal(out, out2) {
			t.Fatalf("second write differs:\n%q\n%q", out, out2)
		}
	})
}

// Blanks at the end of a physical line inside an open quote are value.
func TestQuotedTrailingBlanks(t *testing.T) {
	t.Parallel()
	st, err := ReadAll(strings.NewReader("A:\n\tv = \"one   \ntwo\"  \n"), "in")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := st[0].Get("v"); v != "one   \ntwo" {
		t.Errorf("got %q", v)
	}
}

func skipAll(in []byte) ([]string, error) {
	rd := NewReader(bytes.NewReader(in), "fuzz")
	var out []string
	for {
		c, err := rd.Skip()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
