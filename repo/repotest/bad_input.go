package repotest

import (
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
