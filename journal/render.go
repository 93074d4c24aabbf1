package journal

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"

	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// maxDiff is the largest file shown as a text diff; larger or binary
// content is described by size and hash.
const maxDiff = 4 << 20

// Shown is one change of a plan as Render shows it: what Apply's result
// will list, why, and the diff the text output prints.
type Shown struct {
	plan.ChangeResult
	Seq int
	Why string
	// Diff is the unified diff of a text file's content (for a
	// raw-write, the table before and after), nil where there is no text
	// to compare: binary or large content, a streamed rewrite, a node, a
	// link, a rename, a mode or owner change.
	Diff *string
	// Note is what the text output says in place of a diff ("" for none).
	Note string
}

// Show returns the plan's changes as Render shows them, without touching
// anything. A streamed content (a rewrite too large for memory) is not
// produced here: the caller already reported what it changes, and
// producing it twice more (once to show its hash, once to write it) would
// double the cost of the command; its hash is computed while it is staged
// and shown with the result (its before_sha256 and after_sha256 are empty
// here).
//
// The first Show, Render or Describe of a plan records the state of every
// path it starts from; Apply refuses (ErrChangedSincePlanned, exit 3) to
// change anything if the target no longer shows exactly that.
func Show(root *target.Root, p *plan.Plan) ([]Shown, error) {
	steps, err := prepareShown(root, p)
	if err != nil {
		return nil, err
	}
	out := make([]Shown, 0, len(steps))
	for _, s := range steps {
		sh, err := showStep(root, s)
		if err != nil {
			return nil, err
		}
		out = append(out, sh)
	}
	return out, nil
}

// Render writes the plan as a unified diff (text files) or a one-line
// description (nodes, links, binaries) without touching anything (Show).
func Render(w io.Writer, root *target.Root, p *plan.Plan) error {
	shown, err := Show(root, p)
	if err != nil {
		return err
	}
	return WriteShown(w, shown)
}

// WriteShown writes shown changes as Render does.
func WriteShown(w io.Writer, shown []Shown) error {
	for _, s := range shown {
		fmt.Fprintf(w, "# %d. %s\n", s.Seq, s.Description)
		if s.Why != "" {
			fmt.Fprintf(w, "#    why: %s\n", s.Why)
		}
		if s.Diff != nil {
			d := *s.Diff
			if d != "" && !strings.HasSuffix(d, "\n") {
				d += "\n"
			}
			if _, err := io.WriteString(w, d); err != nil {
				return err
			}
		}
		if s.Note != "" {
			if _, err := fmt.Fprintf(w, "#    %s\n", s.Note); err != nil {
				return err
			}
		}
	}
	return nil
}

// Describe returns the changes plan would make, as Apply's result lists
// them, without touching anything (Show without the diffs).
func Describe(root *target.Root, p *plan.Plan) ([]plan.ChangeResult, error) {
	shown, err := Show(root, p)
	if err != nil {
		return nil, err
	}
	out := []plan.ChangeResult{}
	for _, s := range shown {
		out = append(out, s.ChangeResult)
	}
	return out, nil
}

func showStep(root *target.Root, s *step) (Shown, error) {
	sh := Shown{ChangeResult: s.result(), Seq: s.seq, Why: s.c.Why}
	var old, new []byte
	switch s.c.Kind {
	case plan.RawWrite:
		if d := s.c.Raw.Diff; d != "" {
			sh.Diff = &d
		}
		sh.Note = fmt.Sprintf("bytes: sha256 %s -> %s", s.before.SHA256, s.after.SHA256)
		return sh, nil
	case plan.Write, plan.Create:
		if s.c.Stream != nil || s.before.Size > maxDiff || len(s.c.Content) > maxDiff {
			break
		}
		if s.c.Kind == plan.Write {
			r, err := openAt(root, s.path)
			if err != nil {
				return sh, err
			}
			old, err = io.ReadAll(io.LimitReader(r, maxDiff+1))
			r.Close()
			if err != nil {
				return sh, fmt.Errorf("read %s: %w", s.path, err)
			}
		}
		new = s.c.Content
		if isText(old) && isText(new) {
			from := "a/" + s.path
			if s.c.Kind == plan.Create {
				from = "/dev/null"
			}
			d := udiff.Unified(from, "b/"+s.path, string(old), string(new))
			sh.Diff = &d
			return sh, nil
		}
	default:
		return sh, nil
	}
	if s.c.Stream != nil {
		sh.Note = "rewritten as a stream: both sha256 are taken while it is applied (snapshot, write)"
		return sh, nil
	}
	sh.Note = fmt.Sprintf("binary or large: sha256 %s -> %s", orNone(s.before.SHA256), orNone(s.after.SHA256))
	return sh, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func isText(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsRune(b, 0)
}
