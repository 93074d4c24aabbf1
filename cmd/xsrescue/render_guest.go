package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xsrescue/xsrescue/guestfix"
)

// guestCheckDoc is the JSON document of `guest check` (docs/json.md).
type guestCheckDoc struct {
	Root         string  `json:"root"`
	Disk         string  `json:"disk,omitempty"`
	Partition    int     `json:"partition,omitempty"`
	DomainConfig *string `json:"domain_config"`
	*guestfix.Report
	Clean bool `json:"clean"`
	// Error is the error the command exits with after the document: a
	// malformed guest file (exit 2).
	Error *errorInfo `json:"error,omitempty"`
}

// guestFixDoc is the "details" of `guest fix`'s mutation document
// (docs/json.md).
type guestFixDoc struct {
	// DomainConfig is the domain config file fixed beside the guest, null
	// when none was given; its changes are in the document's changes
	// under this absolute path.
	DomainConfig *string            `json:"domain_config"`
	Manual       []guestfix.Finding `json:"manual"`

	changed bool     // anything was (or would be) changed
	broken  []string // broken findings no change addresses
}

func renderGuestCheck(w io.Writer, doc *guestCheckDoc) error {
	where := doc.Root
	if doc.Disk != "" {
		where = fmt.Sprintf("%s partition %d", doc.Disk, doc.Partition)
	}
	hk, vcpus := doc.HostKernel, "unknown"
	if hk == "" {
		hk = "unknown"
	}
	if doc.VCPUs > 0 {
		vcpus = fmt.Sprint(doc.VCPUs)
	}
	fmt.Fprintf(w, "guest root: %s\ninit: %s   host kernel: %s   vCPUs: %s\n", where, doc.Init, hk, vcpus)
	fmt.Fprintf(w, "kernels in boot/: %s\nkernels in lib/modules/: %s\n\n", strings.Join(doc.Kernels.Boot, " "), strings.Join(doc.Kernels.Modules, " "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	count := map[guestfix.Severity]int{}
	for _, f := range doc.Findings {
		count[f.Severity]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), f.ID, f.Evidence)
	}
	tw.Flush()
	for _, n := range doc.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "\n%d broken, %d warn, %d ok", count[guestfix.Broken], count[guestfix.Warn], count[guestfix.OK])
	if !doc.Clean {
		fmt.Fprint(w, " (xsrescue guest fix applies what can be automated; --dry-run shows it first)")
	}
	fmt.Fprintln(w)
	return nil
}

func (doc *guestFixDoc) render(w io.Writer) error {
	if len(doc.Manual) == 0 {
		return nil
	}
	if doc.changed || len(doc.broken) == 0 {
		fmt.Fprintln(w, "not fixed automatically:")
	} else {
		fmt.Fprintln(w, "Nothing was changed; left to do by hand:")
	}
	for _, f := range doc.Manual {
		fmt.Fprintf(w, "  %s %s: %s\n", strings.ToUpper(string(f.Severity)), f.ID, f.Evidence)
	}
	return nil
}
