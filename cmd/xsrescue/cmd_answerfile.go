package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/aymanbagabas/go-udiff"

	"github.com/xsrescue/xsrescue/answerfile"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/partition"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/versionfile"
)

func newAnswerfileCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:     "answerfile",
		Usage:    "write installer answer files (unattended upgrade or restore from PXE or kickstart)",
		Commands: []*cli.Command{newAnswerfileUpgradeCommand(e), newAnswerfileRestoreCommand(e)},
	}
}

// answerfileUpgradeOptions are the flags of answerfile upgrade.
type answerfileUpgradeOptions struct {
	Disk, As, Source, PostInstallScript, AdminInterface, To string
}

func newAnswerfileUpgradeCommand(e *env) *cli.Command {
	var o answerfileUpgradeOptions
	return &cli.Command{
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
			&cli.StringFlag{Name: "disk", Destination: &o.Disk, Usage: "the disk that holds the installation (`DEV`)", Required: true},
			&cli.StringFlag{Name: "as", Destination: &o.As, Usage: "the disk `NAME` the installer will see (default: DEV without /dev/; for an image, its inventory's PRIMARY_DISK)"},
			&cli.StringFlag{Name: "source", Destination: &o.Source, Usage: "installation repository `URL`, server:/path, or local", Required: true},
			&cli.StringFlag{Name: "post-install-script", Destination: &o.PostInstallScript, Usage: "`URL` of a script the installer runs on the new root"},
			&cli.StringFlag{Name: "admin-interface", Destination: &o.AdminInterface, Usage: "management interface `NAME` (dhcp); only the earliest installers need it for an upgrade"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.To, Usage: "write to `FILE` instead of stdout (never overwrites)"},
			renamedFlag(e, "to", "output", &o.To),
		},
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runAnswerfileUpgrade(ctx, e, o) }),
	}
}

// answerfileRestoreOptions are the flags of answerfile restore.
type answerfileRestoreOptions struct {
	Disk, ForInstaller, As, To string
	Partition                  int
	AllowMultiple              bool
}

func newAnswerfileRestoreCommand(e *env) *cli.Command {
	var o answerfileRestoreOptions
	return &cli.Command{
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
			"writes the file (stdout, or --output FILE, never overwritten) only if V would restore it:\n" +
			"installers before 6.2 have no answer-file restore, 8.0 and later skip backups older than\n" +
			"XenServer 7.0, and an unknown verdict is refused too (exit 3, with the reason). More than\n" +
			"one backup on the disk that would (or might) match is refused unless --allow-multiple.\n" +
			"The backup is the only partition carrying .xen-backup-partition, or among several the\n" +
			"root's backup partition; --partition N picks another.\n\n" + exitHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "disk", Destination: &o.Disk, Usage: "the disk that holds the backup partition (`DEV` or image)", Required: true},
			&cli.StringFlag{Name: "for-installer", Destination: &o.ForInstaller, Usage: "the installer `VERSION` that will run the file (e.g. 6.2, 7.1, 8.2); without it only the verdicts are printed"},
			renamedFlag(e, "installer", "for-installer", &o.ForInstaller),
			&cli.IntFlag{Name: "partition", Destination: &o.Partition, Usage: "the backup partition `N` to restore (default: the only one carrying .xen-backup-partition, else the root's backup partition)", HideDefault: true},
			&cli.StringFlag{Name: "as", Destination: &o.As, Usage: "the disk `NAME` written into <backup-disk> (default: the backup's PRIMARY_DISK without /dev/)"},
			&cli.BoolFlag{Name: "allow-multiple", Destination: &o.AllowMultiple, Usage: "write the file although other backups on the disk would (or might) match too: the installer then aborts, before writing anything, unless they are gone when it runs"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &o.To, Usage: "write to `FILE` instead of stdout (never overwrites; needs --for-installer)"},
			renamedFlag(e, "to", "output", &o.To),
		},
		Action: action(0, 0, func(ctx context.Context, _ []string) error { return runAnswerfileRestore(ctx, e, o) }),
	}
}

func runAnswerfileUpgrade(_ context.Context, e *env, o answerfileUpgradeOptions) error {
	doc := &upgradeDoc{Disk: o.As, DiskFrom: "as", PostInstallScript: o.PostInstallScript, AdminInterface: o.AdminInterface,
		File: nilIfEmpty(o.To), DryRun: e.DryRun}
	d := o.Disk
	e.setTarget(mutationTarget{Disk: &d})
	switch {
	case o.As != "":
	case isImageName(o.Disk):
		primary, err := primaryDisk(o.Disk)
		if err != nil {
			return err
		}
		doc.Disk, doc.DiskFrom = answerfile.DiskName(primary), "inventory"
		e.logf("%s is an image: the disk is named %s, as its inventory's PRIMARY_DISK %s records it on the host (--as NAME overrides)", o.Disk, doc.Disk, primary)
	default:
		doc.Disk, doc.DiskFrom = answerfile.DiskName(o.Disk), "disk"
	}
	var err error
	if doc.SourceType, doc.Source, err = answerfile.SourceFor(o.Source); err != nil {
		return xerr.Invalid(err)
	}
	u := answerfile.Upgrade{Disk: doc.Disk, SourceType: doc.SourceType, Source: doc.Source,
		PostInstallScript: o.PostInstallScript, AdminInterface: o.AdminInterface}
	xml, err := u.Marshal()
	if err != nil {
		if doc.DiskFrom == "inventory" {
			err = fmt.Errorf("the inventory's PRIMARY_DISK of %s: %w (add --as NAME)", o.Disk, err)
		}
		return xerr.Invalid(err)
	}
	doc.XML = string(xml)
	if _, err := e.saveAnswerfile(o.To, xml, fmt.Sprintf("upgrade of %s from %s", u.Disk, strings.TrimSpace(u.SourceType+" "+u.Source))); err != nil {
		return err
	}
	return e.emitMutation(nil, doc, printAnswerfile(o.To, e.DryRun, xml))
}

func runAnswerfileRestore(_ context.Context, e *env, o answerfileRestoreOptions) error {
	if o.Partition < 0 {
		return usagef("xsrescue answerfile restore: --partition %d: want a partition number", o.Partition)
	}
	if o.To != "" && o.ForInstaller == "" {
		return usagef("xsrescue answerfile restore: --output needs --for-installer V: whether the answer file works depends on the installer that runs it (without --for-installer every installer's verdict is printed)")
	}
	var in *versionfile.Installer
	if o.ForInstaller != "" {
		i, err := versionfile.LookupInstaller(o.ForInstaller)
		if err != nil {
			return xerr.Invalid(fmt.Errorf("--for-installer: %w", err))
		}
		in = &i
	}
	d, err := partition.InspectPath(o.Disk, partition.OpenOptions{Markers: true})
	if err != nil {
		return err
	}
	plan, err := answerfile.PlanRestore(d, o.Partition, o.As, versionfile.Installers())
	if err != nil {
		return err
	}
	if plan.DiskFrom == "inventory" {
		e.logf("backup on partition %d (%s): <backup-disk> is %s, its PRIMARY_DISK %s without /dev/ (--as NAME overrides)", plan.Partition, plan.Chosen, plan.BackupDisk, plan.PrimaryDisk)
	}
	doc := &restoreDoc{RestorePlan: plan, DryRun: e.DryRun}
	disk, part := o.Disk, plan.Partition
	e.setTarget(mutationTarget{Disk: &disk, Partition: &part})
	if in == nil {
		return e.emitMutation(nil, doc, func(w io.Writer) error { return renderRestore(w, plan) })
	}
	doc.Installer = &in.Release.Product
	v, err := plan.Check(*in, o.AllowMultiple)
	doc.Verdict = &v
	if err != nil {
		if e.JSON {
			// The verdict that refuses is in the document, with the error.
			mdoc := e.mutationDocument([]string{err.Error()}, doc)
			mdoc.Error = newErrorInfo(err)
			if eerr := e.emit(mdoc, nil); eerr != nil {
				return eerr
			}
		}
		return err
	}
	return e.writeRestore(doc, o.To, v)
}

// writeRestore writes the answer file of a restore the installer would
// make: the verdict and warnings on stderr, the file to --to or stdout.
func (e *env) writeRestore(doc *restoreDoc, to string, v answerfile.Verdict) error {
	p := doc.RestorePlan
	e.logf("the %s installer: %s: %s", v.Installer, v.Status, v.Reason)
	for _, w := range p.Warnings {
		e.logf("warning: %s", w)
	}
	if p.Host.Status == answerfile.HostSame || p.Host.Status == answerfile.HostImage {
		e.logf("%s", p.Host.Message)
	}
	xml, err := (&answerfile.Restore{BackupDisk: p.BackupDisk}).Marshal()
	if err != nil {
		return err
	}
	s := string(xml)
	doc.XML, doc.File = &s, nilIfEmpty(to)
	if doc.Written, err = e.saveAnswerfile(to, xml, fmt.Sprintf("restore of the backup on partition %d by the %s installer", p.Partition, v.Installer)); err != nil {
		return err
	}
	return e.emitMutation(nil, doc, printAnswerfile(to, e.DryRun, xml))
}

// saveAnswerfile writes doc to the new file to (nothing for to ""), with
// the rules of every answer file: never over a different file, "already as
// requested" for the same bytes, nothing on a dry run. written says
// whether the file was created now.
func (e *env) saveAnswerfile(to string, doc []byte, what string) (written bool, err error) {
	if to == "" {
		return false, nil
	}
	same, err := checkNew(to, doc)
	switch {
	case err != nil:
		return false, err
	case same:
		e.logf("%s already holds this answer file: already as requested", to)
	case e.DryRun:
		e.addAnswerfile(to, doc, what)
		e.logf("dry run: nothing was written (%s would get the answer file below, %d bytes)", to, len(doc))
	default:
		if err := writeNew(to, doc); err != nil {
			return false, err
		}
		e.addAnswerfile(to, doc, what)
		e.logf("wrote %s (%s)", to, what)
		return true, nil
	}
	return false, nil
}

// addAnswerfile records the new answer file in the mutation document.
func (e *env) addAnswerfile(to string, doc []byte, what string) {
	sum := sha256.Sum256(doc)
	after := hex.EncodeToString(sum[:])
	d := udiff.Unified("/dev/null", "b/"+absPath(to), "", string(doc))
	e.addChange(mutationChange{Path: absPath(to), Action: plan.Create, Why: "the answer file for the " + what, Diff: &d,
		AfterSHA256: &after, Description: fmt.Sprintf("create %s (%d bytes)", absPath(to), len(doc))})
}

// primaryDisk reads the PRIMARY_DISK of the XenServer root on the image
// (read-only, as disk inspect does). The installer records the disk it
// installed to there (its by-id name when it has one) and, given that name
// in <existing-installation>, finds the installation on the host's disk
// (docs/answerfile.md). Anything that leaves it unknown is invalid input
// asking for --as.
func primaryDisk(disk string) (string, error) {
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
