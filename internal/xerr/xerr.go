// Package xerr classifies errors by the exit code the CLI must return, so that
// domain packages can say "this input is unusable" or "refused for safety"
// without knowing about the command line.
package xerr

import (
	"errors"
	"fmt"
)

// Exit codes, documented in docs/exit-codes.md and in `xsrescue --help`.
const (
	ExitOK      = 0 // success, also "already as requested"
	ExitFailed  = 1 // the operation failed
	ExitInvalid = 2 // usage error or invalid input
	ExitRefused = 3 // refused for safety
	// ExitProblems: the command completed, and problems were found or
	// remain (doctor's broken findings, a check that fails, a fix that
	// left broken findings). Not an error of the command itself.
	ExitProblems = 4
)

var (
	// ErrInvalid marks bad input: a malformed file, a bad flag value. Exit 2.
	ErrInvalid = errors.New("invalid input")
	// ErrRefused marks a refusal for safety: a mounted device, drift since an
	// op, a change that would lose data. Exit 3.
	ErrRefused = errors.New("refused")
	// ErrProblems marks "completed, and problems were found or remain".
	// Exit 4. The command has already printed its full report.
	ErrProblems = errors.New("problems found")
)

type marked struct {
	err  error
	kind error
}

func (m *marked) Error() string        { return m.err.Error() }
func (m *marked) Unwrap() error        { return m.err }
func (m *marked) Is(target error) bool { return target == m.kind }

// Invalid marks err as invalid input (exit 2) without changing its message.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: ErrInvalid}
}

// Refused marks err as a safety refusal (exit 3) without changing its message.
func Refused(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: ErrRefused}
}

// Problems marks err as "completed, problems found" (exit 4).
func Problems(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: ErrProblems}
}

// Invalidf formats an invalid-input error; %w verbs wrap as in fmt.Errorf.
func Invalidf(format string, args ...any) error { return Invalid(fmt.Errorf(format, args...)) }

// Refusedf formats a refusal; %w verbs wrap as in fmt.Errorf.
func Refusedf(format string, args ...any) error { return Refused(fmt.Errorf(format, args...)) }

// SyntaxError locates a malformed line of a text file (an inventory, an
// odmget dump, an ls -l listing, a guest's configuration): the file as the
// user knows it, the 1-based line, and what is wrong there. Err is the
// format's sentinel (versionfile.ErrSyntax, odm.ErrSyntax), found by
// errors.Is; a SyntaxError is always invalid input (exit 2).
type SyntaxError struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg) }

// Unwrap gives the format's sentinel and ErrInvalid.
func (e *SyntaxError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{e.Err, ErrInvalid}
}

// Code is the process exit code for err.
func Code(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrRefused):
		return ExitRefused
	case errors.Is(err, ErrInvalid):
		return ExitInvalid
	case errors.Is(err, ErrProblems):
		return ExitProblems
	default:
		return ExitFailed
	}
}
