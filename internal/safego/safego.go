// Package safego turns a panic in a goroutine into an error of the command
// that started it. The command's own recover covers only its goroutine: a
// panic in any other one would end the process with a Go stack trace (and
// exit 2, the "invalid input" code). Every goroutine a domain package
// starts runs its work under Recover.
package safego

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPanic is what a recovered panic becomes: the command fails (exit 1)
// with one line, "internal error: … (a bug in xsrescue; …)".
var ErrPanic = errors.New("internal error")

// Recover, deferred first thing in a goroutine, turns a panic into *err
// (which must then reach the command like any other error of that work).
func Recover(err *error) {
	if r := recover(); r != nil {
		*err = Error(r)
	}
}

// Error is the error a recovered value r becomes.
func Error(r any) error {
	s := fmt.Sprint(r)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return fmt.Errorf("%w: %s (a bug in xsrescue; please report it with the command line)", ErrPanic, s)
}
