package lazyre

import "testing"

func TestCompilesOnceOnFirstUse(t *testing.T) {
	re := New(`^[a-z]+$`)
	if !re().MatchString("abc") || re().MatchString("ABC") {
		t.Fatal("lazy expression does not match as compiled")
	}
	if re() != re() {
		t.Error("compiled again on a later call")
	}
}

func TestInvalidExpressionPanicsOnFirstUse(t *testing.T) {
	re := New(`(`) // constructing must not panic: nothing is compiled yet
	defer func() {
		if recover() == nil {
			t.Error("an invalid expression did not panic on first use")
		}
	}()
	re()
}
