package sweeper

import (
	"math"
	"strings"
	"testing"
)

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

// MySQL refuses lock names longer than 64 characters.
func TestLockName(t *testing.T) {
	t.Parallel()
	for _, key := range []int64{1, -1, math.MinInt64, math.MaxInt64, deriveLockKey("db", DefaultTables())} {
		name := lockName(key)
		if len(name) > 64 || len(name) != len(lockNamePrefix)+16 || !strings.HasPrefix(name, lockNamePrefix) {
			t.Errorf("lockName(%d) = %q: want the prefix and 16 hex digits, at most 64 characters", key, name)
		}
	}
	if lockName(1) == lockName(2) || lockName(-1) == lockName(1) {
		t.Error("two keys share a lock name")
	}
}
