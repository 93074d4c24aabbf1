package odm

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/xsrescue/xsrescue/internal/shquote"
	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/target"
)

// Load reads the odmget dumps of dir (--odm) and builds the model; a
// malformed or missing dump is invalid input (exit 2).
func Load(dir string) (*Dumps, *Model, error) {
	root, err := target.OpenRoot(dir)
	if err != nil {
		return nil, nil, xerr.Invalid(err)
	}
	defer root.Close()
	dumps, err := LoadDumps(root.FS(), root.Dir())
	if err != nil {
		return nil, nil, invalid(err)
	}
	m, err := dumps.Model()
	if err != nil {
		return nil, nil, invalid(err)
	}
	return dumps, m, nil
}

func invalid(err error) error {
	if errors.Is(err, ErrSyntax) || errors.Is(err, fs.ErrNotExist) {
		return xerr.Invalid(err)
	}
	return err
}

// ParseListingFile reads --dev-listing, an `ls -l /dev` taken on AIX.
func ParseListingFile(r fs.File, name string) ([]Node, error) {
	nodes, err := ParseListing(r, name)
	if err != nil {
		return nil, invalid(err)
	}
	return LookedAt(nodes), nil
}

// LookedAt marks a /dev that was scanned (or listed) and held no node: for
// Analyze, nil means /dev was not looked at.
func LookedAt(nodes []Node) []Node {
	if nodes == nil {
		return []Node{}
	}
	return nodes
}

// DevRoot splits --dev into the root that holds it (its parent, taken as
// the AIX root for symlinks) and its name there.
func DevRoot(dev string) (root, name string, err error) {
	abs, err := filepath.Abs(dev)
	if err != nil {
		return "", "", xerr.Invalid(err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", "", xerr.Invalidf("--dev: %w", err)
	}
	if !st.IsDir() {
		return "", "", xerr.Invalidf("--dev %s: not a directory (use --dev-listing for an ls -l listing)", dev)
	}
	if abs == "/" {
		return "", "", xerr.Invalidf("--dev /: give the dev directory of the AIX root")
	}
	return filepath.Dir(abs), filepath.Base(abs), nil
}

// ScanDevDir scans --dev (ScanDev) and returns the root that holds it too.
// For a purge it first refuses the rescue system's own /dev, whatever its
// path (CheckNotLiveDev), and a --dev whose root is the rescue system's.
func ScanDevDir(dev string, forPurge bool) (string, []Node, error) {
	parent, name, err := DevRoot(dev)
	if err != nil {
		return "", nil, err
	}
	root, err := target.OpenRoot(parent)
	if err != nil {
		return "", nil, xerr.Invalid(err)
	}
	defer root.Close()
	if forPurge {
		if err := CheckNotLiveDev(root, name); err != nil {
			return "", nil, err
		}
		if err := target.RefuseLiveRoot(parent, "--dev "+dev+": its root "+parent, "give the dev directory of the mounted AIX root, not one of the rescue system"); err != nil {
			return "", nil, err
		}
	}
	nodes, err := ScanDev(root, name)
	return parent, LookedAt(nodes), err
}

// OutDir is the --output directory of a purge: the files it writes go there,
// and only there.
type OutDir struct {
	Dir string // absolute
	// Missing: it does not exist yet (its parent does); the purge creates
	// it once confirmed, never on a dry run.
	Missing bool
	// Created: this purge created it (Missing until then), so the op
	// writing into it records that, and its undo removes it once empty.
	Created bool
	// Found holds the purge files already in it (an earlier run of the
	// purge): their content by name.
	Found map[string][]byte
}

// CheckOut checks --output: an existing directory, or a new one whose parent
// exists (Missing).
func CheckOut(out string) (*OutDir, error) {
	dir, err := filepath.Abs(out)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && st.IsDir():
		return &OutDir{Dir: dir, Found: map[string][]byte{}}, nil
	case err == nil:
		return nil, xerr.Invalidf("--output %s: not a directory", out)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, xerr.Invalidf("--output %s: %w", out, err)
	}
	parent := filepath.Dir(dir)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return nil, xerr.Invalidf("--output %s: its parent %s is not an existing directory (only --output itself is created)", out, parent)
	}
	return &OutDir{Dir: dir, Missing: true, Found: map[string][]byte{}}, nil
}

// Inside reports whether the --output directory lies inside the AIX root
// rootDir, and where.
func (o *OutDir) Inside(rootDir string) (rel string, ok bool) {
	rel, err := filepath.Rel(rootDir, o.Dir)
	return filepath.ToSlash(rel), err == nil && filepath.IsLocal(rel)
}

// Files are the paths of the files a purge writes into it.
func (o *OutDir) Files() []string {
	var files []string
	for _, name := range OutFiles {
		files = append(files, filepath.Join(o.Dir, name))
	}
	return files
}

// Read reads the purge files already in an existing --output (Found), once it
// is locked. Anything else in it is refused (exit 3): a purge writes into a
// directory of its own, so that nothing there is mistaken for its output,
// or lost.
func (o *OutDir) Read() error {
	if o.Missing {
		return nil
	}
	found, err := readOutFiles(o.Dir)
	if err != nil {
		return err
	}
	o.Found = found
	return nil
}

func readOutFiles(outDir string) (map[string][]byte, error) {
	dir, err := os.OpenRoot(outDir)
	if err != nil {
		return nil, xerr.Invalidf("--output %s: %w", outDir, err)
	}
	defer dir.Close()
	d, err := dir.Open(".")
	if err != nil {
		return nil, xerr.Invalidf("--output %s: %w", outDir, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, xerr.Invalidf("--output %s: %w", outDir, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(OutFiles, name) {
			return nil, xerr.Refusedf("--output %s already holds %s, which this purge does not write: choose an empty or a new directory", outDir, name)
		}
	}
	found := map[string][]byte{}
	for _, name := range OutFiles {
		fi, err := dir.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
			return nil, xerr.Refusedf("--output %s already holds %s, which is not a file this purge wrote: choose an empty directory", outDir, name)
		}
		if found[name], err = dir.ReadFile(name); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// checkDone reports whether an earlier run of this purge is complete: the
// --output files are exactly what it writes and the /dev entries of its
// majors are gone (then the run is "already as requested"). --output files
// that are not this purge's are refused (exit 3), naming the file.
func (p *Purge) checkDone(out *OutDir, majors []Major) (bool, error) {
	found := out.Found
	if len(found) == 0 {
		return false, nil
	}
	first := slices.Sorted(maps.Keys(found))[0]
	if len(p.Nodes) > 0 {
		return false, xerr.Refusedf("--output %s already holds %s and the ghost /dev entries are not removed yet: choose an empty directory", out.Dir, first)
	}
	earlier, name := p.CheckOutFiles(found)
	_, exists := found[name]
	switch {
	case name != "" && !exists:
		return false, xerr.Refusedf("--output %s holds %s but not %s: choose an empty directory", out.Dir, first, name)
	case name != "":
		return false, xerr.Refusedf("--output %s already holds %s, which differs from what this purge writes: choose an empty directory", out.Dir, name)
	}
	for _, r := range majors {
		if slices.Contains(earlier.Majors, r.Major) && len(r.Nodes) > 0 {
			return false, xerr.Refusedf("--output %s holds the files of a purge of major(s) %s, but /%s (major %d) is back: choose an empty directory", out.Dir, JoinMajors(earlier.Majors), r.Nodes[0].Path, r.Major)
		}
	}
	return true, nil
}

// PurgeOp is one journal op of a purge: a plan on the root at Dir.
type PurgeOp struct {
	Dir  string
	Plan *plan.Plan
}

// Ops splits the purge into journal ops. When --output lies inside the AIX
// root (rootDir) it is one op; otherwise two: the --output files first (on
// --output as a root of its own), then the /dev nodes. Both are recorded in
// the AIX root's journal, never in --output. A --output that does not exist yet
// (a dry run: the journal shows changes only in directories that exist)
// gives the node op alone; the caller shows the new files.
func (p *Purge) Ops(rootDir string, out *OutDir) []PurgeOp {
	nodes := PurgeOp{rootDir, &plan.Plan{Command: "odm purge (nodes)", Changes: p.NodeChanges()}}
	if out.Missing {
		return []PurgeOp{nodes}
	}
	if rel, inside := out.Inside(rootDir); inside {
		changes := append(out.created(rel), p.OutChanges(rel)...)
		changes = append(changes, p.NodeChanges()...)
		return []PurgeOp{{rootDir, &plan.Plan{Command: "odm purge", Changes: changes}}}
	}
	changes := append(out.created("."), p.OutChanges(".")...)
	return []PurgeOp{{out.Dir, &plan.Plan{Command: "odm purge (out files)", Changes: changes}}, nodes}
}

// created is the record that this purge created the directory (none when
// it existed before), rel its path in the op's target.
func (o *OutDir) created(rel string) []plan.Change {
	if !o.Created {
		return nil
	}
	return []plan.Change{CreatedChange(o.Dir, rel)}
}

// CreatedWhy is why the record of a new --output is in the plan.
const CreatedWhy = "--output did not exist: created for the purge"

// CreatedChange records a new --output dir as rel in its op's target (a
// dry run shows it before the directory exists).
func CreatedChange(dir, rel string) plan.Change {
	return plan.Change{Kind: plan.External, Path: rel, Why: CreatedWhy,
		External: &plan.ExternalRecord{Type: plan.DirCreated, Name: dir, Rollback: "rmdir -- " + shquote.Quote(dir)}}
}
