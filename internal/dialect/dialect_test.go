package dialect

import (
	"slices"
	"sort"
	"testing"
	"time"
)

func TestSQLiteTimeSortsAsTheInstants(t *testing.T) {
	t.Parallel()
	east := time.FixedZone("UTC+14", 14*3600)
	west := time.FixedZone("UTC-12", -12*3600)
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	instants := []time.Time{
		base,
		base.Add(500 * time.Millisecond),
		base.Add(time.Microsecond),
		base.Add(-time.Microsecond),
		base.In(east).Add(time.Second),
		base.In(west).Add(-time.Second),
		base.In(east).Add(-time.Hour),
		base.In(west).Add(time.Hour),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(999, 3, 1, 0, 0, 0, 0, west),
	}
	byInstant := slices.Clone(instants)
	slices.SortFunc(byInstant, func(a, b time.Time) int { return a.Compare(b) })
	byText := slices.Clone(instants)
	sort.SliceStable(byText, func(i, j int) bool { return SQLiteTime(byText[i]) < SQLiteTime(byText[j]) })
	for i := range byInstant {
		if !byInstant[i].Equal(byText[i]) {
			t.Fatalf("position %d: by instant %v (%s), by text %v (%s)",
				i, byInstant[i], SQLiteTime(byInstant[i]), byText[i], SQLiteTime(byText[i]))
		}
	}
	for _, in := range instants {
		if got := len(SQLiteTime(in)); got != len(SQLiteTimeLayout) {
			t.Errorf("SQLiteTime(%v) = %q: %d bytes, want %d", in, SQLiteTime(in), got, len(SQLiteTimeLayout))
		}
	}
}

func TestSQLiteTimeClampsOutOfRangeYears(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "9999-12-31 23:59:59.999999"},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01 00:00:00.000000"},
		{time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("", 3600)), "2026-01-02 02:04:05.000006"},
	} {
		if got := SQLiteTime(tc.in); got != tc.want {
			t.Errorf("SQLiteTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
