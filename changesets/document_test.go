package changesets_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/attesto/gormstore/changesets"
)

const (
	msgNUL     = `must not contain NUL characters (\u0000)`
	msgUTF8    = "must hold valid UTF-8 text only"
	msgEncode  = "is not encodable as JSON: " // followed by encoding/json's error
	prefixOnly = true
)

func TestCastRefusesDocuments(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name   string
		doc    map[string]any
		want   string
		prefix bool // want is a prefix of the message, the rest is encoding/json's
	}{
		{"NaN", map[string]any{"n": math.NaN()}, msgEncode, prefixOnly},
		{"+Inf", map[string]any{"n": math.Inf(1)}, msgEncode, prefixOnly},
		{"-Inf in a nested array", map[string]any{"l": []any{1, math.Inf(-1)}}, msgEncode, prefixOnly},
		{"channel", map[string]any{"c": make(chan int)}, msgEncode, prefixOnly},
		{"func", map[string]any{"f": func() {}}, msgEncode, prefixOnly},
		{"invalid json.Number", map[string]any{"n": json.Number("01")}, msgEncode, prefixOnly},
		{"json.Number NaN", map[string]any{"n": json.Number("NaN")}, msgEncode, prefixOnly},
		{"truncated RawMessage", map[string]any{"r": raw(`{"a":`)}, msgEncode, prefixOnly},

		{"NUL in a string value", map[string]any{"s": "a\x00b"}, msgNUL, false},
		{"NUL in a key", map[string]any{"a\x00b": "s"}, msgNUL, false},
		{"NUL in a nested array", map[string]any{"l": []any{"ok", []any{"\x00"}}}, msgNUL, false},
		{"NUL in a nested object in an array", map[string]any{"l": []any{map[string]any{"s": "\x00"}}}, msgNUL, false},
		{"NUL in a []string", map[string]any{"l": []string{"a", "b\x00"}}, msgNUL, false},
		{"NUL escaped in a RawMessage", map[string]any{"r": raw(`{"s":"\u0000"}`)}, msgNUL, false},

		{"invalid UTF-8 in a value", map[string]any{"s": "a\xffb"}, msgUTF8, false},
		{"invalid UTF-8 in a key", map[string]any{"a\xff": "s"}, msgUTF8, false},
		{"UTF-8-encoded surrogate in a value", map[string]any{"s": "\xed\xa0\x80"}, msgUTF8, false},
		{"truncated rune in a nested key", map[string]any{"o": map[string]any{"\xc3": 1}}, msgUTF8, false},
		{"raw invalid UTF-8 in a RawMessage", map[string]any{"r": raw("\"\xff\"")}, msgUTF8, false},
		{"lone high surrogate in a RawMessage", map[string]any{"r": raw(`{"s":"\ud800"}`)}, msgUTF8, false},
		{"lone high surrogate, upper case", map[string]any{"r": raw(`"\uD83D"`)}, msgUTF8, false},
		{"lone low surrogate in a RawMessage", map[string]any{"r": raw(`{"s":"\udc00"}`)}, msgUTF8, false},
		{"reversed surrogate pair", map[string]any{"r": raw(`"\ude00\ud83d"`)}, msgUTF8, false},
		{"high surrogate then a plain rune", map[string]any{"r": raw(`"\ud800x"`)}, msgUTF8, false},
		{"high surrogate then a non-surrogate escape", map[string]any{"r": raw(`"\ud800\u0041"`)}, msgUTF8, false},
		{"two high surrogates", map[string]any{"r": raw(`"\ud800\ud800"`)}, msgUTF8, false},
		{"high surrogate then another escape", map[string]any{"r": raw(`"\ud800\n"`)}, msgUTF8, false},
		{"lone surrogate in a key", map[string]any{"r": raw(`{"\udfff":1}`)}, msgUTF8, false},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.Doc = tt.doc
				_, err := k.cast(in, changesets.Limits{})
				msg := docMessage(t, k, err)
				if tt.prefix {
					if !strings.HasPrefix(msg, tt.want) || len(msg) == len(tt.want) {
						t.Errorf("message = %q, want %q followed by the encoder's error", msg, tt.want)
					}
				} else if msg != tt.want {
					t.Errorf("message = %q, want %q", msg, tt.want)
				}
			})
		}
	}
}

func TestCastAcceptsDocuments(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name string
		doc  map[string]any
	}{
		{"client metadata", map[string]any{
			"client_name":                "Example",
			"redirect_uris":              []any{"https://client.example/cb"},
			"token_endpoint_auth_method": "private_key_jwt",
			"jwks": map[string]any{"keys": []any{map[string]any{
				"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
			}}},
		}},
		{"all JSON types", map[string]any{
			"s": "text", "t": true, "f": false, "z": nil, "i": 42, "x": -1.5,
			"l": []any{1, "two", []any{3.0}, map[string]any{}}, "o": map[string]any{"a": map[string]any{"b": "c"}},
		}},
		{"Go slices and typed maps", map[string]any{"l": []string{"a", "b"}, "m": map[string]int{"x": 1}}},
		{"non-ASCII text", map[string]any{"é": "naïve 日本 😀"}},
		{"U+FFFD as text", map[string]any{"s": "a\uFFFDb", "\uFFFD": "k"}},
		{"HTML and line separators", map[string]any{"s": "<a href=\"x\">&amp;</a>\u2028\u2029"}},
		{"escapes", map[string]any{"s": "quote\" backslash\\ tab\t newline\n bell\a del\x7f"}},
		{"a backslash-u text, not an escape", map[string]any{"s": `\u0000 \ud800`}},
		{"exact big integer", map[string]any{"n": json.Number("9007199254740993")}},
		{"long decimal", map[string]any{"n": json.Number("-123456789012345678901234567890.123456789012345678901234567890")}},
		{"exponents", map[string]any{"l": []any{json.Number("1e308"), json.Number("1E-324"), json.Number("-0"), json.Number("1.0")}}},
		{"float64 extremes", map[string]any{"l": []any{math.MaxFloat64, math.SmallestNonzeroFloat64, -math.MaxFloat64}}},
		{"RawMessage with a surrogate pair", map[string]any{"r": raw(`{"s":"\ud83d\ude00"}`)}},
		{"RawMessage with an escaped backslash before u0000", map[string]any{"r": raw(`"\\u0000"`)}},
		{"RawMessage with ordinary escapes", map[string]any{"r": raw(`["\n","\"","\u00e9","\u2028"]`)}},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.Doc = complete(k, tt.doc)
				got, err := k.cast(in, changesets.Limits{})
				if err != nil {
					t.Fatalf("Cast: %v", err)
				}
				wantDoc(t, got.Doc, in.Doc)
			})
		}
	}
}

// TestCastKeepsTheCharacterUFFFD checks that a real U+FFFD is told
// apart from invalid UTF-8, which encoding/json would also write as U+FFFD.
func TestCastKeepsTheCharacterUFFFD(t *testing.T) {
	t.Parallel()
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			in := validInput(k)
			in.Doc = complete(k, map[string]any{"s": "\uFFFD"})
			got, err := k.cast(in, changesets.Limits{})
			if err != nil {
				t.Fatalf("Cast: %v", err)
			}
			var back map[string]string
			if err := json.Unmarshal(got.Doc, &back); err != nil {
				t.Fatal(err)
			}
			if back["s"] != "\uFFFD" {
				t.Errorf("read back %q, want U+FFFD", back["s"])
			}

			in.Doc = map[string]any{"s": "\xef\xbf"} // U+FFFD's first two bytes
			_, err = k.cast(in, changesets.Limits{})
			if msg := docMessage(t, k, err); msg != msgUTF8 {
				t.Errorf("truncated U+FFFD: message = %q, want %q", msg, msgUTF8)
			}
		})
	}
}

// TestCastRefusesNumbersJSONBCannotStore documents a known bug: jsonb
// stores numbers as numeric, which refuses more than 131072 digits before
// the decimal point or 16383 after it ("value overflows numeric format",
// checked on PostgreSQL 15), yet Cast accepts such a json.Number, so the
// store's INSERT fails with a driver error instead of ErrInvalid.
func TestCastRefusesNumbersJSONBCannotStore(t *testing.T) {
	t.Parallel()
	for _, k := range kinds() {
		for _, n := range []string{"1e999999", "1e131072", "-1e131072", "1e-16384", "1e-999999"} {
			t.Run(k.name+"/"+n, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.Doc = map[string]any{"n": json.Number(n)}
				_, err := k.cast(in, changesets.Limits{})
				docMessage(t, k, err)
			})
		}
	}
}
