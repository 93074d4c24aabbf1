package target_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/internal/testutil"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/target"
)

// TestOpenReadOnlyInProcess: a read-only --disk open of an ext partition
// reads it in-process: no mount, no loop device (so no root needed), a
// dirty journal left as it is, the image not changed by a byte, and
// nothing to refuse when it is opened twice.
func TestOpenReadOnlyInProcess(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/mke2fs"); err != nil {
		t.Skip("mke2fs not installed (e2fsprogs)")
	}
	img := miniDisk(t, "target-ro")
	before := testutil.FileSHA256(t, img)
	tgt, err := target.Open(context.Background(), target.Options{Disk: img})
	testutil.Must(t, err)
	if tgt.Root.Image() == nil || tgt.Root.Dir() != "" || tgt.Root.Writer() != nil {
		t.Fatalf("not an in-process image root: dir %q", tgt.Root.Dir())
	}
	abs, _ := filepath.Abs(img)
	if tgt.Partition != 1 || len(tgt.Identity) != 36 || tgt.Name() != abs+" partition 1" || tgt.Root.Name() != tgt.Name() {
		t.Errorf("partition %d identity %q name %q / %q", tgt.Partition, tgt.Identity, tgt.Name(), tgt.Root.Name())
	}
	// A dry run opens read-only and must still be able to say that applying
	// replays the journal.
	if !tgt.NeedsRecovery || len(tgt.Notes) != 0 {
		t.Errorf("needs recovery %v, notes %v", tgt.NeedsRecovery, tgt.Notes)
	}
	b, err := tgt.Root.ReadFile("etc/xensource-inventory")
	if err != nil || !strings.Contains(string(b), "PRODUCT_VERSION") {
		t.Errorf("inventory: %v %q", err, b)
	}
	if attached(t, img) {
		t.Error("a read-only open attached a loop device")
	}
	again, err := target.Open(context.Background(), target.Options{Disk: img})
	testutil.Must(t, err)
	testutil.Must(t, again.Close())
	testutil.Must(t, tgt.Close())
	if after := testutil.FileSHA256(t, img); after != before {
		t.Fatal("a read-only open of a dirty ext3 changed the image")
	}
}

// TestLocalPath: a file of an image root that a tool needs by path (the
// journal's SQLite database) is copied out privately, with its WAL, and
// the copy is gone after Close.
func TestLocalPath(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/mke2fs"); err != nil {
		t.Skip("mke2fs not installed (e2fsprogs)")
	}
	spec := fixtures.Mini("target-local", "dos", fixtures.RootSpec{Release: "7.1", Extra: map[string][]byte{
		"var/lib/xsrescue/journal.db": []byte("db"), "var/lib/xsrescue/journal.db-wal": []byte("wal")}}, nil)
	img, err := fixtures.BuildDisk(t.TempDir(), spec)
	testutil.Must(t, err)
	tgt, err := target.Open(context.Background(), target.Options{Disk: img})
	testutil.Must(t, err)
	p, err := tgt.Root.LocalPath("var/lib/xsrescue/journal.db")
	testutil.Must(t, err)
	for suffix, want := range map[string]string{"": "db", "-wal": "wal"} {
		if b, err := os.ReadFile(p + suffix); err != nil || string(b) != want {
			t.Errorf("copy%s = %q, %v; want %q", suffix, b, err, want)
		}
	}
	if rel, ok := tgt.Root.Origin(p); !ok || rel != "var/lib/xsrescue/journal.db" {
		t.Errorf("Origin(%s) = %q, %v", p, rel, ok)
	}
	missing, err := tgt.Root.LocalPath("var/lib/xsrescue/none.db")
	if _, serr := os.Stat(missing); err != nil || !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("LocalPath of a missing file: %q, %v, %v", missing, err, serr)
	}
	if _, err := tgt.Root.LocalPath("etc"); err == nil {
		t.Error("LocalPath of a directory: no error")
	}
	testutil.Must(t, tgt.Close())
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("copy left after Close: %v", err)
	}
}

// TestOpenReadOnlyErrors: what cannot be read in-process is invalid
// input, and nothing is mounted to find out.
func TestOpenReadOnlyErrors(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/mke2fs"); err != nil {
		t.Skip("mke2fs not installed (e2fsprogs)")
	}
	img := miniDisk(t, "target-roerr")
	for _, o := range []target.Options{{Disk: img, Partition: 9}, {Disk: img, Partition: 3}} {
		if _, err := target.Open(context.Background(), o); xerr.Code(err) != xerr.ExitInvalid {
			t.Errorf("target.Open(%+v) = %v, want exit 2", o, err)
		}
	}
	// A damaged superblock (an inode count that does not fill the
	// groups; the signature probe still sees ext3): exit 2 naming the
	// partition.
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	testutil.Must(t, err)
	_, err = f.WriteAt([]byte{1, 0, 0, 0}, fixtures.MiB+1024)
	testutil.Must(t, err)
	testutil.Must(t, f.Close())
	_, err = target.Open(context.Background(), target.Options{Disk: img, Partition: 1})
	if xerr.Code(err) != xerr.ExitInvalid || !strings.Contains(err.Error(), "partition 1: superblock") {
		t.Errorf("damaged superblock: %v, want exit 2 naming partition 1", err)
	}
	// The partition is read through a memory map that starts at the
	// partition; the byte named is still the disk's, as disk inspect names
	// it (the superblock at 1 KiB into partition 1, at 1 MiB).
	if want := fmt.Sprintf("(byte %d)", fixtures.MiB+1024); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("damaged superblock: %v, want it to name %s", err, want)
	}
}
