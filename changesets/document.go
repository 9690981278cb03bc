package changesets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// encodeDocument encodes doc for a jsonb column and checks that
// PostgreSQL will store it and give it back unchanged. It returns the
// encoding, or an Ecto-style message saying why doc is refused.
func encodeDocument(doc map[string]any, lim Limits) ([]byte, string) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, "is not encodable as JSON: " + err.Error()
	}
	if len(b) > lim.MaxDocumentBytes {
		return nil, fmt.Sprintf("should be at most %d byte(s) encoded as JSON, got %d", lim.MaxDocumentBytes, len(b))
	}
	if msg := scanEncoded(b, lim); msg != "" {
		return nil, msg
	}
	return b, ""
}

// scanEncoded walks JSON produced by encoding/json once, tracking nesting
// and reading every escape in every string.
//
// encoding/json coerces invalid UTF-8 in a Go string to the escape \ufffd
// (a valid U+FFFD is written as raw bytes), so that escape means the input
// would not read back as written. PostgreSQL's jsonb refuses \u0000 and
// unpaired surrogates, which only a json.Marshaler or RawMessage can emit.
//
// jsonb keeps numbers as numeric, written out in full: 1e400 comes back as
// 401 digits. So every number must fit numeric, and the document must
// still fit MaxDocumentBytes once its numbers are written out.
func scanEncoded(b []byte, lim Limits) string {
	if !utf8.Valid(b) {
		return "must hold valid UTF-8 text only"
	}
	depth, stored := 0, len(b)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '-' || (c >= '0' && c <= '9'):
			end := numberEnd(b, i)
			size, ok := storedNumberSize(b[i:end])
			if !ok {
				return "must hold numbers PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after)"
			}
			stored += size - (end - i)
			if stored > lim.MaxDocumentBytes {
				return fmt.Sprintf("should be at most %d byte(s) as PostgreSQL stores it, with its numbers written out", lim.MaxDocumentBytes)
			}
			i = end - 1
		case c == '{' || c == '[':
			depth++
			if depth > lim.MaxDepth {
				return fmt.Sprintf("should be nested at most %d level(s) deep", lim.MaxDepth)
			}
		case c == '}' || c == ']':
			depth--
		case c == '"':
			end, msg := scanString(b, i+1)
			if msg != "" {
				return msg
			}
			i = end
		}
	}
	return ""
}

// scanString reads the string starting at b[i] (after its opening quote)
// and returns the index of its closing quote.
func scanString(b []byte, i int) (int, string) {
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, ""
		case '\\':
			i++
			if i >= len(b) || b[i] != 'u' {
				continue
			}
			r, ok := hex4(b, i+1)
			if !ok {
				return i, "must be valid JSON"
			}
			i += 4
			switch {
			case r == 0:
				return i, "must not contain NUL characters (\\u0000)"
			case r == utf8.RuneError:
				return i, "must hold valid UTF-8 text only"
			case r >= 0xDC00 && r <= 0xDFFF:
				return i, "must hold valid UTF-8 text only"
			case r >= 0xD800 && r <= 0xDBFF:
				// A high surrogate must be followed by an escaped low one.
				if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return i, "must hold valid UTF-8 text only"
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i, "must hold valid UTF-8 text only"
				}
				i += 6
			}
		}
	}
	return i, "must be valid JSON"
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// numberEnd returns the index just past the number starting at b[i].
func numberEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
		default:
			return i
		}
	}
	return i
}

// PostgreSQL's numeric limits, in decimal digits.
const (
	maxNumericWeight = 131072
	maxNumericScale  = 16383
)

// storedNumberSize returns how many characters jsonb writes for the JSON
// number num (well formed: encoding/json checked it), or false when
// numeric cannot hold it.
func storedNumberSize(num []byte) (int, bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	mant, exp := num, 0
	if i := bytes.IndexAny(num, "eE"); i >= 0 {
		mant = num[:i]
		e, ok := parseExponent(num[i+1:])
		if !ok {
			return 0, false
		}
		exp = e
	}
	intPart, frac := mant, []byte(nil)
	if i := bytes.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	// The digits after the point once the exponent is applied; numeric
	// keeps them all, trailing zeros included.
	scale := max(len(frac)-exp, 0)
	if scale > maxNumericScale {
		return 0, false
	}
	// The digits before the point, counted from the first significant one.
	digits := bytes.TrimLeft(append(append([]byte{}, intPart...), frac...), "0")
	weight := 0
	if len(digits) > 0 {
		weight = len(intPart) + exp - (len(intPart) + len(frac) - len(digits))
		if weight > maxNumericWeight {
			return 0, false
		}
	}
	size := max(weight, 1)
	if scale > 0 {
		size += 1 + scale
	}
	if neg {
		size++
	}
	return size, true
}

// maxExponent is where PostgreSQL stops reading an exponent: from
// INT_MAX/2 on it refuses the number whatever its digits, even a zero
// (0e1073741823 overflows, 0e1073741822 is 0).
const maxExponent = 1<<30 - 1

// parseExponent reads a JSON exponent, refusing one PostgreSQL refuses.
func parseExponent(b []byte) (int, bool) {
	sign := int64(1)
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		if b[0] == '-' {
			sign = -1
		}
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var e int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		e = e*10 + int64(c-'0')
		if e >= maxExponent {
			return 0, false
		}
	}
	return int(sign * e), true
}
