package cimd

import (
	"strings"
	"time"
)

// maxDeltaSeconds is the value RFC 9111 section 1.2.2 has a cache use for a
// delta-seconds it cannot represent: 2^31.
const maxDeltaSeconds = 1 << 31

// cacheControl is what a response's Cache-Control field says about
// freshness; every other directive is irrelevant to a cache that stores
// only the validated body for its own use.
type cacheControl struct {
	// hasMaxAge is set when any max-age directive is present, valid or
	// not: then Expires is ignored (RFC 9111 section 5.3).
	hasMaxAge bool
	// maxAgeOK is set when there is exactly one max-age and its argument
	// is a delta-seconds; maxAge is then its value.
	maxAgeOK bool
	maxAge   time.Duration
	// noStore and noCache are the unqualified directives.
	noStore, noCache bool
}

// parseCacheControl reads the Cache-Control field lines of a response, as
// one comma-separated list (RFC 9110 section 5.3). Directive names are
// case-insensitive; arguments may be tokens or quoted strings (RFC 9111
// section 5.2).
func parseCacheControl(lines []string) cacheControl {
	var cc cacheControl
	maxAges := 0
	for _, elem := range splitList(strings.Join(lines, ",")) {
		rawName, rawArg, hasArg := strings.Cut(elem, "=")
		name := strings.ToLower(strings.Trim(rawName, " \t"))
		arg, argOK := unquote(rawArg)
		// cache-directive = token [ "=" ( token / quoted-string ) ]:
		// no whitespace around "=".
		argOK = argOK && name == strings.ToLower(rawName) && strings.Trim(rawArg, " \t") == rawArg
		switch name {
		case "max-age":
			cc.hasMaxAge = true
			maxAges++
			secs, ok := parseDeltaSeconds(arg)
			cc.maxAgeOK = hasArg && argOK && ok
			cc.maxAge = time.Duration(secs) * time.Second
		case "no-store":
			// Any form: when in doubt, the most restrictive reading
			// (RFC 9111 section 4.2.1).
			cc.noStore = true
		case "no-cache":
			// The qualified form, no-cache="field, ...", restricts only
			// the named header fields, and this cache keeps none of them
			// (RFC 9111 section 5.2.2.4).
			if !hasArg {
				cc.noCache = true
			}
		}
	}
	// RFC 9111 section 4.2.1 allows using the first of several max-age
	// directives or treating the response as stale; stale is the one that
	// cannot be steered by a second, contradicting directive.
	if maxAges > 1 {
		cc.maxAgeOK = false
	}
	if !cc.maxAgeOK {
		cc.maxAge = 0
	}
	return cc
}

// splitList splits a field value at the commas that are not inside a
// quoted string, dropping empty elements (RFC 9110 section 5.6.1).
func splitList(s string) []string {
	var elems []string
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			elems = appendElem(elems, s[start:i])
			start = i + 1
		}
	}
	return appendElem(elems, s[start:])
}

func appendElem(elems []string, e string) []string {
	if e = strings.Trim(e, " \t"); e != "" {
		elems = append(elems, e)
	}
	return elems
}

// unquote returns a directive argument without its quotes and escapes. A
// token is returned as it is; an unterminated quoted string is not ok.
func unquote(s string) (string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return s, true
	}
	if len(s) < 2 || !strings.HasSuffix(s, `"`) {
		return "", false
	}
	var b strings.Builder
	inner := s[1 : len(s)-1]
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c == '\\' {
			if i++; i == len(inner) {
				return "", false
			}
			c = inner[i]
		} else if c == '"' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// parseDeltaSeconds parses delta-seconds, 1*DIGIT (RFC 9111 section
// 1.2.2): no sign, no fraction, no spaces. A value above 2^31 is 2^31, as
// the section requires of a value too large to represent.
func parseDeltaSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= maxDeltaSeconds {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDeltaSeconds), true
}
