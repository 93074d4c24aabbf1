package safego

import (
	"errors"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() { done <- err }()
		defer Recover(&err)
		var m map[string]int
		m["x"] = 1 // a nil map: the runtime panics
	}()
	err := <-done
	if !errors.Is(err, ErrPanic) || !strings.HasPrefix(err.Error(), "internal error: assignment to entry in nil map (a bug in xsrescue") {
		t.Errorf("err = %v", err)
	}
	if e := Error("two\nlines"); strings.Contains(e.Error(), "lines") {
		t.Errorf("Error kept the second line: %q", e)
	}
}
