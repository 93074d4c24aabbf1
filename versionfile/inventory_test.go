package versionfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xsrescue/xsrescue/partition"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestInventoryRoundTrip: parsing and writing back without changes gives the
// same bytes; setting two keys changes exactly those lines (golden files).
func TestInventoryRoundTrip(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/roundtrip/*.inventory")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inventories in testdata/roundtrip: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := ParseInventory(bytes.NewReader(in), f)
			if err != nil {
				t.Fatal(err)
			}
			if got := inv.Bytes(); !bytes.Equal(got, in) {
				t.Fatalf("round trip differs:\n%s", cmp.Diff(string(in), string(got)))
			}
			for _, kv := range [][2]string{{"PRODUCT_VERSION", "5.0.0"}, {"BUILD_NUMBER", "10918p"}} {
				if err := inv.Set(kv[0], kv[1]); err != nil {
					t.Fatal(err)
				}
			}
			golden := strings.TrimSuffix(f, ".inventory") + ".set.golden"
			got := inv.Bytes()
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update once)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("after Set:\n%s", cmp.Diff(string(want), string(got)))
			}
			again, err := ParseInventory(bytes.NewReader(got), golden)
			if err != nil {
				t.Fatal(err)
			}
			if again.Value("PRODUCT_VERSION") != "5.0.0" || again.Value("BUILD_NUMBER") != "10918p" {
				t.Fatalf("reparsed values: %v", again.Map())
			}
		})
	}
}

func TestInventoryValues(t *testing.T) {
	t.Parallel()
	in := "# hand-made\nA='x y'\nB=bare\nC=''\n\nA='second'\n"
	inv, err := ParseInventory(strings.NewReader(in), "inv")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "second", "B": "bare", "C": ""}
	if diff := cmp.Diff(want, inv.Map()); diff != "" {
		t.Fatal(diff)
	}
	if _, ok := inv.Get("C"); !ok {
		t.Fatal("C present but empty: Get must say present")
	}
	if _, ok := inv.Get("D"); ok {
		t.Fatal("D is absent")
	}
	// Set rewrites every occurrence of a duplicated key and nothing else.
	if err := inv.Set("A", "z"); err != nil {
		t.Fatal(err)
	}
	if got, want := string(inv.Bytes()), "# hand-made\nA='z'\nB=bare\nC=''\n\nA='z'\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// TestInventoryInstallerValues: values as the installer's readKeyValueFile
// reads them (identical from host-installer fc4eed16e14f to 05720e0c0421):
// str.strip("'") of what follows the first '='.
func TestInventoryInstallerValues(t *testing.T) {
	for _, c := range []struct{ in, key, want string }{
		{"PRODUCT_VERSION='5.5.0' \n", "PRODUCT_VERSION", "5.5.0' "}, // the space keeps the closing quote
		{"A=''x''\n", "A", "x"},
		{"A=b=c\n", "A", "b=c"},
		{`A="5.5.0"` + "\n", "A", `"5.5.0"`},
		{"A=\n", "A", ""},
	} {
		inv, err := ParseInventory(strings.NewReader(c.in), "inv")
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got, ok := inv.Get(c.key); !ok || got != c.want {
			t.Errorf("%q: %s=%q, want %q", c.in, c.key, got, c.want)
		}
		if got := string(inv.Bytes()); got != c.in {
			t.Errorf("%q written back as %q", c.in, got)
		}
	}
}

func TestSetRejectsUnsafeValues(t *testing.T) {
	t.Parallel()
	inv, _ := ParseInventory(strings.NewReader("A='1'\n"), "inv")
	for _, v := range []string{"it's", "a\nb", "nul\x00", "tab\there", "del\x7f"} {
		if err := inv.Set("A", v); !errors.Is(err, ErrUnsafeValue) {
			t.Errorf("Set(%q) = %v, want ErrUnsafeValue", v, err)
		}
	}
	if err := inv.Set("1A", "x"); err == nil {
		t.Error("Set with key 1A accepted")
	}
	if got := string(inv.Bytes()); got != "A='1'\n" {
		t.Fatalf("a refused Set changed the inventory: %q", got)
	}
}

func TestSetAppendsAfterLineWithoutNewline(t *testing.T) {
	t.Parallel()
	inv, _ := ParseInventory(strings.NewReader("A='1'"), "inv")
	if err := inv.Set("B", "2"); err != nil {
		t.Fatal(err)
	}
	if got := string(inv.Bytes()); got != "A='1'\nB='2'\n" {
		t.Fatalf("got %q", got)
	}
}

// TestInventoryOverTheBound: the one line ParseInventory refuses is one
// over xsrescue's bound (the installer reads any size); the error names
// the file and the line and wraps ErrSyntax.
func TestInventoryOverTheBound(t *testing.T) {
	t.Parallel()
	long := "A='1'\nB='" + strings.Repeat("x", MaxLineLength) + "'\n"
	_, err := ParseInventory(strings.NewReader(long), "inv")
	if want := "inv line 2: line longer than 16777216 bytes"; err == nil || err.Error() != want || !errors.Is(err, ErrSyntax) {
		t.Fatalf("error %v, want %q wrapping ErrSyntax", err, want)
	}
}

// TestInventoryAsReadKeyValueFile: every case of
// testdata/readkeyvaluefile.json gives, for every key that is a shell
// name (every key an installer looks up is one), the value the real
// util.readKeyValueFile gives: the "read" of each case is that function's
// dict, the same for the 16 installer commits (testdata/README.md). The
// line-by-line parser and partition.ParseInventory both; nothing is an
// error, every line that is not blank or a comment has its note, and the
// file writes back byte for byte.
func TestInventoryAsReadKeyValueFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/readkeyvaluefile.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Inventory string
		Read            map[string]string
	}
	if err := json.Unmarshal(data, &cases); err != nil || len(cases) < 15 {
		t.Fatalf("testdata/readkeyvaluefile.json: %d cases, %v", len(cases), err)
	}
	for _, c := range cases {
		want := map[string]string{}
		for k, v := range c.Read {
			if partition.ShellName(k) {
				want[k] = v
			}
		}
		inv, err := ParseInventory(strings.NewReader(c.Inventory), "inv")
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if d := cmp.Diff(want, inv.Map()); d != "" {
			t.Errorf("%s: ParseInventory (-readKeyValueFile +xsrescue):\n%s", c.Name, d)
		}
		if d := cmp.Diff(want, partition.ParseInventory([]byte(c.Inventory))); d != "" {
			t.Errorf("%s: partition.ParseInventory (-readKeyValueFile +xsrescue):\n%s", c.Name, d)
		}
		if !bytes.Equal(inv.Bytes(), []byte(c.Inventory)) {
			t.Errorf("%s: written back as %q", c.Name, inv.Bytes())
		}
		if probs := inv.Problems(); (len(probs) == 0) != strings.HasPrefix(c.Name, "comment") {
			t.Errorf("%s: notes %q", c.Name, probs)
		}
	}
}

// TestSetOverNotedLines: Set rewrites a line without '=' that the
// installer reads as the key, and leaves a line whose key is not a shell
// name (the installer never reads it) where it is, appending the key.
func TestSetOverNotedLines(t *testing.T) {
	t.Parallel()
	inv, err := ParseInventory(strings.NewReader("export PRODUCT_VERSION='6.5.0'\nBUILD_NUMBERX\nA='1\n"), "inv")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"PRODUCT_VERSION": "6.2.0", "BUILD_NUMBER": "70446c"} {
		if err := inv.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := string(inv.Bytes()), "export PRODUCT_VERSION='6.5.0'\nBUILD_NUMBER='70446c'\nA='1\nPRODUCT_VERSION='6.2.0'\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := partition.ParseInventory(inv.Bytes()); got["PRODUCT_VERSION"] != "6.2.0" || got["BUILD_NUMBER"] != "70446c" {
		t.Fatalf("the installer reads %v", got)
	}
}

// TestInventoryLineNotes: what each note says the installer makes of the
// line.
func TestInventoryLineNotes(t *testing.T) {
	t.Parallel()
	in := "PRODUCT_VERSION='6.2.0'\nGARBAGE LINE\nPRODUCT_VERSIONX\nA B='1'\n='1'\nDOM0_MEM='752\nB=1'\n# comment\n\nNOTE\r\n"
	inv, err := ParseInventory(strings.NewReader(in), "inv")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`line 2: no '=' in "GARBAGE LINE": readKeyValueFile reads it as the key "GARBAGE LIN", which no installer looks up`,
		`line 3 (PRODUCT_VERSION): no '=' in "PRODUCT_VERSIONX": readKeyValueFile reads it as the key "PRODUCT_VERSION" with the value "PRODUCT_VERSIONX"`,
		`line 4: key "A B" is not a shell variable name: readKeyValueFile keeps it under that name, which no installer looks up`,
		`line 5: key "" is not a shell variable name: readKeyValueFile keeps it under that name, which no installer looks up`,
		`line 6 (DOM0_MEM): unbalanced single quotes (a shell sourcing the file stops here): readKeyValueFile strips the quotes at both ends and reads DOM0_MEM="752"`,
		`line 7 (B): unbalanced single quotes (a shell sourcing the file stops here): readKeyValueFile strips the quotes at both ends and reads B="1"`,
		`line 10 (NOTE): carriage return at end of line (DOS line ending): readKeyValueFile keeps it in the value; no '=' in "NOTE\r": readKeyValueFile reads it as the key "NOTE" with the value "NOTE\r"`,
	}
	if d := cmp.Diff(want, inv.Problems()); d != "" {
		t.Errorf("notes (-want +got):\n%s", d)
	}
	if got := inv.Value("PRODUCT_VERSION"); got != "PRODUCT_VERSIONX" {
		t.Errorf("PRODUCT_VERSION %q, readKeyValueFile reads PRODUCT_VERSIONX", got)
	}
}

// TestInventoryReadAsInstaller: a carriage return at the end of a line, a
// NUL byte and a line over 1 MiB are read as readKeyValueFile reads them
// (partition.ParseInventory, the installer's reading): the value keeps
// them, and the line is listed in Problems — no error.
func TestInventoryReadAsInstaller(t *testing.T) {
	t.Parallel()
	in := "PRODUCT_VERSION='6.2.0'\nDOM0_MEM='752'\r\nNOTE='a\x00b'\nPAD='" + strings.Repeat("x", 1200000) + "'\nPRODUCT_NAME='xenenterprise'\r\n"
	inv, err := ParseInventory(strings.NewReader(in), "inv")
	if err != nil {
		t.Fatal(err)
	}
	installer := partition.ParseInventory([]byte(in))
	for k, want := range installer {
		if got := inv.Value(k); got != want {
			t.Errorf("%s = %q, the installer reads %q", k, got, want)
		}
	}
	if got := inv.Value("PRODUCT_NAME"); got != "xenenterprise'\r" {
		t.Errorf("PRODUCT_NAME %q", got)
	}
	want := []string{
		"line 2 (DOM0_MEM): carriage return at end of line (DOS line ending): readKeyValueFile keeps it in the value",
		"line 3 (NOTE): NUL byte at column 8: readKeyValueFile keeps it in the value",
		"line 5 (PRODUCT_NAME): carriage return at end of line (DOS line ending): readKeyValueFile keeps it in the value",
	}
	if d := cmp.Diff(want, inv.Problems()); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
	if !bytes.Equal(inv.Bytes(), []byte(in)) {
		t.Error("round trip differs")
	}
}

// FuzzParseInventory: never panics; whatever parses writes back
// byte-identically, reads every key as partition.ParseInventory (the
// installer's readKeyValueFile) does, and a Set value reads back.
func FuzzParseInventory(f *testing.F) {
	for _, s := range []string{
		"", "\n", "A='1'\n", "A=1", "A='1'\r\n", "A='\n", "A=1'\n", "#c\nA=''\n", "X\n",
		"PRODUCT_VERSION='5.5.0'\nBUILD_NUMBER='15119p'\n", "A='a'b'\n", "A='\x00'\n", "=\n", "A==\n",
	} {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile("testdata/roundtrip/xs65-practicalxenserver.inventory"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		if got := inv.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("round trip: got %q want %q", got, data)
		}
		// The line-by-line reading is the installer's (partition's).
		if d := cmp.Diff(partition.ParseInventory(data), inv.Map()); d != "" {
			t.Fatalf("values differ from readKeyValueFile's (-installer +xsrescue):\n%s", d)
		}
		if err := inv.Set("PRODUCT_VERSION", "5.0.0"); err != nil {
			t.Fatal(err)
		}
		again, err := ParseInventory(bytes.NewReader(inv.Bytes()), "fuzz2")
		if err != nil {
			t.Fatalf("reparse after Set: %v\n%q", err, inv.Bytes())
		}
		if v := again.Value("PRODUCT_VERSION"); v != "5.0.0" {
			t.Fatalf("after Set PRODUCT_VERSION=%q", v)
		}
	})
}
