package guestfix

import (
	"fmt"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// invalidLine is the error for a malformed line of a guest file: it names
// the file and the 1-based line and exits 2.
func invalidLine(name string, line int, format string, args ...any) error {
	return &xerr.SyntaxError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
}
