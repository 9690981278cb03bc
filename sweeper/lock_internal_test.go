package sweeper

import "testing"

func TestDerivedLockKey(t *testing.T) {
	t.Parallel()
	a, b := Table{Name: "a", Key: "id"}, Table{Name: "b", Key: "id"}
	key := deriveLockKey("s1", []Table{a, b})
	if key == 0 {
		t.Fatal("derived key is 0, the value that means 'derive one'")
	}
	if deriveLockKey("s1", []Table{b, a}) != key {
		t.Error("the key depends on the order of Tables: nodes listing them differently would sweep at once")
	}
	for name, other := range map[string]int64{
		"another schema": deriveLockKey("s2", []Table{a, b}),
		"other tables":   deriveLockKey("s1", []Table{a}),
		"no schema":      deriveLockKey("", []Table{a, b}),
	} {
		if other == key {
			t.Errorf("%s derives the same key: their sweeps would skip each other", name)
		}
	}
}
