package guestfix

import (
	"bytes"
	"fmt"
	"strings"
)

// securettyLine is the size pam_securetty reads each line with:
// fgets(ttyfileline, sizeof(ttyfileline)-1, ttyfile) on a char[256], so at
// most 254 bytes per read; a longer line is read as several.
const securettyLine = 254

// SecureTTY reports whether pam_securetty lets root log in on tty with this
// etc/securetty: some line is tty exactly. pam_securetty (Linux-PAM 0.77,
// CentOS 4, to 1.x: securetty_perform_check) reads the file with fgets,
// removes only a trailing "\n" and compares with strcmp, so "ttyS0 ",
// "ttyS0\r" (a CRLF file) and " ttyS0" do not count; strcmp stops at a NUL
// byte. When no line matches, near describes the first line that would
// after trimming blanks and "\r" ("line 3 is \"ttyS0 \""), or is "".
func SecureTTY(data []byte, tty string) (ok bool, near string) {
	line := 1
	for rest := data; len(rest) > 0; {
		n := bytes.IndexByte(rest, '\n') + 1
		if n == 0 || n > securettyLine {
			n = min(len(rest), securettyLine)
		}
		chunk := rest[:n]
		rest = rest[n:]
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		cstr, _, _ := bytes.Cut(chunk, []byte{0})
		if string(cstr) == tty {
			return true, ""
		}
		if near == "" && strings.TrimSpace(string(chunk)) == tty {
			near = fmt.Sprintf("line %d is %q", line, chunk)
		}
		if n > 0 && data[len(data)-len(rest)-1] == '\n' {
			line++
		}
	}
	return false, near
}
