package cimd

import (
	"strings"
	"time"
)

// The names RFC 9110 section 5.6.7 spells HTTP-dates with; they are
// case-sensitive (%s"..." in its ABNF).
var (
	dayNames     = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames   = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// parseHTTPDate parses an HTTP-date (RFC 9110 section 5.6.7) exactly as
// the RFC defines it, and nothing else:
//
//	IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
//	asctime-date Sun Nov  6 08:49:37 1994
//
// with single spaces where the grammar has SP, two-digit hours, minutes
// and seconds (a leap second, 60, allowed), a day of month and time that
// exist, and a day name that is the date's own (RFC 5322 section 3.3,
// which IMF-fixdate is a fixed-length subset of). ref is the time the
// response was received, which the RFC 850 format's two-digit year is
// read against. Optional whitespace around the field value is not part of
// it (RFC 9110 section 5.5) and is ignored.
//
// RFC 9111 section 5.3 makes an invalid Expires mean "already expired";
// reading a malformed date as a valid one would instead cache a document
// as long as the malformed date says.
func parseHTTPDate(s string, ref time.Time) (time.Time, bool) {
	s = strings.Trim(s, " \t")
	switch {
	case len(s) == len("Sun, 06 Nov 1994 08:49:37 GMT") && s[3] == ',':
		return parseIMFFixdate(s)
	case len(s) == len("Sun Nov  6 08:49:37 1994"):
		return parseAsctime(s)
	}
	return parseRFC850(s, ref)
}

// parseIMFFixdate: day-name "," SP 2DIGIT SP month SP 4DIGIT SP
// time-of-day SP "GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits2(s[5:7])
	month, ok2 := month(s[8:11])
	year, ok3 := digits4(s[12:16])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return date(year, month, day, s[17:25], dayIndex(dayNames[:], s[:3]))
}

// parseRFC850: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP
// time-of-day SP "GMT".
func parseRFC850(s string, ref time.Time) (time.Time, bool) {
	name, rest, ok := strings.Cut(s, ", ")
	if !ok || len(rest) != len("06-Nov-94 08:49:37 GMT") {
		return time.Time{}, false
	}
	if rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest[18:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits2(rest[0:2])
	month, ok2 := month(rest[3:6])
	yy, ok3 := digits2(rest[7:9])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	// The century is the one that puts the date at most 50 years after
	// ref; the day name is checked against that year.
	t, ok := date(rfc850Year(yy, month, day, ref), month, day, rest[10:18], -1)
	if !ok || dayIndex(longDayNames[:], name) != int(t.Weekday()) {
		return time.Time{}, false
	}
	return t, true
}

// parseAsctime: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP
// time-of-day SP 4DIGIT, in GMT though it does not say so.
func parseAsctime(s string) (time.Time, bool) {
	if s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	dayText := s[8:10]
	if dayText[0] == ' ' {
		dayText = "0" + dayText[1:] // SP DIGIT
	}
	day, ok1 := digits2(dayText)
	month, ok2 := month(s[4:7])
	year, ok3 := digits4(s[20:24])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return date(year, month, day, s[11:19], dayIndex(dayNames[:], s[:3]))
}

// date builds the time, checking that the day and the time of day exist
// and, when weekday is not -1, that the date falls on it.
func date(year int, month time.Month, day int, tod string, weekday int) (time.Time, bool) {
	if len(tod) != 8 || tod[2] != ':' || tod[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits2(tod[0:2])
	minute, ok2 := digits2(tod[3:5])
	sec, ok3 := digits2(tod[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 || day < 1 {
		return time.Time{}, false
	}
	// time.Date normalises 31 April to 1 May: the day exists only if it
	// comes back as it went in. A leap second is read as the second after.
	t := time.Date(year, month, day, hour, minute, min(sec, 59), 0, time.UTC)
	if t.Day() != day || t.Month() != month {
		return time.Time{}, false
	}
	if weekday != -1 && int(t.Weekday()) != weekday {
		return time.Time{}, false
	}
	if sec == 60 {
		t = t.Add(time.Second)
	}
	return t, true
}

// rfc850Year applies RFC 9110 section 5.6.7 to an RFC 850 date's two-digit
// year: "a timestamp that appears to be more than 50 years in the future"
// is "the most recent year in the past that had the same last two digits".
func rfc850Year(yy int, month time.Month, day int, ref time.Time) int {
	limit := ref.AddDate(50, 0, 0)
	// Compare at the day's start: the time of day cannot move a date
	// across the 50-year limit by more than a day, and the limit is not
	// exact to the second anyway.
	after := func(y int) bool { return time.Date(y, month, day, 0, 0, 0, 0, time.UTC).After(limit) }
	year := ref.Year() - ref.Year()%100 + yy
	switch {
	case !after(year + 100):
		year += 100
	case after(year):
		year -= 100
	}
	return year
}

func dayIndex(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -2 // matches no weekday, and is not -1
}

func month(s string) (time.Month, bool) {
	for i, n := range monthNames {
		if n == s {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

func digits2(s string) (int, bool) {
	if len(s) != 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func digits4(s string) (int, bool) {
	hi, ok1 := digits2(s[:2])
	lo, ok2 := digits2(s[2:])
	return hi*100 + lo, ok1 && ok2
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
