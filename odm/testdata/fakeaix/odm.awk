# Shared by the fake odm commands. mode=get prints matching objects,
# mode=delete prints the others (and counts the matches on stderr).
BEGIN {
	RS = ""; FS = "\n"
	n = split(q, parts, / and /)
	for (i = 1; i <= n; i++) {
		c = parts[i]
		eq = index(c, "=")
		name = substr(c, 1, eq - 1); val = substr(c, eq + 1)
		gsub(/^[ \t]+|[ \t]+$/, "", name); gsub(/^[ \t']+|[ \t']+$/, "", val)
		if (name != "") { want[name] = val; nwant++ }
	}
	deleted = 0
}
{
	delete have
	for (i = 2; i <= NF; i++) {
		line = $i
		sub(/^[ \t]+/, "", line)
		eq = index(line, " = ")
		if (eq == 0) continue
		k = substr(line, 1, eq - 1); v = substr(line, eq + 3)
		if (v ~ /^".*"$/) v = substr(v, 2, length(v) - 2)
		have[k] = v
	}
	match_ = 1
	for (k in want) if (!(k in have) || have[k] != want[k]) match_ = 0
	if (mode == "get" && match_) printf "\n%s\n", $0
	if (mode == "delete") { if (match_) deleted++; else printf "\n%s\n", $0 }
}
END { if (mode == "delete") printf "%d objects deleted\n", deleted > "/dev/stderr" }
