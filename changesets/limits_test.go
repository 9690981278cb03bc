package changesets_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/attesto/gormstore/changesets"
)

// docOfSize returns a document for k whose JSON encoding is exactly n
// bytes (n >= 32): {"s":"xxx…"}, with the members k requires.
func docOfSize(t *testing.T, k kind, n int) map[string]any {
	t.Helper()
	doc := complete(k, map[string]any{"s": ""})
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	doc["s"] = strings.Repeat("x", n-len(b))
	if b, err := json.Marshal(doc); err != nil || len(b) != n {
		t.Fatalf("docOfSize(%d) encodes to %d bytes (%v)", n, len(b), err)
	}
	return doc
}

// docOfDepth returns a document nesting n (n >= 1) objects and arrays,
// alternately, the top-level object counting as 1.
func docOfDepth(t *testing.T, n int) map[string]any {
	t.Helper()
	var inner any = map[string]any{}
	if n%2 == 0 {
		inner = []any{}
	}
	for level := n - 1; level >= 1; level-- {
		if level%2 == 1 {
			inner = map[string]any{"d": inner}
		} else {
			inner = []any{"x", inner}
		}
	}
	doc := inner.(map[string]any)
	if got := depthOf(normalize(t, doc)); got != n {
		t.Fatalf("docOfDepth(%d) nests %d levels", n, got)
	}
	return doc
}

func TestCastDocumentSize(t *testing.T) {
	t.Parallel()
	tooLarge := func(limit, got int) string {
		return fmt.Sprintf("should be at most %d byte(s) encoded as JSON, got %d", limit, got)
	}
	tests := []struct {
		name string
		lim  changesets.Limits
		size int
		want string // "" if accepted
	}{
		{"custom limit, exactly", changesets.Limits{MaxDocumentBytes: 64}, 64, ""},
		{"custom limit, one byte more", changesets.Limits{MaxDocumentBytes: 64}, 65, tooLarge(64, 65)},
		{"custom limit, far more", changesets.Limits{MaxDocumentBytes: 64}, 1000, tooLarge(64, 1000)},
		{"custom limit above the default", changesets.Limits{MaxDocumentBytes: changesets.DefaultMaxDocumentBytes * 2}, changesets.DefaultMaxDocumentBytes + 1, ""},
		{"zero limits, exactly the default", changesets.Limits{}, changesets.DefaultMaxDocumentBytes, ""},
		{"zero limits, one byte over the default", changesets.Limits{}, changesets.DefaultMaxDocumentBytes + 1, tooLarge(changesets.DefaultMaxDocumentBytes, changesets.DefaultMaxDocumentBytes+1)},
		{"negative limit means the default", changesets.Limits{MaxDocumentBytes: -1}, changesets.DefaultMaxDocumentBytes + 1, tooLarge(changesets.DefaultMaxDocumentBytes, changesets.DefaultMaxDocumentBytes+1)},
		{"zero size with a depth limit set means the default", changesets.Limits{MaxDepth: 100}, changesets.DefaultMaxDocumentBytes + 1, tooLarge(changesets.DefaultMaxDocumentBytes, changesets.DefaultMaxDocumentBytes+1)},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.Doc = docOfSize(t, k, tt.size)
				got, err := k.cast(in, tt.lim)
				if tt.want == "" {
					if err != nil {
						t.Fatalf("Cast: %v", err)
					}
					if len(got.Doc) != tt.size {
						t.Errorf("document is %d bytes, want %d", len(got.Doc), tt.size)
					}
					wantDoc(t, got.Doc, in.Doc)
					return
				}
				if msg := docMessage(t, k, err); msg != tt.want {
					t.Errorf("message = %q, want %q", msg, tt.want)
				}
			})
		}
	}
}

func TestCastDocumentDepth(t *testing.T) {
	t.Parallel()
	tooDeep := func(limit int) string {
		return fmt.Sprintf("should be nested at most %d level(s) deep", limit)
	}
	def := changesets.DefaultMaxDepth
	tests := []struct {
		name  string
		lim   changesets.Limits
		depth int
		want  string // "" if accepted
	}{
		{"limit 1, flat object", changesets.Limits{MaxDepth: 1}, 1, ""},
		{"limit 1, one nested level", changesets.Limits{MaxDepth: 1}, 2, tooDeep(1)},
		{"custom limit, exactly", changesets.Limits{MaxDepth: 3}, 3, ""},
		{"custom limit, one more", changesets.Limits{MaxDepth: 3}, 4, tooDeep(3)},
		{"custom limit, even, exactly", changesets.Limits{MaxDepth: 6}, 6, ""},
		{"custom limit, even, one more", changesets.Limits{MaxDepth: 6}, 7, tooDeep(6)},
		{"custom limit above the default", changesets.Limits{MaxDepth: def + 10}, def + 10, ""},
		{"zero limits, exactly the default", changesets.Limits{}, def, ""},
		{"zero limits, one over the default", changesets.Limits{}, def + 1, tooDeep(def)},
		{"explicit default, one over", changesets.Limits{MaxDepth: def}, def + 1, tooDeep(def)},
		{"negative limit means the default", changesets.Limits{MaxDepth: -5}, def + 1, tooDeep(def)},
		{"a limit above 512 means 512, the deepest the stores read back", changesets.Limits{MaxDepth: 100000}, 513, tooDeep(512)},
		{"a limit above 512: 512 levels still fit", changesets.Limits{MaxDepth: 100000}, 512, ""},
		{"zero depth with a size limit set means the default", changesets.Limits{MaxDocumentBytes: 1 << 20}, def + 1, tooDeep(def)},
		{"far too deep", changesets.Limits{}, 500, tooDeep(def)},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.Doc = complete(k, docOfDepth(t, tt.depth))
				got, err := k.cast(in, tt.lim)
				if tt.want == "" {
					if err != nil {
						t.Fatalf("Cast: %v", err)
					}
					wantDoc(t, got.Doc, in.Doc)
					return
				}
				if msg := docMessage(t, k, err); msg != tt.want {
					t.Errorf("message = %q, want %q", msg, tt.want)
				}
			})
		}
	}
}

// TestCastDepthIgnoresBracketsInStrings checks that brackets inside
// strings and keys are text, not nesting.
func TestCastDepthIgnoresBracketsInStrings(t *testing.T) {
	t.Parallel()
	doc := map[string]any{
		"[[[[": "{{{{]]]]",
		"s":    `"[{\"`,
		"r":    json.RawMessage(`"\"[[[[\\"`),
	}
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			in := validInput(k)
			in.Doc = complete(k, doc)
			got, err := k.cast(in, changesets.Limits{MaxDepth: 1})
			if err != nil {
				t.Fatalf("Cast: %v", err)
			}
			wantDoc(t, got.Doc, in.Doc)
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	// The values the package documents; a change is a change of the
	// stores' contract with attesto_phoenix, not a refactoring.
	if changesets.DefaultMaxDocumentBytes != 65536 {
		t.Errorf("DefaultMaxDocumentBytes = %d, want 65536", changesets.DefaultMaxDocumentBytes)
	}
	if changesets.DefaultMaxDepth != 32 {
		t.Errorf("DefaultMaxDepth = %d, want 32", changesets.DefaultMaxDepth)
	}
	if changesets.MaxKeyBytes != 2048 {
		t.Errorf("MaxKeyBytes = %d, want 2048", changesets.MaxKeyBytes)
	}
}
