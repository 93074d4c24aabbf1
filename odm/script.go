package odm

import (
	"fmt"
	"strconv"
	"strings"
)

// The AIX-side scripts are ksh (AIX's /usr/bin/ksh). They stop at the first
// failure (set -e, and every step also checks its own status), honour ODMDIR
// (and DEVDIR) for an alternate root, never run odmdelete without -q, build
// criteria only from validated integers, compare majors as whole fields
// (never grep '43,', which also matches 143,) and end with savebase, without
// which boot phase 2 copies the ghost back from the boot image.

// hereDoc is the delimiter of embedded stanza files; stanza lines always
// start with a TAB, a class name and ':' or are empty, so it never occurs.
const hereDoc = "XSRESCUE_EOF"

// shQuote quotes s for ksh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// JoinMajors lists majors for people: "44" or "44, 50".
func JoinMajors(majors []int) string { return joinInts(majors, ", ") }

// majorList is the majors as the scripts' MAJORS list: "44 50".
func majorList(p *Purge) string { return joinInts(p.Majors, " ") }

func joinInts(ns []int, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

func devnoQuery(m int) string {
	return fmt.Sprintf(`"resource='devno' and value1='%d'"`, m)
}

func ddinsQuery(m int) string {
	return fmt.Sprintf(`"resource='ddins' and value2='%d'"`, m)
}

// removedOf returns the removed devno stanzas of major m in odmget layout:
// exactly what `odmget -q "resource='devno' and value1='m'" CuDvDr` prints.
func (p *Purge) removedOf(m int) []byte {
	var out []Stanza
	for _, s := range p.Removed {
		if v, _ := s.Get("value1"); v == strconv.Itoa(m) {
			out = append(out, s)
		}
	}
	return Format(out)
}

const scriptEnv = `set -e
set -u
umask 022
ODMDIR=${ODMDIR:-/etc/objrepos}
export ODMDIR
DEVDIR=${DEVDIR:-/dev}

die() {
	print -u2 -r -- "$PROG: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run me as root"
for c in odmget odmadd odmdelete savebase; do
	whence "$c" >/dev/null || die "$c not found in PATH"
done
`

// functions shared by both scripts.
const scriptFuncs = `
# lsnode PATH: set perm, maj, min from "ls -ld PATH" ("43, 0" or "43,128").
lsnode() {
	ls -ld "$1" | read -r perm links owner group f5 f6 rest || die "ls -ld $1 failed"
	case $f5 in
	*,)  maj=${f5%,} min=$f6 ;;
	*,*) maj=${f5%%,*} min=${f5#*,} ;;
	*)   maj= min= ;;
	esac
}

# is_node PATH TYPE MAJOR MINOR: is PATH exactly that special file?
is_node() {
	[ ! -L "$1" ] || return 1
	lsnode "$1"
	case $perm in "$2"*) ;; *) return 1 ;; esac
	[ "$maj" = "$3" ] && [ "$min" = "$4" ]
}

# linktext PATH: the target of symlink PATH as ls -ld shows it: what follows
# "PATH -> " (not a whitespace field: names may hold blanks).
linktext() {
	out=$(ls -ld "$1") || die "ls -ld $1 failed"
	case $out in
	*" $1 -> "*) print -r -- "${out#*" $1 -> "}" ;;
	*) die "ls -ld $1: no link target in: $out" ;;
	esac
}

# devno_now MAJOR FILE: odmget the devno objects of MAJOR into FILE; fail if
# a ddins object allocates MAJOR (then it is not a ghost).
devno_now() {
	odmget -q "resource='ddins' and value2='$1'" CuDvDr >"$2.ddins" || die "odmget CuDvDr failed"
	[ ! -s "$2.ddins" ] || die "major $1 is allocated by a ddins object now ($(tr -s '\n\t' '  ' <"$2.ddins")): not a ghost, stopping"
	odmget -q "resource='devno' and value1='$1'" CuDvDr >"$2" || die "odmget CuDvDr failed"
}

# persist: savebase, or boot phase 2 restores the old objects from the boot image.
persist() {
	if [ "$ODMDIR" = /etc/objrepos ]; then
		savebase || die "savebase failed"
	else
		[ -n "${SAVEBASE_DEVICE:-}" ] || die "ODMDIR=$ODMDIR: set SAVEBASE_DEVICE to the alternate root's boot logical volume (savebase -o ODMDIR -d DEVICE)"
		savebase -o "$ODMDIR" -d "$SAVEBASE_DEVICE" || die "savebase -o $ODMDIR -d $SAVEBASE_DEVICE failed"
	fi
	print "savebase done"
}
`

func purgeScript(p *Purge) []byte {
	var b strings.Builder
	majors := majorList(p)
	b.WriteString("#!/usr/bin/ksh\n")
	fmt.Fprintf(&b, "# purge.ksh, written by xsrescue odm purge: removes the ghost device major(s) %s.\n", majors)
	b.WriteString(`# A ghost major has CuDvDr devno objects and/or /dev nodes but no ddins object,
# so lvlstmajor lists it as free and the next mkvg/importvg/alt_disk_copy that
# gets it fails (0516-082 lchangelv: Unable to access a special device file).
#
# Run as root on the AIX system. It stops at the first failure.
#   ODMDIR           ODM directory (default /etc/objrepos; set it for an alternate root)
#   DEVDIR           device directory (default /dev)
#   BACKUP           backup directory (default /var/adm/xsrescue/odm-purge.<time>)
#   SAVEBASE_DEVICE  with another ODMDIR: the boot logical volume for savebase -d
# Undo: ksh undo.ksh (self-contained); $BACKUP keeps the ODM as it was.
PROG=purge.ksh
`)
	b.WriteString(scriptEnv)
	b.WriteString("BACKUP=${BACKUP:-/var/adm/xsrescue/odm-purge.$(date +%Y%m%d%H%M%S)}\n")
	b.WriteString(scriptFuncs)
	fmt.Fprintf(&b, "\nMAJORS=%q\n", majors)
	b.WriteString(`
# nodes_of MAJOR: the ls -l lines of $DEVDIR specials whose major is exactly MAJOR.
nodes_of() {
	ls -l "$DEVDIR" | while read -r perm links owner group f5 f6 rest; do
		case $perm in [bc]*) ;; *) continue ;; esac
		case $f5 in *,) maj=${f5%,} ;; *,*) maj=${f5%%,*} ;; *) continue ;; esac
		[ "$maj" != "$1" ] || print -r -- "$perm $links $owner $group $f5 $f6 $rest"
	done
}

# is_free MAJOR LIST: is MAJOR free in lvlstmajor's list ("11,13..15,43...")?
is_free() {
	for item in $(print -r -- "$2" | tr ',' ' '); do
		case $item in
		*...) [ "$1" -ge "${item%...}" ] && return 0 ;;
		*..*) [ "$1" -ge "${item%%..*}" ] && [ "$1" -le "${item##*..}" ] && return 0 ;;
		*)    [ "$1" -eq "$item" ] && return 0 ;;
		esac
	done
	return 1
}

# node_ok NAME TYPE MAJOR MINOR: $DEVDIR/NAME is that special file, or gone.
node_ok() {
	[ -e "$DEVDIR/$1" ] || [ -L "$DEVDIR/$1" ] || return 0
	is_node "$DEVDIR/$1" "$2" "$3" "$4" || die "$DEVDIR/$1 is not the $2 special file $3,$4 any more: stopping"
}

# link_ok NAME TARGET: $DEVDIR/NAME is a symlink to TARGET, or gone.
link_ok() {
	if [ -L "$DEVDIR/$1" ]; then
		[ "$(linktext "$DEVDIR/$1")" = "$2" ] || die "$DEVDIR/$1 no longer points to $2: stopping"
	elif [ -e "$DEVDIR/$1" ]; then
		die "$DEVDIR/$1 is not a symlink any more: stopping"
	fi
}

# rm_entry NAME WHAT: remove $DEVDIR/NAME (checked by node_ok or link_ok).
rm_entry() {
	if [ ! -e "$DEVDIR/$1" ] && [ ! -L "$DEVDIR/$1" ]; then
		print "already gone: $DEVDIR/$1"
		return 0
	fi
	rm -f "$DEVDIR/$1" || die "rm $DEVDIR/$1 failed"
	print "removed $DEVDIR/$1 ($2)"
}

mkdir -p "$BACKUP" || die "mkdir $BACKUP failed"
[ ! -e "$BACKUP/CuDvDr.add" ] || die "$BACKUP holds a backup already (of an earlier run): set BACKUP to a new directory"
print "backup directory: $BACKUP"

# 1. Check on this system that each major is still a ghost and that its devno
#    objects are the ones xsrescue read (or already gone).
`)
	for _, m := range p.Majors {
		fmt.Fprintf(&b, "cat >\"$BACKUP/devno.%d.expected\" <<'%s'\n%s%s\n", m, hereDoc, p.removedOf(m), hereDoc)
		fmt.Fprintf(&b, "devno_now %d \"$BACKUP/devno.%d.now\"\n", m, m)
		fmt.Fprintf(&b, "[ ! -s \"$BACKUP/devno.%d.now\" ] || cmp -s \"$BACKUP/devno.%d.now\" \"$BACKUP/devno.%d.expected\" ||\n", m, m, m)
		fmt.Fprintf(&b, "\tdie \"the devno objects of major %d differ from the dump xsrescue read (compare $BACKUP/devno.%d.now and .expected): stopping\"\n", m, m)
	}
	b.WriteString("\n# Every /dev entry to remove must still be what xsrescue saw (or gone).\n")
	for _, n := range p.Nodes {
		b.WriteString(nodeCheck(n) + "\n")
	}
	b.WriteString(`
# 2. Back up the ODM classes (odmadd input) and the CuDvDr file itself.
for c in CuDvDr CuDv CuAt CuDep; do
	odmget "$c" >"$BACKUP/$c.add" || die "odmget $c failed"
done
cp -p "$ODMDIR/CuDvDr" "$BACKUP/CuDvDr.objrepos" || die "cp $ODMDIR/CuDvDr failed"
ls -l "$DEVDIR" >"$BACKUP/dev.ls" || die "ls -l $DEVDIR failed"

# 3. Delete the devno objects of each ghost major: always with -q.
`)
	for _, m := range p.Majors {
		fmt.Fprintf(&b, "if [ -s \"$BACKUP/devno.%d.now\" ]; then\n", m)
		fmt.Fprintf(&b, "\todmdelete -o CuDvDr -q %s || die \"odmdelete of major %d failed\"\n", devnoQuery(m), m)
		b.WriteString("fi\n")
	}
	b.WriteString("\n# 4. Remove exactly these /dev entries, each checked again first.\n")
	for _, n := range p.Nodes {
		what := fmt.Sprintf("%s %d,%d", n.Type.ls(), n.Major, n.Minor)
		if n.Type == Symlink {
			what = "-> " + n.Link
		}
		fmt.Fprintf(&b, "%s && rm_entry %s %s\n", nodeCheck(n), shQuote(n.Name()), shQuote(what))
	}
	b.WriteString("\n# 5. Persist.\npersist\n\n# 6. Verify.\n")
	b.WriteString(`for m in $MAJORS; do
	odmget -q "resource='devno' and value1='$m'" CuDvDr >"$BACKUP/devno.$m.after" || die "odmget CuDvDr failed"
	[ ! -s "$BACKUP/devno.$m.after" ] || die "devno objects of major $m are still in CuDvDr"
	left=$(nodes_of "$m")
	[ -z "$left" ] || die "special files with major $m are still in $DEVDIR: $left"
done
if [ "$ODMDIR" = /etc/objrepos ]; then
	free=$(lvlstmajor) || die "lvlstmajor failed"
	for m in $MAJORS; do
		is_free "$m" "$free" || die "lvlstmajor does not list major $m as free: $free"
	done
else
	print "lvlstmajor reads /etc/objrepos only (it ignores ODMDIR): free-major check skipped"
fi
print "done: ghost major(s) $MAJORS purged; backup in $BACKUP"
`)
	return []byte(b.String())
}

func undoScript(p *Purge) []byte {
	var b strings.Builder
	majors := majorList(p)
	b.WriteString("#!/usr/bin/ksh\n")
	fmt.Fprintf(&b, "# undo.ksh, written by xsrescue odm purge: puts back what purge.ksh removed for\n# major(s) %s: the devno objects (odmadd), the /dev entries (mknod, chmod, chown,\n# ln -s), then savebase.\n", majors)
	b.WriteString(`#
# Run as root on the AIX system. It stops at the first failure, and refuses if a
# ddins object allocates the major now (the restored objects would collide).
#   ODMDIR, DEVDIR, SAVEBASE_DEVICE as for purge.ksh
PROG=undo.ksh
`)
	b.WriteString(scriptEnv)
	b.WriteString("WORK=${TMPDIR:-/tmp}/xsrescue-undo.$$\nmkdir \"$WORK\" || die \"mkdir $WORK failed\"\n")
	b.WriteString(scriptFuncs)
	b.WriteString(`
# mk_node NAME TYPE MAJOR MINOR MODE UID GID: recreate $DEVDIR/NAME.
mk_node() {
	p=$DEVDIR/$1
	if [ -e "$p" ] || [ -L "$p" ]; then
		is_node "$p" "$2" "$3" "$4" || die "$p exists and is not the $2 special file $3,$4: stopping"
		print "present already: $p"
		return 0
	fi
	mknod "$p" "$2" "$3" "$4" || die "mknod $p failed"
	chmod "$5" "$p" || die "chmod $p failed"
	chown "$6:$7" "$p" || die "chown $p failed"
	print "recreated $p ($2 $3,$4)"
}

# mk_link NAME TARGET: recreate symlink $DEVDIR/NAME -> TARGET.
mk_link() {
	p=$DEVDIR/$1
	if [ -L "$p" ] && [ "$(linktext "$p")" = "$2" ]; then
		print "present already: $p"
		return 0
	fi
	[ ! -e "$p" ] && [ ! -L "$p" ] || die "$p exists and is not a symlink to $2: stopping"
	ln -s "$2" "$p" || die "ln -s $2 $p failed"
	print "recreated $p -> $2"
}

# 1. The devno objects, unless they are back already.
`)
	for _, m := range p.Majors {
		fmt.Fprintf(&b, "cat >\"$WORK/CuDvDr.%d.add\" <<'%s'\n%s%s\n", m, hereDoc, p.removedOf(m), hereDoc)
		fmt.Fprintf(&b, "devno_now %d \"$WORK/devno.%d.now\"\n", m, m)
		fmt.Fprintf(&b, "if [ ! -s \"$WORK/devno.%d.now\" ]; then\n", m)
		fmt.Fprintf(&b, "\t[ ! -s \"$WORK/CuDvDr.%d.add\" ] || odmadd \"$WORK/CuDvDr.%d.add\" || die \"odmadd of major %d failed\"\n", m, m, m)
		fmt.Fprintf(&b, "elif ! cmp -s \"$WORK/devno.%d.now\" \"$WORK/CuDvDr.%d.add\"; then\n", m, m)
		fmt.Fprintf(&b, "\tdie \"CuDvDr holds other devno objects of major %d now: stopping\"\n", m)
		b.WriteString("fi\n")
	}
	b.WriteString("\n# 2. The /dev entries: special files first, then the symlinks to them.\n")
	for i := len(p.Nodes) - 1; i >= 0; i-- {
		n := p.Nodes[i]
		if n.Type == Symlink {
			continue
		}
		uid, gid := n.UID, n.GID
		if uid < 0 || gid < 0 {
			uid, gid = 0, 0
		}
		fmt.Fprintf(&b, "mk_node %s %s %d %d %o %d %d\n", shQuote(n.Name()), n.Type.ls(), n.Major, n.Minor, n.Mode.Perm(), uid, gid)
	}
	for _, n := range p.Nodes {
		if n.Type == Symlink {
			fmt.Fprintf(&b, "mk_link %s %s\n", shQuote(n.Name()), shQuote(n.Link))
		}
	}
	b.WriteString(`
# 3. Persist.
persist
rm -rf "$WORK"
print "undone: ghost major(s) ` + majors + ` restored"
`)
	return []byte(b.String())
}

// nodeCheck is the ksh call that checks n is unchanged or gone.
func nodeCheck(n Node) string {
	if n.Type == Symlink {
		return fmt.Sprintf("link_ok %s %s", shQuote(n.Name()), shQuote(n.Link))
	}
	return fmt.Sprintf("node_ok %s %s %d %d", shQuote(n.Name()), n.Type.ls(), n.Major, n.Minor)
}

// ls is the mknod / ls type letter.
func (t NodeType) ls() string {
	if t == Block {
		return "b"
	}
	return "c"
}
