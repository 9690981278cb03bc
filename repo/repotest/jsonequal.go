package repotest

import (
	"bytes"
	"encoding/json"
	"math/big"
)

// JSONEqual reports whether a and b encode to the same JSON value, numbers
// compared exactly (1, 1.0 and 1e0 are equal; 2^53+1 and 2^53 are not).
func JSONEqual(a, b any) bool {
	x, err := normalize(a)
	if err != nil {
		return false
	}
	y, err := normalize(b)
	if err != nil {
		return false
	}
	return equal(x, y)
}

func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

func equal(a, b any) bool { return DecodedJSONEqual(a, b) }

// DecodedJSONEqual reports whether two values decoded from JSON (with
// UseNumber: maps, []any, string, json.Number, bool, nil) are equal,
// numbers compared exactly. Anything else, a Go int say, is never equal:
// decoded JSON does not hold it.
func DecodedJSONEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !DecodedJSONEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !DecodedJSONEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			// Also covers exponents too large for big.Rat.SetString.
			return true
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		return okx && oky && rx.Cmp(ry) == 0
	case string, bool, nil:
		return a == b
	default:
		return false
	}
}
