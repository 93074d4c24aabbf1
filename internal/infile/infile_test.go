package infile

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// Every kind of path a user can name where a file (or a disk) is expected:
// regular files are read, the rest is refused as invalid input (exit 2)
// without blocking, named by type.
func TestOpenKinds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	link := filepath.Join(dir, "link")
	if err := os.Symlink("fifo", link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		kind Kind
		says string // "" = opens
	}{
		{file, File, ""},
		{file, FileOrBlock, ""},
		{fifo, File, fifo + " is a fifo, not a file"},
		{fifo, FileOrBlock, fifo + " is a fifo, not a file or block device"},
		{link, File, link + " is a fifo, not a file"},
		{sock, File, sock + " is a socket, not a file"},
		{dir, FileOrBlock, dir + " is a directory, not a file or block device"},
		{os.DevNull, FileOrBlock, os.DevNull + " is a character device, not a file or block device"},
	} {
		done := make(chan error, 1)
		go func() {
			f, err := Open(tc.path, tc.kind)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			switch {
			case tc.says == "" && err != nil:
				t.Errorf("%s: %v", tc.path, err)
			case tc.says != "" && (xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), tc.says)):
				t.Errorf("%s: %v, want exit 2 and %q", tc.path, err, tc.says)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("Open(%s) blocked", tc.path)
		}
	}
	if b, err := ReadFile(file); err != nil || string(b) != "data" {
		t.Errorf("ReadFile: %q %v", b, err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), File); !os.IsNotExist(err) || xerr.Code(err) == xerr.ExitInvalid {
		t.Errorf("a missing path is the caller's to judge: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	if got := Describe(fs.ModeNamedPipe | 0o644); got != "fifo, mode prw-r--r--" {
		t.Errorf("Describe = %q", got)
	}
}
