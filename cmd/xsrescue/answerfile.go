package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/answerfile"
	"github.com/xsrescue/xsrescue/internal/infile"
	"github.com/xsrescue/xsrescue/internal/xerr"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "answerfile",
			Usage: "write installer answer files (unattended upgrade from PXE or kickstart)",
			Commands: []*cli.Command{{
				Name:      "upgrade",
				Usage:     "write the answer file that makes the installer upgrade the installation on a disk",
				ArgsUsage: " ",
				Description: "Writes the XML answer file with which the XenServer host installer upgrades the\n" +
					"existing installation on --disk unattended: <installation mode=\"upgrade\">,\n" +
					"<existing-installation> with the disk's name as the installer sees it (relative to\n" +
					"/dev, which every installer generation accepts), and <source type=\"url|nfs|local\">.\n" +
					"The file is parsed back before it is written. This is the path for fleets: point the\n" +
					"installer's answerfile= boot option (PXE, kickstart) at the file.\n\n" +
					"--source is a URL (http, https, ftp, file, nfs://), server:/path for NFS, or 'local'\n" +
					"for the installer's own media. --as NAME overrides the disk name when the installer\n" +
					"will enumerate the disk differently from this system (e.g. disk/by-id/...).\n" +
					"For a disk image (anything but a device under /dev) the name defaults to the PRIMARY_DISK\n" +
					"that the installer recorded in the image's etc/xensource-inventory, without /dev/ (said\n" +
					"on stderr); without one, --as is needed. The image is read, never written.\n" +
					"Before any upgrade, save the backup partition (xsrescue disk save-partition): the\n" +
					"upgrade reformats it.\n\n" + exitHelp,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "disk", Usage: "the disk that holds the installation (`DEV`)", Required: true},
					&cli.StringFlag{Name: "as", Usage: "the disk `NAME` the installer will see (default: DEV without /dev/; for an image, its inventory's PRIMARY_DISK)"},
					&cli.StringFlag{Name: "source", Usage: "installation repository `URL`, server:/path, or local", Required: true},
					&cli.StringFlag{Name: "post-install-script", Usage: "`URL` of a script the installer runs on the new root"},
					&cli.StringFlag{Name: "admin-interface", Usage: "management interface `NAME` (dhcp); only the earliest installers need it for an upgrade"},
					&cli.StringFlag{Name: "to", Usage: "write to `FILE` instead of stdout (never overwrites)"},
				},
				Action: runAnswerfileUpgrade,
			}},
		}
	})
}

func runAnswerfileUpgrade(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	o := output(cmd)
	disk, name, from := cmd.String("disk"), cmd.String("as"), "as"
	switch {
	case name != "":
	case isImageName(disk):
		primary, err := primaryDisk(ctx, disk)
		if err != nil {
			return err
		}
		name, from = answerfile.DiskName(primary), "inventory"
		o.Logf("%s is an image: the disk is named %s, as its inventory's PRIMARY_DISK %s records it on the host (--as NAME overrides)", disk, name, primary)
	default:
		name, from = answerfile.DiskName(disk), "disk"
	}
	typ, loc, err := answerfile.SourceFor(cmd.String("source"))
	if err != nil {
		return xerr.Invalid(err)
	}
	u := answerfile.Upgrade{Disk: name, SourceType: typ, Source: loc,
		PostInstallScript: cmd.String("post-install-script"), AdminInterface: cmd.String("admin-interface")}
	doc, err := u.Marshal()
	if err != nil {
		if from == "inventory" {
			err = fmt.Errorf("the inventory's PRIMARY_DISK of %s: %w (add --as NAME)", disk, err)
		}
		return xerr.Invalid(err)
	}
	to := cmd.String("to")
	dry := cmd.Bool("dry-run")
	if to != "" {
		same, err := checkNew(to, doc)
		switch {
		case err != nil:
			return err
		case same:
			o.Logf("%s already holds this answer file: already as requested", to)
		case dry:
			o.Logf("dry run: nothing was written (%s would get the answer file below, %d bytes)", to, len(doc))
		default:
			if err := writeNew(to, doc); err != nil {
				return err
			}
			o.Logf("wrote %s (upgrade of %s from %s)", to, u.Disk, strings.TrimSpace(u.SourceType+" "+u.Source))
		}
	}
	return o.Emit(map[string]any{
		"disk": u.Disk, "disk_from": from, "source_type": u.SourceType, "source": u.Source,
		"post_install_script": u.PostInstallScript, "admin_interface": u.AdminInterface,
		"file": nullIfEmpty(to), "xml": string(doc), "dry_run": dry,
	}, func(w io.Writer) error {
		if to != "" && dry {
			_, err := w.Write(doc)
			return err
		}
		if to == "" {
			_, err := w.Write(doc)
			return err
		}
		return nil
	})
}

// primaryDisk reads the PRIMARY_DISK of the XenServer root on the image
// (read-only, as disk inspect does). The installer records the disk it
// installed to there (its by-id name when it has one) and, given that name
// in <existing-installation>, finds the installation on the host's disk
// (docs/answerfile.md). Anything that leaves it unknown is invalid input
// asking for --as.
func primaryDisk(ctx context.Context, disk string) (string, error) {
	why := ""
	d, err := inspectDisk(ctx, disk)
	switch {
	case err != nil:
		why = err.Error()
	case d.XenServer == nil:
		why = "it holds no XenServer root (an ext partition labelled root-*)"
	case d.XenServer.Inventory == nil:
		why = fmt.Sprintf("the etc/xensource-inventory of root partition %d cannot be read", d.XenServer.RootPartition)
		if len(d.Warnings) > 0 {
			why += " (" + strings.Join(d.Warnings, "; ") + ")"
		}
	case strings.TrimSpace(d.XenServer.Inventory["PRIMARY_DISK"]) == "":
		why = fmt.Sprintf("the etc/xensource-inventory of root partition %d has no PRIMARY_DISK", d.XenServer.RootPartition)
	default:
		return strings.TrimSpace(d.XenServer.Inventory["PRIMARY_DISK"]), nil
	}
	return "", xerr.Invalidf("--disk %s is not a device under /dev (an image file here), and %s: the installer can never see the image's name; add --as NAME, the disk's name on the host to upgrade (e.g. disk/by-id/scsi-..., or sda)", disk, why)
}

// isImageName reports whether --disk names something the installer cannot
// see: a path outside /dev, or a regular file here (an image).
func isImageName(disk string) bool {
	if strings.HasPrefix(disk, "/dev/") {
		return false
	}
	if strings.Contains(disk, "/") {
		return true
	}
	st, err := os.Stat(disk)
	return err == nil && st.Mode().IsRegular()
}

// checkNew says whether path already holds exactly b (a re-run: already
// as requested), and refuses (exit 3) a path that holds anything else; a
// FIFO or device there is invalid (exit 2), never read.
func checkNew(path string, b []byte) (same bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	old, err := infile.ReadFile(path)
	if xerr.Code(err) == xerr.ExitInvalid {
		return false, err
	}
	if err == nil && bytes.Equal(old, b) {
		return true, nil
	}
	return false, xerr.Refusedf("%s exists with other content (not overwritten)", path)
}

// writeNew writes the new file path (never replacing one: a file that
// appeared since checkNew is refused).
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if os.IsExist(err) {
		return xerr.Refusedf("%s exists (not overwritten)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
