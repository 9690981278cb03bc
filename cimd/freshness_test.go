package cimd_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo/repotest"
)

// t0 is where the request of every case is sent, unless the case says
// otherwise: 2026-03-01 12:00:00 UTC, a Sunday.
var t0 = repotest.Epoch

// at is t0 plus d as an IMF-fixdate.
func at(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }

const (
	s = time.Second
	// wide bounds let the worked examples show RFC 9111's arithmetic
	// without clamping.
	century = 100 * 365 * 24 * time.Hour
)

var wide = cimd.Bounds{Min: time.Second, Max: century}

type freshnessCase struct {
	name string
	// header lines, "Name: value"; a name may repeat.
	header []string
	// request and response times, as offsets from t0.
	req, resp time.Duration
	// noReq leaves the request time zero.
	noReq  bool
	bounds cimd.Bounds
	// want is expires_at as an offset from t0.
	want time.Duration
}

func runFreshness(t *testing.T, cases []freshnessCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			setHeader(h, c.header)
			req := t0.Add(c.req)
			if c.noReq {
				req = time.Time{}
			}
			got := cimd.ExpiresAt(h, req, t0.Add(c.resp), c.bounds)
			if want := t0.Add(c.want); !got.Equal(want) {
				t.Errorf("ExpiresAt = t0%+v, want t0%+v", got.Sub(t0), c.want)
			}
		})
	}
}

// Worked examples of RFC 9111 section 4.2.3, unclamped. In each comment:
// apparent_age = max(0, response_time - date_value), corrected_age_value
// = age_value + (response_time - request_time), corrected_initial_age =
// the larger of the two, and expires_at = response_time +
// freshness_lifetime - corrected_initial_age. Times are seconds after t0.
func TestExpiresAtWorkedExamples(t *testing.T) {
	t.Parallel()
	runFreshness(t, []freshnessCase{{
		// apparent = max(0, 2-2) = 0; corrected = 0 + (2-0) = 2; initial = 2;
		// expires = 2 + 600 - 2 = 600.
		name:   "max-age, clocks in step, 2 s round trip",
		header: []string{"Cache-Control: max-age=600", "Date: " + at(2*s)},
		resp:   2 * s, bounds: wide, want: 600 * s,
	}, {
		// A proxy served a copy it got 100 s ago. apparent = 1-(-100) = 101;
		// corrected = 100 + 1 = 101; initial = 101; expires = 1 + 3600 - 101 = 3500.
		name:   "max-age from a proxy with Age",
		header: []string{"Cache-Control: max-age=3600", "Age: 100", "Date: " + at(-100*s)},
		resp:   1 * s, bounds: wide, want: 3500 * s,
	}, {
		// apparent = max(0, 1-1) = 0; corrected = 500 + 1 = 501; initial = 501;
		// expires = 1 + 3600 - 501 = 3100.
		name:   "Age above the apparent age",
		header: []string{"Cache-Control: max-age=3600", "Age: 500", "Date: " + at(1*s)},
		resp:   1 * s, bounds: wide, want: 3100 * s,
	}, {
		// The origin's clock is an hour behind. apparent = 1-(-3600) = 3601;
		// corrected = 0 + 1 = 1; initial = 3601; expires = 1 + 7200 - 3601 = 3600.
		name:   "origin clock behind: the apparent age wins",
		header: []string{"Cache-Control: max-age=7200", "Date: " + at(-3600*s)},
		resp:   1 * s, bounds: wide, want: 3600 * s,
	}, {
		// The origin's clock is an hour ahead. apparent = max(0, 3-3600) = 0;
		// corrected = 0 + 3 = 3; initial = 3; expires = 3 + 600 - 3 = 600.
		name:   "origin clock ahead: the apparent age is zero",
		header: []string{"Cache-Control: max-age=600", "Date: " + at(3600*s)},
		resp:   3 * s, bounds: wide, want: 600 * s,
	}, {
		// Generated 1 s after the request, arrived 29 s later. apparent =
		// 30-1 = 29; corrected = 0 + 30 = 30; initial = 30;
		// expires = 30 + 120 - 30 = 120: counted from the request, not the arrival.
		name:   "delayed response",
		header: []string{"Cache-Control: max-age=120", "Date: " + at(1*s)},
		resp:   30 * s, bounds: wide, want: 120 * s,
	}, {
		// apparent = 30-(-50) = 80; corrected = 60 + 30 = 90; initial = 90;
		// expires = 30 + 600 - 90 = 540.
		name:   "delayed response with Age",
		header: []string{"Cache-Control: max-age=600", "Age: 60", "Date: " + at(-50*s)},
		resp:   30 * s, bounds: wide, want: 540 * s,
	}, {
		// The request was sent at t0+10 s. apparent = 0; corrected = 0 + (25-10) = 15;
		// initial = 15; expires = 25 + 300 - 15 = 310.
		name:   "request sent after t0",
		header: []string{"Cache-Control: max-age=300", "Date: " + at(25*s)},
		req:    10 * s, resp: 25 * s, bounds: wide, want: 310 * s,
	}, {
		// lifetime = Expires - Date = 3602-2 = 3600; apparent = 0;
		// corrected = 30 + 2 = 32; initial = 32; expires = 2 + 3600 - 32 = 3570.
		name:   "Expires minus Date, with Age",
		header: []string{"Expires: " + at(3602*s), "Date: " + at(2*s), "Age: 30"},
		resp:   2 * s, bounds: wide, want: 3570 * s,
	}, {
		// No Date: date_value = response_time = 2. lifetime = 602-2 = 600;
		// apparent = 0; corrected = 0 + 2 = 2; expires = 2 + 600 - 2 = 600.
		name:   "Expires without Date counts from the response time",
		header: []string{"Expires: " + at(602*s)},
		resp:   2 * s, bounds: wide, want: 600 * s,
	}, {
		// lifetime = 3600-(-3600) = 7200; apparent = 1-(-3600) = 3601;
		// corrected = 1; initial = 3601; expires = 1 + 7200 - 3601 = 3600.
		name:   "Expires with the origin clock behind",
		header: []string{"Expires: " + at(3600*s), "Date: " + at(-3600*s)},
		resp:   1 * s, bounds: wide, want: 3600 * s,
	}, {
		// Fully aged: initial = 60 = lifetime, so 0 s remain; clamped to Min (1 s).
		name:   "a response as old as its lifetime lives Min",
		header: []string{"Cache-Control: max-age=60", "Age: 60"},
		bounds: wide, want: 1 * s,
	}, {
		// No request time: response_delay = 0. expires = 10 + 600 - 0 = 610.
		name:   "zero request time counts as the response time",
		header: []string{"Cache-Control: max-age=600"},
		noReq:  true, resp: 10 * s, bounds: wide, want: 610 * s,
	}, {
		// A request time after the response time is taken as the response time.
		name:   "request time after the response time",
		header: []string{"Cache-Control: max-age=600"},
		req:    20 * s, resp: 10 * s, bounds: wide, want: 610 * s,
	}})
}

// The bounds: the lifetime lies within [Min, Max] after the response time.
func TestExpiresAtClampsToBounds(t *testing.T) {
	t.Parallel()
	runFreshness(t, []freshnessCase{
		{name: "no caching headers: Min", want: 60 * s},
		{name: "within the default bounds", header: []string{"Cache-Control: max-age=3600"}, want: 3600 * s},
		{name: "short max-age raised to 60 s", header: []string{"Cache-Control: max-age=10"}, want: 60 * s},
		{name: "max-age=0 raised to 60 s", header: []string{"Cache-Control: max-age=0"}, want: 60 * s},
		{name: "long max-age lowered to 24 h", header: []string{"Cache-Control: max-age=604800"}, want: 24 * time.Hour},
		{name: "exactly 24 h", header: []string{"Cache-Control: max-age=86400"}, want: 24 * time.Hour},
		// Clamped from the response time (5 s), not the request time.
		{name: "Min counts from the response time", header: []string{"Cache-Control: max-age=10"}, resp: 5 * s, want: 65 * s},
		{name: "Max counts from the response time", header: []string{"Cache-Control: max-age=999999"}, resp: 5 * s, want: 5*s + 24*time.Hour},
		// apparent = 5-(-3600) = 3605 > 600: negative remainder, raised to Min.
		{name: "aged beyond its lifetime: Min", header: []string{"Cache-Control: max-age=600", "Date: " + at(-3600*s)}, resp: 5 * s, want: 65 * s},
		{name: "custom Min", header: []string{"Cache-Control: max-age=60"}, bounds: cimd.Bounds{Min: 5 * time.Minute, Max: time.Hour}, want: 300 * s},
		{name: "custom Max", header: []string{"Cache-Control: max-age=7200"}, bounds: cimd.Bounds{Min: 5 * time.Minute, Max: time.Hour}, want: 3600 * s},
		{name: "only Max set: Min stays 60 s", header: []string{"Cache-Control: max-age=1"}, bounds: cimd.Bounds{Max: time.Hour}, want: 60 * s},
		{name: "Max below Min: Min wins", header: []string{"Cache-Control: max-age=10800"}, bounds: cimd.Bounds{Min: 2 * time.Hour, Max: time.Hour}, want: 2 * time.Hour},
		{name: "negative bounds take the defaults", header: []string{"Cache-Control: max-age=604800"}, bounds: cimd.Bounds{Min: -1, Max: -1}, want: 24 * time.Hour},
	})
}

// The no-store and no-cache policy: such a document is reused for Min, not
// fetched again for every authorization request.
func TestExpiresAtNoStoreAndNoCacheLiveMin(t *testing.T) {
	t.Parallel()
	runFreshness(t, []freshnessCase{
		{name: "no-store overrides max-age", header: []string{"Cache-Control: no-store, max-age=3600"}, want: 60 * s},
		{name: "no-cache overrides max-age", header: []string{"Cache-Control: max-age=3600, no-cache"}, want: 60 * s},
		{name: "no-cache overrides Expires", header: []string{"Cache-Control: no-cache", "Expires: " + at(3600*s)}, want: 60 * s},
		{name: "no-store in upper case", header: []string{"Cache-Control: NO-STORE"}, want: 60 * s},
		{name: "no-cache on a second field line", header: []string{"Cache-Control: max-age=3600", "Cache-Control: no-cache"}, want: 60 * s},
		{name: "custom Min", header: []string{"Cache-Control: no-store"}, bounds: cimd.Bounds{Min: 10 * time.Minute}, want: 600 * s},
		// The qualified form names header fields only, and the comma in
		// its quoted argument does not split the list.
		{name: "qualified no-cache is not no-cache", header: []string{`Cache-Control: no-cache="Set-Cookie, Authorization", max-age=3600`}, want: 3600 * s},
		{name: "s-maxage is not consulted", header: []string{"Cache-Control: s-maxage=10, max-age=3600"}, want: 3600 * s},
		{name: "private and must-revalidate are not consulted", header: []string{"Cache-Control: private, must-revalidate, max-age=3600"}, want: 3600 * s},
		{name: "Pragma is not consulted", header: []string{"Pragma: no-cache", "Expires: " + at(3600*s)}, want: 3600 * s},
	})
}

// max-age: present means Expires is ignored; duplicate or invalid means
// stale; too large means 2^31 seconds.
func TestExpiresAtMaxAge(t *testing.T) {
	t.Parallel()
	const capped = 2147483648 * time.Second // RFC 9111 section 1.2.2
	expiresLater := "Expires: " + at(7200*s)
	runFreshness(t, []freshnessCase{
		{name: "token", header: []string{"Cache-Control: max-age=3600"}, want: 3600 * s},
		{name: "quoted string", header: []string{`Cache-Control: max-age="3600"`}, want: 3600 * s},
		{name: "upper-case name", header: []string{"Cache-Control: MAX-AGE=3600"}, want: 3600 * s},
		{name: "among other directives", header: []string{"Cache-Control: public, max-age=3600, immutable"}, want: 3600 * s},
		{name: "leading zeros", header: []string{"Cache-Control: max-age=0003600"}, want: 3600 * s},
		{name: "ignores a later Expires", header: []string{"Cache-Control: max-age=600", expiresLater}, want: 600 * s},
		{name: "ignores an earlier Expires", header: []string{"Cache-Control: max-age=600", "Expires: " + at(-3600*s)}, want: 600 * s},
		{name: "ignores an invalid Expires", header: []string{"Cache-Control: max-age=600", "Expires: 0"}, want: 600 * s},
		{name: "duplicate, equal", header: []string{"Cache-Control: max-age=3600, max-age=3600"}, want: 60 * s},
		{name: "duplicate on two field lines", header: []string{"Cache-Control: max-age=3600", "Cache-Control: max-age=7200"}, want: 60 * s},
		{name: "duplicate, one invalid", header: []string{"Cache-Control: max-age=3600, max-age=x"}, want: 60 * s},
		{name: "letters", header: []string{"Cache-Control: max-age=abc"}, want: 60 * s},
		{name: "negative", header: []string{"Cache-Control: max-age=-1"}, want: 60 * s},
		{name: "plus sign", header: []string{"Cache-Control: max-age=+3600"}, want: 60 * s},
		{name: "fraction", header: []string{"Cache-Control: max-age=3600.0"}, want: 60 * s},
		{name: "empty", header: []string{"Cache-Control: max-age="}, want: 60 * s},
		{name: "no argument", header: []string{"Cache-Control: max-age"}, want: 60 * s},
		{name: "space inside", header: []string{"Cache-Control: max-age=36 00"}, want: 60 * s},
		{name: "space inside quotes", header: []string{`Cache-Control: max-age=" 3600"`}, want: 60 * s},
		{name: "unterminated quote", header: []string{`Cache-Control: max-age="3600`}, want: 60 * s},
		// cache-directive = token [ "=" ( token / quoted-string ) ].
		{name: "spaces around =", header: []string{"Cache-Control: max-age = 3600"}, want: 60 * s},
		{name: "space before =", header: []string{"Cache-Control: max-age =3600"}, want: 60 * s},
		{name: "space after =", header: []string{"Cache-Control: max-age= 3600"}, want: 60 * s},
		{name: "tab after =", header: []string{"Cache-Control: max-age=\t3600"}, want: 60 * s},
		{name: "upper-case name", header: []string{"Cache-Control: MAX-AGE=3600"}, want: 3600 * s},
		// Expires is ignored even when max-age is unusable.
		{name: "invalid max-age does not fall back to Expires", header: []string{"Cache-Control: max-age=abc", expiresLater}, want: 60 * s},
		{name: "2^31 exactly", header: []string{"Cache-Control: max-age=2147483648"}, bounds: wide, want: capped},
		{name: "2^31 + 1 is 2^31", header: []string{"Cache-Control: max-age=2147483649"}, bounds: wide, want: capped},
		{name: "overflowing int64 is 2^31", header: []string{"Cache-Control: max-age=99999999999999999999999"}, bounds: wide, want: capped},
		{name: "overflowing, default bounds: 24 h", header: []string{"Cache-Control: max-age=99999999999999999999999"}, want: 24 * time.Hour},
	})
}

// Expires and Date: HTTP-dates in GMT only, an invalid Expires is already
// expired, an invalid Date is replaced by the response time.
func TestExpiresAtExpiresAndDate(t *testing.T) {
	t.Parallel()
	// t0 + 1 h is Sunday, 1 March 2026, 13:00:00 GMT.
	runFreshness(t, []freshnessCase{
		{name: "IMF-fixdate", header: []string{"Expires: Sun, 01 Mar 2026 13:00:00 GMT"}, want: 3600 * s},
		{name: "RFC 850", header: []string{"Expires: Sunday, 01-Mar-26 13:00:00 GMT"}, want: 3600 * s},
		{name: "asctime", header: []string{"Expires: Sun Mar  1 13:00:00 2026"}, want: 3600 * s},
		{name: "Expires 0 is already expired", header: []string{"Expires: 0"}, want: 60 * s},
		{name: "Expires -1", header: []string{"Expires: -1"}, want: 60 * s},
		{name: "Expires empty", header: []string{"Expires: "}, want: 60 * s},
		{name: "Expires garbage", header: []string{"Expires: tomorrow"}, want: 60 * s},
		{name: "Expires in the past", header: []string{"Expires: " + at(-3600*s)}, want: 60 * s},
		{name: "two Expires lines", header: []string{"Expires: " + at(3600*s), "Expires: " + at(3600*s)}, want: 60 * s},
		{name: "IMF-fixdate in UTC", header: []string{"Expires: Sun, 01 Mar 2026 13:00:00 UTC"}, want: 60 * s},
		{name: "IMF-fixdate in lower-case gmt", header: []string{"Expires: Sun, 01 Mar 2026 13:00:00 gmt"}, want: 60 * s},
		{name: "numeric zone", header: []string{"Expires: Sun, 01 Mar 2026 13:00:00 +0000"}, want: 60 * s},
		// time.RFC850 parses any zone abbreviation; HTTP allows GMT only.
		{name: "RFC 850 in PST", header: []string{"Expires: Sunday, 01-Mar-26 13:00:00 PST"}, want: 60 * s},
		{name: "RFC 850 in UTC", header: []string{"Expires: Sunday, 01-Mar-26 13:00:00 UTC"}, want: 60 * s},
		{name: "asctime with a zone", header: []string{"Expires: Sun Mar  1 13:00:00 2026 GMT"}, want: 60 * s},
		// RFC 9110 section 5.6.7: a two-digit year more than 50 years ahead
		// is in the past. From 2026-03-01, "76" is 2076 (ahead by under 50
		// years: far future, 24 h) and "77" is 1977 (long expired: 60 s).
		{name: "RFC 850 year 76 is 2076", header: []string{"Expires: Wednesday, 01-Jan-76 00:00:00 GMT"}, want: 24 * time.Hour},
		{name: "RFC 850 year 77 is 1977", header: []string{"Expires: Friday, 01-Jan-77 00:00:00 GMT"}, want: 60 * s},
		{name: "RFC 850 year 94 is 1994", header: []string{"Expires: Sunday, 06-Nov-94 08:49:37 GMT"}, want: 60 * s},
		// Date "yesterday" is invalid, so date_value = response_time = 10 s:
		// lifetime = 3610-10 = 3600, initial age = 10 (the delay), expires = 10 + 3600 - 10.
		{name: "invalid Date: the response time", header: []string{"Date: yesterday", "Expires: " + at(3610*s)}, resp: 10 * s, want: 3600 * s},
		// Were the PST Date read as 11:00 UTC, the apparent age would be
		// 3600 s and expires_at t0+3600; as the response time it is 0.
		{name: "non-GMT Date: the response time", header: []string{"Cache-Control: max-age=7200", "Date: Sunday, 01-Mar-26 11:00:00 PST"}, bounds: wide, want: 7200 * s},
		{name: "two Date lines: the response time", header: []string{"Cache-Control: max-age=7200", "Date: " + at(-3600*s), "Date: " + at(-3600*s)}, bounds: wide, want: 7200 * s},
	})
}

// Age: a non-negative integer, its first member when it is a list, ignored
// when invalid (RFC 9111 section 5.1).
func TestExpiresAtAge(t *testing.T) {
	t.Parallel()
	maxAge := "Cache-Control: max-age=600"
	runFreshness(t, []freshnessCase{
		{name: "valid", header: []string{maxAge, "Age: 100"}, bounds: wide, want: 500 * s},
		{name: "list: the first member", header: []string{maxAge, "Age: 100, 200"}, bounds: wide, want: 500 * s},
		{name: "two lines: the first", header: []string{maxAge, "Age: 100", "Age: 200"}, bounds: wide, want: 500 * s},
		{name: "letters: ignored", header: []string{maxAge, "Age: abc"}, bounds: wide, want: 600 * s},
		{name: "negative: ignored", header: []string{maxAge, "Age: -100"}, bounds: wide, want: 600 * s},
		{name: "fraction: ignored", header: []string{maxAge, "Age: 1.5"}, bounds: wide, want: 600 * s},
		// 2^31 s of age leaves nothing of 600 s: Min.
		{name: "overflowing: 2^31", header: []string{maxAge, "Age: 99999999999999999999999"}, bounds: wide, want: 1 * s},
		{name: "overflowing age and max-age: Min", header: []string{"Cache-Control: max-age=99999999999999999999", "Age: 99999999999999999999"}, resp: 3 * s, bounds: wide, want: 4 * s},
	})
}

// HTTP-dates are exactly RFC 9110 section 5.6.7's three formats. A
// malformed Expires is invalid, so already expired (RFC 9111 section
// 5.3): the entry lives Bounds.Min from the response time. Each case's
// response time is one at which a lenient reading of the date would keep
// the document an hour or more.
func TestExpiresAtStrictHTTPDates(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	valid := func(name, expires string) freshnessCase {
		return freshnessCase{name: "valid " + name, header: []string{"Expires: " + expires}, want: h}
	}
	invalid := func(name, expires string) freshnessCase {
		return freshnessCase{name: name, header: []string{"Expires: " + expires}, want: 60 * s}
	}
	// invalidAt is invalid with the response at resp (its request too).
	invalidAt := func(name, expires string, resp time.Duration) freshnessCase {
		return freshnessCase{name: name, header: []string{"Expires: " + expires}, req: resp, resp: resp, want: resp + 60*s}
	}
	runFreshness(t, []freshnessCase{
		valid("IMF-fixdate", "Sun, 01 Mar 2026 13:00:00 GMT"),
		valid("RFC 850", "Sunday, 01-Mar-26 13:00:00 GMT"),
		valid("asctime, one-digit day", "Sun Mar  1 13:00:00 2026"),
		valid("asctime, two-digit day", "Sun Mar 01 13:00:00 2026"),
		valid("leap second", "Sun, 01 Mar 2026 12:59:60 GMT"),
		valid("surrounded by optional whitespace", " \tSun, 01 Mar 2026 13:00:00 GMT \t"),

		invalid("IMF-fixdate: two spaces after the comma", "Sun,  01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: two spaces before the month", "Sun, 01  Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: two spaces before the time", "Sun, 01 Mar 2026  13:00:00 GMT"),
		invalid("IMF-fixdate: two spaces before GMT", "Sun, 01 Mar 2026 13:00:00  GMT"),
		invalid("IMF-fixdate: a tab for a space", "Sun,\t01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: one-digit day", "Sun, 1 Mar 2026 13:00:00 GMT"),
		invalidAt("IMF-fixdate: one-digit hour", "Sun, 01 Mar 2026 9:00:00 GMT", -4*h),
		invalid("IMF-fixdate: wrong day name", "Mon, 01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: unknown day name", "Sux, 01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: lower-case day name", "sun, 01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: lower-case month", "Sun, 01 mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: upper-case month", "Sun, 01 MAR 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: long day name", "Sunday, 01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: two-digit year", "Sun, 01 Mar 26 13:00:00 GMT"),
		invalid("IMF-fixdate: no day name", "01 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: no seconds", "Sun, 01 Mar 2026 13:00 GMT"),
		invalid("IMF-fixdate: fractional seconds", "Sun, 01 Mar 2026 13:00:00.5 GMT"),
		invalid("IMF-fixdate: hour 24", "Sun, 01 Mar 2026 24:00:00 GMT"),
		invalid("IMF-fixdate: minute 60", "Sun, 01 Mar 2026 13:60:00 GMT"),
		invalid("IMF-fixdate: second 61", "Sun, 01 Mar 2026 13:00:61 GMT"),
		invalid("IMF-fixdate: 31 April", "Fri, 31 Apr 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: 29 February of a common year", "Sun, 29 Feb 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: day 00", "Sat, 00 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: sign in a number", "Sun, +1 Mar 2026 13:00:00 GMT"),
		invalid("IMF-fixdate: trailing text", "Sun, 01 Mar 2026 13:00:00 GMTx"),
		invalid("IMF-fixdate: no comma", "Sun 01 Mar 2026 13:00:00 GMT"),
		invalid("RFC 850: one-digit day", "Sunday, 1-Mar-26 13:00:00 GMT"),
		invalid("RFC 850: short day name", "Sun, 01-Mar-26 13:00:00 GMT"),
		invalid("RFC 850: wrong day name", "Monday, 01-Mar-26 13:00:00 GMT"),
		invalid("RFC 850: lower-case day name", "sunday, 01-Mar-26 13:00:00 GMT"),
		invalid("RFC 850: two spaces after the comma", "Sunday,  01-Mar-26 13:00:00 GMT"),
		invalid("RFC 850: two spaces before the time", "Sunday, 01-Mar-26  13:00:00 GMT"),
		invalid("RFC 850: four-digit year", "Sunday, 01-Mar-2026 13:00:00 GMT"),
		invalid("RFC 850: lower-case gmt", "Sunday, 01-Mar-26 13:00:00 gmt"),
		invalidAt("RFC 850: one-digit hour", "Sunday, 01-Mar-26 9:00:00 GMT", -4*h),
		invalid("asctime: one space before a one-digit day", "Sun Mar 1 13:00:00 2026"),
		invalid("asctime: two spaces before the time", "Sun Mar  1  13:00:00 2026"),
		invalid("asctime: two spaces before the year", "Sun Mar  1 13:00:00  2026"),
		invalid("asctime: two-digit year", "Sun Mar  1 13:00:00 26"),
		invalid("asctime: wrong day name", "Mon Mar  1 13:00:00 2026"),
		invalidAt("asctime: one-digit hour", "Sun Mar  1 9:00:00 2026", -4*h),
		invalid("asctime: a comma", "Sun, Mar  1 13:00:00 2026"),
		// An invalid Date is the response time, not what a lenient
		// reading makes of it (which here would be an hour of age).
		{name: "Date with a run of spaces", header: []string{"Cache-Control: max-age=7200", "Date: Sun, 01  Mar 2026 11:00:00 GMT"}, bounds: wide, want: 2 * h},
		{name: "Date with a wrong day name", header: []string{"Cache-Control: max-age=7200", "Date: Mon, 01 Mar 2026 11:00:00 GMT"}, bounds: wide, want: 2 * h},
	})
}
