package xerr

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", io.ErrUnexpectedEOF, ExitFailed},
		{"invalid", Invalidf("state.db offset %d: bad", 7), ExitInvalid},
		{"invalid wrapped twice", fmt.Errorf("outer: %w", Invalid(io.EOF)), ExitInvalid},
		{"refused", Refusedf("mounted"), ExitRefused},
		{"refused beats invalid", Refused(Invalid(io.EOF)), ExitRefused},
		{"problems", Problems(errors.New("2 broken findings")), ExitProblems},
		{"invalid beats problems", Invalid(Problems(io.EOF)), ExitInvalid},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("%s: Code = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestMessageAndUnwrapKept(t *testing.T) {
	t.Parallel()
	err := Invalid(fmt.Errorf("line 3: %w", io.ErrUnexpectedEOF))
	if err.Error() != "line 3: unexpected EOF" {
		t.Errorf("message changed: %q", err.Error())
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("wrapped cause lost")
	}
}

// TestSyntaxError: one shape for every line-oriented format, invalid input
// (exit 2), its format's sentinel found through it.
func TestSyntaxError(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("malformed thing")
	for _, err := range []error{
		&SyntaxError{File: "etc/x", Line: 3, Msg: "no '='", Err: sentinel},
		fmt.Errorf("reading: %w", &SyntaxError{File: "etc/x", Line: 3, Msg: "no '='", Err: sentinel}),
	} {
		if Code(err) != ExitInvalid || !errors.Is(err, sentinel) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: code %d, sentinel %v", err, Code(err), errors.Is(err, sentinel))
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != 3 || !strings.HasSuffix(err.Error(), "etc/x line 3: no '='") {
			t.Errorf("%q: not the SyntaxError", err)
		}
	}
	if err := (&SyntaxError{File: "f", Line: 1, Msg: "m"}); Code(err) != ExitInvalid || err.Error() != "f line 1: m" {
		t.Errorf("without a sentinel: %v (code %d)", err, Code(err))
	}
}
