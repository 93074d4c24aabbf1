package main

import (
	"errors"
	"syscall"

	"github.com/xsrescue/xsrescue/internal/xerr"
	"github.com/xsrescue/xsrescue/zfsroot/vdev"
)

// exitCode is the exit code of a command's error: the xerr mark it carries
// (docs/exit-codes.md). Every error is marked where it arises — usage
// errors here (usage), bad input and refusals in the domain packages, the
// journal's sentinels where they are defined — except two rules that hold
// whichever command ran into them: a symlink loop the kernel reports
// (ELOOP) in a root or among the paths given is bad input, and so is a
// filesystem the kernel found corrupt through one of xsrescue's mounts
// (EUCLEAN: ext4's and xfs's EFSCORRUPTED), as the in-process reader's
// extfs.ErrCorrupt is.
func exitCode(err error) int {
	code := xerr.Code(err)
	if code == xerr.ExitFailed && (errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EUCLEAN)) {
		return xerr.ExitInvalid
	}
	return code
}

// usage marks err as a command-line mistake: exit 2.
func usage(err error) error {
	if errors.Is(err, xerr.ErrInvalid) {
		return err
	}
	return xerr.Invalid(err)
}

// usagef formats a command-line mistake (exit 2).
func usagef(format string, args ...any) error { return xerr.Invalidf(format, args...) }

// errorDoc is the JSON document of a command that failed before it printed
// its own: {"error": {"message": ..., "exit_code": N}} (docs/json.md).
type errorDoc struct {
	Error *errorInfo `json:"error"`
}

// errorInfo is an error as JSON, alone (errorDoc) or inside a command's
// document (guest check and fix, answerfile restore).
type errorInfo struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
	// Details says more where a command has more to say: zfs labels
	// gives every extent's per-label reasons for finding no pool member.
	Details any `json:"details,omitempty"`
}

// newErrorInfo is err as JSON with its exit code; nil for nil.
func newErrorInfo(err error) *errorInfo {
	if err == nil {
		return nil
	}
	return errorInfoCode(err, exitCode(err))
}

func errorInfoCode(err error, code int) *errorInfo {
	info := &errorInfo{Message: err.Error(), ExitCode: code}
	if serr := (*vdev.ScanError)(nil); errors.As(err, &serr) {
		info.Details = serr.Details
	}
	return info
}
