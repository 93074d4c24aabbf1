package lazyre

import "testing"

func TestNewCompilesOnce(t *testing.T) {
	re := New(`^a+$`)
	if re() != re() {
		t.Fatal("compiled twice")
	}
	if !re().MatchString("aaa") || re().MatchString("ab") {
		t.Fatal("wrong pattern")
	}
}

func TestNewBadExprPanicsOnUse(t *testing.T) {
	re := New(`(`) // no panic here: nothing is compiled yet
	defer func() {
		if recover() == nil {
			t.Fatal("a bad expression compiled")
		}
	}()
	re()
}
