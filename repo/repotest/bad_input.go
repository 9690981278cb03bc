package repotest

import (
	"encoding/json"
	"math"
	"strings"
)

// badKey is a key no store accepts, with the reason.
type badKey struct {
	name, key string
}

func badKeys(prefix string) []badKey {
	return []badKey{
		{"empty", ""},
		{"over 2048 bytes", prefix + strings.Repeat("a", 2049-len(prefix))},
		{"invalid UTF-8", prefix + "\xff\xfe"},
		{"NUL byte", prefix + "a\x00b"},
	}
}

// badDoc is a document no store accepts.
type badDoc struct {
	name string
	doc  map[string]any
}

func badDocs() []badDoc {
	deep := map[string]any{}
	cur := deep
	for range 100 {
		next := map[string]any{}
		cur["d"] = next
		cur = next
	}
	return []badDoc{
		{"nil", nil},
		{"NaN", map[string]any{"n": math.NaN()}},
		{"infinity", map[string]any{"n": math.Inf(1)}},
		{"channel", map[string]any{"c": make(chan int)}},
		{"func", map[string]any{"f": func() {}}},
		{"NUL in a string", map[string]any{"s": "a\x00b"}},
		{"NUL in a key", map[string]any{"a\x00b": "s"}},
		{"NUL in a nested string", map[string]any{"l": []any{map[string]any{"s": "\x00"}}}},
		{"invalid UTF-8 in a string", map[string]any{"s": "a\xffb"}},
		{"invalid UTF-8 in a key", map[string]any{"a\xff": "s"}},
		{"too deep", deep},
		{"too large", map[string]any{"s": strings.Repeat("x", 65<<10)}},
	}
}

// refusedClientID is pushed params whose client_id no store accepts: RFC
// 6749 section 4.1.1 requires it, and the stores bind a request to it as a
// non-empty JSON string. id is what a client might present for it.
type refusedClientID struct {
	name   string
	params map[string]any
	id     string
}

func refusedClientIDs() []refusedClientID {
	type clientName string
	return []refusedClientID{
		{"missing", map[string]any{"scope": "openid"}, ""},
		{"empty string", map[string]any{"client_id": ""}, ""},
		{"empty named string", map[string]any{"client_id": clientName("")}, ""},
		{"RawMessage empty string", map[string]any{"client_id": json.RawMessage(`""`)}, ""},
		{"array, a url.Values copied as it is", map[string]any{"client_id": []string{"123"}}, "123"},
		{"array", map[string]any{"client_id": []any{"123"}}, `["123"]`},
		{"RawMessage array", map[string]any{"client_id": json.RawMessage(`["123"]`)}, "123"},
		{"number", map[string]any{"client_id": 123}, "123"},
		{"RawMessage number", map[string]any{"client_id": json.RawMessage(`123`)}, "123"},
		{"null", map[string]any{"client_id": nil}, "null"},
		{"RawMessage null", map[string]any{"client_id": json.RawMessage(`null`)}, "null"},
		{"boolean", map[string]any{"client_id": true}, "true"},
		{"object", map[string]any{"client_id": map[string]any{"id": "123"}}, "123"},
		{"only nested", map[string]any{"claims": map[string]any{"client_id": "123"}}, "123"},
		{"other spelling", map[string]any{"Client_ID": "123"}, "123"},
	}
}
