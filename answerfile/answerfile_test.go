package answerfile

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMarshalGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		u    Upgrade
	}{
		{"url", Upgrade{Disk: "sda", SourceType: SourceURL, Source: "http://repo.example.com/xs50/"}},
		{"nfs-script", Upgrade{Disk: "disk/by-id/scsi-SATA_ST3500_5QM1", SourceType: SourceNFS, Source: "nfs.example.com:/exports/xs50/", PostInstallScript: "http://repo.example.com/post.sh?host=a&b=1"}},
		{"local-admin", Upgrade{Disk: "cciss/c0d0", SourceType: SourceLocal, AdminInterface: "eth0"}},
	} {
		t.Run(tc.name, func(t *testing.T) { goldenRoundTrip(t, tc.name, &tc.u, (*Upgrade).Marshal, Parse) })
	}
}

// goldenRoundTrip checks that v marshals to testdata/NAME.xml (rewritten
// with -update) and that the file parses back to v.
func goldenRoundTrip[T comparable](t *testing.T, name string, v *T, marshal func(*T) ([]byte, error), parse func(io.Reader) (*T, error)) {
	t.Helper()
	got, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", name+".xml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	back, err := parse(bytes.NewReader(got))
	if err != nil || *back != *v {
		t.Errorf("parsed back %+v, %v; want %+v", back, err, *v)
	}
}

func TestSourceFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, typ, loc, err string }{
		{"", SourceLocal, "", ""},
		{"local", SourceLocal, "", ""},
		{"http://h/xs/", SourceURL, "http://h/xs/", ""},
		{"nfs://h:/x/", SourceURL, "nfs://h:/x/", ""},
		{"filer:/exports/xs/", SourceNFS, "filer:/exports/xs/", ""},
		{"gopher://h/", "", "", "scheme"},
		{"http:///nohost", "", "", "no host"},
		{"/tmp/repo", "", "", "scheme"},
	} {
		typ, loc, err := SourceFor(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) {
				t.Errorf("SourceFor(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || typ != tc.typ || loc != tc.loc {
			t.Errorf("SourceFor(%q) = %q %q %v, want %q %q", tc.in, typ, loc, err, tc.typ, tc.loc)
		}
	}
}

func TestDiskName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"/dev/sda": "sda", "sdb": "sdb", "/dev/disk/by-id/ata-X": "disk/by-id/ata-X"} {
		if got := DiskName(in); got != want {
			t.Errorf("DiskName(%q) = %q, want %q", in, got, want)
		}
	}
}

var brokenSamples = map[string]string{
	"empty":        "",
	"not-xml":      "hello",
	"fresh":        `<installation><existing-installation>sda</existing-installation><source type="local"/></installation>`,
	"no-disk":      `<installation mode="upgrade"><source type="local"/></installation>`,
	"abs-disk":     `<installation mode="upgrade"><existing-installation>/dev/sda</existing-installation><source type="local"/></installation>`,
	"dotdot":       `<installation mode="upgrade"><existing-installation>../sda</existing-installation><source type="local"/></installation>`,
	"bad-type":     `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="cdrom"/></installation>`,
	"bad-url":      `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="url">gopher://x/</source></installation>`,
	"trailing":     `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="local"/></installation><x/>`,
	"unclosed":     `<installation mode="upgrade"><existing-installation>sda`,
	"bad-script":   `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="local"/><post-install-script>ftp:// x</post-install-script></installation>`,
	"local-loc":    `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="local">http://x/</source></installation>`,
	"bad-iface":    `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="local"/><admin-interface name="a b c"/></installation>`,
	"nfs-no-colon": `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="nfs">server/path</source></installation>`,
}

func TestParseBroken(t *testing.T) {
	t.Parallel()
	for name, in := range brokenSamples {
		_, err := Parse(strings.NewReader(in))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse = %v, want ErrInvalid", name, err)
		}
	}
	_, err := Parse(strings.NewReader("<installation mode=\"upgrade\"><existing-installation>sda"))
	if err == nil || !strings.Contains(err.Error(), "offset") {
		t.Errorf("truncated: %v, want an offset", err)
	}
}

func FuzzParse(f *testing.F) {
	fuzzRoundTrip(f, brokenSamples, []string{"url", "nfs-script", "local-admin"}, Parse, (*Upgrade).Marshal)
}

// fuzzRoundTrip seeds f with the broken samples and the golden files named,
// and checks that parse fails only with ErrInvalid and that whatever it
// accepts writes and reads back to the same values.
func fuzzRoundTrip[T comparable](f *testing.F, broken map[string]string, goldens []string, parse func(io.Reader) (*T, error), marshal func(*T) ([]byte, error)) {
	for _, s := range broken {
		f.Add([]byte(s))
	}
	for _, name := range goldens {
		b, err := os.ReadFile(filepath.Join("testdata", name+".xml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		out, err := marshal(v)
		if err != nil {
			t.Fatalf("accepted %+v but cannot write it: %v", *v, err)
		}
		back, err := parse(bytes.NewReader(out))
		if err != nil || *back != *v {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}
