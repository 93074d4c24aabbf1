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
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/versionfile"
)

func init() {
	register(func() *cli.Command {
		return &cli.Command{
			Name:  "answerfile",
			Usage: "write installer answer files (unattended upgrade or restore from PXE or kickstart)",
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
			}, {
				Name:      "restore",
				Usage:     "write the answer file that makes the installer restore the backup partition of a disk",
				ArgsUsage: " ",
				Description: "Writes the XML answer file with which the XenServer host installer restores a backup\n" +
					"partition unattended: <restore><backup-disk>NAME</backup-disk></restore>. The installer\n" +
					"restores the one backup it finds (on any disk of the machine) whose PRIMARY_DISK is the disk\n" +
					"NAME names, onto the disk PRIMARY_DISK names, and aborts with \"Multiple backups were\n" +
					"found\" when more than one matches. NAME is the backup's own PRIMARY_DISK without /dev/\n" +
					"(said on stderr); --as NAME overrides it. The disk is only read.\n\n" +
					"Without --for-installer it prints, for every installer version, whether that installer\n" +
					"would restore the backup from the file, and writes nothing. With --for-installer V it\n" +
					"writes the file (stdout, or --to FILE, never overwritten) only if V would restore it:\n" +
					"installers before 6.2 have no answer-file restore, 8.0 and later skip backups older than\n" +
					"XenServer 7.0, and an unknown verdict is refused too (exit 3, with the reason). More than\n" +
					"one backup on the disk that would (or might) match is refused unless --allow-multiple.\n" +
					"The backup is the only partition carrying .xen-backup-partition, or among several the\n" +
					"root's backup partition; --partition N picks another.\n\n" + exitHelp,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "disk", Usage: "the disk that holds the backup partition (`DEV` or image)", Required: true},
					&cli.StringFlag{Name: "for-installer", Usage: "the installer `VERSION` that will run the file (e.g. 6.2, 7.1, 8.2); without it only the verdicts are printed"},
					&cli.IntFlag{Name: "partition", Usage: "the backup partition `N` to restore (default: the only one carrying .xen-backup-partition, else the root's backup partition)", HideDefault: true},
					&cli.StringFlag{Name: "as", Usage: "the disk `NAME` written into <backup-disk> (default: the backup's PRIMARY_DISK without /dev/)"},
					&cli.BoolFlag{Name: "allow-multiple", Usage: "write the file although other backups on the disk would (or might) match too: the installer then aborts, before writing anything, unless they are gone when it runs"},
					&cli.StringFlag{Name: "to", Usage: "write to `FILE` instead of stdout (never overwrites; needs --for-installer)"},
				},
				Action: runAnswerfileRestore,
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
	to, dry := cmd.String("to"), cmd.Bool("dry-run")
	if _, err := saveAnswerfile(o, to, dry, doc, fmt.Sprintf("upgrade of %s from %s", u.Disk, strings.TrimSpace(u.SourceType+" "+u.Source))); err != nil {
		return err
	}
	return o.Emit(map[string]any{
		"disk": u.Disk, "disk_from": from, "source_type": u.SourceType, "source": u.Source,
		"post_install_script": u.PostInstallScript, "admin_interface": u.AdminInterface,
		"file": nullIfEmpty(to), "xml": string(doc), "dry_run": dry,
	}, printAnswerfile(to, dry, doc))
}

// saveAnswerfile writes doc to the new file to (nothing for to ""), with
// the rules of every answer file: never over a different file, "already as
// requested" for the same bytes, nothing on a dry run. written says
// whether the file was created now.
func saveAnswerfile(o out, to string, dry bool, doc []byte, what string) (written bool, err error) {
	if to == "" {
		return false, nil
	}
	same, err := checkNew(to, doc)
	switch {
	case err != nil:
		return false, err
	case same:
		o.Logf("%s already holds this answer file: already as requested", to)
	case dry:
		o.Logf("dry run: nothing was written (%s would get the answer file below, %d bytes)", to, len(doc))
	default:
		if err := writeNew(to, doc); err != nil {
			return false, err
		}
		o.Logf("wrote %s (%s)", to, what)
		return true, nil
	}
	return false, nil
}

// printAnswerfile is the text output of an answer file command: the file
// on stdout unless it went to --to (a dry run prints what --to would get).
func printAnswerfile(to string, dry bool, doc []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		if to != "" && !dry {
			return nil
		}
		_, err := w.Write(doc)
		return err
	}
}

// restoreDoc is the JSON document of answerfile restore (docs/json.md).
type restoreDoc struct {
	*answerfile.RestorePlan
	Installer *string             `json:"installer"`
	Verdict   *answerfile.Verdict `json:"verdict"`
	File      any                 `json:"file"`
	XML       *string             `json:"xml"`
	Written   bool                `json:"written"`
	DryRun    bool                `json:"dry_run"`
	Error     map[string]any      `json:"error,omitempty"`
}

func runAnswerfileRestore(ctx context.Context, cmd *cli.Command) error {
	if _, err := args(cmd, 0, 0); err != nil {
		return err
	}
	o := output(cmd)
	to, dry, forIns := cmd.String("to"), cmd.Bool("dry-run"), cmd.String("for-installer")
	if cmd.Int("partition") < 0 {
		return usageError{fmt.Errorf("%s: --partition %d: want a partition number", cmd.FullName(), cmd.Int("partition"))}
	}
	if to != "" && forIns == "" {
		return usageError{fmt.Errorf("%s: --to needs --for-installer V: whether the answer file works depends on the installer that runs it (without --for-installer every installer's verdict is printed)", cmd.FullName())}
	}
	var in *versionfile.Installer
	if forIns != "" {
		i, err := versionfile.LookupInstaller(forIns)
		if err != nil {
			return xerr.Invalid(fmt.Errorf("--for-installer: %w", err))
		}
		in = &i
	}
	d, err := partition.InspectPath(cmd.String("disk"), partition.OpenOptions{Markers: true})
	if err != nil {
		return err
	}
	plan, err := answerfile.PlanRestore(d, int(cmd.Int("partition")), cmd.String("as"), versionfile.Installers())
	if err != nil {
		return err
	}
	if plan.DiskFrom == "inventory" {
		o.Logf("backup on partition %d (%s): <backup-disk> is %s, its PRIMARY_DISK %s without /dev/ (--as NAME overrides)", plan.Partition, plan.Chosen, plan.BackupDisk, plan.PrimaryDisk)
	}
	doc := restoreDoc{RestorePlan: plan, DryRun: dry}
	if in == nil {
		return o.Emit(doc, func(w io.Writer) error { return renderRestore(w, plan) })
	}
	doc.Installer = &in.Release.Product
	v, err := plan.Check(*in, cmd.Bool("allow-multiple"))
	doc.Verdict = &v
	if err != nil {
		if !o.JSON {
			return err
		}
		doc.Error = map[string]any{"message": err.Error(), "exit_code": xerr.Code(err)}
		if eerr := o.Emit(doc, nil); eerr != nil {
			return eerr
		}
		return alreadyReported(err)
	}
	o.Logf("the %s installer: %s: %s", v.Installer, v.Status, v.Reason)
	for _, w := range plan.Warnings {
		o.Logf("warning: %s", w)
	}
	if plan.Host.Status == answerfile.HostSame || plan.Host.Status == answerfile.HostImage {
		o.Logf("%s", plan.Host.Message)
	}
	xml, err := (&answerfile.Restore{BackupDisk: plan.BackupDisk}).Marshal()
	if err != nil {
		return err
	}
	s := string(xml)
	doc.XML, doc.File = &s, nullIfEmpty(to)
	if doc.Written, err = saveAnswerfile(o, to, dry, xml, fmt.Sprintf("restore of the backup on partition %d by the %s installer", plan.Partition, v.Installer)); err != nil {
		return err
	}
	return o.Emit(doc, printAnswerfile(to, dry, xml))
}

// renderRestore prints every installer's verdict on the chosen backup.
func renderRestore(w io.Writer, p *answerfile.RestorePlan) error {
	fmt.Fprintf(w, "%s: backup on partition %d (%s): %s %s\n", p.Disk, p.Partition, p.Chosen,
		orDefault(p.Inventory["PRODUCT_BRAND"], "-"), orDefault(p.Inventory["PRODUCT_VERSION"], "(no PRODUCT_VERSION)"))
	fmt.Fprintf(w, "<backup-disk>: %s (from %s; the backup's PRIMARY_DISK is %s)\n", p.BackupDisk, p.DiskFrom, orDefault(p.PrimaryDisk, "absent"))
	fmt.Fprintln(w, "\nwould the installer of version V restore it from <restore><backup-disk>…</backup-disk></restore>?")
	by := map[string][]string{}
	var reasons []string
	byReason := map[string][]string{}
	var restore []string
	for _, v := range p.Verdicts {
		by[v.Status] = append(by[v.Status], v.Installer)
		if v.Status == answerfile.StatusRestore {
			restore = append(restore, v.Installer)
		}
		if _, ok := byReason[v.Reason]; !ok {
			reasons = append(reasons, v.Reason)
		}
		byReason[v.Reason] = append(byReason[v.Reason], v.Installer)
	}
	for _, s := range []string{answerfile.StatusRestore, answerfile.StatusAborts, answerfile.StatusNo, answerfile.StatusUnknown} {
		if len(by[s]) > 0 {
			fmt.Fprintf(w, "  %-8s %s\n", s, strings.Join(by[s], " "))
		}
	}
	fmt.Fprintln(w, "why:")
	for _, r := range reasons {
		fmt.Fprintf(w, "  %s: %s\n", strings.Join(byReason[r], " "), r)
	}
	if len(p.Backups) > 1 {
		fmt.Fprintln(w, "\nbackups on this disk (an installer restores only when <backup-disk> names exactly one of those it finds):")
		for _, b := range p.Backups {
			fmt.Fprintf(w, "  partition %d: %s %s, named by <backup-disk>: %s (%s)\n", b.Partition, orDefault(b.Inventory["PRODUCT_BRAND"], "-"),
				orDefault(b.Inventory["PRODUCT_VERSION"], "(no PRODUCT_VERSION)"), b.Match, b.MatchReason)
		}
	}
	for _, m := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
	fmt.Fprintf(w, "note: %s\n", p.Note)
	if len(restore) > 0 {
		fmt.Fprintf(w, "\nto write the answer file: add --for-installer V (V: %s)\n", strings.Join(restore, " "))
	} else {
		fmt.Fprintln(w, "\nno installer would restore this backup from an answer file: nothing to write")
	}
	return nil
}

// primaryDisk reads the PRIMARY_DISK of the XenServer root on the image
// (read-only, as disk inspect does). The installer records the disk it
// installed to there (its by-id name when it has one) and, given that name
// in <existing-installation>, finds the installation on the host's disk
// (docs/answerfile.md). Anything that leaves it unknown is invalid input
// asking for --as.
func primaryDisk(ctx context.Context, disk string) (string, error) {
	why := ""
	d, err := partition.InspectPath(disk, partition.OpenOptions{Markers: true})
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
