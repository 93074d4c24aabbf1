package versionfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/release"
	"github.com/xsrescue/xsrescue/target"
)

// MarkerPaths are the files besides the inventory that carry the version,
// in the order they are shown. None of them is read by the installer from
// 2008 on (findXenSourceProducts reads the inventory); they are kept consistent with the inventory.
var MarkerPaths = []string{
	"etc/redhat-release",
	"etc/centos-release",
	"etc/system-release",
	"etc/os-release",
	"etc/issue",
}

// Marker is one marker file as found in a root.
type Marker struct {
	Path           string `json:"path"`
	Resolved       string `json:"resolved"` // the file actually read, after symlinks inside the root
	Value          string `json:"value"`    // the line that carries the version
	ProductVersion string `json:"product_version"`
	BuildNumber    string `json:"build_number"`
	Problem        string `json:"problem,omitempty"` // why the version could not be read
}

// ReleaseLine is "<Brand> release <version>[-<build>] (<name>)", the format
// of redhat-release/centos-release/system-release (docs/version.md).
type ReleaseLine struct {
	Brand, Version, Build, Name string
}

var releaseRE = lazyre.New(`^(.*?) release ([0-9][0-9.]*)(?:-(\S+))? \(([^)]*)\)\s*$`)

// ParseReleaseLine parses the first line of a *-release file.
func ParseReleaseLine(data []byte) (ReleaseLine, bool) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	m := releaseRE().FindSubmatch(line)
	if m == nil {
		return ReleaseLine{}, false
	}
	return ReleaseLine{Brand: string(m[1]), Version: string(m[2]), Build: string(m[3]), Name: string(m[4])}, true
}

// SetReleaseVersion rewrites the version (and the build, where the file
// already carries one: 5.x/6.x style) of a *-release file, keeping every
// other byte.
func SetReleaseVersion(data []byte, version, build string) ([]byte, error) {
	line, rest, hasNL := bytes.Cut(data, []byte("\n"))
	idx := releaseRE().FindSubmatchIndex(line)
	if idx == nil {
		return nil, fmt.Errorf("line 1: %q is not \"<Brand> release <version> (<name>)\"", clip(string(line)))
	}
	end := idx[5]
	if idx[6] >= 0 {
		end = idx[7]
	}
	vb := version
	if idx[6] >= 0 && build != "" {
		vb += "-" + build
	}
	var out bytes.Buffer
	out.Write(line[:idx[4]])
	out.WriteString(vb)
	out.Write(line[end:])
	if hasNL {
		out.WriteByte('\n')
		out.Write(rest)
	}
	return out.Bytes(), nil
}

// versionToken finds dotted versions with an optional build in free text
// (os-release, issue).
var versionToken = lazyre.New(`[0-9]+(?:\.[0-9]+)+(?:-[0-9A-Za-z][0-9A-Za-z./]*[0-9A-Za-z])?`)

// readMarker reads one marker through the root; ok is false when the file
// does not exist. A marker that cannot be read (a symlink loop, a dangling
// link, a FIFO, an I/O error) is listed with its Problem and no data: one
// bad secondary marker must not hide the others.
func readMarker(root *target.Root, p string) (m Marker, data []byte, ok bool) {
	m = Marker{Path: p}
	fi, err := root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil, false
	}
	if err != nil {
		m.Problem = problemText(err)
		return m, nil, true
	}
	resolved, err := root.Resolve(p)
	if err != nil {
		m.Problem = problemText(err)
		return m, nil, true
	}
	m.Resolved = resolved
	if fi.Mode()&fs.ModeSymlink != 0 {
		if _, err := root.Lstat(resolved); errors.Is(err, fs.ErrNotExist) {
			m.Problem = fmt.Sprintf("dangling symlink to %s (nothing there in this root): not read", resolved)
			return m, nil, true
		}
	}
	if !slices.Contains(MarkerPaths, resolved) {
		// A marker linked to anything but another marker (a hostile or
		// broken root: redhat-release -> /etc/shadow) is not read at all.
		m.Problem = fmt.Sprintf("symlink to %s, which is not a version marker: not read", resolved)
		return m, nil, true
	}
	data, err = readSmall(root, resolved)
	if err != nil {
		m.Problem = problemText(err)
		return m, nil, true
	}
	describeMarker(&m, data)
	return m, data, true
}

// problemText is err without the operation and path a PathError repeats
// (the marker's path is shown next to it).
func problemText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error() + ": not read"
}

func describeMarker(m *Marker, data []byte) {
	if bytes.IndexByte(data, 0) >= 0 {
		m.Problem = "contains NUL bytes"
		return
	}
	switch m.Path {
	case "etc/os-release":
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k == "VERSION" {
				m.Value = strings.TrimSpace(line)
				m.ProductVersion = strings.Trim(v, `"'`)
				return
			}
		}
		m.Problem = "no VERSION= line"
	case "etc/issue":
		for line := range strings.Lines(string(data)) {
			if tok := versionToken().FindString(line); tok != "" {
				m.Value = strings.TrimRight(line, "\r\n")
				m.ProductVersion, m.BuildNumber = release.SplitBuild(tok)
				return
			}
		}
		m.Value = firstLine(data)
		m.Problem = "no version in the text (7.x+ regenerates it at boot with update-issue)"
	default:
		m.Value = firstLine(data)
		rl, ok := ParseReleaseLine(data)
		if !ok {
			m.Problem = `first line is not "<Brand> release <version> (<name>)"`
			return
		}
		m.ProductVersion, m.BuildNumber = rl.Version, rl.Build
	}
}

func firstLine(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return strings.TrimRight(string(line), "\r")
}

// substituteVersions replaces, in free text, every version token equal to
// an old value by its new value, in one pass (so a replacement is never
// replaced again). It returns the text and how many tokens it replaced.
func substituteVersions(text string, repl map[string]string) (string, int) {
	n := 0
	out := versionToken().ReplaceAllStringFunc(text, func(tok string) string {
		if nv, ok := repl[tok]; ok {
			n++
			return nv
		}
		v, b := release.SplitBuild(tok)
		if nv, ok := repl[v]; ok && b != "" {
			n++
			if nb, ok := repl[b]; ok {
				return nv + "-" + nb
			}
			return nv + "-" + b
		}
		return tok
	})
	return out, n
}

// agrees reports whether a marker's version names the inventory's product
// version (or its version text, which issue banners use).
func agrees(m Marker, inv *Inventory) bool {
	if m.ProductVersion == "" {
		return true
	}
	mv, err := release.ParseVersion(m.ProductVersion)
	if err != nil {
		return false
	}
	for _, k := range []string{"PRODUCT_VERSION", "PRODUCT_VERSION_TEXT", "PRODUCT_VERSION_TEXT_SHORT"} {
		if v, err := release.ParseVersion(inv.Value(k)); err == nil && release.Same(v, mv) {
			return m.BuildNumber == "" || inv.Value("BUILD_NUMBER") == "" || m.BuildNumber == inv.Value("BUILD_NUMBER")
		}
	}
	return false
}
