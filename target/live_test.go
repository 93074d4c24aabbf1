package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

func TestLiveRoot(t *testing.T) {
	tmp := t.TempDir()
	link := filepath.Join(tmp, "slash")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	for dir, live := range map[string]bool{"/": true, link: true, tmp + "/../../../..": true, tmp: false, "/nonexistent-xsrescue": false} {
		err := RefuseLiveRoot(dir, "--root "+dir, "mount the offline root")
		if got := LiveRoot(dir) != ""; got != live {
			t.Errorf("LiveRoot(%s) = %v, want %v", dir, got, live)
		}
		if live && (xerr.Code(err) != xerr.ExitRefused || !strings.Contains(err.Error(), "inode ")) || !live && err != nil {
			t.Errorf("RefuseLiveRoot(%s) = %v", dir, err)
		}
	}
}
