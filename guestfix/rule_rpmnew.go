package guestfix

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// rpmnew: rpm leaves a package's new config as NAME.rpmnew next to an edited
// NAME (and the old one as NAME.rpmsave when it replaces it). Merging them
// takes judgement, so they are only listed, with what differs.
func (g *guest) rpmnew() (outcome, error) {
	const rule = "rpmnew"
	var o outcome
	err := g.root.WalkDir("etc", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "etc" && errorsIsNotExist(err) {
				return fs.SkipDir
			}
			return fmt.Errorf("guest %s: %w", p, err)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var base string
		switch {
		case strings.HasSuffix(p, ".rpmnew"):
			base = strings.TrimSuffix(p, ".rpmnew")
		case strings.HasSuffix(p, ".rpmsave"):
			base = strings.TrimSuffix(p, ".rpmsave")
		default:
			return nil
		}
		summary, err := g.compare(base, p)
		switch {
		case o.refuse(base, err):
			return nil
		case err != nil:
			return err
		}
		o.findings = append(o.findings, finding(rule, p, Warn, "%s %s; merge by hand", p, summary))
		return nil
	})
	if err != nil {
		return o, err
	}
	if len(o.findings)+len(o.problems) == 0 {
		o.findings = append(o.findings, finding(rule, "", OK, "no .rpmnew or .rpmsave files under etc"))
	}
	return o, nil
}

// compare summarises in one line how other differs from base.
func (g *guest) compare(base, other string) (string, error) {
	a, _, ok, err := g.read(base)
	if err != nil {
		return "", err
	}
	if !ok {
		return "(" + base + " does not exist)", nil
	}
	b, _, _, err := g.read(other)
	if err != nil {
		return "", err
	}
	return DiffSummary(base, string(a), string(b)), nil
}

// DiffSummary describes in one line the line changes from a (the file
// called name) to b.
func DiffSummary(name, a, b string) string {
	edits := udiff.Lines(a, b)
	if len(edits) == 0 {
		return "is identical to " + name
	}
	added, removed := 0, 0
	for _, e := range edits {
		removed += countLines(a[e.Start:e.End])
		added += countLines(e.New)
	}
	first := strings.Count(a[:edits[0].Start], "\n") + 1
	return fmt.Sprintf("vs %s: %s added, %d removed, first difference at line %d", name, plural(added, "line"), removed, first)
}

func countLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
