package changesets_test

import (
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
)

var (
	// plusFiveThirty and minusThreeThirty are zones with a half-hour
	// offset, so a conversion that keeps the wall clock is caught.
	plusFiveThirty   = time.FixedZone("X", 5*3600+1800)
	minusThreeThirty = time.FixedZone("Y", -(3*3600 + 1800))
)

func TestCastStoresTimesInUTCAtMicroseconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		inserted, expires         time.Time
		wantInserted, wantExpires time.Time
	}{
		{
			name:         "nanoseconds east of UTC",
			inserted:     time.Date(2030, 1, 2, 2, 0, 0, 999999999, plusFiveThirty),
			expires:      time.Date(2030, 1, 2, 3, 4, 5, 123456789, plusFiveThirty),
			wantInserted: time.Date(2030, 1, 1, 20, 30, 0, 999999000, time.UTC),
			wantExpires:  time.Date(2030, 1, 1, 21, 34, 5, 123456000, time.UTC),
		},
		{
			name:         "nanoseconds west of UTC, across midnight",
			inserted:     time.Date(2030, 12, 31, 21, 0, 0, 1, minusThreeThirty),
			expires:      time.Date(2030, 12, 31, 22, 0, 0, 1999, minusThreeThirty),
			wantInserted: time.Date(2031, 1, 1, 0, 30, 0, 0, time.UTC),
			wantExpires:  time.Date(2031, 1, 1, 1, 30, 0, 1000, time.UTC),
		},
		{
			name:         "mixed zones",
			inserted:     time.Date(2030, 6, 1, 12, 0, 0, 500, time.UTC),
			expires:      time.Date(2030, 6, 1, 12, 0, 0, 1500, minusThreeThirty),
			wantInserted: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC),
			wantExpires:  time.Date(2030, 6, 1, 15, 30, 0, 1000, time.UTC),
		},
		{
			name:         "already UTC microseconds",
			inserted:     time.Date(2030, 6, 1, 12, 0, 0, 7000, time.UTC),
			expires:      time.Date(2030, 6, 1, 12, 0, 1, 8000, time.UTC),
			wantInserted: time.Date(2030, 6, 1, 12, 0, 0, 7000, time.UTC),
			wantExpires:  time.Date(2030, 6, 1, 12, 0, 1, 8000, time.UTC),
		},
		{
			name:         "year 10000 east of UTC is 9999 in UTC",
			inserted:     time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			expires:      time.Date(10000, 1, 1, 0, 0, 0, 0, plusFiveThirty),
			wantInserted: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			wantExpires:  time.Date(9999, 12, 31, 18, 30, 0, 0, time.UTC),
		},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.InsertedAt, in.ExpiresAt = tt.inserted, tt.expires
				got, err := k.cast(in, changesets.Limits{})
				if err != nil {
					t.Fatalf("Cast: %v", err)
				}
				for _, c := range []struct {
					field     string
					got, want time.Time
				}{
					{"InsertedAt", got.InsertedAt, tt.wantInserted},
					{"ExpiresAt", got.ExpiresAt, tt.wantExpires},
				} {
					if !c.got.Equal(c.want) || c.got.Location() != time.UTC {
						t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
					}
				}
			})
		}
	}
}

func TestCastRefusesBadTimes(t *testing.T) {
	t.Parallel()
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		inserted, expires time.Time
		want              []changesets.FieldError
	}{
		{
			name:     "zero expires_at",
			inserted: insertedAt,
			want:     []changesets.FieldError{{Field: "expires_at", Message: "can't be blank"}},
		},
		{
			name:    "zero inserted_at",
			expires: expiresAt,
			want:    []changesets.FieldError{{Field: "inserted_at", Message: "can't be blank"}},
		},
		{
			name: "both zero",
			want: []changesets.FieldError{
				{Field: "expires_at", Message: "can't be blank"},
				{Field: "inserted_at", Message: "can't be blank"},
			},
		},
		{
			name:     "expires_at equal to inserted_at",
			inserted: insertedAt,
			expires:  insertedAt,
			want:     []changesets.FieldError{{Field: "expires_at", Message: "must be after inserted_at"}},
		},
		{
			name:     "expires_at the same instant in another zone",
			inserted: insertedAt,
			expires:  insertedAt.In(plusFiveThirty),
			want:     []changesets.FieldError{{Field: "expires_at", Message: "must be after inserted_at"}},
		},
		{
			name:     "expires_at later within the same microsecond",
			inserted: insertedAt.Add(1),
			expires:  insertedAt.Add(999),
			want:     []changesets.FieldError{{Field: "expires_at", Message: "must be after inserted_at"}},
		},
		{
			name:     "expires_at one microsecond before inserted_at",
			inserted: insertedAt,
			expires:  insertedAt.Add(-time.Microsecond),
			want:     []changesets.FieldError{{Field: "expires_at", Message: "must be after inserted_at"}},
		},
		{
			name:     "expires_at a day before inserted_at",
			inserted: insertedAt,
			expires:  insertedAt.AddDate(0, 0, -1),
			want:     []changesets.FieldError{{Field: "expires_at", Message: "must be after inserted_at"}},
		},
		{
			name:     "expires_at in year 10000",
			inserted: insertedAt,
			expires:  year10000,
			want:     []changesets.FieldError{{Field: "expires_at", Message: "is out of range"}},
		},
		{
			name:     "expires_at in year 10000 in UTC, 9999 in its zone",
			inserted: insertedAt,
			expires:  time.Date(9999, 12, 31, 22, 0, 0, 0, minusThreeThirty),
			want:     []changesets.FieldError{{Field: "expires_at", Message: "is out of range"}},
		},
		{
			name:     "both in year 10000",
			inserted: year10000,
			expires:  year10000.Add(time.Hour),
			want: []changesets.FieldError{
				{Field: "expires_at", Message: "is out of range"},
				{Field: "inserted_at", Message: "is out of range"},
			},
		},
		{
			name:     "inserted_at in year 0",
			inserted: time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC),
			expires:  expiresAt,
			want:     []changesets.FieldError{{Field: "inserted_at", Message: "is out of range"}},
		},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.InsertedAt, in.ExpiresAt = tt.inserted, tt.expires
				_, err := k.cast(in, changesets.Limits{})
				wantInvalid(t, err, tt.want...)
			})
		}
	}
}

// TestCastAcceptsTheEdgesOfTheStorableRange checks that the out-of-range
// rule refuses only what it should.
func TestCastAcceptsTheEdgesOfTheStorableRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		inserted, expires time.Time
	}{
		{"first instant of year 1", time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"last microsecond of year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"expires one microsecond after", insertedAt, insertedAt.Add(time.Microsecond)},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.InsertedAt, in.ExpiresAt = tt.inserted, tt.expires
				if _, err := k.cast(in, changesets.Limits{}); err != nil {
					t.Fatalf("Cast: %v", err)
				}
			})
		}
	}
}
