#!/bin/sh
# xsrescue-pre.sh: the unattended fleet rescue of one XenServer host, before
# its installer runs. POSIX sh; needs only busybox (sh, wget or curl, awk,
# sed, mount), /proc, /sys and /dev, and runs as root.
#
# Two ways to run it (docs/fleet.md):
#   - as the XenServer installer's answerfile generator: boot the installer
#     with answerfile_generator=http://SERVER/xsrescue/xsrescue-pre.sh; the
#     installer runs it and reads the answer file from its stdout
#     (host-installer answerfile.py Answerfile.generate, since 2c5935c);
#   - as (or from) a kickstart %pre section of a rescue boot (ks-pre.cfg),
#     which leaves the answer file on durable storage for the installer run.
#
# What it does: fetch the static xsrescue from the install server; run
# doctor --json for the installer; run every step of doctor's plan with
# --yes and --journal on durable storage, in the order doctor gives
# (imaging the backup partition first); then write the answer file for an
# unattended upgrade (answerfile upgrade) or for the Restore of the backup
# (answerfile restore). It stops at the first failure: nothing after it
# runs, and the undo commands of what did run are in the host's undo file.
#
# Settings, each from the environment or from the kernel command line
# (xsrescue_server=… on the PXE APPEND line; the environment wins):
#   XSRESCUE_URL        URL of the static binary (http://, or file:// to copy)
#                       default: ${xsrescue_server}/xsrescue
#   XSRESCUE_INSTALLER  the installer version that runs next, e.g. 5.0 (required)
#   XSRESCUE_DISK       the disk holding the installation (default /dev/sda)
#   XSRESCUE_STATE      durable directory: a journal, images, logs per host
#                       (required; keep it off the disk being repaired)
#   XSRESCUE_STATE_NFS  server:/export to mount on XSRESCUE_STATE first (optional)
#   XSRESCUE_MODE       upgrade (default) or restore
#   XSRESCUE_SOURCE     installation repository for the upgrade answer file
#                       (answerfile upgrade --source: URL, server:/path, or
#                       local, the default: the installer's own media)
#   XSRESCUE_ANSWERFILE where to write the answer file; - for stdout
#                       (default: - when the installer runs us as its
#                       answerfile generator, else STATE/HOST/answerfile.xml)
#   XSRESCUE_HOST       name of this host's directory under STATE (default:
#                       the MAC address of its first network interface)
# Exit status: 0 done; otherwise the status of the step that failed (3: an
# xsrescue refusal, nothing changed by that step).

set -u

log() { echo "xsrescue-pre: $*" >&2; }
die() {
	rc=$1
	shift
	log "FAILED: $*"
	[ -n "${HOSTDIR:-}" ] && [ -s "$HOSTDIR/undo.txt" ] &&
		log "ops applied so far; undo them, last first, with the lines of $HOSTDIR/undo.txt"
	exit "$rc"
}

# setting NAME DEFAULT: $NAME from the environment, else xsrescue_name= on
# the kernel command line, else DEFAULT.
setting() {
	eval "v=\${$1:-}"
	if [ -z "$v" ] && [ -r /proc/cmdline ]; then
		key=$(echo "$1" | tr '[:upper:]' '[:lower:]')
		for w in $(cat /proc/cmdline); do
			case $w in "$key"=*) v=${w#*=} ;; esac
		done
	fi
	[ -n "$v" ] || v=$2
	eval "$1=\$v"
}

setting xsrescue_server ""
setting XSRESCUE_URL "${xsrescue_server:+$xsrescue_server/xsrescue}"
setting XSRESCUE_INSTALLER ""
setting XSRESCUE_DISK /dev/sda
setting XSRESCUE_STATE ""
setting XSRESCUE_STATE_NFS ""
setting XSRESCUE_MODE upgrade
setting XSRESCUE_SOURCE local
# XS_STAGE=answerfile: the installer runs us as its answerfile generator.
answer_default=
[ "${XS_STAGE:-}" = answerfile ] && answer_default=-
setting XSRESCUE_ANSWERFILE "$answer_default"
setting XSRESCUE_HOST ""

[ -n "$XSRESCUE_URL" ] || die 2 "XSRESCUE_URL (or xsrescue_server) is not set"
[ -n "$XSRESCUE_INSTALLER" ] || die 2 "XSRESCUE_INSTALLER is not set (the installer version that runs next)"
[ -n "$XSRESCUE_STATE" ] || die 2 "XSRESCUE_STATE is not set (durable storage for the journal)"
case $XSRESCUE_MODE in upgrade | restore) ;; *) die 2 "XSRESCUE_MODE must be upgrade or restore, not $XSRESCUE_MODE" ;; esac
[ -b "$XSRESCUE_DISK" ] || [ -f "$XSRESCUE_DISK" ] || die 2 "no disk $XSRESCUE_DISK"

# Durable storage first: the journal must survive this boot.
mkdir -p "$XSRESCUE_STATE" || die 1 "cannot make $XSRESCUE_STATE"
if [ -n "$XSRESCUE_STATE_NFS" ]; then
	mount -t nfs -o nolock "$XSRESCUE_STATE_NFS" "$XSRESCUE_STATE" || die 1 "cannot mount $XSRESCUE_STATE_NFS on $XSRESCUE_STATE"
fi
# Memory is not durable: a journal there is gone with the next boot, and
# with it the way back.
case $(stat -f -c %T "$XSRESCUE_STATE" 2>/dev/null) in
tmpfs | ramfs) die 2 "XSRESCUE_STATE $XSRESCUE_STATE is in memory ($(stat -f -c %T "$XSRESCUE_STATE")): give durable storage (XSRESCUE_STATE_NFS, a USB stick)" ;;
esac
# The journal and the images must not live on the disk they protect: the
# installer run that follows rewrites it.
state_dev=$(stat -c %d "$XSRESCUE_STATE" 2>/dev/null)
disk_name=$(readlink -f "$XSRESCUE_DISK")
disk_name=${disk_name##*/}
# The disk, its partitions, and what is built on them (LVM, dm-crypt: their
# holders), by device number.
for f in /sys/class/block/"$disk_name"/dev /sys/class/block/"$disk_name"/"$disk_name"*/dev \
	/sys/class/block/"$disk_name"/holders/*/dev /sys/class/block/"$disk_name"/"$disk_name"*/holders/*/dev; do
	[ -r "$f" ] && [ -n "$state_dev" ] || continue
	IFS=: read -r major minor <"$f"
	# st_dev as the kernel encodes it (new_encode_dev): minor's low byte,
	# major, then minor's high bits.
	if [ "$state_dev" = $(((minor & 255) | (major << 8) | ((minor & ~255) << 12))) ]; then
		die 2 "XSRESCUE_STATE $XSRESCUE_STATE is on $XSRESCUE_DISK (${f%/dev}), the disk being repaired: keep the journal elsewhere"
	fi
done
if [ -z "$XSRESCUE_HOST" ]; then
	for n in /sys/class/net/*; do
		[ "${n##*/}" = lo ] && continue
		XSRESCUE_HOST=$(tr -d ':' <"$n/address" 2>/dev/null) && [ -n "$XSRESCUE_HOST" ] && break
	done
fi
[ -n "$XSRESCUE_HOST" ] || die 2 "XSRESCUE_HOST is not set and no network interface names this host"
HOSTDIR=$XSRESCUE_STATE/$XSRESCUE_HOST
mkdir -p "$HOSTDIR" || die 1 "cannot make $HOSTDIR"
JOURNAL=$HOSTDIR/journal.db
LOG=$HOSTDIR/xsrescue.log
log "host $XSRESCUE_HOST, disk $XSRESCUE_DISK, installer $XSRESCUE_INSTALLER, mode $XSRESCUE_MODE; journal $JOURNAL"

# The static binary, from the install server.
XS=${TMPDIR:-/tmp}/xsrescue.$$
case $XSRESCUE_URL in
file://*) cp "${XSRESCUE_URL#file://}" "$XS.part" ;;
*)
	if command -v wget >/dev/null 2>&1; then
		wget -q -O "$XS.part" "$XSRESCUE_URL"
	else
		curl -fsS -o "$XS.part" "$XSRESCUE_URL"
	fi
	;;
esac || die 1 "cannot fetch $XSRESCUE_URL"
chmod 0755 "$XS.part" && mv "$XS.part" "$XS" || die 1 "cannot install $XS"
"$XS" --version >&2 || die 1 "$XS does not run here (is it the static build?)"

# xs CMD...: run xsrescue, its output appended to the log; given --json, the
# undo argv of every op it applied (op.undo, ops[].undo of the mutation
# document, one string per line) goes to the undo file as one shell-quoted
# line per op.
xs() {
	echo "+ xsrescue $*" >>"$LOG"
	"$XS" "$@" </dev/null >"$HOSTDIR/.out" 2>>"$LOG"
	rc=$?
	cat "$HOSTDIR/.out" >>"$LOG"
	LC_ALL=C awk '
	/"undo": \[/ && !/\[\]/ { f = 1; line = ""; next }
	f && /^ *\]/ { f = 0; if (!seen[line]++) print line; next }
	f {
		s = $0; sub(/^ *"/, "", s); sub(/",?$/, "", s)
		gsub(/\\"/, "\"", s); gsub(/\\\\/, "\\", s); gsub(/\047/, "\047\\\047\047", s)
		line = line (line == "" ? "" : " ") "\047" s "\047"
	}' "$HOSTDIR/.out" >>"$HOSTDIR/undo.txt"
	return $rc
}

# The diagnosis and its plan, for this installer; images go to durable
# storage too. Exit status 4 is "problems found": the plan is the answer.
"$XS" doctor --disk "$XSRESCUE_DISK" --for-installer "$XSRESCUE_INSTALLER" --save-dir "$HOSTDIR" \
	--journal "$JOURNAL" --json </dev/null >"$HOSTDIR/doctor.json" 2>>"$LOG"
rc=$?
case $rc in
0 | 4) log "doctor: exit $rc, plan in $HOSTDIR/doctor.json" ;;
*) die "$rc" "doctor exited $rc (see $LOG)" ;;
esac

# plan_steps FILE MODE: one line per step, "argv<TAB>WORDS" (WORDS quoted
# for eval) or "manual<TAB>TEXT": of doctor's plan for an upgrade, of its
# "restore" alternative for a restore. doctor prints one value per line,
# indented by two spaces per level; a step is {"argv": [...], "mutates"}
# or, from releases before the argv form, {"command": "...", "manual"}.
plan_steps() {
	LC_ALL=C awk -v mode="$2" '
	function unjson(s,    out, i, c, n) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c != "\\") { out = out c; continue }
			c = substr(s, ++i, 1)
			if (c == "n") out = out "\n"
			else if (c == "t") out = out "\t"
			else if (c == "u") { n = hex(substr(s, i + 1, 4)); i += 4; out = out utf8(n) }
			else out = out c
		}
		return out
	}
	function hex(h,    v, i) {
		v = 0
		for (i = 1; i <= 4; i++) v = v * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
		return v
	}
	function utf8(v) {
		if (v < 128) return sprintf("%c", v)
		if (v < 2048) return sprintf("%c%c", 192 + int(v / 64), 128 + v % 64)
		return sprintf("%c%c%c", 224 + int(v / 4096), 128 + int(v / 64) % 64, 128 + v % 64)
	}
	function strval(line) {
		sub(/^ *"[^"]*": "/, "", line); sub(/^ *"/, "", line); sub(/",?$/, "", line)
		return unjson(line)
	}
	function quote(s) { gsub(/\047/, "\047\\\047\047", s); return "\047" s "\047" }
	BEGIN { ind = "    " }
	# upgrade: the steps of "plan"; restore: those of the alternative named
	# "restore", two levels deeper.
	mode == "upgrade" && /^  "plan": \[/ { inlist = 1; next }
	mode == "restore" && /^  "alternatives": \[/ { inalt = 1; next }
	inalt && /^      "name": "restore",/ { isrestore = 1; next }
	inalt && isrestore && /^      "steps": \[/ { inlist = 1; ind = "        "; next }
	inalt && /^    \}/ { isrestore = 0 }
	!inlist { next }
	$0 ~ ("^" substr(ind, 3) "\\]") { inlist = 0; next }
	$0 ~ ("^" ind "\\{") { words = ""; cmd = ""; why = ""; manual = 0; hasargv = 0; next }
	inargv && $0 ~ ("^" ind "  \\]") { inargv = 0; next }
	inargv { words = words " " quote(strval($0)); next }
	$0 ~ ("^" ind "  \"argv\": \\[\\]") { hasargv = 1; next }
	$0 ~ ("^" ind "  \"argv\": \\[") { inargv = 1; hasargv = 1; next }
	$0 ~ ("^" ind "  \"command\": ") { cmd = strval($0); next }
	$0 ~ ("^" ind "  \"why\": ") { why = strval($0); next }
	$0 ~ ("^" ind "  \"manual\": true") { manual = 1; next }
	$0 ~ ("^" ind "\\}") {
		# A step without a command line (argv empty or null, no command,
		# or marked manual) is for a person: the installer run.
		if (words != "") print "argv\t" words
		else if (cmd != "" && !manual && !hasargv) print "command\t" cmd
		else print "manual\t" (cmd != "" ? cmd : why)
	}' "$1"
}

# run_step PROGRAM ARGS...: one step of the plan.
run_step() {
	prog=$1
	shift
	case $prog in
	xsrescue) ;;
	*)
		command -v "$prog" >/dev/null 2>&1 || die 127 "plan step needs $prog, which this environment does not have: $prog $*"
		echo "+ $prog $*" >>"$LOG"
		"$prog" "$@" </dev/null >>"$LOG" 2>&1 || die $? "$prog $* failed (see $LOG)"
		return
		;;
	esac
	case ${1:-} in
	answerfile)
		log "skipped: xsrescue $* (the answer file is written last, for mode $XSRESCUE_MODE)"
		return
		;;
	esac
	# doctor was given the journal, so its steps may name it already.
	case " $* " in *" --journal "* | *" --journal="*) ;; *) set -- "$@" --journal "$JOURNAL" ;; esac
	log "xsrescue $*"
	xs "$@" --yes --json || die $? "xsrescue $* exited $? (see $LOG)"
}

plan_steps "$HOSTDIR/doctor.json" "$XSRESCUE_MODE" >"$HOSTDIR/steps" || die 1 "cannot read the plan in $HOSTDIR/doctor.json"
cd "$HOSTDIR" || die 1 "cannot enter $HOSTDIR"
while IFS= read -r line <&3; do
	kind=${line%%"	"*}
	rest=${line#*"	"}
	case $kind in
	manual) log "not run here: $rest" ;;
	argv | command)
		eval "set -- $rest"
		run_step "$@"
		;;
	esac
done 3<"$HOSTDIR/steps"

# The answer file, last: an upgrade of the repaired installation, or the
# Restore of the backup partition the installer would offer.
answer=$XSRESCUE_ANSWERFILE
[ -n "$answer" ] || answer=$HOSTDIR/answerfile.xml
if [ "$answer" != - ]; then
	rm -f "$answer.new"
	set -- --output "$answer.new"
else
	set --
fi
case $XSRESCUE_MODE in
upgrade) xs answerfile upgrade --disk "$XSRESCUE_DISK" --source "$XSRESCUE_SOURCE" "$@" ;;
restore) xs answerfile restore --disk "$XSRESCUE_DISK" --for-installer "$XSRESCUE_INSTALLER" "$@" ;;
esac
rc=$?
[ $rc -eq 0 ] || die $rc "answerfile $XSRESCUE_MODE exited $rc (see $LOG)"
if [ "$answer" = - ]; then
	# The installer reads the answer file from stdout: only it goes there.
	cat "$HOSTDIR/.out"
else
	mv "$answer.new" "$answer" || die 1 "cannot write $answer"
	log "answer file: $answer"
fi
"$XS" journal list --journal "$JOURNAL" </dev/null >>"$LOG" 2>&1
log "done; undo commands (run last first): $HOSTDIR/undo.txt"
