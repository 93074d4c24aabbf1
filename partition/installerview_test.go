package partition_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
	"github.com/xsrescue/xsrescue/partition"
)

// TestMarkersAsTheInstallerResolves: the backup marker is
// os.path.exists(MNT/.xen-backup-partition) on the partition mounted
// below the installer's ramdisk (a directory or a FIFO is there; a
// dangling link is not), and a marker or inventory symlink that leaves the
// filesystem is unknown, never yes or no.
func TestMarkersAsTheInstallerResolves(t *testing.T) {
	t.Parallel()
	const marker = ".xen-backup-partition"
	replace := func(f func(dir string) error) func(string) error {
		return func(dir string) error {
			if err := os.Remove(filepath.Join(dir, marker)); err != nil {
				return err
			}
			return f(filepath.Join(dir, marker))
		}
	}
	link := func(to string) func(string) error {
		return replace(func(p string) error { return os.Symlink(to, p) })
	}
	tests := []struct {
		name   string
		backup func(dir string) error
		marker string // "true", "false" or an error substring
	}{
		{"directory", replace(func(p string) error { return os.Mkdir(p, 0o755) }), "true"},
		{"FIFO", replace(func(p string) error { return syscall.Mkfifo(p, 0o644) }), "true"},
		{"relative link inside", link("etc/xensource-inventory"), "true"},
		{"dangling relative link", link("nothing-here"), "false"},
		{"absolute link", link("/bin/sh"), ".xen-backup-partition -> /bin/sh: leads out of the root"},
		{"link above the root", link("../../etc/xensource-inventory"), `".." climbs above the root`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := fixtures.Mini("view-"+strings.ReplaceAll(tt.name, " ", "-"), "dos", fixtures.RootSpec{Release: "6.2"}, &fixtures.RootSpec{Release: "6.0", Populate: tt.backup})
			img := buildSpec(t, spec)
			d := inspectWith(t, img, partition.Options{})
			f, _ := openImage(t, img)
			d.ReadMarkers(f)
			b := d.XenServer.Backup
			switch tt.marker {
			case "true", "false":
				if b.Marker == nil || *b.Marker != (tt.marker == "true") {
					t.Fatalf("marker %v (%v), want %s", b.Marker, b.MarkerError, tt.marker)
				}
			default:
				if b.Marker != nil || b.MarkerError == nil || !strings.Contains(*b.MarkerError, tt.marker) {
					t.Fatalf("marker %v (%v), want unknown: %s", b.Marker, b.MarkerError, tt.marker)
				}
			}
		})
	}
	t.Run("inventory link out of the root", func(t *testing.T) {
		t.Parallel()
		move := func(dir string) error {
			inv := filepath.Join(dir, "etc/xensource-inventory")
			if err := os.Rename(inv, filepath.Join(dir, "etc/inv.real")); err != nil {
				return err
			}
			return os.Symlink("/etc/inv.real", inv)
		}
		spec := fixtures.Mini("view-inventory", "dos", fixtures.RootSpec{Release: "6.2", Populate: move}, nil)
		img := buildSpec(t, spec)
		d := inspectWith(t, img, partition.Options{})
		f, _ := openImage(t, img)
		d.ReadMarkers(f)
		x := d.XenServer
		if x.Inventory != nil || x.InventoryError == nil || !strings.Contains(*x.InventoryError, "etc/xensource-inventory -> /etc/inv.real: leads out of the root") {
			t.Fatalf("inventory %v, error %v", x.Inventory, x.InventoryError)
		}
	})
}
