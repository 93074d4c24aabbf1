package ansiblemod

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/internal/shquote"
)

// document is what a module needs from a mutating command's JSON document.
//
// Every mutating verb prints the mutation document (docs/json.md):
// {"schema_version", "changed", "dry_run", "target", "changes": [{"path",
// "action", "why", "diff", "before_sha256", "after_sha256"}], "op", "ops",
// "problems"}, each op with its "undo" argv. Until every verb prints it,
// the documents that came before (legacy: each verb its own fields, the
// undo as a string, no diffs) are read here, and only here.
type document struct {
	doc    map[string]any
	legacy bool
	// changed: the command changed something, or under --dry-run would.
	changed bool
	op      any
	ops     []any
	undo    [][]string // newest op first
	diffs   []Diff
	nchange int
	err     error
}

// planned is the line a dry run of a non-empty plan logs on stderr
// (legacy documents say nothing else about the plan).
var planned = lazyre.New(`dry run: nothing was changed(?: \((\d+) change\(s\) planned)?`)

func readDocument(out output, dryRun bool) *document {
	doc, err := decode(out.stdout)
	d := &document{doc: doc, err: err, ops: []any{}, undo: [][]string{}}
	if doc == nil {
		// journal undo --dry-run --json prints no document at all.
		d.legacy = true
		if dryRun && out.code == 0 {
			d.doc = map[string]any{}
			d.readLegacy(out.stderr, dryRun)
			d.doc = nil
		}
		return d
	}
	if _, ok := doc["schema_version"]; ok {
		if changed, ok := doc["changed"].(bool); ok {
			d.readMutation(changed)
			return d
		}
	}
	d.legacy = true
	d.readLegacy(out.stderr, dryRun)
	return d
}

// readMutation reads the mutation document.
func (d *document) readMutation(changed bool) {
	d.changed = changed
	d.op = d.doc["op"]
	if ops, ok := d.doc["ops"].([]any); ok {
		d.ops = ops
	}
	applied := d.ops
	if len(applied) == 0 && d.op != nil {
		applied = []any{d.op}
	}
	for i := len(applied) - 1; i >= 0; i-- {
		op, _ := applied[i].(map[string]any)
		if argv := stringList(op["undo"]); len(argv) > 0 {
			d.undo = append(d.undo, argv)
		}
	}
	changes, _ := d.doc["changes"].([]any)
	d.nchange = len(changes)
	for _, ch := range changes {
		c, _ := ch.(map[string]any)
		path, _ := c["path"].(string)
		if text, ok := c["diff"].(string); ok && text != "" {
			d.diffs = append(d.diffs, unifiedDiffs(text, path)...)
			continue
		}
		d.diffs = append(d.diffs, Diff{Prepared: described(c, path)})
	}
}

// described is a change without a text diff (binary, large or streamed
// content, a node, a link, a rename) as the text output describes it.
func described(c map[string]any, path string) string {
	what, _ := c["description"].(string)
	if what == "" {
		action, _ := c["action"].(string)
		what = action + " " + path
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", what)
	if why, _ := c["why"].(string); why != "" {
		fmt.Fprintf(&b, "#    why: %s\n", why)
	}
	for _, k := range []string{"before_sha256", "after_sha256"} {
		if sum, _ := c[k].(string); sum != "" {
			fmt.Fprintf(&b, "#    %s %s\n", k, sum)
		}
	}
	return b.String()
}

// readLegacy reads a document from before the mutation document.
func (d *document) readLegacy(stderr string, dryRun bool) {
	if op, ok := d.doc["op"].(map[string]any); ok {
		d.op = op
		d.ops = []any{op}
	}
	if ops, ok := d.doc["ops"].([]any); ok && len(ops) > 0 {
		d.ops = ops
	}
	for i := len(d.ops) - 1; i >= 0; i-- {
		op, _ := d.ops[i].(map[string]any)
		line, _ := op["undo"].(string)
		if line == "" && len(d.ops) == 1 {
			line, _ = d.doc["undo"].(string)
		}
		// Fields, not Split: the line is the command's own undo, written
		// by shquote.Join, and goes back to Ansible as argv, which no
		// shell reads; a byte a shell would treat specially is literal
		// there, so the undo is reported rather than lost.
		if argv := shquote.Fields(line); len(argv) > 0 {
			d.undo = append(d.undo, argv)
		}
		if ch, ok := op["changes"].([]any); ok {
			d.nchange += len(ch)
		}
	}
	switch {
	case !dryRun:
		d.changed = len(d.ops) > 0
	case d.doc["changed_blocks"] != nil:
		// disk restore-partition: the blocks that differ from the image.
		n, _ := d.doc["changed_blocks"].(json.Number).Int64()
		d.changed, d.nchange = n != 0, int(min(n, 1<<30))
	case d.doc["sidecar"] != nil && d.doc["verified"] != nil:
		// disk save-partition: verified is "saved already, and the
		// partition still holds those bytes".
		d.changed = d.doc["verified"] != true
	default:
		// An empty plan logs nothing; a plan logs its size, or (the
		// commands that do not count) only that the dry run changed
		// nothing.
		m := planned().FindStringSubmatch(stderr)
		if m != nil {
			d.nchange = -1 // not counted
			if n, err := strconv.Atoi(m[1]); err == nil {
				d.nchange = n
			}
		}
		d.changed = m != nil && d.nchange != 0
	}
}

// result is the module's result for the command's run.
func (d *document) result(out output, dryRun bool) *Result {
	if out.code != 0 {
		r := failOutput(out, d.doc, d.err)
		// A later op failing after earlier ones applied: what was applied
		// stays reported, with its undo.
		r.Changed, r.Op, r.Ops, r.Undo = len(d.ops) > 0 && !dryRun, d.op, d.ops, d.undo
		return r
	}
	if d.doc == nil && !dryRun {
		return failOutput(output{argv: out.argv, code: 1, stderr: out.stderr}, nil, d.err)
	}
	r := &Result{Changed: d.changed, Rc: out.code, Cmd: out.argv, Op: d.op, Ops: d.ops,
		Undo: d.undo, Stderr: out.stderr}
	if d.doc != nil {
		r.Document = d.doc
	}
	count := ""
	if d.nchange > 0 {
		count = fmt.Sprintf(" (%d change(s))", d.nchange)
	}
	switch {
	case !d.changed:
		r.Msg = "already as requested: nothing to change"
	case dryRun:
		r.Msg = "check mode: would change" + count + "; nothing was written"
	default:
		r.Msg = "changed" + count
		if len(d.undo) > 0 {
			lines := make([]string, len(d.undo))
			for i, u := range d.undo {
				lines[i] = shquote.Join(u)
			}
			r.Msg += "; undo with: " + strings.Join(lines, "; then ")
		}
	}
	return r
}

// legacyDiffs runs the text dry run of argv and takes its diffs: a
// command printing a legacy document has them only in its text output.
func legacyDiffs(ctx context.Context, c *call, argv []string) []Diff {
	out := c.exec(ctx, argv)
	if out.code != 0 {
		return nil
	}
	if d := unifiedDiffs(string(out.stdout), ""); len(d) > 0 {
		return d
	}
	if len(out.stdout) == 0 {
		return nil
	}
	// No file diff in it (a streamed database, a partition image): the
	// command's own account of the plan, as Ansible prints prepared text.
	return []Diff{{Prepared: string(out.stdout)}}
}

var hunkHeader = lazyre.New(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// unifiedDiffs turns unified diff text (one file's, or a plan's text with
// several) into Ansible diff entries, one per hunk: Ansible shows each as a
// diff of its before and after. path names the file when the text has no
// "--- a/PATH" header.
func unifiedDiffs(text, path string) []Diff {
	var out []Diff
	var cur *Diff
	prev := byte(0) // the previous line's kind: ' ', '-' or '+'
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(trimmed, "--- "):
			cur = nil
			path = strings.TrimPrefix(strings.TrimPrefix(trimmed, "--- "), "a/")
			continue
		case strings.HasPrefix(trimmed, "+++ "):
			continue
		case strings.HasPrefix(trimmed, "@@ "):
			m := hunkHeader().FindStringSubmatch(trimmed)
			if m == nil {
				cur = nil
				continue
			}
			out = append(out, Diff{
				BeforeHeader: fmt.Sprintf("%s (from line %s)", path, m[1]),
				AfterHeader:  fmt.Sprintf("%s (from line %s)", path, m[3]),
			})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil || line == "" {
			continue
		}
		switch line[0] {
		case ' ':
			cur.Before += line[1:]
			cur.After += line[1:]
		case '-':
			cur.Before += line[1:]
		case '+':
			cur.After += line[1:]
		case '\\': // "\ No newline at end of file": of the line before
			if prev != '+' {
				cur.Before = strings.TrimSuffix(cur.Before, "\n")
			}
			if prev != '-' {
				cur.After = strings.TrimSuffix(cur.After, "\n")
			}
		default:
			cur = nil // the end of the diff: the plan's next line
		}
		prev = line[0]
	}
	return out
}

// stringList is a JSON list of strings.
func stringList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}
