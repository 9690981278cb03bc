// Package jsondoc decodes the JSON documents the stores read back: one
// pass over the text, numbers kept exact, and encoding/json's answer for
// anything else. The stores use it, and so does the benchmarks' pgx
// baseline, so that both pay for the same decoding.
//
// A document nested deeper than MaxDepth is an error, whichever parser
// reads it: the work and stack a document costs are bounded by its size
// and by MaxDepth, never by how the text happens to be nested.
package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode reads a stored JSON object back, keeping every number
// exact as a json.Number: float64 would round 2^53+1.
//
// The result is exactly what encoding/json's Decoder with UseNumber gives
// (maps, []any, string, json.Number, bool, nil). Documents as PostgreSQL
// returns them take a single-pass parser that is several times faster
// than encoding/json, which scans every value twice and allocates for
// each string and map entry on the way; anything that parser does not
// accept, valid or not, goes to encoding/json, so errors and edge cases
// (invalid UTF-8, lone surrogates) are encoding/json's, except that
// nesting deeper than MaxDepth is ErrTooDeep before encoding/json sees it.
func Decode(b []byte) (map[string]any, error) {
	return DecodeString(string(b))
}

// DecodeString is Decode of text already copied out of
// the driver's buffer; every string without escapes in the result is a
// substring of s.
func DecodeString(s string) (map[string]any, error) {
	if doc, ok := parseObject(s); ok {
		return doc, nil
	}
	return DecodeStandard([]byte(s))
}

// DecodeStandard is Decode by encoding/json alone, after the same depth
// check.
func DecodeStandard(b []byte) (map[string]any, error) {
	if err := checkDepth(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the stored JSON object")
	}
	if doc == nil {
		return nil, errors.New("stored document is not a JSON object")
	}
	return doc, nil
}

// MaxDepth is the deepest nesting of objects and arrays Decode reads, the
// top-level object counting as 1. Stored documents are limited to far less
// (changesets.DefaultMaxDepth is 32); this fixed bound only keeps a
// document that got past that limit from costing unbounded stack.
const MaxDepth = 512

// ErrTooDeep is returned, wrapped, for a document nested deeper than
// MaxDepth.
var ErrTooDeep = errors.New("JSON document nested too deep")

// checkDepth fails when the objects and arrays of b, outside its strings,
// nest deeper than MaxDepth. It reads b once without recursing, and judges
// nothing else: invalid JSON is left to the parser.
func checkDepth(b []byte) error {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if depth++; depth > MaxDepth {
				return fmt.Errorf("%w: more than %d levels", ErrTooDeep, MaxDepth)
			}
		case '}', ']':
			depth--
		case '"':
			// Skip the string, escapes included; an unterminated one ends
			// the scan.
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
	}
	return nil
}

// parseObject parses s as one JSON object surrounded by optional
// whitespace. ok is false when s is anything else, or holds something the
// parser leaves to encoding/json: bytes that are not UTF-8 and \u escapes
// of lone surrogates, which encoding/json replaces with U+FFFD.
func parseObject(s string) (doc map[string]any, ok bool) {
	p := parsers.Get().(*parser)
	defer p.release()
	p.s, p.i = s, 0
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, false
	}
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, false
	}
	return v.(map[string]any), true
}

// parser reads s from i. Every string without escapes is a substring of
// s, so a document costs no allocation for its text however many strings
// it holds. Members and elements wait on stacks shared by every level
// until their object or array ends, so each map and slice is allocated
// once, at its final size.
type parser struct {
	s       string
	i       int
	members []member
	values  []any
}

type member struct {
	key   string
	value any
}

// parsers keeps parsers, and so their stacks, between documents.
var parsers = sync.Pool{New: func() any { return new(parser) }}

// release empties p, dropping every reference into the last document,
// and returns it to parsers.
func (p *parser) release() {
	clear(p.members)
	clear(p.values)
	*p = parser{members: p.members[:0], values: p.values[:0]}
	parsers.Put(p)
}

func (p *parser) skipSpace() {
	i := p.i
	for i < len(p.s) {
		switch p.s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			p.i = i
			return
		}
	}
	p.i = i
}

// value parses the value at p.i, after any whitespace.
func (p *parser) value(depth int) (any, bool) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, ok := p.string()
		if !ok {
			return nil, false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *parser) literal(word string) bool {
	if len(p.s)-p.i < len(word) || p.s[p.i:p.i+len(word)] != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *parser) object(depth int) (any, bool) {
	if depth > MaxDepth {
		return nil, false
	}
	p.i++ // {
	base := len(p.members)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return map[string]any{}, true
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		k, ok := p.string()
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		p.members = append(p.members, member{k, v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			m := make(map[string]any, len(p.members)-base)
			for _, kv := range p.members[base:] {
				// A repeated key keeps its last value, as in encoding/json.
				m[kv.key] = kv.value
			}
			clear(p.members[base:])
			p.members = p.members[:base]
			return m, true
		default:
			return nil, false
		}
	}
}

func (p *parser) array(depth int) (any, bool) {
	if depth > MaxDepth {
		return nil, false
	}
	p.i++ // [
	base := len(p.values)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		// Never nil, as in encoding/json: [] is an empty, non-nil []any.
		return []any{}, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		p.values = append(p.values, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			a := slices.Clone(p.values[base:])
			clear(p.values[base:])
			p.values = p.values[:base]
			return a, true
		default:
			return nil, false
		}
	}
}

// number checks the JSON number grammar and keeps the text exact.
func (p *parser) number() (any, bool) {
	s, i := p.s, p.i
	start := i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	p.i = i
	return json.Number(s[start:i]), true
}

// digits returns the index after the digits of s from i.
func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// string parses the string at p.i (its opening quote).
func (p *parser) string() (string, bool) {
	s := p.s
	start := p.i + 1
	for i := start; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return s[start:i], true
		case c == '\\':
			p.i = i
			return p.escaped(start)
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			i += size
		}
	}
	return "", false
}

// escaped finishes a string that holds escapes, from start (after its
// opening quote), building its value in a buffer of its own.
func (p *parser) escaped(start int) (string, bool) {
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			buf = append(buf, p.s[p.i:p.i+size]...)
			p.i += size
			continue
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		// A backslash.
		if p.i+1 >= len(p.s) {
			return "", false
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one is a
				// character; encoding/json turns anything else into U+FFFD,
				// and is left to do so.
				if r >= 0xDC00 || p.i+1 >= len(p.s) || p.s[p.i] != '\\' || p.s[p.i+1] != 'u' {
					return "", false
				}
				p.i += 2
				lo, ok := p.hex4()
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "", false
				}
				r = utf16.DecodeRune(r, lo)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", false
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape at p.i.
func (p *parser) hex4() (rune, bool) {
	if len(p.s)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
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
	p.i += 4
	return r, true
}
