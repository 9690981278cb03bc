package changesets_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/attesto/gormstore/repo/repotest"
)

// decodeJSON decodes exactly one JSON value from b, numbers as
// json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// normalize returns v as JSON reads it back: Go values encoded, then
// decoded with json.Number.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v): %v", v, err)
	}
	out, err := decodeJSON(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return out
}

// jsonEqual is the conformance suite's comparison of decoded JSON.
func jsonEqual(a, b any) bool { return repotest.DecodedJSONEqual(a, b) }

// depthOf returns the nesting of objects and arrays in a decoded value,
// the outermost counting as 1.
func depthOf(v any) int {
	deepest := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			deepest = max(deepest, depthOf(e))
		}
	case []any:
		for _, e := range x {
			deepest = max(deepest, depthOf(e))
		}
	default:
		return 0
	}
	return deepest + 1
}

// TestJSONEqual checks the comparator the other tests rely on, so that
// their document assertions can fail.
func TestJSONEqual(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"same object", `{"a":1,"b":[true,null,"s"]}`, `{"b":[true,null,"s"],"a":1}`, true},
		{"1 and 1.0 and 1e0", `[1,1.0,1e0]`, `[1e0,1,1.0]`, true},
		{"2^53+1 and 2^53", `9007199254740993`, `9007199254740992`, false},
		{"huge identical exponents", `1e999999999`, `1e999999999`, true},
		{"huge different exponents", `1e999999999`, `1e999999998`, false},
		{"number and string", `1`, `"1"`, false},
		{"missing key", `{"a":1}`, `{"a":1,"b":2}`, false},
		{"other key", `{"a":1}`, `{"b":1}`, false},
		{"longer array", `[1]`, `[1,1]`, false},
		{"array order", `[1,2]`, `[2,1]`, false},
		{"object and array", `{}`, `[]`, false},
		{"strings differ", `"a"`, `"b"`, false},
		{"null and false", `null`, `false`, false},
		{"nested difference", `{"a":[{"b":1}]}`, `{"a":[{"b":2}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := decodeJSON([]byte(tt.a))
			if err != nil {
				t.Fatal(err)
			}
			b, err := decodeJSON([]byte(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonEqual(a, b); got != tt.want {
				t.Errorf("jsonEqual(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := jsonEqual(b, a); got != tt.want {
				t.Errorf("jsonEqual(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
		})
	}
	if jsonEqual(map[string]any{"n": 1}, map[string]any{"n": 1}) {
		t.Error("jsonEqual accepted a Go int, which decoded JSON never holds")
	}
}

func TestDepthOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  string
		want int
	}{
		{`1`, 0},
		{`{}`, 1},
		{`{"a":[]}`, 2},
		{`{"a":[1,{"b":[[]]}],"c":{}}`, 5},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			t.Parallel()
			v, err := decodeJSON([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := depthOf(v); got != tt.want {
				t.Errorf("depthOf(%s) = %d, want %d", tt.doc, got, tt.want)
			}
		})
	}
}
