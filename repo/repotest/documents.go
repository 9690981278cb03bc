package repotest

import "encoding/json"

// Documents are the suite's own JSON objects, each with something a store
// could get wrong: exact big integers, nesting, non-ASCII text, escapes.
func Documents() map[string]map[string]any {
	return map[string]map[string]any{
		"minimal": {
			"client_id":     "https://app.example.com/client.json",
			"client_name":   "Example",
			"redirect_uris": []any{"https://app.example.com/callback"},
		},
		"numbers": {
			"above_2_53":  json.Number("9007199254740993"),
			"big":         json.Number("12345678901234567890"),
			"negative":    -42,
			"zero":        0,
			"fraction":    0.1,
			"max_int64":   int64(9223372036854775807),
			"bools":       []any{true, false},
			"nothing":     nil,
			"empty_obj":   map[string]any{},
			"empty_array": []any{},
		},
		"nested": {
			"jwks": map[string]any{"keys": []any{
				map[string]any{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
			}},
			"deep": map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{map[string]any{"d": "e"}}}}},
		},
		"text": {
			"client_name":    "Café ☕ 日本語 🚀",
			"client_name#ja": "アプリ",
			"quotes":         "say \"hi\" \\ back\tslash\u2028line",
			"sql":            "'; DROP TABLE attesto_client_id_metadata; --",
			"wildcards":      "%_%",
			"html":           "<script>&amp;</script>",
			"replacement":    "\uFFFD is a real character",
		},
	}
}
