package statedb

import (
	"bytes"
	"testing"
)

// FuzzReencodeLegacy: reencodeLegacy (one pass, after decoding entities)
// gives exactly the bytes of the four passes it stands for (unescape XML,
// unprotect, protect legacy, escape XML), and fails where they fail.
func FuzzReencodeLegacy(f *testing.F) {
	for _, s := range []string{"Local%.storage", "a%.%.b", "a%.%.%.b", " %_", "%_%.%%", "% %x%", "  x ", "50%%%.>\"", "tab%tnl%ncr%r\t\x01", "%", "%.", "",
		"Local&#37;.storage", "%&#46;", "a&#32;&#32;b", "&amp;&lt;&gt;&quot;&apos;", "&bad;", "xxxxxxxx%.yyyy"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var tmp [2][]byte
		var err error
		tmp[0], err = appendUnescapeXML(nil, raw)
		var scratch []byte
		got, gerr := reencodeLegacy([]byte("x"), raw, &scratch)
		if err != nil {
			if gerr == nil {
				t.Fatalf("%q: four passes fail (%v), one pass does not", raw, err)
			}
			return
		}
		tmp[1] = appendUnprotect(nil, tmp[0])
		tmp[0] = appendProtect(nil, tmp[1], true)
		want := appendEscapeXML(nil, tmp[0])
		if gerr != nil || !bytes.Equal(got[1:], want) {
			t.Fatalf("%q: one pass %q (%v), four passes %q", raw, got[1:], gerr, want)
		}
	})
}

// TestHasControl checks the word-at-a-time test against the byte loop for
// every length and position around the 8- and 32-byte strides, with the
// bytes nearest the threshold (0x1f, 0x20) and high bytes (borrows).
func TestHasControl(t *testing.T) {
	t.Parallel()
	for n := 0; n <= 80; n++ {
		for pos := -1; pos < n; pos++ {
			for _, c := range []byte{0, '\t', 0x1f, 0x20, 0x21, 0x80, 0xff} {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte(0x20 + i%0x60)
				}
				if pos >= 0 {
					b[pos] = c
				}
				want := false
				for _, x := range b {
					want = want || x < 0x20
				}
				if got := hasControl(b); got != want {
					t.Fatalf("hasControl(%q) = %v", b, got)
				}
			}
		}
	}
}
