package partimage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// TestSidecarBounds: a sidecar whose byte range is not one on any disk —
// start negative, or start+size past 2^63-1 — is invalid input (exit 2)
// naming the file and the values, before anything uses them.
func TestSidecarBounds(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("a", 64)
	for _, tc := range []struct{ json, want string }{
		{`{"format":"` + Format + `","start":-512,"size":4096,"sha256":"` + sum + `","compression":"none"}`, "start -512 with size 4096 is not a byte range"},
		{`{"format":"` + Format + `","start":9223372036854775807,"size":1,"sha256":"` + sum + `","compression":"none"}`, "start 9223372036854775807 with size 1 is not a byte range"},
		{`{"format":"` + Format + `","start":4611686018427387904,"size":4611686018427387904,"sha256":"` + sum + `","compression":"none"}`, "start 4611686018427387904 with size 4611686018427387904"},
		{`{"format":"` + Format + `","start":0,"size":4096,"sha256":"` + sum + `","compression":"none","file_size":-1}`, "file_size -1"},
	} {
		img := filepath.Join(t.TempDir(), "p.img")
		if err := os.WriteFile(SidecarPath(img), []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadSidecar(img)
		if xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), SidecarPath(img)) {
			t.Errorf("%s: %v, want exit 2 %q", tc.json, err, tc.want)
		}
	}
}
