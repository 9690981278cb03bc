package cimd

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// The default bounds on how long a fetched document is cached.
const (
	// DefaultMinLifetime is the shortest: a document that says it is
	// stale, or must not be stored, or says nothing, is still cached this
	// long, so the outbound fan-out stays bounded.
	DefaultMinLifetime = 60 * time.Second
	// DefaultMaxLifetime is the longest: a changed or revoked document is
	// picked up within a day, whatever its host asked for.
	DefaultMaxLifetime = 24 * time.Hour
)

// Bounds are the server's own lower and upper bounds on the time a
// document is cached, which draft section 4.4 allows on top of the HTTP
// caching headers. A zero (or negative) field takes its default.
type Bounds struct {
	// Min is the shortest lifetime. Default DefaultMinLifetime.
	Min time.Duration
	// Max is the longest lifetime. Default DefaultMaxLifetime. A Max
	// below Min is ignored: Min wins.
	Max time.Duration
}

func (b Bounds) withDefaults() Bounds {
	if b.Min <= 0 {
		b.Min = DefaultMinLifetime
	}
	if b.Max <= 0 {
		b.Max = DefaultMaxLifetime
	}
	return b
}

// stale is the freshness lifetime of a response that is stale from the
// start: after the initial age is subtracted it is never positive, so the
// entry lives Bounds.Min.
const stale time.Duration = 0

// ExpiresAt returns when a document fetched with a request sent at
// requestTime, whose response with header h arrived at responseTime, stops
// being fresh: RFC 9111's freshness lifetime minus the response's corrected
// initial age, counted from responseTime, and then clamped to lie between
// b.Min and b.Max after responseTime.
//
// The freshness lifetime (RFC 9111 section 4.2.1) is
//   - zero, so that the entry lives Bounds.Min, when Cache-Control has
//     no-store or unqualified no-cache: honouring them would mean a fetch
//     per authorization request, so the document is reused for the lower
//     bound instead, as draft section 4.4 permits;
//   - else max-age, when Cache-Control has one; then Expires is ignored
//     (section 5.3). Two max-age directives, or one whose argument is not
//     delta-seconds (as a token or a quoted string, with no whitespace
//     around "=", section 5.2), make the response stale; a value above
//     2^31 seconds is 2^31 (section 1.2.2);
//   - else Expires minus Date, or minus responseTime when Date is absent
//     or invalid (RFC 9110 section 6.6.1). An invalid Expires, "0"
//     included, or more than one, means already expired (section 5.3);
//   - else nothing is said, and no heuristic freshness is applied: the
//     lifetime is zero.
//
// The corrected initial age is exactly section 4.2.3's:
//
//	apparent_age          = max(0, response_time - date_value)
//	response_delay        = response_time - request_time
//	corrected_age_value   = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//
// with age_value the first member of Age, or 0 when Age is absent or
// invalid (section 5.1). A zero requestTime, or one after responseTime,
// counts as responseTime. Dates are read exactly in the three formats of
// RFC 9110 section 5.6.7 (IMF-fixdate, RFC 850, asctime), in GMT, with
// single spaces, two-digit times, a day that exists and its own day name;
// anything else is invalid. s-maxage and private are not consulted: the server is
// the document's only user, not a cache shared among HTTP clients.
func ExpiresAt(h http.Header, requestTime, responseTime time.Time, b Bounds) time.Time {
	b = b.withDefaults()
	remaining := subSat(freshnessLifetime(h, responseTime), correctedInitialAge(h, requestTime, responseTime))
	return responseTime.Add(max(min(remaining, b.Max), b.Min))
}

// freshnessLifetime is RFC 9111 section 4.2.1's freshness_lifetime, with
// this package's no-store and no-cache policy.
func freshnessLifetime(h http.Header, responseTime time.Time) time.Duration {
	cc := parseCacheControl(h.Values("Cache-Control"))
	switch {
	case cc.noStore || cc.noCache:
		return stale
	case cc.hasMaxAge:
		return cc.maxAge // stale unless valid
	}
	expires := h.Values("Expires")
	if len(expires) != 1 {
		return stale // none, or duplicates: stale, as for max-age
	}
	exp, ok := parseHTTPDate(expires[0], responseTime)
	if !ok {
		return stale
	}
	return exp.Sub(dateValue(h, responseTime)) // saturates, never wraps
}

// correctedInitialAge is RFC 9111 section 4.2.3's corrected_initial_age.
func correctedInitialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	apparentAge := max(0, responseTime.Sub(dateValue(h, responseTime)))
	if requestTime.IsZero() || requestTime.After(responseTime) {
		requestTime = responseTime
	}
	responseDelay := responseTime.Sub(requestTime)
	correctedAgeValue := addSat(ageValue(h), responseDelay)
	return max(apparentAge, correctedAgeValue)
}

// dateValue is the response's Date, or the time it was received when Date
// is absent, duplicated or invalid (RFC 9110 section 6.6.1).
func dateValue(h http.Header, responseTime time.Time) time.Time {
	if v := h.Values("Date"); len(v) == 1 {
		if t, ok := parseHTTPDate(v[0], responseTime); ok {
			return t
		}
	}
	return responseTime
}

// ageValue is the Age field's first member, or 0 when Age is absent or not
// delta-seconds (RFC 9111 section 5.1).
func ageValue(h http.Header) time.Duration {
	members := splitList(strings.Join(h.Values("Age"), ","))
	if len(members) == 0 {
		return 0
	}
	secs, ok := parseDeltaSeconds(members[0])
	if !ok {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// addSat adds two non-negative durations, saturating instead of wrapping.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// subSat subtracts a non-negative duration, saturating instead of wrapping.
func subSat(a, b time.Duration) time.Duration {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}
