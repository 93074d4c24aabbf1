package statedb

import (
	"bytes"
	"testing"
)

// FuzzReencodeLegacy: the one-pass re-encoding gives exactly the bytes of
// the four passes it stands for (unescape XML, unprotect, protect legacy,
// escape XML) for every raw value without an entity.
func FuzzReencodeLegacy(f *testing.F) {
	for _, s := range []string{"Local%.storage", "a%.%.b", "a%.%.%.b", " %_", "%_%.%%", "% %x%", "  x ", "50%%%.>\"", "tab%tnl%ncr%r\t\x01", "%", "%.", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if bytes.IndexByte(raw, '&') >= 0 {
			return
		}
		var tmp [2][]byte
		tmp[0], _ = appendUnescapeXML(nil, raw)
		tmp[1] = appendUnprotect(nil, tmp[0])
		tmp[0] = appendProtect(nil, tmp[1], true)
		want := appendEscapeXML(nil, tmp[0])
		if got := appendLegacy([]byte("x"), raw); !bytes.Equal(got[1:], want) {
			t.Fatalf("%q: one pass %q, four passes %q", raw, got[1:], want)
		}
	})
}
