package xerr

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestCode(t *testing.T) {
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
	err := Invalid(fmt.Errorf("line 3: %w", io.ErrUnexpectedEOF))
	if err.Error() != "line 3: unexpected EOF" {
		t.Errorf("message changed: %q", err.Error())
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("wrapped cause lost")
	}
}
