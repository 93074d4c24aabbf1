package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/xsrescue/xsrescue/answerfile"
)

// upgradeDoc is the "details" of answerfile upgrade's mutation document
// (docs/json.md).
type upgradeDoc struct {
	AdminInterface    string  `json:"admin_interface"`
	Disk              string  `json:"disk"`
	DiskFrom          string  `json:"disk_from"` // as, disk or inventory
	DryRun            bool    `json:"-"`
	File              *string `json:"file"`
	PostInstallScript string  `json:"post_install_script"`
	Source            string  `json:"source"`
	SourceType        string  `json:"source_type"`
	XML               string  `json:"xml"`
}

// restoreDoc is the "details" of answerfile restore's mutation document
// (docs/json.md).
type restoreDoc struct {
	*answerfile.RestorePlan
	Installer *string             `json:"installer"`
	Verdict   *answerfile.Verdict `json:"verdict"`
	File      *string             `json:"file"`
	XML       *string             `json:"xml"`
	Written   bool                `json:"written"`
	DryRun    bool                `json:"-"`
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
