package answerfile

import (
	"errors"
	"strings"
	"testing"
)

func TestRestoreMarshalGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		disk string
	}{
		{"restore-byid", "disk/by-id/scsi-SATA_ST3500418AS_9VM155XS"},
		{"restore-cciss", "cciss/c0d0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goldenRoundTrip(t, tc.name, &Restore{BackupDisk: tc.disk}, (*Restore).Marshal, ParseRestore)
		})
	}
}

var brokenRestoreSamples = map[string]string{
	"empty":        "",
	"upgrade":      `<installation mode="upgrade"><existing-installation>sda</existing-installation><source type="local"/></installation>`,
	"no-disk":      `<restore></restore>`,
	"two-disks":    `<restore><backup-disk>sda</backup-disk><backup-disk>sdb</backup-disk></restore>`,
	"empty-disk":   `<restore><backup-disk>  </backup-disk></restore>`,
	"abs-disk":     `<restore><backup-disk>/dev/sda</backup-disk></restore>`,
	"dotdot":       `<restore><backup-disk>disk/../../etc</backup-disk></restore>`,
	"space":        `<restore><backup-disk>sd a</backup-disk></restore>`,
	"trailing":     `<restore><backup-disk>sda</backup-disk></restore><restore/>`,
	"unclosed":     `<restore><backup-disk>sda`,
	"nested-twice": `<restore><backup-disk>sda<backup-disk>sdb</backup-disk></backup-disk></restore>`,
	"deep-twice":   `<restore><x><backup-disk>sda</backup-disk></x><backup-disk>sdb</backup-disk></restore>`,
	"cdata":        `<restore><backup-disk><![CDATA[sda]]></backup-disk></restore>`,
	"prefixed":     `<restore><x:backup-disk>sda</x:backup-disk></restore>`,
}

func TestParseRestoreBroken(t *testing.T) {
	t.Parallel()
	for name, in := range brokenRestoreSamples {
		if _, err := ParseRestore(strings.NewReader(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: ParseRestore = %v, want ErrInvalid", name, err)
		}
	}
	for in, want := range map[string]string{
		`<restore><backup-disk>sda`:                                                       "offset 25: XML syntax error on line 1: unexpected EOF",
		`<restore><![CDATA[x]]><backup-disk>sda</backup-disk></restore>`:                  "offset 9: a CDATA section",
		`<restore><backup-disk>sda</backup-disk><backup-disk>sdb</backup-disk></restore>`: "has 2 <backup-disk> elements",
		`<installation mode="upgrade"/>`:                                                  "document element <installation>: want <restore>",
		`<restore><backup-disk>sda</backup-disk></restore>x`:                              "text outside <restore>",
		`<restore><backup-disk>sda</backup-disk></restore><restore/>`:                     "content after </restore>",
		`<!-- x -->`: "no <restore> element",
	} {
		if _, err := ParseRestore(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRestore(%q) = %v, want %q", in, err, want)
		}
	}
	// White space around the name is stripped, as the installer's getText
	// strips it; the text of nested elements is not the element's own; an
	// element deeper down still counts (getElementsByTagName).
	for in, want := range map[string]string{
		"<restore>\n <backup-disk>\n  sda\n </backup-disk>\n</restore>\n<!-- end -->\n": "sda",
		"<restore><backup-disk>s<!-- x -->d<b>zz</b>a</backup-disk></restore>":          "sda",
		"<restore><x><y><backup-disk>cciss/c0d0</backup-disk></y></x></restore>":        "cciss/c0d0",
		"<restore><backup-disk>disk/by-id/a&amp;b</backup-disk></restore>":              "",
	} {
		r, err := ParseRestore(strings.NewReader(in))
		switch {
		case want == "" && !errors.Is(err, ErrInvalid):
			t.Errorf("ParseRestore(%q) = %+v %v, want ErrInvalid", in, r, err)
		case want != "" && (err != nil || r.BackupDisk != want):
			t.Errorf("ParseRestore(%q) = %+v %v, want %q", in, r, err, want)
		}
	}
}

func FuzzParseRestore(f *testing.F) {
	fuzzRoundTrip(f, brokenRestoreSamples, []string{"restore-byid", "restore-cciss"}, ParseRestore, (*Restore).Marshal)
}
