package changesets

import (
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
	if msg := scanEncoded(b, lim.MaxDepth); msg != "" {
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
func scanEncoded(b []byte, maxDepth int) string {
	if !utf8.Valid(b) {
		return "must hold valid UTF-8 text only"
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return fmt.Sprintf("should be nested at most %d level(s) deep", maxDepth)
			}
		case '}', ']':
			depth--
		case '"':
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
