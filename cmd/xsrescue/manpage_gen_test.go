package main

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	docs "github.com/urfave/cli-docs/v3"
	"github.com/urfave/cli/v3"
)

// manSection is the manual section of xsrescue: a system administration
// command (man-pages(7): section 8). The page is docs/xsrescue.8.
const manSection = 8

// manPage renders the whole manual page from the command tree: the same
// tree every run builds, so the page cannot drift from --help. The tree is
// rendered to markdown by urfave/cli-docs and to roff by go-md2man, with the
// sections a man page needs and cli-docs does not write (per-command
// synopsis and description, EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO).
// Deterministic: no date, only the version, so docs/xsrescue.8 is a golden
// file (TestManPage).
func manPage() (string, error) {
	app := newApp(newEnv(strings.NewReader(""), io.Discard, io.Discard), nil)
	app.Description = manDescription
	app.UsageText = "xsrescue [GLOBAL OPTIONS] COMMAND [SUBCOMMAND] [OPTIONS] [ARGUMENTS...]"
	seen := map[cli.Flag]bool{} // a flag shared by two commands is escaped once
	for _, f := range app.Flags {
		escapeFlagUsage(f, seen)
	}
	for _, c := range app.Commands {
		prepareManCommand(c, app.Name, seen)
	}
	md, err := docs.ToMarkdown(app)
	if err != nil {
		return "", fmt.Errorf("man page: %w", err)
	}
	// go-md2man makes both "#" and "##" a .SH; cli-docs writes a command
	// group as "##". Make every command a subsection (.SS) of COMMANDS.
	head, cmds, ok := strings.Cut(md, "\n# COMMANDS\n")
	if ok {
		lines := strings.Split(cmds, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "## ") {
				lines[i] = "#" + l
			}
		}
		md = head + "\n# COMMANDS\n" + strings.Join(lines, "\n")
	}
	md = manFlagLine.ReplaceAllStringFunc(md, manFlag)
	title := fmt.Sprintf("%% XSRESCUE %d \"\" \"xsrescue %s\" \"System Administration\"\n\n", manSection, mdEscape(version))
	doc := title + strings.TrimRight(md, "\n") + "\n\n" + manTail
	roff := roffASCII(string(md2man.Render([]byte(doc))))
	// go-md2man starts with .nh (no hyphenation); .TH comes first in a man
	// page (lexgrog, mandoc), then a note for whoever opens docs/xsrescue.8.
	roff = strings.TrimPrefix(roff, ".nh\n")
	th, body, _ := strings.Cut(roff, "\n")
	return th + "\n" + manNote + ".nh\n" + body, nil
}

const manNote = `.\" Generated from the command tree by go test ./cmd/xsrescue -run TestManPage -update (cmd/xsrescue/manpage_gen_test.go).
.\" Do not edit: go test ./cmd/xsrescue -run TestManPage -update rewrites docs/xsrescue.8.
`

// manFlagLine is a flag as cli-docs writes it: **--name, -n**="": usage
// (default: V). Descriptions are escaped, so only flags start with "**-".
var manFlagLine = regexp.MustCompile("(?m)^\\*\\*(-[^*\\n]*)\\*\\*(=\"\")?: (.*)$")

// manFlag rewrites a cli-docs flag line as a definition-list item, which
// go-md2man renders as the usual man page option (.TP): the flag with its
// placeholder as --help shows it (--journal PATH), the usage indented
// below. The default cli-docs appends is dropped when it only repeats the
// zero value (false, 0) or the usage states its own default.
func manFlag(line string) string {
	m := manFlagLine.FindStringSubmatch(line)
	names, takesValue, usage := m[1], m[2] != "", m[3]
	if i := strings.LastIndex(usage, " (default: "); i >= 0 && strings.HasSuffix(usage, ")") {
		def := usage[i+len(" (default: ") : len(usage)-1]
		base := usage[:i]
		if def == "false" || def == "0" || def == "" || strings.Contains(base, "(default") {
			usage = base
		}
	}
	term := "**" + names + "**"
	if takesValue {
		placeholder := "VALUE"
		if p := strings.Split(usage, "`"); len(p) >= 3 {
			placeholder = p[1]
		}
		term += " *" + mdEscape(placeholder) + "*"
	}
	return term + "\n: " + usage
}

// manDescription is the DESCRIPTION section (markdown).
const manDescription = `**xsrescue** repairs, offline, the disks and metadata that a failed upgrade or
downgrade leaves behind: XenServer partition tables, version markers and xapi's
state.db; AIX ODM ghost device majors; Solaris ZFS vdev labels, zone roots, zone boot
environments and IPS publishers; Xen guest (domU) roots after a CentOS update. Run it
from a live USB or a kickstart %pre against a machine whose own OS is not running:
on a mounted root (**--root** *DIR*) or on a disk image or block device
(**--disk** *DEV* **--partition** *N*), whose ext2/3/4 partitions it reads in-process
(no mount, no loop device, no root privileges) and mounts only to write.

Read-only commands never write a byte. Every mutation is planned on the target opened
read-only, under the target's lock, and shown as a diff (**--dry-run** stops there);
only once confirmed (or **--yes**) is the target opened for writing, the plan checked
against what it was made from, snapshotted into the journal, applied atomically,
verified, and can be undone with **xsrescue journal undo** *OP*;
**xsrescue journal recover** rolls back an op a crash interrupted.

The hidden command **xsrescue man** prints this page: **xsrescue man | man -l -**.`

// manTail holds the sections after COMMANDS (markdown).
const manTail = `# EXIT STATUS

**0**
: success (also "already as requested": a mutating command with nothing to change)

**1**
: the operation failed

**2**
: usage error or invalid input (the message names the file and line or offset)

**3**
: refused for safety, nothing changed (mounted device, drift since an op, data that
would be lost, no terminal and no **--yes**, another xsrescue holds the target, a file
changed since the plan was made)

**4**
: completed, and problems were found or remain (the report is complete): **doctor**
and **guest check** found a broken finding, **guest fix** left one, **statedb check**
found a reason xapi refuses the database, **zone publishers** a reason pkg refuses the
image, **zone restore-etc** a path it could not restore, **version set** left a gate failing,
**version find** could not read some files

**141**
: stdout was closed by its reader (**| head**): the command ends quietly, as coreutils
do when SIGPIPE ends them (128+13)

**130**, **143**
: cut short by Ctrl-C (SIGINT) or SIGTERM; the first signal stops the command at its
next check and rolls back what it had begun, a second one exits at once

Scripts must treat any other code as a failure. With **--json**, an error is also printed
on stdout as one JSON document: {"schema_version": 1, "error": {"message": "...", "exit_code": N}}.
A few commands refine these meanings; see their EXIT STATUS above.

# ENVIRONMENT

**XSRESCUE_JOURNAL**
: the journal database, as **--journal** *PATH* (the flag wins). Put it outside the target,
e.g. on a second USB stick, to keep the journal off the disk being repaired.

**XSRESCUE_WAIT**
: how long to wait for another xsrescue holding the target or the journal, as
**--wait** *DURATION* (default 10s).

**XSRESCUE_LOCK_DIR**
: where the targets' lock files are (default /run/xsrescue).

# FILES

*ROOT*/var/lib/xsrescue/journal.db
: the journal (SQLite): every op, its changes and the before-images of every file it
changed, inside the target root by default, so it travels with the disk and survives a
live-USB reboot. Every mutating command prints where it is.

/run/xsrescue/*.lock
: one lock file per target (filesystem UUID, directory or file identity): one
xsrescue at a time plans and applies changes to a target.

# SEE ALSO

**man**(1), **groff_man**(7); in the source tree: README.md, docs/disk.md, docs/version.md,
docs/statedb.md, docs/odm.md, docs/zfs.md, docs/guest.md, docs/doctor.md,
docs/answerfile.md, docs/journal.md, docs/safety.md, docs/json.md, docs/exit-codes.md.
`

// prepareManCommand rewrites a command of the throwaway tree that manPage
// renders: cli-docs titles each command with its name and prints only its
// usage line and flags, so the name becomes the full command line and the
// usage carries the synopsis and the description (as markdown).
func prepareManCommand(c *cli.Command, parent string, seen map[cli.Flag]bool) {
	full := parent + " " + c.Name
	var b strings.Builder
	b.WriteString("**" + full + "**")
	visible := c.VisibleCommands()
	if len(visible) > 0 {
		b.WriteString(" *COMMAND*")
	}
	if len(c.VisibleFlags()) > 0 {
		b.WriteString(" [*OPTIONS*]")
	}
	if a := strings.TrimSpace(c.ArgsUsage); a != "" && len(visible) == 0 {
		b.WriteString(" " + mdEscape(a))
	}
	if len(c.Aliases) > 0 {
		b.WriteString("  (also: " + mdEscape(strings.Join(c.Aliases, ", ")) + ")")
	}
	b.WriteString("\n\n" + mdEscape(sentence(c.Usage)))
	// Every command's help ends with the common exit codes; the page says
	// them once, in EXIT STATUS. A command's own exit codes stay.
	desc := strings.TrimSpace(strings.TrimSuffix(c.Description, exitHelp))
	if desc != "" {
		b.WriteString("\n\n" + mdBlocks(desc))
	}
	if len(c.VisibleFlags()) > 0 {
		b.WriteString("\n\nOptions:")
	}
	c.Usage = b.String()
	c.UsageText = ""
	c.Description = ""
	c.Aliases = nil // cli-docs would add them to the title
	c.Name = full
	for _, f := range c.Flags {
		escapeFlagUsage(f, seen)
	}
	for _, sub := range c.Commands {
		prepareManCommand(sub, full, seen)
	}
}

// sentence makes a one-line usage a sentence: capital first, full stop last.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if s[0] >= 'a' && s[0] <= 'z' {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}

// mdBlocks turns help text into markdown: paragraphs stay paragraphs, and an
// indented block under a heading line ("EXIT STATUS:", "WARNING:") becomes
// a definition list when it is a two-column table ("0  changed", with deeper
// indented continuation lines), else an indented paragraph. Both are filled
// by the pager, so no line is wider than the terminal.
func mdBlocks(text string) string {
	var out, prose, block []string
	heading := "" // the last prose line: the heading of the block after it
	flush := func() {
		if len(prose) > 0 {
			out = append(out, strings.Join(prose, "\n"))
			prose = nil
		}
		if len(block) > 0 {
			if heading == "EXAMPLES:" {
				out = append(out, mdCode(block)) // command lines stay lines
			} else {
				out = append(out, mdIndented(block))
			}
			block = nil
		}
	}
	for _, para := range strings.Split(text, "\n\n") {
		for _, l := range strings.Split(strings.Trim(para, "\n"), "\n") {
			l = strings.TrimRight(l, " \t")
			if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
				if len(prose) > 0 {
					flush()
				}
				block = append(block, strings.ReplaceAll(l, "\t", "        "))
				continue
			}
			if len(block) > 0 {
				flush()
			}
			heading = l
			prose = append(prose, mdEscape(l))
		}
		flush()
	}
	return strings.Join(out, "\n\n")
}

// mdCode renders indented lines as a code block: one line each, verbatim.
func mdCode(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "    " + strings.TrimSpace(l)
	}
	return strings.Join(out, "\n")
}

// tableRow is a line of a two-column help table: a term, two or more
// spaces, the text.
var tableRow = regexp.MustCompile(`^(\s+)(\S+)\s{2,}(\S.*)$`)

// mdIndented renders an indented block of help text (see mdBlocks).
func mdIndented(lines []string) string {
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	base := indent(lines[0])
	table := true
	for _, l := range lines {
		if indent(l) < base || (indent(l) == base && !tableRow.MatchString(l)) {
			table = false
			break
		}
	}
	var items []string
	if table {
		for _, l := range lines {
			if indent(l) > base {
				items[len(items)-1] += "\n" + mdEscape(strings.TrimSpace(l))
				continue
			}
			m := tableRow.FindStringSubmatch(l)
			items = append(items, mdEscape(m[2])+"\n: "+mdEscape(m[3]))
		}
		return strings.Join(items, "\n\n")
	}
	for _, l := range lines {
		items = append(items, "> "+mdEscape(strings.TrimSpace(l)))
	}
	return strings.Join(items, "\n")
}

// mdEscape backslash-escapes what markdown (blackfriday, with go-md2man's
// extensions) could read as markup, so help text reaches the page verbatim:
// <zone> is not an HTML tag, "_" not emphasis, "[x]" not a link, and a line
// that starts with "- ", "1. ", "> ", "# " or ": " not a block.
func mdEscape(s string) string {
	const inline = "\\`*_[]<>&|"
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		lead := len(line) - len(strings.TrimLeft(line, " "))
		digits := lead
		for digits < len(line) && line[digits] >= '0' && line[digits] <= '9' {
			digits++
		}
		for j, r := range line {
			switch {
			case strings.ContainsRune(inline, r),
				j == lead && strings.ContainsRune("#+->:~", r),
				j == digits && digits > lead && (r == '.' || r == ')') &&
					(j+1 == len(line) || line[j+1] == ' '):
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// roffASCII writes every non-ASCII character as a groff escape (\[u2014]),
// so the page needs no preconv: groff -man and mandoc read it as is.
func roffASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, "\\[u%04X]", r)
	}
	return b.String()
}

// escapeFlagUsage escapes a flag's usage text for markdown, keeping the
// backquoted placeholder (`PATH`) that cli-docs renders in bold. urfave/cli
// flags are generic FlagBase values with an exported Usage field.
func escapeFlagUsage(f cli.Flag, seen map[cli.Flag]bool) {
	if seen[f] {
		return
	}
	seen[f] = true
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	u := v.Elem().FieldByName("Usage")
	if !u.IsValid() || u.Kind() != reflect.String || !u.CanSet() {
		return
	}
	parts := strings.Split(u.String(), "`")
	for i := range parts {
		if i%2 == 0 || i == len(parts)-1 { // outside backquotes (or an unpaired one)
			parts[i] = mdEscape(parts[i])
		}
	}
	u.SetString(strings.Join(parts, "`"))
}
