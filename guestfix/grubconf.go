package guestfix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Pygrub is a pygrub release whose GrubConf.py is modelled
// (github.com/xen-project/xen, tools/pygrub/src/GrubConf.py).
type Pygrub struct {
	Name string
	// Exec: the directives are set with exec("self.X = r\"ARG\""), as
	// before the CVE-2007-4993 fix (adbda3b6da), so each argument must read
	// as a Python raw string literal.
	Exec bool
	// SavedFirst: default=saved is entry 0 (758a4a6431, Xen 4.0.0) instead
	// of ValueError.
	SavedFirst bool
}

// Pygrubs are the modelled releases: tags 3.0.3-branched 6c167ac0db8f and
// 3.1.0-branched 15f6eaada976 (the same GrubConf.py), 3.4.0-rc3
// fcaf4a2871ac, RELEASE-4.0.0 2c19896c5bd6. Which one the host runs is not
// known from the guest.
var Pygrubs = []Pygrub{
	{Name: "Xen 3.0.3/3.1", Exec: true},
	{Name: "Xen 3.4.0"},
	{Name: "Xen 4.0.0", SavedFirst: true},
}

// GrubConf is a grub.conf (menu.lst) as pygrub's GrubConf.py reads it
// (GrubConfigFile.parse), kept line by line so that a fix can rewrite
// default= and nothing else.
type GrubConf struct {
	lines []string // with their line endings
	// Defaults are the default lines, in order: pygrub applies each as it
	// parses (the last wins, an invalid one stops pygrub).
	Defaults []GrubDefault
	Images   []GrubImage
	// Exec is the first directive line whose argument is not a plain
	// Python raw string, which an Exec release exec()s (nil when none).
	Exec *GrubExec
}

// GrubExec is a line that an exec() pygrub cannot set as a plain string.
type GrubExec struct {
	Line  int
	Fails bool   // exec raises (SyntaxError, TypeError): pygrub stops
	Why   string // what happens, for messages
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
		l := pyStrip(raw)
		if l == "" || l[0] == '#' {
			continue
		}
		if strings.HasPrefix(l, "title") {
			c.Images = append(c.Images, GrubImage{Line: n})
			img = &c.Images[len(c.Images)-1]
		}
		com, arg := grubSplit(l)
		arg = pyStrip(arg)
		if c.Exec == nil && (img == nil && slices.Contains(execGlobal, com) || img != nil && slices.Contains(execImage, com)) {
			if fails, why := execRaw(arg, strings.LastIndex(raw, arg)); why != "" {
				c.Exec = &GrubExec{Line: n, Fails: fails, Why: fmt.Sprintf("line %d: %s %s", n, com, why)}
			}
		}
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
			f := strings.FieldsFunc(arg, isPySpace)
			path = f[0]
			args = pyStrip(strings.TrimPrefix(arg, path))
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

// Default is the entry release v boots without --entry, or why it does not
// get that far: Broken (pygrub stops, the guest does not start) or, for an
// exec() release, Warn (a line runs as Python code: unknown). The default
// property is int() of the value: "saved" (before 4.0.0) and a negative
// number raise ValueError, as does anything int() does not read.
func (c *GrubConf) Default(v Pygrub) (n int, sev Severity, why string) {
	if v.Exec && c.Exec != nil {
		if c.Exec.Fails {
			return 0, Broken, c.Exec.Why
		}
		return 0, Warn, c.Exec.Why
	}
	def := 0
	for _, d := range c.Defaults {
		if d.Value == "saved" {
			if v.SavedFirst {
				def = 0
				continue
			}
			return 0, Broken, fmt.Sprintf("line %d: default=saved: pygrub sets -1 and raises ValueError (\"default must be positive number\")", d.Line)
		}
		n, err := pyInt(d.Value)
		if err != nil {
			return 0, Broken, fmt.Sprintf("line %d: default %q: pygrub's int() raises ValueError", d.Line, d.Value)
		}
		if n < 0 {
			return 0, Broken, fmt.Sprintf("line %d: default %s: pygrub raises ValueError (\"default must be positive number\")", d.Line, d.Value)
		}
		def = n
	}
	if def >= len(c.Images) {
		return 0, Broken, fmt.Sprintf("default entry %d, but there are %d title entries: pygrub's images[%d] raises IndexError", def, len(c.Images), def)
	}
	return def, OK, ""
}

// The directives an exec() pygrub sets (GrubConfigFile.commands and
// GrubImage.commands whose handler is not None); the others are logged
// and ignored.
var (
	execGlobal = []string{"default", "timeout", "fallback", "hiddenmenu", "splashimage", "password"}
	execImage  = []string{"title", "root", "rootnoverify", "kernel", "initrd"}
)

// execRaw is what exec("self.X = r\"" + arg + "\"") does with arg, when it
// is not simply the raw string arg (why == ""). It fails for certain on a
// NUL byte (exec of a string with one raises TypeError), on an odd number
// of trailing backslashes (the closing quote is escaped: SyntaxError), and
// when a quote ends the literal and a name or number follows it
// (`foo="a b"` gives r"... foo="a b"": SyntaxError). Any other quote makes
// the rest of the line Python code (a comment, an operator, a second
// literal, or worse: CVE-2007-4993), and a carriage return inside the line
// is read differently by Python versions: both unknown.
func execRaw(arg string, col int) (fails bool, why string) {
	if i := strings.IndexByte(arg, 0); i >= 0 {
		return true, fmt.Sprintf("has a NUL byte at column %d: pygrub's exec() raises TypeError", col+i+1)
	}
	for i := 0; i < len(arg); i++ {
		switch arg[i] {
		case '\\':
			if i == len(arg)-1 {
				return true, "ends in a backslash, which escapes the closing quote of pygrub's exec(\"self.X = r\\\"ARG\\\"\"): SyntaxError"
			}
			i++ // a backslash keeps the next character in a raw string
		case '\r':
			return false, fmt.Sprintf("has a carriage return at column %d, inside the string pygrub exec()s: whether Python reads it depends on its version, unknown", col+i+1)
		case '"':
			return execTail(arg, i, col+i+1)
		}
	}
	return false, ""
}

// execTail judges what follows the quote at arg[q] (column col of the
// line), which ends the raw string literal: the rest of the line and the
// closing quote are Python.
func execTail(arg string, q, col int) (fails bool, why string) {
	at := fmt.Sprintf("has a %s at column %d, which ends the string in pygrub's exec(\"self.X = r\\\"ARG\\\"\")", `"`, col)
	rest := strings.TrimLeft(arg[q+1:]+`"`, " \t\f")
	name := rest[:len(rest)-len(strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))]
	next := rest[len(name)]
	switch {
	case name == "":
	case slices.Contains([]string{"and", "or", "not", "in", "is", "if"}, name):
	case (next == '"' || next == '\'') && slices.Contains([]string{"r", "u", "ur", "b", "br"}, strings.ToLower(name)):
	default:
		return true, fmt.Sprintf("%s and %q follows: SyntaxError", at, name)
	}
	return false, at + ": the rest of the line runs as Python code (CVE-2007-4993), what pygrub then does is unknown"
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
	f := strings.FieldsFunc(s, isPySpace)
	if len(f) == 0 {
		return "", ""
	}
	return f[0], pyStrip(strings.TrimPrefix(s, f[0]))
}

// pyStrip is Python 2's str.strip(): ASCII blanks only (Go's TrimSpace
// also trims Unicode spaces such as U+00A0).
func pyStrip(s string) string { return strings.Trim(s, " \t\n\r\v\f") }

func isPySpace(r rune) bool { return strings.ContainsRune(" \t\n\r\v\f", r) }

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
	s = pyStrip(s)
	if s == "" || strings.ContainsAny(s[1:], "+-") {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}
