package guestfix

import (
	"fmt"
	"strconv"
	"strings"
)

// GrubConf is a grub.conf (menu.lst) as pygrub's GrubConf.py reads it
// (Xen 3.0.3 to 3.4: GrubConfigFile.parse), kept line by line so that a
// fix can rewrite default= and nothing else.
type GrubConf struct {
	lines []string // with their line endings
	// Defaults are the default lines, in order: pygrub applies each as it
	// parses (the last wins, an invalid one stops pygrub).
	Defaults []GrubDefault
	Images   []GrubImage
}

// GrubDefault is one default line.
type GrubDefault struct {
	Line  int    // 1-based
	Value string // the argument as pygrub sees it ("0", "saved", "= 0")
}

// GrubImage is one title entry.
type GrubImage struct {
	Line   int // the title line
	Title  string
	Kernel GrubPath // zero when the entry has no kernel line
	Args   string   // the kernel line's arguments
	Initrd GrubPath // zero when the entry has no initrd line
	// Err is why pygrub fails on this entry's lines ("" when it does not):
	// a "(" without ")" in a path, or a root it cannot read.
	Err string
}

// GrubPath is a kernel or initrd argument: the path pygrub opens on the
// filesystem it reads, with a (hdX,Y) prefix removed.
type GrubPath struct {
	Line int
	Path string
}

// ParseGrubConf reads a grub.conf as pygrub does: lines stripped of
// blanks, # comments and blank lines skipped, a line starting with "title"
// opens an entry and every later line belongs to it; before the first
// title, default and the other global commands. It never fails: what
// pygrub fails on is reported by Default and GrubImage.Err.
func ParseGrubConf(data []byte) *GrubConf {
	c := &GrubConf{lines: splitLines(data)}
	var img *GrubImage
	for i, raw := range c.lines {
		n := i + 1
		l := strings.TrimSpace(raw)
		if l == "" || l[0] == '#' {
			continue
		}
		if strings.HasPrefix(l, "title") {
			c.Images = append(c.Images, GrubImage{Line: n})
			img = &c.Images[len(c.Images)-1]
		}
		com, arg := grubSplit(l)
		arg = strings.TrimSpace(arg)
		if img == nil {
			if com == "default" {
				c.Defaults = append(c.Defaults, GrubDefault{Line: n, Value: arg})
			}
			continue
		}
		img.set(n, com, arg)
	}
	return c
}

// set is GrubImage.set_from_line for the commands that matter: title,
// root/rootnoverify (GrubDiskPart), kernel (path and arguments), initrd.
func (img *GrubImage) set(n int, com, arg string) {
	fail := func(format string, args ...any) {
		if img.Err == "" {
			img.Err = fmt.Sprintf("line %d: ", n) + fmt.Sprintf(format, args...)
		}
	}
	switch com {
	case "title":
		img.Title = arg
	case "root", "rootnoverify":
		if !grubDiskPartOK(arg) {
			fail("pygrub cannot read root %q (GrubDiskPart: int() of the disk and partition)", arg)
		}
	case "kernel":
		path, args := arg, ""
		if strings.Contains(arg, " ") {
			f := strings.Fields(arg)
			path = f[0]
			args = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(arg), path))
		}
		p, ok := grubPath(path)
		if !ok {
			fail("kernel %q: no \")\" after \"(\" (get_path raises ValueError)", path)
		}
		img.Kernel, img.Args = GrubPath{Line: n, Path: p}, args
	case "initrd":
		p, ok := grubPath(arg)
		if !ok {
			fail("initrd %q: no \")\" after \"(\" (get_path raises ValueError)", arg)
		}
		img.Initrd = GrubPath{Line: n, Path: p}
	}
}

// Default is the entry pygrub boots without --entry (GrubConfigFile's
// default property: int() of the value; "saved" and a negative number
// raise ValueError, as does anything int() does not read), or why pygrub
// stops instead: then the guest does not start.
func (c *GrubConf) Default() (int, string) {
	def := 0
	for _, d := range c.Defaults {
		if d.Value == "saved" {
			return 0, fmt.Sprintf("line %d: default=saved: pygrub sets -1 and raises ValueError (\"default must be positive number\")", d.Line)
		}
		v, err := pyInt(d.Value)
		if err != nil {
			return 0, fmt.Sprintf("line %d: default %q: pygrub's int() raises ValueError", d.Line, d.Value)
		}
		if v < 0 {
			return 0, fmt.Sprintf("line %d: default %s: pygrub raises ValueError (\"default must be positive number\")", d.Line, d.Value)
		}
		def = v
	}
	if def >= len(c.Images) {
		return 0, fmt.Sprintf("default entry %d, but there are %d title entries: pygrub's images[%d] raises IndexError", def, len(c.Images), def)
	}
	return def, ""
}

// WithDefault is the file with default set to entry n: the one default
// line rewritten as default=n, or one inserted before the first title
// when there is none. ok is false when there are several default lines
// (which one a person meant is theirs to say).
func (c *GrubConf) WithDefault(n int) ([]byte, bool) {
	lines := append([]string(nil), c.lines...)
	set := "default=" + strconv.Itoa(n)
	switch len(c.Defaults) {
	case 0:
		at := len(lines)
		if len(c.Images) > 0 {
			at = c.Images[0].Line - 1
		}
		eol := "\n"
		if len(lines) > 0 && strings.HasSuffix(lines[0], "\r\n") {
			eol = "\r\n"
		}
		if at > 0 && !strings.HasSuffix(lines[at-1], "\n") {
			lines[at-1] += eol
		}
		lines = append(lines[:at], append([]string{set + eol}, lines[at:]...)...)
	case 1:
		i := c.Defaults[0].Line - 1
		raw := lines[i]
		body := strings.TrimRight(raw, "\r\n")
		indent := body[:len(body)-len(strings.TrimLeft(body, " \t"))]
		lines[i] = indent + set + raw[len(body):]
	default:
		return nil, false
	}
	return []byte(strings.Join(lines, "")), true
}

// grubSplit is GrubConf.py's grub_exact_split(s, 2): split at "=" when it
// comes before the first blank or tab, else at the first run of blanks.
func grubSplit(s string) (com, arg string) {
	eq := strings.IndexByte(s, '=')
	sp := strings.IndexAny(s, " \t")
	if eq >= 0 && (sp < 0 || eq < sp) {
		com, arg, _ = strings.Cut(s, "=")
		return com, arg
	}
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", ""
	}
	return f[0], strings.TrimSpace(strings.TrimPrefix(s, f[0]))
}

// grubPath is get_path: "(hd0,0)/vmlinuz" is "/vmlinuz"; a "(" without ")"
// fails.
func grubPath(s string) (string, bool) {
	if !strings.HasPrefix(s, "(") {
		return s, true
	}
	i := strings.IndexByte(s, ')')
	if i < 0 {
		return "", false
	}
	return s[i+1:], true
}

// grubDiskPartOK is whether GrubDiskPart reads root's argument: "(hd0,0)"
// is disk int("0") and partition int("0"); parentheses are dropped, the
// disk's first two characters skipped.
func grubDiskPartOK(s string) bool {
	disk, part, hasPart := strings.Cut(s, ",")
	if hasPart && strings.Contains(part, ",") {
		return false // str.split(",", 2) gives three values for two names
	}
	clean := func(v string) string { return strings.NewReplacer("(", "", ")", "").Replace(v) }
	d := clean(disk)
	if len(d) < 2 {
		return false
	}
	if _, err := pyInt(d[2:]); err != nil {
		return false
	}
	if hasPart {
		if _, err := pyInt(clean(part)); err != nil {
			return false
		}
	}
	return true
}

// pyInt is Python 2's int() of a string: blanks around it allowed, an
// optional sign, decimal digits.
func pyInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s[1:], "+-") {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}
