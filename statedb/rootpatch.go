package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/plan"
	"github.com/xsrescue/xsrescue/versionfile"
)

// RootFS is an offline root that can also open files for streaming
// (*target.Root).
type RootFS interface {
	FS
	Open(name string) (fs.File, error)
}

// AsideSuffix is appended to competing database files set aside by a patch.
const AsideSuffix = ".xsrescue-aside"

// RootPatch is the whole change for one database inside a root: the
// rewritten file, its .generation, and the competitors set aside.
type RootPatch struct {
	Path        string     `json:"path"`
	Compressed  bool       `json:"compressed"`
	Source      *Summary   `json:"-"`
	Patch       *Patch     `json:"patch"`
	Competitors []SideFile `json:"competitors"` // files xapi would load instead of the patched one
	SetAside    bool       `json:"set_aside"`
	Plan        *plan.Plan `json:"-"`
}

// ScanFile summarises the database at path inside root.
func ScanFile(root RootFS, path string) (*Summary, error) { return scanFile(root, path, Options{}) }

func scanFile(root RootFS, path string, o Options) (*Summary, error) {
	f, err := root.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ScanOptions(f, o)
	if err != nil {
		return nil, xerr.Invalid(fmt.Errorf("/%s: %w", path, err))
	}
	return s, nil
}

// PlanRoot plans patching the database at path (usually loc.Loads) inside
// root for t. On a refusal to drop data it returns the RootPatch (without a
// Plan) along with the error, so that the caller can show what would be lost. With setAside, competitors that would be loaded instead of the
// patched file are renamed to *.xsrescue-aside (with their .generation).
func PlanRoot(root RootFS, loc *Location, path string, t Target, o PatchOptions, setAside bool) (*RootPatch, error) {
	src, err := scanFile(root, path, o.Reader)
	if err != nil {
		return nil, err
	}
	oldGen, err := root.ReadFile(path + GenSuffix)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("/%s%s: %w", path, GenSuffix, err)
	}
	hadGen := err == nil
	if g, err := strconv.ParseInt(strings.TrimSpace(string(oldGen)), 10, 64); err == nil {
		o.Generation = g
	}
	p, err := PlanPatch(src, t, o)
	if p == nil {
		return nil, err
	}
	rp := &RootPatch{Path: path, Compressed: src.Compressed, Source: src, Patch: p, SetAside: setAside, Competitors: []SideFile{}}
	if err != nil {
		return rp, err // a refusal: the patch says what would be lost
	}
	if loc != nil {
		rp.Competitors = append(rp.Competitors, loc.Competitors(path, max(p.Generation, o.Generation))...)
	}
	pl := &plan.Plan{Command: "statedb patch"}
	if !p.Empty() {
		why := fmt.Sprintf("schema 5.%d -> 5.%d", p.FromSchema, p.ToSchema)
		if n := len(p.DropTables) + len(p.DropColumns); n > 0 {
			why += fmt.Sprintf(", %d table(s)/column(s) dropped", n)
		}
		pl.Changes = append(pl.Changes, plan.Change{
			Kind: plan.Write, Path: path, Why: why,
			Stream: p.Stream(func() (io.ReadCloser, error) { return root.Open(path) }, src.Compressed),
		})
	}
	gen := []byte(strconv.FormatInt(p.Generation, 10))
	switch {
	case !hadGen:
		pl.Changes = append(pl.Changes, plan.Change{Kind: plan.Create, Path: path + GenSuffix, Content: gen, Mode: 0o600, UID: -1, GID: -1,
			Why: "xapi compares .generation files to choose the database (no trailing newline)"})
	case o.Generation < p.Generation || !bytes.Equal(oldGen, gen) && o.Generation == p.Generation:
		// Never lowered: a lower .generation could hand the load to a competitor.
		pl.Changes = append(pl.Changes, plan.Change{Kind: plan.Write, Path: path + GenSuffix, Content: gen,
			Why: "match generation_count, no trailing newline"})
	}
	if setAside {
		for _, c := range rp.Competitors {
			pl.Changes = append(pl.Changes, plan.Change{Kind: plan.Rename, Path: c.Path, NewPath: c.Path + AsideSuffix,
				Why: fmt.Sprintf("%s would be loaded instead of the patched /%s", c.Role, path)})
			if _, err := root.Stat(c.Path + GenSuffix); err == nil {
				pl.Changes = append(pl.Changes, plan.Change{Kind: plan.Rename, Path: c.Path + GenSuffix, NewPath: c.Path + GenSuffix + AsideSuffix})
			}
		}
	}
	rp.Plan = pl
	return rp, nil
}

// HostKeys reads the host-specific values of an old (12-pair) manifest from a
// root: installation_uuid and control_domain_uuid from the inventory,
// pool_conf from etc/xensource/pool.conf, pool_token from
// etc/xensource/ptoken. A key the root does not give is left out of values
// and named in missing with the file and what is needed from it.
func HostKeys(root FS) (values, missing map[string]string, err error) {
	values, missing = map[string]string{}, map[string]string{}
	invKeys := map[string]string{"installation_uuid": "INSTALLATION_UUID", "control_domain_uuid": "CONTROL_DOMAIN_UUID"}
	data, err := root.ReadFile(versionfile.InventoryPath)
	switch {
	case err == nil:
		inv, err := versionfile.ParseInventory(bytes.NewReader(data), "/"+versionfile.InventoryPath)
		if err != nil {
			return nil, nil, xerr.Invalid(err)
		}
		for key, name := range invKeys {
			if v := inv.Value(name); v != "" {
				values[key] = v
			} else {
				missing[key] = fmt.Sprintf("/%s has no %s", versionfile.InventoryPath, name)
			}
		}
	case errors.Is(err, fs.ErrNotExist):
		for key, name := range invKeys {
			missing[key] = fmt.Sprintf("the root has no /%s (its %s is needed)", versionfile.InventoryPath, name)
		}
	default:
		return nil, nil, err
	}
	for key, p := range map[string]string{"pool_conf": "etc/xensource/pool.conf", "pool_token": "etc/xensource/ptoken"} {
		data, err := root.ReadFile(p)
		switch {
		case err == nil:
			values[key] = strings.TrimSpace(string(data))
		case errors.Is(err, fs.ErrNotExist):
			missing[key] = fmt.Sprintf("the root has no /%s (its content is needed)", p)
		default:
			return nil, nil, err
		}
	}
	return values, missing, nil
}

// PatchRequest is what `statedb patch` is asked to do.
type PatchRequest struct {
	// File is a plain database FILE: the root is its directory and File
	// its name there. Empty: the root is a XenServer root, and the
	// database patched is the one xapi loads (Location.PatchTarget) or In.
	File string
	// In is --file: the database inside the root to patch instead.
	In       string
	Target   Target
	Options  PatchOptions
	SetAside bool
}

// PlanPatchIn plans `statedb patch` on an opened root named name (the
// FILE as the user gave it, or the target's name). In a XenServer root it
// finds the database xapi loads and fills the host-specific pairs an old
// manifest needs (HostKeys); a plain FILE is patched as it is. On a
// refusal to drop data it returns the RootPatch along with the error, as
// PlanRoot does.
func PlanPatchIn(root RootFS, name string, req PatchRequest) (*RootPatch, error) {
	if req.File != "" {
		rp, err := PlanRoot(root, nil, req.File, req.Target, req.Options, req.SetAside)
		if se := (*SyntaxError)(nil); errors.As(err, &se) {
			// PlanRoot names the file inside its root ("/x.db"); FILE is
			// named as the user gave it.
			err = xerr.Invalid(fmt.Errorf("%s: %w", name, se))
		}
		return rp, err
	}
	loc, err := Locate(root)
	if err != nil {
		return nil, xerr.Invalid(err)
	}
	path := strings.TrimPrefix(req.In, "/")
	if path == "" {
		path = loc.PatchTarget()
	}
	if path == "" {
		return nil, xerr.Invalidf("%s: no xapi database: %s", name, loc.Reason)
	}
	t := req.Target
	if t.Host, t.HostMissing, err = HostKeys(root); err != nil {
		return nil, err
	}
	return PlanRoot(root, loc, path, t, req.Options, req.SetAside)
}
