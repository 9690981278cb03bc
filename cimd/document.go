package cimd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxDocumentDepth is the deepest nesting of objects and arrays a fetched
// document may have, the top-level object counting as 1: the bound the
// stores' decoder reads back (a store may refuse far less; repo's default
// is 32). Deeper is ErrInvalidDocument, found without recursing further.
const MaxDocumentDepth = 512

// decodeDocument parses a fetched body as one JSON object. Numbers stay
// exact as json.Number, as the cache gives them back. It is stricter than
// json.Unmarshal where leniency would hide what the host sent: invalid
// UTF-8 is an error rather than replaced by U+FFFD, and so is a name that
// occurs twice in one object, where another parser might take the other
// value (RFC 8259 section 4).
func decodeDocument(body []byte) (map[string]any, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDocument}, args...)...)
	}
	if !utf8.Valid(body) {
		return nil, bad("is not UTF-8 (RFC 8259 section 8.1)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, bad("is not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("has data after the JSON value")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, bad("is not a JSON object")
	}
	return doc, nil
}

// readValue reads one JSON value token by token, rejecting duplicate
// names, at depth levels of nesting; it recurses at most MaxDocumentDepth
// levels deep.
func readValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == json.Delim('{') || tok == json.Delim('[') {
		if depth++; depth > MaxDocumentDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", MaxDocumentDepth)
		}
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := kt.(string) // the decoder only yields string names here
			if _, dup := obj[key]; dup {
				return nil, fmt.Errorf("duplicate name %q", key)
			}
			if obj[key], err = readValue(dec, depth); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token() // '}'
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := readValue(dec, depth)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ']'
		return arr, err
	}
	return tok, nil // string, json.Number, bool or nil
}

// cloneDocument deep-copies a decoded document, so that callers sharing
// one fetch cannot see each other's changes to what they were given.
func cloneDocument(doc map[string]any) map[string]any {
	return cloneValue(doc).(map[string]any)
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v // immutable scalars
}
