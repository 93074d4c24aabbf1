package journal

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"

	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// maxDiff is the largest file shown as a text diff; larger or binary
// content is described by size and hash.
const maxDiff = 4 << 20

// Render writes the plan as a unified diff (text files) or a one-line
// description (nodes, links, binaries) without touching anything. A streamed
// content (a rewrite too large for memory) is not produced here: the caller
// already reported what it changes, and producing it twice more (once to
// show its hash, once to write it) would double the cost of the command; its
// hash is computed while it is staged and shown with the result.
//
// The first Render or Describe of a plan records the state of every path it
// starts from; Apply refuses (ErrChangedSincePlanned, exit 3) to change
// anything if the target no longer shows exactly that.
func Render(w io.Writer, root *target.Root, p *plan.Plan) error {
	steps, err := prepareShown(root, p)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if err := renderStep(w, root, s); err != nil {
			return err
		}
	}
	return nil
}

// Describe returns the changes plan would make, as Apply's result lists
// them, without touching anything (for a --dry-run --json document). A
// streamed content is not produced: its after_sha256 is empty, and so is
// the before_sha256 of the file it replaces.
func Describe(root *target.Root, p *plan.Plan) ([]plan.ChangeResult, error) {
	steps, err := prepareShown(root, p)
	if err != nil {
		return nil, err
	}
	out := []plan.ChangeResult{}
	for _, s := range steps {
		out = append(out, s.result())
	}
	return out, nil
}

func renderStep(w io.Writer, root *target.Root, s *step) error {
	fmt.Fprintf(w, "# %d. %s\n", s.seq, s.describe())
	if s.c.Why != "" {
		fmt.Fprintf(w, "#    why: %s\n", s.c.Why)
	}
	var old, new []byte
	switch s.c.Kind {
	case plan.RawWrite:
		return renderRaw(w, s)
	case plan.Write, plan.Create:
		if s.c.Stream != nil || s.before.Size > maxDiff || len(s.c.Content) > maxDiff {
			break
		}
		if s.c.Kind == plan.Write {
			r, err := openAt(root, s.path)
			if err != nil {
				return err
			}
			old, err = io.ReadAll(io.LimitReader(r, maxDiff+1))
			r.Close()
			if err != nil {
				return fmt.Errorf("read %s: %w", s.path, err)
			}
		}
		new = s.c.Content
		if isText(old) && isText(new) {
			from := "a/" + s.path
			if s.c.Kind == plan.Create {
				from = "/dev/null"
			}
			_, err := io.WriteString(w, udiff.Unified(from, "b/"+s.path, string(old), string(new)))
			return err
		}
	default:
		return nil
	}
	if s.c.Stream != nil {
		_, err := fmt.Fprintf(w, "#    rewritten as a stream: both sha256 are taken while it is applied (snapshot, write)\n")
		return err
	}
	_, err := fmt.Fprintf(w, "#    binary or large: sha256 %s -> %s\n", orNone(s.before.SHA256), orNone(s.after.SHA256))
	return err
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
