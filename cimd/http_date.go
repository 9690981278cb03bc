package cimd

import (
	"net/http"
	"strings"
	"time"
)

// parseHTTPDate parses an HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate,
// or one of the obsolete RFC 850 and asctime formats, all in GMT. ref is
// the time the response was received, which the RFC 850 format's
// two-digit year is read against.
func parseHTTPDate(s string, ref time.Time) (time.Time, bool) {
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}, false
	}
	// http.ParseTime's RFC 850 layout takes any zone abbreviation (an
	// unknown one as UTC), but an HTTP-date is GMT only. Its other two
	// layouts have GMT as a literal, or no zone at all.
	if _, err := time.Parse(time.RFC850, s); err == nil {
		if !strings.HasSuffix(s, " GMT") {
			return time.Time{}, false
		}
		t = rfc850Year(t.UTC(), ref)
	}
	return t.UTC(), true
}

// rfc850Year applies RFC 9110 section 5.6.7 to an RFC 850 date's two-digit
// year, which time.Parse maps to 1969-2068 whatever the date: "a
// timestamp that appears to be more than 50 years in the future" is "the
// most recent year in the past that had the same last two digits".
func rfc850Year(t, ref time.Time) time.Time {
	limit := ref.AddDate(50, 0, 0)
	year := ref.Year() - ref.Year()%100 + t.Year()%100
	at := func(y int) time.Time {
		return time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	switch {
	case !at(year + 100).After(limit):
		year += 100
	case at(year).After(limit):
		year -= 100
	}
	return at(year)
}
