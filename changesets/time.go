package changesets

import (
	"slices"
	"time"
)

// normalizeTime returns t in UTC at microsecond precision: what a
// PostgreSQL timestamp holds, so a stored time reads back equal.
func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// sortFields orders errs by column, so messages read in a stable order.
func sortFields(errs []FieldError, columns []string) []FieldError {
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		return slices.Index(columns, a.Field) - slices.Index(columns, b.Field)
	})
	return errs
}
