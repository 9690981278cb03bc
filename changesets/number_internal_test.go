package changesets

import "testing"

// The sizes are what PostgreSQL 15 answers for length(('{"n":N}'::jsonb)->>'n'),
// and "overflows" its "value overflows numeric format".
func TestStoredNumberSizeMatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		num  string
		size int // 0: PostgreSQL refuses it
	}{
		{"0e999999", 1},
		{"0e-20000", 0},
		{"0.0e5", 1},
		{"1e131071", 131072},
		{"1e-16383", 16385},
		{"1e-16384", 0},
		{"1.5e-16383", 0},
		{"12e131070", 131072},
		{"12e131071", 0},
		{"0.00000000000000000000001e-16360", 16385},
		{"100e-2", 4},
		{"1e400", 401},
		{"-42", 3},
		{"9007199254740993", 16},
		{"0.1", 3},
		{"-0.5E+1", 2},
		{"-0.50E+1", 4},
		{"1e99999999999999999999", 0},
	} {
		size, ok := storedNumberSize([]byte(tc.num))
		if tc.size == 0 && ok {
			t.Errorf("storedNumberSize(%s) = %d, want a refusal", tc.num, size)
		}
		if tc.size != 0 && (!ok || size != tc.size) {
			t.Errorf("storedNumberSize(%s) = %d, %v; want %d", tc.num, size, ok, tc.size)
		}
	}
}
