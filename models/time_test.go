package models_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/attesto/gormstore/models"
)

func TestTimeScan(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 3, 1, 12, 0, 5, 123456000, time.UTC)
	whole := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)
	tokyo := time.FixedZone("UTC+9", 9*3600)
	for _, tc := range []struct {
		name string
		src  any
		want time.Time
	}{
		{"stores' text", "2026-03-01 12:00:05.123456", want},
		{"stores' text as bytes", []byte("2026-03-01 12:00:05.123456"), want},
		{"T separator", "2026-03-01T12:00:05.123456", want},
		{"T and Z (ecto_sqlite3)", "2026-03-01T12:00:05.123456Z", want},
		{"no fraction", "2026-03-01 12:00:05", whole},
		{"no fraction, Z", "2026-03-01T12:00:05Z", whole},
		{"short fraction", "2026-03-01 12:00:05.5", whole.Add(500 * time.Millisecond)},
		{"nanoseconds", "2026-03-01 12:00:05.123456789", want.Add(789)},
		{"offset with colon (the SQLite driver's own format)", "2026-03-01 21:00:05.123456+09:00", want},
		{"negative offset", "2026-03-01T08:30:05.123456-03:30", want},
		{"offset without colon", "2026-03-01 21:00:05.123456+0900", want},
		{"offset in hours (PostgreSQL's text)", "2026-03-01 21:00:05.123456+09", want},
		{"zero offset", "2026-03-01 12:00:05.123456+00:00", want},
		{"time.Time in another zone", want.In(tokyo), want},
		{"time.Time in UTC", want, want},
		{"NULL", nil, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := models.NewTime(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)) // overwritten, even by NULL
			if err := got.Scan(tc.src); err != nil {
				t.Fatalf("Scan(%#v): %v", tc.src, err)
			}
			if !got.Equal(tc.want) || (!tc.want.IsZero() && got.Location() != time.UTC) {
				t.Errorf("Scan(%#v) = %v (%v), want %v in UTC", tc.src, got.Time, got.Location(), tc.want)
			}
			if tc.want.IsZero() && !got.IsZero() {
				t.Errorf("Scan(%#v) = %v, want the zero time", tc.src, got.Time)
			}
		})
	}
}

func TestTimeScanRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  any
		msg  string
	}{
		{"int64", int64(1772366405), "models: scan time: a int64: not a time as the tables hold it"},
		{"float64", 1772366405.5, "models: scan time: a float64: not a time as the tables hold it"},
		{"bool", true, "models: scan time: a bool: not a time as the tables hold it"},
		{"pointer to a time", &time.Time{}, "models: scan time: a *time.Time: not a time as the tables hold it"},
		{"date only", "2026-03-01", `models: scan time: "2026-03-01": not a time as the tables hold it`},
		{"month out of range", "2026-13-01 12:00:05", `models: scan time: "2026-13-01 12:00:05": not a time as the tables hold it`},
		{"trailing text", "2026-03-01 12:00:05.123456 UTC", "models: scan time: 30 bytes of text: not a time as the tables hold it"},
		{"not a time, not quoted", `{"client_secret":"s3cret"}`, "models: scan time: 26 bytes of text: not a time as the tables hold it"},
		{"bytes, not a time", []byte("tomorrow"), "models: scan time: 8 bytes of text: not a time as the tables hold it"},
		{"empty", "", `models: scan time: "": not a time as the tables hold it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got models.Time
			err := got.Scan(tc.src)
			if !errors.Is(err, models.ErrNotTime) {
				t.Fatalf("Scan(%#v) = %v, want ErrNotTime", tc.src, err)
			}
			if err.Error() != tc.msg {
				t.Errorf("Scan(%#v) error %q, want %q", tc.src, err, tc.msg)
			}
			if !got.IsZero() {
				t.Errorf("Scan(%#v) left %v, want the zero time", tc.src, got.Time)
			}
		})
	}
}

// Value hands database/sql the instant in UTC; JSON and the time methods
// are the embedded time.Time's.
func TestTimeValueAndPromotedMethods(t *testing.T) {
	t.Parallel()
	in := time.Date(2026, 3, 1, 21, 0, 5, 123456000, time.FixedZone("UTC+9", 9*3600))
	v, err := models.NewTime(in).Value()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := v.(time.Time)
	if !ok || !got.Equal(in) || got.Location() != time.UTC {
		t.Errorf("Value() = %#v, want %v in UTC", v, in.UTC())
	}
	a, errA := json.Marshal(models.NewTime(in))
	b, errB := json.Marshal(in)
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Errorf("JSON %s (%v), want the time's %s (%v)", a, errA, b, errB)
	}
	var back models.Time
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(in) {
		t.Errorf("JSON read back %v (%v), want %v", back.Time, err, in)
	}
}
